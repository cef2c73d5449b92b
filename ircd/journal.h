/* journal.h - the on-disk format of the history journal: framed records of text fields,
 * and a decoder that finds every intact record in a damaged file.
 *
 * A record is
 *
 *     RS "PJ1 " LEN " " CRC " " PAYLOAD "\n"
 *
 * RS is the byte 0x1e; LEN is the payload's length in bytes and CRC its CRC-32 (the
 * IEEE polynomial of zlib and PNG), each as 8 lowercase hex digits. The payload is the
 * fields separated by tabs; inside a field backslash, tab, LF, CR and RS are written
 * \\ \t \n \r \e, and a field that is NULL is written \N. So an RS byte appears only where
 * a record begins: a record torn by a failed write (ENOSPC, a crash), a flipped byte or
 * garbage fails its length or CRC check, and the decoder resumes at the next RS. No
 * message text can pass for a record, because no text puts a raw RS in the file.
 *
 * Journals written before this format (one line per row, fields separated by tabs, the
 * same escapes without \e) start with a digit, not RS: the decoder reads such a file's
 * lines as records until the first RS, accepting only complete lines (ending in LF) with
 * the expected number of fields, so a torn last line is skipped, never stored. */
#ifndef PARLEY_JOURNAL_H
#define PARLEY_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOURNAL_RS 0x1e
#define JOURNAL_HEADER_LEN 23      /* RS "PJ1 " 8 hex " " 8 hex " " */
#define JOURNAL_PAYLOAD_MAX 65536  /* a history row is at most ~20 KiB escaped */
#define JOURNAL_FIELDS_MAX 16
#define JOURNAL_RECORD_MAX (JOURNAL_HEADER_LEN + JOURNAL_PAYLOAD_MAX + 1)

/* The CRC-32 of len bytes of p (crc32("123456789") == 0xcbf43926). Pure. */
uint32_t journal_crc32(const void *p, size_t len);

/* A growable byte buffer for journal_encode. */
struct journal_buf {
	char *data;
	size_t len, cap;
};

/* Appends one record holding fields[0..n-1] (a NULL field stands for SQL NULL) to b.
 * Returns false, with b unchanged, if n > JOURNAL_FIELDS_MAX or the payload would exceed
 * JOURNAL_PAYLOAD_MAX. Aborts when out of memory. */
bool journal_encode(struct journal_buf *b, const char *const *fields, int n);

/* Frees b's data and empties it. */
void journal_buf_free(struct journal_buf *b);

/* Called for each intact record: fields[0..n-1] (NULL for SQL NULL) point into the
 * scanner's scratch space and are valid until the callback returns. Return true to go
 * on, false to stop the scan (journal_scan then consumes nothing more). */
typedef bool (*journal_record_fn)(void *arg, char **fields, int n);

/* Called once for each bad stretch of the file, in order: one damaged record (from its
 * RS to the next RS) or a run of garbage or one bad old-format line. offset is the file
 * offset where it starts, len its length, why a short reason ("torn", "checksum
 * mismatch", ...). */
typedef void (*journal_bad_fn)(void *arg, unsigned long long offset, size_t len, const char *why);

/* A streaming decoder: feed it the file in pieces with journal_scan. Set the public
 * fields, zero the rest (journal_scan_init does both). */
struct journal_scan {
	int nfields; /* records with another number of fields are bad */
	journal_record_fn record;
	journal_bad_fn bad; /* may be NULL */
	void *arg;
	/* private */
	unsigned long long offset; /* file offset of the first byte of the next piece */
	bool started, legacy, stopped, in_bad;
	unsigned long long bad_at;
	const char *bad_why;
	char scratch[JOURNAL_PAYLOAD_MAX + 1];
};

/* Prepares s (typically heap-allocated or static: it holds a 64 KiB scratch buffer). */
void journal_scan_init(struct journal_scan *s, int nfields, journal_record_fn record, journal_bad_fn bad, void *arg);

/* Decodes buf[0..len), the file's bytes from s's current offset on, calling back for each
 * intact record and each bad stretch. Returns how many bytes it consumed: the caller
 * passes the rest again, followed by more of the file, on the next call. A record not
 * yet complete is left unconsumed unless eof is true (then it is torn). With eof every
 * byte is consumed, unless a callback stopped the scan. A caller that keeps at least
 * JOURNAL_RECORD_MAX bytes of the file in each call always makes progress. Pure: no I/O,
 * no allocation. */
size_t journal_scan(struct journal_scan *s, const char *buf, size_t len, bool eof);

#endif
