/* tls.h - the server's OpenSSL context: certificate and key from the config, TLS 1.2
 * minimum, server cipher preference, client certificates requested (not required) so
 * their fingerprint can identify a user later (SASL EXTERNAL, CertFP). */
#ifndef PARLEY_TLS_H
#define PARLEY_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

/* Returns a new context, or NULL after writing the reason into err (size bytes).
 * Reads the key files: call at start or on REHASH only. */
SSL_CTX *tls_ctx_new(const char *cert, const char *key, char *err, size_t size);

/* Writes the lowercase hex SHA-256 of the peer's certificate into out (65 bytes), or
 * an empty string if the peer sent none. */
void tls_peer_fingerprint(SSL *ssl, char out[65]);

#endif
