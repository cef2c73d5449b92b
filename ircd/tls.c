/* tls.c - OpenSSL setup. The handshake itself is driven by conn.c from the loop. */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

/* Our certificate and key into ctx; false with the reason in err. */
static bool load_identity(SSL_CTX *ctx, const char *cert, const char *key, char *err, size_t size)
{
	char buf[256];
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, size, "cannot load TLS certificate '%s': %s", cert, openssl_reason(buf, sizeof buf));
		return false;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, size, "cannot load TLS key '%s': %s", key, openssl_reason(buf, sizeof buf));
		return false;
	}
	return true;
}

/* What both directions share: TLS 1.2 or newer, no renegotiation or compression, partial
 * writes (the sendq writes what the socket takes and keeps the rest), buffers released
 * when idle. */
static SSL_CTX *ctx_new(const SSL_METHOD *method, char *err, size_t size)
{
	SSL_CTX *ctx = SSL_CTX_new(method);
	if (!ctx) {
		snprintf(err, size, "cannot create TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

SSL_CTX *tls_ctx_new(const char *cert, const char *key, char *err, size_t size)
{
	SSL_CTX *ctx = ctx_new(TLS_server_method(), err, size);
	if (!ctx)
		return NULL;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
	/* Resumption through session tickets only: the session travels in the ticket, encrypted
	 * under this context's key, so the server keeps nothing per session (no cache to grow
	 * with the connections). A context requesting client certificates needs a session id
	 * context, or OpenSSL fails every resuming handshake with an internal error. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"parley", 6);
	if (!load_identity(ctx, cert, key, err, size)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL_CTX *tls_link_ctx_new(const char *cert, const char *key, char *err, size_t size)
{
	SSL_CTX *ctx = ctx_new(TLS_client_method(), err, size);
	if (!ctx)
		return NULL;
	/* the CAs for peers named without a pinned fingerprint */
	SSL_CTX_set_default_verify_paths(ctx);
	if (!load_identity(ctx, cert, key, err, size)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void cert_fingerprint(X509 *cert, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	out[0] = '\0';
	if (X509_digest(cert, EVP_sha256(), md, &len) == 1 && len == 32)
		for (unsigned i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* An outgoing link's peer. With a pinned fingerprint the leaf certificate must have it
 * and nothing else is asked (a pinned self-signed certificate is the usual setup); without
 * one, OpenSSL's verdict on the chain (system CAs) and the name stands. Either way a
 * refusal ends the handshake before our PASS, queued behind it, is sent. */
static int verify_link_peer(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	const char *pin = ssl ? SSL_get_app_data(ssl) : NULL;
	if (!pin || !*pin)
		return ok;
	if (X509_STORE_CTX_get_error_depth(store) > 0)
		return 1;
	char fp[65];
	cert_fingerprint(X509_STORE_CTX_get_current_cert(store), fp);
	if (strcasecmp(fp, pin) == 0)
		return 1;
	X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
	return 0;
}

SSL *tls_link_new(SSL_CTX *ctx, int fd, const char *name, const char *pin)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1 || SSL_set_tlsext_host_name(ssl, name) != 1 ||
	    (!*pin && SSL_set1_host(ssl, name) != 1)) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_app_data(ssl, (void *)pin);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, verify_link_peer);
	SSL_set_connect_state(ssl);
	return ssl;
}

void tls_peer_fingerprint(SSL *ssl, char out[65])
{
	out[0] = '\0';
	X509 *peer = SSL_get1_peer_certificate(ssl);
	if (!peer)
		return;
	cert_fingerprint(peer, out);
	X509_free(peer);
}
