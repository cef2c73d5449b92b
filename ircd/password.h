/* password.h - password hashing with scrypt (OpenSSL EVP_PBE_scrypt), a random salt per
 * hash, constant-time verification. Both calls take tens of milliseconds by design:
 * call them on a worker thread (crypto_queue), never on the loop. */
#ifndef PARLEY_PASSWORD_H
#define PARLEY_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_HASH_MAX 160

/* Writes "$scrypt$N$r$p$<salt b64>$<hash b64>" into out. Returns 0, or -1 on failure. */
int password_hash(const char *password, int n, int r, int p, char *out, size_t size);

/* True if password matches the stored hash (in constant time for the comparison). */
bool password_verify(const char *password, const char *stored);

#endif
