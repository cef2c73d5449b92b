/* fuzz_scram.c - the SCRAM-SHA-256 messages a client sends (ircd/scram.c). The input is
 * a client-first message, a newline, and a client-final message. Checks: parsing never
 * reads or writes out of bounds; an accepted client-first has a user and a nonce, and the
 * server-first built on it repeats that nonce; the final message from the input is
 * accepted only with the right proof, which a final message built here (the RFC's way,
 * from the same password) always has, and one flipped proof bit always loses. */
#include "fuzz.h"
#include "scram.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <string.h>

#define PASSWORD "pencil"

static struct scram_keys keys;
static unsigned char salted[SCRAM_KEY_LEN];

/* Keys with a fixed salt, so the client side below can compute the proof. */
static void setup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	keys.iterations = SCRAM_MIN_ITERATIONS;
	memset(keys.salt, 7, sizeof keys.salt);
	unsigned char ck[SCRAM_KEY_LEN];
	unsigned len;
	CHECK(PKCS5_PBKDF2_HMAC(PASSWORD, 6, keys.salt, sizeof keys.salt, keys.iterations, EVP_sha256(), SCRAM_KEY_LEN,
	                        salted) == 1);
	HMAC(EVP_sha256(), salted, SCRAM_KEY_LEN, (const unsigned char *)"Client Key", 10, ck, &len);
	HMAC(EVP_sha256(), salted, SCRAM_KEY_LEN, (const unsigned char *)"Server Key", 10, keys.server_key, &len);
	EVP_Digest(ck, SCRAM_KEY_LEN, keys.stored_key, NULL, EVP_sha256(), NULL);
}

/* The client-final message for x (what a client knowing PASSWORD sends), into out. */
static void client_final(const struct scram_exchange *x, char *out, size_t size, int flip)
{
	char c64[256], without[1024], auth[4096];
	EVP_EncodeBlock((unsigned char *)c64, (const unsigned char *)x->gs2_header, (int)strlen(x->gs2_header));
	snprintf(without, sizeof without, "c=%s,r=%s", c64, x->nonce);
	int al = snprintf(auth, sizeof auth, "%s,%s,%s", x->client_first_bare, x->server_first, without);
	unsigned char ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN], proof[SCRAM_KEY_LEN];
	unsigned len;
	HMAC(EVP_sha256(), salted, SCRAM_KEY_LEN, (const unsigned char *)"Client Key", 10, ck, &len);
	EVP_Digest(ck, SCRAM_KEY_LEN, sk, NULL, EVP_sha256(), NULL);
	HMAC(EVP_sha256(), sk, SCRAM_KEY_LEN, (const unsigned char *)auth, (size_t)al, sig, &len);
	for (int i = 0; i < SCRAM_KEY_LEN; i++)
		proof[i] = ck[i] ^ sig[i];
	if (flip)
		proof[flip % SCRAM_KEY_LEN] ^= 1;
	char p64[64];
	EVP_EncodeBlock((unsigned char *)p64, proof, SCRAM_KEY_LEN);
	snprintf(out, size, "%s,p=%s", without, p64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	const uint8_t *nl = memchr(data, '\n', size);
	size_t first_len = nl ? (size_t)(nl - data) : size;
	struct scram_exchange x;
	if (scram_client_first(&x, (const char *)data, first_len) != SCRAM_OK)
		return 0;
	CHECK(x.user[0] && x.nonce[0]);
	size_t cnonce = strlen(x.nonce);
	CHECK(scram_server_first(&x, &keys) == 0);
	CHECK(strncmp(x.server_first, "r=", 2) == 0 && strlen(x.nonce) > cnonce);
	CHECK(strncmp(x.server_first + 2, x.nonce, strlen(x.nonce)) == 0);
	char out[128];
	if (nl) /* the input's own final message: any result, no crash */
		scram_client_final(&x, &keys, (const char *)nl + 1, size - first_len - 1, out, sizeof out);
	char msg[2048];
	client_final(&x, msg, sizeof msg, 0);
	CHECK(scram_client_final(&x, &keys, msg, strlen(msg), out, sizeof out) == SCRAM_OK);
	CHECK(strncmp(out, "v=", 2) == 0);
	client_final(&x, msg, sizeof msg, 1 + (int)(size % 255));
	CHECK(scram_client_final(&x, &keys, msg, strlen(msg), out, sizeof out) == SCRAM_BAD_PROOF);
	return 0;
}
