/* storage.h - the storage thread: it alone owns the database connection. The loop hands
 * it jobs (struct storage_job) and gets them back completed through workq. */
#ifndef PARLEY_STORAGE_H
#define PARLEY_STORAGE_H

#include "db.h"
#include "workq.h"

struct conf;

/* Opens the configured database and applies missing migrations, synchronously: call at
 * start, before the loop runs. Returns 0, or -1 after writing a clear error (backend
 * and address) into err. */
int storage_open(const struct conf *conf, char *err, size_t size);

/* conf's store as error messages name it ("sqlite database PATH", "mariadb database DB
 * at HOST:PORT"). */
void storage_describe(const struct conf *conf, char *out, size_t size);

/* Starts the storage thread; it owns the connection from now on. */
void storage_start(void);

/* Stops the thread after the queued jobs, closes the connection. */
void storage_stop(void);

/* Queues a job whose run() calls storage_exec (takes ownership of j). */
void storage_submit(struct job *j);

/* Jobs waiting for the storage thread (metrics). */
unsigned storage_queue_length(void);

/* On the storage thread only: runs one statement. When the connection is down it tries
 * to reconnect (not for half a second after a timeout); returns DB_UNAVAILABLE while it
 * cannot. */
enum db_status storage_exec(const char *sql, const struct db_param *params, int n, db_row_fn fn, void *arg);

/* Runs sql (ncols placeholders, no result rows) for each of nrows rows of params, in
 * one round trip where the backend can (MariaDB array binding); stops at the first
 * failure. Wrap it in storage_begin/storage_end to make the rows all-or-nothing. */
enum db_status storage_exec_rows(const char *sql, const struct db_param *params, int ncols, int nrows);

/* On the storage thread: opens a transaction; storage_end commits (or rolls back) it.
 * storage_end(true) returns DB_UNAVAILABLE when the connection was lost in between,
 * whatever the statements in it returned: then none of them took effect. */
enum db_status storage_begin(void);
enum db_status storage_end(bool commit);

/* storage_exec with a bound of ms milliseconds on the statement's run time (a search
 * that would scan too much fails instead of holding the storage thread). */
enum db_status storage_exec_bounded(int ms, const char *sql, const struct db_param *params, int n, db_row_fn fn,
                                    void *arg);

/* Before storage_start only (at start, on the main thread): runs one statement now. */
enum db_status storage_query_now(const char *sql, const struct db_param *params, int n, db_row_fn fn, void *arg);

/* A change a user is told about only once it is stored: statements built on the loop
 * (storage_txn_new, then storage_txn_add for each: sql must be a string constant, the
 * parameters are copied) and run in one transaction on the storage thread by
 * storage_txn_submit (takes ownership of t). done(status, arg) then runs on the loop:
 * DB_OK when everything was committed; otherwise nothing of it was kept (DB_DUPLICATE for
 * a unique key, DB_UNAVAILABLE when the database is down or stopped answering). The
 * caller applies the change in memory and replies in done, so memory follows the store. */
struct storage_txn;
typedef void (*storage_txn_cb)(enum db_status status, void *arg);
struct storage_txn *storage_txn_new(void);
void storage_txn_add(struct storage_txn *t, const char *sql, const struct db_param *params, int n);
void storage_txn_submit(struct storage_txn *t, storage_txn_cb done, void *arg);

/* "sqlite" or "mariadb": for the few statements whose SQL differs (full-text search). */
const char *storage_backend(void);

/* The backend's insert-skipping-duplicates keyword ("INSERT OR IGNORE" / "INSERT IGNORE"). */
const char *storage_insert_ignore(void);

/* True while the storage thread has a live connection (storage thread only). */
bool storage_connected(void);

/* The queue for CPU-heavy work (password hashing), separate so it never delays the
 * database. */
extern struct workq crypto_queue;

/* The schema version the running code knows. */
int storage_schema_version(void);

#endif
