/* cmd_server.c - information about the server: MOTD, LUSERS, VERSION, TIME, INFO, ADMIN. */
#include "server.h"
#include "channel.h"
#include "client.h"
#include "command.h"
#include "dict.h"
#include "ircd.h"
#include "isupport.h"
#include "parse.h"
#include "reply.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>


/* A target parameter, where given, must name this server (402 otherwise). */
static bool is_me(struct client *c, struct msg *m)
{
	if (m->nparams == 0 || strcasecmp(m->params[0], ircd.conf->server_name) == 0)
		return true;
	reply(c, ERR_NOSUCHSERVER, m->params[0]);
	return false;
}

void server_send_lusers(struct client *c)
{
	unsigned users = ircd.nusers, rinvisible = 0;
	unsigned remote = server_count_users(&rinvisible), servers = server_count();
	unsigned invisible = ircd.ninvisible + rinvisible, global = users + remote;
	reply(c, RPL_LUSERCLIENT, global - invisible, invisible, servers + 1);
	if (ircd.nopers)
		reply(c, RPL_LUSEROP, ircd.nopers);
	if (ircd.nconnections > users + ircd.nsessions)
		reply(c, RPL_LUSERUNKNOWN, ircd.nconnections - users - ircd.nsessions);
	reply(c, RPL_LUSERCHANNELS, channel_count());
	reply(c, RPL_LUSERME, users, ircd_links);
	reply(c, RPL_LOCALUSERS, users, ircd.max_users, users, ircd.max_users);
	unsigned max = server_global_max(global);
	reply(c, RPL_GLOBALUSERS, global, max, global, max);
}

static void links_line(const struct server *s, void *arg)
{
	unsigned hops = 1;
	for (const struct server *u = s->uplink; u; u = u->uplink)
		hops++;
	reply(arg, RPL_LINKS, s->name, s->uplink ? s->uplink->name : ircd.conf->server_name, hops, s->desc);
}

void cmd_links(struct client *c, struct msg *m)
{
	(void)m;
	reply(c, RPL_LINKS, ircd.conf->server_name, ircd.conf->server_name, 0u, ircd.conf->description);
	server_each(links_line, c);
	reply(c, RPL_ENDOFLINKS, "*");
}

void server_send_motd(struct client *c)
{
	const char *motd = ircd.conf->motd;
	if (!motd) {
		reply(c, ERR_NOMOTD);
		return;
	}
	reply(c, RPL_MOTDSTART, ircd.conf->server_name);
	for (const char *p = motd; *p;) {
		size_t len = strcspn(p, "\r\n");
		reply(c, RPL_MOTD, (int)(len < 399 ? len : 399), p);
		p += len;
		if (*p == '\r')
			p++;
		if (*p == '\n')
			p++;
	}
	reply(c, RPL_ENDOFMOTD);
}

void cmd_motd(struct client *c, struct msg *m)
{
	if (is_me(c, m))
		server_send_motd(c);
}

void cmd_lusers(struct client *c, struct msg *m)
{
	(void)m;
	server_send_lusers(c);
}

void cmd_version(struct client *c, struct msg *m)
{
	if (!is_me(c, m))
		return;
	reply(c, RPL_VERSION, PARLEY_VERSION, ircd.conf->server_name, "Parley IRC server");
	isupport_send(c);
}

void cmd_time(struct client *c, struct msg *m)
{
	if (!is_me(c, m))
		return;
	time_t now = time(NULL);
	struct tm tm;
	char text[64];
	gmtime_r(&now, &tm);
	strftime(text, sizeof text, "%A %B %d %Y -- %H:%M:%S +00:00", &tm);
	reply(c, RPL_TIME, ircd.conf->server_name, (long long)now, text);
}

void cmd_info(struct client *c, struct msg *m)
{
	static const char *const lines[] = {
	    PARLEY_VERSION,
	    "Parley: an IRC server with account services and history built in.",
	    "Written in C on libev, OpenSSL, libconfig, MariaDB and SQLite.",
	    NULL,
	};
	if (!is_me(c, m))
		return;
	for (const char *const *l = lines; *l; l++)
		reply(c, RPL_INFO, *l);
	char started[96];
	snprintf(started, sizeof started, "Started %s", ircd.created);
	reply(c, RPL_INFO, started);
	reply(c, RPL_ENDOFINFO);
}

void cmd_admin(struct client *c, struct msg *m)
{
	if (!is_me(c, m))
		return;
	const struct conf *cf = ircd.conf;
	reply(c, RPL_ADMINME, cf->server_name);
	reply(c, RPL_ADMINLOC1, cf->admin_location);
	reply(c, RPL_ADMINLOC2, cf->admin_location2[0] ? cf->admin_location2 : cf->description);
	reply(c, RPL_ADMINEMAIL, cf->admin_email);
}
