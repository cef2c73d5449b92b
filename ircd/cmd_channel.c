/* cmd_channel.c - JOIN, PART, TOPIC, NAMES, LIST, INVITE, KICK. */
#include "route.h"
#include "cap.h"
#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "command.h"
#include "ircd.h"
#include "match.h"
#include "mode.h"
#include "outmsg.h"
#include "parse.h"
#include "history.h"
#include "reply.h"
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *next_item(char **save, char *list) { return strtok_r(list, ",", save); }

/* Sends the RPL_NAMREPLY lines for ch (the caller sends RPL_ENDOFNAMES). */
static void names_lines(struct client *c, struct channel *ch)
{
	bool member = channel_member(ch, c) != NULL;
	bool multi = client_has_cap(c, CAP_MULTI_PREFIX);
	bool uhnames = client_has_cap(c, CAP_USERHOST_IN_NAMES);
	char symbol[2] = {ch->modes & CMODE('s') ? '@' : ch->modes & CMODE('p') ? '*' : '=', '\0'};
	char line[512];
	size_t len = 0;
	/* fixed part ":server 353 nick = #chan :" must fit with the list in 512 bytes */
	size_t room = 480 - strlen(ircd.conf->server_name) - strlen(c->nick) - strlen(ch->name);
	if (room > sizeof line - 1)
		room = sizeof line - 1;
	for (struct membership *m = ch->members; m; m = m->chan_next) {
		if (!member && (m->client->umodes & UMODE('i')))
			continue;
		char prefix[4], item[PREFIX_MAX + 8];
		channel_prefix(m->status, multi, prefix);
		snprintf(item, sizeof item, "%s%s", prefix, uhnames ? m->client->prefix : m->client->nick);
		if (len && len + strlen(item) + 1 > room) {
			reply(c, RPL_NAMREPLY, symbol, ch->name, line);
			len = 0;
		}
		len += (size_t)snprintf(line + len, sizeof line - len, "%s%s", len ? " " : "", item);
	}
	if (len)
		reply(c, RPL_NAMREPLY, symbol, ch->name, line);
}

void channel_send_names(struct client *c, struct channel *ch)
{
	names_lines(c, ch);
	reply(c, RPL_ENDOFNAMES, ch->name);
}

static void send_topic(struct client *c, struct channel *ch, bool say_none)
{
	if (!ch->topic) {
		if (say_none)
			reply(c, RPL_NOTOPIC, ch->name);
		return;
	}
	reply(c, RPL_TOPIC, ch->name, ch->topic);
	reply(c, RPL_TOPICWHOTIME, ch->name, ch->topic_setter, (long long)ch->topic_time);
}

void channel_send_state(struct client *c, struct channel *ch)
{
	send_topic(c, ch, false);
	channel_send_names(c, ch);
}

static bool invited(const struct channel *ch, const struct client *c)
{
	for (unsigned i = 0; i < ch->ninvites; i++)
		if (ch->invites[i] == c->id)
			return true;
	return false;
}

/* Checks the channel's entry modes; replies and returns false when c may not join. */
static bool may_join(struct client *c, struct channel *ch, const char *key)
{
	bool inv = invited(ch, c);
	enum service_admit access = services_channel_admits(c, ch);
	bool door = inv || access != ADMIT_NONE;
	if ((ch->modes & CMODE('i')) && !door && !channel_list_match(ch, LIST_INVEX, c)) {
		reply(c, ERR_INVITEONLYCHAN, ch->name);
		return false;
	}
	if (ch->key[0] && !door && (!key || strcmp(key, ch->key) != 0)) {
		reply(c, ERR_BADCHANNELKEY, ch->name);
		return false;
	}
	if (ch->limit && ch->nmembers >= ch->limit && !door) {
		reply(c, ERR_CHANNELISFULL, ch->name);
		return false;
	}
	if (channel_banned(ch, c) && !inv && access != ADMIT_ALL) {
		reply(c, ERR_BANNEDFROMCHAN, ch->name);
		return false;
	}
	if ((ch->modes & CMODE('R')) && !c->account[0]) {
		reply(c, ERR_NEEDREGGEDNICK, ch->name);
		return false;
	}
	return true;
}

static void announce_join(struct client *c, struct channel *ch)
{
	struct outmsg plain, ext;
	outmsg_init(&plain, false, NULL, ":%s JOIN %s", c->prefix, ch->name);
	outmsg_from(&plain, c);
	outmsg_init(&ext, false, NULL, ":%s JOIN %s %s :%s", c->prefix, ch->name, c->account[0] ? c->account : "*",
	             c->realname);
	outmsg_from(&ext, c);
	channel_send(ch, &plain, NULL, 0, 0, CAPF(CAP_EXTENDED_JOIN));
	channel_send(ch, &ext, NULL, 0, CAPF(CAP_EXTENDED_JOIN), 0);
	outmsg_release(&plain);
	outmsg_release(&ext);
	if (c->away) {
		struct outmsg away;
		outmsg_init(&away, false, NULL, ":%s AWAY :%s", c->prefix, c->away);
	outmsg_from(&away, c);
		channel_send(ch, &away, c, 0, CAPF(CAP_AWAY_NOTIFY), 0);
		outmsg_release(&away);
	}
}

static void join_one(struct client *c, const char *name, const char *key)
{
	if (!channel_name_valid(name)) {
		reply(c, ERR_NOSUCHCHANNEL, name);
		return;
	}
	struct channel *ch = channel_find(name);
	if (ch && channel_member(ch, c))
		return;
	if (c->nchannels >= CHANNELS_PER_CLIENT) {
		reply(c, ERR_TOOMANYCHANNELS, name);
		return;
	}
	unsigned status = 0;
	bool created = !ch;
	if (!ch) {
		ch = channel_create(name);
		status = MEMBER_OP;
	} else if (!may_join(c, ch, key)) {
		return;
	}
	if (ch->nmembers == 0 && ch->registered)
		status = 0; /* ChanServ decides who gets +o in a registered room */
	channel_add(ch, c, status);
	route_join(c, ch, created || (ch->nmembers == 1 && status));
	announce_join(c, ch);
	send_topic(c, ch, false);
	names_lines(c, ch);
	readmarker_joined(c, ch); /* the spec wants it before the end of NAMES */
	reply(c, RPL_ENDOFNAMES, ch->name);
	services_channel_joined(c, ch);
	if (!client_dead(c) && channel_member(ch, c))
		history_replay_join(c, ch);
}

static void part_one(struct client *c, struct channel *ch, const char *reason)
{
	struct outmsg o;
	if (reason)
		outmsg_init(&o, false, NULL, ":%s PART %s :%s", c->prefix, ch->name, reason);
	else
		outmsg_init(&o, false, NULL, ":%s PART %s", c->prefix, ch->name);
	outmsg_from(&o, c);
	channel_send(ch, &o, NULL, 0, 0, 0);
	outmsg_release(&o);
	route_part(c, ch, reason);
	channel_remove(ch, c);
}

/* SAJOIN: joins c to name whatever the channel's modes. */
void channel_join_forced(struct client *c, const char *name)
{
	if (!channel_name_valid(name))
		return;
	struct channel *ch = channel_find(name);
	if (ch && channel_member(ch, c))
		return;
	unsigned status = ch ? 0 : MEMBER_OP;
	if (!ch)
		ch = channel_create(name);
	channel_add(ch, c, status);
	route_join(c, ch, status != 0);
	announce_join(c, ch);
	send_topic(c, ch, false);
	channel_send_names(c, ch);
}

/* SAPART */
void channel_part_forced(struct client *c, const char *name)
{
	struct channel *ch = channel_find(name);
	if (ch && channel_member(ch, c))
		part_one(c, ch, "Removed by an operator");
}

void cmd_join(struct client *c, struct msg *m)
{
	if (strcmp(m->params[0], "0") == 0) {
		while (c->channels)
			part_one(c, c->channels->chan, NULL);
		return;
	}
	char names[512], keys[512];
	snprintf(names, sizeof names, "%s", m->params[0]);
	snprintf(keys, sizeof keys, "%s", m->nparams > 1 ? m->params[1] : "");
	char *ns, *ks;
	const char *key = next_item(&ks, keys);
	for (const char *name = next_item(&ns, names); name && !client_dead(c); name = next_item(&ns, NULL)) {
		join_one(c, name, key);
		if (key)
			key = next_item(&ks, NULL);
	}
}

/* UTF8ONLY: free text that is not UTF-8 is refused, never relayed. */
static bool text_ok(struct client *c, const char *cmd, const char *text)
{
	if (!text || utf8_valid(text, strlen(text)))
		return true;
	reply_standard(c, "FAIL", cmd, "INVALID_UTF8", NULL, "Message rejected, your IRC software MUST use UTF-8 encoding on this network");
	return false;
}

void cmd_part(struct client *c, struct msg *m)
{
	char names[512];
	snprintf(names, sizeof names, "%s", m->params[0]);
	const char *reason = m->nparams > 1 && *m->params[1] ? m->params[1] : NULL;
	if (!text_ok(c, "PART", reason))
		return;
	char *save;
	for (const char *name = next_item(&save, names); name; name = next_item(&save, NULL)) {
		struct channel *ch = channel_find(name);
		if (!ch)
			reply(c, ERR_NOSUCHCHANNEL, name);
		else if (!channel_member(ch, c))
			reply(c, ERR_NOTONCHANNEL, name);
		else
			part_one(c, ch, reason);
	}
}

void cmd_topic(struct client *c, struct msg *m)
{
	struct channel *ch = channel_find(m->params[0]);
	if (!ch) {
		reply(c, ERR_NOSUCHCHANNEL, m->params[0]);
		return;
	}
	struct membership *me = channel_member(ch, c);
	if (m->nparams < 2) {
		if (!me && (ch->modes & (CMODE('s') | CMODE('p'))))
			reply(c, ERR_NOTONCHANNEL, ch->name);
		else
			send_topic(c, ch, true);
		return;
	}
	if (!me) {
		reply(c, ERR_NOTONCHANNEL, ch->name);
		return;
	}
	if ((ch->modes & CMODE('t')) && !(me->status & MEMBER_OP)) {
		reply(c, ERR_CHANOPRIVSNEEDED, ch->name);
		return;
	}
	if (!text_ok(c, "TOPIC", m->params[1]))
		return;
	free(ch->topic);
	ch->topic = NULL;
	if (*m->params[1]) {
		ch->topic = strndup(m->params[1], TOPIC_MAX);
		if (!ch->topic)
			abort();
	}
	snprintf(ch->topic_setter, sizeof ch->topic_setter, "%s", c->prefix);
	ch->topic_time = time(NULL);
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s TOPIC %s :%s", c->prefix, ch->name, ch->topic ? ch->topic : "");
	outmsg_from(&o, c);
	channel_send(ch, &o, NULL, 0, 0, 0);
	outmsg_release(&o);
	route_topic(c, ch);
	services_channel_topic_changed(c, ch);
}

void cmd_names(struct client *c, struct msg *m)
{
	if (m->nparams < 1) {
		reply(c, RPL_ENDOFNAMES, "*");
		return;
	}
	char names[512];
	snprintf(names, sizeof names, "%s", m->params[0]);
	char *save;
	for (const char *name = next_item(&save, names); name; name = next_item(&save, NULL)) {
		struct channel *ch = channel_find(name);
		if (ch && channel_visible(ch, c))
			names_lines(c, ch);
	}
	/* one end marker naming the whole request (RFC 2812, as irctest expects) */
	reply(c, RPL_ENDOFNAMES, m->params[0]);
}

/* LIST filters (ELIST=CMNTU): user counts, creation and topic age in minutes, masks. */
struct list_filter {
	long min_users, max_users;   /* -1: unset */
	long created_before, created_after, topic_before, topic_after; /* minutes ago; -1 unset */
	const char *masks[16];
	bool negate[16];
	int nmasks;
};

static void list_filter_parse(struct list_filter *f, char *spec)
{
	*f = (struct list_filter){-1, -1, -1, -1, -1, -1, {0}, {0}, 0};
	char *save;
	for (char *t = strtok_r(spec, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (t[0] == '>' || t[0] == '<') {
			long v = strtol(t + 1, NULL, 10);
			if (t[0] == '>')
				f->min_users = v + 1;
			else
				f->max_users = v - 1;
		} else if ((t[0] == 'C' || t[0] == 'T') && (t[1] == '<' || t[1] == '>')) {
			long v = strtol(t + 2, NULL, 10);
			/* "C<n": created less than n minutes ago; "C>n": more than n minutes ago */
			long *slot = t[0] == 'C' ? (t[1] == '<' ? &f->created_after : &f->created_before)
			                         : (t[1] == '<' ? &f->topic_after : &f->topic_before);
			*slot = v;
		} else if (f->nmasks < 16) {
			f->negate[f->nmasks] = t[0] == '!';
			f->masks[f->nmasks++] = t + (t[0] == '!');
		}
	}
}

static bool list_filter_pass(const struct list_filter *f, const struct channel *ch)
{
	time_t now = time(NULL);
	long age = (long)(now - ch->created) / 60, tage = (long)(now - ch->topic_time) / 60;
	if ((f->min_users >= 0 && (long)ch->nmembers < f->min_users) ||
	    (f->max_users >= 0 && (long)ch->nmembers > f->max_users))
		return false;
	if ((f->created_after >= 0 && age >= f->created_after) || (f->created_before >= 0 && age <= f->created_before))
		return false;
	if (f->topic_after >= 0 && (!ch->topic || tage >= f->topic_after))
		return false;
	if (f->topic_before >= 0 && (!ch->topic || tage <= f->topic_before))
		return false;
	bool any_positive = false, matched = false;
	for (int i = 0; i < f->nmasks; i++) {
		bool hit = match_mask(f->masks[i], ch->name);
		if (f->negate[i] && hit)
			return false;
		if (!f->negate[i]) {
			any_positive = true;
			matched |= hit;
		}
	}
	return !any_positive || matched;
}

struct list_ctx {
	struct client *c;
	struct list_filter f;
};

static void list_one(struct channel *ch, void *arg)
{
	struct list_ctx *x = arg;
	if (!channel_visible(ch, x->c) || !list_filter_pass(&x->f, ch))
		return;
	char modes[64], text[TOPIC_MAX + 480];
	mode_channel_string(ch, 0, modes, sizeof modes);
	const char *desc = services_channel_description(ch);
	/* a registered room's description follows its topic, so LIST finds it */
	snprintf(text, sizeof text, "[%s] %s%s%s", modes, ch->topic ? ch->topic : "",
	         desc ? (ch->topic ? " -- " : "") : "", desc ? desc : "");
	reply(x->c, RPL_LIST, ch->name, ch->nmembers, text);
}

void cmd_list(struct client *c, struct msg *m)
{
	struct list_ctx x = {.c = c};
	char spec[512] = "";
	if (m->nparams > 0)
		snprintf(spec, sizeof spec, "%s", m->params[0]);
	list_filter_parse(&x.f, spec);
	reply(c, RPL_LISTSTART);
	channel_each(list_one, &x);
	reply(c, RPL_LISTEND);
}

void cmd_invite(struct client *c, struct msg *m)
{
	struct client *t = client_find(m->params[0]);
	const char *name = m->params[1];
	if (!t || !client_registered(t)) {
		reply(c, ERR_NOSUCHNICK, m->params[0]);
		return;
	}
	struct channel *ch = channel_find(name);
	if (!ch) {
		reply(c, ERR_NOSUCHCHANNEL, name);
		return;
	}
	struct membership *me = channel_member(ch, c);
	if (!me) {
		reply(c, ERR_NOTONCHANNEL, ch->name);
		return;
	}
	if ((ch->modes & CMODE('i')) && !(me->status & MEMBER_OP)) {
		reply(c, ERR_CHANOPRIVSNEEDED, ch->name);
		return;
	}
	if (channel_member(ch, t)) {
		reply(c, ERR_USERONCHANNEL, t->nick, ch->name);
		return;
	}
	/* +R keeps out users who are not logged in: on a channel, their invitations too (a
	 * member who joined before +R was set); on a user, their INVITEs as their messages */
	if ((ch->modes & CMODE('R')) && !c->account[0]) {
		reply(c, ERR_NEEDREGGEDNICK_INVITE, ch->name);
		return;
	}
	if ((t->umodes & UMODE('R')) && !c->account[0]) {
		reply(c, ERR_NEEDREGGEDNICKMSG, t->nick);
		return;
	}
	channel_invite_add(ch, t);
	reply(c, RPL_INVITING, t->nick, ch->name);
	if (t->away)
		reply(c, RPL_AWAY, t->nick, t->away);
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s INVITE %s %s", c->prefix, t->nick, ch->name);
	outmsg_from(&o, c);
	if (!client_silences(t, c))
		outmsg_send(&o, t);
	channel_send(ch, &o, c, MEMBER_OP, CAPF(CAP_INVITE_NOTIFY), 0);
	outmsg_release(&o);
}

static void kick_one(struct client *c, const char *chan, const char *nick, const char *reason)
{
	struct channel *ch = channel_find(chan);
	if (!ch) {
		reply(c, ERR_NOSUCHCHANNEL, chan);
		return;
	}
	struct membership *me = channel_member(ch, c);
	if (!me) {
		reply(c, ERR_NOTONCHANNEL, ch->name);
		return;
	}
	if (!(me->status & MEMBER_OP)) {
		reply(c, ERR_CHANOPRIVSNEEDED, ch->name);
		return;
	}
	struct client *t = client_find(nick);
	if (!t || !channel_member(ch, t)) {
		reply(c, ERR_USERNOTINCHANNEL, nick, ch->name);
		return;
	}
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s KICK %s %s :%.*s", c->prefix, ch->name, t->nick, TOPIC_MAX, reason);
	outmsg_from(&o, c);
	channel_send(ch, &o, NULL, 0, 0, 0);
	outmsg_release(&o);
	route_kick(c, ch, t, reason);
	channel_remove(ch, t);
}

/* KICK #chan a,b (one channel, several users) or KICK #a,#b x,y (in pairs). */
void cmd_kick(struct client *c, struct msg *m)
{
	enum { KICK_MAX = 4 };
	char chans[512], nicks[512];
	const char *chan[KICK_MAX], *nick[KICK_MAX];
	int nc = 0, nn = 0;
	snprintf(chans, sizeof chans, "%s", m->params[0]);
	snprintf(nicks, sizeof nicks, "%s", m->params[1]);
	char *s1, *s2;
	for (const char *t = next_item(&s1, chans); t && nc < KICK_MAX; t = next_item(&s1, NULL))
		chan[nc++] = t;
	for (const char *t = next_item(&s2, nicks); t && nn < KICK_MAX; t = next_item(&s2, NULL))
		nick[nn++] = t;
	if (nc == 0 || nn == 0) {
		reply(c, ERR_NEEDMOREPARAMS, "KICK");
		return;
	}
	const char *reason = m->nparams > 2 && *m->params[2] ? m->params[2] : c->nick;
	if (!text_ok(c, "KICK", reason))
		return;
	for (int i = 0; i < nn && (nc == 1 || i < nc); i++)
		kick_one(c, chan[nc == 1 ? 0 : i], nick[i], reason);
}
