/* db_mariadb.c - the MariaDB backend through mariadb-connector-c. Parameters are
 * substituted as escaped, quoted literals (mysql_real_escape_string with the
 * connection's utf8mb4 charset), which keeps one SQL text for both backends. The one
 * exception is exec_rows, the history writer's path: a prepared statement executed once
 * for a whole batch with array binding, so the server parses one row's SQL instead of
 * every row's literals (parsing was the largest part of mariadbd's CPU with multi-row
 * INSERTs). Connect by IP or UNIX socket with connect/read/write timeouts so a dead
 * or frozen server is noticed within seconds (a user's command waits at most that long
 * for its failure reply; storage.c then fails the queued ones at once). */
#include "conf.h"
#include "db.h"
#include "log.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct my {
	MYSQL *m;
	MYSQL_STMT *bulk; /* the prepared statement of exec_rows, for bulk_sql */
	char *bulk_sql;
	bool no_bulk; /* the server refused array binding: exec_rows uses multi-row text */
};

static void *my_open(const struct conf *conf, char *err, size_t size)
{
	MYSQL *db = mysql_init(NULL);
	if (!db) {
		snprintf(err, size, "mariadb: out of memory");
		return NULL;
	}
	/* seconds; the longest statements (a history chunk, a bounded SEARCH) take far less */
	unsigned connect_timeout = 2, io_timeout = 3;
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
	mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
	mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (conf->mariadb_tls) {
		my_bool on = 1;
		mysql_options(db, MYSQL_OPT_SSL_ENFORCE, &on);
	}
	const char *sock = conf->mariadb_socket[0] ? conf->mariadb_socket : NULL;
	if (!mysql_real_connect(db, sock ? NULL : conf->mariadb_host, conf->mariadb_user, conf->mariadb_password,
	                        conf->mariadb_database, (unsigned)conf->mariadb_port, sock, CLIENT_MULTI_STATEMENTS)) {
		snprintf(err, size, "mariadb %s: %s", sock ? sock : conf->mariadb_host, mysql_error(db));
		mysql_close(db);
		return NULL;
	}
	struct my *h = calloc(1, sizeof *h);
	if (!h)
		abort();
	h->m = db;
	return h;
}

static void drop_bulk(struct my *h)
{
	if (h->bulk)
		mysql_stmt_close(h->bulk);
	free(h->bulk_sql);
	h->bulk = NULL;
	h->bulk_sql = NULL;
}

static void my_close(void *p)
{
	struct my *h = p;
	drop_bulk(h);
	mysql_close(h->m);
	free(h);
}

static enum db_status status_code(unsigned e)
{
	if (e == ER_DUP_ENTRY)
		return DB_DUPLICATE;
	if (e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
	    e == CR_CONN_HOST_ERROR || e == CR_COMMANDS_OUT_OF_SYNC || e == ER_SERVER_SHUTDOWN || e == 0)
		return DB_UNAVAILABLE;
	return DB_ERROR;
}

static enum db_status status_of(MYSQL *db) { return status_code(mysql_errno(db)); }

/* Builds sql with each '?' replaced by the next parameter as a literal. */
static char *substitute(MYSQL *db, const char *sql, const struct db_param *p, int n)
{
	size_t cap = strlen(sql) + 1;
	for (int i = 0; i < n; i++)
		cap += p[i].is_num ? 24 : p[i].text ? 2 * strlen(p[i].text) + 3 : 5;
	char *out = malloc(cap);
	if (!out)
		abort();
	size_t len = 0;
	int k = 0;
	for (const char *s = sql; *s; s++) {
		if (*s != '?' || k >= n) {
			out[len++] = *s;
			continue;
		}
		const struct db_param *q = &p[k++];
		if (q->is_num) {
			len += (size_t)snprintf(out + len, cap - len, "%lld", q->num);
		} else if (!q->text) {
			memcpy(out + len, "NULL", 4);
			len += 4;
		} else {
			out[len++] = '\'';
			len += mysql_real_escape_string(db, out + len, q->text, strlen(q->text));
			out[len++] = '\'';
		}
	}
	out[len] = '\0';
	return out;
}

static enum db_status my_exec(void *h, const char *sql, const struct db_param *params, int n, db_row_fn fn,
                              void *arg, char *err, size_t size)
{
	MYSQL *db = ((struct my *)h)->m;
	char *q = substitute(db, sql, params, n);
	int rc = mysql_real_query(db, q, strlen(q));
	free(q);
	if (rc != 0) {
		snprintf(err, size, "mariadb: %s", mysql_error(db));
		return status_of(db);
	}
	MYSQL_RES *res = mysql_store_result(db);
	if (!res) {
		if (mysql_field_count(db) != 0) {
			snprintf(err, size, "mariadb: %s", mysql_error(db));
			return status_of(db);
		}
		return DB_OK;
	}
	int ncols = (int)mysql_num_fields(res);
	if (ncols > 32)
		ncols = 32;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)))
		if (fn)
			fn(arg, ncols, (const char *const *)row);
	mysql_free_result(res);
	return DB_OK;
}

static enum db_status my_script(void *h, const char *sql, char *err, size_t size)
{
	MYSQL *db = ((struct my *)h)->m;
	if (mysql_real_query(db, sql, strlen(sql)) != 0) {
		snprintf(err, size, "mariadb: %s", mysql_error(db));
		return status_of(db);
	}
	int rc;
	do {
		MYSQL_RES *res = mysql_store_result(db);
		if (res)
			mysql_free_result(res);
		rc = mysql_next_result(db);
	} while (rc == 0);
	if (rc > 0) {
		snprintf(err, size, "mariadb: %s", mysql_error(db));
		return status_of(db);
	}
	return DB_OK;
}

static enum db_status stmt_failed(struct my *h, unsigned *code, char *err, size_t size)
{
	snprintf(err, size, "mariadb: %s", h->bulk ? mysql_stmt_error(h->bulk) : mysql_error(h->m));
	*code = h->bulk ? mysql_stmt_errno(h->bulk) : mysql_errno(h->m);
	drop_bulk(h);
	return status_code(*code);
}

/* Whether a column is numbers: the first row that is not NULL decides. */
static bool numeric_column(const struct db_param *p, int ncols, int nrows, int c)
{
	for (int r = 0; r < nrows; r++) {
		const struct db_param *q = &p[(size_t)r * (size_t)ncols + (size_t)c];
		if (q->is_num || q->text)
			return q->is_num;
	}
	return false;
}

/* Binds rows x ncols parameters column-wise (an array of values or of string pointers
 * per column, with an indicator for NULL) and executes the statement once for all. */
static enum db_status bulk_execute(struct my *h, const struct db_param *p, int ncols, int nrows, unsigned *code,
                                   char *err, size_t size)
{
	enum db_status s = DB_OK;
	size_t cells = (size_t)ncols * (size_t)nrows;
	MYSQL_BIND *b = calloc((size_t)ncols, sizeof *b);
	long long *nums = malloc(cells * sizeof *nums);
	const char **texts = malloc(cells * sizeof *texts);
	char *ind = malloc(cells);
	if (!b || !nums || !texts || !ind)
		abort();
	*code = 0;
	for (int c = 0; c < ncols; c++) {
		bool num = numeric_column(p, ncols, nrows, c);
		size_t base = (size_t)c * (size_t)nrows;
		for (int r = 0; r < nrows; r++) {
			const struct db_param *q = &p[(size_t)r * (size_t)ncols + (size_t)c];
			if (q->is_num != num && (q->is_num || q->text)) {
				snprintf(err, size, "mariadb: column %d mixes numbers and texts", c + 1);
				s = DB_ERROR;
				goto out;
			}
			nums[base + r] = q->num;
			texts[base + r] = q->text;
			ind[base + r] = q->is_num ? STMT_INDICATOR_NONE : q->text ? STMT_INDICATOR_NTS : STMT_INDICATOR_NULL;
		}
		b[c].buffer_type = num ? MYSQL_TYPE_LONGLONG : MYSQL_TYPE_STRING;
		b[c].buffer = num ? (void *)(nums + base) : (void *)(texts + base);
		b[c].u.indicator = ind + base;
	}
	unsigned int n = (unsigned int)nrows;
	if (mysql_stmt_attr_set(h->bulk, STMT_ATTR_ARRAY_SIZE, &n) || mysql_stmt_bind_param(h->bulk, b) ||
	    mysql_stmt_execute(h->bulk))
		s = stmt_failed(h, code, err, size);
out:
	free(b);
	free(nums);
	free(texts);
	free(ind);
	return s;
}

static enum db_status prepare_bulk(struct my *h, const char *sql, int ncols, unsigned *code, char *err,
                                   size_t size)
{
	if (h->bulk_sql && strcmp(h->bulk_sql, sql) == 0)
		return DB_OK;
	drop_bulk(h);
	h->bulk = mysql_stmt_init(h->m);
	if (!h->bulk || mysql_stmt_prepare(h->bulk, sql, strlen(sql)) != 0)
		return stmt_failed(h, code, err, size);
	if (mysql_stmt_param_count(h->bulk) != (unsigned long)ncols) {
		snprintf(err, size, "mariadb: %d parameters given for %lu", ncols, mysql_stmt_param_count(h->bulk));
		drop_bulk(h);
		return DB_ERROR;
	}
	h->bulk_sql = strdup(sql);
	if (!h->bulk_sql)
		abort();
	return DB_OK;
}

/* Rows per bulk execution: one packet must stay under the server's max_allowed_packet
 * (16 MiB by default; a history row is at most about 4.6 KiB). */
#define BULK_ROWS 256

/* Array binding needs MariaDB 10.2 or newer, and row-based binary logging when the
 * binary log is on; a server that refuses it gets multi-row INSERT text instead, from
 * where the refused chunk started (the transaction around it is still open). */
static enum db_status my_exec_rows(void *p, const char *sql, const struct db_param *params, int ncols, int nrows,
                                   char *err, size_t size)
{
	struct my *h = p;
	enum db_status s = DB_OK;
	unsigned code = 0;
	int done = 0;
	while (!h->no_bulk && done < nrows && s == DB_OK) {
		int k = nrows - done < BULK_ROWS ? nrows - done : BULK_ROWS;
		s = prepare_bulk(h, sql, ncols, &code, err, size);
		if (s == DB_OK)
			s = bulk_execute(h, params + (size_t)done * (size_t)ncols, ncols, k, &code, err, size);
		if (s == DB_OK) {
			done += k;
		} else if (code == ER_BINLOG_NON_SUPPORTED_BULK || code == CR_FUNCTION_NOT_SUPPORTED ||
		           code == CR_NOT_IMPLEMENTED || code == ER_UNSUPPORTED_PS) {
			log_storage_warn("%s: writing history with multi-row INSERTs instead", err);
			h->no_bulk = true;
			s = DB_OK;
		}
	}
	if (s != DB_OK || done == nrows)
		return s;
	return db_exec_rows_chunked(my_exec, h, sql, params + (size_t)done * (size_t)ncols, ncols, nrows - done, 128,
	                            err, size);
}

static void my_describe(const struct conf *conf, char *out, size_t size)
{
	if (conf->mariadb_socket[0])
		snprintf(out, size, "mariadb database %s at %s", conf->mariadb_database, conf->mariadb_socket);
	else
		snprintf(out, size, "mariadb database %s at %s:%d", conf->mariadb_database, conf->mariadb_host,
		         conf->mariadb_port);
}

/* No time_limit hook: storage.c bounds a MariaDB statement in its SQL text
 * (SET STATEMENT max_statement_time=... FOR ...), which costs no extra round trip. */
const struct db_driver db_mariadb_driver = {"mariadb", my_open,     my_close, my_exec, my_script, "INSERT IGNORE",
                                            my_describe, NULL,     my_exec_rows};
