/* oper.c - operator commands. OPER checks the block's host masks, certificate and
 * account on the loop, and the password hash on the crypto thread. */
#include "oper.h"
#include "session.h"
#include "audit.h"

#include "ban.h"
#include "channel.h"
#include "client.h"
#include "connlimit.h"
#include "command.h"
#include "ircd.h"
#include "listener.h"
#include "match.h"
#include "outmsg.h"
#include "parse.h"
#include "password.h"
#include "reply.h"
#include "route.h"
#include "server.h"
#include "storage.h"
#include "throttle.h"
#include "workq.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Sends text to every +s operator but skip (may be NULL), or with masked, text to those
 * with see_hidden and masked to the others. */
static void snotice_send(const char *text, const char *masked, const struct client *skip)
{
	for (struct client *c = ircd.clients; c; c = c->next)
		if ((c->umodes & UMODE('o')) && (c->umodes & UMODE('s')) && !client_dead(c) && c != skip)
			client_sendf(c, ":%s NOTICE %s :*** %s", ircd.conf->server_name, c->nick,
			             masked && !(c->privs & PRIV_SEE_HIDDEN) ? masked : text);
}

void snotice(const char *fmt, ...)
{
	if (ircd.nopers == 0)
		return; /* the common case: no operator online, no walk over every client */
	char text[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	snotice_send(text, NULL, NULL);
}

void snotice_except(const struct client *skip, const char *fmt, ...)
{
	if (ircd.nopers == 0)
		return;
	char text[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	snotice_send(text, NULL, skip);
}

static bool addr_char(char ch) { return isalnum((unsigned char)ch) || ch == '.' || ch == ':'; }

void snotice_about(const struct client *t, const char *fmt, ...)
{
	if (ircd.nopers == 0)
		return;
	char text[400], masked[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	/* the address is replaced as a whole word: "1.2.3.4" never matches inside "11.2.3.45" */
	size_t n = 0, alen = strlen(t->conn.ip);
	for (const char *p = text; *p && n + 1 < sizeof masked;) {
		if (alen && strncmp(p, t->conn.ip, alen) == 0 && !addr_char(p[alen]) && (p == text || !addr_char(p[-1]))) {
			n += (size_t)snprintf(masked + n, sizeof masked - n, "%s", t->host);
			p += alen;
		} else {
			masked[n++] = *p++;
		}
	}
	masked[n < sizeof masked ? n : sizeof masked - 1] = '\0';
	snotice_send(text, masked, NULL);
}

bool oper_has(struct client *c, unsigned priv)
{
	if ((c->umodes & UMODE('o')) && (c->privs & priv))
		return true;
	reply(c, ERR_NOPRIVILEGES);
	return false;
}

struct oper_job {
	struct job job;
	uint64_t client_id;
	char name[64];
	char password[256];
	char hash[160];
	char ip[64];
	char who[AUDIT_WHO_MAX];
	unsigned privs;
	bool ok;
	time_t slot_o, slot_i; /* windows of the throttle slots taken: operator, address */
};

/* Failed OPER attempts per operator name and per address (unless exempt, as for logins)
 * in a minute, at most accounts.max_failed_logins each, counted when the attempt is
 * submitted (throttle.c). A wrong password keeps its slots, a right one gives them back.
 * Past the limit the password is not checked and the reply is a wrong password's. */
static struct throttle_table oper_failures = {.window = 60};

static bool oper_reserve(struct oper_job *j)
{
	int max = ircd.conf->max_failed_logins;
	j->slot_o = throttle_take(&oper_failures, "o", j->name, max);
	if (!j->slot_o)
		return false;
	if (!connlimit_exempt(j->ip) && !(j->slot_i = throttle_take(&oper_failures, "i", j->ip, max))) {
		throttle_put_back(&oper_failures, "o", j->name, j->slot_o);
		return false;
	}
	return true;
}

static void oper_run(struct job *job)
{
	struct oper_job *j = (struct oper_job *)job;
	j->ok = password_verify(j->password, j->hash);
	memset(j->password, 0, sizeof j->password);
}

static void oper_done(struct job *job)
{
	struct oper_job *j = (struct oper_job *)job;
	if (j->ok) {
		throttle_put_back(&oper_failures, "o", j->name, j->slot_o);
		throttle_put_back(&oper_failures, "i", j->ip, j->slot_i);
	}
	struct client *c = client_by_id(j->client_id);
	if (!j->ok)
		audit_as(j->who, "OPER failed name=%s reason=\"bad password\"", j->name);
	if (c && !client_dead(c)) {
		c->flags &= ~CLI_WAITING;
		struct reply_ctx ctx;
		struct client *u = session_resume(c, &ctx); /* a session's OPER opers its user */
		if (!j->ok) {
			reply(u, ERR_PASSWDMISMATCH);
			snotice_about(u, "Failed OPER attempt by %s (%s) for %s: bad password", u->nick, u->conn.ip, j->name);
		} else {
			if (!(u->umodes & UMODE('o')))
				ircd.nopers++;
			u->umodes |= UMODE('o') | UMODE('s');
			u->privs = j->privs;
			snprintf(u->oper_name, sizeof u->oper_name, "%s", j->name);
			reply(u, RPL_YOUREOPER);
			audit(u, "OPER name=%s", j->name);
			client_sendf(u, ":%s MODE %s :+os", u->prefix, u->nick);
			route_umode(u, "+os");
			snotice_about(u, "%s (%s) is now an operator (%s)", u->nick, u->conn.ip, j->name);
		}
		session_suspend(c, u, &ctx);
		conn_resume(&c->conn);
	}
	free(j);
}

static bool host_allowed(const struct client *c, const char *hosts)
{
	if (!hosts[0])
		return true;
	char buf[256], uh[USER_MAX + HOST_MAX + 2], ui[USER_MAX + HOST_MAX + 2];
	snprintf(buf, sizeof buf, "%s", hosts);
	snprintf(uh, sizeof uh, "%s@%s", c->user, c->host);
	snprintf(ui, sizeof ui, "%s@%s", c->user, c->conn.ip);
	char *save;
	for (char *m = strtok_r(buf, " ", &save); m; m = strtok_r(NULL, " ", &save))
		if (match_mask(m, uh) || match_mask(m, ui))
			return true;
	return false;
}

void cmd_oper(struct client *c, struct msg *m)
{
	const struct conf_oper *o = NULL;
	for (int i = 0; i < ircd.conf->nopers; i++)
		if (strcmp(ircd.conf->opers[i].name, m->params[0]) == 0)
			o = &ircd.conf->opers[i];
	const char *why = !o ? "no such operator" : !host_allowed(c, o->hosts) ? "host not allowed"
	                  : (o->certfp[0] && strcasecmp(o->certfp, c->conn.certfp) != 0) ? "certificate mismatch"
	                  : (o->account[0] && strcasecmp(o->account, c->account) != 0) ? "account mismatch"
	                                                                                 : NULL;
	if (why) {
		reply(c, ERR_NOOPERHOST);
		audit(c, "OPER failed name=%s reason=\"%s\"", m->params[0], why);
		snotice_about(c, "Failed OPER attempt by %s (%s) for %s: %s", c->nick, c->conn.ip, m->params[0], why);
		return;
	}
	struct oper_job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->job.run = oper_run;
	j->job.done = oper_done;
	j->client_id = session_asker(c)->id; /* a session gets its own results */
	j->privs = o->privs;
	snprintf(j->name, sizeof j->name, "%s", o->name);
	snprintf(j->ip, sizeof j->ip, "%s", c->conn.ip);
	audit_who(c, j->who, sizeof j->who);
	if (!oper_reserve(j)) {
		free(j);
		reply(c, ERR_PASSWDMISMATCH);
		audit(c, "OPER failed name=%s reason=\"too many failed attempts\"", o->name);
		snotice_about(c, "Failed OPER attempt by %s (%s) for %s: too many failed attempts", c->nick, c->conn.ip, o->name);
		return;
	}
	snprintf(j->password, sizeof j->password, "%s", m->params[1]);
	snprintf(j->hash, sizeof j->hash, "%s", o->password);
	c->flags |= CLI_WAITING;
	conn_pause(&c->conn);
	workq_submit(&crypto_queue, &j->job);
}

void cmd_kill(struct client *c, struct msg *m)
{
	if (!oper_has(c, PRIV_KILL))
		return;
	struct client *t = client_find(m->params[0]);
	if (!t || !client_registered(t)) {
		reply(c, ERR_NOSUCHNICK, m->params[0]);
		return;
	}
	const char *why = m->nparams > 1 && *m->params[1] ? m->params[1] : "No reason";
	char reason[400];
	snprintf(reason, sizeof reason, "Killed (%s (%s))", c->nick, why);
	snotice("%s killed %s (%s)", c->nick, t->nick, why);
	audit(c, "KILL target=%s (%s) reason=\"%s\"", t->prefix, t->conn.ip, why);
	if (t->server) { /* on another server: it goes there and everywhere */
		route_kill(c->session_of ? c->session_of : c, t, why, reason);
		return;
	}
	client_sendf(t, ":%s KILL %s :%s", c->prefix, t->nick, why);
	session_exit_user(t, reason);
}

void cmd_wallops(struct client *c, struct msg *m)
{
	if (!oper_has(c, PRIV_WALLOPS))
		return;
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s WALLOPS :%s", c->prefix, m->params[0]);
	for (struct client *t = ircd.clients; t; t = t->next)
		if (client_registered(t) && !client_dead(t) && (t->umodes & UMODE('w')))
			outmsg_send(&o, t);
	outmsg_release(&o);
}

static void stop_server(struct client *c, bool restart)
{
	if (!oper_has(c, PRIV_DIE))
		return;
	char reason[128];
	snprintf(reason, sizeof reason, "Server %s by %s", restart ? "restarting" : "terminating", c->nick);
	snotice("%s", reason);
	audit(c, "%s", restart ? "RESTART" : "DIE");
	ircd_shutdown(reason, restart);
}

void cmd_die(struct client *c, struct msg *m)
{
	(void)m;
	stop_server(c, false);
}

void cmd_restart(struct client *c, struct msg *m)
{
	(void)m;
	stop_server(c, true);
}

void cmd_rehash(struct client *c, struct msg *m)
{
	(void)m;
	if (!oper_has(c, PRIV_REHASH))
		return;
	reply(c, RPL_REHASHING, ircd.conf->file);
	char err[4096];
	if (ircd_rehash(err, sizeof err) == 0) {
		snotice("%s is rehashing the server configuration", c->nick);
		audit(c, "REHASH");
		return;
	}
	snotice("REHASH by %s failed; the old configuration stays in force", c->nick);
	audit(c, "REHASH failed");
	char *save;
	for (char *line = strtok_r(err, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		client_sendf(c, ":%s NOTICE %s :REHASH: %s", ircd.conf->server_name, c->nick, line);
}

static void stats_command(const struct command *cmd, void *arg)
{
	if (cmd->count)
		reply((struct client *)arg, RPL_STATSCOMMANDS, cmd->name, cmd->count);
}

/* STATS l: first the clients' live numbers go into their listeners' scratch counters
 * (one walk over the clients, closing ones included: their bytes are not yet in the
 * listener's totals until they are reaped), then one line per listener. */
static void stats_zero(const struct conf_listener *lc, int port, struct listener_stats *s, void *arg)
{
	(void)lc, (void)port, (void)arg;
	s->live_clients = 0;
	s->live_sendq = 0;
	s->live_in = s->live_out = 0;
}

static void stats_listener(const struct conf_listener *lc, int port, struct listener_stats *s, void *arg)
{
	char name[CONF_NAME_LEN + 16];
	bool v6 = strchr(lc->address, ':') != NULL;
	snprintf(name, sizeof name, "%s%s%s:%d", v6 ? "[" : "", lc->address, v6 ? "]" : "", port);
	reply((struct client *)arg, RPL_STATSLISTENER, name, lc->tls ? "tls" : "plain", s->live_clients,
	      s->live_sendq, s->bytes_out + s->live_out, s->bytes_in + s->live_in, s->accepted);
}

static void stats_listeners(struct client *c)
{
	listener_each(stats_zero, NULL);
	for (struct client *t = ircd.clients; t; t = t->next) {
		struct listener_stats *s = t->lstats;
		if (!s)
			continue;
		s->live_in += t->conn.bytes_in;
		s->live_out += t->conn.bytes_out;
		if (!client_dead(t)) {
			s->live_clients++;
			s->live_sendq += t->conn.sendq.bytes;
		}
	}
	listener_each(stats_listener, c);
}

/* STATS L: a direct server link, as a connection line (name, SendQ, lines and KiB out,
 * lines and KiB in, seconds linked). */
static void stats_link(const struct server *s, void *arg)
{
	if (s->via != s || s->state != SRV_LINKED || s->dead)
		return;
	reply((struct client *)arg, RPL_STATSLINKINFO, s->name, s->conn.sendq.bytes, s->lines_out,
	      s->conn.bytes_out / 1024, s->lines_in, s->conn.bytes_in / 1024,
	      (long long)(ev_now(EV_DEFAULT) - s->linked_at));
}

/* STATS c: the connect blocks (address, flags: A autoconnect, S TLS, * none; name, port)
 * and whether each is linked now. */
static void stats_connects(struct client *c)
{
	for (int i = 0; i < ircd.conf->nconnects; i++) {
		const struct conf_connect *cc = &ircd.conf->connects[i];
		char flags[3] = "";
		size_t n = 0;
		if (cc->autoconnect)
			flags[n++] = 'A';
		if (cc->tls)
			flags[n++] = 'S';
		const struct server *s = server_find(cc->name);
		reply(c, RPL_STATSCLINE, cc->address, n ? flags : "*", cc->name, cc->port,
		      !s ? "unlinked" : s->state == SRV_LINKED ? "linked" : "linking");
	}
}

void cmd_stats(struct client *c, struct msg *m)
{
	char q = m->nparams ? m->params[0][0] : '\0';
	bool oper = (c->umodes & UMODE('o')) != 0;
	if (!q) {
		reply(c, ERR_NEEDMOREPARAMS, "STATS");
		return;
	}
	if (!oper && q != 'u' && q != 'm') {
		reply(c, ERR_NOPRIVILEGES);
		reply(c, RPL_ENDOFSTATS, q);
		return;
	}
	switch (q) {
	case 'u': {
		long long up = (long long)(time(NULL) - ircd.started);
		reply(c, RPL_STATSUPTIME, up / 86400, (up / 3600) % 24, (up / 60) % 60, up % 60);
		break;
	}
	case 'm':
		command_each(stats_command, c);
		break;
	case 'l':
		stats_listeners(c);
		break;
	case 'L': /* one line per connection */
		for (struct client *t = ircd.clients; t; t = t->next)
			if (!client_dead(t))
				reply(c, RPL_STATSLINKINFO, t->nick[0] ? t->nick : "*", t->conn.sendq.bytes, t->lines_out,
				      t->conn.bytes_out / 1024, t->lines_in, t->conn.bytes_in / 1024,
				      (long long)(ev_now(EV_DEFAULT) - t->connected));
		server_each(stats_link, c);
		break;
	case 'c':
		stats_connects(c);
		break;
	case 'k':
	case 'K':
	case 'd':
	case 'D':
		server_bans_stats(c, (char)(q | 0x20));
		break;
	case 'o':
		for (int i = 0; i < ircd.conf->nopers; i++) {
			const struct conf_oper *o = &ircd.conf->opers[i];
			char hosts[256];
			snprintf(hosts, sizeof hosts, "%s", o->hosts[0] ? o->hosts : "*");
			char *save;
			/* one line per host mask: a mask is one parameter */
			for (char *h = strtok_r(hosts, " ", &save); h; h = strtok_r(NULL, " ", &save))
				reply(c, RPL_STATSOLINE, h, o->name, o->privileges);
		}
		break;
	default:
		break;
	}
	reply(c, RPL_ENDOFSTATS, q);
}

void channel_join_forced(struct client *c, const char *name);
void channel_part_forced(struct client *c, const char *name);

static struct client *sa_target(struct client *c, struct msg *m)
{
	if (!oper_has(c, PRIV_SA))
		return NULL;
	struct client *t = client_find(m->params[0]);
	if (!t || !client_registered(t)) {
		reply(c, ERR_NOSUCHNICK, m->params[0]);
		return NULL;
	}
	return t;
}

void cmd_sajoin(struct client *c, struct msg *m)
{
	struct client *t = sa_target(c, m);
	if (!t)
		return;
	snotice("%s used SAJOIN to make %s join %s", c->nick, t->nick, m->params[1]);
	audit(c, "SAJOIN target=%s channel=%s", t->nick, m->params[1]);
	channel_join_forced(t, m->params[1]);
}

void cmd_sapart(struct client *c, struct msg *m)
{
	struct client *t = sa_target(c, m);
	if (!t)
		return;
	snotice("%s used SAPART to make %s leave %s", c->nick, t->nick, m->params[1]);
	audit(c, "SAPART target=%s channel=%s", t->nick, m->params[1]);
	channel_part_forced(t, m->params[1]);
}

void cmd_sanick(struct client *c, struct msg *m)
{
	struct client *t = sa_target(c, m);
	if (!t)
		return;
	const char *nick = m->params[1];
	if (!client_nick_valid(nick, ircd.conf->nicklen)) {
		reply(c, ERR_ERRONEUSNICKNAME, nick);
		return;
	}
	struct client *other = client_find(nick);
	if (other && other != t) {
		reply(c, ERR_NICKNAMEINUSE, nick);
		return;
	}
	snotice("%s used SANICK to change %s to %s", c->nick, t->nick, nick);
	audit(c, "SANICK target=%s nick=%s", t->nick, nick);
	char old[PREFIX_MAX + 1];
	memcpy(old, t->prefix, sizeof old);
	client_set_nick(t, nick);
	channel_nick_change(t, old, nick);
}
