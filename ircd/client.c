/* client.c - client lifetime: accept, input to commands (with flood control), the
 * registration and ping timer, exit and reaping. */
#include "route.h"
#include "server.h"
#include "client.h"

#include "channel.h"
#include "ban.h"
#include "cap.h"
#include "casemap.h"
#include "cloak.h"
#include "outmsg.h"
#include "command.h"
#include "connlimit.h"
#include "dict.h"
#include "history.h"
#include "ircd.h"
#include "listener.h"
#include "log.h"
#include "monitor.h"
#include "oper.h"
#include "parse.h"
#include "reply.h"
#include "service.h"
#include "session.h"
#include "sasl_scram.h"
#include "uid.h"
#include "alwayson.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static struct client *dead_list;

/* Clients to exit at the next safe point, and why (client_exit_soon). */
static struct {
	uint64_t id;
	const char *reason; /* a string literal */
} *exit_soon;
static size_t nexit_soon, exit_soon_cap;

static struct client *from_conn(struct conn *conn) { return (struct client *)conn; }

static void update_prefix(struct client *c)
{
	snprintf(c->prefix, sizeof c->prefix, "%s!%s@%s", c->nick, c->user[0] ? c->user : "*", c->host);
	if (c->sessions)
		session_sync(c);
}

static void timer_cb(EV_P_ ev_timer *w, int revents);
static void flood_cb(EV_P_ ev_timer *w, int revents);

/* True if c's commands are rate limited: its class has flood control and it is not an
 * operator (opers run the server: a KLINE burst or a long STATS session must not wait;
 * their SendQ still applies). */
static bool flood_limited(const struct client *c)
{
	return c->class->flood_enabled && !(c->umodes & UMODE('o'));
}

/* Token bucket: returns true if c may run a command now; otherwise holds its input
 * and arms a timer for when a token will be there ("fakelag"). */
static bool flood_admit(struct client *c)
{
	const struct conf_class *cl = c->class;
	if (!flood_limited(c))
		return true;
	ev_tstamp now = ev_now(EV_DEFAULT);
	c->flood_tokens += (now - c->flood_stamp) * cl->flood_rate;
	c->flood_stamp = now;
	if (c->flood_tokens > cl->flood_burst)
		c->flood_tokens = cl->flood_burst;
	if (c->flood_tokens >= 1)
		return true;
	double wait = cl->flood_rate > 0 ? (1 - c->flood_tokens) / cl->flood_rate : 1;
	c->flags |= CLI_FLOOD_HELD;
	conn_pause(&c->conn);
	ev_timer_set(&c->flood_timer, wait, 0);
	ev_timer_start(EV_DEFAULT, &c->flood_timer);
	return false;
}

static void flood_cb(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct client *c = w->data;
	c->flags &= ~CLI_FLOOD_HELD;
	if (!(c->flags & CLI_WAITING))
		conn_resume(&c->conn);
}

static bool admit(struct conn *conn)
{
	struct client *c = from_conn(conn);
	return !client_dead(c) && flood_admit(c);
}

/* A body past MSG_BODY_MAX is accepted only on a line to a service or IRCv3 REGISTER:
 * those carry passwords, which may be 600 bytes (PASSWORD_MAX). Nothing else gets
 * longer, so nothing relayed to other clients can exceed the 512-byte line. */
static bool long_line_allowed(const struct msg *m)
{
	if (m->body_len <= MSG_BODY_MAX)
		return true;
	if (strcasecmp(m->command, "REGISTER") == 0)
		return true;
	return strcasecmp(m->command, "PRIVMSG") == 0 && m->nparams >= 1 && service_find(m->params[0]);
}

static bool on_line(struct conn *conn, char *line, size_t len)
{
	struct client *c = from_conn(conn);
	if (client_dead(c))
		return false;
	c->last_line = ev_now(EV_DEFAULT);
	c->flags &= ~CLI_PING_SENT;
	struct msg m;
	switch (msg_parse_max(line, len, &m, MSG_SERVICE_BODY_MAX)) {
	case PARSE_OK:
		if (long_line_allowed(&m))
			break;
		reply(c, ERR_INPUTTOOLONG);
		return true;
	case PARSE_TOO_LONG:
		reply(c, ERR_INPUTTOOLONG);
		return true;
	default:
		return true;
	}
	if (m.tags_len > CLIENT_TAG_DATA_MAX) {
		reply(c, ERR_INPUTTOOLONG);
		return true;
	}
	struct command *cmd = command_find(m.command);
	if (flood_limited(c))
		c->flood_tokens -= cmd ? cmd->penalty : 1;
	c->lines_in++;
	if (c->session_of)
		session_dispatch(c, &m);
	else
		command_dispatch(c, &m);
	return !client_dead(c);
}

static void on_too_long(struct conn *conn) { reply(from_conn(conn), ERR_INPUTTOOLONG); }

static void on_recvq_full(struct conn *conn)
{
	struct client *c = from_conn(conn);
	if (c->flags & CLI_FLOOD_HELD)
		client_leave(c, "Excess Flood");
}

static void on_error(struct conn *conn, const char *reason) { client_leave(from_conn(conn), reason); }

/* A trusted WebSocket proxy named the client's address (before any IRC line): the bans
 * and limits checked at accept against the proxy's address apply to it now, and it
 * becomes the address bans, cloaks and limits see. The proxy's own count is returned
 * only once the client's is taken, so a refusal leaves the counts as they were. */
static void on_address(struct conn *conn, const char *ip)
{
	struct client *c = from_conn(conn);
	char why[128];
	if (ban_check_ip(ip, why, sizeof why) || !connlimit_admit(ip, why, sizeof why)) {
		snprintf(c->host, sizeof c->host, "%s", ip);
		client_exit(c, why);
		return;
	}
	connlimit_release(c->conn.ip);
	snprintf(c->conn.ip, sizeof c->conn.ip, "%s", ip);
	snprintf(c->host, sizeof c->host, "%s", ip);
}

static const struct conn_ops client_conn_ops = {on_line, admit, on_too_long, on_recvq_full, on_error, on_address};

static void format_host(const struct sockaddr_storage *addr, char *ip, size_t size)
{
	char buf[INET6_ADDRSTRLEN];
	if (addr->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)addr)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, &a->s6_addr[12], buf, sizeof buf);
		else
			inet_ntop(AF_INET6, a, buf, sizeof buf);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, buf, sizeof buf);
	}
	/* A leading ':' would be read as a trailing parameter in replies. */
	snprintf(ip, size, "%s%s", buf[0] == ':' ? "0" : "", buf);
}

static unsigned remote_port(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)addr)->sin_port);
}

/* Refuses a connection before any client state exists: a plain listener gets the ERROR
 * line (best effort, never blocking), a TLS or WebSocket one is just closed. */
static bool refuse_early(int fd, SSL *ssl, const char *ip, bool websocket)
{
	char why[128];
	if (!ban_check_ip(ip, why, sizeof why) && connlimit_admit(ip, why, sizeof why))
		return false;
	log_conn("refused %s: %s", ip, why);
	if (!ssl && !websocket) {
		char line[256];
		int n = snprintf(line, sizeof line, "ERROR :Closing Link: %s (%s)\r\n", ip, why);
		if (write(fd, line, (size_t)n) < 0) {
			/* nothing to do: the connection is being refused anyway */
		}
	}
	SSL_free(ssl);
	close(fd);
	return true;
}

void client_accept(int fd, const struct sockaddr_storage *addr, SSL *ssl, const struct conf_listener *lc)
{
	char ip[INET6_ADDRSTRLEN + 1];
	format_host(addr, ip, sizeof ip);
	if (refuse_early(fd, ssl, ip, lc->websocket))
		return;
	struct client *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->id = ++ircd.next_id;
	c->class = &ircd.conf->classes[lc->class_index];
	c->lstats = listener_stats_hold(lc);
	conn_init(&c->conn, fd, ssl, &client_conn_ops);
	if (lc->websocket)
		conn_websocket(&c->conn);
	c->conn.sendq_max = c->class->sendq;
	snprintf(c->conn.ip, sizeof c->conn.ip, "%s", ip);
	snprintf(c->host, sizeof c->host, "%s", ip);
	c->connected = c->last_line = c->flood_stamp = ev_now(EV_DEFAULT);
	c->flood_tokens = c->class->flood_burst;
	ev_timer_init(&c->timer, timer_cb, ircd.conf->registration_timeout, 0);
	c->timer.data = c;
	ev_timer_start(EV_DEFAULT, &c->timer);
	ev_init(&c->flood_timer, flood_cb);
	c->flood_timer.data = c;
	c->next = ircd.clients;
	if (ircd.clients)
		ircd.clients->prev = c;
	ircd.clients = c;
	ircd.nconnections++;
	char idkey[24];
	snprintf(idkey, sizeof idkey, "%llx", (unsigned long long)c->id);
	dict_put(ircd.ids, idkey, c);
	ircd.class_clients[lc->class_index]++;
	log_conn("connect %llu from %s port %u to port %d%s", (unsigned long long)c->id, c->conn.ip,
	         remote_port(addr), lc->port, ssl ? " (TLS)" : "");
	if (ircd.shutting_down)
		client_exit(c, "Server shutting down");
	else if (ircd.class_clients[lc->class_index] > (unsigned)c->class->max_clients)
		client_exit(c, "Too many connections in this class");
}

/* The ping timer: registration timeout before 001, then PING after ping_frequency of
 * silence and exit after ping_timeout more. Re-armed for the next deadline each time. */
static void timer_cb(EV_P_ ev_timer *w, int revents)
{
	(void)revents;
	struct client *c = w->data;
	ev_tstamp now = ev_now(loop);
	if (!client_registered(c) && !c->session_of) {
		client_exit(c, "Registration timed out");
		return;
	}
	const struct conf_class *cl = c->class;
	if (c->flags & CLI_PING_SENT) {
		ev_tstamp deadline = c->ping_sent + cl->ping_timeout;
		if (now >= deadline) {
			char reason[64];
			snprintf(reason, sizeof reason, "Ping timeout: %d seconds", cl->ping_timeout);
			client_leave(c, reason);
			return;
		}
		ev_timer_set(w, deadline - now, 0);
	} else {
		ev_tstamp idle_until = c->last_line + cl->ping_frequency;
		if (now >= idle_until) {
			client_sendf(c, "PING :%s", ircd.conf->server_name);
			c->flags |= CLI_PING_SENT;
			c->ping_sent = now;
			ev_timer_set(w, cl->ping_timeout, 0);
		} else {
			ev_timer_set(w, idle_until - now, 0);
		}
	}
	ev_timer_start(loop, w);
}

void client_timer_restart(struct client *c)
{
	ev_timer_stop(EV_DEFAULT, &c->timer);
	ev_timer_set(&c->timer, c->class->ping_frequency, 0);
	ev_timer_start(EV_DEFAULT, &c->timer);
}

struct client *client_find(const char *nick) { return dict_get(ircd.nicks, nick); }

void client_change_host(struct client *c, const char *host)
{
	if (strcmp(c->host, host) == 0)
		return;
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s CHGHOST %s %s", c->prefix, c->user, host);
	snprintf(c->host, sizeof c->host, "%s", host);
	update_prefix(c);
	channel_send_common_monitored(c, &o, CAPF(CAP_CHGHOST));
	if (client_has_cap(c, CAP_CHGHOST))
		outmsg_send(&o, c);
	outmsg_release(&o);
	reply(c, RPL_HOSTHIDDEN, host);
}

struct client *client_by_id(uint64_t id)
{
	char idkey[24];
	snprintf(idkey, sizeof idkey, "%llx", (unsigned long long)id);
	return dict_get(ircd.ids, idkey);
}


void client_set_nick(struct client *c, const char *nick)
{
	if (c->nick[0] && client_find(c->nick) == c)
		dict_del(ircd.nicks, c->nick);
	if (!c->nick[0] || casemap_cmp(c->nick, nick) != 0)
		c->nick_since = outmsg_seq_floor();
	snprintf(c->nick, sizeof c->nick, "%s", nick);
	dict_put(ircd.nicks, c->nick, c);
	update_prefix(c);
}

bool client_nick_valid(const char *nick, int maxlen)
{
	static const char special[] = "[]\\`_^{|}";
	size_t len = strlen(nick);
	if (len == 0 || len > (size_t)maxlen)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)nick[i];
		bool letter = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
		bool digit_or_dash = (ch >= '0' && ch <= '9') || ch == '-';
		if (!letter && !strchr(special, ch) && (i == 0 || !digit_or_dash))
			return false;
	}
	return true;
}

void client_exit(struct client *c, const char *reason)
{
	if (client_dead(c))
		return;
	if (c->server) { /* a remote user: KILLed across the network */
		server_user_kill(c, reason);
		return;
	}
	c->flags |= CLI_DEAD;
	if (c->session_of || (client_registered(c) && session_handover(c))) {
		/* one session of a user that stays: it alone sees the user QUIT */
		if (c->session_of)
			session_detach(c);
		struct msgbuf *q = msgbuf_printf(":%s QUIT :%s", c->prefix, reason);
		conn_send_force(&c->conn, q);
		msgbuf_unref(q);
	} else if (client_registered(c)) {
		snotice_about(c, "Client exiting: %s (%s@%s) [%s]", c->nick, c->user, c->conn.ip, reason);
		alwayson_gone(c); /* really gone: its stored presence too */
		if (!ircd.shutting_down) /* the links close with us: a split, not QUITs */
			route_quit(c, reason);
		channel_client_exit(c, reason);
		monitor_offline(c->nick);
		ircd.nusers--;
		if (c->umodes & UMODE('i'))
			ircd.ninvisible--;
		if (c->umodes & UMODE('o'))
			ircd.nopers--;
	}
	if (c->nick[0] && client_find(c->nick) == c)
		dict_del(ircd.nicks, c->nick);
	uid_del(c);
	monitor_forget(c);
	readmarker_client_exit(c);
	char idkey[24];
	snprintf(idkey, sizeof idkey, "%llx", (unsigned long long)c->id);
	dict_del(ircd.ids, idkey);
	if (c->flags & CLI_GHOST) {
		alwayson_ghost_exit(c);
	} else {
		ircd.nconnections--;
		ircd.class_clients[c->class - ircd.conf->classes]--;
	}
	ev_timer_stop(EV_DEFAULT, &c->timer);
	ev_timer_stop(EV_DEFAULT, &c->flood_timer);
	ev_timer_stop(EV_DEFAULT, &c->service_timer);
	struct msgbuf *b = msgbuf_printf("ERROR :Closing Link: %s (%s)", c->host, reason);
	conn_send_force(&c->conn, b);
	msgbuf_unref(b);
	conn_finish(&c->conn);
	log_conn("exit %llu %s from %s: %s", (unsigned long long)c->id, c->nick[0] ? c->nick : "*", c->conn.ip, reason);
	c->dead_next = dead_list;
	dead_list = c;
}

void client_leave(struct client *c, const char *reason)
{
	if (!client_dead(c) && alwayson_keep(c, reason))
		return;
	client_exit(c, reason);
}

struct client *client_ghost_new(const struct conf_class *class)
{
	struct client *g = calloc(1, sizeof *g);
	if (!g)
		abort();
	g->id = ++ircd.next_id;
	g->flags = CLI_GHOST;
	g->class = class;
	g->conn.fd = -1;
	g->conn.flags = CONN_DEAD; /* sends are dropped by conn_send */
	g->connected = g->last_line = g->flood_stamp = ev_now(EV_DEFAULT);
	ev_timer_init(&g->timer, timer_cb, 0, 0); /* never started: no ping */
	g->timer.data = g;
	ev_init(&g->flood_timer, flood_cb);
	g->flood_timer.data = g;
	g->next = ircd.clients;
	if (ircd.clients)
		ircd.clients->prev = g;
	ircd.clients = g;
	char idkey[24];
	snprintf(idkey, sizeof idkey, "%llx", (unsigned long long)g->id);
	dict_put(ircd.ids, idkey, g);
	return g;
}

void client_exit_soon(struct client *c, const char *reason)
{
	if (client_dead(c) || (c->flags & CLI_EXIT_SOON))
		return;
	c->flags |= CLI_EXIT_SOON;
	if (nexit_soon == exit_soon_cap) {
		exit_soon_cap = exit_soon_cap ? exit_soon_cap * 2 : 16;
		exit_soon = realloc(exit_soon, exit_soon_cap * sizeof *exit_soon);
		if (!exit_soon)
			abort();
	}
	exit_soon[nexit_soon].id = c->id;
	exit_soon[nexit_soon++].reason = reason;
}

void client_exit_pending(void)
{
	/* an exit may overflow more SendQs (its QUIT): they join the list and run here too */
	for (size_t i = 0; i < nexit_soon; i++) {
		struct client *c = client_by_id(exit_soon[i].id);
		if (c)
			client_leave(c, exit_soon[i].reason);
	}
	nexit_soon = 0;
}

void client_reap(void)
{
	while (dead_list) {
		struct client *c = dead_list;
		dead_list = c->dead_next;
		conn_close(&c->conn);
		listener_stats_release(c->lstats, c->conn.bytes_in, c->conn.bytes_out);
		if (!(c->flags & CLI_GHOST)) /* a ghost holds no connection slot */
			connlimit_release(c->conn.ip);
		if (c->prev)
			c->prev->next = c->next;
		else
			ircd.clients = c->next;
		if (c->next)
			c->next->prev = c->prev;
		free(c->away);
		free(c->sasl_buf);
		sasl_scram_free(c);
		free(c->silence);
		free(c->pass);
		free(c);
	}
}
