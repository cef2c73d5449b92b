/* reply.c - formatting and queueing lines for clients; labeled-response wrapping. */
#include "reply.h"

#include "cap.h"
#include "client.h"
#include "ircd.h"
#include "metrics.h"
#include "parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ends the line of n bytes formatted into buf: the body after any tag section is cut
 * to 510 bytes, then CRLF. Returns the length. */
static size_t finish_line(char *buf, size_t size, int n)
{
	size_t len = n < 0 ? 0 : (size_t)n;
	if (len > size - 3)
		len = size - 3;
	const char *body = buf;
	if (buf[0] == '@') {
		const char *sp = memchr(buf, ' ', len);
		body = sp ? sp + 1 : buf + len;
	}
	size_t body_len = len - (size_t)(body - buf);
	if (body_len > MSG_BODY_MAX - 2) {
		len = (size_t)(body - buf) + MSG_BODY_MAX - 2;
		/* do not leave half a UTF-8 character at the cut */
		while (len > 0 && ((unsigned char)buf[len] & 0xc0) == 0x80)
			len--;
	}
	buf[len++] = '\r';
	buf[len++] = '\n';
	return len;
}

static size_t format_line(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static size_t format_line(char *buf, size_t size, const char *fmt, va_list ap)
{
	return finish_line(buf, size, vsnprintf(buf, size - 2, fmt, ap));
}

struct msgbuf *msgbuf_printf(const char *fmt, ...)
{
	char buf[MSG_LINE_MAX + 2];
	va_list ap;
	va_start(ap, fmt);
	size_t len = format_line(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return msgbuf_new(buf, len);
}

void client_send(struct client *c, struct msgbuf *b)
{
	if (client_dead(c) || (c->flags & CLI_GHOST)) /* a ghost has no connection */
		return;
	struct reply_ctx *ctx = c->rctx;
	if (ctx && ctx->client != c) { /* a session's command runs on its user: the session asked */
		client_send(ctx->client, b);
		return;
	}
	if (ctx && ctx->label[0]) {
		if (ctx->nlines == ctx->cap) {
			ctx->cap = ctx->cap ? ctx->cap * 2 : 8;
			ctx->lines = realloc(ctx->lines, ctx->cap * sizeof *ctx->lines);
			if (!ctx->lines)
				abort();
		}
		ctx->lines[ctx->nlines++] = msgbuf_ref(b);
		return;
	}
	if (c->flags & CLI_EXIT_SOON)
		return; /* past its SendQ already */
	c->lines_out++;
	if (!conn_send(&c->conn, b)) {
		metrics.sendq_exceeded++; /* once: CLI_EXIT_SOON stops further sends */
		client_exit_soon(c, "SendQ exceeded");
	}
}

void client_send_direct(struct client *c, struct msgbuf *b)
{
	struct reply_ctx *ctx = c->rctx;
	c->rctx = NULL;
	client_send(c, b);
	c->rctx = ctx;
}

void client_sendf(struct client *c, const char *fmt, ...)
{
	char buf[MSG_LINE_MAX + 2];
	va_list ap;
	va_start(ap, fmt);
	size_t len = format_line(buf, sizeof buf, fmt, ap);
	va_end(ap);
	struct msgbuf *b = msgbuf_new(buf, len);
	client_send(c, b);
	msgbuf_unref(b);
}

const char *reply_target(const struct client *c) { return c->nick[0] ? c->nick : "*"; }

void reply_numeric(struct client *c, const char *num, const char *fmt, ...)
{
	/* one formatting pass per numeric: the welcome burst sends a dozen per connection */
	char buf[MSG_LINE_MAX + 2];
	const size_t cap = sizeof buf - 3;
	size_t n = str_put(buf, cap, 0, ":");
	n = str_put(buf, cap, n, ircd.conf->server_name);
	n = str_put(buf, cap, n, " ");
	n = str_put(buf, cap, n, num);
	n = str_put(buf, cap, n, " ");
	n = str_put(buf, cap, n, reply_target(c));
	n = str_put(buf, cap, n, " ");
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(buf + n, sizeof buf - 2 - n, fmt, ap);
	va_end(ap);
	size_t len = finish_line(buf, sizeof buf, k < 0 ? (int)n : (int)n + k);
	struct msgbuf *b = msgbuf_new(buf, len);
	client_send(c, b);
	msgbuf_unref(b);
}

void reply_standard(struct client *c, const char *type, const char *command, const char *code,
                    const char *context, const char *description)
{
	client_sendf(c, ":%s %s %s %s%s%s :%s", ircd.conf->server_name, type, command, code,
	             context ? " " : "", context ? context : "", description);
}

void reply_ctx_begin(struct reply_ctx *ctx, struct client *c, const char *label)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->client = c;
	if (label && client_has_cap(c, CAP_LABELED_RESPONSE))
		snprintf(ctx->label, sizeof ctx->label, "%s", label);
	c->rctx = ctx;
}

/* Sends b to the client with extra tags ("label=x" or "batch=y") merged in front. */
static void send_tagged(struct client *c, const char *tags, const struct msgbuf *b)
{
	if (b->data[0] == '@')
		client_sendf(c, "@%s;%.*s", tags, (int)b->len - 3, b->data + 1);
	else
		client_sendf(c, "@%s %.*s", tags, (int)b->len - 2, b->data);
}

void reply_ctx_end(struct reply_ctx *ctx)
{
	struct client *c = ctx->client;
	c->rctx = NULL;
	if (!ctx->label[0])
		return;
	char tag[96], esc[80];
	if (tag_escape(ctx->label, esc, sizeof esc) < 0)
		esc[0] = '\0';
	snprintf(tag, sizeof tag, "label=%s", esc);
	if (ctx->nlines == 0) {
		client_sendf(c, "@%s :%s ACK", tag, ircd.conf->server_name);
	} else if (ctx->nlines == 1) {
		send_tagged(c, tag, ctx->lines[0]);
	} else {
		char id[24], btag[40];
		snprintf(id, sizeof id, "L%llu", (unsigned long long)c->id);
		snprintf(btag, sizeof btag, "batch=%s", id);
		client_sendf(c, "@%s :%s BATCH +%s labeled-response", tag, ircd.conf->server_name, id);
		for (unsigned i = 0; i < ctx->nlines; i++)
			send_tagged(c, btag, ctx->lines[i]);
		client_sendf(c, ":%s BATCH -%s", ircd.conf->server_name, id);
	}
	for (unsigned i = 0; i < ctx->nlines; i++)
		msgbuf_unref(ctx->lines[i]);
	free(ctx->lines);
}
