/* fuzz_journal.c - the history journal decoder (ircd/journal.c). The input is a journal
 * file. The decoder must never crash or read out of bounds; it must find the same
 * records and the same bad stretches whether it gets the file in one piece or in small
 * pieces (as history_store.c reads it); bad stretches must be reported in order, inside
 * the file, without overlap; and every record it delivers must survive encode -> decode
 * unchanged. */
#include "fuzz.h"
#include "journal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NFIELDS 10 /* a history row */

/* What one decoding found, folded into a few numbers. */
struct seen {
	uint64_t hash; /* FNV-1a over every field of every record, and every bad stretch */
	unsigned records, bad;
	unsigned long long bad_end; /* end of the last bad stretch */
	size_t size;                /* the input's length */
	bool round_trip;            /* re-encode and decode each record */
};

static void mix(struct seen *s, const void *p, size_t len)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++)
		s->hash = (s->hash ^ b[i]) * 1099511628211ull;
}

static struct journal_scan inner; /* for the round trip */
static char *again[NFIELDS];
static bool matched;

static bool compare(void *arg, char **fields, int n)
{
	(void)arg;
	CHECK(n == NFIELDS);
	for (int i = 0; i < n; i++) {
		CHECK((fields[i] == NULL) == (again[i] == NULL));
		CHECK(!fields[i] || strcmp(fields[i], again[i]) == 0);
	}
	matched = true;
	return true;
}

static void no_bad(void *arg, unsigned long long offset, size_t len, const char *why)
{
	(void)arg;
	(void)offset;
	(void)len;
	fprintf(stderr, "re-encoded record reported bad: %s\n", why);
	abort();
}

static bool on_record(void *arg, char **fields, int n)
{
	struct seen *s = arg;
	CHECK(n == NFIELDS);
	s->records++;
	for (int i = 0; i < n; i++) {
		if (fields[i])
			mix(s, fields[i], strlen(fields[i]) + 1);
		else
			mix(s, "\xff", 1);
	}
	if (s->round_trip) {
		struct journal_buf b = {0};
		CHECK(journal_encode(&b, (const char *const *)fields, n));
		CHECK(b.data[0] == JOURNAL_RS && b.data[b.len - 1] == '\n');
		CHECK(memchr(b.data + 1, JOURNAL_RS, b.len - 1) == NULL); /* RS only where a record begins */
		for (int i = 0; i < n; i++)
			again[i] = fields[i];
		matched = false;
		journal_scan_init(&inner, NFIELDS, compare, no_bad, NULL);
		CHECK(journal_scan(&inner, b.data, b.len, true) == b.len);
		CHECK(matched);
		journal_buf_free(&b);
	}
	return true;
}

static void on_bad(void *arg, unsigned long long offset, size_t len, const char *why)
{
	struct seen *s = arg;
	CHECK(len > 0 && why && why[0]);
	CHECK(offset >= s->bad_end);       /* in order, no overlap */
	CHECK(offset + len <= s->size);    /* inside the file */
	s->bad_end = offset + len;
	s->bad++;
	mix(s, &offset, sizeof offset);
	mix(s, &len, sizeof len);
	mix(s, why, strlen(why));
}

static struct journal_scan scan;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;

	struct seen whole = {.hash = 14695981039346656037ull, .size = size, .round_trip = true};
	journal_scan_init(&scan, NFIELDS, on_record, on_bad, &whole);
	CHECK(journal_scan(&scan, in, size, true) == size);

	/* the same file in pieces of 1..64 bytes, each call given what the last one left */
	size_t chunk = size ? 1 + data[size - 1] % 64 : 1;
	struct seen pieces = {.hash = 14695981039346656037ull, .size = size};
	journal_scan_init(&scan, NFIELDS, on_record, on_bad, &pieces);
	char *held = malloc(size + 1);
	CHECK(held);
	size_t nheld = 0, fed = 0;
	for (;;) {
		size_t take = size - fed < chunk ? size - fed : chunk;
		memcpy(held + nheld, in + fed, take);
		nheld += take;
		fed += take;
		bool eof = fed == size;
		size_t used = journal_scan(&scan, held, nheld, eof);
		CHECK(used <= nheld);
		memmove(held, held + used, nheld - used);
		nheld -= used;
		if (eof)
			break;
	}
	CHECK(nheld == 0);
	free(held);
	CHECK(pieces.records == whole.records && pieces.bad == whole.bad && pieces.hash == whole.hash);
	return 0;
}
