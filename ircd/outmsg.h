/* outmsg.h - a message relayed to many clients (PRIVMSG, JOIN, QUIT...), serialized
 * lazily once per tag variant: clients that negotiated the same tag capabilities
 * (message-tags, server-time, account-tag) share one msgbuf. */
#ifndef PARLEY_OUTMSG_H
#define PARLEY_OUTMSG_H

#include "msgbuf.h"

#include <stdbool.h>
#include <stddef.h>

struct client;

#define OUTMSG_VARIANTS 8

struct outmsg {
	char time[32];          /* server-time value */
	char msgid[24];         /* "" if the message carries none */
	char account[72];       /* account-tag value, "" when not logged in */
	bool bot;               /* sender has +B: tag "bot" */
	const char *client_tags; /* escaped "+a=b;+c" client-only tags, or NULL */
	char *body;             /* ":source COMMAND params\r\n", owned */
	size_t body_len;
	struct msgbuf *variant[OUTMSG_VARIANTS];
};

/* Starts a message with the formatted body (no CRLF in fmt); stamps the current time,
 * and a new msgid when with_msgid. client_tags is borrowed and must outlive o. */
void outmsg_init(struct outmsg *o, bool with_msgid, const char *client_tags, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Marks o as coming from sender: its account (account-tag) and bot flag. */
void outmsg_from(struct outmsg *o, const struct client *sender);

/* Returns the buffer for recipient to (borrowed: valid until outmsg_release). */
struct msgbuf *outmsg_for(struct outmsg *o, const struct client *to);

/* Queues the right variant to to (through its reply context and SendQ checks). */
void outmsg_send(struct outmsg *o, struct client *to);

/* Drops the variants and the body. */
void outmsg_release(struct outmsg *o);

/* Writes a new unique, lexically sortable message id into out (at least 17 bytes). */
void outmsg_new_msgid(char *out, size_t size);

/* Writes the current time as an IRCv3 server-time value. */
void outmsg_time_now(char *out, size_t size);

#endif
