/* db.h - the database driver interface: SQLite and MariaDB behind the same calls.
 * Statements use '?' placeholders; the SQL text of queries is shared by both backends,
 * only the schema files differ (sql/sqlite, sql/mariadb). Every call blocks: drivers are
 * used only on the storage thread (and at start, before the loop runs). */
#ifndef PARLEY_DB_H
#define PARLEY_DB_H

#include <stdbool.h>
#include <stddef.h>

struct conf;

enum db_status {
	DB_OK = 0,
	DB_DUPLICATE,   /* a unique key was violated */
	DB_UNAVAILABLE, /* connection lost or server unreachable: retry later */
	DB_ERROR,       /* anything else */
};

struct db_param {
	const char *text; /* NULL with is_num false means SQL NULL */
	long long num;
	bool is_num;
};

#define DB_TEXT(s) ((struct db_param){.text = (s)})
#define DB_INT(n) ((struct db_param){.num = (long long)(n), .is_num = true})

/* Called for each result row; cols[i] is NULL for SQL NULL. */
typedef void (*db_row_fn)(void *arg, int ncols, const char *const *cols);

typedef enum db_status (*db_exec_fn)(void *db, const char *sql, const struct db_param *params, int nparams,
                                     db_row_fn fn, void *arg, char *err, size_t size);

struct db_driver {
	const char *name;       /* "sqlite" or "mariadb": also the schema folder */
	void *(*open)(const struct conf *conf, char *err, size_t size);
	void (*close)(void *db);
	db_exec_fn exec;
	/* Runs several ';'-separated statements (a migration file) in one transaction where
	 * the backend allows it. */
	enum db_status (*script)(void *db, const char *sql, char *err, size_t size);
	/* "INSERT OR IGNORE" or "INSERT IGNORE": an insert that skips duplicate keys. */
	const char *insert_ignore;
	/* A short description of where the database is, for error messages. */
	void (*describe)(const struct conf *conf, char *out, size_t size);
	/* Bounds the statements that follow to ms milliseconds of run time (0: unbounded);
	 * one past it fails with DB_ERROR. NULL when the backend bounds a statement in its
	 * SQL text instead (see storage_exec_bounded). */
	void (*time_limit)(void *db, int ms);
	/* Runs sql, an INSERT written "... VALUES (?, ...)" with ncols placeholders, for each
	 * of nrows rows of params (row after row); stops at the first failure. */
	enum db_status (*exec_rows)(void *db, const char *sql, const struct db_param *params, int ncols, int nrows,
	                            char *err, size_t size);
};

/* exec_rows through exec: the VALUES row of sql (an INSERT written "... VALUES (?, ...)")
 * repeated into multi-row statements of max_rows, max_rows / 2, ... 1 rows (powers of
 * two, so a driver that caches statements by their text sees few texts). */
enum db_status db_exec_rows_chunked(db_exec_fn exec, void *db, const char *sql, const struct db_param *params,
                                    int ncols, int nrows, int max_rows, char *err, size_t size);

extern const struct db_driver db_sqlite_driver;
extern const struct db_driver db_mariadb_driver;

#endif
