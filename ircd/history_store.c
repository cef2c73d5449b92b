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
 * the chat never waits for the database. Journal records are framed and checksummed
 * (journal.c), so a record torn by a crash or a full disk is skipped, never stored cut;
 * batches that neither the database nor the journal took are counted per episode and
 * reported once (log and server notice). Retention (purging by age) lives here too. */
#include "history.h"
#include "history_int.h"

#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "ircd.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "oper.h"
#include "outmsg.h"
#include "parse.h"
#include "privfile.h"
#include "service.h"
#include "storage.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
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

enum loss_report { LOSS_NONE, LOSS_BEGAN, LOSS_ENDED };

struct batch_job {
	struct job job;
	struct hist_row *rows;
	int n;
	char journal[CONF_PATH_LEN];
	/* set by the storage thread for the completion: an episode of lost messages */
	enum loss_report loss;
	long lost;
	char loss_why[64];
};

static struct hist_row *pending;
static int npending, cap_pending;
static ev_timer flush_timer;
static bool timer_ready;

/* ---- keys ---- */

/* A logged-out user's conversations belong to the connection, not to the nick: whoever
 * takes the nick later (or registers an account of that name) must not read them. */
void history_dm_identity(const struct client *c, char *out, size_t size)
{
	if (c->account[0])
		casemap_fold(out, c->account, size);
	else
		snprintf(out, size, "$%llx.%llx", (unsigned long long)(c->connected * 1000), (unsigned long long)c->id);
}

void history_dm_key(const char *a, const char *b, char *out, size_t size)
{
	if (strcmp(a, b) <= 0)
		snprintf(out, size, "@%s,%s", a, b);
	else
		snprintf(out, size, "@%s,%s", b, a);
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
	unsigned long long start = metrics_clock();
	if (n == 1) {
		s = storage_exec_rows(sql, p, ROW_FIELDS, 1);
	} else if (storage_begin() == DB_OK) {
		s = storage_exec_rows(sql, p, ROW_FIELDS, n);
		enum db_status e = storage_end(s == DB_OK);
		if (s == DB_OK)
			s = e;
	}
	metrics_write_done(start);
	if (s == DB_OK)
		METRICS_ADD(history_rows_written, n);
	free(p);
	return s;
}

/* ---- the journal (storage thread only) ----
 *
 * Each row is one framed record of ROW_FIELDS text fields (journal.h): a record torn by a
 * full disk or a crash, or damaged later, is skipped with one log line at replay and never
 * stored, and replay goes on with the records after it. Each append is fsynced before the
 * batch counts as kept. */

static bool write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

/* fsyncs the directory holding path, so a file just created there survives a power loss
 * (the file's own fsync does not cover its name). */
static bool fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0;
	int e = errno;
	close(fd);
	errno = e;
	return ok;
}

/* Appends rows to the journal (created 0600, its directories 0700) and fsyncs it, and its
 * directory when the append creates it (an empty journal is never left behind). On
 * failure it cuts the file back to its length before the append, so a full disk leaves
 * no torn record behind when it can, and returns false with errno set. */
static bool journal_append(const char *path, const struct hist_row *rows, int n)
{
	struct journal_buf jb = {0};
	for (int i = 0; i < n; i++) {
		const struct hist_row *r = &rows[i];
		char seq[24], tm[24];
		snprintf(seq, sizeof seq, "%llu", r->seq);
		snprintf(tm, sizeof tm, "%lld", r->time_ms);
		const char *f[ROW_FIELDS] = {seq,      tm,         r->msgid, r->target_key, r->target, r->sender,
		                             r->account[0] ? r->account : NULL, r->command, r->tags, r->text};
		if (!journal_encode(&jb, f, ROW_FIELDS)) /* cannot happen: a line is far shorter */
			log_storage_error("history: message %s too long for the journal, not kept", r->msgid);
	}
	int fd = privfile_open(path, O_WRONLY | O_APPEND);
	if (fd < 0) {
		int e = errno;
		journal_buf_free(&jb);
		errno = e;
		return false;
	}
	struct stat st;
	off_t before = fstat(fd, &st) == 0 ? st.st_size : -1;
	bool ok = write_all(fd, jb.data, jb.len) && fsync(fd) == 0 && (before != 0 || fsync_dir_of(path));
	int e = errno;
	if (ok)
		METRICS_SET(journal_bytes, (before > 0 ? (size_t)before : 0) + jb.len);
	if (!ok && before == 0)
		unlink(path); /* no journal rather than an empty one */
	else if (!ok && before > 0 && ftruncate(fd, before) < 0)
		log_storage_debug("history: journal %s not cut back (%s): replay will skip the torn record", path, strerror(errno));
	close(fd);
	journal_buf_free(&jb);
	errno = e;
	return ok;
}

/* Copies a journal field into a fixed-size row field: false if it is missing, empty or
 * too long (a damaged old-format line), so no row is stored with a cut field. */
static bool copy_field(char *dst, size_t size, const char *src)
{
	if (!src || !src[0] || strlen(src) >= size)
		return false;
	str_copy(dst, size, src);
	return true;
}

static bool all_digits(const char *s)
{
	if (s && *s == '-')
		s++;
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool row_from_fields(struct hist_row *r, char **f)
{
	memset(r, 0, sizeof *r);
	if (!all_digits(f[0]) || f[0][0] == '-' || !all_digits(f[1]) || !copy_field(r->msgid, sizeof r->msgid, f[2]) ||
	    !copy_field(r->target_key, sizeof r->target_key, f[3]) || !copy_field(r->target, sizeof r->target, f[4]) ||
	    !copy_field(r->sender, sizeof r->sender, f[5]) || (f[6] && !copy_field(r->account, sizeof r->account, f[6])) ||
	    !copy_field(r->command, sizeof r->command, f[7] ? f[7] : "PRIVMSG"))
		return false;
	r->seq = strtoull(f[0], NULL, 10);
	r->time_ms = atoll(f[1]);
	r->tags = f[8] ? strdup(f[8]) : NULL;
	r->text = f[9] ? strdup(f[9]) : NULL;
	return true;
}

#define REPLAY_ROWS 100

/* One replay: rows are inserted REPLAY_ROWS at a time as the decoder finds them. */
struct replay {
	const char *path;
	struct hist_row rows[REPLAY_ROWS];
	int n;
	long stored, skipped;
	bool failed; /* the database failed again: the journal stays for the next try */
};

static bool replay_insert(struct replay *r)
{
	if (r->n && insert_rows(r->rows, r->n) != DB_OK)
		r->failed = true;
	else
		r->stored += r->n;
	for (int i = 0; i < r->n; i++) {
		free(r->rows[i].tags);
		free(r->rows[i].text);
	}
	r->n = 0;
	return !r->failed;
}

static bool replay_record(void *arg, char **fields, int n)
{
	struct replay *r = arg;
	(void)n; /* the decoder delivers exactly ROW_FIELDS */
	if (!row_from_fields(&r->rows[r->n], fields)) {
		log_storage_warn("history: journal %s: skipped a record with a missing or malformed field (msgid %.30s)", r->path,
		         fields[2] ? fields[2] : "none");
		r->skipped++;
		return true;
	}
	return ++r->n < REPLAY_ROWS || replay_insert(r);
}

static void replay_bad(void *arg, unsigned long long offset, size_t len, const char *why)
{
	struct replay *r = arg;
	log_storage_warn("history: journal %s: skipped %zu damaged bytes at offset %llu (%s)", r->path, len, offset, why);
	r->skipped++;
}

/* Replays the journal into the database, record by record, and removes it; returns false
 * (keeping it) if the database failed again or the file could not be read. Records
 * already stored are ignored by the INSERT, so a replay cut short is simply redone. */
static bool journal_replay(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			log_storage_error("history: journal %s not readable: %s", path, strerror(errno));
		return true;
	}
	struct stat st;
	if (fstat(fd, &st) == 0) /* a journal left by an earlier run, too */
		METRICS_SET(journal_bytes, st.st_size);
	/* storage thread only: static, so the 64 KiB scanner and the buffer stay off its stack */
	static struct journal_scan scan;
	static char buf[2 * JOURNAL_RECORD_MAX];
	static struct replay r;
	memset(&r, 0, sizeof r);
	r.path = path;
	journal_scan_init(&scan, ROW_FIELDS, replay_record, replay_bad, &r);
	size_t have = 0;
	bool eof = false, read_failed = false;
	while (!eof && !scan.stopped) {
		ssize_t got = read(fd, buf + have, sizeof buf - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			log_storage_error("history: journal %s: read failed: %s", path, strerror(errno));
			read_failed = true;
			break;
		}
		if (scan.offset == 0 && have == 0 && got > 0 && buf[0] != JOURNAL_RS)
			log_storage_info("history: journal %s is in the line format of an earlier version: replaying its complete "
			         "lines",
			         path);
		eof = got == 0;
		have += (size_t)got;
		size_t used = journal_scan(&scan, buf, have, eof);
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	close(fd);
	if (!r.failed && !read_failed)
		replay_insert(&r);
	for (int i = 0; i < r.n; i++) {
		free(r.rows[i].tags);
		free(r.rows[i].text);
	}
	if (r.failed || read_failed)
		return false;
	unlink(path);
	METRICS_SET(journal_bytes, 0);
	if (!r.stored && !r.skipped)
		return true; /* an empty journal: nothing to say */
	if (r.skipped)
		log_storage_info("history: replayed %ld journaled messages; skipped %ld damaged records", r.stored, r.skipped);
	else
		log_storage_info("history: replayed %ld journaled messages", r.stored);
	return true;
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

/* Messages neither the database nor the journal took (storage thread): an episode of
 * losses begins with the first failed append and ends when a batch is kept again. Its
 * start and its total are each logged once and reported to the operators (by the job's
 * completion, on the loop), not once per batch. */
static bool losing;
static long lost;

static void loss_begins(struct batch_job *b, bool behind)
{
	snprintf(b->loss_why, sizeof b->loss_why, "%s", strerror(errno));
	lost += b->n;
	if (losing)
		return;
	losing = true;
	b->loss = LOSS_BEGAN;
	log_storage_error("history: database %s and journal %s not writable (%s): messages are being lost; the count follows "
	          "when one is kept again",
	          behind ? "behind" : "down", b->journal, b->loss_why);
}

static void loss_ends(struct batch_job *b, const char *why)
{
	if (!losing)
		return;
	log_storage_warn("history: %ld messages lost while the journal was not writable (%s)", lost, why);
	b->loss = LOSS_ENDED;
	b->lost = lost;
	losing = false;
	lost = 0;
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
		loss_ends(b, "the database takes them again");
		return;
	}
	if (b->n == 0) {
		if (__atomic_load_n(&draining, __ATOMIC_RELAXED))
			loss_ends(b, "shutting down");
		return; /* a retry of the journal alone: it stays for the next try */
	}
	__atomic_store_n(&journal_pending, 1, __ATOMIC_RELAXED);
	if (!spilling)
		log_storage_warn("history: database %s; messages go to the journal %s until it takes them",
		         behind ? "behind" : "failing", b->journal);
	spilling = true;
	if (journal_append(b->journal, b->rows, b->n)) {
		METRICS_ADD(history_rows_journaled, b->n);
		loss_ends(b, "the journal takes them again");
	} else {
		loss_begins(b, behind);
	}
}

static void batch_done(struct job *job)
{
	struct batch_job *b = (struct batch_job *)job;
	if (b->loss == LOSS_BEGAN)
		snotice("History: the database is unavailable and the journal %s is not writable (%s): messages are "
		        "not being kept",
		        b->journal, b->loss_why);
	else if (b->loss == LOSS_ENDED)
		snotice("History: messages are kept again; %ld were lost while the journal was not writable", b->lost);
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

long history_queued_rows(void) { return npending + __atomic_load_n(&queued_rows, __ATOMIC_RELAXED); }

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
		char a[HID_MAX], b[HID_MAX];
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
		log_storage_info("history: purged about %ld expired messages", p->deleted);
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
	readmarker_flush_seen(); /* the departures of the last iteration (QUIT at shutdown) */
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
