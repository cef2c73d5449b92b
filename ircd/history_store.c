/* history_store.c - writing message history: the loop side queues rows, the storage
 * thread writes them.
 *
 * The loop appends rows (copies) to a pending batch; the batch goes to the storage thread
 * as one job when it reaches history.batch_rows rows or history.batch_ms milliseconds after
 * its first row, and is written in one transaction of multi-row INSERTs. Messages are
 * queued in the order they were relayed, so a sender's message is never stored after a
 * later one of the same sender. When the database is unavailable, or more than
 * QUEUE_ROWS_MAX rows wait for it, the storage thread appends the batch to a journal file
 * instead, and replays the journal (in order, ignoring rows already stored) before the
 * next write once it can: nothing that was delivered is lost, memory stays bounded, and
 * the chat never waits for the database. Retention (purging by age) lives here too. */
#include "history.h"
#include "history_int.h"

#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "ircd.h"
#include "log.h"
#include "outmsg.h"
#include "parse.h"
#include "service.h"
#include "storage.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define ROW_FIELDS 10

struct hist_row {
	unsigned long long seq;
	long long time_ms;
	char msgid[24];
	char target_key[HKEY_MAX];
	char target[CHANNEL_MAX + 1];
	char sender[PREFIX_MAX + 1];
	char account[NICK_MAX + 1];
	char command[8];
	char *tags; /* may be NULL */
	char *text; /* may be NULL */
};

struct batch_job {
	struct job job;
	struct hist_row *rows;
	int n;
	char journal[CONF_PATH_LEN];
};

static struct hist_row *pending;
static int npending, cap_pending;
static ev_timer flush_timer;
static bool timer_ready;

/* ---- keys ---- */

/* The identity a direct conversation is stored under: the account when logged in. */
void history_dm_identity(const struct client *c, char *out, size_t size)
{
	char folded[NICK_MAX + 1];
	casemap_fold(folded, c->account[0] ? c->account : c->nick, sizeof folded);
	snprintf(out, size, "%s%s", c->account[0] ? "" : "~", folded);
}

void history_dm_key(const char *a, const char *b, char *out, size_t size)
{
	if (strcmp(a, b) <= 0)
		snprintf(out, size, "@%s|%s", a, b);
	else
		snprintf(out, size, "@%s|%s", b, a);
}

/* ---- the storage-thread side ---- */

static void free_rows(struct hist_row *rows, int n)
{
	for (int i = 0; i < n; i++) {
		free(rows[i].tags);
		free(rows[i].text);
	}
	free(rows);
}

/* Writes a batch in one transaction: one INSERT statement run for every row, which is
 * array binding (a round trip per 256 rows) on MariaDB and cached multi-row statements of
 * up to 128 rows on SQLite. */
static enum db_status insert_rows(const struct hist_row *rows, int n)
{
	static char sql[200]; /* storage thread only */
	if (!sql[0])
		snprintf(sql, sizeof sql,
		         "%s INTO messages (seq, msgid, target_key, target, sender, account, command, tags, text, time) "
		         "VALUES (?,?,?,?,?,?,?,?,?,?)",
		         storage_insert_ignore());
	if (n <= 0)
		return DB_OK;
	struct db_param *p = malloc(sizeof *p * (size_t)n * ROW_FIELDS);
	if (!p)
		abort();
	for (int i = 0; i < n; i++) {
		const struct hist_row *r = &rows[i];
		struct db_param *q = p + (size_t)i * ROW_FIELDS;
		q[0] = DB_INT((long long)r->seq);
		q[1] = DB_TEXT(r->msgid);
		q[2] = DB_TEXT(r->target_key);
		q[3] = DB_TEXT(r->target);
		q[4] = DB_TEXT(r->sender);
		q[5] = DB_TEXT(r->account[0] ? r->account : NULL);
		q[6] = DB_TEXT(r->command);
		q[7] = DB_TEXT(r->tags);
		q[8] = DB_TEXT(r->text);
		q[9] = DB_INT(r->time_ms);
	}
	enum db_status s = DB_UNAVAILABLE;
	if (n == 1) {
		s = storage_exec_rows(sql, p, ROW_FIELDS, 1);
	} else if (storage_begin() == DB_OK) {
		s = storage_exec_rows(sql, p, ROW_FIELDS, n);
		enum db_status e = storage_end(s == DB_OK);
		if (s == DB_OK)
			s = e;
	}
	free(p);
	return s;
}

/* Journal lines: the ten fields separated by tabs, with \\, \t, \n and \r escaped; an
 * empty field with a leading \N means SQL NULL. */
static void put_field(FILE *f, const char *s, bool last)
{
	if (!s) {
		fputs("\\N", f);
	} else {
		for (; *s; s++) {
			if (*s == '\\' || *s == '\t' || *s == '\n' || *s == '\r')
				fprintf(f, "\\%c", *s == '\t' ? 't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : '\\');
			else
				fputc(*s, f);
		}
	}
	fputc(last ? '\n' : '\t', f);
}

static bool journal_append(const char *path, const struct hist_row *rows, int n)
{
	FILE *f = fopen(path, "a");
	if (!f)
		return false;
	for (int i = 0; i < n; i++) {
		const struct hist_row *r = &rows[i];
		fprintf(f, "%llu\t%lld\t", r->seq, r->time_ms);
		put_field(f, r->msgid, false);
		put_field(f, r->target_key, false);
		put_field(f, r->target, false);
		put_field(f, r->sender, false);
		put_field(f, r->account[0] ? r->account : NULL, false);
		put_field(f, r->command, false);
		put_field(f, r->tags, false);
		put_field(f, r->text, true);
	}
	bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	return fclose(f) == 0 && ok;
}

/* Splits a journal line in place into fields, unescaping; NULL fields become NULL. */
static int split_line(char *line, char **fields, int max)
{
	int n = 0;
	char *w = line;
	fields[n++] = w;
	for (char *r = line; *r && *r != '\n'; r++) {
		if (*r == '\t') {
			*w++ = '\0';
			if (n == max)
				return -1;
			fields[n++] = w;
		} else if (*r == '\\' && r[1]) {
			r++;
			*w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r == 'N' ? '\1' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	for (int i = 0; i < n; i++)
		if (fields[i][0] == '\1' && fields[i][1] == '\0')
			fields[i] = NULL;
	return n;
}

static void row_from_fields(struct hist_row *r, char **f)
{
	memset(r, 0, sizeof *r);
	r->seq = strtoull(f[0], NULL, 10);
	r->time_ms = atoll(f[1]);
	snprintf(r->msgid, sizeof r->msgid, "%s", f[2] ? f[2] : "");
	snprintf(r->target_key, sizeof r->target_key, "%s", f[3] ? f[3] : "");
	snprintf(r->target, sizeof r->target, "%s", f[4] ? f[4] : "");
	snprintf(r->sender, sizeof r->sender, "%s", f[5] ? f[5] : "");
	snprintf(r->account, sizeof r->account, "%s", f[6] ? f[6] : "");
	snprintf(r->command, sizeof r->command, "%s", f[7] ? f[7] : "PRIVMSG");
	r->tags = f[8] ? strdup(f[8]) : NULL;
	r->text = f[9] ? strdup(f[9]) : NULL;
}

/* Replays the journal into the database; returns false if the database failed again. */
static bool journal_replay(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	char *line = NULL;
	size_t cap = 0;
	struct hist_row rows[100];
	int n = 0;
	bool ok = true;
	long total = 0;
	while (ok && getline(&line, &cap, f) > 0) {
		char *fields[ROW_FIELDS];
		if (split_line(line, fields, ROW_FIELDS) != ROW_FIELDS)
			continue;
		row_from_fields(&rows[n++], fields);
		if (n == 100 || feof(f)) {
			ok = insert_rows(rows, n) == DB_OK;
			total += n;
			for (int i = 0; i < n; i++) {
				free(rows[i].tags);
				free(rows[i].text);
			}
			n = 0;
		}
	}
	if (ok && n) {
		ok = insert_rows(rows, n) == DB_OK;
		total += n;
	}
	for (int i = 0; i < n; i++) {
		free(rows[i].tags);
		free(rows[i].text);
	}
	free(line);
	fclose(f);
	if (ok) {
		unlink(path);
		log_info("history: replayed %ld journaled messages", total);
	}
	return ok;
}

/* Set by the storage thread while the journal holds messages; read by the loop's timer. */
static int journal_pending;

/* Rows handed to the storage thread and not yet written (or journaled). Past
 * QUEUE_ROWS_MAX the database is not keeping up: later batches go to the journal, a
 * sequential file append, so memory stays bounded however slow the database is, and are
 * replayed in order once the queue is short again. */
#define QUEUE_ROWS_MAX 20000
static long queued_rows;
static int draining; /* set at shutdown: everything queued is written, if it can be */

/* Whether batches are going to the journal, for one warning per episode (storage thread). */
static bool spilling;

/* The journal in use, as the storage thread last saw it (only that thread touches it). */
static char journal_path[CONF_PATH_LEN];

void history_catch_up(void)
{
	if (journal_path[0] && __atomic_load_n(&journal_pending, __ATOMIC_RELAXED) && storage_connected() &&
	    journal_replay(journal_path))
		__atomic_store_n(&journal_pending, 0, __ATOMIC_RELAXED);
}

static void batch_run(struct job *job)
{
	struct batch_job *b = (struct batch_job *)job;
	memcpy(journal_path, b->journal, sizeof journal_path);
	bool behind = __atomic_load_n(&queued_rows, __ATOMIC_RELAXED) > QUEUE_ROWS_MAX &&
	              !__atomic_load_n(&draining, __ATOMIC_RELAXED);
	bool ok = !behind && storage_connected() && journal_replay(b->journal) &&
	          (b->n == 0 || insert_rows(b->rows, b->n) == DB_OK);
	__atomic_sub_fetch(&queued_rows, b->n, __ATOMIC_RELAXED);
	if (ok) {
		__atomic_store_n(&journal_pending, 0, __ATOMIC_RELAXED);
		spilling = false;
		return;
	}
	if (b->n == 0)
		return; /* a retry of the journal alone: it stays for the next try */
	__atomic_store_n(&journal_pending, 1, __ATOMIC_RELAXED);
	if (!spilling)
		log_warn("history: database %s; messages go to the journal %s until it takes them",
		         behind ? "behind" : "failing", b->journal);
	spilling = true;
	if (!journal_append(b->journal, b->rows, b->n))
		log_error("history: database %s and journal %s not writable: %d messages lost", behind ? "behind" : "down",
		          b->journal, b->n);
}

static void batch_done(struct job *job)
{
	struct batch_job *b = (struct batch_job *)job;
	free_rows(b->rows, b->n);
	free(b);
}

/* ---- the loop side: queueing ---- */

void history_flush(void)
{
	if (timer_ready)
		ev_timer_stop(EV_DEFAULT, &flush_timer);
	if (!npending)
		return;
	struct batch_job *b = calloc(1, sizeof *b);
	if (!b)
		abort();
	b->job.run = batch_run;
	b->job.done = batch_done;
	b->rows = pending;
	b->n = npending;
	snprintf(b->journal, sizeof b->journal, "%s", ircd.conf->history_journal);
	__atomic_add_fetch(&queued_rows, b->n, __ATOMIC_RELAXED);
	pending = NULL;
	npending = cap_pending = 0;
	storage_submit(&b->job);
}

static void flush_cb(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	history_flush();
}

void history_record(const struct outmsg *o, const struct client *sender, const char *command, const char *target,
                    const struct client *to, const char *text, const char *tags)
{
	const struct conf *cf = ircd.conf;
	if (!cf->history_enabled || !o->msgid[0] || (to && !cf->history_direct))
		return;
	if (strcmp(command, "TAGMSG") == 0 && !tags)
		return; /* a TAGMSG without client tags carries nothing worth keeping */
	if (npending == cap_pending) {
		/* a batch is usually flushed at batch_rows: one allocation per batch */
		cap_pending = cap_pending ? cap_pending * 2 : cf->history_batch_rows;
		pending = realloc(pending, (size_t)cap_pending * sizeof *pending);
		if (!pending)
			abort();
	}
	struct hist_row *r = &pending[npending++];
	r->seq = o->seq;
	r->time_ms = o->time_ms;
	str_copy(r->msgid, sizeof r->msgid, o->msgid);
	if (to) {
		char a[NICK_MAX + 2], b[NICK_MAX + 2];
		history_dm_identity(sender, a, sizeof a);
		history_dm_identity(to, b, sizeof b);
		history_dm_key(a, b, r->target_key, sizeof r->target_key);
	} else {
		casemap_fold(r->target_key, target, sizeof r->target_key);
	}
	str_copy(r->target, sizeof r->target, target);
	str_copy(r->sender, sizeof r->sender, sender->prefix);
	str_copy(r->account, sizeof r->account, sender->account);
	str_copy(r->command, sizeof r->command, command);
	r->tags = tags ? strdup(tags) : NULL;
	r->text = text ? strdup(text) : NULL;
	if (npending >= cf->history_batch_rows) {
		history_flush();
		return;
	}
	if (!timer_ready) {
		ev_init(&flush_timer, flush_cb);
		timer_ready = true;
	}
	if (!ev_is_active(&flush_timer)) {
		ev_timer_set(&flush_timer, cf->history_batch_ms / 1000.0, 0);
		ev_timer_start(EV_DEFAULT, &flush_timer);
	}
}

void history_row_seq(void *arg, int ncols, const char *const *cols)
{
	if (ncols > 0 && cols[0])
		*(unsigned long long *)arg = strtoull(cols[0], NULL, 10);
}

/* ---- retention ---- */

#define PURGE_CHUNK 1000
#define PURGE_ROUNDS 20

struct purge_job {
	struct job job;
	unsigned long long cutoff; /* seq of the oldest message to keep */
	char key[HKEY_MAX];        /* one channel (its own RETENTION), or "" for the server's */
	long deleted;
};

/* Deletes in chunks of PURGE_CHUNK rows, each its own statement, so no lock is held long
 * and chat history writes interleave with the purge. */
static void purge_run(struct job *job)
{
	struct purge_job *p = (struct purge_job *)job;
	for (int round = 0; round < PURGE_ROUNDS; round++) {
		unsigned long long bound = 0;
		struct db_param q[2] = {DB_INT((long long)p->cutoff), DB_TEXT(p->key)};
		const char *find = p->key[0] ? "SELECT seq FROM messages WHERE seq < ? AND target_key = ? ORDER BY seq "
		                               "LIMIT 1 OFFSET 999"
		                             : "SELECT seq FROM messages WHERE seq < ? ORDER BY seq LIMIT 1 OFFSET 999";
		if (storage_exec(find, q, p->key[0] ? 2 : 1, history_row_seq, &bound) != DB_OK)
			return;
		unsigned long long upto = bound ? bound + 1 : p->cutoff;
		struct db_param d[2] = {DB_INT((long long)upto), DB_TEXT(p->key)};
		const char *del = p->key[0] ? "DELETE FROM messages WHERE seq < ? AND target_key = ?"
		                            : "DELETE FROM messages WHERE seq < ?";
		if (storage_exec(del, d, p->key[0] ? 2 : 1, NULL, NULL) != DB_OK)
			return;
		if (!bound)
			return; /* fewer than a chunk were left */
		p->deleted += PURGE_CHUNK;
	}
}

static void purge_done(struct job *job)
{
	struct purge_job *p = (struct purge_job *)job;
	if (p->deleted)
		log_info("history: purged about %ld expired messages", p->deleted);
	free(p);
}

static ev_timer purge_timer;

static void purge_submit(const char *channel, int days)
{
	struct purge_job *p = calloc(1, sizeof *p);
	if (!p)
		abort();
	p->job.run = purge_run;
	p->job.done = purge_done;
	p->cutoff = (unsigned long long)(((long long)time(NULL) - days * 86400LL) * 1000) << 12;
	if (channel)
		casemap_fold(p->key, channel, sizeof p->key);
	storage_submit(&p->job);
}

static void purge_channel(const char *name, int days, void *arg)
{
	(void)arg;
	if (days > 0)
		purge_submit(name, days);
}

/* While messages wait in the journal, an empty batch every half second makes the storage
 * thread retry the database and replay them, even if nobody speaks: history is whole again
 * within a second of the database's return. Cheap: while the database is down the batch
 * fails at once (storage.c tries a reconnection at most every half second). */
static ev_timer journal_timer;

static void submit_journal_replay(void)
{
	struct batch_job *b = calloc(1, sizeof *b);
	if (!b)
		abort();
	b->job.run = batch_run;
	b->job.done = batch_done;
	snprintf(b->journal, sizeof b->journal, "%s", ircd.conf->history_journal);
	storage_submit(&b->job);
}

static void journal_cb(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	if (__atomic_load_n(&journal_pending, __ATOMIC_RELAXED) && !npending)
		submit_journal_replay();
}

void history_drain(void)
{
	__atomic_store_n(&draining, 1, __ATOMIC_RELAXED);
	history_flush();
	if (ircd.conf->history_enabled)
		submit_journal_replay(); /* whatever was diverted while the database was behind */
}

static void purge_cb(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	if (!ircd.conf->history_enabled)
		return;
	if (ircd.conf->history_max_age_days > 0)
		purge_submit(NULL, ircd.conf->history_max_age_days);
	chanserv_each_retention(purge_channel, NULL); /* rooms with their own RETENTION */
}

void history_start(void)
{
	ev_timer_init(&purge_timer, purge_cb, 5, 60);
	ev_timer_start(EV_DEFAULT, &purge_timer);
	ev_unref(EV_DEFAULT); /* the purge alone must not keep the loop alive */
	ev_timer_init(&journal_timer, journal_cb, 0.5, 0.5);
	ev_timer_start(EV_DEFAULT, &journal_timer);
	ev_unref(EV_DEFAULT);
	/* a journal left by an earlier run is replayed at once */
	__atomic_store_n(&journal_pending, 1, __ATOMIC_RELAXED);
}
