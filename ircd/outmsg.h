/* outmsg.h - a message relayed to many clients (PRIVMSG, JOIN, QUIT...), serialized
 * lazily once per tag variant: clients that negotiated the same tag capabilities
 * (message-tags, server-time, account-tag) share one msgbuf. */
#ifndef PARLEY_OUTMSG_H
#define PARLEY_OUTMSG_H

#include "msgbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;

#define OUTMSG_VARIANTS 8

struct outmsg {
	long long time_ms;      /* server time, ms since the epoch; formatted only for V_TIME */
	unsigned long long seq; /* the msgid's value, 0 if the message carries none */
	char msgid[20];         /* "" if the message carries none */
	char account[72];       /* account-tag value, "" when not logged in */
	bool bot;               /* sender has +B: tag "bot" */
	bool relayed;           /* PRIVMSG/NOTICE/TAGMSG: each copy sent counts as a delivery */
	const char *client_tags; /* escaped "+a=b;+c" client-only tags, or NULL */
	size_t body_len;
	struct msgbuf *variant[OUTMSG_VARIANTS];
	char body[520];         /* ":source COMMAND params\r\n", inline; past 512 only to see where a cut lands */
};

/* Starts a message with the formatted body (no CRLF in fmt); stamps the current time,
 * and a new msgid when with_msgid. client_tags is borrowed and must outlive o. */
void outmsg_init(struct outmsg *o, bool with_msgid, const char *client_tags, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The PRIVMSG/NOTICE/TAGMSG fast path: ":prefix cmd target[ :text]" with a msgid, built
 * by copying rather than formatting (text NULL for TAGMSG). */
void outmsg_init_msg(struct outmsg *o, const char *client_tags, const char *prefix, const char *cmd,
                     const char *target, const char *text);

/* Reads a msgid this network issues (16 hex digits then the origin's SID, or the 16
 * digits alone as stored by earlier versions) as its seq; false if it is not one. */
bool outmsg_msgid_seq(const char *msgid, unsigned long long *seq);

/* The bits of a server's SID in its msgids' history keys: two Parley nodes with equal
 * values could issue the same key in one millisecond, so they must not share a network. */
unsigned outmsg_node_bits(const char *sid);

/* The smallest msgid value (seq) any message started after this call will have: where a
 * channel's lifetime, or a nick's holder, begins in history. */
unsigned long long outmsg_seq_floor(void);

/* Marks o as coming from sender: its account (account-tag) and bot flag. */
void outmsg_from(struct outmsg *o, const struct client *sender);

/* Returns the buffer for recipient to (borrowed: valid until outmsg_release). */
struct msgbuf *outmsg_for(struct outmsg *o, const struct client *to);

/* Queues the right variant to to (through its reply context and SendQ checks), and to
 * the other sessions of its user (multiclient). */
void outmsg_send(struct outmsg *o, struct client *to);

/* The same, for those of to's connections whose caps have all of need and none of skip
 * (each session has its own). */
void outmsg_send_caps(struct outmsg *o, struct client *to, uint32_t need, uint32_t skip);

/* Only to the connection a reply to `to` goes to (an echo to the asker). */
void outmsg_send_one(struct outmsg *o, struct client *to);

/* Drops the variants and the body. */
void outmsg_release(struct outmsg *o);

/* Writes ms (since the epoch) as an IRCv3 server-time value, "2026-11-25T19:46:00.123Z";
 * out holds at least OUTMSG_TIME_LEN bytes. */
#define OUTMSG_TIME_LEN 25
void outmsg_format_time(long long ms, char *out);

/* Parses a server-time value ("2026-11-25T19:46:00.123Z", the fraction optional) into
 * ms since the epoch; -1 if it is not one. */
long long outmsg_parse_time(const char *t);

/* A message relayed from another server keeps what its origin gave it: its msgid (when
 * it is one of ours: 16 lowercase hex digits; otherwise o keeps its own) and its time
 * (when time_ms >= 0). */
void outmsg_set_origin(struct outmsg *o, const char *msgid, long long time_ms);

#endif
