/* db_sqlite.c - the embedded SQLite backend: one file, WAL journal, full fsync, so an
 * account acknowledged to a user survives a crash. */
#include "conf.h"
#include "db.h"
#include "log.h"
#include "privfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Prepared statements kept for reuse, keyed by their SQL text: the history writer and
 * the CHATHISTORY readers run the same few statements over and over, and preparing one
 * costs as much as running it (a third of the storage thread in the benchmark). */
#define STMT_CACHE 24

struct cached_stmt {
	char *sql;
	sqlite3_stmt *st;
	unsigned long long used; /* for least-recently-used eviction */
};

struct sq {
	sqlite3 *db;
	struct cached_stmt cache[STMT_CACHE];
	unsigned long long clock;
	long long deadline_ms; /* 0: statements run unbounded */
};

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Called by SQLite every few thousand VM steps; non-zero interrupts the statement. */
static int past_deadline(void *arg)
{
	const struct sq *q = arg;
	return q->deadline_ms && mono_ms() > q->deadline_ms;
}

/* The database holds password hashes, emails and private messages: a new one is created
 * 0600 (in directories created 0700) before SQLite opens it, and SQLite gives its -wal,
 * -shm and -journal files the database file's mode. An existing file keeps its mode, with
 * a warning if others can read it. */
static int create_private(const char *path, char *err, size_t size)
{
	if (!path[0] || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
		return 0;
	int fd = privfile_open(path, O_RDWR);
	if (fd < 0) {
		snprintf(err, size, "sqlite %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		log_storage_warn("%s is readable by others (mode %03o); it holds password hashes and private "
		         "messages: chmod 600 it",
		         path, (unsigned)(st.st_mode & 0777));
	close(fd);
	return 0;
}

static void *sq_open(const struct conf *conf, char *err, size_t size)
{
	sqlite3 *db = NULL;
	if (create_private(conf->sqlite_path, err, size) < 0)
		return NULL;
	if (sqlite3_open_v2(conf->sqlite_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, size, "sqlite %s: %s", conf->sqlite_path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 3000); /* another writer (parleyd -unban): wait, but boundedly */
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL, NULL,
	             NULL);
	struct sq *q = calloc(1, sizeof *q);
	if (!q)
		abort();
	q->db = db;
	sqlite3_progress_handler(db, 4000, past_deadline, q);
	return q;
}

static void sq_close(void *h)
{
	struct sq *q = h;
	for (int i = 0; i < STMT_CACHE; i++) {
		sqlite3_finalize(q->cache[i].st);
		free(q->cache[i].sql);
	}
	sqlite3_close(q->db);
	free(q);
}

static void sq_time_limit(void *h, int ms) { ((struct sq *)h)->deadline_ms = ms > 0 ? mono_ms() + ms : 0; }

static enum db_status status_of(int rc)
{
	if (rc == SQLITE_CONSTRAINT)
		return DB_DUPLICATE;
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_IOERR || rc == SQLITE_FULL)
		return DB_UNAVAILABLE;
	return DB_ERROR;
}

/* Returns a ready statement for sql from the cache, or prepares and caches it in place
 * of the least recently used one. NULL with rc set on failure. */
static sqlite3_stmt *statement(struct sq *q, const char *sql, int *rc)
{
	struct cached_stmt *victim = &q->cache[0];
	for (int i = 0; i < STMT_CACHE; i++) {
		struct cached_stmt *e = &q->cache[i];
		if (e->sql && strcmp(e->sql, sql) == 0) {
			e->used = ++q->clock;
			return e->st;
		}
		if (e->used < victim->used)
			victim = e;
	}
	sqlite3_stmt *st = NULL;
	*rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (*rc != SQLITE_OK)
		return NULL;
	char *copy = strdup(sql);
	if (!copy)
		abort();
	sqlite3_finalize(victim->st);
	free(victim->sql);
	*victim = (struct cached_stmt){copy, st, ++q->clock};
	return st;
}

static enum db_status sq_exec(void *h, const char *sql, const struct db_param *params, int n, db_row_fn fn,
                              void *arg, char *err, size_t size)
{
	struct sq *q = h;
	int rc = SQLITE_OK;
	sqlite3_stmt *st = statement(q, sql, &rc);
	if (!st) {
		snprintf(err, size, "sqlite: %s", sqlite3_errmsg(q->db));
		return status_of(rc);
	}
	for (int i = 0; i < n; i++) {
		if (params[i].is_num)
			sqlite3_bind_int64(st, i + 1, params[i].num);
		else if (params[i].text)
			sqlite3_bind_text(st, i + 1, params[i].text, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, i + 1);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int ncols = sqlite3_column_count(st);
		const char *cols[32];
		if (ncols > 32)
			ncols = 32;
		for (int i = 0; i < ncols; i++)
			cols[i] = (const char *)sqlite3_column_text(st, i);
		if (fn)
			fn(arg, ncols, cols);
	}
	enum db_status s = DB_OK;
	if (rc != SQLITE_DONE) {
		rc = sqlite3_extended_errcode(q->db) & 0xff;
		snprintf(err, size, "sqlite: %s", sqlite3_errmsg(q->db));
		s = status_of(rc);
	}
	/* reset for the next use; the bound texts are the caller's and go away now */
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return s;
}

/* Multi-row INSERTs of up to 128 rows: cheaper per row than stepping a one-row statement
 * (each statement sets up its own statement journal and trigger program), and 128 rows
 * stay far below SQLite's 32766 parameters. */
static enum db_status sq_exec_rows(void *h, const char *sql, const struct db_param *params, int ncols, int nrows,
                                   char *err, size_t size)
{
	return db_exec_rows_chunked(sq_exec, h, sql, params, ncols, nrows, 128, err, size);
}

static enum db_status sq_script(void *h, const char *sql, char *err, size_t size)
{
	char *msg = NULL;
	char *wrapped = sqlite3_mprintf("BEGIN; %s; COMMIT;", sql);
	struct sq *q = h;
	int rc = sqlite3_exec(q->db, wrapped, NULL, NULL, &msg);
	sqlite3_free(wrapped);
	if (rc != SQLITE_OK) {
		snprintf(err, size, "sqlite: %s", msg ? msg : "error");
		sqlite3_free(msg);
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		return status_of(rc);
	}
	return DB_OK;
}

static void sq_describe(const struct conf *conf, char *out, size_t size)
{
	snprintf(out, size, "sqlite database %s", conf->sqlite_path);
}

const struct db_driver db_sqlite_driver = {"sqlite",           sq_open,     sq_close,     sq_exec,
                                           sq_script,          "INSERT OR IGNORE", sq_describe, sq_time_limit, sq_exec_rows};
