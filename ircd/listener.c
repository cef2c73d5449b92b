/* listener.c - non-blocking accept. Each readiness event accepts a bounded batch so a
 * connection flood cannot starve the clients already connected. When the process runs
 * out of descriptors, a reserved one is released to accept and close the newcomer
 * instead of spinning on EMFILE. */
#include "listener.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACCEPT_BATCH 64

struct listener {
	ev_io io;
	int fd;
	int port;
	SSL_CTX *tls;
	struct conf_listener conf;
	listener_accept_fn fn;
	struct listener_stats *stats;
};

static struct listener listeners[CONF_MAX_LISTENERS];
static int nlisteners;
static int reserve_fd = -1;

static void accept_cb(EV_P_ ev_io *w, int revents)
{
	(void)revents;
	(void)loop;
	struct listener *l = w->data;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage addr;
		socklen_t alen = sizeof addr;
		int fd = accept4(l->fd, (struct sockaddr *)&addr, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if ((errno == EMFILE || errno == ENFILE) && reserve_fd >= 0) {
				close(reserve_fd);
				fd = accept(l->fd, NULL, NULL);
				if (fd >= 0)
					close(fd);
				reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				log_warn("out of file descriptors: refused a connection");
			}
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		SSL *ssl = NULL;
		if (l->conf.tls) {
			ssl = SSL_new(l->tls);
			if (!ssl || SSL_set_fd(ssl, fd) != 1) {
				SSL_free(ssl);
				close(fd);
				continue;
			}
			SSL_set_accept_state(ssl);
			/* A browser asked for a client certificate on a WebSocket has no way to
			 * answer in a script and fails the handshake (Chromium does): no request
			 * there, so no CertFP for web clients. */
			if (l->conf.websocket)
				SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
		}
		l->fn(fd, &addr, ssl, &l->conf);
	}
}

static struct listener_stats *stats_new(void)
{
	struct listener_stats *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->refs = 1;
	return s;
}

static void stats_unref(struct listener_stats *s)
{
	if (s && --s->refs == 0)
		free(s);
}

struct listener_stats *listener_stats_hold(const struct conf_listener *lc)
{
	for (int i = 0; i < nlisteners; i++) {
		struct listener *l = &listeners[i];
		if (&l->conf == lc) {
			l->stats->refs++;
			l->stats->accepted++;
			return l->stats;
		}
	}
	return NULL;
}

void listener_stats_release(struct listener_stats *s, unsigned long long bytes_in, unsigned long long bytes_out)
{
	if (!s)
		return;
	s->bytes_in += bytes_in;
	s->bytes_out += bytes_out;
	stats_unref(s);
}

void listener_each(void (*fn)(const struct conf_listener *lc, int port, struct listener_stats *s, void *arg),
                   void *arg)
{
	for (int i = 0; i < nlisteners; i++)
		fn(&listeners[i].conf, listeners[i].port, listeners[i].stats, arg);
}

static int open_one(struct listener *l)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	const char *addr = l->conf.address;
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)l->conf.port);
		len = sizeof *in4;
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)l->conf.port);
		len = sizeof *in6;
	} else {
		log_error("listen %s:%d: not an IP address", addr, l->conf.port);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0) {
		log_error("listen %s:%d: %s", addr, l->conf.port, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4096) < 0) {
		log_error("listen %s:%d: %s", addr, l->conf.port, strerror(errno));
		close(fd);
		return -1;
	}
	struct sockaddr_storage bound;
	socklen_t blen = sizeof bound;
	getsockname(fd, (struct sockaddr *)&bound, &blen);
	l->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
	                                            : ((struct sockaddr_in6 *)&bound)->sin6_port);
	l->fd = fd;
	l->stats = stats_new();
	ev_io_init(&l->io, accept_cb, fd, EV_READ);
	l->io.data = l;
	ev_io_start(EV_DEFAULT, &l->io);
	log_info("listening on %s port %d%s%s", addr, l->port, l->conf.tls ? " (TLS)" : "", l->conf.websocket ? " (WebSocket)" : "");
	return 0;
}

int listener_open_all(const struct conf *conf, SSL_CTX *tls, listener_accept_fn fn)
{
	int failed = 0;
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < conf->nlisteners; i++) {
		struct listener *l = &listeners[nlisteners];
		*l = (struct listener){.fd = -1, .tls = tls, .conf = conf->listeners[i], .fn = fn};
		if (open_one(l) < 0)
			failed++;
		else
			nlisteners++;
	}
	return failed;
}

static bool same_socket(const struct conf_listener *a, const struct conf_listener *b)
{
	return strcmp(a->address, b->address) == 0 && a->port == b->port && a->tls == b->tls;
}

int listener_sync(const struct conf *conf, SSL_CTX *tls, listener_accept_fn fn)
{
	int kept = 0;
	for (int i = 0; i < nlisteners; i++) {
		struct listener *l = &listeners[i];
		const struct conf_listener *nl = NULL;
		for (int j = 0; j < conf->nlisteners && !nl; j++)
			if (same_socket(&l->conf, &conf->listeners[j]))
				nl = &conf->listeners[j];
		ev_io_stop(EV_DEFAULT, &l->io);
		if (!nl) {
			log_info("listener %s port %d closed", l->conf.address, l->port);
			close(l->fd);
			stats_unref(l->stats);
			continue;
		}
		struct listener *k = &listeners[kept++];
		*k = *l;
		k->conf = *nl;
		k->tls = tls;
		k->fn = fn;
		k->io.data = k;
		ev_io_init(&k->io, accept_cb, k->fd, EV_READ);
		k->io.data = k;
		ev_io_start(EV_DEFAULT, &k->io);
	}
	nlisteners = kept;
	int failed = 0;
	for (int j = 0; j < conf->nlisteners; j++) {
		bool open = false;
		for (int i = 0; i < kept && !open; i++)
			open = same_socket(&listeners[i].conf, &conf->listeners[j]);
		if (open || nlisteners == CONF_MAX_LISTENERS)
			continue;
		struct listener *l = &listeners[nlisteners];
		*l = (struct listener){.fd = -1, .tls = tls, .conf = conf->listeners[j], .fn = fn};
		if (open_one(l) < 0)
			failed++;
		else
			nlisteners++;
	}
	return failed;
}

void listener_close_all(void)
{
	for (int i = 0; i < nlisteners; i++) {
		ev_io_stop(EV_DEFAULT, &listeners[i].io);
		close(listeners[i].fd);
		stats_unref(listeners[i].stats);
	}
	nlisteners = 0;
}

int listener_port(int i) { return i < nlisteners ? listeners[i].port : -1; }
