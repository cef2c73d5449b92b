/* db_sqlite.c - the embedded SQLite backend: one file, WAL journal, full fsync, so an
 * account acknowledged to a user survives a crash. */
#include "conf.h"
#include "db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static void *sq_open(const struct conf *conf, char *err, size_t size)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(conf->sqlite_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, size, "sqlite %s: %s", conf->sqlite_path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL, NULL,
	             NULL);
	return db;
}

static void sq_close(void *db) { sqlite3_close(db); }

static enum db_status status_of(int rc)
{
	if (rc == SQLITE_CONSTRAINT)
		return DB_DUPLICATE;
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_IOERR || rc == SQLITE_FULL)
		return DB_UNAVAILABLE;
	return DB_ERROR;
}

static enum db_status sq_exec(void *h, const char *sql, const struct db_param *params, int n, db_row_fn fn,
                              void *arg, char *err, size_t size)
{
	sqlite3 *db = h;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, size, "sqlite: %s", sqlite3_errmsg(db));
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
		rc = sqlite3_extended_errcode(db) & 0xff;
		snprintf(err, size, "sqlite: %s", sqlite3_errmsg(db));
		s = status_of(rc);
	}
	sqlite3_finalize(st);
	return s;
}

static enum db_status sq_script(void *h, const char *sql, char *err, size_t size)
{
	char *msg = NULL;
	char *wrapped = sqlite3_mprintf("BEGIN; %s; COMMIT;", sql);
	int rc = sqlite3_exec(h, wrapped, NULL, NULL, &msg);
	sqlite3_free(wrapped);
	if (rc != SQLITE_OK) {
		snprintf(err, size, "sqlite: %s", msg ? msg : "error");
		sqlite3_free(msg);
		sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
		return status_of(rc);
	}
	return DB_OK;
}

static void sq_describe(const struct conf *conf, char *out, size_t size)
{
	snprintf(out, size, "sqlite database %s", conf->sqlite_path);
}

const struct db_driver db_sqlite_driver = {"sqlite", sq_open, sq_close, sq_exec, sq_script, "INSERT OR IGNORE",
                                           sq_describe};
