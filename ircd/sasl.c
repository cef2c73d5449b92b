/* sasl.c - AUTHENTICATE payload decoding, kept apart from the command so that it can be
 * fuzzed without a daemon (tests/fuzz/fuzz_sasl.c). */
#include "sasl.h"

#include "account.h"

#include <openssl/evp.h>
#include <string.h>

int sasl_b64_decode(const char *in, size_t len, unsigned char *out)
{
	if (len % 4)
		return -1;
	int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0)
		return -1;
	/* EVP_DecodeBlock counts padding as zero bytes */
	for (size_t i = len; i > 0 && in[i - 1] == '='; i--)
		n--;
	return n;
}

bool sasl_plain_split(const char *raw, size_t n, struct sasl_plain *out)
{
	const char *authzid = raw;
	const char *authcid = memchr(raw, '\0', n) ? authzid + strlen(authzid) + 1 : NULL;
	const char *password = authcid && authcid < raw + n ? authcid + strlen(authcid) + 1 : NULL;
	if (!password || password > raw + n || !*authcid || (*authzid && strcmp(authzid, authcid) != 0) ||
	    strlen(authcid) > ACCOUNT_MAX || strlen(password) > PASSWORD_MAX)
		return false;
	out->authzid = authzid;
	out->authcid = authcid;
	out->password = password;
	return true;
}
