/* ts6.c - the server command table: lines from linked servers, applied to our state,
 * shown to our users and passed on to the other links (never back where they came
 * from). Sources are SIDs and UIDs. TS rules: the older channel (lower TS) keeps its
 * modes and statuses, the younger side's are dropped; a nick collision kills the newer
 * user, or both when their timestamps are equal. */
#include "server.h"

#include "account.h"
#include "ban.h"
#include "cap.h"
#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "conf.h"
#include "history.h"
#include "ircd.h"
#include "log.h"
#include "match.h"
#include "outmsg.h"
#include "parse.h"
#include "reply.h"
#include "route.h"
#include "service.h"
#include "session.h"
#include "uid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef void (*ts6_fn)(struct server *link, struct msg *m);

struct ts6_command {
	const char *name;
	ts6_fn fn;
	int min_params;
	bool before_link; /* allowed during the handshake */
};

static struct client *user_source(const struct msg *m)
{
	if (!m->source)
		return NULL;
	struct client *c = uid_find(m->source);
	return c ? c : client_find(m->source);
}

static struct server *server_source(struct server *link, const struct msg *m)
{
	if (!m->source)
		return link;
	return server_find(m->source);
}

/* The source of a line, as a user, if it is one behind this link. */
static struct client *remote_user(struct server *link, const struct msg *m)
{
	struct client *c = user_source(m);
	return c && c->server && c->server->via == link ? c : NULL;
}

/* ---- handshake ---- */

static void t_pass(struct server *link, struct msg *m)
{
	const struct conf_connect *cc = server_conf(link->name);
	if (!cc || strcmp(m->params[0], cc->accept_password) != 0) {
		server_drop(link, "Invalid password");
		return;
	}
	link->got_pass = true;
}

static void t_capab(struct server *link, struct msg *m)
{
	link->caps = m->nparams ? server_capab_parse(m->params[m->nparams - 1]) : 0;
}

static void t_server(struct server *link, struct msg *m)
{
	if (link->state == SRV_LINKED || !link->outgoing)
		return;
	const char *sid = m->params[2];
	if (!link->got_pass)
		server_drop(link, "No password");
	else if (m->nparams < 5)
		server_drop(link, "SERVER needs name, hop count, SID, flags and description");
	else if (strcasecmp(m->params[0], link->name) != 0)
		server_drop(link, "Mismatching server name");
	else if (strlen(sid) != 3 || !(sid[0] >= '0' && sid[0] <= '9') || server_find(sid) ||
	         strcmp(sid, ircd.conf->sid) == 0)
		server_drop(link, "Bogus or existing server ID");
	else if (server_msgid_clash(sid, link->caps))
		server_drop(link, server_msgid_clash(sid, link->caps));
	else {
		snprintf(link->sid, sizeof link->sid, "%s", sid);
		snprintf(link->desc, sizeof link->desc, "%s", m->params[m->nparams - 1]);
		server_established(link);
	}
}

static void t_error(struct server *link, struct msg *m)
{
	char reason[300];
	snprintf(reason, sizeof reason, "ERROR from peer: %s", m->nparams ? m->params[0] : "");
	server_drop(link, reason);
}

static void t_svinfo(struct server *link, struct msg *m)
{
	if (atoi(m->params[0]) < 6)
		server_drop(link, "Incompatible TS version");
}

static void t_ping(struct server *link, struct msg *m)
{
	const char *dest = m->nparams > 1 ? m->params[1] : NULL;
	if (!dest || strcasecmp(dest, ircd.conf->sid) == 0 || strcasecmp(dest, ircd.conf->server_name) == 0)
		server_send(link, ":%s PONG %s :%s", ircd.conf->sid, ircd.conf->server_name, m->params[0]);
}

static void t_ignore(struct server *link, struct msg *m)
{
	(void)link; /* PONG, EOB: the line itself counted as life */
	(void)m;
}

/* ---- servers ---- */

static void t_sid(struct server *link, struct msg *m)
{
	struct server *up = server_source(link, m);
	const char *name = m->params[0], *sid = m->params[2];
	if (!up || up->via != link) {
		return;
	}
	if (server_find(name) || server_find(sid) || strcmp(sid, ircd.conf->sid) == 0 ||
	    strcasecmp(name, ircd.conf->server_name) == 0) {
		server_drop(link, "Server already exists");
		return;
	}
	const char *clash = server_msgid_clash(sid, link->caps);
	if (clash) {
		server_drop(link, clash);
		return;
	}
	struct server *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	snprintf(s->name, sizeof s->name, "%s", name);
	snprintf(s->sid, sizeof s->sid, "%s", sid);
	snprintf(s->desc, sizeof s->desc, "%s", m->params[m->nparams - 1]);
	s->uplink = up;
	s->via = link;
	s->state = SRV_LINKED;
	s->conn.fd = -1;
	server_list_add(s);
	server_send_all(link, ":%s SID %s %d %s + :%s", up->sid, name, atoi(m->params[1]) + 1, sid, s->desc);
}

static void t_squit(struct server *link, struct msg *m)
{
	struct server *s = server_find(m->params[0]);
	const char *reason = m->nparams > 1 ? m->params[1] : "";
	if (!s || strcmp(m->params[0], ircd.conf->sid) == 0 || s == link) {
		server_drop(link, reason);
		return;
	}
	if (s->via != link)
		return;
	server_send_all(link, ":%s SQUIT %s :%s", m->source ? m->source : link->sid, s->sid, reason);
	server_remove(s, reason);
}

/* ---- users ---- */

/* Kills a user after a collision: ours exit, a remote one is told to its link. */
static void collide(struct client *c, struct server *except)
{
	if (!c->server) {
		client_exit(c, "Nick collision");
		return;
	}
	server_send_all(except, ":%s KILL %s :%s (Nick collision)", ircd.conf->sid, c->uid, ircd.conf->server_name);
	server_user_exit(c, "Nick collision");
}

/* A nick coming in at ts from link collides with holder: true if the newcomer may
 * take it (holder removed), false if it must go. */
static bool resolve_collision(struct server *link, struct client *holder, time_t ts)
{
	if (!holder)
		return true;
	if (holder->nick_ts == ts) {
		collide(holder, NULL);
		return false;
	}
	if (ts < holder->nick_ts) { /* the newcomer is older: ours (the newer) goes */
		collide(holder, link);
		return true;
	}
	return false;
}

static void t_uid(struct server *link, struct msg *m)
{
	struct server *s = server_source(link, m);
	if (!s || s->via != link)
		return;
	bool hybrid = m->nparams >= 11; /* nick hop ts umodes user host realhost ip uid account :gecos */
	const char *nick = m->params[0], *uid = m->params[hybrid ? 8 : 7];
	const char *user = m->params[4], *host = m->params[5], *gecos = m->params[m->nparams - 1];
	const char *account = hybrid ? m->params[9] : "*";
	time_t ts = (time_t)strtoll(m->params[2], NULL, 10);
	if (!uid_valid(uid) || strncmp(uid, s->sid, 3) != 0 || !client_nick_valid(nick, NICK_MAX)) {
		server_drop(link, "Bogus UID");
		return;
	}
	if (uid_find(uid)) {
		server_send(link, ":%s KILL %s :%s (ID collision)", ircd.conf->sid, uid, ircd.conf->server_name);
		return;
	}
	if (!resolve_collision(link, client_find(nick), ts)) {
		server_send(link, ":%s KILL %s :%s (Nick collision)", ircd.conf->sid, uid, ircd.conf->server_name);
		return;
	}
	struct client *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	snprintf(c->nick, sizeof c->nick, "%s", nick);
	snprintf(c->uid, sizeof c->uid, "%s", uid);
	snprintf(c->user, sizeof c->user, "%s", user);
	snprintf(c->host, sizeof c->host, "%s", host);
	snprintf(c->realname, sizeof c->realname, "%s", gecos);
	if (strcmp(account, "*") != 0 && strcmp(account, "0") != 0)
		snprintf(c->account, sizeof c->account, "%s", account);
	for (const char *p = m->params[3]; *p; p++)
		if (*p >= 'A' && *p <= 'z' && strchr("iow", *p))
			c->umodes |= UMODE(*p);
	c->nick_ts = ts;
	server_add_user(s, c);
	server_uid_all(c);
}

static void t_nick(struct server *link, struct msg *m)
{
	struct client *c = remote_user(link, m);
	const char *nick = m->params[0];
	if (!c || !client_nick_valid(nick, NICK_MAX))
		return;
	time_t ts = m->nparams > 1 ? (time_t)strtoll(m->params[1], NULL, 10) : time(NULL);
	struct client *holder = client_find(nick);
	if (holder && holder != c && !resolve_collision(link, holder, ts)) {
		server_send_all(NULL, ":%s KILL %s :%s (Nick collision)", ircd.conf->sid, c->uid, ircd.conf->server_name);
		server_user_exit(c, "Nick collision");
		return;
	}
	char old[PREFIX_MAX + 1];
	memcpy(old, c->prefix, sizeof old);
	client_set_nick(c, nick);
	c->nick_ts = ts;
	channel_nick_change(c, old, nick);
	server_send_all(link, ":%s NICK %s :%lld", c->uid, nick, (long long)ts);
}

static void t_quit(struct server *link, struct msg *m)
{
	struct client *c = remote_user(link, m);
	if (!c)
		return;
	const char *reason = m->nparams ? m->params[0] : "";
	server_send_all(link, ":%s QUIT :%s", c->uid, reason);
	server_user_exit(c, reason);
}

static void t_kill(struct server *link, struct msg *m)
{
	struct client *t = uid_find(m->params[0]);
	if (!t)
		t = client_find(m->params[0]);
	if (!t)
		return;
	/* "path (reason)", the path being server!host!user!nick of the killer */
	const char *path = m->nparams > 1 ? m->params[1] : "";
	const char *sp = strchr(path, ' ');
	char why[400];
	if (sp && sp[1] == '(' && sp[strlen(sp) - 1] == ')')
		snprintf(why, sizeof why, "%.*s", (int)strlen(sp + 2) - 1, sp + 2);
	else
		snprintf(why, sizeof why, "%s", sp ? sp + 1 : *path ? path : "No reason");
	struct client *src = user_source(m);
	struct server *ss = src ? NULL : server_source(link, m);
	const char *killer = src ? src->nick : ss ? ss->name : "*";
	char reason[500];
	snprintf(reason, sizeof reason, "Killed (%s (%s))", killer, why);
	if (!t->server) { /* ours: it is told, and its QUIT goes out from its exit */
		if (src)
			client_sendf(t, ":%s KILL %s :%s", src->prefix, t->nick, why);
		else
			client_sendf(t, ":%s KILL %s :%s", killer, t->nick, why);
		session_exit_user(t, reason);
		return;
	}
	server_send_all(link, ":%s KILL %s :%s", m->source ? m->source : link->sid, t->uid, path);
	server_user_exit(t, reason);
}

static void t_away(struct server *link, struct msg *m)
{
	struct client *c = remote_user(link, m);
	if (!c)
		return;
	free(c->away);
	c->away = NULL;
	if (m->nparams && *m->params[0]) {
		c->away = strndup(m->params[0], 390);
		if (!c->away)
			abort();
	}
	struct outmsg o;
	if (c->away)
		outmsg_init(&o, false, NULL, ":%s AWAY :%s", c->prefix, c->away);
	else
		outmsg_init(&o, false, NULL, ":%s AWAY", c->prefix);
	outmsg_from(&o, c);
	channel_send_common_monitored(c, &o, CAPF(CAP_AWAY_NOTIFY));
	outmsg_release(&o);
	if (c->away)
		server_send_all(link, ":%s AWAY :%s", c->uid, c->away);
	else
		server_send_all(link, ":%s AWAY", c->uid);
}

/* MODE uid :+i-w - a remote user's own user modes. */
static void t_umode(struct server *link, struct msg *m)
{
	struct client *c = remote_user(link, m);
	if (!c || m->nparams < 2 || (strcmp(m->params[0], c->uid) != 0 && casemap_cmp(m->params[0], c->nick) != 0))
		return;
	char kept[64];
	server_umode_filter(m->params[1], kept, sizeof kept);
	if (!kept[0])
		return;
	server_user_umodes(c, kept);
	server_send_all(link, ":%s MODE %s :%s", c->uid, c->uid, kept);
}

/* ---- accounts ---- */

/* A remote user's account changed to account ("*", "0" or "" for none): our users
 * are told (account-notify), the other links too, each in its dialect. */
static void remote_account(struct server *link, struct client *c, const char *account)
{
	bool none = !account || !*account || strcmp(account, "*") == 0 || strcmp(account, "0") == 0;
	if (!none && !account_name_valid(account))
		return;
	if (strcmp(c->account, none ? "" : account) == 0)
		return;
	snprintf(c->account, sizeof c->account, "%s", none ? "" : account);
	account_notify_change(c);
	server_send_account(link, c);
}

/* Passes a line on to the other links unchanged (the source kept). */
static void relay(struct server *link, const struct msg *m)
{
	char line[MSG_LINE_MAX + 1];
	int n = snprintf(line, sizeof line, ":%s %s", m->source ? m->source : link->sid, m->command);
	for (int i = 0; i < m->nparams && n > 0 && (size_t)n < sizeof line; i++) {
		bool last = i == m->nparams - 1 && (!*m->params[i] || strchr(m->params[i], ' ') || *m->params[i] == ':');
		n += snprintf(line + n, sizeof line - (size_t)n, " %s%s", last ? ":" : "", m->params[i]);
	}
	server_send_all(link, "%s", line);
}

/* A remote user's displayed host changed (ENCAP CHGHOST, SVSHOST): a host of letters,
 * digits and . : - / only. */
static void remote_host(struct server *link, const char *uid, const char *host)
{
	struct client *c = uid_find(uid);
	size_t n = strlen(host);
	if (!c || !c->server || c->server->via != link || !n || n > HOST_MAX || *host == ':' ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:-/") != n)
		return;
	client_change_host(c, host);
	server_send_host(link, c);
}

/* SVSHOST uid ts host (ircd-hybrid). */
static void t_svshost(struct server *link, struct msg *m)
{
	struct client *c = uid_find(m->params[0]);
	time_t ts = (time_t)strtoll(m->params[1], NULL, 10);
	if (c && (!ts || ts == c->nick_ts))
		remote_host(link, m->params[0], m->params[2]);
}

/* A K-line set (seconds >= 0) or lifted from link, by the line's source: applied here,
 * then passed on in each link's dialect. */
static void network_kline(struct server *link, const struct msg *m, const char *user, const char *host,
                          long seconds, const char *reason)
{
	struct client *src = user_source(m);
	struct server *ss = src ? NULL : server_source(link, m);
	char mask[160], setter[NICK_MAX + 80];
	snprintf(mask, sizeof mask, "%s@%s", user, host);
	if (src)
		snprintf(setter, sizeof setter, "%s", src->nick);
	else
		snprintf(setter, sizeof setter, "%s", ss ? ss->name : link->name);
	if (strchr(user, '@') || strchr(host, '@') || !*user || !*host)
		return;
	bool changed = seconds >= 0 ? ban_kline_from_network(mask, seconds, reason, setter)
	                            : ban_unkline_from_network(mask, setter);
	if (changed)
		server_send_kline(link, m->source ? m->source : link->sid, mask, seconds, reason);
}

/* KLINE target secs user host :reason and UNKLINE target user host (ircd-hybrid), and
 * the same after ENCAP's target (offset 1). */
static void kline_at(struct server *link, struct msg *m, int at, bool add)
{
	if (!match_mask(m->params[0], ircd.conf->server_name)) { /* for other servers only */
		relay(link, m);
		return;
	}
	if (add && m->nparams >= at + 4)
		network_kline(link, m, m->params[at + 1], m->params[at + 2], strtol(m->params[at], NULL, 10),
		              m->params[at + 3]);
	else if (!add && m->nparams >= at + 2)
		network_kline(link, m, m->params[at], m->params[at + 1], -1, NULL);
}

static void t_kline(struct server *link, struct msg *m) { kline_at(link, m, 1, true); }
static void t_unkline(struct server *link, struct msg *m) { kline_at(link, m, 1, false); }

/* ENCAP mask subcommand args: LOGIN (from a user: its account) and SU (from a server:
 * uid [account], none to log out) are applied and passed on as account changes; KLINE
 * and UNKLINE as K-lines; CHGHOST as a host change; with a shared store, CSCHANGE #room
 * (re-read the room) and ACCTDROP account (log out its users here) are applied and
 * passed on; anything else is passed on untouched. */
static void t_encap(struct server *link, struct msg *m)
{
	const char *sub = m->params[1];
	bool login = strcasecmp(sub, "LOGIN") == 0, su = strcasecmp(sub, "SU") == 0;
	if (strcasecmp(sub, "CHGHOST") == 0) {
		if (m->nparams > 3)
			remote_host(link, m->params[2], m->params[3]);
		return;
	}
	if (strcasecmp(sub, "KLINE") == 0 || strcasecmp(sub, "UNKLINE") == 0) {
		kline_at(link, m, 2, strcasecmp(sub, "KLINE") == 0);
		return;
	}
	if (strcasecmp(sub, "CSCHANGE") == 0 && m->nparams > 2 && m->params[2][0] == '#' && ircd.conf->shared_store)
		chanserv_reload(m->params[2]); /* and passed on */
	if (strcasecmp(sub, "ACCTDROP") == 0 && m->nparams > 2 && ircd.conf->shared_store &&
	    account_name_valid(m->params[2]))
		services_account_dropped(m->params[2]); /* and passed on */
	if (!login && !su) {
		relay(link, m);
		return;
	}
	struct client *c = login ? remote_user(link, m) : m->nparams > 2 ? uid_find(m->params[2]) : NULL;
	if (!c || !c->server || c->server->via != link)
		return;
	const char *account = login ? (m->nparams > 2 ? m->params[2] : NULL) : (m->nparams > 3 ? m->params[3] : NULL);
	if (login && !account)
		return;
	remote_account(link, c, account);
}

/* SVSACCOUNT uid ts account (ircd-hybrid): account "*" logs out. */
static void t_svsaccount(struct server *link, struct msg *m)
{
	struct client *c = uid_find(m->params[0]);
	time_t ts = (time_t)strtoll(m->params[1], NULL, 10);
	if (!c || !c->server || c->server->via != link || (ts && ts != c->nick_ts))
		return;
	remote_account(link, c, m->params[2]);
}

/* ---- channels ---- */

/* Tells our members of ch a mode change made by the server (TS resolution). */
static void local_mode(struct channel *ch, const char *who, const char *change, const char *arg)
{
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s MODE %s %s%s%s", who, ch->name, change, arg ? " " : "", arg ? arg : "");
	channel_send(ch, &o, NULL, 0, 0, 0);
	outmsg_release(&o);
}

/* Their channel is older: ours loses its modes and every status. */
static void lose_ts(struct channel *ch, time_t ts)
{
	ch->created = ts;
	for (struct membership *mb = ch->members; mb; mb = mb->chan_next) {
		if (mb->status & MEMBER_OP)
			local_mode(ch, ircd.conf->server_name, "-o", mb->client->nick);
		if (mb->status & MEMBER_VOICE)
			local_mode(ch, ircd.conf->server_name, "-v", mb->client->nick);
		mb->status = 0;
	}
	ch->modes = 0;
	ch->key[0] = '\0';
	ch->limit = 0;
	static const char letters[LIST_KINDS] = {'b', 'e', 'I'};
	for (int k = 0; k < LIST_KINDS; k++)
		while (ch->lists[k]) {
			char change[3] = {'-', letters[k], '\0'}, mask[PREFIX_MAX + 16];
			snprintf(mask, sizeof mask, "%s", ch->lists[k]->mask);
			channel_list_remove(ch, (enum list_kind)k, mask);
			local_mode(ch, ircd.conf->server_name, change, mask);
		}
}

static int list_kind_of(char mode) { return mode == 'b' ? LIST_BAN : mode == 'e' ? LIST_EXCEPT : mode == 'I' ? LIST_INVEX : -1; }

/* A +b/+e/+I change from a server, applied to ch (a list stays within LIST_MAX): true if
 * it changed something (the caller announces it). */
static bool remote_list(struct channel *ch, char mode, bool add, const char *mask, const char *setter)
{
	int k = list_kind_of(mode);
	if (k < 0 || !*mask || *mask == ':')
		return false;
	char norm[PREFIX_MAX + 16];
	match_normalize_ban(mask, norm, sizeof norm);
	if (!add)
		return channel_list_remove(ch, (enum list_kind)k, norm);
	if (channel_list_has(ch, (enum list_kind)k, norm) || ch->list_count[k] >= LIST_MAX)
		return false;
	channel_list_insert(ch, (enum list_kind)k, norm, setter, time(NULL));
	return true;
}

static void apply_simple_modes(struct channel *ch, const char *modes, const char *const *args, int nargs)
{
	int a = 0;
	for (const char *p = modes; *p; p++) {
		if (*p == '+')
			continue;
		if (*p == 'k' && a < nargs) {
			snprintf(ch->key, sizeof ch->key, "%s", args[a++]);
		} else if (*p == 'l' && a < nargs) {
			ch->limit = (unsigned)atoi(args[a++]);
		} else if (strchr("imnpst", *p) && *p) {
			if (!(ch->modes & CMODE(*p))) {
				char change[3] = {'+', *p, '\0'};
				ch->modes |= CMODE(*p);
				local_mode(ch, ircd.conf->server_name, change, NULL);
			}
		}
	}
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
}

/* Joins remote user c to ch with status (dropped when their TS lost). */
static void remote_join(struct channel *ch, struct client *c, unsigned status)
{
	if (channel_member(ch, c))
		return;
	channel_add(ch, c, status);
	announce_join(c, ch);
	if (status & MEMBER_OP)
		local_mode(ch, c->server->name, "+o", c->nick);
	if (status & MEMBER_VOICE)
		local_mode(ch, c->server->name, "+v", c->nick);
}

/* Finds or creates ch for a TS; applies the TS rules. Returns whether the incoming
 * side's modes and statuses count (its TS is not newer than ours). */
static struct channel *ts_channel(const char *name, time_t ts, bool *keep_theirs)
{
	struct channel *ch = channel_find(name);
	if (!ch) {
		ch = channel_create(name);
		ch->created = ts;
		ch->modes = 0;
		*keep_theirs = true;
		return ch;
	}
	if (ts < ch->created) {
		lose_ts(ch, ts);
		*keep_theirs = true;
	} else {
		*keep_theirs = ts == ch->created;
	}
	return ch;
}

static void t_sjoin(struct server *link, struct msg *m)
{
	if (!channel_name_valid(m->params[1]))
		return;
	time_t ts = (time_t)strtoll(m->params[0], NULL, 10);
	bool keep;
	struct channel *ch = ts_channel(m->params[1], ts, &keep);
	int nargs = m->nparams - 4;
	if (keep)
		apply_simple_modes(ch, m->params[2], m->params + 3, nargs);
	char list[1024];
	snprintf(list, sizeof list, "%s", m->params[m->nparams - 1]);
	char out[1024];
	size_t olen = 0;
	out[0] = '\0';
	char *save;
	for (char *item = strtok_r(list, " ", &save); item; item = strtok_r(NULL, " ", &save)) {
		unsigned status = 0;
		const char *p = item;
		for (; *p == '@' || *p == '+' || *p == '%' || *p == '~' || *p == '&'; p++)
			status |= *p == '@' ? MEMBER_OP : *p == '+' ? MEMBER_VOICE : 0;
		struct client *c = uid_find(p);
		if (!c || !c->server || c->server->via != link)
			continue;
		if (!keep)
			status = 0;
		remote_join(ch, c, status);
		int n = snprintf(out + olen, sizeof out - olen, "%s%s%s%s", olen ? " " : "",
		                 status & MEMBER_OP ? "@" : "", status & MEMBER_VOICE ? "+" : "", c->uid);
		if (n > 0 && olen + (size_t)n < sizeof out)
			olen += (size_t)n;
	}
	if (!ch->nmembers) {
		channel_free_if_empty(ch);
		return;
	}
	if (olen)
		server_send_all(link, ":%s SJOIN %lld %s + :%s", m->source ? m->source : link->sid, (long long)ch->created,
		                ch->name, out);
}

static void t_join(struct server *link, struct msg *m)
{
	struct client *c = remote_user(link, m);
	if (!c || m->nparams < 2 || !channel_name_valid(m->params[1]))
		return;
	bool keep;
	struct channel *ch = ts_channel(m->params[1], (time_t)strtoll(m->params[0], NULL, 10), &keep);
	remote_join(ch, c, 0);
	server_send_all(link, ":%s JOIN %lld %s +", c->uid, (long long)ch->created, ch->name);
}

static void t_part(struct server *link, struct msg *m)
{
	struct client *c = remote_user(link, m);
	struct channel *ch = channel_find(m->params[0]);
	if (!c || !ch || !channel_member(ch, c))
		return;
	const char *reason = m->nparams > 1 ? m->params[1] : NULL;
	struct outmsg o;
	if (reason && *reason)
		outmsg_init(&o, false, NULL, ":%s PART %s :%s", c->prefix, ch->name, reason);
	else
		outmsg_init(&o, false, NULL, ":%s PART %s", c->prefix, ch->name);
	outmsg_from(&o, c);
	channel_send(ch, &o, NULL, 0, 0, 0);
	outmsg_release(&o);
	server_send_all(link, ":%s PART %s :%s", c->uid, ch->name, reason ? reason : "");
	channel_remove(ch, c);
}

static void t_kick(struct server *link, struct msg *m)
{
	struct channel *ch = channel_find(m->params[0]);
	struct client *t = uid_find(m->params[1]);
	if (!ch || !t || !channel_member(ch, t))
		return;
	struct client *src = user_source(m);
	struct server *ss = src ? NULL : server_source(link, m);
	const char *who = src ? src->prefix : ss ? ss->name : ircd.conf->server_name;
	const char *reason = m->nparams > 2 ? m->params[2] : t->nick;
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s KICK %s %s :%s", who, ch->name, t->nick, reason);
	channel_send(ch, &o, NULL, 0, 0, 0);
	outmsg_release(&o);
	server_send_all(link, ":%s KICK %s %s :%s", m->source ? m->source : link->sid, ch->name, t->uid, reason);
	channel_remove(ch, t);
}

static void set_topic(struct channel *ch, const char *setter, const char *text, time_t when)
{
	free(ch->topic);
	ch->topic = NULL;
	if (*text) {
		ch->topic = strndup(text, TOPIC_MAX);
		if (!ch->topic)
			abort();
	}
	snprintf(ch->topic_setter, sizeof ch->topic_setter, "%s", setter);
	ch->topic_time = when;
}

/* TOPIC from a user, or from a server behind the link (a node's ChanServ restoring a
 * locked topic): shown as set by the server. */
static void t_topic(struct server *link, struct msg *m)
{
	struct client *c = remote_user(link, m);
	struct server *ss = c ? NULL : server_source(link, m);
	struct channel *ch = channel_find(m->params[0]);
	if ((!c && (!ss || ss->via != link)) || !ch)
		return;
	const char *text = m->nparams > 1 ? m->params[1] : "";
	const char *who = c ? c->prefix : ss->name;
	set_topic(ch, who, text, time(NULL));
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s TOPIC %s :%s", who, ch->name, text);
	if (c)
		outmsg_from(&o, c);
	channel_send(ch, &o, NULL, 0, 0, 0);
	outmsg_release(&o);
	server_send_all(link, ":%s TOPIC %s :%s", c ? c->uid : ss->sid, ch->name, text);
	services_channel_topic_relayed(ch);
}

/* TBURST chants #chan topicts setter :topic - taken when our channel is not older and
 * our topic is older or absent. */
static void t_tburst(struct server *link, struct msg *m)
{
	struct channel *ch = channel_find(m->params[1]);
	if (!ch)
		return;
	time_t chants = (time_t)strtoll(m->params[0], NULL, 10), topicts = (time_t)strtoll(m->params[2], NULL, 10);
	if (chants > ch->created || (ch->topic && ch->topic_time >= topicts && chants == ch->created))
		return;
	const char *text = m->params[4];
	if (ch->topic && strcmp(ch->topic, text) == 0)
		return;
	set_topic(ch, m->params[3], text, topicts);
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s TOPIC %s :%s", m->params[3], ch->name, text);
	channel_send(ch, &o, NULL, 0, 0, 0);
	outmsg_release(&o);
	server_send_all(link, ":%s TBURST %s %s %s %s :%s", m->source ? m->source : link->sid, m->params[0], ch->name,
	                m->params[2], m->params[3], text);
}

/* BMASK ts #chan b|e|I :masks - a channel's list in a burst, taken when its TS is not
 * newer than ours. */
static void t_bmask(struct server *link, struct msg *m)
{
	struct channel *ch = channel_find(m->params[1]);
	char mode = m->params[2][0];
	if (!ch || (time_t)strtoll(m->params[0], NULL, 10) > ch->created || m->params[2][1] || list_kind_of(mode) < 0)
		return;
	struct server *ss = server_source(link, m);
	const char *setter = ss ? ss->name : link->name;
	char change[3] = {'+', mode, '\0'}, masks[1024];
	snprintf(masks, sizeof masks, "%s", m->params[3]);
	char *save;
	for (char *mask = strtok_r(masks, " ", &save); mask; mask = strtok_r(NULL, " ", &save))
		if (remote_list(ch, mode, true, mask, setter))
			local_mode(ch, setter, change, mask);
	relay(link, m);
}

/* TMODE ts #chan modes args: o/v statuses and the simple modes, when ts is not newer. */
static void t_tmode(struct server *link, struct msg *m)
{
	struct channel *ch = channel_find(m->params[1]);
	if (!ch || (time_t)strtoll(m->params[0], NULL, 10) > ch->created)
		return;
	struct client *src = user_source(m);
	struct server *ss = src ? NULL : server_source(link, m);
	const char *who = src ? src->prefix : ss ? ss->name : ircd.conf->server_name;
	bool add = true;
	int a = 3;
	for (const char *p = m->params[2]; *p; p++) {
		char change[3] = {add ? '+' : '-', *p, '\0'};
		if (*p == '+' || *p == '-') {
			add = *p == '+';
		} else if ((*p == 'o' || *p == 'v') && a < m->nparams) {
			struct client *t = uid_find(m->params[a++]);
			struct membership *mb = t ? channel_member(ch, t) : NULL;
			if (!mb)
				continue;
			unsigned bit = *p == 'o' ? MEMBER_OP : MEMBER_VOICE;
			mb->status = add ? mb->status | bit : mb->status & ~bit;
			local_mode(ch, who, change, t->nick);
		} else if (*p == 'k') {
			const char *key = a < m->nparams ? m->params[a++] : "";
			snprintf(ch->key, sizeof ch->key, "%s", add ? key : "");
			local_mode(ch, who, change, key);
		} else if (*p == 'l') {
			const char *lim = add && a < m->nparams ? m->params[a++] : NULL;
			ch->limit = lim ? (unsigned)atoi(lim) : 0;
			local_mode(ch, who, change, lim);
		} else if (list_kind_of(*p) >= 0) {
			const char *mask = a < m->nparams ? m->params[a++] : NULL;
			if (mask && remote_list(ch, *p, add, mask, src ? src->nick : ss ? ss->name : ircd.conf->server_name))
				local_mode(ch, who, change, mask);
		} else if (strchr("imnpst", *p)) {
			ch->modes = add ? ch->modes | CMODE(*p) : ch->modes & ~CMODE(*p);
			local_mode(ch, who, change, NULL);
		}
	}
	char line[512];
	int n = snprintf(line, sizeof line, ":%s TMODE %s", m->source ? m->source : link->sid, m->params[0]);
	for (int i = 1; i < m->nparams && n > 0 && (size_t)n < sizeof line; i++)
		n += snprintf(line + n, sizeof line - (size_t)n, " %s%s", i == m->nparams - 1 && strchr(m->params[i], ' ') ? ":" : "",
		              m->params[i]);
	server_send_all(link, "%s", line);
}

/* History of a message from a link: with a store of our own we keep the network's
 * messages too; with the one store of the network (links.shared_store) only the node
 * that gave it its msgid stores it. */
static bool stored_by_origin(struct msg *m)
{
	unsigned long long seq;
	const char *origin = msg_tag(m, "msgid");
	return ircd.conf->shared_store && origin && outmsg_msgid_seq(origin, &seq);
}

/* PRIVMSG/NOTICE/TAGMSG from a remote user. A peer that takes tags (MTAGS) sends the
 * origin's msgid and time, and the client tags: our users get the message with them, and
 * the next links too. */
static void t_message(struct server *link, struct msg *m)
{
	struct client *c = remote_user(link, m);
	bool tagmsg = strcasecmp(m->command, "TAGMSG") == 0;
	if (!c || m->nparams < (tagmsg ? 1 : 2))
		return;
	const char *target = m->params[0], *text = tagmsg ? NULL : m->params[1];
	const char *cmd = tagmsg ? "TAGMSG" : strcasecmp(m->command, "NOTICE") == 0 ? "NOTICE" : "PRIVMSG";
	char client_tags[CLIENT_TAG_DATA_MAX + 64];
	if (!msg_client_tags(m, client_tags, sizeof client_tags))
		client_tags[0] = '\0';
	const char *name = target;
	unsigned need = 0;
	if (*name == '@' || *name == '+') {
		need = *name == '@' ? MEMBER_OP : MEMBER_OP | MEMBER_VOICE;
		name++;
	}
	struct channel *ch = *name == '#' ? channel_find(name) : NULL;
	struct client *t = NULL;
	if (*name != '#' && !(t = uid_find(target)))
		t = client_find(target);
	if (!ch && !t)
		return;
	struct outmsg o;
	outmsg_init_msg(&o, client_tags, c->prefix, cmd, ch ? target : t->nick, text);
	outmsg_from(&o, c);
	outmsg_set_origin(&o, msg_tag(m, "msgid"), outmsg_parse_time(msg_tag(m, "time")));
	char tags[ROUTE_TAGS_MAX];
	route_tags(&o, tags, sizeof tags);
	uint32_t need_caps = tagmsg ? CAPF(CAP_MESSAGE_TAGS) : 0;
	if (ch) {
		channel_send(ch, &o, c, need, need_caps, 0);
		if (!need && !stored_by_origin(m))
			history_record(&o, c, cmd, ch->name, NULL, text, client_tags[0] ? client_tags : NULL);
		if (text)
			server_send_channel_tagged(ch, link, tags, false, ":%s %s %s :%s", c->uid, cmd, target, text);
		else
			server_send_channel_tagged(ch, link, tags, true, ":%s %s %s", c->uid, cmd, target);
	} else if (t->server) {
		if (t->server->via != link && text)
			server_send_tagged(t->server->via, tags, false, ":%s %s %s :%s", c->uid, cmd, t->uid, text);
		else if (t->server->via != link)
			server_send_tagged(t->server->via, tags, true, ":%s %s %s", c->uid, cmd, t->uid);
	} else {
		if (!tagmsg || client_has_cap(t, CAP_MESSAGE_TAGS))
			outmsg_send(&o, t);
		if (!stored_by_origin(m)) /* a conversation with our user: ours to keep too */
			history_record(&o, c, cmd, t->nick, t, text, client_tags[0] ? client_tags : NULL);
	}
	outmsg_release(&o);
}

static const struct ts6_command table[] = {
    {"PASS", t_pass, 1, true},     {"CAPAB", t_capab, 0, true},  {"SERVER", t_server, 3, true},
    {"ERROR", t_error, 0, true},   {"SVINFO", t_svinfo, 4, false}, {"PING", t_ping, 1, false},
    {"PONG", t_ignore, 0, false},  {"EOB", t_ignore, 0, false},  {"SID", t_sid, 4, false},
    {"SQUIT", t_squit, 1, false},  {"UID", t_uid, 9, false},     {"NICK", t_nick, 1, false},
    {"QUIT", t_quit, 0, false},    {"KILL", t_kill, 1, false},   {"AWAY", t_away, 0, false},
    {"SJOIN", t_sjoin, 4, false},  {"JOIN", t_join, 2, false},   {"PART", t_part, 1, false},
    {"KICK", t_kick, 2, false},    {"TOPIC", t_topic, 1, false}, {"TBURST", t_tburst, 5, false},
    {"TMODE", t_tmode, 3, false},  {"PRIVMSG", t_message, 2, false}, {"NOTICE", t_message, 2, false},
    {"TAGMSG", t_message, 1, false},
    {"ENCAP", t_encap, 2, false},  {"BMASK", t_bmask, 4, false},
    {"MODE", t_umode, 2, false},   {"SVSHOST", t_svshost, 3, false},
    {"KLINE", t_kline, 5, false},  {"UNKLINE", t_unkline, 3, false},  {"SVSACCOUNT", t_svsaccount, 3, false},
};

void ts6_dispatch(struct server *link, struct msg *m)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct ts6_command *t = &table[i];
		if (strcasecmp(t->name, m->command) != 0)
			continue;
		if (link->state != SRV_LINKED && !t->before_link)
			return; /* (the peer's notices to an unknown connection, say) */
		if (m->nparams < t->min_params)
			return;
		t->fn(link, m);
		return;
	}
	/* numerics and commands we do not carry (CERTFP, SVSTAG...) are dropped:
	 * nothing of them is relayed */
}
