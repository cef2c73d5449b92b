/* http.c - parsing the request head of the metrics endpoint. Only what a scraper sends is
 * understood: "METHOD SP target SP HTTP/1.x", header lines, a blank line (CRLF or a bare
 * LF, as RFC 9112 allows a recipient to accept). Anything else is a 400, so a scanner or a
 * garbage stream gets an answer and the connection is closed; nothing in a header changes
 * what is served, so headers are only checked for shape. */
#include "http.h"

#include <stdbool.h>
#include <string.h>

/* RFC 9110 token characters (a method). */
static bool tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* The end of the line starting at p (its LF), or NULL if none before end. */
static const char *line_end(const char *p, const char *end) { return memchr(p, '\n', (size_t)(end - p)); }

static bool parse_request_line(const char *p, const char *eol, struct http_request *req)
{
	if (eol > p && eol[-1] == '\r')
		eol--;
	const char *m = p;
	while (p < eol && tchar((unsigned char)*p))
		p++;
	size_t mlen = (size_t)(p - m);
	if (mlen == 0 || p == eol || *p++ != ' ')
		return false;
	const char *t = p;
	while (p < eol && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
		p++;
	if (p == t || p == eol || *p++ != ' ')
		return false;
	const char *target_end = p - 1;
	if (eol - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
		return false;
	req->minor = p[7] - '0';
	req->method = mlen == 3 && memcmp(m, "GET", 3) == 0    ? HTTP_GET
	              : mlen == 4 && memcmp(m, "HEAD", 4) == 0 ? HTTP_HEAD
	                                                       : HTTP_OTHER;
	const char *q = memchr(t, '?', (size_t)(target_end - t));
	req->path = t;
	req->path_len = (size_t)((q ? q : target_end) - t);
	return true;
}

/* A header line (without its line end): "name: value" of visible text, tabs allowed in
 * the value. Obsolete line folding is refused. */
static bool header_ok(const char *p, const char *eol)
{
	if (eol > p && eol[-1] == '\r')
		eol--;
	const char *n = p;
	while (p < eol && tchar((unsigned char)*p))
		p++;
	if (p == n || p == eol || *p++ != ':')
		return false;
	for (; p < eol; p++)
		if (((unsigned char)*p < ' ' && *p != '\t') || (unsigned char)*p == 0x7f)
			return false;
	return true;
}

enum http_parse http_parse(const char *buf, size_t len, struct http_request *req)
{
	const char *end = buf + (len > HTTP_HEAD_MAX ? HTTP_HEAD_MAX : len);
	const char *eol = line_end(buf, end);
	if (!eol)
		return len >= HTTP_HEAD_MAX ? HTTP_TOO_LARGE : HTTP_INCOMPLETE;
	if (!parse_request_line(buf, eol, req))
		return HTTP_BAD;
	for (const char *p = eol + 1;; p = eol + 1) {
		if (!(eol = line_end(p, end)))
			return len >= HTTP_HEAD_MAX ? HTTP_TOO_LARGE : HTTP_INCOMPLETE;
		if (eol == p || (eol == p + 1 && *p == '\r'))
			return HTTP_DONE; /* the blank line */
		if (!header_ok(p, eol))
			return HTTP_BAD;
	}
}

int http_route(const struct http_request *req)
{
	if (req->method == HTTP_OTHER)
		return 405;
	if (req->path_len == 8 && memcmp(req->path, "/metrics", 8) == 0)
		return 200;
	return 404;
}
