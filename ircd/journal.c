/* journal.c - the history journal's record format (see journal.h): encoding records of
 * text fields, and a pure streaming decoder that checks each record's length and CRC,
 * reports every bad stretch once and resumes at the next record. The file I/O is the
 * caller's (history_store.c); the fuzz target drives the decoder directly. */
#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- CRC-32 ---- */

/* Half-byte table for the reflected IEEE polynomial 0xedb88320: small enough to write
 * out, no start-up initialisation, and fast enough for a journal (zlib is not a
 * dependency). */
static const uint32_t crc_nibble[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

uint32_t journal_crc32(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < len; i++) {
		crc ^= b[i];
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
	}
	return crc ^ 0xffffffffu;
}

/* ---- encoding ---- */

static void buf_reserve(struct journal_buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	b->data = realloc(b->data, cap);
	if (!b->data)
		abort();
	b->cap = cap;
}

void journal_buf_free(struct journal_buf *b)
{
	free(b->data);
	*b = (struct journal_buf){0};
}

/* The escaped length of field s ("\N" for NULL). */
static size_t escaped_len(const char *s)
{
	if (!s)
		return 2;
	size_t n = 0;
	for (; *s; s++)
		n += (*s == '\\' || *s == '\t' || *s == '\n' || *s == '\r' || *s == JOURNAL_RS) ? 2 : 1;
	return n;
}

static char *put_escaped(char *w, const char *s)
{
	if (!s) {
		*w++ = '\\';
		*w++ = 'N';
		return w;
	}
	for (; *s; s++) {
		char e = *s == '\\' ? '\\' : *s == '\t' ? 't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : *s == JOURNAL_RS ? 'e' : 0;
		if (e) {
			*w++ = '\\';
			*w++ = e;
		} else {
			*w++ = *s;
		}
	}
	return w;
}

bool journal_encode(struct journal_buf *b, const char *const *fields, int n)
{
	if (n < 1 || n > JOURNAL_FIELDS_MAX)
		return false;
	size_t plen = (size_t)n - 1; /* the tabs */
	for (int i = 0; i < n; i++) {
		plen += escaped_len(fields[i]);
		if (plen > JOURNAL_PAYLOAD_MAX)
			return false;
	}
	buf_reserve(b, JOURNAL_HEADER_LEN + plen + 1);
	char *rec = b->data + b->len;
	char *payload = rec + JOURNAL_HEADER_LEN, *w = payload;
	for (int i = 0; i < n; i++) {
		if (i)
			*w++ = '\t';
		w = put_escaped(w, fields[i]);
	}
	char head[JOURNAL_HEADER_LEN + 1];
	snprintf(head, sizeof head, "%cPJ1 %08zx %08lx ", JOURNAL_RS, plen,
	         (unsigned long)journal_crc32(payload, plen));
	memcpy(rec, head, JOURNAL_HEADER_LEN);
	*w++ = '\n';
	b->len += JOURNAL_HEADER_LEN + plen + 1;
	return true;
}

/* ---- decoding ---- */

void journal_scan_init(struct journal_scan *s, int nfields, journal_record_fn record, journal_bad_fn bad, void *arg)
{
	memset(s, 0, sizeof *s);
	s->nfields = nfields;
	s->record = record;
	s->bad = bad;
	s->arg = arg;
}

/* A bad stretch begins at absolute offset at (unless one is already open). */
static void bad_begin(struct journal_scan *s, unsigned long long at, const char *why)
{
	if (s->in_bad)
		return;
	s->in_bad = true;
	s->bad_at = at;
	s->bad_why = why;
}

/* The open bad stretch, if any, ends before absolute offset at: report it. */
static void bad_end(struct journal_scan *s, unsigned long long at)
{
	if (!s->in_bad)
		return;
	s->in_bad = false;
	if (s->bad)
		s->bad(s->arg, s->bad_at, (size_t)(at - s->bad_at), s->bad_why);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Eight lowercase hex digits; -1 if p holds anything else. */
static long long hex8(const char *p)
{
	long long v = 0;
	for (int i = 0; i < 8; i++) {
		int d = hexval(p[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Splits and unescapes a payload into s->scratch; returns the number of fields, or -1 for
 * an escape the encoder never writes, a raw LF or RS, or too many fields. legacy: the
 * old line format, which had no \e and passed unknown escapes through. */
static int decode_fields(struct journal_scan *s, const char *p, size_t len, bool legacy, char **fields)
{
	char *w = s->scratch;
	int n = 0;
	size_t i = 0;
	for (;;) {
		if (n == JOURNAL_FIELDS_MAX)
			return -1;
		if (len - i >= 2 && p[i] == '\\' && p[i + 1] == 'N' && (i + 2 == len || p[i + 2] == '\t')) {
			fields[n++] = NULL;
			i += 2;
		} else {
			fields[n++] = w;
			for (; i < len && p[i] != '\t'; i++) {
				char c = p[i];
				if (c == '\n' || c == JOURNAL_RS)
					return -1;
				if (c == '\\') {
					if (++i == len)
						return -1;
					c = p[i];
					if (c == 't' || c == 'n' || c == 'r')
						c = c == 't' ? '\t' : c == 'n' ? '\n' : '\r';
					else if (c == 'e' && !legacy)
						c = JOURNAL_RS;
					else if (c != '\\' && !legacy)
						return -1;
				}
				*w++ = c;
			}
			*w++ = '\0';
		}
		if (i == len)
			return n;
		i++; /* the tab */
	}
}

/* Hands a decoded record to the caller; false if its fields do not decode. */
static bool deliver(struct journal_scan *s, const char *p, size_t len, bool legacy)
{
	char *fields[JOURNAL_FIELDS_MAX];
	int n = decode_fields(s, p, len, legacy, fields);
	if (n != s->nfields)
		return false;
	if (!s->record(s->arg, fields, n))
		s->stopped = true;
	return true;
}

/* The record at p (p[0] is RS, at absolute offset at). Returns the bytes consumed: the
 * whole record if it is intact, 1 (its RS) if it is bad, 0 if more input is needed. */
static size_t one_record(struct journal_scan *s, const char *p, size_t avail, bool eof, unsigned long long at)
{
	const char *why = NULL;
	long long plen = -1, crc = -1;
	if (avail < JOURNAL_HEADER_LEN) {
		if (!eof)
			return 0;
		why = "incomplete (cut off at the end of the file)";
	} else if (memcmp(p + 1, "PJ1 ", 4) != 0 || p[13] != ' ' || p[22] != ' ' || (plen = hex8(p + 5)) < 0 ||
	           (crc = hex8(p + 14)) < 0) {
		why = "bad header";
	} else if (plen > JOURNAL_PAYLOAD_MAX) {
		why = "bad length";
	} else if (avail < JOURNAL_HEADER_LEN + (size_t)plen + 1) {
		if (!eof)
			return 0;
		why = "incomplete (cut off at the end of the file)";
	} else if (p[JOURNAL_HEADER_LEN + plen] != '\n') {
		why = "bad length (torn or overwritten)";
	} else if (journal_crc32(p + JOURNAL_HEADER_LEN, (size_t)plen) != (uint32_t)crc) {
		why = "checksum mismatch";
	} else if (!deliver(s, p + JOURNAL_HEADER_LEN, (size_t)plen, false)) {
		why = "bad fields";
	} else {
		return JOURNAL_HEADER_LEN + (size_t)plen + 1;
	}
	bad_begin(s, at, why);
	return 1;
}

/* Bytes that are not a record: one bad stretch up to the next RS. */
static size_t garbage(struct journal_scan *s, const char *p, size_t avail, unsigned long long at)
{
	bad_begin(s, at, "garbage");
	const char *rs = memchr(p, JOURNAL_RS, avail);
	return rs ? (size_t)(rs - p) : avail;
}

/* An old-format line at p: complete (ending in LF) with the expected fields, or bad. A
 * line cut off by an RS was torn before this version appended to the file. */
static size_t one_line(struct journal_scan *s, const char *p, size_t avail, bool eof, unsigned long long at)
{
	size_t lim = avail < JOURNAL_PAYLOAD_MAX + 1 ? avail : JOURNAL_PAYLOAD_MAX + 1;
	size_t end = 0;
	while (end < lim && p[end] != '\n' && p[end] != JOURNAL_RS)
		end++;
	const char *why = NULL;
	size_t used = end;
	if (end == lim && avail > JOURNAL_PAYLOAD_MAX) {
		s->legacy = false; /* too long for a line: garbage up to the next record */
		return garbage(s, p, avail, at);
	}
	if (end == lim) {
		if (!eof)
			return 0;
		why = "incomplete old-format line (cut off at the end of the file)";
	} else if (p[end] == JOURNAL_RS) {
		why = "incomplete old-format line";
	} else {
		used = end + 1;
		if (!deliver(s, p, end, true))
			why = "bad old-format line";
	}
	if (why && s->bad)
		s->bad(s->arg, at, used, why);
	return used;
}

size_t journal_scan(struct journal_scan *s, const char *buf, size_t len, bool eof)
{
	size_t pos = 0;
	if (!s->started && len) {
		s->started = true;
		s->legacy = buf[0] != JOURNAL_RS;
	}
	while (pos < len && !s->stopped) {
		unsigned long long at = s->offset + pos;
		size_t step;
		if (buf[pos] == JOURNAL_RS) {
			bad_end(s, at);
			s->legacy = false;
			step = one_record(s, buf + pos, len - pos, eof, at);
		} else if (s->legacy) {
			step = one_line(s, buf + pos, len - pos, eof, at);
		} else {
			step = garbage(s, buf + pos, len - pos, at);
		}
		if (!step)
			break;
		pos += step;
	}
	if (eof && !s->stopped && pos == len)
		bad_end(s, s->offset + pos);
	s->offset += pos;
	return pos;
}
