/* sasl.h - decoding what a client sends in AUTHENTICATE: the base64 payload and the
 * PLAIN message inside it. Pure: no client, no I/O, so the fuzzer can call it. */
#ifndef PARLEY_SASL_H
#define PARLEY_SASL_H

#include <stdbool.h>
#include <stddef.h>

/* Decodes len bytes of base64 into out, which must hold len / 4 * 3 bytes. Returns the
 * decoded length, or a negative value if in is not valid base64. */
int sasl_b64_decode(const char *in, size_t len, unsigned char *out);

struct sasl_plain {
	const char *authzid; /* "" when the client gave none */
	const char *authcid;
	const char *password;
};

/* Splits a decoded PLAIN message "authzid NUL authcid NUL password" (n bytes, with
 * raw[n] == NUL) into out, pointing into raw. False if it is malformed, the authcid is
 * empty or too long, the password too long, or the authzid names someone else. */
bool sasl_plain_split(const char *raw, size_t n, struct sasl_plain *out);

#endif
