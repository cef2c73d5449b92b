/* metrics_http.h - the optional HTTP listener serving GET /metrics (metrics.c's text). */
#ifndef PARLEY_METRICS_HTTP_H
#define PARLEY_METRICS_HTTP_H

#include "conf.h"

/* Opens the listener if conf enables it (the metrics group). Returns 0, or -1 after
 * logging why it could not bind. Blocks briefly (bind). */
int metrics_http_open(const struct conf *conf);

/* REHASH: reopens the listener if its address or port changed, closes it if the group
 * is gone, opens it if new. Connections in progress finish on the old socket's terms.
 * Returns -1 (logged) if a new listener could not be opened. */
int metrics_http_sync(const struct conf *conf);

/* Closes the listener and every connection (shutdown). */
void metrics_http_close(void);

#endif
