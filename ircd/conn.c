/* conn.c - socket I/O for one client.
 *
 * Input: a read lands in a scratch buffer behind whatever partial line was kept from
 * the previous read; complete lines go to the owner at once, and only the unfinished
 * remainder is copied to the heap, so an idle connection holds no input buffer.
 * Output: conn_send only queues and puts the connection on the pending list; the loop
 * calls conn_flush_pending before it sleeps (see sendq.c). A write watcher is started
 * only for a connection the kernel would not take everything from. */
#include "conn.h"

#include "log.h"
#include "memtrim.h"
#include "tls.h"
#include "ws.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINE_MAX_BYTES (CONN_RECVQ / 2)
/* iovecs per writev: a WebSocket line takes two (header, shared payload), so 128 keep
 * 64 lines per call either way */
#define IOV_BATCH 128
#define TLS_CHUNK 16384

static struct conn *pending_head;

static void conn_fail(struct conn *c, const char *reason)
{
	if (c->flags & CONN_DEAD)
		return;
	c->flags |= CONN_DEAD;
	ev_io_stop(EV_DEFAULT, &c->rio);
	ev_io_stop(EV_DEFAULT, &c->wio);
	c->ops->on_error(c, reason);
}

static void mark_pending(struct conn *c)
{
	if (c->flags & (CONN_PENDING | CONN_DEAD))
		return;
	c->flags |= CONN_PENDING;
	c->pending_next = pending_head;
	pending_head = c;
}

/* Hands every complete line in buf[0..len) to the owner until it pauses us.
 * Returns the number of bytes consumed. */
static size_t process_lines(struct conn *c, char *buf, size_t len)
{
	size_t start = 0;
	while (start < len && !(c->flags & (CONN_PAUSED | CONN_DEAD))) {
		char *nl = memchr(buf + start, '\n', len - start);
		if (!nl)
			break;
		if (!c->discarding && c->ops->admit && !c->ops->admit(c))
			break; /* the line stays queued, untouched */
		char *line = buf + start;
		size_t ll = (size_t)(nl - line);
		start = (size_t)(nl - buf) + 1;
		if (c->discarding) {
			c->discarding = false;
			continue;
		}
		/* A CR or NUL ends the line: what follows could smuggle a line into a reply. */
		for (size_t i = 0; i < ll; i++)
			if (line[i] == '\r' || line[i] == '\0') {
				ll = i;
				break;
			}
		line[ll] = '\0';
		if (!c->ops->on_line(c, line, ll))
			break;
	}
	return start;
}

/* Keeps buf[consumed..len) as the connection's pending input. */
static void keep_rest(struct conn *c, const char *buf, size_t consumed, size_t len)
{
	size_t rest = len - consumed;
	if (rest == 0) {
		free(c->inbuf);
		c->inbuf = NULL;
		c->inlen = 0;
		return;
	}
	/* (a WebSocket connection bounds its frames itself, in ws.c) */
	if (!c->ws && !(c->flags & CONN_PAUSED) && (rest > LINE_MAX_BYTES || c->discarding)) {
		/* No line end within the limit: drop what we have and the rest of the line,
		 * telling the client once. */
		if (!c->discarding)
			c->ops->on_too_long(c);
		c->discarding = true;
		free(c->inbuf);
		c->inbuf = NULL;
		c->inlen = 0;
		return;
	}
	char *nb = malloc(rest);
	if (!nb)
		abort();
	memcpy(nb, buf + consumed, rest);
	free(c->inbuf);
	c->inbuf = nb;
	c->inlen = rest;
	if (rest >= CONN_RECVQ) {
		ev_io_stop(EV_DEFAULT, &c->rio);
		c->ops->on_recvq_full(c);
	}
}

static ssize_t tls_result(struct conn *c, int ret, bool reading)
{
	int err = SSL_get_error(c->ssl, ret);
	if (err == SSL_ERROR_WANT_READ) {
		errno = EAGAIN;
		return -1;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		if (reading)
			c->flags |= CONN_WANT_WRITE_READ;
		ev_io_start(EV_DEFAULT, &c->wio);
		errno = EAGAIN;
		return -1;
	}
	if (err == SSL_ERROR_ZERO_RETURN)
		return 0;
	ERR_clear_error();
	errno = EIO;
	return -1;
}

/* Drives the TLS handshake; returns true once it is complete. */
static bool handshake(struct conn *c)
{
	int ret = SSL_do_handshake(c->ssl);
	ev_io_stop(EV_DEFAULT, &c->wio); /* tls_result starts it again if OpenSSL must write */
	if (ret == 1) {
		c->flags &= ~CONN_HANDSHAKE;
		tls_peer_fingerprint(c->ssl, c->certfp);
		memtrim_note(); /* its handshake buffers were freed */
		mark_pending(c); /* anything queued during the handshake can go now */
		return true;
	}
	if (tls_result(c, ret, true) < 0 && errno == EAGAIN)
		return false;
	/* a server link we dialled names the certificate problem (the operator's next step) */
	long v = SSL_is_server(c->ssl) ? X509_V_OK : SSL_get_verify_result(c->ssl);
	char why[160];
	snprintf(why, sizeof why, "TLS handshake failed%s%s", v == X509_V_OK ? "" : ": ",
	         v == X509_V_OK ? "" : X509_verify_cert_error_string(v));
	conn_fail(c, why);
	return false;
}

static ssize_t conn_read_some(struct conn *c, char *buf, size_t size)
{
	if (!c->ssl)
		return read(c->fd, buf, size);
	c->flags &= ~CONN_WANT_WRITE_READ;
	int ret = SSL_read(c->ssl, buf, (int)size);
	return ret > 0 ? ret : tls_result(c, ret, true);
}

static void read_cb(EV_P_ ev_io *w, int revents)
{
	(void)revents;
	(void)loop;
	struct conn *c = w->data;
	static char scratch[CONN_RECVQ + 1];
	if ((c->flags & CONN_HANDSHAKE) && !handshake(c))
		return;
	size_t have = c->inlen;
	if (have >= CONN_RECVQ)
		return;
	if (have)
		memcpy(scratch, c->inbuf, have);
	ssize_t n = conn_read_some(c, scratch + have, CONN_RECVQ - have);
	if (n == 0) {
		conn_fail(c, "Remote host closed the connection");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_fail(c, errno == EIO ? "TLS error" : strerror(errno));
		return;
	}
	c->bytes_in += (unsigned long long)n;
	size_t len = have + (size_t)n;
	size_t used = c->ws ? ws_input(c, scratch, len) : process_lines(c, scratch, len);
	if (!(c->flags & CONN_DEAD))
		keep_rest(c, scratch, used, len);
	/* OpenSSL may hold decrypted bytes the socket will not signal again */
	if (c->ssl && !(c->flags & CONN_DEAD) && SSL_pending(c->ssl) > 0 && c->inlen < CONN_RECVQ)
		ev_feed_event(EV_DEFAULT, &c->rio, EV_READ);
}

static void flush_tls(struct conn *c)
{
	static char chunk[TLS_CHUNK];
	while (c->sendq.bytes > 0) {
		struct iovec iov[IOV_BATCH];
		int n = sendq_iov(&c->sendq, iov, IOV_BATCH);
		size_t len = 0;
		for (int i = 0; i < n && len < TLS_CHUNK; i++) {
			size_t take = iov[i].iov_len < TLS_CHUNK - len ? iov[i].iov_len : TLS_CHUNK - len;
			memcpy(chunk + len, iov[i].iov_base, take);
			len += take;
		}
		/* A write refused with WANT_WRITE must be repeated with the same length. */
		if (c->tls_retry_len)
			len = (size_t)c->tls_retry_len;
		int ret = SSL_write(c->ssl, chunk, (int)len);
		if (ret <= 0) {
			c->tls_retry_len = (int)len;
			if (tls_result(c, ret, false) < 0 && errno == EAGAIN)
				return;
			conn_fail(c, "TLS write error");
			return;
		}
		c->tls_retry_len = 0;
		sendq_consume(&c->sendq, (size_t)ret);
		c->bytes_out += (unsigned long long)ret;
	}
}

static void flush_plain(struct conn *c)
{
	while (c->sendq.bytes > 0) {
		struct iovec iov[IOV_BATCH];
		int n = sendq_iov(&c->sendq, iov, IOV_BATCH);
		ssize_t w = writev(c->fd, iov, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ev_io_start(EV_DEFAULT, &c->wio);
				return;
			}
			if (errno == EINTR)
				continue;
			conn_fail(c, strerror(errno));
			return;
		}
		sendq_consume(&c->sendq, (size_t)w);
		c->bytes_out += (unsigned long long)w;
	}
}

void conn_flush(struct conn *c)
{
	if (c->flags & (CONN_DEAD | CONN_HANDSHAKE) || c->fd < 0)
		return;
	if (c->ssl)
		flush_tls(c);
	else
		flush_plain(c);
	if (c->sendq.bytes == 0 && !(c->flags & CONN_WANT_WRITE_READ))
		ev_io_stop(EV_DEFAULT, &c->wio);
}

static void write_cb(EV_P_ ev_io *w, int revents)
{
	(void)revents;
	(void)loop;
	struct conn *c = w->data;
	if (c->flags & CONN_HANDSHAKE) {
		handshake(c);
		return;
	}
	if (c->flags & CONN_WANT_WRITE_READ)
		read_cb(EV_DEFAULT, &c->rio, EV_READ);
	conn_flush(c);
}

void conn_init(struct conn *c, int fd, SSL *ssl, const struct conn_ops *ops)
{
	c->fd = fd;
	c->ssl = ssl;
	c->ops = ops;
	c->flags = ssl ? CONN_HANDSHAKE : 0;
	ev_io_init(&c->rio, read_cb, fd, EV_READ);
	ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	ev_io_start(EV_DEFAULT, &c->rio);
	if (ssl && !SSL_is_server(ssl))
		ev_io_start(EV_DEFAULT, &c->wio); /* we speak first: the ClientHello */
	memtrim_note();
}

void conn_move(struct conn *dst, struct conn *src, const struct conn_ops *ops)
{
	if (src->flags & CONN_PENDING) {
		struct conn **pp = &pending_head;
		while (*pp != src)
			pp = &(*pp)->pending_next;
		*pp = src->pending_next;
	}
	ev_io_stop(EV_DEFAULT, &src->rio);
	ev_io_stop(EV_DEFAULT, &src->wio);
	*dst = *src;
	dst->ops = ops;
	dst->flags &= ~(CONN_PENDING | CONN_WANT_WRITE_READ);
	dst->flags |= CONN_PAUSED;
	dst->sendq_max = 0;
	ev_io_init(&dst->rio, read_cb, dst->fd, EV_READ);
	ev_io_init(&dst->wio, write_cb, dst->fd, EV_WRITE);
	dst->rio.data = dst->wio.data = dst;
	ev_io_start(EV_DEFAULT, &dst->rio);
	memset(&src->sendq, 0, sizeof src->sendq);
	src->fd = -1;
	src->ssl = NULL;
	src->ws = NULL;
	src->inbuf = NULL;
	src->inlen = 0;
	src->flags = CONN_DEAD;
	if (dst->sendq.bytes)
		mark_pending(dst);
}

void conn_websocket(struct conn *c) { ws_attach(c); }

/* Queues a line: as it is on a stream, as a frame (or not at all, before the upgrade
 * and after a close) on a WebSocket. */
static void push_line(struct conn *c, struct msgbuf *b)
{
	if (c->ws)
		ws_push(c, b);
	else
		sendq_push(&c->sendq, b);
	mark_pending(c);
}

bool conn_send(struct conn *c, struct msgbuf *b)
{
	if (c->flags & CONN_DEAD)
		return true;
	if (c->sendq_max && c->sendq.bytes + b->len > c->sendq_max)
		return false;
	push_line(c, b);
	return true;
}

void conn_send_force(struct conn *c, struct msgbuf *b)
{
	if (c->flags & CONN_DEAD)
		return;
	push_line(c, b);
}

bool conn_send_raw(struct conn *c, struct msgbuf *b)
{
	if (c->flags & CONN_DEAD)
		return true;
	if (c->sendq_max && c->sendq.bytes + b->len > c->sendq_max)
		return false;
	sendq_push_raw(&c->sendq, b);
	mark_pending(c);
	return true;
}

void conn_pause(struct conn *c) { c->flags |= CONN_PAUSED; }

void conn_resume(struct conn *c)
{
	if (!(c->flags & CONN_PAUSED))
		return;
	c->flags &= ~CONN_PAUSED;
	if (c->flags & CONN_DEAD)
		return;
	if (c->inlen) {
		char *buf = c->inbuf;
		size_t len = c->inlen;
		c->inbuf = NULL;
		c->inlen = 0;
		size_t used = c->ws ? ws_input(c, buf, len) : process_lines(c, buf, len);
		if (!(c->flags & CONN_DEAD))
			keep_rest(c, buf, used, len);
		free(buf);
	}
	if (!(c->flags & CONN_DEAD) && c->inlen < CONN_RECVQ) {
		ev_io_start(EV_DEFAULT, &c->rio);
		if (c->ssl && SSL_pending(c->ssl) > 0)
			ev_feed_event(EV_DEFAULT, &c->rio, EV_READ);
	}
}

void conn_close(struct conn *c)
{
	if (c->flags & CONN_PENDING) {
		struct conn **pp = &pending_head;
		while (*pp != c)
			pp = &(*pp)->pending_next;
		*pp = c->pending_next;
		c->flags &= ~CONN_PENDING;
	}
	c->flags |= CONN_DEAD;
	ev_io_stop(EV_DEFAULT, &c->rio);
	ev_io_stop(EV_DEFAULT, &c->wio);
	if (c->fd >= 0)
		memtrim_note();
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	sendq_clear(&c->sendq);
	ws_free(c);
	free(c->inbuf);
	c->inbuf = NULL;
	c->inlen = 0;
}

void conn_finish(struct conn *c)
{
	if (c->ws && !(c->flags & CONN_DEAD))
		ws_finish(c); /* the closing frame, after whatever was queued */
	if (c->ssl || c->flags & (CONN_DEAD | CONN_HANDSHAKE) || c->fd < 0)
		return; /* TLS still has its close_notify to send at close time */
	conn_flush(c);
	if (c->sendq.bytes == 0 && !(c->flags & CONN_DEAD))
		shutdown(c->fd, SHUT_WR);
}

void conn_flush_pending(void)
{
	while (pending_head) {
		struct conn *c = pending_head;
		pending_head = c->pending_next;
		c->flags &= ~CONN_PENDING;
		conn_flush(c);
	}
}
