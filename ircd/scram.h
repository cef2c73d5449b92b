/* scram.h - SASL SCRAM-SHA-256 (RFC 5802, RFC 7677), the server side, pure: no client,
 * no I/O, so the fuzzer and the unit tests can call it. Channel binding is not
 * supported (a client asking for it with "p=" is refused). Passwords are used as their
 * UTF-8 bytes: SASLprep is the identity for ASCII, which is what irssi and WeeChat
 * send; a non-ASCII password that SASLprep would change (NFKC, non-ASCII spaces, soft
 * hyphens) derives different keys here than in a client that normalizes, and that
 * client then falls back to PLAIN. */
#ifndef PARLEY_SCRAM_H
#define PARLEY_SCRAM_H

#include <stdbool.h>
#include <stddef.h>

#define SCRAM_KEY_LEN 32     /* SHA-256 */
#define SCRAM_SALT_LEN 16
#define SCRAM_STORED_MAX 160 /* "iterations$salt$StoredKey$ServerKey", base64 */
#define SCRAM_MIN_ITERATIONS 4096
#define SCRAM_NONCE_MAX 128
#define SCRAM_MSG_MAX 1024

/* What the server keeps of a password: never enough to log in with PLAIN. */
struct scram_keys {
	int iterations;
	unsigned char salt[SCRAM_SALT_LEN];
	unsigned char stored_key[SCRAM_KEY_LEN], server_key[SCRAM_KEY_LEN];
};

/* Derives keys for password with a new random salt (PBKDF2: tens of milliseconds at
 * most; call it on a worker thread). Returns 0, or -1. */
int scram_derive(const char *password, int iterations, struct scram_keys *out);

/* The keys as stored in the database, and back. scram_parse is false on anything
 * malformed (an account without keys stores NULL / ""). */
void scram_format(const struct scram_keys *k, char out[SCRAM_STORED_MAX]);
bool scram_parse(const char *stored, struct scram_keys *out);

/* One exchange in progress. */
struct scram_exchange {
	char gs2_header[140];               /* "n,," "y,," or with "a=<authzid>": c= repeats it */
	char user[130];                     /* the authcid, =2C / =3D decoded */
	char nonce[2 * SCRAM_NONCE_MAX];    /* client nonce + server nonce */
	char client_first_bare[SCRAM_MSG_MAX + 1];
	char server_first[SCRAM_MSG_MAX + 1];
};

enum scram_error {
	SCRAM_OK,
	SCRAM_MALFORMED,       /* not a SCRAM message, or an attribute is missing/bad */
	SCRAM_CHANNEL_BINDING, /* "p=": channel binding asked for, which we do not offer */
	SCRAM_AUTHZID,         /* an authorization identity other than the user */
	SCRAM_BAD_PROOF,       /* nonce, channel binding echo or proof wrong */
};

/* Parses the client-first-message (n bytes) into x (user, gs2 header, client nonce). */
enum scram_error scram_client_first(struct scram_exchange *x, const char *msg, size_t n);

/* Builds the server-first-message into x->server_first with a new server nonce and k's
 * salt and iteration count. Returns 0, or -1 (no randomness). */
int scram_server_first(struct scram_exchange *x, const struct scram_keys *k);

/* Checks the client-final-message (n bytes) against k. On success writes the
 * server-final-message ("v=<ServerSignature>") into out (at least 64 bytes). */
enum scram_error scram_client_final(const struct scram_exchange *x, const struct scram_keys *k, const char *msg,
                                    size_t n, char *out, size_t size);

#endif
