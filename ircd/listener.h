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

/* Writes the port actually bound by listener i (useful with port 0). */
int listener_port(int i);

#endif
