/* fuzz_sasl.c - AUTHENTICATE payload decoding (ircd/sasl.c). Two checks per input:
 * the input as the base64 text a client sends (cut at CR, LF or NUL as conn.c does):
 * decoding never writes past len / 4 * 3 bytes and a PLAIN split points inside what was
 * decoded; and the input as a raw PLAIN message: encoded with OpenSSL, it must decode
 * back to the same bytes and split the way "authzid NUL authcid NUL password" reads. */
#include "fuzz.h"
#include "account.h"
#include "sasl.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SASL_MAX 8192 /* what cmd_account.c accepts in all */

/* Splits raw (n bytes, raw[n] == NUL) and checks what sasl_plain_split says against
 * the format; returns the result. */
static bool check_split(const char *raw, size_t n)
{
	struct sasl_plain pl;
	if (!sasl_plain_split(raw, n, &pl))
		return false;
	const char *end = raw + n;
	CHECK(pl.authzid == raw);
	CHECK(pl.authcid == raw + strlen(raw) + 1 && pl.authcid < end);
	CHECK(pl.password == pl.authcid + strlen(pl.authcid) + 1 && pl.password <= end);
	CHECK(*pl.authcid && strlen(pl.authcid) <= ACCOUNT_MAX);
	CHECK(strlen(pl.password) <= PASSWORD_MAX);
	CHECK(!*pl.authzid || strcmp(pl.authzid, pl.authcid) == 0);
	return true;
}

/* The input as the base64 text of AUTHENTICATE. */
static void decode_text(const uint8_t *data, size_t size)
{
	size_t len = 0;
	while (len < size && len < SASL_MAX && data[len] != '\r' && data[len] != '\n' && data[len] != '\0')
		len++;
	if (len == 0)
		return; /* "AUTHENTICATE +": nothing to decode */
	char *in = malloc(len);
	unsigned char *out = malloc(len / 4 * 3 + 1);
	CHECK(in && out);
	memcpy(in, data, len);
	int n = sasl_b64_decode(in, len, out);
	if (n >= 0) {
		CHECK((size_t)n <= len / 4 * 3);
		out[n] = '\0';
		check_split((const char *)out, (size_t)n);
	}
	free(out);
	free(in);
}

/* The input as a decoded PLAIN message: it survives base64 exactly. */
static void encode_plain(const uint8_t *data, size_t size)
{
	if (size == 0 || size > SASL_MAX / 4 * 3)
		return;
	size_t elen = (size + 2) / 3 * 4;
	char *text = malloc(elen + 1);
	unsigned char *out = malloc(elen / 4 * 3 + 1);
	CHECK(text && out);
	CHECK(EVP_EncodeBlock((unsigned char *)text, data, (int)size) == (int)elen);
	int n = sasl_b64_decode(text, elen, out);
	CHECK(n == (int)size && memcmp(out, data, size) == 0);
	out[n] = '\0';
	/* what a PLAIN message must look like to be accepted */
	const char *raw = (const char *)out;
	const char *nul1 = memchr(raw, '\0', size);
	const char *authcid = nul1 ? nul1 + 1 : NULL;
	bool well_formed = authcid && authcid < raw + size && *authcid && strlen(authcid) <= ACCOUNT_MAX &&
	                   authcid + strlen(authcid) < raw + size &&
	                   strlen(authcid + strlen(authcid) + 1) <= PASSWORD_MAX &&
	                   (!*raw || strcmp(raw, authcid) == 0);
	CHECK(check_split(raw, size) == well_formed);
	free(out);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_text(data, size);
	encode_plain(data, size);
	return 0;
}
