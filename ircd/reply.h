/* reply.h - the one path for everything sent to a client.
 *
 * client_send() is the sink: while a command runs with a label (labeled-response),
 * lines for the requesting client are collected by its reply context and wrapped when
 * the command ends; otherwise they go straight to the sendq. A client whose sendq would
 * overflow is disconnected ("SendQ exceeded"), never blocked. */
#ifndef PARLEY_REPLY_H
#define PARLEY_REPLY_H

#include "msgbuf.h"
#include "numerics.h"

#include <stddef.h>

struct client;

/* Per-command reply context (see command.c). */
struct reply_ctx {
	struct client *client;
	char label[72];
	struct msgbuf **lines;
	unsigned nlines, cap;
};

/* Starts a context for c; label may be NULL. */
void reply_ctx_begin(struct reply_ctx *ctx, struct client *c, const char *label);

/* Sends what the context collected (ACK, one labeled line, or a labeled-response
 * batch) and detaches it from the client. */
void reply_ctx_end(struct reply_ctx *ctx);

/* Queues a new reference to b for c (through c's reply context when there is one). */
void client_send(struct client *c, struct msgbuf *b);

/* Queues b for c bypassing c's reply context: a copy of a message c sent to itself is a
 * delivery, not a reply, so it carries no label. */
void client_send_direct(struct client *c, struct msgbuf *b);

/* Formats one line (CRLF added, cut to the 512-byte limit) and sends it to c. */
void client_sendf(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returns a new buffer holding the formatted line plus CRLF, cut to fit 512 bytes
 * (after a tag section, if the line starts with '@'). */
struct msgbuf *msgbuf_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ":server NUM target " + formatted text. Use through reply(c, NAME, args...). */
void reply_numeric(struct client *c, const char *num, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define reply(c, ...) reply_numeric((c), __VA_ARGS__)

/* Standard reply: ":server FAIL|WARN|NOTE <command> <code> [<context>] :<description>".
 * context may be NULL. */
void reply_standard(struct client *c, const char *type, const char *command, const char *code,
                    const char *context, const char *description);

/* The nick a reply addresses: the client's nick, or "*" before it has one. */
const char *reply_target(const struct client *c);

#endif
