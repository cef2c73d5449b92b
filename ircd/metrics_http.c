/* metrics_http.c - the metrics endpoint: one listening socket on the loop and the short
 * connections it accepts. A connection reads its request head (http.c parses it), gets
 * one response, and is closed: no keep-alive, nothing else served.
 *
 * Bounds, so that the endpoint can neither block nor be used to exhaust the daemon:
 * at most HTTP_HEAD_MAX bytes of request (past it 431); metrics.timeout seconds from
 * accept to the end of the response (a slow request gets 408, a peer that does not read
 * its response is dropped); at most metrics.max_connections at once (one more is answered
 * 503 at once and closed). Sockets are non-blocking; a response the peer does not take
 * at once waits for EV_WRITE. After the response the connection lingers up to a second
 * reading what the peer still sends, so closing with unread input does not reset the
 * connection before the peer has read its answer. */
#include "metrics_http.h"

#include "http.h"
#include "ircd.h"
#include "log.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH 16
#define LINGER_SECONDS 1.0

enum mconn_state { READING, WRITING, LINGERING };

struct mconn {
	ev_io io;
	ev_timer timer;
	int fd;
	enum mconn_state state;
	size_t inlen;
	char *out;
	size_t outlen, outoff;
	struct mconn *next, *prev;
	char in[HTTP_HEAD_MAX];
};

static int listen_fd = -1;
static ev_io accept_io;
static ev_timer retry_timer; /* accepting again after running out of descriptors */
static char bound_address[CONF_NAME_LEN];
static int bound_port;
static struct mconn *conns;
static unsigned nconns;

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	default: return "Service Unavailable";
	}
}

/* A whole response in a new string: the status line, headers, and unless head_only the
 * body (for 200 the exposition, otherwise the status text). */
static char *response(int status, bool head_only, size_t *len)
{
	size_t blen;
	char *body;
	if (status == 200) {
		body = metrics_render(&blen);
	} else {
		blen = (size_t)asprintf(&body, "%d %s\n", status, status_text(status));
		if ((int)blen < 0)
			abort();
	}
	char *out;
	int n = asprintf(&out,
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n%.*s",
	                 status, status_text(status),
	                 status == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8", blen,
	                 status == 405 ? "Allow: GET, HEAD\r\n" : "", head_only ? 0 : (int)blen, body);
	free(body);
	if (n < 0)
		abort();
	*len = (size_t)n;
	return out;
}

static void mconn_close(struct mconn *m)
{
	ev_io_stop(EV_DEFAULT, &m->io);
	ev_timer_stop(EV_DEFAULT, &m->timer);
	close(m->fd);
	if (m->prev)
		m->prev->next = m->next;
	else
		conns = m->next;
	if (m->next)
		m->next->prev = m->prev;
	nconns--;
	free(m->out);
	free(m);
}

static void set_io(struct mconn *m, int events)
{
	ev_io_stop(EV_DEFAULT, &m->io);
	ev_io_set(&m->io, m->fd, events);
	ev_io_start(EV_DEFAULT, &m->io);
}

/* The response is out: stop sending, read what the peer still sends for a moment. */
static void linger(struct mconn *m)
{
	shutdown(m->fd, SHUT_WR);
	m->state = LINGERING;
	set_io(m, EV_READ);
	ev_timer_stop(EV_DEFAULT, &m->timer);
	ev_timer_set(&m->timer, LINGER_SECONDS, 0);
	ev_timer_start(EV_DEFAULT, &m->timer);
}

/* Sends what the socket takes now; false if the connection was closed. */
static bool flush(struct mconn *m)
{
	while (m->outoff < m->outlen) {
		ssize_t n = send(m->fd, m->out + m->outoff, m->outlen - m->outoff, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_io(m, EV_WRITE);
			return true;
		}
		if (n <= 0) {
			mconn_close(m);
			return false;
		}
		m->outoff += (size_t)n;
	}
	linger(m);
	return true;
}

static void respond(struct mconn *m, int status, bool head_only)
{
	m->out = response(status, head_only, &m->outlen);
	m->outoff = 0;
	m->state = WRITING;
	flush(m);
}

/* Reads what is there (a bounded number of times: a peer that keeps sending while its
 * connection lingers gets the next loop iteration, not this one). */
static void on_input(struct mconn *m)
{
	for (int reads = 0; reads < 16; reads++) {
		char drain[512];
		bool lingering = m->state == LINGERING;
		char *dst = lingering ? drain : m->in + m->inlen;
		size_t room = lingering ? sizeof drain : sizeof m->in - m->inlen;
		ssize_t n = recv(m->fd, dst, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) { /* the peer is done (or gone): nothing to answer */
			mconn_close(m);
			return;
		}
		if (lingering)
			continue;
		m->inlen += (size_t)n;
		struct http_request req;
		switch (http_parse(m->in, m->inlen, &req)) {
		case HTTP_INCOMPLETE: continue;
		case HTTP_DONE: respond(m, http_route(&req), req.method == HTTP_HEAD); return;
		case HTTP_BAD: respond(m, 400, false); return;
		case HTTP_TOO_LARGE: respond(m, 431, false); return;
		}
	}
}

static void io_cb(EV_P_ ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct mconn *m = w->data;
	if (m->state == WRITING)
		flush(m);
	else
		on_input(m);
}

/* The deadline: a request still incomplete gets 408 if the socket takes it at once; a
 * response not taken, or a linger over, ends the connection. */
static void timer_cb(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct mconn *m = w->data;
	if (m->state == READING) {
		size_t len;
		char *out = response(408, false, &len);
		ssize_t sent = send(m->fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)sent; /* best effort: the connection ends either way */
		free(out);
		shutdown(m->fd, SHUT_WR);
	}
	mconn_close(m);
}

/* Over the connection limit: a 503 if the socket takes it at once, then closed. */
static void refuse(int fd)
{
	size_t len;
	char *out = response(503, false, &len);
	ssize_t sent = send(fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)sent;
	free(out);
	shutdown(fd, SHUT_WR);
	close(fd);
}

static void retry_cb(EV_P_ ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	if (listen_fd >= 0)
		ev_io_start(loop, &accept_io);
}

static void accept_cb(EV_P_ ev_io *w, int revents)
{
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* still readable: wait a second instead of spinning on the same error */
				ev_io_stop(loop, w);
				ev_timer_set(&retry_timer, 1.0, 0);
				ev_timer_start(loop, &retry_timer);
			}
			return;
		}
		if (nconns >= (unsigned)ircd.conf->metrics_max_connections) {
			refuse(fd);
			continue;
		}
		struct mconn *m = calloc(1, sizeof *m);
		if (!m)
			abort();
		m->fd = fd;
		m->state = READING;
		ev_io_init(&m->io, io_cb, fd, EV_READ);
		ev_timer_init(&m->timer, timer_cb, ircd.conf->metrics_timeout, 0);
		m->io.data = m->timer.data = m;
		ev_io_start(loop, &m->io);
		ev_timer_start(loop, &m->timer);
		m->next = conns;
		if (conns)
			conns->prev = m;
		conns = m;
		nconns++;
	}
}

int metrics_http_open(const struct conf *conf)
{
	if (!conf->metrics_enabled)
		return 0;
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = sizeof *in4;
	const char *addr = conf->metrics_address;
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)conf->metrics_port);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)conf->metrics_port);
		len = sizeof *in6;
	} /* conf.c accepts nothing else */
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
		log_error("metrics %s port %d: %s", addr, conf->metrics_port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	listen_fd = fd;
	snprintf(bound_address, sizeof bound_address, "%s", addr);
	bound_port = conf->metrics_port;
	ev_io_init(&accept_io, accept_cb, fd, EV_READ);
	ev_timer_init(&retry_timer, retry_cb, 1.0, 0);
	ev_io_start(EV_DEFAULT, &accept_io);
	bool v6 = ss.ss_family == AF_INET6;
	log_info("metrics on http://%s%s%s:%d/metrics", v6 ? "[" : "", addr, v6 ? "]" : "", bound_port);
	return 0;
}

static void close_listener(void)
{
	if (listen_fd < 0)
		return;
	ev_io_stop(EV_DEFAULT, &accept_io);
	ev_timer_stop(EV_DEFAULT, &retry_timer);
	close(listen_fd);
	listen_fd = -1;
}

int metrics_http_sync(const struct conf *conf)
{
	if (listen_fd >= 0 && conf->metrics_enabled && strcmp(conf->metrics_address, bound_address) == 0 &&
	    conf->metrics_port == bound_port)
		return 0;
	close_listener();
	return metrics_http_open(conf);
}

void metrics_http_close(void)
{
	close_listener();
	while (conns)
		mconn_close(conns);
}
