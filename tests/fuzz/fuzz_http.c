/* fuzz_http.c - the metrics endpoint's request parser (ircd/http.c). The input is what a
 * peer sends. The parser must never read past the bytes it is given (each call gets an
 * exact-size copy); its answer must be decided once and for all: every prefix of the
 * input, read in 1-64-byte steps as metrics_http.c reads a socket, is "incomplete" until
 * the first prefix that gets an answer, and every longer prefix gets that same answer;
 * "too large" comes only at HTTP_HEAD_MAX bytes; an accepted request's path lies inside
 * the head, starts where a visible byte does, has no '?' and no space, and routes to 200, 404
 * or 405. */
#include "fuzz.h"
#include "http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_MAX (2 * HTTP_HEAD_MAX)

static enum http_parse parse_copy(const uint8_t *data, size_t len, struct http_request *req)
{
	char *copy = malloc(len ? len : 1);
	CHECK(copy);
	memcpy(copy, data, len);
	enum http_parse r = http_parse(copy, len, req);
	if (r == HTTP_DONE) {
		CHECK(req->path > copy && req->path + req->path_len <= copy + len);
		CHECK(req->path_len < HTTP_HEAD_MAX);
		CHECK((unsigned char)req->path[0] > ' '); /* the target's first byte ('?' when the path is empty) */
		CHECK(!memchr(req->path, '?', req->path_len) && !memchr(req->path, ' ', req->path_len));
		CHECK(req->minor == 0 || req->minor == 1);
		int status = http_route(req);
		CHECK(status == 200 || status == 404 || status == 405);
		CHECK((status == 405) == (req->method == HTTP_OTHER));
		req->path = NULL; /* the copy goes */
	}
	if (r == HTTP_TOO_LARGE)
		CHECK(len >= HTTP_HEAD_MAX);
	free(copy);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t step = data[0] % 64 + 1;
	data++, size--;
	if (size > INPUT_MAX)
		size = INPUT_MAX;
	struct http_request whole;
	enum http_parse final = parse_copy(data, size, &whole);
	enum http_parse decided = HTTP_INCOMPLETE;
	for (size_t len = 0;; len = len + step < size ? len + step : size) {
		struct http_request req;
		enum http_parse r = parse_copy(data, len, &req);
		if (decided == HTTP_INCOMPLETE)
			decided = r;
		else
			CHECK(r == decided);
		if (len == size)
			break;
	}
	CHECK(decided == final);
	return 0;
}
