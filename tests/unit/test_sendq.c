/* test_sendq.c - unit tests for ircd/msgbuf.c and ircd/sendq.c: shared, reference
 * counted lines and the per-connection queue of them. Run under ASan (make asan) to
 * check that every buffer and ring is freed exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgbuf.h"
#include "sendq.h"

static struct msgbuf *buf(const char *s) { return msgbuf_new(s, strlen(s)); }

/* Concatenates what sendq_iov reports (at most max iovecs) into out. */
static size_t gather(const struct sendq *q, int max, char *out, size_t size)
{
	struct iovec iov[64];
	assert_true(max <= 64);
	int n = sendq_iov(q, iov, max);
	assert_true(n >= 0 && n <= max);
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		assert_true(iov[i].iov_len > 0);
		assert_true(len + iov[i].iov_len <= size);
		memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	return len;
}

/* ---- msgbuf ---- */

static void test_msgbuf_new_copies(void **state)
{
	(void)state;
	char src[] = "PING :x\r\n";
	struct msgbuf *b = msgbuf_new(src, strlen(src));
	assert_non_null(b);
	assert_int_equal(b->refs, 1);
	assert_int_equal(b->len, 9);
	src[0] = 'Q';
	assert_memory_equal(b->data, "PING :x\r\n", 9);
	assert_int_equal(b->data[9], '\0'); /* terminated for convenience */
	msgbuf_unref(b);

	/* only len bytes are copied */
	b = msgbuf_new("abcdef", 3);
	assert_int_equal(b->len, 3);
	assert_string_equal(b->data, "abc");
	msgbuf_unref(b);

	b = msgbuf_new("", 0);
	assert_int_equal(b->len, 0);
	assert_string_equal(b->data, "");
	msgbuf_unref(b);
}

static void test_msgbuf_refcount(void **state)
{
	(void)state;
	struct msgbuf *b = buf("hello\r\n");
	assert_ptr_equal(msgbuf_ref(b), b);
	assert_ptr_equal(msgbuf_ref(b), b);
	assert_int_equal(b->refs, 3);
	msgbuf_unref(b);
	assert_int_equal(b->refs, 2);
	assert_memory_equal(b->data, "hello\r\n", 7);
	msgbuf_unref(b);
	assert_int_equal(b->refs, 1);
	msgbuf_unref(b); /* freed here; ASan reports a leak otherwise */
	msgbuf_unref(NULL);
}

/* ---- sendq ---- */

static void test_sendq_empty(void **state)
{
	(void)state;
	struct sendq q = {0};
	struct iovec iov[4];
	assert_int_equal(sendq_iov(&q, iov, 4), 0);
	sendq_consume(&q, 0);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(q.count, 0);
	sendq_clear(&q);
	assert_null(q.ring);
}

static void test_sendq_push_shared(void **state)
{
	(void)state;
	struct sendq q1 = {0}, q2 = {0}, q3 = {0};
	struct msgbuf *b = buf(":n!u@h PRIVMSG #c :hi\r\n");
	sendq_push(&q1, b);
	sendq_push(&q2, b);
	sendq_push(&q3, b);
	assert_int_equal(b->refs, 4);
	assert_int_equal(q1.bytes, b->len);
	assert_int_equal(q2.bytes, b->len);

	/* every queue points at the same bytes, not a copy */
	struct iovec iov[2];
	assert_int_equal(sendq_iov(&q2, iov, 2), 1);
	assert_ptr_equal(iov[0].iov_base, b->data);
	assert_int_equal(iov[0].iov_len, b->len);

	sendq_consume(&q1, b->len);
	assert_int_equal(b->refs, 3);
	assert_int_equal(q1.count, 0);
	assert_int_equal(q1.bytes, 0);
	sendq_clear(&q2);
	assert_int_equal(b->refs, 2);
	assert_int_equal(q2.count, 0);
	assert_int_equal(q2.bytes, 0);
	assert_null(q2.ring);

	/* the caller's reference is independent of the queue's */
	msgbuf_unref(b);
	assert_int_equal(q3.count, 1);
	struct msgbuf *head = (struct msgbuf *)q3.ring[q3.head]; /* a plain entry: no tag bit */
	assert_int_equal(head->refs, 1);
	assert_memory_equal(head->data, ":n!u@h PRIVMSG #c :hi\r\n", 23);
	sendq_clear(&q3); /* last reference: freed */
	sendq_clear(&q1);
}

static void test_sendq_same_buffer_twice(void **state)
{
	(void)state;
	struct sendq q = {0};
	struct msgbuf *b = buf("x\r\n");
	sendq_push(&q, b);
	sendq_push(&q, b);
	assert_int_equal(b->refs, 3);
	assert_int_equal(q.bytes, 6);
	char out[16];
	assert_int_equal(gather(&q, 8, out, sizeof out), 6);
	assert_memory_equal(out, "x\r\nx\r\n", 6);
	sendq_consume(&q, 4);
	assert_int_equal(b->refs, 2);
	assert_int_equal(q.bytes, 2);
	sendq_consume(&q, 2);
	assert_int_equal(b->refs, 1);
	msgbuf_unref(b);
	sendq_clear(&q);
}

static void test_sendq_iov_fill(void **state)
{
	(void)state;
	struct sendq q = {0};
	const char *lines[] = {"one\r\n", "second\r\n", "third line\r\n", "4\r\n"};
	struct msgbuf *b[4];
	size_t total = 0;
	for (int i = 0; i < 4; i++) {
		b[i] = buf(lines[i]);
		sendq_push(&q, b[i]);
		msgbuf_unref(b[i]); /* the queue holds the only reference now */
		total += strlen(lines[i]);
		assert_int_equal(q.bytes, total);
		assert_int_equal(q.count, (unsigned)i + 1);
	}

	struct iovec iov[8];
	assert_int_equal(sendq_iov(&q, iov, 8), 4);
	for (int i = 0; i < 4; i++) {
		assert_ptr_equal(iov[i].iov_base, b[i]->data);
		assert_int_equal(iov[i].iov_len, strlen(lines[i]));
	}

	/* fewer iovecs than buffers: the oldest ones */
	memset(iov, 0, sizeof iov);
	assert_int_equal(sendq_iov(&q, iov, 2), 2);
	assert_ptr_equal(iov[0].iov_base, b[0]->data);
	assert_ptr_equal(iov[1].iov_base, b[1]->data);
	assert_null(iov[2].iov_base); /* untouched beyond max */

	assert_int_equal(sendq_iov(&q, iov, 0), 0);

	/* sendq_iov does not consume */
	assert_int_equal(q.bytes, total);
	assert_int_equal(q.count, 4);
	sendq_clear(&q);
}

static void test_sendq_partial_consume(void **state)
{
	(void)state;
	struct sendq q = {0};
	struct msgbuf *a = buf("AAAAA"), *b = buf("BBBBBBB"), *c = buf("CCC");
	sendq_push(&q, a);
	sendq_push(&q, b);
	sendq_push(&q, c);
	assert_int_equal(q.bytes, 15);

	struct iovec iov[4];
	/* inside the first buffer */
	sendq_consume(&q, 3);
	assert_int_equal(q.bytes, 12);
	assert_int_equal(q.count, 3);
	assert_int_equal(a->refs, 2);
	assert_int_equal(sendq_iov(&q, iov, 4), 3);
	assert_ptr_equal(iov[0].iov_base, a->data + 3);
	assert_int_equal(iov[0].iov_len, 2);
	assert_ptr_equal(iov[1].iov_base, b->data);
	assert_int_equal(iov[1].iov_len, 7);

	/* across the boundary: rest of a and 4 bytes of b */
	sendq_consume(&q, 6);
	assert_int_equal(q.bytes, 6);
	assert_int_equal(q.count, 2);
	assert_int_equal(a->refs, 1); /* the queue dropped its reference */
	assert_int_equal(b->refs, 2);
	assert_int_equal(sendq_iov(&q, iov, 4), 2);
	assert_ptr_equal(iov[0].iov_base, b->data + 4);
	assert_int_equal(iov[0].iov_len, 3);
	assert_ptr_equal(iov[1].iov_base, c->data);
	assert_int_equal(iov[1].iov_len, 3);

	/* exactly to the end of b: offset resets */
	sendq_consume(&q, 3);
	assert_int_equal(q.bytes, 3);
	assert_int_equal(q.count, 1);
	assert_int_equal(q.offset, 0);
	assert_int_equal(b->refs, 1);
	assert_int_equal(sendq_iov(&q, iov, 4), 1);
	assert_ptr_equal(iov[0].iov_base, c->data);
	assert_int_equal(iov[0].iov_len, 3);

	/* zero bytes is a no-op */
	sendq_consume(&q, 0);
	assert_int_equal(q.bytes, 3);
	assert_int_equal(q.count, 1);

	sendq_consume(&q, 3);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(q.count, 0);
	assert_int_equal(q.offset, 0);
	assert_int_equal(c->refs, 1);
	assert_int_equal(sendq_iov(&q, iov, 4), 0);

	/* the queue is reusable after draining */
	sendq_push(&q, a);
	assert_int_equal(q.bytes, 5);
	assert_int_equal(sendq_iov(&q, iov, 4), 1);
	assert_ptr_equal(iov[0].iov_base, a->data);
	assert_int_equal(iov[0].iov_len, 5);

	sendq_clear(&q);
	assert_int_equal(a->refs, 1);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(q.count, 0);
	assert_int_equal(q.offset, 0);
	msgbuf_unref(a);
	msgbuf_unref(b);
	msgbuf_unref(c);
}

static void test_sendq_consume_several_whole(void **state)
{
	(void)state;
	struct sendq q = {0};
	struct msgbuf *bs[5];
	for (int i = 0; i < 5; i++) {
		char line[32];
		snprintf(line, sizeof line, "line%d\r\n", i);
		bs[i] = buf(line);
		sendq_push(&q, bs[i]);
	}
	assert_int_equal(q.bytes, 35);
	/* three whole buffers and one byte of the fourth at once */
	sendq_consume(&q, 22);
	assert_int_equal(q.count, 2);
	assert_int_equal(q.bytes, 13);
	for (int i = 0; i < 3; i++)
		assert_int_equal(bs[i]->refs, 1);
	assert_int_equal(bs[3]->refs, 2);
	char out[64];
	size_t n = gather(&q, 8, out, sizeof out);
	assert_int_equal(n, 13);
	assert_memory_equal(out, "ine3\r\nline4\r\n", 13);
	sendq_clear(&q);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(bs[i]->refs, 1);
		msgbuf_unref(bs[i]);
	}
}

/* A queue that drains gives its ring back (idle connections hold none), and the next
 * push starts a fresh one. */
static void test_sendq_drained_frees_ring(void **state)
{
	(void)state;
	struct sendq q = {0};
	struct msgbuf *b = msgbuf_new("hello\r\n", 7);
	for (int i = 0; i < 40; i++)
		sendq_push(&q, b);
	assert_int_equal(q.cap, 64);
	sendq_consume(&q, 7 * 39 + 3);
	assert_non_null(q.ring);
	assert_int_equal(q.count, 1);
	assert_int_equal(q.offset, 3);
	sendq_consume(&q, 4);
	assert_null(q.ring);
	assert_int_equal(q.cap, 0);
	assert_int_equal(q.count, 0);
	assert_int_equal(q.offset, 0);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(b->refs, 1);
	sendq_push(&q, b);
	assert_int_equal(q.cap, 16);
	char out[16];
	assert_int_equal(gather(&q, 4, out, sizeof out), 7);
	assert_memory_equal(out, "hello\r\n", 7);
	sendq_clear(&q);
	assert_int_equal(b->refs, 1);
	msgbuf_unref(b);
}

/* Many pushes with consumption in between: the ring wraps and then grows while
 * wrapped; the byte stream must come out in order and complete. */
static void test_sendq_ring_wrap_and_growth(void **state)
{
	(void)state;
	struct sendq q = {0};
	char *expect = malloc(1 << 16);
	assert_non_null(expect);
	size_t elen = 0, sent = 0;
	int next = 0;

	/* fill 12, send 10, then push 30 more: wraps (cap 16) and then grows */
	for (int round = 0; round < 3; round++) {
		int pushes = round == 0 ? 12 : 30;
		for (int i = 0; i < pushes; i++, next++) {
			char line[32];
			int len = snprintf(line, sizeof line, "msg %d\r\n", next);
			struct msgbuf *b = msgbuf_new(line, (size_t)len);
			sendq_push(&q, b);
			msgbuf_unref(b);
			memcpy(expect + elen, line, (size_t)len);
			elen += (size_t)len;
		}
		assert_int_equal(q.bytes, elen - sent);

		char out[4096];
		size_t n = gather(&q, 64, out, sizeof out);
		assert_true(q.count <= 64);
		assert_int_equal(n, elen - sent);
		assert_memory_equal(out, expect + sent, n);

		/* consume roughly two thirds in uneven chunks */
		size_t target = sent + (elen - sent) * 2 / 3;
		size_t step = 5;
		while (sent < target) {
			size_t k = step < target - sent ? step : target - sent;
			sendq_consume(&q, k);
			sent += k;
			step = step * 3 % 17 + 1;
			assert_int_equal(q.bytes, elen - sent);
			n = gather(&q, 64, out, sizeof out);
			assert_memory_equal(out, expect + sent, n);
		}
	}
	/* drain completely */
	char out[4096];
	while (q.bytes) {
		size_t n = gather(&q, 3, out, sizeof out);
		assert_true(n > 0);
		assert_memory_equal(out, expect + sent, n);
		sendq_consume(&q, n);
		sent += n;
	}
	assert_int_equal(sent, elen);
	assert_int_equal(q.count, 0);
	sendq_clear(&q);
	free(expect);
}

/* A writev() simulation: take iovecs, "write" an arbitrary prefix, consume it. */
static void test_sendq_writev_simulation(void **state)
{
	(void)state;
	struct sendq q = {0};
	char expect[8192], got[8192];
	size_t elen = 0, glen = 0;
	unsigned rng = 12345;
	for (int i = 0; i < 200; i++) {
		rng = rng * 1103515245u + 12345u;
		char line[64];
		int len = snprintf(line, sizeof line, ":s NOTICE n :%u\r\n", rng % 100000);
		struct msgbuf *b = msgbuf_new(line, (size_t)len);
		sendq_push(&q, b);
		msgbuf_unref(b);
		memcpy(expect + elen, line, (size_t)len);
		elen += (size_t)len;

		if (i % 3 == 0) {
			struct iovec iov[8];
			int n = sendq_iov(&q, iov, 8);
			size_t avail = 0;
			for (int j = 0; j < n; j++)
				avail += iov[j].iov_len;
			rng = rng * 1103515245u + 12345u;
			size_t w = avail ? (rng >> 8) % (avail + 1) : 0;
			size_t left = w;
			for (int j = 0; j < n && left; j++) {
				size_t k = iov[j].iov_len < left ? iov[j].iov_len : left;
				memcpy(got + glen, iov[j].iov_base, k);
				glen += k;
				left -= k;
			}
			sendq_consume(&q, w);
			assert_int_equal(q.bytes, elen - glen);
		}
	}
	while (q.bytes) {
		struct iovec iov[4];
		int n = sendq_iov(&q, iov, 4);
		assert_true(n > 0);
		memcpy(got + glen, iov[0].iov_base, iov[0].iov_len);
		glen += iov[0].iov_len;
		sendq_consume(&q, iov[0].iov_len);
	}
	assert_int_equal(glen, elen);
	assert_memory_equal(got, expect, elen);
	sendq_clear(&q);
}

static void test_sendq_clear_with_offset(void **state)
{
	(void)state;
	struct sendq q = {0};
	struct msgbuf *a = buf("partial\r\n"), *b = buf("next\r\n");
	sendq_push(&q, a);
	sendq_push(&q, b);
	msgbuf_unref(a);
	sendq_consume(&q, 4);
	assert_int_equal(q.offset, 4);
	sendq_clear(&q); /* frees a (last reference), drops one of b's */
	assert_int_equal(b->refs, 1);
	assert_int_equal(q.offset, 0);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(q.cap, 0);
	assert_null(q.ring);
	/* and a cleared queue starts over cleanly */
	sendq_push(&q, b);
	struct iovec iov[2];
	assert_int_equal(sendq_iov(&q, iov, 2), 1);
	assert_ptr_equal(iov[0].iov_base, b->data);
	assert_int_equal(iov[0].iov_len, 6);
	sendq_clear(&q);
	msgbuf_unref(b);
}

/* ---- WebSocket frame mode ---- */

/* A framed line: a 2-byte header and the shared bytes without CRLF, not a copy. */
static void test_sendq_ws_frames_share_the_buffer(void **state)
{
	(void)state;
	struct sendq text = {.ws_opcode = 1}, bin = {.ws_opcode = 2};
	struct msgbuf *b = buf("PING :x\r\n");
	sendq_push(&text, b);
	sendq_push(&bin, b);
	assert_int_equal(text.bytes, 2 + 7);
	struct iovec iov[4];
	assert_int_equal(sendq_iov(&text, iov, 4), 2);
	assert_int_equal(iov[0].iov_len, 2);
	assert_memory_equal(iov[0].iov_base, "\x81\x07", 2);
	assert_ptr_equal(iov[1].iov_base, b->data);
	assert_int_equal(iov[1].iov_len, 7);
	char out[64];
	size_t n = gather(&bin, 4, out, sizeof out);
	assert_int_equal(n, 9);
	assert_memory_equal(out, "\x82\x07PING :x", 9);
	sendq_clear(&text);
	sendq_clear(&bin);
	assert_int_equal(b->refs, 1);
	msgbuf_unref(b);
}

/* A write that stops inside a header or a payload resumes at the right byte. */
static void test_sendq_ws_partial_writes(void **state)
{
	(void)state;
	struct sendq q = {.ws_opcode = 1};
	struct msgbuf *a = buf("AB\r\n"), *b = buf("CDE\r\n");
	sendq_push(&q, a);
	sendq_push(&q, b);
	assert_int_equal(q.bytes, 4 + 5);
	char out[64];
	sendq_consume(&q, 1); /* half of a's header */
	size_t n = gather(&q, 8, out, sizeof out);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "\x02" "AB\x81\x03" "CDE", 8);
	sendq_consume(&q, 3); /* the rest of a */
	assert_int_equal(q.count, 1);
	sendq_consume(&q, 3); /* b's header and C */
	n = gather(&q, 8, out, sizeof out);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "DE", 2);
	sendq_consume(&q, 2);
	assert_int_equal(q.count, 0);
	assert_null(q.ring);
	msgbuf_unref(a);
	msgbuf_unref(b);
}

/* Raw entries go out as they are; payloads past 125 bytes get a 16-bit length. */
static void test_sendq_ws_raw_and_long(void **state)
{
	(void)state;
	struct sendq q = {.ws_opcode = 1};
	struct msgbuf *raw = buf("HTTP/1.1 101\r\n\r\n");
	char line[302];
	memset(line, 'x', 300);
	memcpy(line + 300, "\r\n", 2);
	struct msgbuf *big = msgbuf_new(line, sizeof line);
	sendq_push_raw(&q, raw);
	sendq_push(&q, big);
	assert_int_equal(q.bytes, raw->len + 4 + 300);
	char out[512];
	size_t n = gather(&q, 8, out, sizeof out);
	assert_int_equal(n, raw->len + 4 + 300);
	assert_memory_equal(out, "HTTP/1.1 101\r\n\r\n\x81\x7e\x01\x2c", raw->len + 4);
	sendq_consume(&q, n);
	assert_int_equal(q.bytes, 0);
	msgbuf_unref(raw);
	msgbuf_unref(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_msgbuf_new_copies),
	    cmocka_unit_test(test_msgbuf_refcount),
	    cmocka_unit_test(test_sendq_empty),
	    cmocka_unit_test(test_sendq_push_shared),
	    cmocka_unit_test(test_sendq_same_buffer_twice),
	    cmocka_unit_test(test_sendq_iov_fill),
	    cmocka_unit_test(test_sendq_partial_consume),
	    cmocka_unit_test(test_sendq_consume_several_whole),
	    cmocka_unit_test(test_sendq_ring_wrap_and_growth),
	    cmocka_unit_test(test_sendq_drained_frees_ring),
	    cmocka_unit_test(test_sendq_writev_simulation),
	    cmocka_unit_test(test_sendq_clear_with_offset),
	    cmocka_unit_test(test_sendq_ws_frames_share_the_buffer),
	    cmocka_unit_test(test_sendq_ws_partial_writes),
	    cmocka_unit_test(test_sendq_ws_raw_and_long),
	};
	return cmocka_run_group_tests_name("sendq", tests, NULL, NULL);
}
