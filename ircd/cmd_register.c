/* cmd_register.c - connection registration and the commands every connection may
 * use: PASS, NICK, USER, PING, PONG, QUIT, and the welcome burst. */
#include "route.h"
#include "account.h"
#include "alwayson.h"
#include "ban.h"
#include "cloak.h"
#include "cap.h"
#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "dict.h"
#include "command.h"
#include "history.h"
#include "ircd.h"
#include "log.h"
#include "isupport.h"
#include "mode.h"
#include "oper.h"
#include "monitor.h"
#include "parse.h"
#include "reply.h"
#include "service.h"
#include "session.h"
#include "uid.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cmd_pass(struct client *c, struct msg *m)
{
	free(c->pass);
	c->pass = strndup(m->params[0], 256);
	if (!c->pass)
		abort();
}

void cmd_nick(struct client *c, struct msg *m)
{
	if (m->nparams < 1 || !*m->params[0]) {
		reply(c, ERR_NONICKNAMEGIVEN);
		return;
	}
	const char *nick = m->params[0];
	if (!client_nick_valid(nick, ircd.conf->nicklen)) {
		reply(c, ERR_ERRONEUSNICKNAME, nick);
		return;
	}
	struct client *other = client_find(nick);
	if (other && other != c && !client_registered(c) && session_may_attach(c, nick)) {
		/* held by a logged-in user: this may be another session of it (decided at
		 * registration, once this client's own login is known) */
		if (c->nick[0] && client_find(c->nick) == c)
			dict_del(ircd.nicks, c->nick);
		str_copy(c->nick, sizeof c->nick, nick);
		c->flags |= CLI_ATTACH;
		client_try_register(c);
		return;
	}
	if ((other && other != c) || service_find(nick)) {
		reply(c, ERR_NICKNAMEINUSE, nick);
		return;
	}
	if (strcmp(c->nick, nick) == 0)
		return;
	if (!client_registered(c)) {
		c->flags &= ~CLI_ATTACH;
		client_set_nick(c, nick);
		client_try_register(c);
		return;
	}
	nick_change(c, nick);
}

void nick_change(struct client *c, const char *nick)
{
	char old[PREFIX_MAX + 1], old_nick[NICK_MAX + 1];
	memcpy(old, c->prefix, sizeof old);
	memcpy(old_nick, c->nick, sizeof old_nick);
	client_set_nick(c, nick);
	c->nick_ts = time(NULL);
	channel_nick_change(c, old, nick);
	route_nick(c);
	alwayson_touch(c);
	if (casemap_cmp(old_nick, nick) != 0) {
		monitor_offline(old_nick);
		monitor_online(c);
		services_nick_changed(c);
	}
}

void cmd_user(struct client *c, struct msg *m)
{
	if (c->flags & CLI_GOT_USER) {
		reply(c, ERR_ALREADYREGISTERED);
		return;
	}
	/* The username is kept short and free of characters that break a prefix. */
	size_t j = 0;
	for (const char *p = m->params[0]; *p && j < USER_MAX; p++)
		if (*p != '@' && *p != '!' && *p != ':' && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
			c->user[j++] = *p;
	c->user[j] = '\0';
	if (j == 0) {
		if (*m->params[0])
			reply(c, ERR_INVALIDUSERNAME);
		else
			reply(c, ERR_NEEDMOREPARAMS, "USER");
		return;
	}
	if (!*m->params[3]) {
		reply(c, ERR_NEEDMOREPARAMS, "USER");
		return;
	}
	if (!utf8_valid(m->params[3], strlen(m->params[3]))) {
		reply_standard(c, "FAIL", "USER", "INVALID_REALNAME", NULL, "Your realname must be valid UTF-8");
		return;
	}
	snprintf(c->realname, sizeof c->realname, "%s", m->params[3]);
	c->flags |= CLI_GOT_USER;
	snprintf(c->prefix, sizeof c->prefix, "%s!%s@%s", c->nick[0] ? c->nick : "*", c->user, c->host);
	client_try_register(c);
}

void cmd_ping(struct client *c, struct msg *m)
{
	client_sendf(c, ":%s PONG %s :%s", ircd.conf->server_name, ircd.conf->server_name, m->params[0]);
}

void cmd_pong(struct client *c, struct msg *m)
{
	(void)c;
	(void)m; /* any line counts as life; client.c already cleared the ping */
}

void cmd_quit(struct client *c, struct msg *m)
{
	char reason[400];
	const char *text = m->nparams ? m->params[0] : "";
	if (!utf8_valid(text, strlen(text)))
		text = ""; /* UTF8ONLY: a reason that is not UTF-8 is dropped, not relayed */
	if (client_registered(c))
		snprintf(reason, sizeof reason, "Quit: %s", text);
	else
		snprintf(reason, sizeof reason, "Client Quit");
	client_leave(session_asker(c), reason); /* a session's QUIT detaches it alone */
}

void server_send_lusers(struct client *c);
void server_send_motd(struct client *c);

static void welcome(struct client *c)
{
	const struct conf *cf = ircd.conf;
	reply(c, RPL_WELCOME, cf->network, c->prefix);
	reply(c, RPL_YOURHOST, cf->server_name, PARLEY_VERSION);
	reply(c, RPL_CREATED, ircd.created);
	reply(c, RPL_MYINFO, cf->server_name, PARLEY_VERSION, USER_MODES, CHANNEL_MODES, CHANNEL_PARAM_MODES);
	isupport_send(c);
	if (c->umodes & UMODE('x')) /* the host others see, before the rest of the burst */
		reply(c, RPL_HOSTHIDDEN, c->host);
	server_send_lusers(c);
	if (c->umodes & UMODE('x'))
		client_sendf(c, ":%s MODE %s :+x", c->prefix, c->nick);
	server_send_motd(c);
}

/* A connection attached to a logged-in user (session.c): the user's welcome, then its
 * channels. Not a new user: no counts, no services, no monitors. */
static void register_session(struct client *c)
{
	if (c->pass) {
		OPENSSL_cleanse(c->pass, strlen(c->pass));
		free(c->pass);
		c->pass = NULL;
	}
	client_timer_restart(c);
	welcome(c);
	log_conn("registered %llu %s (%s) as a session of account=%s", (unsigned long long)c->id, c->prefix, c->conn.ip,
	         c->account);
	session_start(c);
}

/* A connection that took over its account's always-on user (alwayson.c): the user's
 * welcome, its channels, the catch-up. Not a new user either. */
static void register_attached(struct client *c)
{
	if (c->pass) {
		OPENSSL_cleanse(c->pass, strlen(c->pass));
		free(c->pass);
		c->pass = NULL;
	}
	client_timer_restart(c);
	welcome(c);
	log_conn("registered %llu %s (%s), taking over always-on account=%s", (unsigned long long)c->id, c->prefix,
	         c->conn.ip, c->account);
	alwayson_burst(c);
}

void client_try_register(struct client *c)
{
	if (client_registered(c) || c->session_of || client_dead(c) || !c->nick[0] || !(c->flags & CLI_GOT_USER) ||
	    (c->flags & CLI_CAP_WAIT))
		return;
	if (c->sasl_mech[0] || (c->flags & CLI_WAITING))
		return; /* a login in progress completes first */
	if (account_pass_login(c))
		return;
	if (ircd.conf->password[0] && (!c->pass || strcmp(c->pass, ircd.conf->password) != 0)) {
		reply(c, ERR_PASSWDMISMATCH);
		client_exit(c, "Bad password");
		return;
	}
	char why[300];
	if (ban_check_client(c, why, sizeof why)) {
		const char *reason = strchr(why, ':') ? strchr(why, ':') + 2 : why;
		reply(c, ERR_YOUREBANNEDCREEP, reason);
		client_exit(c, why);
		return;
	}
	if (c->account[0] && alwayson_attach(c)) {
		register_attached(c);
		return;
	}
	if (c->flags & CLI_ATTACH) {
		c->flags &= ~CLI_ATTACH;
		if (session_attach(c)) {
			register_session(c);
			return;
		}
		if (!c->nick[0])
			return; /* refused: it may send another NICK */
	}
	if (ircd.conf->cloak_default && ircd.conf->cloak_secret[0]) {
		c->umodes |= UMODE('x');
		cloak_host(ircd.conf->cloak_secret, ircd.conf->cloak_suffix, c->conn.ip, c->host, sizeof c->host);
	}
	if (c->pass) { /* not needed after registration */
		OPENSSL_cleanse(c->pass, strlen(c->pass));
		free(c->pass);
		c->pass = NULL;
	}
	c->flags |= CLI_REGISTERED;
	c->nick_ts = time(NULL);
	uid_assign(c, ircd.conf->sid);
	ircd.nusers++;
	if (ircd.nusers > ircd.max_users)
		ircd.max_users = ircd.nusers;
	snprintf(c->prefix, sizeof c->prefix, "%s!%s@%s", c->nick, c->user, c->host);
	c->last_message = ev_now(EV_DEFAULT);
	client_timer_restart(c);
	welcome(c);
	route_introduce(c);
	snotice_about(c, "Client connecting: %s (%s@%s) [%s]%s", c->nick, c->user, c->conn.ip, c->conn.ip,
	        c->conn.ssl ? " (TLS)" : "");
	log_conn("registered %llu %s (%s)%s%s", (unsigned long long)c->id, c->prefix, c->conn.ip, c->account[0] ? " account=" : "", c->account);
	monitor_online(c);
	services_nick_changed(c);
	history_session_start(c); /* logged in during registration: markers, offline messages */
}
