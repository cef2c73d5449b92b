/* server.c - server links: accepting and making them, the handshake, the burst, the
 * ping timer, splits, and the servers and users known through each link.
 *
 * A peer may register on any listener, as on ircd-hybrid and Solanum: a connection
 * whose PASS, SERVER name and address match a connect block becomes a link. Its socket
 * then moves (conn_move) from the client to a struct server with its own conn_ops, so
 * the client paths never see a server, and a server's lines go to ts6.c. Remote users
 * are struct clients with `server` set and a dead connection: whatever the client code
 * sends them is dropped (conn_send on a dead conn), and what they do comes from ts6.c. */
#include "server.h"
#include "tls.h"

#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "command.h"
#include "dict.h"
#include "ircd.h"
#include "log.h"
#include "monitor.h"
#include "msgbuf.h"
#include "oper.h"
#include "outmsg.h"
#include "parse.h"
#include "reply.h"
#include "service.h"
#include "uid.h"
#include "audit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HANDSHAKE_TIMEOUT 30
#define NETWORK_UMODES "iow" /* the user modes that cross links */

unsigned ircd_links;

static struct server *servers;      /* every server we know, direct or not */
static struct server *dead_servers; /* dropped links, freed at server_reap */
static struct client *remote_users; /* linked through next/prev */
static unsigned long mark_gen;
static unsigned nremote, nremote_invisible; /* remote users, for LUSERS */
static unsigned global_max;                 /* the most users the network has had */
static ev_timer autoconnect_timer;

static void link_timer_cb(EV_P_ ev_timer *w, int revents);

const struct conf_connect *server_conf(const char *name)
{
	for (int i = 0; i < ircd.conf->nconnects; i++)
		if (strcasecmp(ircd.conf->connects[i].name, name) == 0)
			return &ircd.conf->connects[i];
	return NULL;
}

struct server *server_find(const char *key)
{
	for (struct server *s = servers; s; s = s->next)
		if (!s->dead && (strcasecmp(s->name, key) == 0 || (s->sid[0] && strcasecmp(s->sid, key) == 0)))
			return s;
	return NULL;
}

static struct msgbuf *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static struct msgbuf *vformat(const char *fmt, va_list ap)
{
	char line[MSG_LINE_MAX + 2];
	int n = vsnprintf(line, sizeof line - 2, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof line - 3)
		n = (int)sizeof line - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	return msgbuf_new(line, (size_t)n);
}

/* Queues b to a direct link. A link whose SendQ is full (a peer that stopped reading) is
 * dropped at the next loop iteration rather than here: the caller may be walking the
 * server or member lists a split changes. What it is not sent the re-link bursts again. */
static void link_queue(struct server *link, struct msgbuf *b)
{
	if (conn_send(&link->conn, b)) {
		link->lines_out++;
		return;
	}
	if (link->overflowed)
		return;
	link->overflowed = true;
	ev_timer_stop(EV_DEFAULT, &link->timer);
	ev_timer_set(&link->timer, 0, 0);
	ev_timer_start(EV_DEFAULT, &link->timer);
}

void server_send(struct server *link, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct msgbuf *b = vformat(fmt, ap);
	va_end(ap);
	link_queue(link, b);
	msgbuf_unref(b);
}

void server_send_all(struct server *except, const char *fmt, ...)
{
	if (!ircd_links)
		return;
	va_list ap;
	va_start(ap, fmt);
	struct msgbuf *b = vformat(fmt, ap);
	va_end(ap);
	for (struct server *s = servers; s; s = s->next)
		if (s->via == s && s != except && s->state == SRV_LINKED && !s->dead)
			link_queue(s, b);
	msgbuf_unref(b);
}

/* "@tags " and b: the copy a peer that announced MTAGS gets. */
static struct msgbuf *with_tags(const char *tags, const struct msgbuf *b)
{
	char line[MSG_LINE_MAX + 2];
	int n = snprintf(line, sizeof line, "@%s ", tags);
	if (n < 0 || (size_t)n + b->len > sizeof line)
		return msgbuf_ref((struct msgbuf *)b); /* cannot happen with our tags: plain */
	memcpy(line + n, b->data, b->len);
	return msgbuf_new(line, (size_t)n + b->len);
}

/* Queues b (or its tagged copy, built once, to MTAGS peers) to a link; with tags_only
 * (TAGMSG) nothing goes to a peer without MTAGS. */
static void send_variant(struct server *link, struct msgbuf *b, const char *tags, bool tags_only,
                         struct msgbuf **tagged)
{
	if (!tags || !(link->caps & LINKCAP_MTAGS)) {
		if (!tags_only)
			link_queue(link, b);
		return;
	}
	if (!*tagged)
		*tagged = with_tags(tags, b);
	link_queue(link, *tagged);
}

static void send_channel_v(struct channel *ch, struct server *except, const char *tags, bool tags_only,
                           const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void send_channel_v(struct channel *ch, struct server *except, const char *tags, bool tags_only,
                           const char *fmt, va_list ap)
{
	if (!ch->nremote)
		return;
	unsigned long gen = ++mark_gen;
	struct msgbuf *b = NULL, *tagged = NULL;
	for (struct membership *m = ch->members; m; m = m->chan_next) {
		struct server *s = m->client->server;
		if (!s || s->via == except || s->via->mark == gen || s->via->dead)
			continue;
		s->via->mark = gen;
		if (!b)
			b = vformat(fmt, ap);
		send_variant(s->via, b, tags, tags_only, &tagged);
	}
	msgbuf_unref(b);
	msgbuf_unref(tagged);
}

void server_send_channel(struct channel *ch, struct server *except, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	send_channel_v(ch, except, NULL, false, fmt, ap);
	va_end(ap);
}

void server_send_channel_tagged(struct channel *ch, struct server *except, const char *tags, bool tags_only,
                                const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	send_channel_v(ch, except, tags, tags_only, fmt, ap);
	va_end(ap);
}

void server_send_tagged(struct server *link, const char *tags, bool tags_only, const char *fmt, ...)
{
	if (tags_only && !(link->caps & LINKCAP_MTAGS))
		return;
	va_list ap;
	va_start(ap, fmt);
	struct msgbuf *b = vformat(fmt, ap), *tagged = NULL;
	va_end(ap);
	send_variant(link, b, tags, tags_only, &tagged);
	msgbuf_unref(b);
	msgbuf_unref(tagged);
}

/* ---- remote users ---- */

void server_add_user(struct server *s, struct client *c)
{
	c->server = s;
	c->conn.fd = -1;
	c->conn.flags = CONN_DEAD;
	c->flags |= CLI_REGISTERED;
	c->connected = c->last_message = ev_now(EV_DEFAULT);
	c->id = ++ircd.next_id;
	uid_add(c);
	char nick[NICK_MAX + 1];
	memcpy(nick, c->nick, sizeof nick);
	c->nick[0] = '\0';
	client_set_nick(c, nick);
	c->next = remote_users;
	c->prev = NULL;
	if (remote_users)
		remote_users->prev = c;
	remote_users = c;
	s->nusers++;
	nremote++;
	nremote_invisible += (c->umodes & UMODE('i')) != 0;
	server_global_max(ircd.nusers + nremote);
	monitor_online(c);
}

void server_user_exit(struct client *c, const char *reason)
{
	channel_client_exit(c, reason);
	if (client_find(c->nick) == c)
		dict_del(ircd.nicks, c->nick);
	monitor_offline(c->nick);
	uid_del(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		remote_users = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->server->nusers--;
	nremote--;
	nremote_invisible -= (c->umodes & UMODE('i')) != 0;
	free(c->away);
	free(c);
}

struct client *server_account_user(const char *account)
{
	for (struct client *c = remote_users; c; c = c->next)
		if (casemap_cmp(c->account, account) == 0)
			return c;
	return NULL;
}

unsigned server_count_users(unsigned *invisible)
{
	*invisible += nremote_invisible;
	return nremote;
}

unsigned server_global_max(unsigned global)
{
	if (global > global_max)
		global_max = global;
	if (ircd.max_users > global_max)
		global_max = ircd.max_users;
	return global_max;
}

unsigned server_count(void)
{
	unsigned n = 0;
	for (struct server *s = servers; s; s = s->next)
		n += s->state == SRV_LINKED && !s->dead;
	return n;
}

void server_each(void (*fn)(const struct server *s, void *arg), void *arg)
{
	for (struct server *s = servers; s; s = s->next)
		if (s->state == SRV_LINKED && !s->dead)
			fn(s, arg);
}

/* ---- the burst ---- */

static void umode_text(const struct client *c, char *out)
{
	char *p = out;
	*p++ = '+';
	for (const char *m = NETWORK_UMODES; *m; m++)
		if (c->umodes & UMODE(*m))
			*p++ = *m;
	*p = '\0';
}

void server_send_uid(struct server *link, const struct client *c)
{
	char modes[8];
	umode_text(c, modes);
	const char *sid = c->server ? c->server->sid : ircd.conf->sid;
	const char *ip = c->server ? "0" : (c->conn.ip[0] ? c->conn.ip : "0");
	server_send(link, ":%s UID %s %d %lld %s %s %s %s %s %s %s :%s", sid, c->nick, c->server ? 2 : 1,
	            (long long)c->nick_ts, modes, c->user, c->host, ip, ip, c->uid, c->account[0] ? c->account : "*",
	            c->realname);
	if (c->away)
		server_send(link, ":%s AWAY :%s", c->uid, c->away);
}

void server_umode_filter(const char *change, char *out, size_t size)
{
	size_t n = 0;
	char dir = '+', last = 0;
	for (const char *p = change; *p && n + 3 < size; p++) {
		if (*p == '+' || *p == '-') {
			dir = *p;
			continue;
		}
		if (!strchr(NETWORK_UMODES, *p))
			continue;
		if (dir != last)
			out[n++] = last = dir;
		out[n++] = *p;
	}
	out[n] = '\0';
}

void server_user_umodes(struct client *c, const char *change)
{
	bool add = true;
	for (const char *p = change; *p; p++) {
		if (*p == '+' || *p == '-') {
			add = *p == '+';
			continue;
		}
		if (!strchr(NETWORK_UMODES, *p))
			continue;
		uint64_t bit = UMODE(*p);
		if (add == ((c->umodes & bit) != 0))
			continue;
		c->umodes ^= bit;
		if (*p == 'i' && add)
			nremote_invisible++;
		else if (*p == 'i')
			nremote_invisible--;
	}
}

void server_send_host(struct server *except, const struct client *c)
{
	for (struct server *s = servers; s; s = s->next) {
		if (s->via != s || s == except || s->state != SRV_LINKED || s->dead || (c->server && c->server->via == s))
			continue;
		if (s->caps & LINKCAP_RHOST)
			server_send(s, ":%s SVSHOST %s %lld %s", ircd.conf->sid, c->uid, (long long)c->nick_ts, c->host);
		else
			server_send(s, ":%s ENCAP * CHGHOST %s %s", ircd.conf->sid, c->uid, c->host);
	}
}

void server_send_account(struct server *except, const struct client *c)
{
	const char *acct = c->account[0] ? c->account : "*";
	for (struct server *s = servers; s; s = s->next) {
		if (s->via != s || s == except || s->state != SRV_LINKED || s->dead || (c->server && c->server->via == s))
			continue;
		if (s->caps & LINKCAP_RHOST)
			server_send(s, ":%s SVSACCOUNT %s %lld %s", ircd.conf->sid, c->uid, (long long)c->nick_ts, acct);
		else if (c->account[0])
			server_send(s, ":%s ENCAP * LOGIN %s", c->uid, c->account);
		else
			server_send(s, ":%s ENCAP * SU %s", ircd.conf->sid, c->uid);
	}
}

void server_send_kline(struct server *except, const char *source, const char *mask, long seconds,
                       const char *reason)
{
	const char *at = strchr(mask, '@');
	if (!at)
		return;
	int ulen = (int)(at - mask);
	for (struct server *s = servers; s; s = s->next) {
		if (s->via != s || s == except || s->state != SRV_LINKED || s->dead)
			continue;
		const char *how = s->caps & LINKCAP_RHOST ? "" : "ENCAP * ";
		const char *to = s->caps & LINKCAP_RHOST ? "* " : "";
		if (seconds >= 0)
			server_send(s, ":%s %sKLINE %s%ld %.*s %s :%s", source, how, to, seconds, ulen, mask, at + 1, reason);
		else
			server_send(s, ":%s %sUNKLINE %s%.*s %s", source, how, to, ulen, mask, at + 1);
	}
}

void server_uid_all(const struct client *c)
{
	for (struct server *s = servers; s; s = s->next)
		if (s->via == s && s->state == SRV_LINKED && !s->dead && (!c->server || c->server->via != s))
			server_send_uid(s, c);
}

/* The mode letters and arguments of ch, as SJOIN carries them. */
static void channel_mode_text(const struct channel *ch, char *out, size_t size)
{
	char letters[32], *p = letters;
	*p++ = '+';
	for (const char *m = "imnpst"; *m; m++)
		if (ch->modes & CMODE(*m))
			*p++ = *m;
	if (ch->key[0])
		*p++ = 'k';
	if (ch->limit)
		*p++ = 'l';
	*p = '\0';
	int n = snprintf(out, size, "%s", letters);
	if (ch->key[0])
		n += snprintf(out + n, size - (size_t)n, " %s", ch->key);
	if (ch->limit)
		snprintf(out + n, size - (size_t)n, " %u", ch->limit);
}

/* ch's ban, exception and invitation lists as BMASK lines (as many masks a line as fit). */
static void burst_lists(struct server *link, const struct channel *ch)
{
	static const char letters[LIST_KINDS] = {'b', 'e', 'I'};
	for (int k = 0; k < LIST_KINDS; k++) {
		char head[160], list[512];
		int hn = snprintf(head, sizeof head, ":%s BMASK %lld %s %c :", ircd.conf->sid, (long long)ch->created, ch->name,
		                  letters[k]);
		size_t len = 0, room = 500 - (size_t)hn;
		for (const struct list_entry *e = ch->lists[k]; e; e = e->next) {
			size_t n = strlen(e->mask);
			if (len && len + 1 + n > room) {
				server_send(link, "%s%s", head, list);
				len = 0;
			}
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? " " : "", e->mask);
		}
		if (len)
			server_send(link, "%s%s", head, list);
	}
}

static void burst_channel(struct channel *ch, void *arg)
{
	struct server *link = arg;
	char modes[64], head[160], list[512];
	channel_mode_text(ch, modes, sizeof modes);
	snprintf(head, sizeof head, ":%s SJOIN %lld %s %s :", ircd.conf->sid, (long long)ch->created, ch->name, modes);
	size_t len = 0, room = 500 - strlen(head);
	list[0] = '\0';
	for (struct membership *m = ch->members; m; m = m->chan_next) {
		if (m->client->server && m->client->server->via == link)
			continue;
		char item[16];
		int n = snprintf(item, sizeof item, "%s%s%s%s", len ? " " : "", m->status & MEMBER_OP ? "@" : "",
		                 m->status & MEMBER_VOICE ? "+" : "", m->client->uid);
		if (len + (size_t)n > room) {
			server_send(link, "%s%s", head, list);
			len = 0;
			n = snprintf(item, sizeof item, "%s%s%s", m->status & MEMBER_OP ? "@" : "",
			             m->status & MEMBER_VOICE ? "+" : "", m->client->uid);
		}
		memcpy(list + len, item, (size_t)n + 1);
		len += (size_t)n;
	}
	if (len)
		server_send(link, "%s%s", head, list);
	if (len)
		burst_lists(link, ch);
	if (len && ch->topic)
		server_send(link, ":%s TBURST %lld %s %lld %s :%s", ircd.conf->sid, (long long)ch->created, ch->name,
		            (long long)ch->topic_time, ch->topic_setter, ch->topic);
}

/* Hops from us to s: 1 for a server linked to us. */
static int server_hops(const struct server *s)
{
	int hops = 1;
	for (const struct server *u = s->uplink; u; u = u->uplink)
		hops++;
	return hops;
}

/* The SID lines of a burst, oldest server first: the receiver drops a SID whose uplink it
 * does not know yet, and the list is newest first (a server is added after its uplink).
 * Walking it backwards without a prev pointer is quadratic, for a handful of servers. */
static void burst_servers(struct server *link)
{
	for (struct server *done = NULL; done != servers;) {
		struct server *s = servers;
		while (s->next != done)
			s = s->next;
		done = s;
		if (s->via != link && s->state == SRV_LINKED && !s->dead)
			server_send(link, ":%s SID %s %d %s + :%s", s->uplink ? s->uplink->sid : ircd.conf->sid,
			            s->name, server_hops(s) + 1, s->sid, s->desc);
	}
}

static void burst(struct server *link)
{
	burst_servers(link);
	for (struct client *c = ircd.clients; c; c = c->next)
		if (client_registered(c) && !client_dead(c) && !c->session_of)
			server_send_uid(link, c);
	for (struct client *c = remote_users; c; c = c->next)
		if (c->server->via != link)
			server_send_uid(link, c);
	channel_each(burst_channel, link);
	server_send(link, "PING :%s", ircd.conf->sid);
}

/* ---- link lifetime ---- */

static bool on_line(struct conn *conn, char *line, size_t len)
{
	struct server *s = (struct server *)conn;
	if (s->dead)
		return false;
	s->last_line = ev_now(EV_DEFAULT);
	s->lines_in++;
	struct msg m;
	if (msg_parse_max(line, len, &m, 8192) != PARSE_OK)
		return true;
	ts6_dispatch(s, &m);
	return !s->dead;
}

static void on_too_long(struct conn *conn) { server_drop((struct server *)conn, "Line too long"); }
static void on_recvq_full(struct conn *conn) { server_drop((struct server *)conn, "RecvQ exceeded"); }
static void on_error(struct conn *conn, const char *reason) { server_drop((struct server *)conn, reason); }

static const struct conn_ops server_conn_ops = {on_line, NULL, on_too_long, on_recvq_full, on_error, NULL};

static struct server *server_new(const char *name)
{
	struct server *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	snprintf(s->name, sizeof s->name, "%s", name);
	s->conn.fd = -1;
	s->via = s;
	s->last_line = ev_now(EV_DEFAULT);
	ev_timer_init(&s->timer, link_timer_cb, HANDSHAKE_TIMEOUT, 0);
	s->timer.data = s;
	s->next = servers;
	servers = s;
	return s;
}

void server_list_add(struct server *s)
{
	s->next = servers;
	servers = s;
}

void server_user_kill(struct client *c, const char *reason)
{
	/* the TS6 path "server (reason)": the user's own server shows it as "Killed (server
	 * (reason))", so this node's users are told the same */
	char quit[500];
	snprintf(quit, sizeof quit, "Killed (%s (%s))", ircd.conf->server_name, reason);
	server_send_all(NULL, ":%s KILL %s :%s (%s)", ircd.conf->sid, c->uid, ircd.conf->server_name, reason);
	server_user_exit(c, quit);
}

static void unlist(struct server *s)
{
	struct server **pp = &servers;
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
}

void server_send_intro(struct server *link, const struct conf_connect *cc)
{
	server_send(link, "PASS %s TS 6 :%s", cc->send_password, ircd.conf->sid);
	server_send(link, "CAPAB :TBURST ENCAP MTAGS");
	server_send(link, "SERVER %s 1 %s + :%s", ircd.conf->server_name, ircd.conf->sid, ircd.conf->description);
}

void server_established(struct server *link)
{
	link->state = SRV_LINKED;
	link->linked_at = ev_now(EV_DEFAULT);
	ircd_links++;
	log_info("link with %s (%s) established", link->name, link->sid);
	snotice("Link with %s[%s] established", link->name, link->conn.ip);
	link->conn.sendq_max = (size_t)ircd.conf->link_sendq; /* the burst must fit too */
	server_send(link, ":%s SVINFO 6 6 0 :%lld", ircd.conf->sid, (long long)time(NULL));
	server_send_all(link, ":%s SID %s 2 %s + :%s", ircd.conf->sid, link->name, link->sid, link->desc);
	burst(link);
	if (ircd.conf->shared_store)
		chanserv_reload(NULL); /* what the other side's ChanServ changed while we were apart */
	ev_timer_stop(EV_DEFAULT, &link->timer);
	ev_timer_set(&link->timer, link->overflowed ? 0 : ircd.conf->link_ping_frequency, 0);
	ev_timer_start(EV_DEFAULT, &link->timer);
}

/* Everything behind s (s included) leaves; servers other than a direct link are freed. */
static void split(struct server *s, const char *quit)
{
	/* split(t) frees t and what is behind it, which may be t->next: start over each time. */
	for (struct server *t = servers; t;) {
		if (t->uplink == s && !t->dead) {
			split(t, quit);
			t = servers;
		} else {
			t = t->next;
		}
	}
	for (struct client *c = remote_users, *n; c; c = n) {
		n = c->next;
		if (c->server == s)
			server_user_exit(c, quit);
	}
	s->dead = true;
	if (s->via != s) {
		unlist(s);
		free(s);
	}
}

void server_remove(struct server *s, const char *reason)
{
	log_info("server %s split: %s", s->name, reason);
	snotice("Server %s split from %s: %s", s->name, s->uplink ? s->uplink->name : ircd.conf->server_name, reason);
	split(s, "*.net *.split");
}

void server_drop(struct server *link, const char *reason)
{
	if (link->dead)
		return;
	bool linked = link->state == SRV_LINKED;
	if (linked) {
		ircd_links--;
		server_send_all(link, ":%s SQUIT %s :%s", ircd.conf->sid, link->sid, reason);
		server_remove(link, reason);
	} else {
		link->dead = true;
		log_info("link with %s failed: %s", link->name, reason);
		snotice("Link with %s failed: %s", link->name, reason);
	}
	ev_timer_stop(EV_DEFAULT, &link->timer);
	ev_io_stop(EV_DEFAULT, &link->connect_w);
	if (link->conn.fd >= 0 && !(link->conn.flags & CONN_DEAD)) {
		struct msgbuf *b = msgbuf_printf("ERROR :Closing Link: %s (%s)", link->name, reason);
		conn_send_force(&link->conn, b);
		msgbuf_unref(b);
		conn_finish(&link->conn);
	}
	unlist(link);
	link->dead_next = dead_servers;
	dead_servers = link;
}

void server_reap(void)
{
	while (dead_servers) {
		struct server *s = dead_servers;
		dead_servers = s->dead_next;
		if (s->conn.fd >= 0 || s->conn.inbuf)
			conn_close(&s->conn);
		else if (s->connect_w.fd > 0 && s->state == SRV_CONNECTING)
			close(s->connect_w.fd);
		free(s);
	}
}

/* Handshake timeout, then the ping timer of a link (as a client's: PING after
 * ping_frequency of silence, drop after ping_timeout more). */
static void link_timer_cb(EV_P_ ev_timer *w, int revents)
{
	(void)revents;
	struct server *s = w->data;
	ev_tstamp now = ev_now(loop);
	if (s->overflowed) {
		char reason[64];
		snprintf(reason, sizeof reason, "SendQ exceeded (%zu bytes)", s->conn.sendq_max);
		server_drop(s, reason);
		return;
	}
	if (s->state != SRV_LINKED) {
		server_drop(s, "Handshake timed out");
		return;
	}
	const struct conf *cf = ircd.conf;
	if (s->ping_sent > s->last_line) {
		if (now >= s->ping_sent + cf->link_ping_timeout) {
			char reason[64];
			snprintf(reason, sizeof reason, "Ping timeout: %d seconds", cf->link_ping_timeout);
			server_drop(s, reason);
			return;
		}
		ev_timer_set(w, s->ping_sent + cf->link_ping_timeout - now, 0);
	} else if (now >= s->last_line + cf->link_ping_frequency) {
		server_send(s, "PING :%s", cf->sid);
		s->ping_sent = now;
		ev_timer_set(w, cf->link_ping_timeout, 0);
	} else {
		ev_timer_set(w, s->last_line + cf->link_ping_frequency - now, 0);
	}
	ev_timer_start(loop, w);
}

const char *server_msgid_clash(const char *sid, unsigned caps)
{
	static char why[160];
	if (!(caps & LINKCAP_MTAGS)) /* not a Parley node: its messages get our msgids */
		return NULL;
	unsigned bits = outmsg_node_bits(sid);
	const char *other = bits == outmsg_node_bits(ircd.conf->sid) ? ircd.conf->sid : NULL;
	for (struct server *s = servers; s && !other; s = s->next)
		if (!s->dead && s->sid[0] && s->via && (s->via->caps & LINKCAP_MTAGS) && outmsg_node_bits(s->sid) == bits &&
		    strcmp(s->sid, sid) != 0)
			other = s->sid;
	if (!other)
		return NULL;
	snprintf(why, sizeof why, "SID %s clashes with %s in msgids (equal modulo 256): give one another server.sid",
	         sid, other);
	return why;
}

/* ---- incoming links ---- */

static bool same_address(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	int fa = strchr(a, ':') ? AF_INET6 : AF_INET, fb = strchr(b, ':') ? AF_INET6 : AF_INET;
	if (fa != fb || inet_pton(fa, a, x) != 1 || inet_pton(fb, b, y) != 1)
		return false;
	return memcmp(x, y, fa == AF_INET ? 4 : 16) == 0;
}

static bool password_ok(const char *given, const char *want)
{
	size_t n = strlen(want);
	return given && strlen(given) == n && CRYPTO_memcmp(given, want, n) == 0;
}

struct adoption {
	ev_timer w;
	uint64_t client_id;
	struct server *link;
};

/* Runs at the next loop iteration, outside the client's input processing: the client's
 * connection (and any input queued behind SERVER) moves to the link. */
static void adopt_cb(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct adoption *a = (struct adoption *)w;
	struct server *s = a->link;
	struct client *c = client_by_id(a->client_id);
	free(a);
	const struct conf_connect *cc = server_conf(s->name);
	if (!c || client_dead(c) || !cc || server_find(s->sid) != s) {
		unlist(s);
		free(s);
		return;
	}
	conn_move(&s->conn, &c->conn, &server_conn_ops);
	client_exit(c, "Became a server link");
	server_send_intro(s, cc);
	s->sid[3] = '\0';
	server_established(s);
	conn_resume(&s->conn);
}

unsigned server_capab_parse(const char *list)
{
	static const struct {
		const char *token;
		unsigned bit;
	} known[] = {{"ENCAP", LINKCAP_ENCAP}, {"RHOST", LINKCAP_RHOST}, {"MTAGS", LINKCAP_MTAGS}};
	unsigned caps = 0;
	for (const char *p = list; *p;) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
			if (n && strlen(known[i].token) == n && strncasecmp(p, known[i].token, n) == 0)
				caps |= known[i].bit;
		p += n;
	}
	return caps;
}

void cmd_capab(struct client *c, struct msg *m)
{
	/* A registering server's capabilities, kept for its link (cmd_server). */
	c->link_caps = m->nparams ? server_capab_parse(m->params[m->nparams - 1]) : 0;
}

void cmd_server(struct client *c, struct msg *m)
{
	const char *name = m->params[0];
	if (m->nparams < 5) {
		client_exit(c, "SERVER needs name, hop count, SID, flags and description");
		return;
	}
	const char *sid = m->params[2];
	const struct conf_connect *cc = server_conf(name);
	const char *why = NULL;
	if (!cc)
		why = "No connect block";
	else if (!same_address(c->conn.ip, cc->address))
		why = "Invalid host";
	else if (!password_ok(c->pass, cc->accept_password))
		why = "Invalid password";
	else if (cc->tls && !c->conn.ssl)
		why = "TLS required";
	else if (cc->fingerprint[0] && strcasecmp(c->conn.certfp, cc->fingerprint) != 0)
		why = "Invalid certificate fingerprint";
	else if (strlen(sid) != 3 || !(sid[0] >= '0' && sid[0] <= '9') || strcmp(sid, ircd.conf->sid) == 0)
		why = "Bogus server ID";
	else if (server_find(name) || server_find(sid) || strcasecmp(name, ircd.conf->server_name) == 0)
		why = "Server already exists";
	else
		why = server_msgid_clash(sid, c->link_caps);
	if (why) {
		snotice("Unauthorized server connection attempt from %s: %s for server %s", c->conn.ip, why, name);
		client_exit(c, why);
		return;
	}
	struct server *s = server_new(cc->name);
	snprintf(s->sid, sizeof s->sid, "%s", sid);
	snprintf(s->desc, sizeof s->desc, "%s", m->params[m->nparams - 1]);
	s->caps = c->link_caps;
	s->state = SRV_HANDSHAKE;
	conn_pause(&c->conn);
	struct adoption *a = calloc(1, sizeof *a);
	if (!a)
		abort();
	a->client_id = c->id;
	a->link = s;
	ev_timer_init(&a->w, adopt_cb, 0, 0);
	ev_timer_start(EV_DEFAULT, &a->w);
}

/* ---- outgoing links ---- */

static void connected_cb(EV_P_ ev_io *w, int revents)
{
	(void)revents;
	struct server *s = w->data;
	ev_io_stop(loop, w);
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		close(w->fd);
		s->state = SRV_HANDSHAKE; /* nothing left to close */
		server_drop(s, strerror(err));
		return;
	}
	const struct conf_connect *cc = server_conf(s->name);
	if (!cc) {
		close(w->fd);
		s->state = SRV_HANDSHAKE;
		server_drop(s, "connect block removed");
		return;
	}
	SSL *ssl = NULL;
	if (cc->tls) {
		snprintf(s->pin, sizeof s->pin, "%s", cc->fingerprint);
		if (!ircd.tls_link || !(ssl = tls_link_new(ircd.tls_link, w->fd, cc->name, s->pin))) {
			close(w->fd);
			s->state = SRV_HANDSHAKE;
			server_drop(s, "cannot start TLS");
			return;
		}
	}
	conn_init(&s->conn, w->fd, ssl, &server_conn_ops);
	snprintf(s->conn.ip, sizeof s->conn.ip, "%s", cc->address);
	s->state = SRV_HANDSHAKE;
	/* over TLS this waits in the sendq until the peer's certificate has passed */
	server_send_intro(s, cc);
}

static void connect_to(const struct conf_connect *cc)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (strchr(cc->address, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)cc->port);
		inet_pton(AF_INET6, cc->address, &a->sin6_addr);
		len = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)cc->port);
		inet_pton(AF_INET, cc->address, &a->sin_addr);
		len = sizeof *a;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("connect to %s: %s", cc->name, strerror(errno));
		return;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		log_info("connect to %s (%s port %d): %s", cc->name, cc->address, cc->port, strerror(errno));
		close(fd);
		return;
	}
	struct server *s = server_new(cc->name);
	s->outgoing = true;
	s->state = SRV_CONNECTING;
	ev_io_init(&s->connect_w, connected_cb, fd, EV_WRITE);
	s->connect_w.data = s;
	ev_io_start(EV_DEFAULT, &s->connect_w);
	ev_timer_start(EV_DEFAULT, &s->timer);
	log_info("connecting to %s (%s port %d%s)", cc->name, cc->address, cc->port, cc->tls ? ", TLS" : "");
}

static void autoconnect_cb(EV_P_ ev_timer *w, int revents)
{
	(void)revents;
	for (int i = 0; i < ircd.conf->nconnects; i++) {
		const struct conf_connect *cc = &ircd.conf->connects[i];
		if (cc->autoconnect && !server_find(cc->name))
			connect_to(cc);
	}
	ev_timer_set(w, ircd.conf->connect_retry, 0);
	ev_timer_start(loop, w);
}

void cmd_connect(struct client *c, struct msg *m)
{
	if (!oper_has(c, PRIV_ROUTE))
		return;
	const struct conf_connect *cc = server_conf(m->params[0]);
	if (!cc) {
		reply(c, ERR_NOSUCHSERVER, m->params[0]);
		return;
	}
	if (server_find(cc->name)) {
		reply_standard(c, "FAIL", "CONNECT", "ALREADY_LINKED", cc->name, "That server is linked or being linked");
		return;
	}
	snotice("%s is connecting to %s", c->nick, cc->name);
	audit(c, "CONNECT server=%s", cc->name);
	client_sendf(c, ":%s NOTICE %s :Connecting to %s (%s port %d)", ircd.conf->server_name, c->nick, cc->name,
	             cc->address, cc->port);
	connect_to(cc);
}

void cmd_squit(struct client *c, struct msg *m)
{
	if (!oper_has(c, PRIV_ROUTE))
		return;
	struct server *s = server_find(m->params[0]);
	if (!s) {
		reply(c, ERR_NOSUCHSERVER, m->params[0]);
		return;
	}
	if (s->via != s) {
		reply_standard(c, "FAIL", "SQUIT", "NOT_DIRECT", s->name, "That server is not linked to this one");
		return;
	}
	char reason[300];
	snprintf(reason, sizeof reason, "SQUIT by %s: %s", c->nick, m->nparams > 1 && *m->params[1] ? m->params[1] : "No reason");
	audit(c, "SQUIT server=%s reason=\"%s\"", s->name, reason);
	server_drop(s, reason);
}

void server_init(void)
{
	ev_timer_init(&autoconnect_timer, autoconnect_cb, 0.2, 0);
	ev_timer_start(EV_DEFAULT, &autoconnect_timer);
}
