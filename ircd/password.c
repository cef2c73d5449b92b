/* password.c - scrypt password hashes. The parameters are stored in each hash, so a
 * change of accounts.scrypt_* in the config applies to new hashes and old ones still
 * verify. */
#include "password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SALT_LEN 16
#define KEY_LEN 32
#define SCRYPT_MAXMEM (256u * 1024 * 1024)

static int derive(const char *pw, const unsigned char *salt, size_t salt_len, long n, long r, long p,
                  unsigned char *key)
{
	return EVP_PBE_scrypt(pw, strlen(pw), salt, salt_len, (uint64_t)n, (uint64_t)r, (uint64_t)p, SCRYPT_MAXMEM,
	                      key, KEY_LEN) == 1 ? 0 : -1;
}

int password_hash(const char *password, int n, int r, int p, char *out, size_t size)
{
	unsigned char salt[SALT_LEN], key[KEY_LEN];
	if (RAND_bytes(salt, sizeof salt) != 1 || derive(password, salt, sizeof salt, n, r, p, key) < 0)
		return -1;
	char s64[64], k64[64];
	EVP_EncodeBlock((unsigned char *)s64, salt, sizeof salt);
	EVP_EncodeBlock((unsigned char *)k64, key, sizeof key);
	OPENSSL_cleanse(key, sizeof key);
	int len = snprintf(out, size, "$scrypt$%d$%d$%d$%s$%s", n, r, p, s64, k64);
	return len > 0 && (size_t)len < size ? 0 : -1;
}

bool password_verify(const char *password, const char *stored)
{
	long n, r, p;
	char s64[64], k64[64];
	if (sscanf(stored, "$scrypt$%ld$%ld$%ld$%63[^$]$%63s", &n, &r, &p, s64, k64) != 5)
		return false;
	if (n < 2 || n > (1 << 20) || r < 1 || r > 64 || p < 1 || p > 16)
		return false;
	unsigned char salt[64], want[64], got[KEY_LEN];
	int salt_len = EVP_DecodeBlock(salt, (unsigned char *)s64, (int)strlen(s64));
	int want_len = EVP_DecodeBlock(want, (unsigned char *)k64, (int)strlen(k64));
	/* EVP_DecodeBlock counts base64 padding as zero bytes */
	if (salt_len < SALT_LEN || want_len < KEY_LEN)
		return false;
	if (derive(password, salt, SALT_LEN, n, r, p, got) < 0)
		return false;
	bool ok = CRYPTO_memcmp(got, want, KEY_LEN) == 0;
	OPENSSL_cleanse(got, sizeof got);
	return ok;
}
