/* journal.c - the history journal's record format (see journal.h): encoding records of
 * text fields, and a pure streaming decoder that checks each record's length and CRC,
 * reports every bad stretch once and resumes at the next record. The file I/O is the
 * caller's (history_store.c); the fuzz target drives the decoder directly. */
#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- CRC-32 ---- */

/* The byte table of the reflected IEEE polynomial 0xedb88320, written out: no start-up
 * initialisation to share between threads, and zlib is not a dependency. */
static const uint32_t crc_table[256] = {
    0x00000000, 0x77073096, 0xee0e612c, 0x990951ba, 0x076dc419, 0x706af48f,
    0xe963a535, 0x9e6495a3, 0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988,
    0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91, 0x1db71064, 0x6ab020f2,
    0xf3b97148, 0x84be41de, 0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
    0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec, 0x14015c4f, 0x63066cd9,
    0xfa0f3d63, 0x8d080df5, 0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172,
    0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b, 0x35b5a8fa, 0x42b2986c,
    0xdbbbc9d6, 0xacbcf940, 0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
    0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116, 0x21b4f4b5, 0x56b3c423,
    0xcfba9599, 0xb8bda50f, 0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924,
    0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d, 0x76dc4190, 0x01db7106,
    0x98d220bc, 0xefd5102a, 0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
    0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818, 0x7f6a0dbb, 0x086d3d2d,
    0x91646c97, 0xe6635c01, 0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
    0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457, 0x65b0d9c6, 0x12b7e950,
    0x8bbeb8ea, 0xfcb9887c, 0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
    0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2, 0x4adfa541, 0x3dd895d7,
    0xa4d1c46d, 0xd3d6f4fb, 0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0,
    0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9, 0x5005713c, 0x270241aa,
    0xbe0b1010, 0xc90c2086, 0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
    0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4, 0x59b33d17, 0x2eb40d81,
    0xb7bd5c3b, 0xc0ba6cad, 0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a,
    0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683, 0xe3630b12, 0x94643b84,
    0x0d6d6a3e, 0x7a6a5aa8, 0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
    0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe, 0xf762575d, 0x806567cb,
    0x196c3671, 0x6e6b06e7, 0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc,
    0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5, 0xd6d6a3e8, 0xa1d1937e,
    0x38d8c2c4, 0x4fdff252, 0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
    0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60, 0xdf60efc3, 0xa867df55,
    0x316e8eef, 0x4669be79, 0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236,
    0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f, 0xc5ba3bbe, 0xb2bd0b28,
    0x2bb45a92, 0x5cb36a04, 0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
    0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a, 0x9c0906a9, 0xeb0e363f,
    0x72076785, 0x05005713, 0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38,
    0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21, 0x86d3d2d4, 0xf1d4e242,
    0x68ddb3f8, 0x1fda836e, 0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
    0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c, 0x8f659eff, 0xf862ae69,
    0x616bffd3, 0x166ccf45, 0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2,
    0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db, 0xaed16a4a, 0xd9d65adc,
    0x40df0b66, 0x37d83bf0, 0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
    0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6, 0xbad03605, 0xcdd70693,
    0x54de5729, 0x23d967bf, 0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
    0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};

uint32_t journal_crc32(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < len; i++)
		crc = (crc >> 8) ^ crc_table[(crc ^ b[i]) & 0xff];
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
