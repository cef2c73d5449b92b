/* cmd_message.c - PRIVMSG, NOTICE and TAGMSG to channels and users. Each message gets
 * one msgid and one timestamp, shared by every recipient and the echo to the sender. */
#include "route.h"
#include "cap.h"
#include "channel.h"
#include "client.h"
#include "command.h"
#include "ircd.h"
#include "outmsg.h"
#include "parse.h"
#include "history.h"
#include "metrics.h"
#include "reply.h"
#include "session.h"
#include "service.h"

#include <stdio.h>
#include <string.h>

#define TARGETS_MAX 4

/* Returns true if c may speak in ch (replies 404 when quiet is false). */
static bool can_send(struct client *c, struct channel *ch)
{
	struct membership *m = channel_member(ch, c);
	if (!m)
		return !(ch->modes & CMODE('n')) && !(ch->modes & CMODE('m')) && !channel_banned(ch, c);
	if (m->status & (MEMBER_OP | MEMBER_VOICE))
		return true;
	return !(ch->modes & CMODE('m')) && !channel_banned(ch, c);
}

struct relay {
	const char *cmd;
	bool notice, tagmsg;
	const char *text;
	const char *tags;
};

static bool to_channel(struct client *c, const struct relay *r, const char *target, struct outmsg *o)
{
	unsigned need = 0;
	const char *name = target;
	if (*name == '@' || *name == '+') {
		need = *name == '@' ? MEMBER_OP : MEMBER_OP | MEMBER_VOICE;
		name++;
	}
	struct channel *ch = channel_find(name);
	if (!ch) {
		if (!r->notice)
			reply(c, ERR_NOSUCHCHANNEL, name);
		return false;
	}
	if (!can_send(c, ch)) {
		if (!r->notice)
			reply(c, ERR_CANNOTSENDTOCHAN, ch->name);
		return false;
	}
	channel_send(ch, o, c, need, r->tagmsg ? CAPF(CAP_MESSAGE_TAGS) : 0, 0);
	if (ch->nremote)
		route_channel_message(c, r->cmd, ch, target, r->text, o);
	if (!need) /* STATUSMSG is for a few members only: not channel history */
		history_record(o, c, r->cmd, ch->name, NULL, r->text, r->tags);
	return true;
}

static bool to_user(struct client *c, const struct relay *r, const char *target, struct outmsg *o)
{
	const struct service *s = service_find(target);
	if (s) {
		if (!r->notice && !r->tagmsg) {
			char text[MSG_SERVICE_BODY_MAX];
			snprintf(text, sizeof text, "%s", r->text);
			s->on_message(s, c, text);
		}
		return true;
	}
	struct client *t = client_find(target);
	if (!t || !client_registered(t)) {
		/* kept for a registered account, the sender told once it is stored */
		if (!r->tagmsg && client_nick_valid(target, NICK_MAX) &&
		    offline_keep(c, r->cmd, target, o, r->text, r->tags, client_has_cap(c, CAP_ECHO_MESSAGE)))
			return false; /* the echo and the reply come after the commit */
		if (!r->notice)
			reply(c, ERR_NOSUCHNICK, target);
		return false;
	}
	if ((t->umodes & UMODE('R')) && !c->account[0] && t != c) {
		if (!r->notice)
			reply(c, ERR_NEEDREGGEDNICKMSG, t->nick);
		return false;
	}
	if (t->server)
		route_user_message(c, r->cmd, t, r->text, o);
	else if (client_silences(t, c))
		return true; /* dropped without telling the sender */
	if ((t->flags & CLI_GHOST) && !r->tagmsg) {
		/* an always-on user without a connection: kept like an offline DM, whose rules
		 * apply (only from logged-in users); never accepted and then lost */
		if (offline_keep_for(c, r->cmd, t->nick, t->account, t->away, o, r->text, r->tags,
		                     client_has_cap(c, CAP_ECHO_MESSAGE)))
			return false;
		if (!r->notice)
			reply(c, ERR_NEEDREGGEDNICKMSG, t->nick);
		return false;
	}
	if (t == c && (!r->tagmsg || client_has_cap(t, CAP_MESSAGE_TAGS)))
		client_send_direct(c, outmsg_for(o, c)); /* the echo below is the labeled copy */
	else if (!r->tagmsg || client_has_cap(t, CAP_MESSAGE_TAGS))
		outmsg_send(o, t);
	history_record(o, c, r->cmd, t->nick, t, r->text, r->tags);
	if (t->away && !r->notice && !r->tagmsg)
		reply(c, RPL_AWAY, t->nick, t->away);
	return true;
}

static void relay(struct client *c, struct msg *m, const char *cmd, bool notice, bool tagmsg)
{
	if (m->nparams < 1 || !*m->params[0]) {
		if (!notice)
			reply(c, ERR_NORECIPIENT, cmd);
		return;
	}
	if (!tagmsg && (m->nparams < 2 || !*m->params[1])) {
		if (!notice)
			reply(c, ERR_NOTEXTTOSEND);
		return;
	}
	struct relay r = {cmd, notice, tagmsg, tagmsg ? NULL : m->params[1], NULL};
	if (r.text && !utf8_valid(r.text, strlen(r.text))) {
		reply_standard(c, "FAIL", cmd, "INVALID_UTF8", NULL, "Message rejected, your IRC software MUST use UTF-8 encoding on this network");
		return;
	}
	char tags[CLIENT_TAG_DATA_MAX + 64];
	if (!msg_client_tags(m, tags, sizeof tags)) {
		reply(c, ERR_INPUTTOOLONG);
		return;
	}
	r.tags = tags[0] ? tags : NULL;
	char targets[512];
	str_copy(targets, sizeof targets, m->params[0]);
	char *save;
	int n = 0;
	c->last_message = ev_now(EV_DEFAULT);
	for (char *t = strtok_r(targets, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (++n > TARGETS_MAX) {
			if (!notice)
				reply(c, ERR_TOOMANYTARGETS, t);
			break;
		}
		struct outmsg o;
		outmsg_init_msg(&o, tags, c->prefix, cmd, t, r.text);
		outmsg_from(&o, c);
		bool is_chan = t[0] == '#' || ((t[0] == '@' || t[0] == '+') && t[1] == '#');
		bool sent = is_chan ? to_channel(c, &r, t, &o) : to_user(c, &r, t, &o);
		metrics.relayed[tagmsg ? METRICS_TAGMSG : notice ? METRICS_NOTICE : METRICS_PRIVMSG] += sent;
		if (sent && client_has_cap(c, CAP_ECHO_MESSAGE) && (!tagmsg || client_has_cap(c, CAP_MESSAGE_TAGS)))
			outmsg_send_one(&o, c);
		/* the user's other sessions get a copy whatever their caps (self-message); not of a
		 * line to a service, which may carry a password */
		if (sent && (is_chan || !service_find(t)))
			session_send_others(&o, c, tagmsg ? CAPF(CAP_MESSAGE_TAGS) : 0, 0);
		outmsg_release(&o);
	}
}

void cmd_privmsg(struct client *c, struct msg *m) { relay(c, m, "PRIVMSG", false, false); }
void cmd_notice(struct client *c, struct msg *m) { relay(c, m, "NOTICE", true, false); }
void cmd_tagmsg(struct client *c, struct msg *m) { relay(c, m, "TAGMSG", false, true); }
