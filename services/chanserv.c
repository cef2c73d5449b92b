/* chanserv.c - ChanServ: registered channels whose founder, access list, automatic kicks,
 * mode lock, topic and +b/+e/+I lists persist across restarts. Levels, highest first:
 * founder (one account), op (+o on join), voice (+v on join), member (may enter a
 * RESTRICTED channel and use INVITE). State lives here in memory, loaded at start. A
 * ChanServ command's change is stored first (one transaction; the user's input waits)
 * and applied in memory and acknowledged once committed; while the database is down the
 * user is told so and nothing changes. MODE +b/+e/+I and topic changes of a registered
 * room take effect at once (the MODE/TOPIC echo is their acknowledgement) and are stored
 * behind it; one that could not be stored marks the room, whose whole lists and topic
 * are written again every RESYNC_SECONDS until the database takes them. */
#include "account.h"
#include "audit.h"
#include "casemap.h"
#include "conf.h"
#include "dict.h"
#include "log.h"
#include "service.h"
#include "storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void cs_message(const struct service *s, struct client *from, char *text);

const struct service chanserv = {"ChanServ", "Channel registration services", cs_message};
#define CS (&chanserv)

enum level { LVL_NONE, LVL_MEMBER, LVL_VOICE, LVL_OP, LVL_FOUNDER };
static const char *const level_names[] = {"none", "member", "voice", "op", "founder"};

struct access {
	char account[65];
	enum level level;
	struct access *next;
};

struct akick {
	char mask[200];
	char reason[256];
	char setter[65];
	time_t created;
	struct akick *next;
};

struct chanreg {
	char name[65], key[65];
	char founder[65];
	char description[391];
	time_t registered;
	char mlock[32];
	bool topiclock, keeptopic, restricted;
	struct access *access;
	struct akick *akicks;
	int replay_lines;       /* history replayed on JOIN; -1: the server's setting */
	int retention_days;     /* history kept; -1: the server's setting */
	char topic[400];        /* the last accepted topic, restored by TOPICLOCK */
	char topic_setter[200];
	long long topic_time;
	bool lists_dirty, topic_dirty; /* changed in memory, not yet stored: resync */
};

/* The settings one UPDATE stores, copied out of a chanreg and back after the commit. */
struct settings {
	char founder[65];
	char description[391];
	char mlock[32];
	bool topiclock, keeptopic, restricted;
	int replay_lines, retention_days;
};

#define CS_UNAVAILABLE "The channel database is temporarily unavailable; try again shortly."
#define RESYNC_SECONDS 2
#define CHANNEL_COLUMNS                                                                                          \
	"name_key, name, founder, description, registered, topic, topic_setter, topic_time, mlock, topiclock, " \
	"keeptopic, restricted, replay_lines, retention_days, history_floor"

static struct dict *regs;

static struct chanreg *reg_find(const char *name) { return regs ? dict_get(regs, name) : NULL; }

static struct chanreg *reg_new(const char *name)
{
	if (!regs)
		regs = dict_new();
	struct chanreg *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	snprintf(r->name, sizeof r->name, "%s", name);
	casemap_fold(r->key, name, sizeof r->key);
	r->keeptopic = true;
	r->replay_lines = r->retention_days = -1;
	dict_put(regs, r->name, r);
	return r;
}

static enum level level_parse(const char *s)
{
	for (int i = LVL_MEMBER; i < LVL_FOUNDER; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (enum level)i;
	if (strcasecmp(s, "halfop") == 0)
		return LVL_VOICE; /* no +h on this server: half-ops get voice */
	return LVL_NONE;
}

static enum level level_of(const struct chanreg *r, const char *account)
{
	if (!account[0])
		return LVL_NONE;
	if (strcasecmp(account, r->founder) == 0)
		return LVL_FOUNDER;
	for (const struct access *a = r->access; a; a = a->next)
		if (casemap_cmp(a->account, account) == 0)
			return a->level;
	return LVL_NONE;
}

static enum level client_level(const struct chanreg *r, const struct client *c)
{
	return level_of(r, service_client_account(c));
}

/* ---- persistence ---- */

static void settings_get(const struct chanreg *r, struct settings *s)
{
	memcpy(s->founder, r->founder, sizeof s->founder);
	memcpy(s->description, r->description, sizeof s->description);
	memcpy(s->mlock, r->mlock, sizeof s->mlock);
	s->topiclock = r->topiclock;
	s->keeptopic = r->keeptopic;
	s->restricted = r->restricted;
	s->replay_lines = r->replay_lines;
	s->retention_days = r->retention_days;
}

static void settings_put(struct chanreg *r, const struct settings *s)
{
	memcpy(r->founder, s->founder, sizeof r->founder);
	memcpy(r->description, s->description, sizeof r->description);
	memcpy(r->mlock, s->mlock, sizeof r->mlock);
	r->topiclock = s->topiclock;
	r->keeptopic = s->keeptopic;
	r->restricted = s->restricted;
	r->replay_lines = s->replay_lines;
	r->retention_days = s->retention_days;
}

static void add_settings(struct storage_txn *t, const char *key, const struct settings *s)
{
	struct db_param p[9] = {DB_TEXT(s->founder), DB_TEXT(s->description), DB_TEXT(s->mlock), DB_INT(s->topiclock),
	                        DB_INT(s->keeptopic), DB_INT(s->restricted), DB_INT(s->replay_lines),
	                        DB_INT(s->retention_days), DB_TEXT(key)};
	storage_txn_add(t, "UPDATE channels SET founder = ?, description = ?, mlock = ?, topiclock = ?, keeptopic = ?, "
	                   "restricted = ?, replay_lines = ?, retention_days = ? WHERE name_key = ?",
	                p, 9);
}

static void add_topic(struct storage_txn *t, const struct chanreg *r)
{
	struct db_param p[4] = {DB_TEXT(r->topic[0] ? r->topic : NULL), DB_TEXT(r->topic[0] ? r->topic_setter : NULL),
	                        DB_INT(r->topic_time), DB_TEXT(r->key)};
	storage_txn_add(t, "UPDATE channels SET topic = ?, topic_setter = ?, topic_time = ? WHERE name_key = ?", p, 4);
}

/* Rows of a registered room are inserted only while the room's own row exists, so a
 * change committed after a DROP leaves nothing behind for a later registration. */
static void add_list_entry(char kind, const char *mask, const char *setter, long long when, void *arg)
{
	struct storage_txn *t = ((void **)arg)[0];
	const struct chanreg *r = ((void **)arg)[1];
	char k[2] = {kind, '\0'};
	struct db_param p[6] = {DB_TEXT(r->key), DB_TEXT(k), DB_TEXT(mask), DB_TEXT(setter), DB_INT(when), DB_TEXT(r->key)};
	storage_txn_add(t, "INSERT INTO channel_lists (chan_key, kind, mask, setter, created) SELECT ?, ?, ?, ?, ? FROM "
	                   "channels WHERE name_key = ?",
	                p, 6);
}

/* Writes the room's whole +b/+e/+I lists: what memory holds replaces what was stored. */
static void add_lists(struct storage_txn *t, const struct chanreg *r, struct channel *ch)
{
	struct db_param k = DB_TEXT(r->key);
	storage_txn_add(t, "DELETE FROM channel_lists WHERE chan_key = ?", &k, 1);
	void *arg[2] = {t, (void *)r};
	if (ch)
		service_channel_each_list_entry(ch, add_list_entry, arg);
}

/* ---- changes stored behind their echo (MODE lists, topics) ---- */

struct behind {
	char name[65];
	bool lists, topic; /* what the transaction covered */
};

static void resync_all(void);

/* Marks what of r must be written again; the resync timer runs from the first time. */
static void mark_dirty(struct chanreg *r, bool lists, bool topic)
{
	r->lists_dirty |= lists;
	r->topic_dirty |= topic;
	static bool timer;
	if (!timer)
		service_every(RESYNC_SECONDS, resync_all);
	timer = true;
}

static void behind_done(struct client *c, enum db_status status, void *arg)
{
	(void)c;
	struct behind *b = arg;
	struct chanreg *r = status == DB_OK ? NULL : reg_find(b->name);
	if (r) {
		if (!r->lists_dirty && !r->topic_dirty)
			log_warn("chanserv: a change of %s was not stored (database unavailable); retrying", r->name);
		mark_dirty(r, b->lists, b->topic);
	}
	free(b);
}

/* Counts MODE list and topic changes on any room, so a REGISTER can tell whether its
 * room's changed while it was being stored (and was not registered yet to store them). */
static unsigned long room_changes;

static void store_behind(struct chanreg *r, struct storage_txn *t, bool lists, bool topic)
{
	struct behind *b = calloc(1, sizeof *b);
	if (!b)
		abort();
	snprintf(b->name, sizeof b->name, "%s", r->name);
	b->lists = lists;
	b->topic = topic;
	client_store(NULL, t, behind_done, b);
}

static void resync(void *value, void *arg)
{
	(void)arg;
	struct chanreg *r = value;
	if (!r->lists_dirty && !r->topic_dirty)
		return;
	struct storage_txn *t = storage_txn_new();
	if (r->lists_dirty)
		add_lists(t, r, service_channel_find(r->name));
	if (r->topic_dirty)
		add_topic(t, r);
	store_behind(r, t, r->lists_dirty, r->topic_dirty);
	r->lists_dirty = r->topic_dirty = false; /* set again if this fails too */
}

static void resync_all(void)
{
	if (regs)
		dict_each(regs, resync, NULL);
}

/* Copies ch's topic into r (what TOPICLOCK restores and a resync writes). */
static void save_topic_of(struct chanreg *r, struct channel *ch)
{
	const char *topic, *setter;
	long long when;
	service_channel_topic(ch, &topic, &setter, &when);
	snprintf(r->topic, sizeof r->topic, "%s", topic ? topic : "");
	snprintf(r->topic_setter, sizeof r->topic_setter, "%s", setter ? setter : "");
	r->topic_time = when;
}

static void save_topic(struct chanreg *r, struct channel *ch)
{
	save_topic_of(r, ch);
	struct storage_txn *t = storage_txn_new();
	add_topic(t, r);
	store_behind(r, t, false, true);
}

/* ---- loading at start ---- */

/* A channels row into a chanreg. arg is NULL at start; non-NULL on a reload (another
 * node changed the room in the shared store), when the live channel already has the
 * topic and modes that node's ChanServ set: they came over the link. */
static void load_channel(void *arg, int n, const char *const *col)
{
	bool reload = arg != NULL;
	if (n < 15 || !col[1])
		return;
	struct chanreg *r = reg_new(col[1]);
	snprintf(r->founder, sizeof r->founder, "%s", col[2] ? col[2] : "");
	snprintf(r->description, sizeof r->description, "%s", col[3] ? col[3] : "");
	r->registered = col[4] ? (time_t)atoll(col[4]) : 0;
	snprintf(r->mlock, sizeof r->mlock, "%s", col[8] ? col[8] : "");
	r->topiclock = col[9] && atoi(col[9]);
	r->keeptopic = col[10] && atoi(col[10]);
	r->restricted = col[11] && atoi(col[11]);
	r->replay_lines = col[12] ? atoi(col[12]) : -1;
	r->retention_days = col[13] ? atoi(col[13]) : -1;
	struct channel *ch = service_channel_keep(r->name, col[14] ? strtoull(col[14], NULL, 10) : 0);
	snprintf(r->topic, sizeof r->topic, "%s", col[5] ? col[5] : "");
	snprintf(r->topic_setter, sizeof r->topic_setter, "%s", col[6] ? col[6] : "");
	r->topic_time = col[7] ? atoll(col[7]) : 0;
	const char *live, *setter;
	long long when;
	service_channel_topic(ch, &live, &setter, &when);
	if (reload && r->keeptopic && live) /* the row may predate the node's write behind */
		save_topic_of(r, ch);
	if (reload)
		return;
	if (r->keeptopic && r->topic[0])
		service_channel_set_topic(ch, r->topic, r->topic_setter, r->topic_time, false, CS);
	if (r->mlock[0])
		service_channel_mode(CS, ch, r->mlock); /* nobody is there to see it */
}

static void load_access(void *arg, int n, const char *const *col)
{
	(void)arg;
	struct chanreg *r = n >= 3 && col[0] ? reg_find(col[0]) : NULL;
	if (!r || !col[1] || !col[2])
		return;
	struct access *a = calloc(1, sizeof *a);
	if (!a)
		abort();
	snprintf(a->account, sizeof a->account, "%s", col[1]);
	a->level = level_parse(col[2]);
	a->next = r->access;
	r->access = a;
}

static void load_akick(void *arg, int n, const char *const *col)
{
	(void)arg;
	struct chanreg *r = n >= 5 && col[0] ? reg_find(col[0]) : NULL;
	if (!r || !col[1])
		return;
	struct akick *k = calloc(1, sizeof *k);
	if (!k)
		abort();
	snprintf(k->mask, sizeof k->mask, "%s", col[1]);
	snprintf(k->reason, sizeof k->reason, "%s", col[2] ? col[2] : "");
	snprintf(k->setter, sizeof k->setter, "%s", col[3] ? col[3] : "");
	k->created = col[4] ? (time_t)atoll(col[4]) : 0;
	k->next = r->akicks;
	r->akicks = k;
}

static void load_list(void *arg, int n, const char *const *col)
{
	(void)arg;
	struct chanreg *r = n >= 5 && col[0] ? reg_find(col[0]) : NULL;
	struct channel *ch = r ? service_channel_find(r->name) : NULL;
	if (ch && col[1] && col[2])
		service_channel_list_restore(ch, col[1][0], col[2], col[3] ? col[3] : "", col[4] ? atoll(col[4]) : 0);
}

void chanserv_load(void)
{
	storage_query_now("SELECT " CHANNEL_COLUMNS " FROM channels", NULL, 0, load_channel, NULL);
	/* rows refer to channels by key; reg_find works on names, which fold the same */
	storage_query_now("SELECT c.name, a.account, a.level FROM channel_access a JOIN channels c ON c.name_key = "
	                  "a.chan_key",
	                  NULL, 0, load_access, NULL);
	storage_query_now("SELECT c.name, k.mask, k.reason, k.setter, k.created FROM channel_akick k JOIN channels c ON "
	                  "c.name_key = k.chan_key",
	                  NULL, 0, load_akick, NULL);
	storage_query_now("SELECT c.name, l.kind, l.mask, l.setter, l.created FROM channel_lists l JOIN channels c ON "
	                  "c.name_key = l.chan_key ORDER BY l.created",
	                  NULL, 0, load_list, NULL);
}

/* ---- another node changed a room (links.shared_store) ---- */

static void free_reg(struct chanreg *r);
static void apply_everywhere(struct chanreg *r);

/* Rows read on the storage thread, each cell copied, for the loop to apply. */
struct rows {
	int n, ncols;
	char **cells; /* n * ncols, NULL for SQL NULL */
};

static void rows_add(void *arg, int ncols, const char *const *col)
{
	struct rows *r = arg;
	if (r->n && ncols != r->ncols)
		return;
	r->ncols = ncols;
	r->cells = realloc(r->cells, sizeof *r->cells * (size_t)(r->n + 1) * (size_t)ncols);
	if (!r->cells)
		abort();
	for (int i = 0; i < ncols; i++) {
		char *v = col[i] ? strdup(col[i]) : NULL;
		if (col[i] && !v)
			abort();
		r->cells[(size_t)r->n * (size_t)ncols + (size_t)i] = v;
	}
	r->n++;
}

static void rows_each(const struct rows *r, db_row_fn fn, void *arg)
{
	for (int i = 0; i < r->n; i++)
		fn(arg, r->ncols, (const char *const *)r->cells + (size_t)i * (size_t)r->ncols);
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < (size_t)r->n * (size_t)r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
}

struct reload {
	struct job job;
	char key[65];
	enum db_status status;
	struct rows chan, access, akick;
};

static void reload_run(struct job *job)
{
	struct reload *j = (struct reload *)job;
	struct db_param k = DB_TEXT(j->key);
	int n = j->key[0] ? 1 : 0; /* one room, or all */
	j->status = storage_exec(n ? "SELECT " CHANNEL_COLUMNS " FROM channels WHERE name_key = ?"
	                           : "SELECT " CHANNEL_COLUMNS " FROM channels",
	                         &k, n, rows_add, &j->chan);
	if (j->status == DB_OK)
		j->status = storage_exec(n ? "SELECT c.name, a.account, a.level FROM channel_access a JOIN channels c ON "
		                             "c.name_key = a.chan_key WHERE a.chan_key = ?"
		                           : "SELECT c.name, a.account, a.level FROM channel_access a JOIN channels c ON "
		                             "c.name_key = a.chan_key",
		                         &k, n, rows_add, &j->access);
	if (j->status == DB_OK)
		j->status = storage_exec(n ? "SELECT c.name, k.mask, k.reason, k.setter, k.created FROM channel_akick k "
		                             "JOIN channels c ON c.name_key = k.chan_key WHERE k.chan_key = ?"
		                           : "SELECT c.name, k.mask, k.reason, k.setter, k.created FROM channel_akick k "
		                             "JOIN channels c ON c.name_key = k.chan_key",
		                         &k, n, rows_add, &j->akick);
}

struct names {
	int n;
	char (*name)[65];
};

static void name_add(void *value, void *arg)
{
	struct names *l = arg;
	l->name = realloc(l->name, sizeof *l->name * (size_t)(l->n + 1));
	if (!l->name)
		abort();
	snprintf(l->name[l->n++], sizeof *l->name, "%s", ((struct chanreg *)value)->name);
}

static void apply_each(void *value, void *arg)
{
	(void)arg;
	apply_everywhere(value);
}

/* Replaces the state of the room (or of every room) with what the store holds:
 * registered, changed or gone. */
static void reload_done(struct job *job)
{
	struct reload *j = (struct reload *)job;
	struct names old = {0};
	if (j->status != DB_OK) {
		log_warn("chanserv: could not read %s again after another node changed it (database unavailable)",
		         j->key[0] ? j->key : "the registered channels");
	} else {
		if (j->key[0] && reg_find(j->key))
			name_add(reg_find(j->key), &old);
		else if (!j->key[0] && regs)
			dict_each(regs, name_add, &old);
		for (int i = 0; i < old.n; i++) {
			struct chanreg *r = reg_find(old.name[i]);
			dict_del(regs, r->name);
			free_reg(r);
		}
		rows_each(&j->chan, load_channel, j);
		rows_each(&j->access, load_access, NULL);
		rows_each(&j->akick, load_akick, NULL);
		for (int i = 0; i < old.n; i++) {
			struct channel *chan = service_channel_find(old.name[i]);
			if (!reg_find(old.name[i]) && chan)
				service_channel_release(chan); /* dropped */
		}
		if (j->key[0] && reg_find(j->key))
			apply_everywhere(reg_find(j->key));
		else if (!j->key[0] && regs)
			dict_each(regs, apply_each, NULL);
	}
	free(old.name);
	rows_free(&j->chan);
	rows_free(&j->access);
	rows_free(&j->akick);
	free(j);
}

void chanserv_reload(const char *name)
{
	struct reload *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->job.run = reload_run;
	j->job.done = reload_done;
	if (name)
		casemap_fold(j->key, name, sizeof j->key);
	storage_submit(&j->job);
}

static void each_retention(void *value, void *arg)
{
	const struct chanreg *r = value;
	struct each {
		void (*fn)(const char *, int, void *);
		void *arg;
	} *e = arg;
	if (r->retention_days >= 0)
		e->fn(r->name, r->retention_days, e->arg);
}

/* ---- enforcement ---- */

static const struct akick *akick_match(const struct chanreg *r, const struct client *c)
{
	for (const struct akick *k = r->akicks; k; k = k->next)
		if (service_client_matches(c, k->mask))
			return k;
	return NULL;
}

/* Applies AKICK, RESTRICTED and access status to c in ch. */
static void enforce(struct client *c, struct channel *ch)
{
	struct chanreg *r = reg_find(service_channel_name(ch));
	if (!r || !service_channel_is_member(ch, c))
		return;
	enum level lvl = client_level(r, c);
	const struct akick *k = lvl >= LVL_OP ? NULL : akick_match(r, c);
	if (k) {
		service_channel_kick(CS, ch, c, k->reason[0] ? k->reason : "You are not welcome here");
		return;
	}
	if (r->restricted && lvl == LVL_NONE) {
		service_channel_kick(CS, ch, c, "This channel is restricted to its access list");
		return;
	}
	if (lvl >= LVL_OP)
		service_channel_member_mode(CS, ch, c, 'o', true);
	else if (lvl == LVL_VOICE)
		service_channel_member_mode(CS, ch, c, 'v', true);
}

void chanserv_joined(struct client *c, struct channel *ch) { enforce(c, ch); }

enum service_admit chanserv_admits(const struct client *c, const struct channel *ch)
{
	const struct chanreg *r = reg_find(service_channel_name(ch));
	if (!r)
		return ADMIT_NONE;
	enum level lvl = client_level(r, c);
	if (lvl >= LVL_OP)
		return ADMIT_ALL;
	/* an AKICK wins over the entry: enforce() would kick at once anyway */
	return lvl >= LVL_MEMBER && !akick_match(r, c) ? ADMIT_DOORS : ADMIT_NONE;
}

static void enforce_each(struct channel *ch, void *arg) { enforce(arg, ch); }

void chanserv_account_changed(struct client *c) { service_client_each_channel(c, enforce_each, c); }

void chanserv_modes_changed(struct client *by, struct channel *ch)
{
	(void)by;
	struct chanreg *r = reg_find(service_channel_name(ch));
	if (r && r->mlock[0])
		service_channel_mode(CS, ch, r->mlock); /* reverts whatever broke the lock */
}

void chanserv_list_changed(struct client *by, struct channel *ch, char kind, bool add, const char *mask)
{
	room_changes++;
	struct chanreg *r = reg_find(service_channel_name(ch));
	if (!r)
		return;
	char k[2] = {kind, '\0'};
	struct storage_txn *t = storage_txn_new();
	struct db_param p[3] = {DB_TEXT(r->key), DB_TEXT(k), DB_TEXT(mask)};
	storage_txn_add(t, "DELETE FROM channel_lists WHERE chan_key = ? AND kind = ? AND mask = ?", p, 3);
	if (add) {
		void *arg[2] = {t, r};
		add_list_entry(kind, mask, by ? service_client_nick(by) : "ChanServ", time(NULL), arg);
	}
	store_behind(r, t, true, false);
}

void chanserv_topic_changed(struct client *by, struct channel *ch)
{
	room_changes++;
	struct chanreg *r = reg_find(service_channel_name(ch));
	if (!r)
		return;
	if (r->topiclock && by && client_level(r, by) < LVL_OP) {
		/* put the saved topic back: it is what the database holds */
		service_notice(CS, by, "The topic of %s is locked.", r->name);
		service_channel_set_topic(ch, r->topic, r->topic_setter, r->topic_time, true, CS);
		return;
	}
	if (r->keeptopic)
		save_topic(r, ch);
}

void chanserv_topic_relayed(struct channel *ch)
{
	struct chanreg *r = reg_find(service_channel_name(ch));
	if (!r || !r->keeptopic)
		return;
	if (ircd_conf()->shared_store)
		save_topic_of(r, ch); /* its node stored it */
	else
		save_topic(r, ch);
}

int chanserv_history_setting(const char *name, bool retention)
{
	struct chanreg *r = reg_find(name);
	return !r ? -1 : retention ? r->retention_days : r->replay_lines;
}

void chanserv_each_retention(void (*fn)(const char *name, int days, void *arg), void *arg)
{
	if (!regs)
		return;
	struct each {
		void (*fn)(const char *, int, void *);
		void *arg;
	} e = {fn, arg};
	dict_each(regs, each_retention, &e);
}

const char *chanserv_description(const struct channel *ch)
{
	struct chanreg *r = reg_find(service_channel_name(ch));
	return r && r->description[0] ? r->description : NULL;
}

/* ---- commands ---- */

/* Finds the registered channel argv[0] and checks c's level; replies and returns NULL
 * when it is missing or c may not act. */
static struct chanreg *need(struct client *c, char **argv, int argc, enum level min, const char *syntax)
{
	if (argc < 1) {
		service_notice(CS, c, "Syntax: %s", syntax);
		return NULL;
	}
	struct chanreg *r = reg_find(argv[0]);
	if (!r) {
		service_notice(CS, c, "%s is not registered.", argv[0]);
		return NULL;
	}
	if (client_level(r, c) < min && !(min < LVL_FOUNDER && service_client_is_oper(c))) {
		service_notice(CS, c, "You need %s access on %s for that.", level_names[min], r->name);
		return NULL;
	}
	return r;
}

/* A ChanServ change on its way to the database: what to apply once it is committed. */
struct change {
	char name[65];  /* the room, found again on commit (it may be gone by then) */
	char what[200]; /* the account, mask or setting concerned */
	char shown[391]; /* the new value, for the reply */
	enum level level;
	struct settings set;
	struct akick akick;
	char topic[400], topic_setter[200];
	long long topic_time;
	time_t registered;
	unsigned long long history_floor; /* REGISTER: the lifetime registered */
	unsigned long room_changes; /* REGISTER: room_changes when it was sent */
};

static struct change *change_new(const char *name)
{
	struct change *ch = calloc(1, sizeof *ch);
	if (!ch)
		abort();
	snprintf(ch->name, sizeof ch->name, "%s", name);
	return ch;
}

/* The room of a committed change; NULL after replying when it failed or the room was
 * dropped meanwhile. */
static struct chanreg *committed(struct client *c, enum db_status status, const struct change *ch)
{
	if (status != DB_OK) {
		if (c)
			service_notice(CS, c, CS_UNAVAILABLE);
		return NULL;
	}
	service_channel_stored(ch->name);
	struct chanreg *r = reg_find(ch->name);
	if (!r && c)
		service_notice(CS, c, "%s is not registered.", ch->name);
	return r;
}

static void register_done(struct client *c, enum db_status status, void *arg)
{
	struct change *ch = arg;
	if (status == DB_DUPLICATE || (status == DB_OK && reg_find(ch->name))) {
		if (c)
			service_notice(CS, c, "%s is already registered.", ch->name);
	} else if (status != DB_OK) {
		if (c)
			service_notice(CS, c, CS_UNAVAILABLE);
	} else {
		struct chanreg *r = reg_new(ch->name);
		settings_put(r, &ch->set);
		r->registered = ch->registered;
		memcpy(r->topic, ch->topic, sizeof r->topic);
		memcpy(r->topic_setter, ch->topic_setter, sizeof r->topic_setter);
		r->topic_time = ch->topic_time;
		struct channel *chan = service_channel_keep(r->name, ch->history_floor);
		if (ch->room_changes != room_changes) { /* lists or topic changed meanwhile */
			save_topic_of(r, chan);
			mark_dirty(r, true, true);
		}
		service_channel_stored(r->name);
		if (c)
			service_notice(CS, c, "%s is now registered to %s.", r->name, r->founder);
		audit(c, "ChanServ REGISTER channel=%s founder=%s", r->name, r->founder);
	}
	free(ch);
}

static void cs_register(struct client *c, char **argv, int argc)
{
	const char *acct = service_client_account(c);
	if (argc < 1) {
		service_notice(CS, c, "Syntax: REGISTER <#channel> [description]");
		return;
	}
	struct channel *chan = service_channel_find(argv[0]);
	if (!acct[0]) {
		service_notice(CS, c, "You must be logged in to register a channel.");
		return;
	} else if (reg_find(argv[0])) {
		service_notice(CS, c, "%s is already registered.", argv[0]);
		return;
	} else if (!chan || !service_channel_is_op(chan, c)) {
		service_notice(CS, c, "You must be a channel operator in %s to register it.", argv[0]);
		return;
	}
	/* the room as it will be: its row, topic and lists (bans set before REGISTER) */
	struct chanreg r = {0};
	snprintf(r.name, sizeof r.name, "%s", service_channel_name(chan));
	casemap_fold(r.key, r.name, sizeof r.key);
	r.keeptopic = true;
	r.replay_lines = r.retention_days = -1;
	snprintf(r.founder, sizeof r.founder, "%s", acct);
	size_t n = 0;
	for (int i = 1; i < argc; i++)
		n += (size_t)snprintf(r.description + n, sizeof r.description - n, "%s%s", i > 1 ? " " : "", argv[i]);
	const char *topic, *setter;
	long long when;
	service_channel_topic(chan, &topic, &setter, &when);
	snprintf(r.topic, sizeof r.topic, "%s", topic ? topic : "");
	snprintf(r.topic_setter, sizeof r.topic_setter, "%s", setter ? setter : "");
	r.topic_time = when;
	struct change *ch = change_new(r.name);
	settings_get(&r, &ch->set);
	ch->registered = time(NULL);
	memcpy(ch->topic, r.topic, sizeof ch->topic);
	memcpy(ch->topic_setter, r.topic_setter, sizeof ch->topic_setter);
	ch->topic_time = r.topic_time;
	ch->room_changes = room_changes;
	/* the room's history starts with the lifetime being registered, after any restart,
	 * whether or not the rows of earlier ones are ever deleted */
	ch->history_floor = service_channel_history_floor(chan);

	struct storage_txn *t = storage_txn_new();
	struct db_param k = DB_TEXT(r.key);
	/* rows left by an earlier registration of the name do not come back with this one */
	storage_txn_add(t, "DELETE FROM channel_access WHERE chan_key = ?", &k, 1);
	storage_txn_add(t, "DELETE FROM channel_akick WHERE chan_key = ?", &k, 1);
	struct db_param p[6] = {DB_TEXT(r.key), DB_TEXT(r.name), DB_TEXT(r.founder), DB_TEXT(r.description),
	                        DB_INT(ch->registered), DB_INT(ch->history_floor)};
	storage_txn_add(t, "INSERT INTO channels (name_key, name, founder, description, registered, history_floor) VALUES "
	                   "(?, ?, ?, ?, ?, ?)",
	                p, 6);
	add_topic(t, &r);
	add_lists(t, &r, chan);
	client_store(c, t, register_done, ch);
}

static void free_reg(struct chanreg *r)
{
	for (struct access *a = r->access, *n; a; a = n) {
		n = a->next;
		free(a);
	}
	for (struct akick *k = r->akicks, *n; k; k = n) {
		n = k->next;
		free(k);
	}
	free(r);
}

static void drop_done(struct client *c, enum db_status status, void *arg)
{
	struct change *ch = arg;
	struct chanreg *r = committed(c, status, ch);
	if (r) {
		if (c)
			service_notice(CS, c, "%s has been dropped.", r->name);
		audit(c, "ChanServ DROP channel=%s", r->name);
		dict_del(regs, r->name);
		struct channel *chan = service_channel_find(r->name);
		free_reg(r);
		if (chan)
			service_channel_release(chan);
	}
	free(ch);
}

static void cs_drop(struct client *c, char **argv, int argc)
{
	struct chanreg *r = need(c, argv, argc, LVL_FOUNDER, "DROP <#channel>");
	if (!r)
		return;
	struct db_param k = DB_TEXT(r->key);
	struct storage_txn *t = storage_txn_new();
	storage_txn_add(t, "DELETE FROM channel_access WHERE chan_key = ?", &k, 1);
	storage_txn_add(t, "DELETE FROM channel_akick WHERE chan_key = ?", &k, 1);
	storage_txn_add(t, "DELETE FROM channel_lists WHERE chan_key = ?", &k, 1);
	storage_txn_add(t, "DELETE FROM channels WHERE name_key = ?", &k, 1);
	client_store(c, t, drop_done, change_new(r->name));
}

static void cs_info(struct client *c, char **argv, int argc)
{
	struct chanreg *r = need(c, argv, argc, LVL_NONE, "INFO <#channel>");
	if (!r)
		return;
	char when[64];
	struct tm tm;
	gmtime_r(&r->registered, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	service_notice(CS, c, "Information on %s:", r->name);
	service_notice(CS, c, "Founder: %s", r->founder);
	service_notice(CS, c, "Registered: %s", when);
	service_notice(CS, c, "Description: %s", r->description[0] ? r->description : "(none)");
	service_notice(CS, c, "Settings: MLOCK %s, TOPICLOCK %s, KEEPTOPIC %s, RESTRICTED %s", r->mlock[0] ? r->mlock : "(none)",
	               r->topiclock ? "ON" : "OFF", r->keeptopic ? "ON" : "OFF", r->restricted ? "ON" : "OFF");
	if (r->replay_lines >= 0 || r->retention_days >= 0)
		service_notice(CS, c, "History: REPLAY %d, RETENTION %d days", r->replay_lines, r->retention_days);
	service_notice(CS, c, "End of info.");
}

/* With a shared store every node's ChanServ reads the change and enforces it on its own
 * users, so a member on another node is left to its node (one +o, not one per node). */
static void enforce_member(struct client *m, void *arg)
{
	if (!ircd_conf()->shared_store || !service_client_is_remote(m))
		enforce(m, arg);
}

static void apply_everywhere(struct chanreg *r)
{
	struct channel *ch = service_channel_find(r->name);
	if (ch)
		service_channel_each_member(ch, enforce_member, ch);
}

static void access_done(struct client *c, enum db_status status, void *arg)
{
	struct change *ch = arg;
	struct chanreg *r = committed(c, status, ch);
	if (!r) {
		free(ch);
		return;
	}
	struct access **pp = &r->access;
	while (*pp && casemap_cmp((*pp)->account, ch->what) != 0)
		pp = &(*pp)->next;
	if (ch->level == LVL_NONE) {
		if (*pp) {
			struct access *a = *pp;
			*pp = a->next;
			free(a);
		}
		if (c)
			service_notice(CS, c, "%s removed from the access list of %s.", ch->what, r->name);
		free(ch);
		return;
	}
	if (!*pp) {
		*pp = calloc(1, sizeof **pp);
		if (!*pp)
			abort();
	}
	snprintf((*pp)->account, sizeof (*pp)->account, "%s", ch->what);
	(*pp)->level = ch->level;
	if (c)
		service_notice(CS, c, "%s added to the access list of %s as %s.", ch->what, r->name, level_names[ch->level]);
	apply_everywhere(r);
	free(ch);
}

static void cs_access(struct client *c, char **argv, int argc)
{
	const char *syntax = "ACCESS <#channel> LIST | ADD <account> <op|voice|member> | DEL <account>";
	struct chanreg *r = need(c, argv, argc, LVL_MEMBER, syntax);
	if (!r)
		return;
	const char *sub = argc > 1 ? argv[1] : "LIST";
	if (strcasecmp(sub, "LIST") == 0) {
		service_notice(CS, c, "Access list of %s:", r->name);
		service_notice(CS, c, "  %-20s founder", r->founder);
		for (struct access *a = r->access; a; a = a->next)
			service_notice(CS, c, "  %-20s %s", a->account, level_names[a->level]);
		service_notice(CS, c, "End of access list.");
		return;
	}
	enum level mine = client_level(r, c);
	bool add = strcasecmp(sub, "ADD") == 0;
	if ((!add && strcasecmp(sub, "DEL") != 0) || argc < (add ? 4 : 3)) {
		service_notice(CS, c, "Syntax: %s", syntax);
		return;
	}
	enum level lvl = add ? level_parse(argv[3]) : LVL_NONE;
	if (add && lvl == LVL_NONE) {
		service_notice(CS, c, "Unknown level %s: use op, voice (or halfop) or member.", argv[3]);
		return;
	}
	struct access *a = r->access;
	while (a && casemap_cmp(a->account, argv[2]) != 0)
		a = a->next;
	enum level current = a ? a->level : LVL_NONE;
	/* founders change anything; ops manage the levels below op */
	if (mine < LVL_FOUNDER && (mine < LVL_OP || lvl >= LVL_OP || current >= LVL_OP)) {
		service_notice(CS, c, "You may not change that entry of %s.", r->name);
		return;
	}
	if (!add && !a) {
		service_notice(CS, c, "%s is not on the access list of %s.", argv[2], r->name);
		return;
	}
	char key[65];
	casemap_fold(key, argv[2], sizeof key);
	struct change *ch = change_new(r->name);
	snprintf(ch->what, sizeof ch->what, "%s", argv[2]);
	ch->level = lvl;
	struct storage_txn *t = storage_txn_new();
	struct db_param d[2] = {DB_TEXT(r->key), DB_TEXT(key)};
	storage_txn_add(t, "DELETE FROM channel_access WHERE chan_key = ? AND account_key = ?", d, 2);
	if (add) {
		struct db_param p[5] = {DB_TEXT(r->key), DB_TEXT(key), DB_TEXT(argv[2]), DB_TEXT(level_names[lvl]),
		                        DB_TEXT(r->key)};
		storage_txn_add(t, "INSERT INTO channel_access (chan_key, account_key, account, level) SELECT ?, ?, ?, ? "
		                   "FROM channels WHERE name_key = ?",
		                p, 5);
	}
	client_store(c, t, access_done, ch);
}

static void member_command(struct client *c, char **argv, int argc, char mode, bool on, const char *name)
{
	char syntax[64];
	snprintf(syntax, sizeof syntax, "%s <#channel> [nick]", name);
	enum level min = mode == 'o' || argc > 1 ? LVL_OP : LVL_VOICE;
	struct chanreg *r = need(c, argv, argc, min, syntax);
	if (!r)
		return;
	struct channel *ch = service_channel_find(r->name);
	struct client *t = argc > 1 ? service_client_find(argv[1]) : c;
	if (!ch || !t || !service_channel_is_member(ch, t)) {
		service_notice(CS, c, "%s is not on %s.", argc > 1 ? argv[1] : service_client_nick(c), r->name);
		return;
	}
	service_channel_member_mode(CS, ch, t, mode, on);
}

static void cs_op(struct client *c, char **a, int n) { member_command(c, a, n, 'o', true, "OP"); }
static void cs_deop(struct client *c, char **a, int n) { member_command(c, a, n, 'o', false, "DEOP"); }
static void cs_voice(struct client *c, char **a, int n) { member_command(c, a, n, 'v', true, "VOICE"); }
static void cs_devoice(struct client *c, char **a, int n) { member_command(c, a, n, 'v', false, "DEVOICE"); }

static void cs_invite(struct client *c, char **argv, int argc)
{
	struct chanreg *r = need(c, argv, argc, LVL_MEMBER, "INVITE <#channel>");
	struct channel *ch = r ? service_channel_find(r->name) : NULL;
	if (ch) {
		service_channel_invite(CS, ch, c);
		service_notice(CS, c, "You have been invited to %s.", r->name);
	}
}

static void akick_done(struct client *c, enum db_status status, void *arg)
{
	struct change *ch = arg;
	struct chanreg *r = committed(c, status, ch);
	if (!r) {
		free(ch);
		return;
	}
	struct akick **pp = &r->akicks;
	while (*pp && strcasecmp((*pp)->mask, ch->akick.mask) != 0)
		pp = &(*pp)->next;
	if (!ch->akick.created) { /* DEL */
		if (*pp) {
			struct akick *k = *pp;
			*pp = k->next;
			free(k);
		}
		if (c)
			service_notice(CS, c, "%s removed from the AKICK list of %s.", ch->akick.mask, r->name);
		free(ch);
		return;
	}
	if (!*pp) {
		struct akick *k = calloc(1, sizeof *k);
		if (!k)
			abort();
		*k = ch->akick;
		k->next = r->akicks;
		r->akicks = k;
	}
	if (c)
		service_notice(CS, c, "%s added to the AKICK list of %s.", ch->akick.mask, r->name);
	struct channel *chan = service_channel_find(r->name);
	if (chan)
		service_channel_each_member(chan, enforce_member, chan);
	free(ch);
}

static void cs_akick(struct client *c, char **argv, int argc)
{
	const char *syntax = "AKICK <#channel> ADD <mask|account> [reason] | DEL <mask|account> | LIST";
	struct chanreg *r = need(c, argv, argc, LVL_OP, syntax);
	if (!r)
		return;
	const char *sub = argc > 1 ? argv[1] : "LIST";
	if (strcasecmp(sub, "LIST") == 0) {
		service_notice(CS, c, "AKICK list of %s:", r->name);
		for (struct akick *k = r->akicks; k; k = k->next)
			service_notice(CS, c, "  %s (%s) by %s", k->mask, k->reason, k->setter);
		service_notice(CS, c, "End of AKICK list.");
		return;
	}
	if (argc < 3 || (strcasecmp(sub, "ADD") != 0 && strcasecmp(sub, "DEL") != 0)) {
		service_notice(CS, c, "Syntax: %s", syntax);
		return;
	}
	struct change *ch = change_new(r->name);
	struct akick *k = &ch->akick;
	if (strpbrk(argv[2], "!@$*?"))
		snprintf(k->mask, sizeof k->mask, "%s", argv[2]);
	else
		snprintf(k->mask, sizeof k->mask, "$a:%s", argv[2]); /* a bare name is an account */
	const struct akick *old = r->akicks;
	while (old && strcasecmp(old->mask, k->mask) != 0)
		old = old->next;
	bool add = strcasecmp(sub, "ADD") == 0;
	if (!add && !old) {
		service_notice(CS, c, "%s is not on the AKICK list of %s.", k->mask, r->name);
		free(ch);
		return;
	}
	if (add && old) {
		service_notice(CS, c, "%s is already on the AKICK list of %s.", k->mask, r->name);
		free(ch);
		return;
	}
	struct storage_txn *t = storage_txn_new();
	struct db_param d[2] = {DB_TEXT(r->key), DB_TEXT(old ? old->mask : k->mask)};
	storage_txn_add(t, "DELETE FROM channel_akick WHERE chan_key = ? AND mask = ?", d, 2);
	if (add) {
		size_t n = 0;
		for (int i = 3; i < argc; i++)
			n += (size_t)snprintf(k->reason + n, sizeof k->reason - n, "%s%s", i > 3 ? " " : "", argv[i]);
		if (!n)
			snprintf(k->reason, sizeof k->reason, "You are banned from this channel");
		snprintf(k->setter, sizeof k->setter, "%s", service_client_nick(c));
		k->created = time(NULL);
		struct db_param p[6] = {DB_TEXT(r->key), DB_TEXT(k->mask), DB_TEXT(k->reason), DB_TEXT(k->setter),
		                        DB_INT(k->created), DB_TEXT(r->key)};
		storage_txn_add(t, "INSERT INTO channel_akick (chan_key, mask, reason, setter, created) SELECT ?, ?, ?, ?, ? "
		                   "FROM channels WHERE name_key = ?",
		                p, 6);
	}
	client_store(c, t, akick_done, ch);
}

static bool on_off(const char *v, bool *out)
{
	if (strcasecmp(v, "ON") == 0)
		*out = true;
	else if (strcasecmp(v, "OFF") == 0)
		*out = false;
	else
		return false;
	return true;
}

static void set_done(struct client *c, enum db_status status, void *arg)
{
	struct change *ch = arg;
	struct chanreg *r = committed(c, status, ch);
	if (r) {
		settings_put(r, &ch->set);
		if (c)
			service_notice(CS, c, "%s of %s is now %s.", ch->what, r->name, ch->shown);
		struct channel *chan = service_channel_find(r->name);
		if (chan && r->mlock[0])
			service_channel_mode(CS, chan, r->mlock);
		if (chan && r->restricted)
			apply_everywhere(r);
	}
	free(ch);
}

static void cs_set(struct client *c, char **argv, int argc)
{
	const char *syntax = "SET <#channel> DESCRIPTION <text> | MLOCK <+modes-modes> | TOPICLOCK|KEEPTOPIC|RESTRICTED ON|OFF"
	                     " | REPLAY|RETENTION <number|DEFAULT>";
	struct chanreg *r = need(c, argv, argc, LVL_FOUNDER, syntax);
	if (!r)
		return;
	if (argc < 3) {
		service_notice(CS, c, "Syntax: %s", syntax);
		return;
	}
	struct change *ch = change_new(r->name);
	struct settings *s = &ch->set;
	settings_get(r, s);
	const char *what = argv[1];
	bool ok = true;
	if (strcasecmp(what, "DESCRIPTION") == 0) {
		size_t n = 0;
		for (int i = 2; i < argc; i++)
			n += (size_t)snprintf(s->description + n, sizeof s->description - n, "%s%s", i > 2 ? " " : "", argv[i]);
	} else if (strcasecmp(what, "MLOCK") == 0) {
		if (strspn(argv[2], "+-Rimnpst") != strlen(argv[2]) || strlen(argv[2]) >= sizeof s->mlock)
			ok = false;
		else
			snprintf(s->mlock, sizeof s->mlock, "%s", strcmp(argv[2], "-") == 0 ? "" : argv[2]);
	} else if (strcasecmp(what, "TOPICLOCK") == 0) {
		ok = on_off(argv[2], &s->topiclock);
	} else if (strcasecmp(what, "KEEPTOPIC") == 0) {
		ok = on_off(argv[2], &s->keeptopic);
	} else if (strcasecmp(what, "RESTRICTED") == 0) {
		ok = on_off(argv[2], &s->restricted);
	} else if (strcasecmp(what, "REPLAY") == 0 || strcasecmp(what, "RETENTION") == 0) {
		/* a number, or DEFAULT for the server's setting */
		char *end;
		long v = strcasecmp(argv[2], "DEFAULT") == 0 ? -1 : strtol(argv[2], &end, 10);
		ok = v == -1 ? strcasecmp(argv[2], "DEFAULT") == 0 : (*end == '\0' && v >= 0 && v <= 100000);
		if (ok && strcasecmp(what, "REPLAY") == 0)
			s->replay_lines = v > 1000 ? 1000 : (int)v;
		else if (ok)
			s->retention_days = (int)v;
	} else {
		ok = false;
	}
	if (!ok) {
		service_notice(CS, c, "Syntax: %s", syntax);
		free(ch);
		return;
	}
	snprintf(ch->what, sizeof ch->what, "%s", what);
	snprintf(ch->shown, sizeof ch->shown, "%s", strcasecmp(what, "DESCRIPTION") == 0 ? s->description : argv[2]);
	struct storage_txn *t = storage_txn_new();
	add_settings(t, r->key, s);
	client_store(c, t, set_done, ch);
}

static void transfer_done(struct client *c, enum db_status status, void *arg)
{
	struct change *ch = arg;
	struct chanreg *r = committed(c, status, ch);
	if (r) {
		memcpy(r->founder, ch->set.founder, sizeof r->founder);
		if (c)
			service_notice(CS, c, "%s now belongs to %s.", r->name, r->founder);
		audit(c, "ChanServ TRANSFER channel=%s founder=%s", r->name, r->founder);
	}
	free(ch);
}

static void done_transfer(struct client *c, const struct account_result *res, void *arg)
{
	char *name = arg;
	struct chanreg *r = reg_find(name);
	if (!r || client_level(r, c) < LVL_FOUNDER)
		service_notice(CS, c, "Transfer failed: you are no longer the founder.");
	else if (res->status == ACC_UNAVAILABLE)
		service_notice(CS, c, CS_UNAVAILABLE);
	else if (res->status != ACC_OK)
		service_notice(CS, c, "Transfer failed: no such account.");
	else {
		struct change *ch = change_new(r->name);
		settings_get(r, &ch->set);
		snprintf(ch->set.founder, sizeof ch->set.founder, "%s", res->name);
		struct storage_txn *t = storage_txn_new();
		struct db_param p[2] = {DB_TEXT(ch->set.founder), DB_TEXT(r->key)};
		storage_txn_add(t, "UPDATE channels SET founder = ? WHERE name_key = ?", p, 2);
		client_store(c, t, transfer_done, ch);
	}
	free(name);
}

static void cs_transfer(struct client *c, char **argv, int argc)
{
	struct chanreg *r = need(c, argv, argc, LVL_FOUNDER, "TRANSFER <#channel> <account>");
	if (!r)
		return;
	if (argc < 2) {
		service_notice(CS, c, "Syntax: TRANSFER <#channel> <account>");
		return;
	}
	char *name = strdup(r->name);
	if (!name)
		abort();
	account_info(c, argv[1], done_transfer, name);
}

static void cs_help(struct client *c, char **argv, int argc);

static const struct {
	const char *name;
	void (*fn)(struct client *c, char **argv, int argc);
	const char *help;
	const char *detail;
} commands[] = {
    {"REGISTER", cs_register, "REGISTER <#channel> [description] - register a channel you operate",
     "You must be logged in and a channel operator there; your account becomes its founder.\n"
     "A registered channel keeps its modes, lists and topic while empty and across restarts."},
    {"DROP", cs_drop, "DROP <#channel> - unregister a channel (founder)",
     "Forgets the registration, its access and AKICK lists and its settings."},
    {"INFO", cs_info, "INFO <#channel> - founder, registration, description, settings",
     "Anyone may ask."},
    {"ACCESS", cs_access, "ACCESS <#channel> LIST | ADD <account> <op|voice|member> | DEL <account>",
     "op: +o on join, may use OP/DEOP/VOICE/DEVOICE/INVITE/AKICK and manage voice and member entries.\n"
     "voice: +v on join. member: on the list, nothing given on join (counts for SET RESTRICTED).\n"
     "Any entry lets its account join past +i, +k and +l, unless an AKICK matches it;\n"
     "op entries pass bans (+b) too. Founders change every entry; ops the ones below op."},
    {"OP", cs_op, "OP <#channel> [nick] - give +o", "Without a nick, to yourself. Needs op access."},
    {"DEOP", cs_deop, "DEOP <#channel> [nick] - take +o", "Without a nick, from yourself. Needs op access."},
    {"VOICE", cs_voice, "VOICE <#channel> [nick] - give +v",
     "Without a nick, to yourself (voice access), to another nick with op access."},
    {"DEVOICE", cs_devoice, "DEVOICE <#channel> [nick] - take +v",
     "Without a nick, from yourself (voice access), from another nick with op access."},
    {"INVITE", cs_invite, "INVITE <#channel> - invite yourself (members of the access list)",
     "Sends you an INVITE to the channel, for clients that want one before joining."},
    {"AKICK", cs_akick, "AKICK <#channel> ADD <mask|account> [reason] | DEL <mask|account> | LIST",
     "A bare name is an account ($a:name); a mask is nick!user@host with wildcards.\n"
     "Matching users are kicked on ADD and on join, whatever their access entry, unless it is op."},
    {"SET", cs_set,
     "SET <#channel> DESCRIPTION|MLOCK|TOPICLOCK|KEEPTOPIC|RESTRICTED|REPLAY|RETENTION <value> (founder)",
     "DESCRIPTION <text>: shown in INFO and LIST. MLOCK <+modes-modes>: modes ChanServ keeps set or unset.\n"
     "TOPICLOCK ON|OFF: only ops may change the topic. KEEPTOPIC ON|OFF: the topic is kept across restarts.\n"
     "RESTRICTED ON|OFF: only accounts on the access list may stay.\n"
     "REPLAY <lines|DEFAULT>: history lines replayed on join. RETENTION <days|DEFAULT>: days of history kept."},
    {"TRANSFER", cs_transfer, "TRANSFER <#channel> <account> - give the channel to another account",
     "The new founder must be a registered account; you lose founder access."},
    {"HELP", cs_help, "HELP [command] - this list, or help on one command",
     "Without a command, lists the commands; with one, shows its syntax and what it does."},
};

static void cs_help(struct client *c, char **argv, int argc)
{
	if (argc > 0) {
		for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
			if (strcasecmp(argv[0], commands[i].name) == 0) {
				service_help_topic(CS, c, commands[i].help, commands[i].detail);
				return;
			}
		service_notice(CS, c, "No help for %s. Use HELP for a list.", argv[0]);
		return;
	}
	service_notice(CS, c, "ChanServ commands (levels: founder, op, voice, member):");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		service_notice(CS, c, "  %s", commands[i].help);
}

static void cs_message(const struct service *s, struct client *from, char *text)
{
	(void)s;
	char *argv[32];
	int argc = 0;
	char *save;
	char *cmd = strtok_r(text, " ", &save);
	if (!cmd)
		return;
	for (char *a = strtok_r(NULL, " ", &save); a && argc < 32; a = strtok_r(NULL, " ", &save))
		argv[argc++] = a;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcasecmp(cmd, commands[i].name) == 0) {
			commands[i].fn(from, argv, argc);
			return;
		}
	}
	service_notice(CS, from, "Unknown command %s. Use HELP for a list.", cmd);
}
