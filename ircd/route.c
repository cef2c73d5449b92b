/* route.c - our users' actions as TS6 lines to the linked servers. A channel line goes
 * once to each link that leads to a member (server_send_channel); a line about a user
 * (QUIT, NICK, AWAY) goes to every link, as every server knows every user. */
#include "route.h"

#include "channel.h"
#include "client.h"
#include "ircd.h"
#include "outmsg.h"
#include "server.h"

#include <stdio.h>
#include <string.h>

void route_introduce(struct client *c)
{
	if (ircd_links)
		server_uid_all(c);
}

void route_quit(struct client *c, const char *reason)
{
	if (ircd_links && c->uid[0])
		server_send_all(NULL, ":%s QUIT :%s", c->uid, reason);
}

void route_nick(struct client *c)
{
	if (ircd_links)
		server_send_all(NULL, ":%s NICK %s :%lld", c->uid, c->nick, (long long)c->nick_ts);
}

void route_join(struct client *c, struct channel *ch, bool created)
{
	if (!ircd_links)
		return;
	if (created)
		server_send_all(NULL, ":%s SJOIN %lld %s +nt :@%s", ircd.conf->sid, (long long)ch->created, ch->name,
		                c->uid);
	else
		server_send_all(NULL, ":%s JOIN %lld %s +", c->uid, (long long)ch->created, ch->name);
}

void route_part(struct client *c, struct channel *ch, const char *reason)
{
	if (ircd_links)
		server_send_all(NULL, ":%s PART %s :%s", c->uid, ch->name, reason ? reason : "");
}

void route_kick(struct client *c, struct channel *ch, struct client *t, const char *reason)
{
	if (ircd_links)
		server_send_all(NULL, ":%s KICK %s %s :%s", c->uid, ch->name, t->uid, reason);
}

void route_topic(struct client *c, struct channel *ch)
{
	if (ircd_links)
		server_send_all(NULL, ":%s TOPIC %s :%s", c->uid, ch->name, ch->topic ? ch->topic : "");
}

void route_away(struct client *c)
{
	if (!ircd_links)
		return;
	if (c->away)
		server_send_all(NULL, ":%s AWAY :%s", c->uid, c->away);
	else
		server_send_all(NULL, ":%s AWAY", c->uid);
}

void route_kill(struct client *by, struct client *t, const char *why, const char *reason)
{
	server_send_all(NULL, ":%s KILL %s :%s!%s!%s!%s (%s)", by->uid, t->uid, ircd.conf->server_name, by->host, by->user,
	                by->nick, why);
	server_user_exit(t, reason);
}

void route_kline(struct client *by, const char *mask, long seconds, const char *reason)
{
	if (ircd_links)
		server_send_kline(NULL, by->session_of ? by->session_of->uid : by->uid, mask, seconds, reason);
}

void route_channel_stored(const char *name)
{
	if (ircd_links && ircd.conf->shared_store)
		server_send_all(NULL, ":%s ENCAP * CSCHANGE %s", ircd.conf->sid, name);
}

void route_account_dropped(const char *account)
{
	if (ircd_links && ircd.conf->shared_store)
		server_send_all(NULL, ":%s ENCAP * ACCTDROP %s", ircd.conf->sid, account);
}

void route_unkline(struct client *by, const char *mask)
{
	if (ircd_links)
		server_send_kline(NULL, by->session_of ? by->session_of->uid : by->uid, mask, -1, NULL);
}

void route_umode(struct client *c, const char *change)
{
	if (!ircd_links || !c->uid[0])
		return;
	char kept[64];
	server_umode_filter(change, kept, sizeof kept);
	if (kept[0])
		server_send_all(NULL, ":%s MODE %s :%s", c->uid, c->uid, kept);
}

void route_host(struct client *c)
{
	if (ircd_links && c->uid[0] && !c->server)
		server_send_host(NULL, c);
}

void route_account(struct client *c)
{
	if (c->session_of) /* the network knows the user, not its sessions */
		c = c->session_of;
	if (ircd_links && c->uid[0] && !c->server)
		server_send_account(NULL, c);
}

void route_tags(const struct outmsg *o, char *out, size_t size)
{
	char when[OUTMSG_TIME_LEN];
	outmsg_format_time(o->time_ms, when);
	snprintf(out, size, "msgid=%s;time=%s%s%s", o->msgid, when, o->client_tags ? ";" : "",
	         o->client_tags ? o->client_tags : "");
}

void route_channel_message(struct client *c, const char *cmd, struct channel *ch, const char *target,
                           const char *text, const struct outmsg *o)
{
	if (!ch->nremote)
		return;
	char tags[ROUTE_TAGS_MAX];
	route_tags(o, tags, sizeof tags);
	if (text)
		server_send_channel_tagged(ch, NULL, tags, false, ":%s %s %s :%s", c->uid, cmd, target, text);
	else
		server_send_channel_tagged(ch, NULL, tags, true, ":%s %s %s", c->uid, cmd, target);
}

void route_user_message(struct client *c, const char *cmd, struct client *t, const char *text,
                        const struct outmsg *o)
{
	char tags[ROUTE_TAGS_MAX];
	route_tags(o, tags, sizeof tags);
	if (text)
		server_send_tagged(t->server->via, tags, false, ":%s %s %s :%s", c->uid, cmd, t->uid, text);
	else
		server_send_tagged(t->server->via, tags, true, ":%s %s %s", c->uid, cmd, t->uid);
}

/* TMODE from source (a UID or our SID) for change as announced to our members. */
static void send_tmode(const char *source, struct channel *ch, const char *change)
{
	char copy[600];
	snprintf(copy, sizeof copy, "%s", change);
	char *save, *modes = strtok_r(copy, " ", &save);
	if (!modes)
		return;
	char line[700];
	int n = snprintf(line, sizeof line, ":%s TMODE %lld %s %s", source, (long long)ch->created, ch->name, modes);
	bool add = true;
	for (const char *p = modes; *p && n > 0 && (size_t)n < sizeof line; p++) {
		if (*p == '+' || *p == '-') {
			add = *p == '+';
			continue;
		}
		/* which letters take a parameter, as mode.c announces them */
		if (!strchr("ovkbeI", *p) && !(*p == 'l' && add))
			continue;
		const char *arg = strtok_r(NULL, " ", &save);
		if (!arg)
			break;
		const struct client *t = (*p == 'o' || *p == 'v') ? client_find(arg) : NULL;
		n += snprintf(line + n, sizeof line - (size_t)n, " %s", t && t->uid[0] ? t->uid : arg);
	}
	server_send_all(NULL, "%s", line);
}

void route_mode(struct client *c, struct channel *ch, const char *change)
{
	if (ircd_links)
		send_tmode(c->uid, ch, change);
}

void route_service_mode(struct channel *ch, const char *change)
{
	if (ircd_links)
		send_tmode(ircd.conf->sid, ch, change);
}

void route_service_kick(struct channel *ch, struct client *t, const char *reason)
{
	if (ircd_links)
		server_send_all(NULL, ":%s KICK %s %s :%s", ircd.conf->sid, ch->name, t->uid, reason);
}

void route_service_topic(struct channel *ch)
{
	if (ircd_links)
		server_send_all(NULL, ":%s TOPIC %s :%s", ircd.conf->sid, ch->name, ch->topic ? ch->topic : "");
}
