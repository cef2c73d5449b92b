/* cloak.c - the cloak is hex of the first 10 bytes of HMAC-SHA256(secret, address),
 * grouped for readability; without the secret it cannot be reversed or forged. */
#include "cloak.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

void cloak_host(const char *secret, const char *suffix, const char *ip, char *out, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)ip, strlen(ip), md, &len);
	snprintf(out, size, "%02x%02x%02x%02x.%02x%02x%02x%02x.%02x%02x.%s", md[0], md[1], md[2], md[3], md[4], md[5],
	         md[6], md[7], md[8], md[9], suffix);
}
