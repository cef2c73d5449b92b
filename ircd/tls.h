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

/* The context for outgoing server links: our certificate and key (the peer may pin our
 * fingerprint), the system's CAs. Reads the key files: start or REHASH only. */
SSL_CTX *tls_link_ctx_new(const char *cert, const char *key, char *err, size_t size);

/* A client-side TLS connection on fd to the server `name` (sent as SNI). pin is the
 * peer's certificate SHA-256 in lowercase hex, or "" to verify its chain against the
 * system CAs and its name instead; it must outlive the handshake. NULL on failure. */
SSL *tls_link_new(SSL_CTX *ctx, int fd, const char *name, const char *pin);

/* Writes the lowercase hex SHA-256 of the peer's certificate into out (65 bytes), or
 * an empty string if the peer sent none. */
void tls_peer_fingerprint(SSL *ssl, char out[65]);

#endif
