/* storage.c - database ownership, migrations and reconnection.
 *
 * DESIGN: the event loop never calls the database. At start the connection is opened and
 * the schema migrated synchronously (a daemon that cannot reach its database refuses to
 * start); from then on the storage thread owns the connection and runs jobs in order.
 * When the server goes away a statement fails with DB_UNAVAILABLE; the thread closes the
 * connection and tries a new one before the next statement (a refused connection costs
 * next to nothing), so a database that comes back is used again at once (history leaves
 * its journal within a second: its timer retries every half second). A failure that
 * took long (the server stopped answering: a read or a connection timed out) is not
 * retried for RECONNECT_MS: the jobs queued behind it fail at once instead of each
 * waiting a timeout, so no user waits long and the chat never depends on the database.
 * An outage is logged once: its first error, "reconnected" if reconnecting had failed,
 * and the number of failed attempts once the database has worked for a while.
 *
 * Changes a user is told about go through storage_txn: the reply waits for the commit.
 *
 * Migrations are the numbered files in <schema_dir>/<backend>/NNN_name.sql;
 * schema_version records what was applied, and a database newer than the code is
 * refused. */
#include "storage.h"

#include "conf.h"
#include "log.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_MIGRATIONS 64

static const struct db_driver *driver;
static const struct conf *storage_conf;
static void *db;
static struct workq storage_queue = {.name = "storage"};
static bool ensure_connected(void);
struct workq crypto_queue = {.name = "crypto"};
static long long retry_at;  /* monotonic ms before which no reconnect is tried */
static long long warned_at; /* when the last "reconnect failed" was logged */
static bool down;           /* a reconnect failed: the server is unreachable */
/* Failed statements are logged once per episode: the first with its error, then a count
 * once the database has worked for EPISODE_QUIET_MS. A full SQLite disk fails every
 * history batch while reads (and the reconnection) still succeed in between, so one
 * success does not end the episode. */
#define EPISODE_QUIET_MS 2000
static bool failing;
static long failed_attempts;
static long long failed_at; /* monotonic ms of the latest failure */

/* How long a database that stopped answering is left alone: each try costs the storage
 * thread a connect timeout (db_mariadb.c), nobody else. */
#define RECONNECT_MS 500
/* A failure slower than this was a timeout, not a closed connection. */
#define SLOW_FAILURE_MS 1000

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static int known_version;

struct migration {
	int version;
	char path[CONF_PATH_LEN + 128];
};

static int cmp_migration(const void *a, const void *b)
{
	return ((const struct migration *)a)->version - ((const struct migration *)b)->version;
}

static int list_migrations(const struct conf *conf, struct migration *out, char *err, size_t size)
{
	char dir[CONF_PATH_LEN + 32];
	snprintf(dir, sizeof dir, "%s/%s", conf->schema_dir, driver->name);
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, size, "cannot read schema directory %s", dir);
		return -1;
	}
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < MAX_MIGRATIONS) {
		int v;
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0 || sscanf(e->d_name, "%d_", &v) != 1)
			continue;
		out[n].version = v;
		snprintf(out[n].path, sizeof out[n].path, "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	qsort(out, (size_t)n, sizeof *out, cmp_migration);
	return n;
}

static void max_row(void *arg, int ncols, const char *const *cols)
{
	if (ncols > 0 && cols[0])
		*(int *)arg = atoi(cols[0]);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (buf) {
		size_t n = fread(buf, 1, (size_t)len, f);
		buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

static int migrate(const struct conf *conf, char *err, size_t size)
{
	struct migration m[MAX_MIGRATIONS];
	int n = list_migrations(conf, m, err, size);
	if (n < 0)
		return -1;
	known_version = n ? m[n - 1].version : 0;
	char e[512] = "";
	driver->exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", NULL, 0, NULL,
	             NULL, e, sizeof e);
	int current = 0;
	if (driver->exec(db, "SELECT MAX(version) FROM schema_version", NULL, 0, max_row, &current, e, sizeof e) !=
	    DB_OK) {
		snprintf(err, size, "%s", e);
		return -1;
	}
	if (current > known_version) {
		snprintf(err, size, "database schema version %d is newer than this parleyd knows (%d): refusing to start",
		         current, known_version);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (m[i].version <= current)
			continue;
		char *sql = slurp(m[i].path);
		if (!sql) {
			snprintf(err, size, "cannot read %s", m[i].path);
			return -1;
		}
		enum db_status s = driver->script(db, sql, e, sizeof e);
		free(sql);
		struct db_param v = DB_INT(m[i].version);
		if (s == DB_OK)
			s = driver->exec(db, "INSERT INTO schema_version (version) VALUES (?)", &v, 1, NULL, NULL, e, sizeof e);
		if (s != DB_OK) {
			snprintf(err, size, "migration %s failed: %s", m[i].path, e);
			return -1;
		}
		log_storage_info("applied migration %s", m[i].path);
	}
	return 0;
}

int storage_open(const struct conf *conf, char *err, size_t size)
{
	storage_conf = conf;
	driver = conf->backend == 1 ? &db_mariadb_driver : &db_sqlite_driver;
	char where[CONF_PATH_LEN + 64], e[512] = "";
	driver->describe(conf, where, sizeof where);
	db = driver->open(conf, e, sizeof e);
	if (!db) {
		snprintf(err, size, "cannot open %s: %s", where, e);
		return -1;
	}
	if (migrate(conf, e, sizeof e) < 0) {
		snprintf(err, size, "%s: %s", where, e);
		driver->close(db);
		db = NULL;
		return -1;
	}
	log_storage_info("%s, schema version %d", where, known_version);
	return 0;
}

void storage_describe(const struct conf *conf, char *out, size_t size)
{
	(conf->backend == 1 ? &db_mariadb_driver : &db_sqlite_driver)->describe(conf, out, size);
}

int storage_schema_version(void) { return known_version; }

const char *storage_insert_ignore(void) { return driver->insert_ignore; }

const char *storage_backend(void) { return driver->name; }

bool storage_connected(void) { return ensure_connected(); }

enum db_status storage_query_now(const char *sql, const struct db_param *params, int n, db_row_fn fn, void *arg)
{
	char e[512] = "";
	enum db_status s = driver->exec(db, sql, params, n, fn, arg, e, sizeof e);
	if (s != DB_OK)
		log_storage_error("%s", e);
	return s;
}

#define WRITE_PARAMS 12 /* parameters of one statement of a storage_txn */

void storage_start(void)
{
	/* scrypt is CPU-bound: one thread per core lets a login storm use the whole machine */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int n = storage_conf && storage_conf->crypto_threads ? storage_conf->crypto_threads : cpus > 0 ? (int)cpus : 1;
	crypto_queue.nthreads = n < WORKQ_MAX_THREADS ? n : WORKQ_MAX_THREADS;
	workq_start(&storage_queue);
	workq_start(&crypto_queue);
}

void storage_stop(void)
{
	workq_stop(&crypto_queue);
	workq_stop(&storage_queue);
	if (db)
		driver->close(db);
	db = NULL;
}

void storage_submit(struct job *j) { workq_submit(&storage_queue, j); }

unsigned storage_queue_length(void) { return workq_length(&storage_queue); }

static bool ensure_connected(void)
{
	if (db)
		return true;
	if (mono_ms() < retry_at)
		return false;
	char e[512] = "";
	long long began = mono_ms();
	db = driver->open(storage_conf, e, sizeof e);
	long long now = mono_ms();
	if (!db) {
		/* a refused connection costs nothing: the next statement tries again; one that
		 * timed out (a frozen server) is not tried again for RECONNECT_MS */
		retry_at = now - began >= SLOW_FAILURE_MS ? now + RECONNECT_MS : 0;
		if (!down || now - warned_at >= 60000) { /* one line a minute while it lasts */
			log_storage_warn("reconnect failed (%s); trying again before the next statement", e);
			warned_at = now;
		}
		down = true;
		return false;
	}
	if (down)
		log_storage_info("reconnected");
	/* else a new connection right after a failed statement (SQLite reopened on a full
	 * disk, a MariaDB connection closed while idle): part of that failure's episode */
	down = false;
	return true;
}

static void failure(const char *e)
{
	failed_attempts++;
	failed_at = mono_ms();
	if (failing)
		return;
	failing = true;
	log_storage_warn("%s; further failures are counted until the database works again", e);
}

static void answered(void)
{
	if (!failing || mono_ms() - failed_at < EPISODE_QUIET_MS)
		return;
	log_storage_info("the database works again; %ld attempts failed since the first error", failed_attempts);
	failing = false;
	failed_attempts = 0;
}

/* A transaction lives on one connection: if that connection dies inside it, the
 * statements already run are gone, so nothing in it may be retried on a new one. */
static bool in_transaction;
static int exec_limit_ms; /* set by storage_exec_bounded for its statement */

enum db_status storage_begin(void)
{
	enum db_status s = storage_exec("BEGIN", NULL, 0, NULL, NULL);
	in_transaction = s == DB_OK;
	return s;
}

enum db_status storage_end(bool commit)
{
	if (!in_transaction)
		return DB_UNAVAILABLE; /* the connection died inside: nothing was kept */
	enum db_status s = storage_exec(commit ? "COMMIT" : "ROLLBACK", NULL, 0, NULL, NULL);
	if (commit && s != DB_OK && s != DB_UNAVAILABLE)
		storage_exec("ROLLBACK", NULL, 0, NULL, NULL); /* a failed COMMIT may leave it open */
	in_transaction = false;
	return commit ? s : DB_OK;
}

enum db_status storage_exec_bounded(int ms, const char *sql, const struct db_param *params, int n, db_row_fn fn,
                                    void *arg)
{
	if (!driver->time_limit) {
		char *bounded = NULL;
		if (asprintf(&bounded, "SET STATEMENT max_statement_time=%d.%03d FOR %s", ms / 1000, ms % 1000, sql) < 0)
			abort();
		enum db_status s = storage_exec(bounded, params, n, fn, arg);
		free(bounded);
		return s;
	}
	exec_limit_ms = ms; /* storage_exec applies it to every attempt, a reconnection's too */
	enum db_status s = storage_exec(sql, params, n, fn, arg);
	exec_limit_ms = 0;
	if (db)
		driver->time_limit(db, 0);
	return s;
}

/* One driver call: a statement (nrows 0) or a statement run for nrows rows. */
struct call {
	const char *sql;
	const struct db_param *params;
	int n, nrows;
	db_row_fn fn;
	void *arg;
};

static enum db_status call_driver(const struct call *c, char *e, size_t size)
{
	if (c->nrows)
		return driver->exec_rows(db, c->sql, c->params, c->n, c->nrows, e, size);
	return driver->exec(db, c->sql, c->params, c->n, c->fn, c->arg, e, size);
}

static enum db_status run(const struct call *c)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!ensure_connected())
			return DB_UNAVAILABLE;
		char e[512] = "";
		if (exec_limit_ms && driver->time_limit)
			driver->time_limit(db, exec_limit_ms);
		long long began = mono_ms();
		enum db_status s = call_driver(c, e, sizeof e);
		if (s != DB_UNAVAILABLE) {
			answered();
			if (s == DB_ERROR)
				log_storage_error("%s", e);
			return s;
		}
		/* the connection died: drop it and try once more on a fresh one at once, unless
		 * it held an open transaction or the server stopped answering (a timeout: a new
		 * connection would most likely wait as long again) */
		failure(e);
		driver->close(db);
		db = NULL;
		bool slow = mono_ms() - began >= SLOW_FAILURE_MS;
		retry_at = slow ? mono_ms() + RECONNECT_MS : 0;
		if (slow) {
			in_transaction = false;
			return DB_UNAVAILABLE;
		}
		if (in_transaction) {
			in_transaction = false;
			return DB_UNAVAILABLE;
		}
	}
	return DB_UNAVAILABLE;
}

enum db_status storage_exec(const char *sql, const struct db_param *params, int n, db_row_fn fn, void *arg)
{
	return run(&(struct call){sql, params, n, 0, fn, arg});
}

enum db_status storage_exec_rows(const char *sql, const struct db_param *params, int ncols, int nrows)
{
	if (nrows <= 0)
		return DB_OK;
	return run(&(struct call){sql, params, ncols, nrows, NULL, NULL});
}

/* ---- transactions whose outcome the loop waits for ---- */

struct txn_stmt {
	const char *sql;
	struct db_param params[WRITE_PARAMS];
	char *texts[WRITE_PARAMS];
	int n;
};

struct storage_txn {
	struct job job;
	struct txn_stmt *stmts;
	int n, cap;
	storage_txn_cb done;
	void *arg;
	enum db_status status;
};

struct storage_txn *storage_txn_new(void)
{
	struct storage_txn *t = calloc(1, sizeof *t);
	if (!t)
		abort();
	return t;
}

void storage_txn_add(struct storage_txn *t, const char *sql, const struct db_param *params, int n)
{
	if (n > WRITE_PARAMS)
		abort();
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 4;
		t->stmts = realloc(t->stmts, (size_t)t->cap * sizeof *t->stmts);
		if (!t->stmts)
			abort();
	}
	struct txn_stmt *st = &t->stmts[t->n++];
	memset(st, 0, sizeof *st);
	st->sql = sql;
	st->n = n;
	for (int i = 0; i < n; i++) {
		st->params[i] = params[i];
		if (!params[i].is_num && params[i].text) {
			st->texts[i] = strdup(params[i].text);
			if (!st->texts[i])
				abort();
			st->params[i].text = st->texts[i];
		}
	}
}

/* Even one statement runs inside BEGIN ... COMMIT: a statement sent to a server that
 * then stops answering would otherwise still be applied when it resumes, after the user
 * was told it failed; inside a transaction whose COMMIT was never sent it is not. */
static void txn_run(struct job *job)
{
	struct storage_txn *t = (struct storage_txn *)job;
	enum db_status s = storage_begin();
	for (int i = 0; i < t->n && s == DB_OK; i++)
		s = storage_exec(t->stmts[i].sql, t->stmts[i].params, t->stmts[i].n, NULL, NULL);
	if (in_transaction) { /* not when the connection died inside: nothing was kept */
		enum db_status e = storage_end(s == DB_OK);
		if (s == DB_OK)
			s = e;
	}
	t->status = s;
}

static void txn_done(struct job *job)
{
	struct storage_txn *t = (struct storage_txn *)job;
	if (t->done)
		t->done(t->status, t->arg);
	for (int i = 0; i < t->n; i++)
		for (int k = 0; k < t->stmts[i].n; k++)
			free(t->stmts[i].texts[k]);
	free(t->stmts);
	free(t);
}

void storage_txn_submit(struct storage_txn *t, storage_txn_cb done, void *arg)
{
	t->job.run = txn_run;
	t->job.done = txn_done;
	t->done = done;
	t->arg = arg;
	storage_submit(&t->job);
}
