/* alwayson.c - always-on users (see alwayson.h).
 *
 * A ghost is made by the multiclient handover (session.c): a connectionless client is
 * attached to the leaving user as its only session, and the user's exit hands it the
 * nick, channels, modes and monitors, so nobody sees a QUIT. A login of the account
 * takes it over the same way in reverse: the new connection becomes the ghost's session
 * and the ghost exits. Only client_exit removes a ghost for good (KILL, K-line, DROP),
 * and then its stored presence is deleted too.
 *
 * Stored presence: each change marks the user; once per loop iteration the marked
 * users' rows are rewritten in one transaction each (always_on_users, always_on_channels),
 * fire and forget, in the storage thread's order. A lost write only makes a restart
 * restore an older presence. Restored memberships are trusted as stored (bans and +i
 * set while the server was down do not apply); K-lines do: a K-lined ghost is not
 * restored. A channel recreated for a ghost keeps its stored history floor: the ghost
 * kept that lifetime of the channel going, and its members may read its history. */
#include "alwayson.h"

#include "account.h"
#include "ban.h"
#include "cap.h"
#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "dict.h"
#include "history.h"
#include "ircd.h"
#include "log.h"
#include "monitor.h"
#include "outmsg.h"
#include "reply.h"
#include "route.h"
#include "server.h"
#include "service.h"
#include "session.h"
#include "storage.h"
#include "uid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void channel_send_state(struct client *c, struct channel *ch); /* cmd_channel.c */

static struct dict *settings; /* account -> &on / &off: those that chose */
static struct dict *ghosts;   /* account -> its ghost */
static int on = 1, off = 0;
static bool loading;          /* restoring at start: nothing to store */

static struct dict *table(struct dict **d)
{
	if (!*d)
		*d = dict_new();
	return *d;
}

int alwayson_setting(const char *account)
{
	const int *v = dict_get(table(&settings), account);
	return v ? *v : -1;
}

bool alwayson_enabled(const char *account)
{
	int v = alwayson_setting(account);
	return v < 0 ? ircd.conf->always_on : v == 1;
}

struct client *alwayson_ghost(const char *account) { return account[0] ? dict_get(table(&ghosts), account) : NULL; }

/* ---- storing the presence ---- */

static uint64_t *dirty;
static size_t ndirty, dirty_cap;
static ev_timer flush_timer;

#define UMODES_KEPT (UMODE('i') | UMODE('x') | UMODE('w') | UMODE('B') | UMODE('R'))

static void save(const struct client *u)
{
	char key[NICK_MAX + 1];
	casemap_fold(key, u->account, sizeof key);
	struct storage_txn *t = storage_txn_new();
	struct db_param k = DB_TEXT(key);
	storage_txn_add(t, "DELETE FROM always_on_users WHERE account_key = ?", &k, 1);
	const char *away = u->away && !(u->flags & CLI_AUTO_AWAY) ? u->away : NULL;
	struct db_param p[8] = {DB_TEXT(key),     DB_TEXT(u->nick),     DB_TEXT(u->user), DB_TEXT(u->host),
	                        DB_TEXT(u->conn.ip), DB_TEXT(u->realname), DB_TEXT(away),
	                        DB_INT((long long)(u->umodes & UMODES_KEPT))};
	storage_txn_add(t, "INSERT INTO always_on_users (account_key, nick, username, host, ip, realname, away, umodes) "
	                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	                p, 8);
	storage_txn_add(t, "DELETE FROM always_on_channels WHERE account_key = ?", &k, 1);
	for (const struct membership *m = u->channels; m; m = m->client_next) {
		char ck[CHANNEL_MAX + 1];
		casemap_fold(ck, m->chan->name, sizeof ck);
		struct db_param c[5] = {DB_TEXT(key), DB_TEXT(ck), DB_TEXT(m->chan->name), DB_INT(m->status),
		                        DB_INT((long long)m->chan->history_floor)};
		storage_txn_add(t, "INSERT INTO always_on_channels (account_key, channel_key, channel, status, "
		                   "history_floor) VALUES (?, ?, ?, ?, ?)",
		                c, 5);
	}
	storage_txn_submit(t, NULL, NULL);
}

void alwayson_flush(void)
{
	ev_timer_stop(EV_DEFAULT, &flush_timer);
	for (size_t i = 0; i < ndirty; i++) {
		struct client *u = client_by_id(dirty[i]);
		/* judged now: a user that left, logged out or turned it off meanwhile is not kept */
		if (u && !client_dead(u) && client_registered(u) && !u->session_of && u->account[0] &&
		    alwayson_enabled(u->account))
			save(u);
	}
	ndirty = 0;
}

static void flush_cb(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	alwayson_flush();
}

/* With one store for the network, an account has one stored presence (keyed by the
 * account): while the account also has a user on another node, neither node writes or
 * deletes it, and a user leaving here quits rather than become a second always-on user
 * of the account. A node that is alone again stores its user at the next change. */
static bool elsewhere(const char *account)
{
	return ircd.conf->shared_store && server_account_user(account);
}

void alwayson_touch(struct client *c)
{
	if (loading || !c->account[0] || c->session_of || !client_registered(c) || !alwayson_enabled(c->account) ||
	    elsewhere(c->account))
		return;
	for (size_t i = 0; i < ndirty; i++)
		if (dirty[i] == c->id)
			return;
	if (ndirty == dirty_cap) {
		dirty_cap = dirty_cap ? dirty_cap * 2 : 16;
		dirty = realloc(dirty, dirty_cap * sizeof *dirty);
		if (!dirty)
			abort();
	}
	dirty[ndirty++] = c->id;
	if (!ev_is_active(&flush_timer)) {
		ev_timer_init(&flush_timer, flush_cb, 0, 0);
		ev_timer_start(EV_DEFAULT, &flush_timer);
	}
}

static void forget_presence(const char *account)
{
	char key[NICK_MAX + 1];
	casemap_fold(key, account, sizeof key);
	struct storage_txn *t = storage_txn_new();
	struct db_param k = DB_TEXT(key);
	storage_txn_add(t, "DELETE FROM always_on_users WHERE account_key = ?", &k, 1);
	storage_txn_add(t, "DELETE FROM always_on_channels WHERE account_key = ?", &k, 1);
	storage_txn_submit(t, NULL, NULL);
}

void alwayson_gone(struct client *c)
{
	/* a shutdown is no leaving: the presence is restored at the next start */
	if (!ircd.shutting_down && c->account[0] && !c->session_of && alwayson_enabled(c->account) &&
	    !elsewhere(c->account))
		forget_presence(c->account);
}

/* ---- the setting ---- */

struct set_wait {
	bool on;
	char account[NICK_MAX + 1];
	void (*done)(struct client *c, bool ok);
};

static void set_done(struct client *c, enum db_status status, void *arg)
{
	struct set_wait *w = arg;
	if (status == DB_OK) {
		dict_put(table(&settings), w->account, w->on ? &on : &off);
		if (c && w->on)
			alwayson_touch(c);
		else if (!w->on)
			forget_presence(w->account);
	}
	if (c)
		w->done(c, status == DB_OK);
	free(w);
}

void alwayson_set(struct client *c, bool enable, void (*done)(struct client *c, bool ok))
{
	struct set_wait *w = calloc(1, sizeof *w);
	if (!w)
		abort();
	w->on = enable;
	w->done = done;
	snprintf(w->account, sizeof w->account, "%s", c->account);
	char key[NICK_MAX + 1];
	casemap_fold(key, c->account, sizeof key);
	struct storage_txn *t = storage_txn_new();
	struct db_param k = DB_TEXT(key);
	struct db_param p[2] = {DB_TEXT(key), DB_INT(enable)};
	storage_txn_add(t, "DELETE FROM always_on WHERE account_key = ?", &k, 1);
	storage_txn_add(t, "INSERT INTO always_on (account_key, enabled) VALUES (?, ?)", p, 2);
	client_store(c, t, set_done, w);
}

void alwayson_account_dropped(const char *account)
{
	char key[NICK_MAX + 1];
	casemap_fold(key, account, sizeof key);
	struct client *g = alwayson_ghost(key);
	if (g)
		client_exit(g, "Account dropped");
	dict_del(table(&settings), key);
	struct storage_txn *t = storage_txn_new();
	struct db_param k = DB_TEXT(key);
	storage_txn_add(t, "DELETE FROM always_on WHERE account_key = ?", &k, 1);
	storage_txn_add(t, "DELETE FROM always_on_users WHERE account_key = ?", &k, 1);
	storage_txn_add(t, "DELETE FROM always_on_channels WHERE account_key = ?", &k, 1);
	storage_txn_submit(t, NULL, NULL);
}

/* ---- ghosts ---- */

static void announce_away(struct client *u)
{
	struct outmsg o;
	if (u->away)
		outmsg_init(&o, false, NULL, ":%s AWAY :%s", u->prefix, u->away);
	else
		outmsg_init(&o, false, NULL, ":%s AWAY", u->prefix);
	outmsg_from(&o, u);
	channel_send_common_monitored(u, &o, CAPF(CAP_AWAY_NOTIFY));
	outmsg_release(&o);
	route_away(u); /* the network sees it too */
}

static void auto_away(struct client *g)
{
	if (g->away)
		return; /* the user's own away text says more */
	g->away = strdup(ALWAYSON_AWAY);
	if (!g->away)
		abort();
	g->flags |= CLI_AUTO_AWAY;
	announce_away(g);
}

static void index_ghost(struct client *g) { dict_put(table(&ghosts), g->account, g); }

void alwayson_ghost_exit(struct client *g)
{
	if (alwayson_ghost(g->account) == g)
		dict_del(ghosts, g->account);
}

/* Operator status is not kept by a ghost: the account's next login must not inherit it
 * without OPER. */
static void drop_oper(struct client *g)
{
	if (!(g->umodes & UMODE('o')))
		return;
	g->umodes &= ~(UMODE('o') | UMODE('s'));
	g->privs = 0;
	g->oper_name[0] = '\0';
	ircd.nopers--;
}

/* x becomes the only session of u, so that u's exit hands u over to it. */
static void attach_as_session(struct client *x, struct client *u)
{
	x->session_of = u;
	x->session_next = NULL;
	u->sessions = x;
	u->nsessions = 1;
	ircd.nsessions++;
	session_sync(u);
}

bool alwayson_keep(struct client *c, const char *reason)
{
	if (ircd.shutting_down || !client_registered(c) || c->session_of || c->sessions || !c->account[0] ||
	    !alwayson_enabled(c->account) || alwayson_ghost(c->account) || elsewhere(c->account))
		return false;
	/* the catch-up at its return starts where its last connection left */
	for (struct membership *m = c->channels; m; m = m->client_next)
		readmarker_left(c, m->chan);
	struct client *g = client_ghost_new(c->class);
	memcpy(g->account, c->account, sizeof g->account);
	memcpy(g->conn.ip, c->conn.ip, sizeof g->conn.ip);
	attach_as_session(g, c);
	client_exit(c, reason); /* the handover: g is the user now */
	index_ghost(g);
	drop_oper(g);
	auto_away(g);
	alwayson_touch(g);
	log_conn("%s (account %s) stays always-on after: %s", g->nick, g->account, reason);
	return true;
}

/* c (not registered as a user) takes g over: it is g's session, then g exits. */
static void take_over(struct client *c, struct client *g)
{
	if (g->flags & CLI_AUTO_AWAY) {
		free(g->away);
		g->away = NULL;
		g->flags &= ~CLI_AUTO_AWAY;
		announce_away(g);
	}
	if (c->nick[0] && client_find(c->nick) == c)
		dict_del(ircd.nicks, c->nick);
	c->flags &= ~CLI_ATTACH;
	alwayson_ghost_exit(g);
	attach_as_session(c, g);
	client_exit(g, "Reattached"); /* nobody sees it: a handover */
	alwayson_touch(c);
	log_conn("%llu took over always-on %s (account %s)", (unsigned long long)c->id, c->nick, c->account);
}

bool alwayson_attach(struct client *c)
{
	struct client *g = alwayson_ghost(c->account);
	if (!g)
		return false;
	take_over(c, g);
	return true;
}

void alwayson_burst(struct client *c)
{
	for (struct membership *m = c->channels; m; m = m->client_next) {
		if (client_has_cap(c, CAP_EXTENDED_JOIN))
			client_sendf(c, ":%s JOIN %s %s :%s", c->prefix, m->chan->name, c->account, c->realname);
		else
			client_sendf(c, ":%s JOIN %s", c->prefix, m->chan->name);
		channel_send_state(c, m->chan);
		history_replay_join(c, m->chan);
	}
	history_session_start(c);
}

/* c's own nick and channels end, as a QUIT for the others (its channels told to c as PARTs). */
static void drop_own_presence(struct client *c)
{
	for (struct membership *m = c->channels; m; m = m->client_next)
		client_sendf(c, ":%s PART %s :Taking over your always-on session", c->prefix, m->chan->name);
	route_quit(c, "Reattached to another session");
	uid_del(c); /* it takes the always-on user's id */
	c->uid[0] = '\0';
	channel_client_exit(c, "Reattached to another session");
	monitor_offline(c->nick);
	ircd.nusers--;
	if (c->umodes & UMODE('i'))
		ircd.ninvisible--;
	if (c->umodes & UMODE('o'))
		ircd.nopers--;
	c->umodes = 0;
	c->flags &= ~CLI_REGISTERED;
}

bool alwayson_reattach(struct client *c)
{
	struct client *g = alwayson_ghost(c->account);
	if (!g || !client_registered(c) || c->session_of || c->sessions)
		return false;
	char old[PREFIX_MAX + 1];
	memcpy(old, c->prefix, sizeof old);
	drop_own_presence(c);
	take_over(c, g);
	client_sendf(c, ":%s NICK :%s", old, c->nick);
	alwayson_burst(c);
	return true;
}

/* ---- restoring at start ---- */

static void row_setting(void *arg, int ncols, const char *const *cols)
{
	(void)arg;
	if (ncols >= 2 && cols[0] && cols[1])
		dict_put(table(&settings), cols[0], atoi(cols[1]) ? &on : &off);
}

static void str_set(char *dst, size_t size, const char *src) { snprintf(dst, size, "%s", src ? src : ""); }

/* Accounts whose stored presence was refused at start (K-lined): deleted after loading. */
static char (*refused)[NICK_MAX + 1];
static size_t nrefused;

static void refuse(const char *key)
{
	char (*r)[NICK_MAX + 1] = realloc(refused, (nrefused + 1) * sizeof *refused);
	if (!r)
		abort();
	refused = r;
	snprintf(refused[nrefused++], sizeof refused[0], "%s", key);
}

/* A stored user as a client (not yet linked anywhere), for the K-line check. */
static void fill(struct client *g, const char *const *cols)
{
	str_set(g->account, sizeof g->account, cols[1]);
	str_set(g->nick, sizeof g->nick, cols[2]);
	str_set(g->user, sizeof g->user, cols[3]);
	str_set(g->host, sizeof g->host, cols[4]);
	str_set(g->conn.ip, sizeof g->conn.ip, cols[5]);
	str_set(g->realname, sizeof g->realname, cols[6]);
	g->umodes = (cols[8] ? (uint64_t)atoll(cols[8]) : 0) & UMODES_KEPT;
}

/* account_key, account, nick, username, host, ip, realname, away, umodes */
static void row_user(void *arg, int ncols, const char *const *cols)
{
	(void)arg;
	if (ncols < 9 || !cols[0] || !cols[1] || !cols[2] || !alwayson_enabled(cols[1]))
		return;
	if (client_find(cols[2]) || service_find(cols[2]) || !client_nick_valid(cols[2], NICK_MAX))
		return;
	static struct client probe;
	memset(&probe, 0, sizeof probe);
	fill(&probe, cols);
	char why[300];
	if (ban_check_client(&probe, why, sizeof why)) { /* K-lined while the server was down */
		log_info("always-on %s (account %s) not restored: %s", cols[2], cols[1], why);
		refuse(cols[0]);
		return;
	}
	struct client *g = client_ghost_new(&ircd.conf->classes[0]);
	fill(g, cols);
	g->nick[0] = '\0';
	client_set_nick(g, cols[2]);
	if (cols[7] && !(g->away = strdup(cols[7])))
		abort();
	g->flags |= CLI_REGISTERED;
	g->nick_ts = time(NULL);
	uid_assign(g, ircd.conf->sid);
	ircd.nusers++;
	if (ircd.nusers > ircd.max_users)
		ircd.max_users = ircd.nusers;
	if (g->umodes & UMODE('i'))
		ircd.ninvisible++;
	index_ghost(g);
	auto_away(g);
}

static void row_channel(void *arg, int ncols, const char *const *cols)
{
	(void)arg;
	if (ncols < 3 || !cols[0] || !cols[1])
		return;
	struct client *g = alwayson_ghost(cols[0]);
	if (!g || !channel_name_valid(cols[1]) || g->nchannels >= CHANNELS_PER_CLIENT)
		return;
	struct channel *ch = channel_find(cols[1]);
	if (!ch) { /* the lifetime the ghost kept going: its history stays readable */
		ch = channel_create(cols[1]);
		if (ncols > 3 && cols[3])
			ch->history_floor = strtoull(cols[3], NULL, 10);
	}
	if (!channel_member(ch, g))
		channel_add(ch, g, (unsigned)(cols[2] ? atoi(cols[2]) : 0) & (MEMBER_OP | MEMBER_VOICE));
}

void alwayson_load(void)
{
	loading = true;
	storage_query_now("SELECT account_key, enabled FROM always_on", NULL, 0, row_setting, NULL);
	storage_query_now("SELECT u.account_key, a.name, u.nick, u.username, u.host, u.ip, u.realname, u.away, u.umodes "
	                  "FROM always_on_users u JOIN accounts a ON a.name_key = u.account_key",
	                  NULL, 0, row_user, NULL);
	storage_query_now("SELECT account_key, channel, status, history_floor FROM always_on_channels", NULL, 0,
	                  row_channel, NULL);
	for (size_t i = 0; i < nrefused; i++) {
		struct db_param k = DB_TEXT(refused[i]);
		storage_query_now("DELETE FROM always_on_users WHERE account_key = ?", &k, 1, NULL, NULL);
		storage_query_now("DELETE FROM always_on_channels WHERE account_key = ?", &k, 1, NULL, NULL);
	}
	free(refused);
	refused = NULL;
	nrefused = 0;
	loading = false;
	log_info("always-on: %zu users restored", dict_count(table(&ghosts)));
}
