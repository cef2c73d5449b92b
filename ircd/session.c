/* session.c - multiclient: extra connections of a logged-in user (see session.h). */
#include "session.h"

#include "alwayson.h"
#include "cap.h"
#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "command.h"
#include "dict.h"
#include "history.h"
#include "ircd.h"
#include "log.h"
#include "monitor.h"
#include "outmsg.h"
#include "parse.h"
#include "reply.h"
#include "uid.h"

#include <stdio.h>
#include <string.h>

void channel_send_state(struct client *c, struct channel *ch); /* cmd_channel.c */

bool session_may_attach(const struct client *c, const char *nick)
{
	const struct client *u = client_find(nick);
	/* a user on another node has its sessions there: this connection cannot be one */
	if (!u || u == c || u->server || !client_registered(u) || !u->account[0])
		return false;
	/* an always-on user without a connection is taken over, multiclient or not */
	if (ircd.conf->max_sessions < 2 && !(u->flags & CLI_GHOST))
		return false;
	/* only a client that can still log in before registering: SASL (CAP) or PASS */
	return c->account[0] || (c->flags & CLI_CAP_WAIT) || c->sasl_mech[0] || c->pass;
}

struct client *session_asker(struct client *c) { return c->rctx ? c->rctx->client : c; }

/* While a session's command (or burst) runs on its user: the user takes the session's
 * caps, so capability checks and tag variants are the session's, and its reply context,
 * so what is sent to the user as a reply goes to the session (client_send). */
static void enter(struct client *s, struct reply_ctx *ctx, const char *label)
{
	struct client *u = s->session_of;
	reply_ctx_begin(ctx, s, label);
	u->rctx = ctx;
	u->own_caps = u->caps;
	u->own_cap_version = u->cap_version;
	u->caps = s->caps;
	u->cap_version = s->cap_version;
}

static void leave(struct client *s, struct client *u, struct reply_ctx *ctx)
{
	s->caps = u->caps; /* CAP REQ from the session changed them */
	s->cap_version = u->cap_version;
	u->caps = u->own_caps;
	u->cap_version = u->own_cap_version;
	u->rctx = NULL;
	reply_ctx_end(ctx);
}

void session_dispatch(struct client *s, struct msg *m)
{
	struct client *u = s->session_of;
	struct reply_ctx ctx;
	enter(s, &ctx, msg_tag(m, "label"));
	command_run(u, m);
	leave(s, u, &ctx);
}

struct client *session_resume(struct client *c, struct reply_ctx *ctx)
{
	if (!c->session_of)
		return c;
	enter(c, ctx, NULL);
	return c->session_of;
}

void session_suspend(struct client *c, struct client *u, struct reply_ctx *ctx)
{
	if (u != c)
		leave(c, u, ctx);
}

void session_sync(struct client *u)
{
	for (struct client *s = u->sessions; s; s = s->session_next) {
		memcpy(s->nick, u->nick, sizeof s->nick);
		memcpy(s->user, u->user, sizeof s->user);
		memcpy(s->host, u->host, sizeof s->host);
		memcpy(s->realname, u->realname, sizeof s->realname);
		memcpy(s->prefix, u->prefix, sizeof s->prefix);
		s->umodes = u->umodes;
		memcpy(s->account, u->account, sizeof s->account);
		s->nick_since = u->nick_since;
	}
}

/* The attached session gets the user's channels as if it had joined them. */
static void burst(struct client *s)
{
	struct client *u = s->session_of;
	struct reply_ctx ctx;
	enter(s, &ctx, NULL);
	for (struct membership *m = u->channels; m; m = m->client_next) {
		if (client_has_cap(u, CAP_EXTENDED_JOIN))
			client_sendf(u, ":%s JOIN %s %s :%s", u->prefix, m->chan->name, u->account, u->realname);
		else
			client_sendf(u, ":%s JOIN %s", u->prefix, m->chan->name);
		channel_send_state(u, m->chan);
	}
	leave(s, u, &ctx);
}

/* Tells c its nick is taken (and why, when it is the session limit) and takes the nick
 * back: it stays unregistered and may send another NICK. */
static void refuse(struct client *c, const struct client *u)
{
	char nick[NICK_MAX + 1];
	memcpy(nick, c->nick, sizeof nick);
	c->nick[0] = '\0';
	if (u) {
		char why[96];
		snprintf(why, sizeof why, "Your account already has %d sessions, the limit", ircd.conf->max_sessions);
		reply_standard(c, "FAIL", "NICK", "TOO_MANY_SESSIONS", nick, why);
	}
	reply(c, ERR_NICKNAMEINUSE, nick);
}

bool session_attach(struct client *c)
{
	char nick[NICK_MAX + 1];
	memcpy(nick, c->nick, sizeof nick);
	struct client *u = client_find(nick);
	if (!u) { /* the holder left meanwhile: an ordinary registration */
		client_set_nick(c, nick);
		return false;
	}
	if (!c->account[0] || u->server || !client_registered(u) || casemap_cmp(u->account, c->account) != 0) {
		refuse(c, NULL);
		return false;
	}
	if (1 + u->nsessions >= (unsigned)ircd.conf->max_sessions) {
		refuse(c, u);
		return false;
	}
	c->session_of = u;
	c->session_next = u->sessions;
	u->sessions = c;
	u->nsessions++;
	ircd.nsessions++;
	session_sync(u);
	c->last_message = u->last_message;
	log_conn("attached %llu to %s (account %s, %u sessions)", (unsigned long long)c->id, u->nick, u->account,
	         u->nsessions + 1);
	return true;
}

void session_start(struct client *s)
{
	burst(s);
	readmarker_session_start(s);
}

void session_detach(struct client *s)
{
	struct client *u = s->session_of;
	for (struct client **pp = &u->sessions; *pp; pp = &(*pp)->session_next)
		if (*pp == s) {
			*pp = s->session_next;
			u->nsessions--;
			ircd.nsessions--;
			break;
		}
	s->session_of = NULL;
}

void session_exit_user(struct client *u, const char *reason)
{
	while (u->sessions)
		client_exit(u->sessions, reason); /* detaches it */
	client_exit(u, reason);
}

bool session_handover(struct client *u)
{
	struct client *n = u->sessions;
	if (!n)
		return false;
	n->session_of = NULL;
	n->sessions = n->session_next;
	n->session_next = NULL;
	n->nsessions = u->nsessions - 1;
	ircd.nsessions--;
	for (struct client *s = n->sessions; s; s = s->session_next)
		s->session_of = n;
	u->sessions = NULL;
	u->nsessions = 0;
	n->flags |= CLI_REGISTERED;
	n->channels = u->channels;
	n->nchannels = u->nchannels;
	for (struct membership *m = n->channels; m; m = m->client_next)
		m->client = n;
	u->channels = NULL;
	u->nchannels = 0;
	n->away = u->away;
	u->away = NULL;
	n->silence = u->silence;
	n->nsilence = u->nsilence;
	u->silence = NULL;
	u->nsilence = 0;
	memcpy(n->oper_name, u->oper_name, sizeof n->oper_name);
	n->privs = u->privs;
	n->umodes = u->umodes;
	n->last_message = u->last_message;
	/* the network knows the user by its UID and nick TS: they stay with the user */
	uid_del(u);
	uid_del(n);
	memcpy(n->uid, u->uid, sizeof n->uid);
	u->uid[0] = '\0';
	n->nick_ts = u->nick_ts;
	uid_add(n);
	monitor_move(u, n);
	channel_invites_move(u->id, n->id);
	if (client_find(u->nick) == u)
		dict_put(ircd.nicks, u->nick, n);
	alwayson_touch(n); /* its stored presence follows the new id */
	log_conn("handover of %s from %llu to %llu", n->nick, (unsigned long long)u->id, (unsigned long long)n->id);
	return true;
}

void session_each_other(struct client *c, void (*fn)(struct client *x, void *arg), void *arg)
{
	struct client *u = c->session_of ? c->session_of : c;
	struct client *asker = session_asker(u);
	if (asker != u) { /* the user's own connection, outside the session's command */
		struct reply_ctx *ctx = u->rctx;
		uint32_t caps = u->caps;
		u->rctx = NULL;
		u->caps = u->own_caps;
		fn(u, arg);
		u->caps = caps;
		u->rctx = ctx;
	}
	for (struct client *s = u->sessions; s; s = s->session_next)
		if (s != asker)
			fn(s, arg);
}

static void send_line(struct client *x, void *arg) { client_send(x, arg); }

void session_send_all(struct client *u, struct msgbuf *b)
{
	client_send(u, b); /* the asker, through its reply context */
	session_each_other(u, send_line, b);
}

void session_send_others(struct outmsg *o, struct client *c, uint32_t need, uint32_t skip)
{
	struct client *u = c->session_of ? c->session_of : c;
	struct client *asker = session_asker(u);
	if (asker != u && (u->own_caps & need) == need && !(u->own_caps & skip)) {
		uint32_t caps = u->caps;
		u->caps = u->own_caps; /* the variant for the user's own connection */
		client_send_direct(u, outmsg_for(o, u));
		u->caps = caps;
	}
	for (struct client *s = u->sessions; s; s = s->session_next)
		if (s != asker && (s->caps & need) == need && !(s->caps & skip))
			client_send(s, outmsg_for(o, s));
}
