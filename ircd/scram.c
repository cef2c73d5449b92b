/* scram.c - SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash): key derivation, the stored
 * form of the keys and the three messages the server checks or builds. The proof is
 * checked the RFC's way: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage), and
 * H(ClientKey) must equal StoredKey (compared in constant time). */
#include "scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool hmac(const unsigned char *key, size_t klen, const void *msg, size_t n, unsigned char out[SCRAM_KEY_LEN])
{
	unsigned len = 0;
	return HMAC(EVP_sha256(), key, (int)klen, msg, n, out, &len) && len == SCRAM_KEY_LEN;
}

int scram_derive(const char *password, int iterations, struct scram_keys *out)
{
	unsigned char salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	out->iterations = iterations;
	int ok = RAND_bytes(out->salt, sizeof out->salt) == 1 &&
	         PKCS5_PBKDF2_HMAC(password, (int)strlen(password), out->salt, sizeof out->salt, iterations,
	                           EVP_sha256(), sizeof salted, salted) == 1 &&
	         hmac(salted, sizeof salted, "Client Key", 10, client_key) &&
	         hmac(salted, sizeof salted, "Server Key", 10, out->server_key) &&
	         EVP_Digest(client_key, sizeof client_key, out->stored_key, NULL, EVP_sha256(), NULL) == 1;
	OPENSSL_cleanse(salted, sizeof salted);
	OPENSSL_cleanse(client_key, sizeof client_key);
	return ok ? 0 : -1;
}

static void b64(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Decodes exactly want bytes of base64 from in (len chars); false otherwise. */
static bool unb64(const char *in, size_t len, unsigned char *out, size_t want)
{
	unsigned char buf[SCRAM_MSG_MAX];
	if (len == 0 || len % 4 || len / 4 * 3 > sizeof buf)
		return false;
	int n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
	for (size_t i = len; i > 0 && in[i - 1] == '='; i--)
		n--;
	if (n != (int)want)
		return false;
	memcpy(out, buf, want);
	return true;
}

void scram_format(const struct scram_keys *k, char out[SCRAM_STORED_MAX])
{
	char s[32], st[48], sv[48];
	b64(k->salt, sizeof k->salt, s);
	b64(k->stored_key, sizeof k->stored_key, st);
	b64(k->server_key, sizeof k->server_key, sv);
	snprintf(out, SCRAM_STORED_MAX, "%d$%s$%s$%s", k->iterations, s, st, sv);
}

bool scram_parse(const char *stored, struct scram_keys *out)
{
	char s[64], st[64], sv[64];
	int iter;
	if (!stored || sscanf(stored, "%d$%63[^$]$%63[^$]$%63s", &iter, s, st, sv) != 4 ||
	    iter < SCRAM_MIN_ITERATIONS || iter > 10000000)
		return false;
	out->iterations = iter;
	return unb64(s, strlen(s), out->salt, SCRAM_SALT_LEN) &&
	       unb64(st, strlen(st), out->stored_key, SCRAM_KEY_LEN) &&
	       unb64(sv, strlen(sv), out->server_key, SCRAM_KEY_LEN);
}

/* Decodes a saslname (RFC 5802: "," as =2C, "=" as =3D, nothing else after "=") of n
 * bytes into out; false if malformed, empty or too long. */
static bool saslname(const char *in, size_t n, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		if (ch == '=') {
			if (i + 2 < n && in[i + 1] == '2' && in[i + 2] == 'C')
				ch = ',';
			else if (i + 2 < n && in[i + 1] == '3' && in[i + 2] == 'D')
				ch = '=';
			else
				return false;
			i += 2;
		} else if (ch == ',' || ch == '\0') {
			return false;
		}
		if (o + 1 >= size)
			return false;
		out[o++] = ch;
	}
	out[o] = '\0';
	return o > 0;
}

/* A nonce: printable ASCII except ",". */
static bool nonce_valid(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
			return false;
	return true;
}

/* The next ","-separated attribute of msg[*pos..n): its start and length. */
static bool next_attr(const char *msg, size_t n, size_t *pos, const char **at, size_t *len)
{
	if (*pos > n)
		return false;
	const char *start = msg + *pos;
	const char *comma = memchr(start, ',', n - *pos);
	*at = start;
	*len = comma ? (size_t)(comma - start) : n - *pos;
	*pos += *len + 1;
	return true;
}

enum scram_error scram_client_first(struct scram_exchange *x, const char *msg, size_t n)
{
	memset(x, 0, sizeof *x);
	if (n > SCRAM_MSG_MAX || memchr(msg, '\0', n))
		return SCRAM_MALFORMED;
	size_t pos = 0, len;
	const char *a;
	/* gs2-header: cbind flag, authzid */
	if (!next_attr(msg, n, &pos, &a, &len))
		return SCRAM_MALFORMED;
	if (len >= 2 && a[0] == 'p' && a[1] == '=')
		return SCRAM_CHANNEL_BINDING;
	if (len != 1 || (a[0] != 'n' && a[0] != 'y'))
		return SCRAM_MALFORMED;
	if (!next_attr(msg, n, &pos, &a, &len))
		return SCRAM_MALFORMED;
	char authzid[130] = "";
	if (len && (len < 3 || a[0] != 'a' || a[1] != '=' || !saslname(a + 2, len - 2, authzid, sizeof authzid)))
		return SCRAM_MALFORMED;
	if (pos > n)
		return SCRAM_MALFORMED;
	size_t bare = pos;
	/* client-first-message-bare: no reserved "m=", then n= and r= */
	if (!next_attr(msg, n, &pos, &a, &len) || len < 3 || a[0] != 'n' || a[1] != '=' ||
	    !saslname(a + 2, len - 2, x->user, sizeof x->user))
		return SCRAM_MALFORMED;
	if (!next_attr(msg, n, &pos, &a, &len) || len < 3 || a[0] != 'r' || a[1] != '=' ||
	    len - 2 > SCRAM_NONCE_MAX || !nonce_valid(a + 2, len - 2))
		return SCRAM_MALFORMED;
	memcpy(x->nonce, a + 2, len - 2);
	x->nonce[len - 2] = '\0';
	/* extensions after the nonce are allowed and ignored */
	if (authzid[0] && strcmp(authzid, x->user) != 0)
		return SCRAM_AUTHZID;
	if (bare >= sizeof x->gs2_header)
		return SCRAM_MALFORMED;
	memcpy(x->gs2_header, msg, bare);
	x->gs2_header[bare] = '\0';
	memcpy(x->client_first_bare, msg + bare, n - bare);
	x->client_first_bare[n - bare] = '\0';
	return SCRAM_OK;
}

int scram_server_first(struct scram_exchange *x, const struct scram_keys *k)
{
	unsigned char raw[18];
	char ours[32], salt[32];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return -1;
	b64(raw, sizeof raw, ours);
	b64(k->salt, sizeof k->salt, salt);
	size_t have = strlen(x->nonce);
	snprintf(x->nonce + have, sizeof x->nonce - have, "%s", ours);
	snprintf(x->server_first, sizeof x->server_first, "r=%s,s=%s,i=%d", x->nonce, salt, k->iterations);
	return 0;
}

enum scram_error scram_client_final(const struct scram_exchange *x, const struct scram_keys *k, const char *msg,
                                    size_t n, char *out, size_t size)
{
	if (n > SCRAM_MSG_MAX || memchr(msg, '\0', n))
		return SCRAM_MALFORMED;
	size_t pos = 0, len;
	const char *a;
	/* c=: base64 of the gs2 header, with no channel binding data */
	char want_c[4 * sizeof x->gs2_header / 3 + 4];
	b64((const unsigned char *)x->gs2_header, strlen(x->gs2_header), want_c);
	if (!next_attr(msg, n, &pos, &a, &len) || len < 2 || a[0] != 'c' || a[1] != '=')
		return SCRAM_MALFORMED;
	bool binding_ok = len - 2 == strlen(want_c) && memcmp(a + 2, want_c, len - 2) == 0;
	if (!next_attr(msg, n, &pos, &a, &len) || len < 2 || a[0] != 'r' || a[1] != '=')
		return SCRAM_MALFORMED;
	bool nonce_ok = len - 2 == strlen(x->nonce) && memcmp(a + 2, x->nonce, len - 2) == 0;
	/* extensions, then the proof: always last */
	const char *proof = NULL;
	size_t without_proof = 0, plen = 0;
	while (pos <= n) {
		size_t start = pos;
		if (!next_attr(msg, n, &pos, &a, &len))
			break;
		if (len >= 2 && a[0] == 'p' && a[1] == '=') {
			if (pos <= n) /* something after the proof */
				return SCRAM_MALFORMED;
			proof = a + 2;
			plen = len - 2;
			without_proof = start - 1;
		}
	}
	unsigned char client_proof[SCRAM_KEY_LEN];
	if (!proof || !unb64(proof, plen, client_proof, sizeof client_proof))
		return SCRAM_MALFORMED;
	if (!binding_ok || !nonce_ok)
		return SCRAM_BAD_PROOF;
	/* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
	size_t l1 = strlen(x->client_first_bare), l2 = strlen(x->server_first);
	char *auth = malloc(l1 + l2 + without_proof + 3);
	if (!auth)
		abort();
	memcpy(auth, x->client_first_bare, l1);
	auth[l1] = ',';
	memcpy(auth + l1 + 1, x->server_first, l2);
	auth[l1 + 1 + l2] = ',';
	memcpy(auth + l1 + l2 + 2, msg, without_proof);
	size_t alen = l1 + l2 + 2 + without_proof;
	unsigned char sig[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN], server_sig[SCRAM_KEY_LEN];
	bool ok = hmac(k->stored_key, SCRAM_KEY_LEN, auth, alen, sig);
	for (int i = 0; i < SCRAM_KEY_LEN; i++)
		client_key[i] = client_proof[i] ^ sig[i];
	ok = ok && EVP_Digest(client_key, sizeof client_key, stored, NULL, EVP_sha256(), NULL) == 1 &&
	     CRYPTO_memcmp(stored, k->stored_key, SCRAM_KEY_LEN) == 0 &&
	     hmac(k->server_key, SCRAM_KEY_LEN, auth, alen, server_sig);
	free(auth);
	OPENSSL_cleanse(client_key, sizeof client_key);
	if (!ok)
		return SCRAM_BAD_PROOF;
	char v[48];
	b64(server_sig, sizeof server_sig, v);
	snprintf(out, size, "v=%s", v);
	return SCRAM_OK;
}
