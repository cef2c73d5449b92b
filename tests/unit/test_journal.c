/* test_journal.c - unit tests for ircd/journal.c: the history journal's framing. A record
 * survives a round trip with every byte the escaping must handle; a torn tail, a flipped
 * byte or garbage is reported once and skipped, and the records after it are still found;
 * no text inside a record can pass for a record; old-format journals are read line by
 * line; feeding the decoder in pieces gives the same result as in one go. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"

#define NF 3

/* What a scan found: records joined as "f0|f1|f2" lines (NULL as "<null>") and the bad
 * stretches as "offset+len:why" lines. */
struct found {
	char records[8192];
	char bad[4096];
	int nrecords, nbad;
	int stop_after; /* stop the scan after this many records (0: never) */
};

static bool on_record(void *arg, char **fields, int n)
{
	struct found *f = arg;
	for (int i = 0; i < n; i++) {
		strcat(f->records, i ? "|" : "");
		char big[32];
		snprintf(big, sizeof big, "<%zu bytes>", fields[i] ? strlen(fields[i]) : 0);
		strcat(f->records, !fields[i] ? "<null>" : strlen(fields[i]) > 100 ? big : fields[i]);
	}
	strcat(f->records, "\n");
	f->nrecords++;
	return !(f->stop_after && f->nrecords == f->stop_after);
}

static void on_bad(void *arg, unsigned long long offset, size_t len, const char *why)
{
	struct found *f = arg;
	char line[128];
	snprintf(line, sizeof line, "%llu+%zu:%s\n", offset, len, why);
	strcat(f->bad, line);
	f->nbad++;
}

static struct journal_scan scanner; /* 64 KiB: not on the stack */

/* Decodes data in one call. */
static void scan_all(const char *data, size_t len, struct found *f)
{
	journal_scan_init(&scanner, NF, on_record, on_bad, f);
	size_t used = journal_scan(&scanner, data, len, true);
	if (!f->stop_after)
		assert_int_equal(used, len);
}

/* Decodes data as a reader of a file does: pieces of chunk bytes appended behind what the
 * previous call left unconsumed. */
static void scan_pieces(const char *data, size_t len, size_t chunk, struct found *f)
{
	journal_scan_init(&scanner, NF, on_record, on_bad, f);
	char *held = malloc(len + 1);
	size_t nheld = 0, fed = 0;
	for (;;) {
		size_t take = len - fed < chunk ? len - fed : chunk;
		memcpy(held + nheld, data + fed, take);
		nheld += take;
		fed += take;
		bool eof = fed == len;
		size_t used = journal_scan(&scanner, held, nheld, eof);
		memmove(held, held + used, nheld - used);
		nheld -= used;
		if (eof) {
			assert_int_equal(nheld, 0);
			break;
		}
	}
	free(held);
}

static void add(struct journal_buf *b, const char *a, const char *c, const char *d)
{
	const char *fields[NF] = {a, c, d};
	assert_true(journal_encode(b, fields, NF));
}

/* Appends len raw bytes to b (garbage, an old-format journal). */
static void raw(struct journal_buf *b, const char *bytes, size_t len)
{
	b->data = realloc(b->data, b->len + len + 4096);
	b->cap = b->len + len + 4096;
	memcpy(b->data + b->len, bytes, len);
	b->len += len;
}

/* Three records: "1|one|x", "2|two|y", "3|three|z". Returns the offsets where each begins. */
static void three(struct journal_buf *b, size_t at[4])
{
	at[0] = b->len;
	add(b, "1", "one", "x");
	at[1] = b->len;
	add(b, "2", "two", "y");
	at[2] = b->len;
	add(b, "3", "three", "z");
	at[3] = b->len;
}

static void test_crc32(void **state)
{
	(void)state;
	assert_int_equal(journal_crc32("123456789", 9), 0xcbf43926u);
	assert_int_equal(journal_crc32("", 0), 0);
	assert_int_equal(journal_crc32("a", 1), 0xe8b7be43u);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct journal_buf b = {0};
	char rs[] = {'a', JOURNAL_RS, 'b', 0};
	add(&b, "tab\there", "nl\nand\rcr", "back\\slash");
	add(&b, NULL, "", "\\N");
	add(&b, rs, "\\", "\\\\N\t");
	struct found f = {0};
	scan_all(b.data, b.len, &f);
	char want[256];
	snprintf(want, sizeof want, "tab\there|nl\nand\rcr|back\\slash\n<null>||\\N\n%s|\\|\\\\N\t\n", rs);
	assert_string_equal(f.records, want);
	assert_int_equal(f.nbad, 0);
	/* the only RS bytes in the file are the three record starts */
	int nrs = 0;
	for (size_t i = 0; i < b.len; i++)
		nrs += b.data[i] == JOURNAL_RS;
	assert_int_equal(nrs, 3);
	/* a record is one line of text */
	assert_int_equal(b.data[b.len - 1], '\n');
	assert_memory_equal(b.data, "\x1ePJ1 ", 5);
	journal_buf_free(&b);
}

static void test_encode_limits(void **state)
{
	(void)state;
	struct journal_buf b = {0};
	char *big = malloc(JOURNAL_PAYLOAD_MAX + 1);
	memset(big, 'x', JOURNAL_PAYLOAD_MAX);
	big[JOURNAL_PAYLOAD_MAX] = '\0';
	const char *fields[NF] = {"1", big, "z"};
	assert_false(journal_encode(&b, fields, NF)); /* too long: refused, nothing written */
	assert_int_equal(b.len, 0);
	big[JOURNAL_PAYLOAD_MAX - 4] = '\0'; /* exactly the maximum with two tabs and "1", "z" */
	assert_true(journal_encode(&b, fields, NF));
	struct found *f = calloc(1, sizeof *f);
	journal_scan_init(&scanner, NF, on_record, on_bad, f);
	assert_int_equal(journal_scan(&scanner, b.data, b.len, true), b.len);
	char want[64];
	snprintf(want, sizeof want, "1|<%d bytes>|z\n", JOURNAL_PAYLOAD_MAX - 4);
	assert_string_equal(f->records, want);
	assert_int_equal(f->nbad, 0);
	const char *many[JOURNAL_FIELDS_MAX + 1] = {0};
	assert_false(journal_encode(&b, many, JOURNAL_FIELDS_MAX + 1));
	free(f);
	free(big);
	journal_buf_free(&b);
}

/* Cut anywhere inside the last record (a failed append, ENOSPC): the others are found,
 * the torn one is reported once and never delivered, whatever the cut. */
static void test_torn_tail(void **state)
{
	(void)state;
	struct journal_buf b = {0};
	size_t at[4];
	three(&b, at);
	for (size_t cut = at[2] + 1; cut < at[3]; cut++) {
		struct found f = {0};
		scan_all(b.data, cut, &f);
		assert_string_equal(f.records, "1|one|x\n2|two|y\n");
		char want[64];
		snprintf(want, sizeof want, "%zu+%zu:incomplete (cut off at the end of the file)\n", at[2], cut - at[2]);
		assert_string_equal(f.bad, want);
	}
	journal_buf_free(&b);
}

/* A torn record followed by records appended later (the disk had room again): the torn
 * one is skipped, the later ones found. */
static void test_torn_then_appended(void **state)
{
	(void)state;
	struct journal_buf b = {0};
	size_t at[4];
	three(&b, at);
	for (size_t cut = at[1] + 1; cut < at[2]; cut++) {
		struct journal_buf t = {0};
		add(&t, "1", "one", "x");
		t.len = cut; /* keep the first record and part of the second */
		memcpy(t.data, b.data, cut);
		add(&t, "4", "four", "w");
		struct found f = {0};
		scan_all(t.data, t.len, &f);
		assert_string_equal(f.records, "1|one|x\n4|four|w\n");
		assert_int_equal(f.nbad, 1);
		journal_buf_free(&t);
	}
	journal_buf_free(&b);
}

/* Any single byte of the middle record changed: it is reported once and skipped, the
 * records around it are found. */
static void test_flipped_byte(void **state)
{
	(void)state;
	struct journal_buf b = {0};
	size_t at[4];
	three(&b, at);
	for (size_t i = at[1]; i < at[2]; i++) {
		for (int bit = 0; bit < 8; bit++) {
			char saved = b.data[i];
			b.data[i] ^= (char)(1 << bit);
			struct found f = {0};
			scan_all(b.data, b.len, &f);
			assert_string_equal(f.records, "1|one|x\n3|three|z\n");
			assert_int_equal(f.nbad, 1);
			b.data[i] = saved;
		}
	}
	journal_buf_free(&b);
}

/* Garbage between records, including a fake header: one report per stretch, every good
 * record found. */
static void test_resync_after_garbage(void **state)
{
	(void)state;
	struct journal_buf b = {0};
	add(&b, "1", "one", "x");
	size_t g1 = b.len;
	const char junk1[] = "\0\1\2 some junk\n";
	raw(&b, junk1, sizeof junk1 - 1);
	add(&b, "2", "two", "y");
	size_t g2 = b.len;
	const char junk2[] = "\x1ePJ1 00000005 00000000 2\tx\ty\n\x1ePJ1 zz";
	raw(&b, junk2, sizeof junk2 - 1);
	size_t g3 = b.len - 7;
	add(&b, "3", "three", "z");
	struct found f = {0};
	scan_all(b.data, b.len, &f);
	assert_string_equal(f.records, "1|one|x\n2|two|y\n3|three|z\n");
	char want[256];
	snprintf(want, sizeof want, "%zu+%zu:garbage\n%zu+%zu:checksum mismatch\n%zu+7:bad header\n", g1,
	         sizeof junk1 - 1, g2, g3 - g2, g3);
	assert_string_equal(f.bad, want);
	journal_buf_free(&b);
}

/* A message whose text is a whole encoded record: it stays text. Even if the record
 * holding it is torn, the decoder cannot resynchronise into the text. */
static void test_no_forged_record(void **state)
{
	(void)state;
	struct journal_buf inner = {0};
	add(&inner, "666", "forged", "record");
	char *text = calloc(1, inner.len + 1);
	memcpy(text, inner.data, inner.len);
	struct journal_buf b = {0};
	size_t start = b.len;
	add(&b, "1", text, "x");
	size_t end = b.len;
	struct found f = {0};
	scan_all(b.data, b.len, &f);
	assert_int_equal(f.nrecords, 1);
	assert_non_null(strstr(f.records, "forged"));
	for (size_t cut = start + 1; cut < end; cut++) {
		struct found t = {0};
		scan_all(b.data, cut, &t);
		assert_int_equal(t.nrecords, 0);
		assert_int_equal(t.nbad, 1);
	}
	free(text);
	journal_buf_free(&inner);
	journal_buf_free(&b);
}

/* Feeding the decoder a piece at a time finds the same records and bad stretches as
 * feeding it everything at once. */
static void test_pieces(void **state)
{
	(void)state;
	struct journal_buf b = {0};
	size_t at[4];
	three(&b, at);
	b.data[at[1] + 30] ^= 1; /* corrupt the second */
	raw(&b, "junk", 4);
	add(&b, "4", "four", "w");
	b.len -= 3; /* and tear the last */
	struct found whole = {0};
	scan_all(b.data, b.len, &whole);
	assert_string_equal(whole.records, "1|one|x\n3|three|z\n");
	assert_int_equal(whole.nbad, 3);
	for (size_t chunk = 1; chunk < 40; chunk++) {
		struct found f = {0};
		scan_pieces(b.data, b.len, chunk, &f);
		assert_string_equal(f.records, whole.records);
		assert_string_equal(f.bad, whole.bad);
	}
	journal_buf_free(&b);
}

/* The callback can stop the scan (the database failed again during a replay). */
static void test_stop(void **state)
{
	(void)state;
	struct journal_buf b = {0};
	size_t at[4];
	three(&b, at);
	struct found f = {.stop_after = 2};
	scan_all(b.data, b.len, &f);
	assert_string_equal(f.records, "1|one|x\n2|two|y\n");
	journal_buf_free(&b);
}

/* A journal of the previous version: lines of tab-separated fields. Complete lines are
 * records; a torn last line is skipped; records this version appended after it are found. */
static void test_old_format(void **state)
{
	(void)state;
	const char old[] = "1\tone\\tand\\\\\t\\N\n2\ttoo\tfew\tfields\n3\tthree\tz\n4\ttor";
	struct found f = {0};
	scan_all(old, sizeof old - 1, &f);
	assert_string_equal(f.records, "1|one\tand\\|<null>\n3|three|z\n");
	char want[256];
	snprintf(want, sizeof want, "16+17:bad old-format line\n%zu+5:incomplete old-format line (cut off at the end of the file)\n",
	         sizeof old - 1 - 5);
	assert_string_equal(f.bad, want);

	struct journal_buf b = {0};
	raw(&b, old, sizeof old - 1);
	add(&b, "5", "five", "v");
	struct found g = {0};
	scan_all(b.data, b.len, &g);
	assert_string_equal(g.records, "1|one\tand\\|<null>\n3|three|z\n5|five|v\n");
	assert_int_equal(g.nbad, 2);
	assert_non_null(strstr(g.bad, "incomplete old-format line\n"));
	journal_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32),          cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_encode_limits),  cmocka_unit_test(test_torn_tail),
	    cmocka_unit_test(test_torn_then_appended), cmocka_unit_test(test_flipped_byte),
	    cmocka_unit_test(test_resync_after_garbage), cmocka_unit_test(test_no_forged_record),
	    cmocka_unit_test(test_pieces),         cmocka_unit_test(test_stop),
	    cmocka_unit_test(test_old_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
