/* tls.c - OpenSSL setup. The handshake itself is driven by conn.c from the loop. */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

/* Accept any client certificate: it is an identity claim checked against an account's
 * stored fingerprint, not against a CA. */
static int accept_any(int ok, X509_STORE_CTX *store)
{
	(void)ok;
	(void)store;
	return 1;
}

/* The first error OpenSSL queued, as text, and the queue cleared. A file that cannot be
 * opened is a system error, which has no reason string (ERR_reason_error_string gives
 * NULL): its errno says what happened. */
static const char *openssl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();
	const char *why = NULL;
	if (e && ERR_SYSTEM_ERROR(e))
		why = strerror(ERR_GET_REASON(e));
	else if (e)
		why = ERR_reason_error_string(e);
	if (!why && e) {
		ERR_error_string_n(e, buf, size);
		why = buf;
	}
	ERR_clear_error();
	return why ? why : "unknown error";
}

SSL_CTX *tls_ctx_new(const char *cert, const char *key, char *err, size_t size)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, size, "cannot create TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_NO_COMPRESSION);
	/* Partial writes let the sendq write what the socket takes and keep the rest. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
	/* Resumption through session tickets only: the session travels in the ticket, encrypted
	 * under this context's key, so the server keeps nothing per session (no cache to grow
	 * with the connections). A context requesting client certificates needs a session id
	 * context, or OpenSSL fails every resuming handshake with an internal error. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"parley", 6);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		char buf[256];
		snprintf(err, size, "cannot load TLS certificate '%s': %s", cert, openssl_reason(buf, sizeof buf));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		char buf[256];
		snprintf(err, size, "cannot load TLS key '%s': %s", key, openssl_reason(buf, sizeof buf));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void tls_peer_fingerprint(SSL *ssl, char out[65])
{
	out[0] = '\0';
	X509 *peer = SSL_get1_peer_certificate(ssl);
	if (!peer)
		return;
	unsigned char md[32];
	unsigned int len = 0;
	if (X509_digest(peer, EVP_sha256(), md, &len) == 1 && len == 32)
		for (unsigned i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
	X509_free(peer);
}
