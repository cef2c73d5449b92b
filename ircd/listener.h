/* listener.h - listening sockets from the config's listen entries. */
#ifndef PARLEY_LISTENER_H
#define PARLEY_LISTENER_H

#include "conf.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

/* Called for each accepted connection with a non-blocking fd it takes ownership of,
 * a new SSL (NULL on a plain listener) and the listener's config entry. */
typedef void (*listener_accept_fn)(int fd, const struct sockaddr_storage *addr, SSL *ssl,
                                   const struct conf_listener *lc);

/* Opens and starts every listener in conf. tls may be NULL if no listener uses TLS.
 * Returns the number that failed (each logged). Blocks briefly (bind). */
int listener_open_all(const struct conf *conf, SSL_CTX *tls, listener_accept_fn fn);

/* Brings the open listeners in line with conf (REHASH): keeps those whose address, port
 * and TLS flag are unchanged (updating their class and TLS context), closes the ones no
 * longer configured and opens the new ones. Returns the number that failed to open. */
int listener_sync(const struct conf *conf, SSL_CTX *tls, listener_accept_fn fn);

/* Stops and closes every listener. */
void listener_close_all(void);

/* Counters of one listening socket (STATS l). They outlive the socket while clients
 * accepted on it remain: each of those holds a reference, as the open listener does. */
struct listener_stats {
	unsigned refs;
	unsigned long long accepted;            /* clients accepted since it opened */
	unsigned long long bytes_in, bytes_out; /* of its clients that are gone */
	/* scratch filled by the caller of listener_each: the clients connected now */
	unsigned live_clients;
	size_t live_sendq;
	unsigned long long live_in, live_out;
};

/* For a client accepted on the listener whose config entry is lc (the pointer
 * listener_accept_fn was given): counts it and returns a reference to the counters;
 * NULL if lc is no open listener's entry (then nothing is counted). */
struct listener_stats *listener_stats_hold(const struct conf_listener *lc);

/* The client holding s (may be NULL) is gone after moving bytes_in/bytes_out: adds
 * them to the listener's totals and drops the reference. */
void listener_stats_release(struct listener_stats *s, unsigned long long bytes_in, unsigned long long bytes_out);

/* Calls fn for each open listener, in config order of opening, with its entry, the port
 * it is bound to and its counters. */
void listener_each(void (*fn)(const struct conf_listener *lc, int port, struct listener_stats *s, void *arg),
                   void *arg);

/* Writes the port actually bound by listener i (useful with port 0). */
int listener_port(int i);

#endif
