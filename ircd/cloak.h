/* cloak.h - host cloaking: a keyed HMAC-SHA256 of the address, stable per address and
 * secret, revealing nothing of it. */
#ifndef PARLEY_CLOAK_H
#define PARLEY_CLOAK_H

#include <stddef.h>

/* Writes the cloak of ip under secret into out, e.g. "3fa2c1d0.77be0a12.b94e.parley". */
void cloak_host(const char *secret, const char *suffix, const char *ip, char *out, size_t size);

#endif
