/* readmarker.c - draft/read-marker. MARKREAD stores the time up to which a user has read
 * a target; every session of the same account with the capability is told, so a user's
 * other devices clear their unread state. Markers only move forward.
 *
 * Markers are answered from a cache on the loop: an account's markers are loaded when it
 * logs in, and a change is stored first (one transaction, the user's input waiting) and
 * cached and announced once committed: the MARKREAD reply means it is stored, and while
 * the database is down the user gets FAIL MARKREAD TEMPORARILY_UNAVAILABLE and the
 * marker stays as it was. A client that is not logged in keeps its markers for its
 * connection only (at most GUEST_MARKERS, freed when it quits). JOIN (which sends the
 * marker before RPL_ENDOFNAMES) and reading a marker never wait for the database. */
#include "account.h"
#include "session.h"
#include "cap.h"
#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "command.h"
#include "dict.h"
#include "history.h"
#include "ircd.h"
#include "log.h"
#include "parse.h"
#include "reply.h"
#include "outmsg.h"
#include "storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <ev.h>

#define CACHE_MAX 200000 /* accounts' markers kept in memory at most */
#define GUEST_MARKERS 128 /* one guest's markers at most: the least recently set goes first */

static struct dict *cache; /* "account\ttarget" -> long long * (milliseconds) */

/* A guest's markers, freed when it quits. Kept apart from the accounts' cache so guests,
 * who can name any nick as a target, cannot fill it. */
struct guest_marks {
	int n, cap;
	struct {
		char target[CHANNEL_MAX + 1]; /* folded */
		long long ms;
	} *m; /* the most recently set last */
};

static struct dict *guests; /* "#<client id>" -> struct guest_marks */

static void cache_key(const char *owner, const char *target, char *out, size_t size)
{
	char t[CHANNEL_MAX + 1];
	casemap_fold(t, target, sizeof t);
	snprintf(out, size, "%s\t%s", owner, t);
}

static long long *cache_get(const char *key)
{
	return cache ? dict_get(cache, key) : NULL;
}

static void cache_put(const char *key, long long ms)
{
	if (!cache)
		cache = dict_new();
	long long *v = dict_get(cache, key);
	if (!v) {
		if (dict_count(cache) >= CACHE_MAX)
			return; /* memory stays bounded; the database still has the marker */
		v = malloc(sizeof *v);
		if (!v)
			abort();
		dict_put(cache, key, v);
	}
	*v = ms;
}

static struct guest_marks *guest_of(const struct client *c, bool create)
{
	char id[24];
	snprintf(id, sizeof id, "#%llx", (unsigned long long)c->id);
	struct guest_marks *g = guests ? dict_get(guests, id) : NULL;
	if (!g && create) {
		if (!guests)
			guests = dict_new();
		g = calloc(1, sizeof *g);
		if (!g)
			abort();
		dict_put(guests, id, g);
	}
	return g;
}

static long long *guest_get(const struct client *c, const char *target)
{
	struct guest_marks *g = guest_of(c, false);
	char t[CHANNEL_MAX + 1];
	casemap_fold(t, target, sizeof t);
	for (int i = 0; g && i < g->n; i++)
		if (strcmp(g->m[i].target, t) == 0)
			return &g->m[i].ms;
	return NULL;
}

/* Sets c's marker for target; it becomes the most recently set (the last to go). */
static void guest_put(const struct client *c, const char *target, long long ms)
{
	struct guest_marks *g = guest_of(c, true);
	char t[CHANNEL_MAX + 1];
	casemap_fold(t, target, sizeof t);
	int i = 0;
	while (i < g->n && strcmp(g->m[i].target, t) != 0)
		i++;
	if (i == g->n && g->n == GUEST_MARKERS)
		i = 0; /* full: the least recently set is forgotten */
	if (i == g->n) {
		if (g->n == g->cap) {
			g->cap = g->cap ? g->cap * 2 : 8;
			g->m = realloc(g->m, (size_t)g->cap * sizeof *g->m);
			if (!g->m)
				abort();
		}
		g->n++;
	} else {
		memmove(&g->m[i], &g->m[i + 1], (size_t)(g->n - i - 1) * sizeof *g->m);
	}
	snprintf(g->m[g->n - 1].target, sizeof g->m[g->n - 1].target, "%s", t);
	g->m[g->n - 1].ms = ms;
}

void readmarker_client_exit(struct client *c)
{
	char id[24];
	snprintf(id, sizeof id, "#%llx", (unsigned long long)c->id);
	struct guest_marks *g = guests ? dict_del(guests, id) : NULL;
	if (g) {
		free(g->m);
		free(g);
	}
}

/* c's marker for target: its account's, or its connection's for a guest. */
static long long *marker_of(const struct client *c, const char *target)
{
	if (!c->account[0])
		return guest_get(c, target);
	char owner[NICK_MAX + 2], key[2 * CHANNEL_MAX + 4];
	casemap_fold(owner, c->account, sizeof owner);
	cache_key(owner, target, key, sizeof key);
	return cache_get(key);
}

static void format_marker(const long long *ms, char *out, size_t size)
{
	if (!ms) {
		snprintf(out, size, "*");
		return;
	}
	time_t s = (time_t)(*ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	char base[32];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "timestamp=%s.%03dZ", base, (int)(*ms % 1000));
}

static void send_marker(struct client *c, const char *target, const long long *ms)
{
	char value[64];
	format_marker(ms, value, sizeof value);
	client_sendf(c, ":%s MARKREAD %s %s", ircd.conf->server_name, target, value);
}

/* ---- loading an account's markers at login ---- */

struct marker_row {
	char target[CHANNEL_MAX + 1];
	long long ms;
};

struct load_job {
	struct job job;
	uint64_t client_id;
	char owner[NICK_MAX + 1];
	struct marker_row *rows;
	int n, cap;
};

static void load_row(void *arg, int ncols, const char *const *cols)
{
	struct load_job *j = arg;
	if (ncols < 2 || !cols[0] || !cols[1])
		return;
	if (j->n == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 16;
		j->rows = realloc(j->rows, (size_t)j->cap * sizeof *j->rows);
		if (!j->rows)
			abort();
	}
	snprintf(j->rows[j->n].target, sizeof j->rows[j->n].target, "%s", cols[0]);
	j->rows[j->n++].ms = atoll(cols[1]);
}

static void load_run(struct job *job)
{
	struct load_job *j = (struct load_job *)job;
	struct db_param k = DB_TEXT(j->owner);
	storage_exec("SELECT target_key, time_ms FROM read_markers WHERE account_key = ?", &k, 1, load_row, j);
}

#define MARKERS_AT_LOGIN 100

static int cmp_newest(const void *x, const void *y)
{
	long long a = ((const struct marker_row *)x)->ms, b = ((const struct marker_row *)y)->ms;
	return a < b ? 1 : a > b ? -1 : 0;
}

/* Tells c (with draft/read-marker) its account's markers: the MARKERS_AT_LOGIN most
 * recently set, newest first, each as the cache has it now (a newer one may have been
 * set meanwhile). */
static void send_session_markers(struct client *c, struct load_job *j)
{
	if (!client_has_cap(c, CAP_READ_MARKER))
		return;
	if (j->n > 1)
		qsort(j->rows, (size_t)j->n, sizeof *j->rows, cmp_newest);
	for (int i = 0; i < j->n && i < MARKERS_AT_LOGIN; i++) {
		long long *have = marker_of(c, j->rows[i].target);
		send_marker(c, j->rows[i].target, have && *have > j->rows[i].ms ? have : &j->rows[i].ms);
	}
}

static void load_done(struct job *job)
{
	struct load_job *j = (struct load_job *)job;
	for (int i = 0; i < j->n; i++) {
		char key[2 * CHANNEL_MAX + 4];
		cache_key(j->owner, j->rows[i].target, key, sizeof key);
		long long *v = cache_get(key);
		if (!v || *v < j->rows[i].ms)
			cache_put(key, j->rows[i].ms);
	}
	struct client *c = client_by_id(j->client_id);
	if (c && !client_dead(c)) {
		if (client_registered(c)) /* a login after registration: told before its next command */
			send_session_markers(c, j);
		client_release(c); /* commands that came after the login see the markers */
		client_try_register(c); /* a login during registration waited for this too */
	}
	free(j->rows);
	free(j);
}

void readmarker_login(struct client *c)
{
	struct load_job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->job.run = load_run;
	j->job.done = load_done;
	j->client_id = session_asker(c)->id; /* a session gets its own results */
	casemap_fold(j->owner, c->account, sizeof j->owner);
	client_hold(c);
	storage_submit(&j->job);
}

/* ---- a session's markers ----
 *
 * A session is told its account's markers when it logs in (load_done, before its next
 * command) or, logged in during registration, right after its welcome (read again here:
 * the cache is keyed for lookups, not listing; nothing waits for it): a reconnecting
 * client learns what its other devices read while it was gone, even for channels it has
 * not rejoined yet. */

static void session_run(struct job *job)
{
	struct load_job *j = (struct load_job *)job;
	struct db_param k[2] = {DB_TEXT(j->owner), DB_INT(MARKERS_AT_LOGIN)};
	storage_exec("SELECT target_key, time_ms FROM read_markers WHERE account_key = ? ORDER BY time_ms DESC LIMIT ?",
	             k, 2, load_row, j);
}

static void session_done(struct job *job)
{
	struct load_job *j = (struct load_job *)job;
	struct client *c = client_by_id(j->client_id);
	if (c && !client_dead(c))
		send_session_markers(c, j);
	free(j->rows);
	free(j);
}

void readmarker_session_start(struct client *c)
{
	if (!c->account[0] || !client_has_cap(c, CAP_READ_MARKER))
		return;
	struct load_job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->job.run = session_run;
	j->job.done = session_done;
	j->client_id = session_asker(c)->id; /* a session gets its own results */
	casemap_fold(j->owner, c->account, sizeof j->owner);
	storage_submit(&j->job);
}

/* ---- MARKREAD ---- */

#define MARK_UNAVAILABLE "The read marker could not be stored; try again shortly"

/* A logged-in user's marker on its way to the database: cached and announced once it is
 * committed, so a MARKREAD reply means the marker survives a crash. */
struct mark {
	char owner[NICK_MAX + 2];
	char account[NICK_MAX + 1];
	char target[CHANNEL_MAX + 1]; /* as the user wrote it, for the replies */
	long long ms;
};

/* Tells c and every other session of account (none for a guest) the marker value. */
static void announce(struct client *c, const char *account, const char *target, const long long *value)
{
	for (struct client *o = ircd.clients; o; o = o->next) {
		bool same = o == c || (account[0] && casemap_cmp(o->account, account) == 0);
		if (!same || !(client_registered(o) || o->session_of) || client_dead(o))
			continue;
		/* a session's MARKREAD runs on its user: the user's own connection is another
		 * session here, not the one that asked (which gets its copy in this loop too) */
		struct reply_ctx *ctx = o->rctx;
		if (ctx && ctx->client != o) {
			if (o->own_caps & CAPF(CAP_READ_MARKER)) {
				o->rctx = NULL;
				send_marker(o, target, value);
				o->rctx = ctx;
			}
		} else if (client_has_cap(o, CAP_READ_MARKER)) {
			send_marker(o, target, value);
		}
	}
}

static void mark_done(struct client *c, enum db_status status, void *arg)
{
	struct mark *k = arg;
	if (status != DB_OK) {
		/* nothing changes: the cache holds only what the database holds */
		if (c)
			reply_standard(c, "FAIL", "MARKREAD", "TEMPORARILY_UNAVAILABLE", k->target, MARK_UNAVAILABLE);
		free(k);
		return;
	}
	char key[2 * CHANNEL_MAX + 4];
	cache_key(k->owner, k->target, key, sizeof key);
	long long *have = cache_get(key);
	if (!have || *have < k->ms) /* another session may have moved it further meanwhile */
		cache_put(key, k->ms);
	have = cache_get(key);
	announce(c, k->account, k->target, have ? have : &k->ms);
	free(k);
}

/* The statements moving owner's marker for target forward to ms (a stored marker only
 * moves forward, whatever order sessions commit in). */
static struct storage_txn *marker_txn(const char *owner, const char *target, long long ms)
{
	char t[CHANNEL_MAX + 1];
	casemap_fold(t, target, sizeof t);
	struct storage_txn *txn = storage_txn_new();
	struct db_param u[4] = {DB_INT(ms), DB_TEXT(owner), DB_TEXT(t), DB_INT(ms)};
	storage_txn_add(txn, "UPDATE read_markers SET time_ms = ? WHERE account_key = ? AND target_key = ? AND time_ms < ?",
	                u, 4);
	struct db_param i[3] = {DB_TEXT(owner), DB_TEXT(t), DB_INT(ms)};
	if (strcmp(storage_insert_ignore(), "INSERT IGNORE") == 0)
		storage_txn_add(txn, "INSERT IGNORE INTO read_markers (account_key, target_key, time_ms) VALUES (?, ?, ?)", i,
		                3);
	else
		storage_txn_add(txn, "INSERT OR IGNORE INTO read_markers (account_key, target_key, time_ms) VALUES (?, ?, ?)",
		                i, 3);
	return txn;
}

/* Stores c's marker for target in one transaction, then replies (mark_done). The
 * UPDATE moves a stored marker only forward, whatever order sessions commit in. */
static void store(struct client *c, const char *owner, const char *target, long long ms)
{
	struct mark *k = calloc(1, sizeof *k);
	if (!k)
		abort();
	snprintf(k->owner, sizeof k->owner, "%s", owner);
	snprintf(k->account, sizeof k->account, "%s", c->account);
	snprintf(k->target, sizeof k->target, "%s", target);
	k->ms = ms;
	client_store(c, marker_txn(owner, target, ms), mark_done, k);
}

void readmarker_joined(struct client *c, const struct channel *ch)
{
	if (!client_has_cap(c, CAP_READ_MARKER))
		return;
	send_marker(c, ch->name, marker_of(c, ch->name));
}

void cmd_markread(struct client *c, struct msg *m)
{
	if (m->nparams < 1) {
		reply_standard(c, "FAIL", "MARKREAD", "NEED_MORE_PARAMS", NULL, "Missing parameters");
		return;
	}
	const char *target = m->params[0];
	if (strlen(target) > CHANNEL_MAX || (target[0] != '#' && !client_nick_valid(target, NICK_MAX))) {
		reply_standard(c, "FAIL", "MARKREAD", "INVALID_TARGET", target, "Invalid target");
		return;
	}
	if (!c->account[0] && target[0] == '#' && m->nparams >= 2) {
		/* a guest's markers last as long as its connection and only make sense for the
		 * channels it is in; reading one tells the guest only what its own connection set
		 * (`*` for a channel it never marked), as for any target without a marker */
		const struct channel *ch = channel_find(target);
		if (!ch || !channel_member(ch, c)) {
			reply_standard(c, "FAIL", "MARKREAD", "INVALID_PARAMS", target, "You are not in that channel");
			return;
		}
	}
	long long *have = marker_of(c, target);
	if (m->nparams < 2) {
		send_marker(c, target, have);
		return;
	}
	struct tm tm = {0};
	int ms = 0;
	const char *v = m->params[1];
	if (strncmp(v, "timestamp=", 10) != 0 ||
	    sscanf(v + 10, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	           &tm.tm_sec, &ms) < 6) {
		reply_standard(c, "FAIL", "MARKREAD", "INVALID_PARAMS", target, "Invalid timestamp");
		return;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	long long want = (long long)timegm(&tm) * 1000 + ms;
	if (have && *have >= want) {
		send_marker(c, target, have); /* markers never move back: the client learns the newer one */
		return;
	}
	if (c->account[0]) {
		char owner[NICK_MAX + 2];
		casemap_fold(owner, c->account, sizeof owner);
		store(c, owner, target, want); /* every session of the account hears of it once stored */
		return;
	}
	guest_put(c, target, want);
	announce(c, "", target, &want);
}

/* ---- markers the server moves: after a catch-up or an offline delivery ---- */

static void advance_done(enum db_status status, void *arg)
{
	struct mark *k = arg;
	if (status == DB_OK) { /* like a MARKREAD, minus the reply: every session hears of it */
		char key[2 * CHANNEL_MAX + 4];
		cache_key(k->owner, k->target, key, sizeof key);
		long long *have = cache_get(key);
		if (!have || *have < k->ms)
			cache_put(key, k->ms);
		have = cache_get(key);
		announce(NULL, k->account, k->target, have ? have : &k->ms);
	}
	/* a failure only means the next catch-up shows these messages again */
	free(k);
}

void readmarker_advance(const struct client *c, const char *target, long long ms)
{
	if (!c->account[0])
		return;
	long long *have = marker_of(c, target);
	if (have && *have >= ms)
		return;
	struct mark *k = calloc(1, sizeof *k);
	if (!k)
		abort();
	casemap_fold(k->owner, c->account, sizeof k->owner);
	snprintf(k->account, sizeof k->account, "%s", c->account);
	snprintf(k->target, sizeof k->target, "%s", target);
	k->ms = ms;
	storage_txn_submit(marker_txn(k->owner, target, ms), advance_done, k);
}

/* ---- last seen: where a logged-in member left a channel ----
 *
 * Written behind the PART/KICK/QUIT, fire and forget (a lost write only makes the next
 * catch-up start earlier). Every departure of one loop iteration goes in one transaction
 * (a QUIT from fifty channels is one commit, not fifty), submitted by a zero timer. */

static struct storage_txn *seen_txn;
static ev_timer seen_timer;

void readmarker_flush_seen(void)
{
	if (!seen_txn)
		return;
	ev_timer_stop(EV_DEFAULT, &seen_timer);
	storage_txn_submit(seen_txn, NULL, NULL);
	seen_txn = NULL;
}

static void seen_flush(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	readmarker_flush_seen();
}

void readmarker_left(const struct client *c, const struct channel *ch)
{
	/* a ghost sees nothing: its catch-up starts where its last connection left */
	if (!c->account[0] || !client_registered(c) || (c->flags & CLI_GHOST) || !ircd.conf->history_enabled)
		return;
	char owner[NICK_MAX + 2], t[CHANNEL_MAX + 1];
	casemap_fold(owner, c->account, sizeof owner);
	casemap_fold(t, ch->name, sizeof t);
	/* every message relayed to it so far has a smaller seq: the catch-up starts here */
	long long seen = (long long)outmsg_seq_floor();
	if (!seen_txn) {
		seen_txn = storage_txn_new();
		ev_timer_init(&seen_timer, seen_flush, 0, 0);
		ev_timer_start(EV_DEFAULT, &seen_timer);
	}
	struct db_param u[4] = {DB_INT(seen), DB_TEXT(owner), DB_TEXT(t), DB_INT(seen)};
	storage_txn_add(seen_txn, "UPDATE last_seen SET seen_before = ? WHERE account_key = ? AND target_key = ? AND "
	                          "seen_before < ?",
	                u, 4);
	struct db_param i[3] = {DB_TEXT(owner), DB_TEXT(t), DB_INT(seen)};
	if (strcmp(storage_insert_ignore(), "INSERT IGNORE") == 0)
		storage_txn_add(seen_txn, "INSERT IGNORE INTO last_seen (account_key, target_key, seen_before) VALUES (?, ?, ?)",
		                i, 3);
	else
		storage_txn_add(seen_txn,
		                "INSERT OR IGNORE INTO last_seen (account_key, target_key, seen_before) VALUES (?, ?, ?)", i, 3);
}
