/* fuzz_ws.c - the WebSocket transport's input (ircd/ws.c): the upgrade request and the
 * frames after it, as a client on the internet sends them before any authentication.
 * The input is fed to ws_input in pieces (sizes from the input itself), with what it
 * does not consume kept in front of the next piece, as conn.c does. An odd first byte
 * puts a valid upgrade request in front, so the frame parser is reached at once. Checks:
 * every line handed to the owner is NUL-terminated, within WS_MESSAGE_MAX and has no CR,
 * LF or NUL; nothing is consumed past what was given; the sendq's byte count matches the
 * iovecs it reports; a proxy-given address is a parseable address. */
#include "fuzz.h"
#include "conf.h"
#include "conn.h"
#include "ircd.h"
#include "ws.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool failed;

static bool on_line(struct conn *c, char *line, size_t len)
{
	(void)c;
	CHECK(len <= WS_MESSAGE_MAX);
	CHECK(line[len] == '\0');
	CHECK(!memchr(line, '\r', len) && !memchr(line, '\n', len) && strlen(line) == len);
	return true;
}

static bool admit(struct conn *c)
{
	(void)c;
	return true;
}

static void on_too_long(struct conn *c) { (void)c; }
static void on_recvq_full(struct conn *c) { (void)c; }

static void on_error(struct conn *c, const char *reason)
{
	CHECK(reason && *reason);
	failed = true;
	(void)c;
}

static void on_address(struct conn *c, const char *ip)
{
	unsigned char a[16];
	const char *p = ip[0] == '0' && ip[1] == ':' ? ip + 1 : ip;
	CHECK(inet_pton(AF_INET, p, a) == 1 || inet_pton(AF_INET6, p, a) == 1);
	snprintf(c->ip, sizeof c->ip, "%s", ip);
}

static const struct conn_ops ops = {on_line, admit, on_too_long, on_recvq_full, on_error, on_address};

static const char UPGRADE[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Protocol: text.ircv3.net\r\nOrigin: https://a.example\r\n"
                              "X-Forwarded-For: 192.0.2.1\r\n\r\n";

/* What sendq_iov reports is what the queue counts (one call covers 64 lines). */
static void check_sendq(const struct sendq *q)
{
	struct iovec iov[128];
	int n = sendq_iov(q, iov, 128);
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (q->count <= 64)
		CHECK(total == q->bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf conf;
	if (!ircd.conf) {
		snprintf(conf.ws_origins, sizeof conf.ws_origins, "https://*.example");
		snprintf(conf.ws_proxies, sizeof conf.ws_proxies, "127.0.0.0/8");
		ircd.conf = &conf;
	}
	if (size == 0)
		return 0;
	size_t pre = data[0] & 1 ? sizeof UPGRADE - 1 : 0;
	size_t total = pre + size - 1;
	char *input = malloc(total + 1);
	memcpy(input, UPGRADE, pre);
	memcpy(input + pre, data + 1, size - 1);

	struct conn c = {.fd = -1, .ops = &ops, .sendq_max = 1 << 20};
	snprintf(c.ip, sizeof c.ip, "127.0.0.1");
	conn_websocket(&c);
	failed = false;
	char *held = NULL;
	size_t nheld = 0, pos = 0;
	unsigned piece = (data[0] >> 1) + 1;
	while (pos < total && !failed && !(c.flags & CONN_DEAD)) {
		size_t take = total - pos < piece ? total - pos : piece;
		char *buf = malloc(nheld + take + 1);
		if (nheld)
			memcpy(buf, held, nheld);
		memcpy(buf + nheld, input + pos, take);
		pos += take;
		size_t len = nheld + take;
		size_t used = ws_input(&c, buf, len);
		CHECK(used <= len);
		free(held);
		nheld = len - used;
		held = malloc(nheld + 1);
		memcpy(held, buf + used, nheld);
		free(buf);
		check_sendq(&c.sendq);
		if (nheld > CONN_RECVQ)
			break; /* conn.c stops reading here */
	}
	free(held);
	free(input);
	conn_close(&c);
	return 0;
}
