/* ws.c - the WebSocket transport: a framing layer between conn.c's bytes and its lines.
 *
 * A listener with `websocket = true` gives its connections a struct ws. Their input
 * starts with an HTTP/1.1 upgrade request (RFC 6455 section 4), bounded in size and
 * time; then every complete data message (one frame, or fragments joined up to the
 * line limit) is one IRC line for the owner, exactly as conn.c would hand it over. The
 * owner's admit() is asked before each message, so flood control and pausing work as on
 * a stream. Output goes through the same sendq: the queue is switched to frame mode and
 * builds each frame header when it writes (sendq.c), so a channel message stays one
 * shared buffer for all recipients.
 *
 * Choices where the specifications leave room:
 * - Subprotocols: the client's first of binary.ircv3.net / text.ircv3.net wins; with
 *   neither, the connection is accepted without the header and uses text frames.
 *   Clients may send text or binary frames whatever was agreed; a text frame that is
 *   not UTF-8 fails the connection (1007, RFC 6455 section 8.1). Binary input reaches
 *   the UTF8ONLY checks of the commands like stream input.
 * - Fragmented messages are joined (RFC 6455 requires it, and proxies may fragment);
 *   a message longer than WS_MESSAGE_MAX, fragmented or not, closes with 1009.
 * - Origin: requests without one (not from a browser) are accepted; a browser's is
 *   checked against websocket.origins (wildcard masks), and with no list none is
 *   allowed: a page from anywhere must not be able to use its visitors' browsers and
 *   addresses to connect. 403 otherwise.
 * - X-Forwarded-For is read only from websocket.proxies; its last entry (the address
 *   the proxy saw) becomes the client's address. */
#include "ws.h"

#include "connlimit.h"
#include "ircd.h"
#include "log.h"
#include "match.h"
#include "parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum ws_state { WS_HANDSHAKE, WS_OPEN, WS_CLOSED };

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

enum {
	CLOSE_NORMAL = 1000,
	CLOSE_PROTOCOL = 1002,
	CLOSE_BAD_DATA = 1007,
	CLOSE_TOO_BIG = 1009,
};

struct ws {
	struct conn *conn;
	enum ws_state state;
	bool upgraded;           /* the 101 was sent: closing needs a close frame */
	bool close_sent;
	unsigned close_code;     /* the code to answer a client's close with */
	unsigned char frag_op;   /* opcode of a fragmented message in progress, 0 if none */
	char *frag;              /* its payload so far */
	size_t frag_len;
	ev_timer timer;          /* handshake timeout */
};

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- sending ---- */

static void send_raw(struct conn *c, const void *data, size_t len)
{
	struct msgbuf *b = msgbuf_new(data, len);
	if (!conn_send_raw(c, b))
		c->ops->on_error(c, "SendQ exceeded");
	msgbuf_unref(b);
}

static void send_control(struct conn *c, unsigned char op, const void *payload, size_t len)
{
	unsigned char frame[2 + 125];
	frame[0] = (unsigned char)(0x80 | op);
	frame[1] = (unsigned char)len;
	memcpy(frame + 2, payload, len);
	send_raw(c, frame, 2 + len);
}

static void send_close(struct conn *c, unsigned code, const char *reason)
{
	struct ws *w = c->ws;
	if (w->close_sent || !w->upgraded)
		return;
	unsigned char p[125];
	size_t n = strlen(reason);
	if (n > sizeof p - 2)
		n = sizeof p - 2;
	p[0] = (unsigned char)(code >> 8);
	p[1] = (unsigned char)code;
	memcpy(p + 2, reason, n);
	send_control(c, OP_CLOSE, p, 2 + n);
	w->close_sent = true;
}

/* Fails the connection (RFC 6455 7.1.7): the close frame, then the owner's exit. */
static void fail(struct conn *c, unsigned code, const char *reason)
{
	send_close(c, code, reason);
	c->ws->state = WS_CLOSED;
	c->ops->on_error(c, reason);
}

/* A copy of b with every byte that is not part of valid UTF-8 replaced by U+FFFD. */
static struct msgbuf *utf8_repaired(const struct msgbuf *b)
{
	char *out = malloc((size_t)b->len * 3 + 1);
	if (!out)
		abort();
	size_t n = 0;
	for (size_t i = 0; i < b->len;) {
		size_t k = 1;
		while (k <= 4 && i + k <= b->len && !utf8_valid(b->data + i, k))
			k++;
		if (k <= 4 && i + k <= b->len) {
			memcpy(out + n, b->data + i, k);
			n += k;
			i += k;
		} else {
			memcpy(out + n, "\xef\xbf\xbd", 3);
			n += 3;
			i++;
		}
	}
	struct msgbuf *r = msgbuf_new(out, n);
	r->utf8 = MSGBUF_UTF8_VALID;
	free(out);
	return r;
}

void ws_push(struct conn *c, struct msgbuf *b)
{
	struct ws *w = c->ws;
	if (w->state != WS_OPEN || w->close_sent)
		return; /* no IRC line before the upgrade or after a close */
	if (c->sendq.ws_opcode == OP_TEXT) {
		if (b->utf8 == MSGBUF_UTF8_UNKNOWN)
			b->utf8 = utf8_valid(b->data, b->len) ? MSGBUF_UTF8_VALID : MSGBUF_UTF8_INVALID;
		if (b->utf8 == MSGBUF_UTF8_INVALID) {
			struct msgbuf *r = utf8_repaired(b);
			sendq_push(&c->sendq, r);
			msgbuf_unref(r);
			return;
		}
	}
	sendq_push(&c->sendq, b);
}

void ws_finish(struct conn *c)
{
	struct ws *w = c->ws;
	send_close(c, w->close_code ? w->close_code : CLOSE_NORMAL, "");
	w->state = WS_CLOSED;
}

/* ---- the upgrade request ---- */

struct request {
	const char *method, *target, *version;
	const char *host, *upgrade, *connection, *key, *wsversion, *origin, *forwarded;
	char protocols[256]; /* Sec-WebSocket-Protocol values, comma-joined */
};

/* True if the comma-separated list has token (case-insensitive). */
static bool has_token(const char *list, const char *token)
{
	size_t tl = strlen(token);
	for (const char *p = list; p && *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t n = strcspn(p, ",");
		size_t m = n;
		while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
			m--;
		if (m == tl && strncasecmp(p, token, tl) == 0)
			return true;
		p += n;
	}
	return false;
}

/* Splits the NUL-terminated request head into r; false if it is not HTTP. */
static bool parse_request(char *head, struct request *r)
{
	char *save, *line = strtok_r(head, "\r\n", &save);
	if (!line)
		return false;
	r->method = strtok_r(line, " ", &line);
	r->target = strtok_r(NULL, " ", &line);
	r->version = strtok_r(NULL, " ", &line);
	if (!r->method || !r->target || !r->version || strtok_r(NULL, " ", &line))
		return false;
	while ((line = strtok_r(NULL, "\r\n", &save))) {
		if (*line == ' ' || *line == '\t')
			return false; /* obsolete line folding */
		char *colon = strchr(line, ':');
		if (!colon || colon == line)
			return false;
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		for (char *e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = '\0';
		if (!strcasecmp(line, "Host"))
			r->host = v;
		else if (!strcasecmp(line, "Upgrade"))
			r->upgrade = v;
		else if (!strcasecmp(line, "Connection"))
			r->connection = v;
		else if (!strcasecmp(line, "Sec-WebSocket-Key"))
			r->key = v;
		else if (!strcasecmp(line, "Sec-WebSocket-Version"))
			r->wsversion = v;
		else if (!strcasecmp(line, "Origin"))
			r->origin = v;
		else if (!strcasecmp(line, "X-Forwarded-For"))
			r->forwarded = v; /* the last header holds the last hop */
		else if (!strcasecmp(line, "Sec-WebSocket-Protocol")) {
			size_t n = strlen(r->protocols);
			snprintf(r->protocols + n, sizeof r->protocols - n, "%s%s", n ? "," : "", v);
		}
	}
	return true;
}

static bool origin_allowed(const char *origin)
{
	char buf[sizeof ircd.conf->ws_origins];
	snprintf(buf, sizeof buf, "%s", ircd.conf->ws_origins);
	char *save;
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (match_mask(t, origin))
			return true;
	return false;
}

static bool trusted_proxy(const char *ip)
{
	char buf[sizeof ircd.conf->ws_proxies];
	snprintf(buf, sizeof buf, "%s", ircd.conf->ws_proxies);
	char *save;
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (connlimit_net_match(t, ip))
			return true;
	return false;
}

/* The last address of an X-Forwarded-For value, written the way client.c writes peer
 * addresses; false if it is not an address. */
static bool last_hop(const char *xff, char *out, size_t size)
{
	const char *p = strrchr(xff, ',');
	p = p ? p + 1 : xff;
	while (*p == ' ' || *p == '\t')
		p++;
	char addr[INET6_ADDRSTRLEN + 1];
	size_t n = strcspn(p, " \t");
	if (n == 0 || n >= sizeof addr)
		return false;
	memcpy(addr, p, n);
	addr[n] = '\0';
	unsigned char bin[16];
	char text[INET6_ADDRSTRLEN];
	if (inet_pton(AF_INET, addr, bin) == 1)
		inet_ntop(AF_INET, bin, text, sizeof text);
	else if (inet_pton(AF_INET6, addr, bin) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)bin))
			inet_ntop(AF_INET, bin + 12, text, sizeof text);
		else
			inet_ntop(AF_INET6, bin, text, sizeof text);
	} else
		return false;
	snprintf(out, size, "%s%s", text[0] == ':' ? "0" : "", text);
	return true;
}

/* The subprotocol to answer with: the client's first known one, "" for none. */
static const char *choose_protocol(const char *offered, unsigned char *opcode)
{
	*opcode = OP_TEXT;
	char buf[sizeof ((struct request *)0)->protocols];
	snprintf(buf, sizeof buf, "%s", offered);
	char *save;
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (!strcmp(t, "binary.ircv3.net")) {
			*opcode = OP_BINARY;
			return "binary.ircv3.net";
		}
		if (!strcmp(t, "text.ircv3.net"))
			return "text.ircv3.net";
	}
	return "";
}

static bool key_valid(const char *key)
{
	unsigned char raw[64];
	size_t n = strlen(key);
	if (n != 24)
		return false; /* base64 of 16 bytes */
	return EVP_DecodeBlock(raw, (const unsigned char *)key, (int)n) == 18 && key[22] == '=' && key[23] == '=';
}

static void refuse(struct conn *c, const char *status, const char *extra)
{
	char resp[256];
	int n = snprintf(resp, sizeof resp,
	                 "HTTP/1.1 %s\r\nConnection: close\r\n%sContent-Length: 0\r\n\r\n", status, extra);
	send_raw(c, resp, (size_t)n);
	c->ws->state = WS_CLOSED;
	char reason[96];
	snprintf(reason, sizeof reason, "WebSocket handshake refused (%.3s)", status);
	ev_timer_stop(EV_DEFAULT, &c->ws->timer);
	c->ops->on_error(c, reason);
}

static void accept_upgrade(struct conn *c, const struct request *r, const char *forwarded_ip)
{
	struct ws *w = c->ws;
	unsigned char opcode;
	const char *proto = choose_protocol(r->protocols, &opcode);
	char src[64];
	unsigned char digest[SHA_DIGEST_LENGTH];
	char accept[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
	snprintf(src, sizeof src, "%s%s", r->key, GUID);
	SHA1((const unsigned char *)src, strlen(src), digest);
	EVP_EncodeBlock((unsigned char *)accept, digest, SHA_DIGEST_LENGTH);
	char resp[512];
	int n = snprintf(resp, sizeof resp,
	                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                 "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
	                 accept, *proto ? "Sec-WebSocket-Protocol: " : "", proto, *proto ? "\r\n" : "");
	send_raw(c, resp, (size_t)n);
	ev_timer_stop(EV_DEFAULT, &w->timer);
	if (c->flags & CONN_DEAD)
		return;
	w->state = WS_OPEN;
	w->upgraded = true;
	c->sendq.ws_opcode = opcode;
	log_debug("websocket upgrade from %s%s%s (%s)", c->ip, forwarded_ip ? " for " : "",
	          forwarded_ip ? forwarded_ip : "", *proto ? proto : "no subprotocol");
	if (forwarded_ip && c->ops->on_address)
		c->ops->on_address(c, forwarded_ip);
}

/* Checks the request (RFC 6455 4.2.1) and answers it. */
static void handshake(struct conn *c, char *head)
{
	struct request r = {0};
	if (!parse_request(head, &r) || strcmp(r.method, "GET") != 0 || strcmp(r.version, "HTTP/1.1") != 0 ||
	    !r.host || !r.upgrade || !has_token(r.upgrade, "websocket") || !r.connection ||
	    !has_token(r.connection, "upgrade")) {
		refuse(c, "400 Bad Request", "");
		return;
	}
	if (!r.wsversion || strcmp(r.wsversion, "13") != 0) {
		refuse(c, "426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n");
		return;
	}
	if (!r.key || !key_valid(r.key)) {
		refuse(c, "400 Bad Request", "");
		return;
	}
	if (r.origin && !origin_allowed(r.origin)) {
		log_info("websocket from %s refused: origin %.100s not allowed", c->ip, r.origin);
		refuse(c, "403 Forbidden", "");
		return;
	}
	char ip[INET6_ADDRSTRLEN + 2];
	bool forwarded = r.forwarded && trusted_proxy(c->ip);
	if (forwarded && !last_hop(r.forwarded, ip, sizeof ip)) {
		refuse(c, "400 Bad Request", "");
		return;
	}
	accept_upgrade(c, &r, forwarded ? ip : NULL);
}

/* Takes the request head from buf; returns the bytes it used (0: wait for more). */
static size_t handshake_input(struct conn *c, char *buf, size_t len)
{
	size_t scan = len < WS_REQUEST_MAX ? len : WS_REQUEST_MAX;
	char *end = memmem(buf, scan, "\r\n\r\n", 4);
	if (!end) {
		if (len >= WS_REQUEST_MAX)
			refuse(c, "431 Request Header Fields Too Large", "");
		return c->ws->state == WS_HANDSHAKE ? 0 : len;
	}
	size_t used = (size_t)(end - buf) + 4;
	char head[WS_REQUEST_MAX + 1];
	memcpy(head, buf, used - 4);
	head[used - 4] = '\0';
	if (memchr(head, '\0', used - 4)) {
		refuse(c, "400 Bad Request", "");
		return len;
	}
	handshake(c, head);
	return used;
}

static void timeout_cb(EV_P_ ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct conn *c = t->data;
	if (c->ws->state == WS_HANDSHAKE && !(c->flags & CONN_DEAD))
		refuse(c, "408 Request Timeout", "");
}

/* ---- frames ---- */

/* Hands a complete message to the owner (who may pause input or exit). */
static void deliver(struct conn *c, unsigned char op, char *data, size_t len)
{
	if (op == OP_TEXT && !utf8_valid(data, len)) {
		fail(c, CLOSE_BAD_DATA, "Invalid UTF-8 in a text message");
		return;
	}
	/* As on a stream, a CR, LF or NUL ends the line: nothing may be smuggled after it. */
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\r' || data[i] == '\n' || data[i] == '\0') {
			len = i;
			break;
		}
	data[len] = '\0';
	c->ops->on_line(c, data, len);
}

static bool close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

/* A control frame (payload unmasked, at most 125 bytes). */
static void control(struct conn *c, unsigned char op, char *p, size_t len)
{
	struct ws *w = c->ws;
	if (op == OP_PING) {
		send_control(c, OP_PONG, p, len);
		return;
	}
	if (op == OP_PONG)
		return;
	/* close */
	unsigned code = CLOSE_NORMAL;
	if (len == 1) {
		fail(c, CLOSE_PROTOCOL, "Bad close frame");
		return;
	}
	if (len >= 2) {
		code = (unsigned)(unsigned char)p[0] << 8 | (unsigned char)p[1];
		if (!close_code_valid(code)) {
			fail(c, CLOSE_PROTOCOL, "Bad close code");
			return;
		}
		if (!utf8_valid(p + 2, len - 2)) {
			fail(c, CLOSE_BAD_DATA, "Invalid UTF-8 in a close reason");
			return;
		}
	}
	w->close_code = code;
	w->state = WS_CLOSED; /* no more lines either way; ws_finish answers the close */
	c->ops->on_error(c, "Remote host closed the connection");
}

/* Parses one frame at buf (len bytes available). Returns its total size, 0 if it is
 * not complete yet; fails the connection and returns -1 on a protocol error. */
static long frame(struct conn *c, char *buf, size_t len)
{
	struct ws *w = c->ws;
	if (len < 2)
		return 0;
	unsigned char b0 = (unsigned char)buf[0], b1 = (unsigned char)buf[1];
	bool fin = b0 & 0x80;
	unsigned char op = b0 & 0x0f;
	unsigned long long plen = b1 & 0x7f;
	size_t hl = 2;
	if (b0 & 0x70 || !(b1 & 0x80) || (op > OP_BINARY && op < OP_CLOSE) || op > OP_PONG) {
		fail(c, CLOSE_PROTOCOL, b1 & 0x80 ? "Bad frame" : "Client frames must be masked");
		return -1;
	}
	if (plen == 126) {
		if (len < 4)
			return 0;
		plen = (unsigned)(unsigned char)buf[2] << 8 | (unsigned char)buf[3];
		hl = 4;
	} else if (plen == 127) {
		if (len < 10)
			return 0;
		plen = 0;
		for (int i = 0; i < 8; i++)
			plen = plen << 8 | (unsigned char)buf[2 + i];
		hl = 10;
	}
	bool ctl = op >= OP_CLOSE;
	if (ctl && (!fin || plen > 125)) {
		fail(c, CLOSE_PROTOCOL, "Bad control frame");
		return -1;
	}
	if (!ctl && (op == OP_CONT) != (w->frag_op != 0)) {
		fail(c, CLOSE_PROTOCOL, op == OP_CONT ? "Continuation without a message" : "Message inside a fragmented message");
		return -1;
	}
	if (!ctl && plen + w->frag_len > WS_MESSAGE_MAX) {
		fail(c, CLOSE_TOO_BIG, "Message too long");
		return -1;
	}
	if (len < hl + 4 + plen)
		return 0;
	/* A complete message waits for the owner's admission, like a line. */
	if (!ctl && fin && c->ops->admit && !c->ops->admit(c))
		return 0;
	const unsigned char *mask = (const unsigned char *)buf + hl;
	char *p = buf + hl + 4;
	for (size_t i = 0; i < plen; i++)
		p[i] ^= (char)mask[i & 3];
	long total = (long)(hl + 4 + plen);
	if (ctl) {
		control(c, op, p, plen);
		return total;
	}
	if (!fin || op == OP_CONT) {
		char *nf = realloc(w->frag, w->frag_len + plen + 1);
		if (!nf)
			abort();
		w->frag = nf;
		memcpy(w->frag + w->frag_len, p, plen);
		w->frag_len += plen;
		if (op != OP_CONT)
			w->frag_op = op;
		if (!fin)
			return total;
		unsigned char fop = w->frag_op;
		char *msg = w->frag;
		size_t mlen = w->frag_len;
		w->frag = NULL;
		w->frag_len = 0;
		w->frag_op = 0;
		deliver(c, fop, msg, mlen);
		free(msg);
		return total;
	}
	/* the payload is followed by the next frame: deliver a NUL-terminated copy */
	static char line[WS_MESSAGE_MAX + 1];
	memcpy(line, p, plen);
	deliver(c, op, line, plen);
	return total;
}

size_t ws_input(struct conn *c, char *buf, size_t len)
{
	struct ws *w = c->ws;
	size_t pos = 0;
	if (w->state == WS_HANDSHAKE)
		pos = handshake_input(c, buf, len);
	while (pos < len && w->state == WS_OPEN && !(c->flags & (CONN_PAUSED | CONN_DEAD))) {
		long n = frame(c, buf + pos, len - pos);
		if (n == 0)
			break;
		if (n < 0)
			return len; /* closing: the rest is not read */
		pos += (size_t)n;
	}
	return w->state == WS_CLOSED ? len : pos;
}

void ws_attach(struct conn *c)
{
	struct ws *w = calloc(1, sizeof *w);
	if (!w)
		abort();
	w->conn = c;
	ev_timer_init(&w->timer, timeout_cb, WS_HANDSHAKE_TIMEOUT, 0);
	w->timer.data = c;
	ev_timer_start(EV_DEFAULT, &w->timer);
	c->ws = w;
}

void ws_free(struct conn *c)
{
	if (!c->ws)
		return;
	ev_timer_stop(EV_DEFAULT, &c->ws->timer);
	free(c->ws->frag);
	free(c->ws);
	c->ws = NULL;
}
