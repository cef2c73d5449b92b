/* http.h - the request head of the metrics endpoint's minimal HTTP/1.0 and 1.1 server:
 * a pure parser of the bytes received so far, so it can be fuzzed on its own. */
#ifndef PARLEY_HTTP_H
#define PARLEY_HTTP_H

#include <stddef.h>

/* The most a request head may take, request line and headers: past it, 431. */
#define HTTP_HEAD_MAX 4096

enum http_parse {
	HTTP_INCOMPLETE,   /* no blank line yet and still within HTTP_HEAD_MAX: read more */
	HTTP_DONE,         /* a well-formed head: the request fields are set */
	HTTP_BAD,          /* not an HTTP/1.x request: 400 */
	HTTP_TOO_LARGE,    /* no end of head within HTTP_HEAD_MAX bytes: 431 */
};

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

struct http_request {
	enum http_method method;
	const char *path; /* points into the buffer; not terminated: path_len bytes, query cut */
	size_t path_len;
	int minor;        /* HTTP/1.minor: 0 or 1 */
};

/* Parses the request head in buf[0..len) (bytes received so far; any bytes, NULs too).
 * Headers are skipped after a check that they are lines of visible text; a body is never
 * read. On HTTP_DONE fills req (whose path borrows buf). Never reads past len. */
enum http_parse http_parse(const char *buf, size_t len, struct http_request *req);

/* The response for a parsed request: status code for method and path on the metrics
 * endpoint ("/metrics", any query): 200, 404 or 405. */
int http_route(const struct http_request *req);

#endif
