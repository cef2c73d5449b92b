/* history.c - reading message history: CHATHISTORY (draft/chathistory), replay on JOIN,
 * SEARCH (soju.im/search), REDACT, EDIT and HistServ's entry points. Queries run on the
 * storage thread; a message's seq is its msgid read as a number (milliseconds << 12 |
 * counter), so every selector is a range on the (target_key, seq) index. Writes are in
 * history_store.c. */
#include "history.h"
#include "session.h"
#include "history_int.h"

#include "account.h"
#include "cap.h"
#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "ircd.h"
#include "outmsg.h"
#include "parse.h"
#include "reply.h"
#include "service.h"
#include "storage.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- reads ---- */

#define SEARCH_TIME_LIMIT_MS 2000

enum query_kind { Q_LATEST, Q_BEFORE, Q_AFTER, Q_AROUND, Q_BETWEEN, Q_TARGETS, Q_REPLAY, Q_SEARCH, Q_LOOKUP, Q_CATCHUP };

/* How a result is delivered: a chathistory batch, a soju.im/search batch, NOTICEs from
 * HistServ (for clients without IRCv3), or a REDACT decision. */
enum query_output { OUT_CHATHISTORY, OUT_SEARCH, OUT_HISTSERV, OUT_REDACT, OUT_EDIT };

struct query_job {
	struct job job;
	uint64_t client_id;
	enum query_kind kind;
	char key[HKEY_MAX];
	char target[CHANNEL_MAX + 1]; /* as the client named it */
	unsigned long long a, b;      /* seq bounds */
	int limit;
	long long since_ms;           /* Q_REPLAY: nothing older */
	unsigned long long floor;     /* the first seq the client may see in key (a channel's lifetime) */
	char (*keys)[HKEY_MAX];        /* Q_TARGETS, Q_SEARCH: the keys the client may see */
	unsigned long long *floors;    /* and the first seq it may see in each */
	int nkeys;
	struct out_row *rows;
	int n, cap;
	enum db_status status;
	enum query_output output;
	char words[200];      /* Q_SEARCH: the words to find */
	char msgid[24];       /* Q_LOOKUP */
	char reason[300];     /* REDACT reason */
	bool is_op;           /* REDACT: the requester is a channel operator there */
	char account[HID_MAX], nick[NICK_MAX + 1]; /* REDACT, EDIT: the requester (TARGETS: its identity) */
	unsigned long long nick_since;             /* REDACT, EDIT: when the requester took its nick */
	char from[2 * NICK_MAX + 4]; /* SEARCH: LIKE pattern of the sender (escaped) */
	char sub[12];              /* CHATHISTORY subcommand, for FAIL replies */
	char check_msgid[2][24];   /* msgid selectors that must exist in the target */
	bool allowed;
	char owner[HID_MAX];          /* Q_CATCHUP: the requester's folded account */
	unsigned long long since;     /* Q_CATCHUP: the first seq it has not seen, 0 if unknown */
	bool more;                    /* Q_CATCHUP: older unseen messages were left out */
};

void history_row_out(void *arg, int ncols, const char *const *c)
{
	struct out_rows *q = arg;
	if (ncols < 8)
		return;
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 32;
		q->rows = realloc(q->rows, (size_t)q->cap * sizeof *q->rows);
		if (!q->rows)
			abort();
	}
	struct out_row *r = &q->rows[q->n++];
	memset(r, 0, sizeof *r);
	r->seq = c[0] ? strtoull(c[0], NULL, 10) : 0;
	snprintf(r->msgid, sizeof r->msgid, "%s", c[1] ? c[1] : "");
	snprintf(r->target, sizeof r->target, "%s", c[2] ? c[2] : "");
	snprintf(r->sender, sizeof r->sender, "%s", c[3] ? c[3] : "");
	snprintf(r->account, sizeof r->account, "%s", c[4] ? c[4] : "");
	snprintf(r->command, sizeof r->command, "%s", c[5] ? c[5] : "PRIVMSG");
	r->tags = c[6] ? strdup(c[6]) : NULL;
	r->text = c[7] ? strdup(c[7]) : NULL;
	r->time_ms = ncols > 8 && c[8] ? atoll(c[8]) : 0;
	r->edited = ncols > 9 && c[9] && atoi(c[9]);
}

void history_rows_free(struct out_rows *r)
{
	for (int i = 0; i < r->n; i++) {
		free(r->rows[i].tags);
		free(r->rows[i].text);
	}
	free(r->rows);
	r->rows = NULL;
	r->n = r->cap = 0;
}

static void query_row(void *arg, int ncols, const char *const *c)
{
	struct query_job *q = arg;
	struct out_rows r = {q->rows, q->n, q->cap};
	history_row_out(&r, ncols, c);
	q->rows = r.rows;
	q->n = r.n;
	q->cap = r.cap;
}

#define SELECT_ROW "SELECT " HISTORY_COLUMNS " FROM messages "

/* Runs SELECT_ROW + where for q. MariaDB 10.11 picks a ref lookup on target_key alone
 * for "target_key = ? AND seq < ?", then walks the channel's newer rows one by one (8,288
 * rows read for 100 returned on a 20,000-row channel); the hint makes it a range scan on
 * (target_key, seq). SQLite's planner already does that. */
static enum db_status select_rows(struct query_job *q, const char *where, const struct db_param *p, int n)
{
	char sql[512];
	bool maria = strcmp(storage_backend(), "mariadb") == 0;
	snprintf(sql, sizeof sql, "%s%s%s", SELECT_ROW, maria ? "FORCE INDEX (messages_target) " : "", where);
	return storage_exec(sql, p, n, query_row, q);
}

/* "^(?=.*\bw1\b)(?=.*\bw2\b)": every word, as a whole word, ASCII punctuation escaped. */
static void words_regex(const char *words, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "^");
	char buf[256];
	snprintf(buf, sizeof buf, "%s", words);
	char *save;
	for (char *w = strtok_r(buf, " \t", &save); w && n + 16 < size; w = strtok_r(NULL, " \t", &save)) {
		n += (size_t)snprintf(out + n, size - n, "(?=.*\\b");
		for (; *w && n + 12 < size; w++) {
			if ((unsigned char)*w < 0x80 && !((*w >= '0' && *w <= '9') || (*w >= 'a' && *w <= 'z') ||
			                                  (*w >= 'A' && *w <= 'Z') || *w == '_'))
				out[n++] = '\\';
			out[n++] = *w;
		}
		n += (size_t)snprintf(out + n, size - n, "\\b)");
	}
	if (n >= size)
		n = size - 1;
	out[n] = '\0';
}

/* MariaDB's FULLTEXT search gathers every match before it can sort by seq: a word in one
 * message out of seven takes seconds on a million-message channel. Most searches want
 * the newest matches, and a frequent word has them among the newest messages, so first
 * scan the last SEARCH_RECENT_ROWS messages of the target (a range on its index); only
 * when that finds fewer than asked does the full-text index run. Returns true when the
 * scan answered the search for key. */
#define SEARCH_RECENT_ROWS 3000
static bool search_recent(struct query_job *q, const char *key, unsigned long long lo)
{
	/* the oldest seq of the window: an index-only walk down (target_key, seq) */
	unsigned long long from = 0;
	struct db_param w[4] = {DB_TEXT(key), DB_INT((long long)lo), DB_INT((long long)q->b),
	                        DB_INT(SEARCH_RECENT_ROWS - 1)};
	if (storage_exec("SELECT seq FROM messages FORCE INDEX (messages_target) WHERE target_key = ? AND seq > ? "
	                 "AND seq < ? ORDER BY seq DESC LIMIT 1 OFFSET ?",
	                 w, 4, history_row_seq, &from) != DB_OK)
		return false;
	if (from)
		from--; /* the bound below is exclusive */
	if (from < lo)
		from = lo;
	char re[700];
	words_regex(q->words, re, sizeof re);
	int want = q->limit - q->n, before = q->n;
	struct db_param t[6] = {DB_TEXT(key), DB_INT((long long)from), DB_INT((long long)q->b), DB_TEXT(q->from),
	                        DB_TEXT(re), DB_INT(want)};
	enum db_status s = storage_exec_bounded(SEARCH_TIME_LIMIT_MS,
	                                        SELECT_ROW "FORCE INDEX (messages_target) WHERE target_key = ? AND "
	                                                   "redacted = 0 AND seq > ? AND seq < ? AND sender LIKE ? ESCAPE '=' AND "
	                                                   "text REGEXP ? ORDER BY seq DESC LIMIT ?",
	                                        t, 6, query_row, q);
	if (s == DB_OK && q->n - before == want)
		return true;
	for (int i = before; i < q->n; i++) { /* the full-text search finds these again */
		free(q->rows[i].tags);
		free(q->rows[i].text);
	}
	q->n = before;
	return false;
}

static int cmp_seq(const void *x, const void *y)
{
	const struct out_row *a = x, *b = y;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Turns the user's words into a full-text query matching all of them: each word quoted
 * (FTS5 "w" / MariaDB +"w"), so no word is read as an operator. */
static void fts_query(const char *words, bool maria, char *out, size_t size)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", words);
	size_t n = 0;
	out[0] = '\0';
	char *save;
	for (char *w = strtok_r(buf, " \t", &save); w && n + 8 < size; w = strtok_r(NULL, " \t", &save)) {
		n += (size_t)snprintf(out + n, size - n, "%s%s\"", n ? " " : "", maria ? "+" : "");
		for (; *w && n + 4 < size; w++)
			if (*w != '"')
				out[n++] = *w;
		n += (size_t)snprintf(out + n, size - n, "\"");
	}
	if (n >= size)
		out[size - 1] = '\0';
}

static int cmp_seq_desc(const void *x, const void *y)
{
	return -cmp_seq(x, y);
}

/* Whether the nick of r's sender is nick (under casemapping). */
static bool sender_nick_is(const struct out_row *r, const char *nick)
{
	char n[NICK_MAX + 1];
	snprintf(n, sizeof n, "%.*s", (int)strcspn(r->sender, "!"), r->sender);
	return casemap_cmp(n, nick) == 0;
}

/* Whether the requester of a TARGETS (identity q->account, nick q->nick) sent r: its
 * account's, or, for a connection not logged in, one sent under its nick. */
static bool sent_by_requester(const struct out_row *r, const struct query_job *q)
{
	if (r->account[0]) {
		char folded[HID_MAX];
		casemap_fold(folded, r->account, sizeof folded);
		return strcmp(folded, q->account) == 0;
	}
	return q->account[0] == '$' && sender_nick_is(r, q->nick);
}

/* Whether the requester of an EDIT or REDACT (account q->account, nick q->nick) sent r:
 * the same account, or, for a message sent while logged out, the same connection: r is
 * under the nick it holds and no older than its taking that nick (nobody else had the
 * nick since; whoever takes a nick later cannot edit what its earlier holder wrote). */
static bool is_sender(const struct out_row *r, const struct query_job *q)
{
	if (r->account[0])
		return q->account[0] && casemap_cmp(r->account, q->account) == 0;
	return r->seq >= q->nick_since && sender_nick_is(r, q->nick);
}

/* TARGETS for direct conversations: the latest message of each conversation c's
 * identity (q->account) takes part in; the other side's nick becomes the row's target.
 * Keys are "@a,b" with a < b: where c is a, its keys are the range ["@a,", "@a-") (','
 * is in no identity, '-' follows it); where it is b, the dm_peer column (the part after
 * the comma, indexed) equals it. Exact comparisons only: no pattern is built from a name. */
static void targets_direct(struct query_job *q)
{
	char lo[HKEY_MAX + 4], hi[HKEY_MAX + 4];
	snprintf(lo, sizeof lo, "@%s,", q->account);
	snprintf(hi, sizeof hi, "@%s-", q->account);
	struct query_job scan = {0};
	struct db_param p[2] = {DB_TEXT(lo), DB_TEXT(hi)};
	q->status = storage_exec(SELECT_ROW "WHERE target_key >= ? AND target_key < ? AND redacted = 0 "
	                                    "ORDER BY seq DESC LIMIT 1000",
	                         p, 2, query_row, &scan);
	struct db_param b = DB_TEXT(q->account);
	if (q->status == DB_OK)
		q->status = storage_exec(SELECT_ROW "WHERE dm_peer = ? AND redacted = 0 ORDER BY seq DESC LIMIT 1000", &b, 1,
		                         query_row, &scan);
	if (scan.n > 1)
		qsort(scan.rows, (size_t)scan.n, sizeof *scan.rows, cmp_seq_desc); /* each peer's latest first */
	for (int i = 0; i < scan.n; i++) {
		struct out_row *r = &scan.rows[i];
		size_t nl = strcspn(r->sender, "!");
		if (!sent_by_requester(r, q))
			snprintf(r->target, sizeof r->target, "%.*s", (int)nl, r->sender); /* they wrote to me */
		bool seen = false;
		for (int k = 0; k < q->n && !seen; k++)
			seen = strcasecmp(q->rows[k].target, r->target) == 0;
		if (seen) {
			free(r->tags);
			free(r->text);
			continue;
		}
		if (q->n == q->cap) {
			q->cap = q->cap ? q->cap * 2 : 32;
			q->rows = realloc(q->rows, (size_t)q->cap * sizeof *q->rows);
			if (!q->rows)
				abort();
		}
		q->rows[q->n++] = *r;
	}
	free(scan.rows);
}

static void row_exists(void *arg, int ncols, const char *const *cols)
{
	(void)ncols;
	(void)cols;
	*(bool *)arg = true;
}

/* The exclusive lower bound a raised to the floor: seq > result implies seq >= floor. */
static unsigned long long above(unsigned long long a, unsigned long long floor)
{
	return floor && floor - 1 > a ? floor - 1 : a;
}

static void row_ll(void *arg, int ncols, const char *const *cols)
{
	if (ncols > 0 && cols[0])
		*(long long *)arg = atoll(cols[0]);
}

/* A logged-in user's catch-up: what it has not seen of the channel, from after its read
 * marker or from where it last left (the later of the two), its own messages left out,
 * the newest q->limit of them (one more is read to know whether some were left out). A
 * user with neither gets the anonymous replay's window, its own messages left out. */
static void catchup_run(struct query_job *q)
{
	long long mark = -1;
	unsigned long long seen = 0;
	struct db_param k[2] = {DB_TEXT(q->owner), DB_TEXT(q->key)};
	q->status = storage_exec("SELECT time_ms FROM read_markers WHERE account_key = ? AND target_key = ?", k, 2,
	                         row_ll, &mark);
	if (q->status == DB_OK)
		q->status = storage_exec("SELECT seen_before FROM last_seen WHERE account_key = ? AND target_key = ?", k, 2,
		                         history_row_seq, &seen);
	if (q->status != DB_OK)
		return;
	if (mark >= 0) /* a marker covers its whole millisecond */
		q->since = (((unsigned long long)mark << 12) | 0xfff) + 1;
	if (seen > q->since)
		q->since = seen;
	unsigned long long from = q->since ? q->since : (unsigned long long)q->since_ms << 12;
	if (from < q->floor)
		from = q->floor;
	struct db_param r[4] = {DB_TEXT(q->key), DB_INT((long long)from), DB_TEXT(q->account), DB_INT(q->limit + 1)};
	q->status = select_rows(q, "WHERE target_key = ? AND redacted = 0 AND seq >= ? AND command <> 'TAGMSG' AND "
	                           "(account IS NULL OR account <> ?) ORDER BY seq DESC LIMIT ?",
	                        r, 4);
	if (q->status == DB_OK && q->n > q->limit) { /* newest first: the extra row is the oldest */
		q->more = true;
		q->n--;
		free(q->rows[q->n].tags);
		free(q->rows[q->n].text);
	}
}

static void query_run(struct job *job)
{
	struct query_job *q = (struct query_job *)job;
	history_catch_up(); /* rows spilled while the database was behind come before this read */
	for (int i = 0; i < 2; i++) {
		if (!q->check_msgid[i][0])
			continue;
		bool found = false;
		struct db_param p[3] = {DB_TEXT(q->check_msgid[i]), DB_TEXT(q->key), DB_INT((long long)q->floor)};
		q->status = storage_exec("SELECT 1 FROM messages WHERE msgid = ? AND target_key = ? AND seq >= ?", p, 3,
		                         row_exists, &found);
		if (q->status != DB_OK || !found)
			return; /* an unknown msgid selects nothing */
	}
	/* nothing from before the channel's lifetime: every lower bound is at least the floor */
	unsigned long long lo = above(q->a, q->floor);
	struct db_param p[4] = {DB_TEXT(q->key), DB_INT((long long)lo), DB_INT((long long)q->b), DB_INT(q->limit)};
	switch (q->kind) {
	case Q_LATEST: /* newest first above a, then sorted */
	case Q_BEFORE:
		q->status = select_rows(q, "WHERE target_key = ? AND redacted = 0 AND seq > ? AND seq < ? "
		                           "ORDER BY seq DESC LIMIT ?", p, 4);
		break;
	case Q_AFTER:
	case Q_BETWEEN:
		q->status = select_rows(q, "WHERE target_key = ? AND redacted = 0 AND seq > ? AND seq < ? "
		                           "ORDER BY seq ASC LIMIT ?", p, 4);
		break;
	case Q_AROUND: {
		int half = q->limit / 2;
		struct db_param b[4] = {DB_TEXT(q->key), DB_INT((long long)above(0, q->floor)), DB_INT((long long)q->a),
		                        DB_INT(q->limit - half)};
		q->status = select_rows(q, "WHERE target_key = ? AND redacted = 0 AND seq > ? AND seq <= ? "
		                           "ORDER BY seq DESC LIMIT ?", b, 4);
		struct db_param a[3] = {DB_TEXT(q->key), DB_INT((long long)lo), DB_INT(half)};
		if (q->status == DB_OK && half > 0)
			q->status = select_rows(q, "WHERE target_key = ? AND redacted = 0 AND seq > ? ORDER BY seq ASC LIMIT ?",
			                        a, 3);
		break;
	}
	case Q_CATCHUP:
		catchup_run(q);
		break;
	case Q_REPLAY: {
		/* the time bound as a seq bound (seq is the time in ms << 12): a range on the index,
		 * not a walk through every stored message of a quiet channel */
		unsigned long long since = (unsigned long long)q->since_ms << 12;
		struct db_param r[3] = {DB_TEXT(q->key), DB_INT((long long)(since > q->floor ? since : q->floor)),
		                        DB_INT(q->limit)};
		q->status = select_rows(q, "WHERE target_key = ? AND redacted = 0 AND seq >= ? ORDER BY seq DESC LIMIT ?",
		                        r, 3);
		break;
	}
	case Q_SEARCH: {
		/* the full-text index finds the words; each statement has a time bound, so a
		 * search matching millions of rows fails (FAIL SEARCH) instead of stalling writes */
		bool maria = strcmp(storage_backend(), "mariadb") == 0;
		const char *sql = maria ? SELECT_ROW "WHERE target_key = ? AND redacted = 0 AND MATCH(text) AGAINST(? IN BOOLEAN MODE) "
		                          "AND seq > ? AND seq < ? AND sender LIKE ? ESCAPE '=' ORDER BY seq DESC LIMIT ?"
		                        /* FTS5 walks the words' rows newest first and the join stops at the
		                         * limit, instead of collecting every match of a common word */
		                        : "SELECT m.seq, m.msgid, m.target, m.sender, m.account, m.command, m.tags, "
		                          "m.text, m.time, m.edited FROM messages_fts f JOIN messages m ON m.seq = f.rowid "
		                          "WHERE m.target_key = ? AND m.redacted = 0 AND messages_fts MATCH ? AND f.rowid > ? "
		                          "AND f.rowid < ? AND m.sender LIKE ? ESCAPE '=' ORDER BY f.rowid DESC LIMIT ?";
		char query[512];
		fts_query(q->words, maria, query, sizeof query);
		q->status = DB_OK;
		for (int i = 0; i < q->nkeys && q->status == DB_OK && q->n < q->limit; i++) {
			unsigned long long from = above(q->a, q->floors[i]);
			if (maria && search_recent(q, q->keys[i], from))
				continue;
			struct db_param t[6] = {DB_TEXT(q->keys[i]), DB_TEXT(query), DB_INT((long long)from),
			                        DB_INT((long long)q->b), DB_TEXT(q->from), DB_INT(q->limit - q->n)};
			q->status = storage_exec_bounded(SEARCH_TIME_LIMIT_MS, sql, t, 6, query_row, q);
		}
		break;
	}
	case Q_LOOKUP: {
		struct db_param t[3] = {DB_TEXT(q->key), DB_TEXT(q->msgid), DB_INT((long long)q->floor)};
		q->status = storage_exec(SELECT_ROW "WHERE target_key = ? AND msgid = ? AND redacted = 0 AND seq >= ?", t, 3,
		                         query_row, q);
		if (q->status == DB_OK && q->n == 1 && q->output == OUT_EDIT) {
			const struct out_row *r = &q->rows[0];
			q->allowed = is_sender(r, q);
			struct db_param u[2] = {DB_TEXT(q->reason), DB_TEXT(q->msgid)};
			if (q->allowed && strcmp(r->command, "TAGMSG") != 0)
				q->status = storage_exec("UPDATE messages SET text = ?, edited = 1 WHERE msgid = ?", u, 2, NULL, NULL);
			else
				q->allowed = false;
		}
		if (q->status == DB_OK && q->n == 1 && q->output == OUT_REDACT) {
			/* the sender (its account, or its connection when it was logged out) or a channel op */
			q->allowed = q->is_op || is_sender(&q->rows[0], q);
			struct db_param u = DB_TEXT(q->msgid);
			if (q->allowed)
				q->status = storage_exec("UPDATE messages SET redacted = 1 WHERE msgid = ?", &u, 1, NULL, NULL);
		}
		break;
	}
	case Q_TARGETS:
		q->status = DB_OK;
		/* a target is listed when its latest message falls in the window */
		for (int i = 0; i < q->nkeys && q->status == DB_OK; i++) {
			struct db_param t[2] = {DB_TEXT(q->keys[i]), DB_INT((long long)q->floors[i])};
			q->status = select_rows(q, "WHERE target_key = ? AND redacted = 0 AND seq >= ? ORDER BY seq DESC LIMIT 1",
			                        t, 2);
		}
		if (q->status == DB_OK)
			targets_direct(q);
		for (int i = 0; i < q->n;) {
			if (q->rows[i].seq > q->a && q->rows[i].seq < q->b) {
				i++;
				continue;
			}
			free(q->rows[i].tags);
			free(q->rows[i].text);
			q->rows[i] = q->rows[--q->n];
		}
		break;
	}
	if (q->n > 1)
		qsort(q->rows, (size_t)q->n, sizeof *q->rows, cmp_seq);
	if (q->kind == Q_TARGETS && q->n > q->limit) { /* the first targets, by latest message */
		for (int i = q->limit; i < q->n; i++) {
			free(q->rows[i].tags);
			free(q->rows[i].text);
		}
		q->n = q->limit;
	}
}

void history_send_row(struct client *c, const struct out_row *r, const char *batch)
{
	bool tags = client_has_cap(c, CAP_MESSAGE_TAGS), stime = client_has_cap(c, CAP_SERVER_TIME);
	if (strcmp(r->command, "TAGMSG") == 0 && !tags)
		return;
	char t[40], pre[8192 + 200];
	outmsg_format_time(r->time_ms, t);
	size_t n = 0;
	pre[0] = '\0';
#define TAG(...) n += (size_t)snprintf(pre + n, sizeof pre - n, __VA_ARGS__)
	if (batch)
		TAG("%sbatch=%s", n ? ";" : "@", batch);
	if (stime)
		TAG("%stime=%s", n ? ";" : "@", t);
	if (tags)
		TAG("%smsgid=%s", n ? ";" : "@", r->msgid);
	if (client_has_cap(c, CAP_ACCOUNT_TAG) && r->account[0])
		TAG("%saccount=%s", n ? ";" : "@", r->account);
	if (tags && r->tags)
		TAG("%s%s", n ? ";" : "@", r->tags);
	if (tags && r->edited)
		TAG("%s+draft/edited", n ? ";" : "@");
#undef TAG
	if (strcmp(r->command, "TAGMSG") == 0) {
		client_sendf(c, "%s%s:%s TAGMSG %s", pre, n ? " " : "", r->sender, r->target);
		return;
	}
	char stamp[32] = "";
	if (!stime) {
		time_t s = (time_t)(r->time_ms / 1000);
		struct tm tm;
		gmtime_r(&s, &tm);
		strftime(stamp, sizeof stamp, "[%Y-%m-%d %H:%M:%S] ", &tm);
	}
	const char *text = r->text ? r->text : "";
	const char *mark = r->edited && !tags ? "(edited) " : "";
	if (strncmp(text, "\001ACTION ", 8) == 0) /* CTCP ACTION: the stamp goes inside it */
		client_sendf(c, "%s%s:%s %s %s :\001ACTION %s%s%s", pre, n ? " " : "", r->sender, r->command, r->target, stamp,
		             mark, text + 8);
	else
		client_sendf(c, "%s%s:%s %s %s :%s%s%s", pre, n ? " " : "", r->sender, r->command, r->target, stamp, mark,
		             text);
}

static void send_batch(struct client *c, struct query_job *q, const char *type)
{
	static unsigned long batch_seq;
	char id[24];
	snprintf(id, sizeof id, "H%lu", ++batch_seq);
	bool batch = client_has_cap(c, CAP_BATCH);
	if (batch && q->output == OUT_SEARCH)
		client_sendf(c, ":%s BATCH +%s %s", ircd.conf->server_name, id, type);
	else if (batch)
		client_sendf(c, ":%s BATCH +%s %s %s", ircd.conf->server_name, id, type, q->target);
	for (int i = 0; i < q->n; i++)
		history_send_row(c, &q->rows[i], batch ? id : NULL);
	if (batch)
		client_sendf(c, ":%s BATCH -%s", ircd.conf->server_name, id);
}

/* "14:02" for a time today (UTC), else "2026-12-03 14:02". */
static void format_since(long long ms, char *out, size_t size)
{
	time_t s = (time_t)(ms / 1000), now = time(NULL);
	struct tm tm, today;
	gmtime_r(&s, &tm);
	gmtime_r(&now, &today);
	bool same_day = tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday;
	strftime(out, size, same_day ? "%H:%M" : "%Y-%m-%d %H:%M", &tm);
}

/* A plain client's catch-up: the messages between a header and a footer NOTICE from the
 * server to the channel; then the account's marker moves to the last one, so the next
 * join shows only what came after. */
static void send_catchup(struct client *c, struct query_job *q)
{
	const char *srv = ircd.conf->server_name;
	char since[32];
	format_since(q->since ? (long long)(q->since >> 12) : q->rows[0].time_ms, since, sizeof since);
	if (q->more)
		client_sendf(c, ":%s NOTICE %s :— last %d messages in %s since %s UTC (more: /msg HistServ PLAY %s) —",
		             srv, q->target, q->n, q->target, since, q->target);
	else
		client_sendf(c, ":%s NOTICE %s :— %d message%s in %s since %s UTC —", srv, q->target, q->n,
		             q->n == 1 ? "" : "s", q->target, since);
	send_batch(c, q, "chathistory"); /* a chathistory batch for a client with batch */
	client_sendf(c, ":%s NOTICE %s :— end of catch-up in %s —", srv, q->target, q->target);
	readmarker_advance(c, q->target, q->rows[q->n - 1].time_ms);
}

static void send_targets(struct client *c, struct query_job *q)
{
	char id[24];
	snprintf(id, sizeof id, "T%llu", (unsigned long long)q->client_id);
	bool batch = client_has_cap(c, CAP_BATCH);
	if (batch)
		client_sendf(c, ":%s BATCH +%s draft/chathistory-targets", ircd.conf->server_name, id);
	for (int i = 0; i < q->n; i++) {
		char t[40];
		outmsg_format_time(q->rows[i].time_ms, t);
		client_sendf(c, "%s%s%s:%s CHATHISTORY TARGETS %s %s", batch ? "@batch=" : "", batch ? id : "",
		             batch ? " " : "", ircd.conf->server_name, q->rows[i].target, t);
	}
	if (batch)
		client_sendf(c, ":%s BATCH -%s", ircd.conf->server_name, id);
}

/* One HistServ line, as a plain client would have shown the message: "<nick> text",
 * "* nick text" for a CTCP ACTION, "-nick- text" for a NOTICE; "(edited) " before an
 * edited text. */
static void send_notice_row(struct client *c, const char *hs, const char *when, const struct out_row *r)
{
	const char *text = r->text ? r->text : "";
	int nick = (int)strcspn(r->sender, "!");
	const char *mark = r->edited ? "(edited) " : "";
	if (strncmp(text, "\001ACTION ", 8) == 0) {
		text += 8;
		client_sendf(c, ":%s NOTICE %s :[%s] %s * %.*s %s%.*s (%s)", hs, c->nick, when, r->target, nick, r->sender,
		             mark, (int)strcspn(text, "\001"), text, r->msgid);
	} else if (strcmp(r->command, "NOTICE") == 0) {
		client_sendf(c, ":%s NOTICE %s :[%s] %s -%.*s- %s%s (%s)", hs, c->nick, when, r->target, nick, r->sender,
		             mark, text, r->msgid);
	} else {
		client_sendf(c, ":%s NOTICE %s :[%s] %s <%.*s> %s%s (%s)", hs, c->nick, when, r->target, nick, r->sender,
		             mark, text, r->msgid);
	}
}

/* HistServ answers in NOTICEs any client can read: "[time] target <nick> text (msgid)". */
static void send_notices(struct client *c, struct query_job *q)
{
	const char *hs = "HistServ!HistServ@services.";
	int shown = 0;
	for (int i = 0; i < q->n; i++) {
		const struct out_row *r = &q->rows[i];
		if (strcmp(r->command, "TAGMSG") == 0)
			continue; /* reactions have no text to show */
		shown++;
		time_t s = (time_t)(r->time_ms / 1000);
		struct tm tm;
		char when[32];
		gmtime_r(&s, &tm);
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
		send_notice_row(c, hs, when, r);
	}
	if (shown)
		client_sendf(c, ":%s NOTICE %s :End of %d message%s.", hs, c->nick, shown, shown == 1 ? "" : "s");
	else
		client_sendf(c, ":%s NOTICE %s :No messages found in %s.", hs, c->nick, q->target);
}

/* What a client without draft/message-redaction sees of a deletion: a NOTICE from the
 * one who deleted, naming whose message and when (its text is not repeated: that is what
 * was deleted), and the reason if one was given. The redactor itself is told otherwise. */
static void redact_notice(struct outmsg *o, struct client *c, const struct query_job *q)
{
	const struct out_row *r = &q->rows[0];
	time_t s = (time_t)(r->time_ms / 1000);
	struct tm tm;
	char when[16];
	gmtime_r(&s, &tm);
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	outmsg_init(o, false, NULL, ":%s NOTICE %s :(deleted a message from %.*s sent at %s UTC%s%s)", c->prefix,
	            q->target, (int)strcspn(r->sender, "!"), r->sender, when, q->reason[0] ? ": " : "", q->reason);
	outmsg_from(o, c);
}

static void finish_redact(struct client *c, struct query_job *q)
{
	bool histserv = q->kind == Q_LOOKUP && q->words[0] == 'H';
	const char *hs = "HistServ!HistServ@services.";
	if (q->n == 0 || !q->allowed) {
		if (histserv)
			client_sendf(c, ":%s NOTICE %s :%s", hs, c->nick,
			             q->n == 0 ? "No such message." : "You may only delete your own messages.");
		else if (q->n == 0)
			client_sendf(c, ":%s FAIL REDACT UNKNOWN_MSGID %s %s :This message does not exist or is too old",
			             ircd.conf->server_name, q->target, q->msgid);
		else
			client_sendf(c, ":%s FAIL REDACT REDACT_FORBIDDEN %s %s :You are not allowed to redact this message",
			             ircd.conf->server_name, q->target, q->msgid);
		return;
	}
	struct outmsg o;
	if (q->reason[0])
		outmsg_init(&o, false, NULL, ":%s REDACT %s %s :%s", c->prefix, q->target, q->msgid, q->reason);
	else
		outmsg_init(&o, false, NULL, ":%s REDACT %s %s", c->prefix, q->target, q->msgid);
	outmsg_from(&o, c);
	struct outmsg plain;
	redact_notice(&plain, c, q);
	struct channel *ch = q->target[0] == '#' ? channel_find(q->target) : NULL;
	if (ch) {
		channel_send(ch, &o, NULL, 0, CAPF(CAP_MESSAGE_REDACTION), 0);
		channel_send(ch, &plain, c, 0, 0, CAPF(CAP_MESSAGE_REDACTION));
	} else {
		struct client *t = client_find(q->target);
		if (t && t != c)
			outmsg_send(client_has_cap(t, CAP_MESSAGE_REDACTION) ? &o : &plain, t);
		if (client_has_cap(c, CAP_MESSAGE_REDACTION))
			outmsg_send(&o, c);
	}
	outmsg_release(&o);
	outmsg_release(&plain);
	if (histserv)
		client_sendf(c, ":%s NOTICE %s :Message %s deleted.", hs, c->nick, q->msgid);
}

/* Relays an accepted EDIT: "EDIT <target> <msgid> :<text>" to clients with
 * draft/message-edit, and the new text, marked "(edited) ", as an ordinary PRIVMSG (or
 * NOTICE) to the others. */
static void finish_edit(struct client *c, struct query_job *q)
{
	if (q->n == 0 || !q->allowed) {
		client_sendf(c, ":%s FAIL EDIT %s %s %s :%s", ircd.conf->server_name,
		             q->n == 0 ? "UNKNOWN_MSGID" : "EDIT_FORBIDDEN", q->target, q->msgid,
		             q->n == 0 ? "This message does not exist" : "Only the sender may edit a message");
		return;
	}
	struct outmsg edit, plain;
	outmsg_init(&edit, true, NULL, ":%s EDIT %s %s :%s", c->prefix, q->target, q->msgid, q->reason);
	/* clients without the capability see the new text marked, inside a CTCP ACTION */
	bool action = strncmp(q->reason, "\001ACTION ", 8) == 0;
	outmsg_init(&plain, true, NULL, ":%s %s %s :%s(edited) %s", c->prefix, q->rows[0].command, q->target,
	            action ? "\001ACTION " : "", action ? q->reason + 8 : q->reason);
	outmsg_from(&edit, c);
	outmsg_from(&plain, c);
	struct channel *ch = q->target[0] == '#' ? channel_find(q->target) : NULL;
	if (ch) {
		channel_send(ch, &edit, NULL, 0, CAPF(CAP_MESSAGE_EDIT), 0);
		channel_send(ch, &plain, c, 0, 0, CAPF(CAP_MESSAGE_EDIT));
	} else {
		struct client *t = client_find(q->target);
		if (t && t != c)
			outmsg_send(client_has_cap(t, CAP_MESSAGE_EDIT) ? &edit : &plain, t);
		if (client_has_cap(c, CAP_MESSAGE_EDIT))
			outmsg_send(&edit, c);
	}
	outmsg_release(&edit);
	outmsg_release(&plain);
}

static void query_done(struct job *job)
{
	struct query_job *q = (struct query_job *)job;
	struct client *c = client_by_id(q->client_id);
	if (c && !client_dead(c)) {
		bool quiet = q->kind == Q_REPLAY || q->kind == Q_CATCHUP; /* nobody asked: no reply owed */
		if (q->status != DB_OK && !quiet) {
			if (q->output == OUT_HISTSERV || (q->output == OUT_REDACT && q->words[0] == 'H'))
				client_sendf(c, ":HistServ!HistServ@services. NOTICE %s :History is temporarily unavailable.",
				             c->nick);
			else
			{
				char context[CHANNEL_MAX + 16];
				snprintf(context, sizeof context, "%s%s%s", q->sub, q->sub[0] ? " " : "", q->target[0] ? q->target : "*");
				reply_standard(c, "FAIL", q->output == OUT_SEARCH ? "SEARCH" : q->output == OUT_REDACT ? "REDACT"
				                                                                                       : "CHATHISTORY",
				               "MESSAGE_ERROR", context, "History is temporarily unavailable");
			}
		} else if (q->status != DB_OK) {
			/* a replay that failed is simply skipped */
		} else if (q->kind == Q_CATCHUP) {
			if (q->n)
				send_catchup(c, q);
		} else if (q->output == OUT_REDACT) {
			finish_redact(c, q);
		} else if (q->output == OUT_EDIT) {
			finish_edit(c, q);
		} else if (q->output == OUT_HISTSERV) {
			send_notices(c, q);
		} else if (q->kind == Q_TARGETS) {
			send_targets(c, q);
		} else if (q->output == OUT_SEARCH) {
			send_batch(c, q, "soju.im/search");
		} else if (q->n || q->kind != Q_REPLAY) {
			send_batch(c, q, "chathistory");
		}
		if (!quiet)
			client_release(c);
	}
	for (int i = 0; i < q->n; i++) {
		free(q->rows[i].tags);
		free(q->rows[i].text);
	}
	free(q->rows);
	free(q->keys);
	free(q->floors);
	free(q);
}

static struct query_job *query_new(struct client *c, enum query_kind kind)
{
	struct query_job *q = calloc(1, sizeof *q);
	if (!q)
		abort();
	q->job.run = query_run;
	q->job.done = query_done;
	q->client_id = session_asker(c)->id; /* a session gets its own results */
	q->kind = kind;
	return q;
}

static void query_submit(struct client *c, struct query_job *q)
{
	history_flush(); /* the read must see every message relayed before it */
	if (q->kind != Q_REPLAY && q->kind != Q_CATCHUP)
		client_hold(c);
	storage_submit(&q->job);
}

void history_replay_join(struct client *c, struct channel *ch)
{
	const struct conf *cf = ircd.conf;
	int lines = chanserv_history_setting(ch->name, false); /* ChanServ SET REPLAY */
	if (lines < 0)
		lines = cf->history_replay_lines;
	if (!cf->history_enabled || !lines || client_has_cap(c, CAP_CHATHISTORY))
		return;
	/* logged in: what it missed since it last saw the room; a guest: the last lines */
	struct query_job *q = query_new(c, c->account[0] ? Q_CATCHUP : Q_REPLAY);
	casemap_fold(q->owner, c->account, sizeof q->owner);
	snprintf(q->account, sizeof q->account, "%s", c->account);
	casemap_fold(q->key, ch->name, sizeof q->key);
	q->floor = ch->history_floor;
	snprintf(q->target, sizeof q->target, "%s", ch->name);
	q->limit = lines;
	q->since_ms = cf->history_replay_hours ? ((long long)time(NULL) - cf->history_replay_hours * 3600LL) * 1000 : 0;
	query_submit(c, q);
}

/* "msgid=...", "timestamp=..." or "*" into a seq; false if malformed. A timestamp gives
 * the first seq of its millisecond (*ts set: as a lower bound it must skip the whole
 * millisecond); a msgid is remembered in check so the query can verify it exists. */
static bool parse_selector(const char *s, unsigned long long *seq, bool *star, bool *ts, char check[24])
{
	*star = false;
	*ts = false;
	if (strcmp(s, "*") == 0) {
		*star = true;
		return true;
	}
	if (strncmp(s, "msgid=", 6) == 0) {
		snprintf(check, 24, "%s", s + 6);
		return outmsg_msgid_seq(s + 6, seq);
	}
	if (strncmp(s, "timestamp=", 10) == 0) {
		long long ms = outmsg_parse_time(s + 10);
		if (ms < 0)
			return false;
		*seq = (unsigned long long)ms << 12;
		*ts = true;
		return true;
	}
	return false;
}

/* Resolves target for c: its history key, its canonical name (the channel's name, or the
 * other user's nick as the client spelled it), and c's membership for a channel (NULL for a direct
 * conversation). Refuses, with a HistServ NOTICE or "FAIL <cmd> INVALID_TARGET [<sub>]
 * <target>", a channel c is not in (secret or not, it is answered the same as one that
 * does not exist) or a name that cannot be a nick. */
static bool resolve_target(struct client *c, const char *cmd, const char *sub, bool histserv, const char *target,
                           char *key, size_t size, unsigned long long *floor, char *canon, size_t csize,
                           struct membership **mem)
{
	*floor = 0;
	*mem = NULL;
	const char *why = NULL;
	struct channel *ch = NULL;
	if (target[0] == '#') {
		ch = channel_find(target);
		*mem = ch ? channel_member(ch, c) : NULL;
		if (!*mem)
			why = "You are not in that channel";
	} else if (!client_nick_valid(target, NICK_MAX)) {
		why = "No such target";
	}
	if (why) {
		char context[CHANNEL_MAX + 16];
		snprintf(context, sizeof context, "%s%s%s", sub ? sub : "", sub ? " " : "", target);
		if (histserv)
			client_sendf(c, ":HistServ!HistServ@services. NOTICE %s :%s %s.", c->nick,
			             ch || target[0] == '#' ? "You are not in" : "You cannot see the history of", target);
		else
			reply_standard(c, "FAIL", cmd, "INVALID_TARGET", context, why);
		return false;
	}
	if (ch) {
		casemap_fold(key, ch->name, size);
		*floor = ch->history_floor;
		snprintf(canon, csize, "%s", ch->name);
		return true;
	}
	char me[HID_MAX], them[HID_MAX];
	history_dm_identity(c, me, sizeof me);
	struct client *t = client_find(target);
	if (t && client_registered(t))
		history_dm_identity(t, them, sizeof them);
	else
		casemap_fold(them, target, sizeof them); /* offline: the name is taken as an account (a
		                                          * departed logged-out user's talk stays theirs) */
	history_dm_key(me, them, key, size);
	snprintf(canon, csize, "%s", target); /* as the client spelled it, as irctest expects */
	return true;
}

static void collect_keys(struct client *c, struct query_job *q)
{
	q->keys = calloc(c->nchannels + 1, sizeof *q->keys);
	q->floors = calloc(c->nchannels + 1, sizeof *q->floors);
	if (!q->keys || !q->floors)
		abort();
	for (struct membership *m = c->channels; m; m = m->client_next) {
		q->floors[q->nkeys] = m->chan->history_floor;
		casemap_fold(q->keys[q->nkeys++], m->chan->name, HKEY_MAX);
	}
}

void cmd_chathistory(struct client *c, struct msg *m)
{
	static const char *const subs[] = {"LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN", "TARGETS"};
	int kind = -1;
	for (int i = 0; i < 6; i++)
		if (strcasecmp(m->params[0], subs[i]) == 0)
			kind = i;
	if (kind < 0) {
		reply_standard(c, "FAIL", "CHATHISTORY", "INVALID_PARAMS", m->params[0], "Unknown subcommand");
		return;
	}
	int need = kind == Q_BETWEEN ? 5 : 4;
	if (m->nparams < need) {
		reply_standard(c, "FAIL", "CHATHISTORY", "NEED_MORE_PARAMS", subs[kind], "Missing parameters");
		return;
	}
	if (!ircd.conf->history_enabled) {
		reply_standard(c, "FAIL", "CHATHISTORY", "MESSAGE_ERROR", subs[kind], "History is disabled");
		return;
	}
	struct query_job *q = query_new(c, (enum query_kind)kind);
	const char *sel1 = m->params[kind == Q_TARGETS ? 1 : 2];
	const char *sel2 = kind == Q_BETWEEN ? m->params[3] : kind == Q_TARGETS ? m->params[2] : NULL;
	const char *lim = m->params[need - 1];
	unsigned long long s1 = 0, s2 = 0;
	bool star1, star2 = false, ts1, ts2 = false;
	char *end;
	long limit = strtol(lim, &end, 10);
	snprintf(q->sub, sizeof q->sub, "%s", subs[kind]);
	bool ok = parse_selector(sel1, &s1, &star1, &ts1, q->check_msgid[0]) &&
	          (!sel2 || parse_selector(sel2, &s2, &star2, &ts2, q->check_msgid[1])) && *end == '\0' && limit > 0 &&
	          (!star1 || kind == Q_LATEST) && !star2;
	if (!ok) {
		reply_standard(c, "FAIL", "CHATHISTORY", "INVALID_PARAMS", subs[kind], "Invalid selector or limit");
		free(q);
		return;
	}
	q->limit = limit > ircd.conf->chathistory_max ? ircd.conf->chathistory_max : (int)limit;
	/* a lower bound excludes its own millisecond when it is a timestamp */
	unsigned long long lo1 = ts1 ? s1 | 0xfff : s1, lo2 = ts2 ? s2 | 0xfff : s2;
	if (kind == Q_TARGETS) {
		q->a = s1 < s2 ? lo1 : lo2;
		q->b = s1 < s2 ? s2 : s1;
		collect_keys(c, q);
		history_dm_identity(c, q->account, sizeof q->account);
		snprintf(q->nick, sizeof q->nick, "%s", c->nick);
		query_submit(c, q);
		return;
	}
	struct membership *mem;
	if (!resolve_target(c, "CHATHISTORY", subs[kind], false, m->params[1], q->key, sizeof q->key, &q->floor,
	                    q->target, sizeof q->target, &mem)) {
		free(q);
		return;
	}
	unsigned long long top = ~0ULL >> 1; /* seq is stored as a signed 64-bit integer */
	switch (kind) {
	case Q_LATEST: q->a = star1 ? 0 : lo1; q->b = top; break;
	case Q_BEFORE: q->a = 0; q->b = s1; break;
	case Q_AFTER: q->a = lo1; q->b = top; break;
	case Q_AROUND: q->a = lo1; break; /* a timestamp: its whole millisecond is at or before */
	case Q_BETWEEN:
		q->a = s1 < s2 ? lo1 : lo2;
		q->b = s1 < s2 ? s2 : s1;
		if (s1 > s2)
			q->kind = Q_BEFORE; /* backwards: the newest of the range */
		break;
	}
	query_submit(c, q);
}

/* ---- a room registered mid-lifetime ---- */

struct forget_job {
	struct job job;
	char key[HKEY_MAX];
	unsigned long long floor;
};

static void forget_run(struct job *job)
{
	struct forget_job *f = (struct forget_job *)job;
	history_catch_up(); /* a journaled row of an earlier lifetime must not come back after */
	struct db_param p[2] = {DB_TEXT(f->key), DB_INT((long long)f->floor)};
	storage_exec("DELETE FROM messages WHERE target_key = ? AND seq < ?", p, 2, NULL, NULL);
}

static void forget_done(struct job *job)
{
	free(job);
}

/* Registered, the room keeps its history across restarts and empty spells from the
 * floor stored with it; what earlier lifetimes left below it is deleted now, as
 * housekeeping (a failed or lost delete leaves rows nobody can read). */
void history_channel_registered(const struct channel *ch, unsigned long long floor)
{
	if (!floor)
		return;
	struct forget_job *f = calloc(1, sizeof *f);
	if (!f)
		abort();
	f->job.run = forget_run;
	f->job.done = forget_done;
	casemap_fold(f->key, ch->name, sizeof f->key);
	f->floor = floor;
	history_flush(); /* rows of earlier lifetimes still pending are deleted too */
	storage_submit(&f->job);
}

/* ---- REDACT, SEARCH, and HistServ's entry points ---- */

void history_redact(struct client *c, const char *target, const char *msgid, const char *reason, bool histserv)
{
	struct query_job *q = query_new(c, Q_LOOKUP);
	q->output = OUT_REDACT;
	q->limit = 1;
	snprintf(q->target, sizeof q->target, "%s", target);
	snprintf(q->msgid, sizeof q->msgid, "%s", msgid);
	snprintf(q->reason, sizeof q->reason, "%s", reason ? reason : "");
	snprintf(q->account, sizeof q->account, "%s", c->account);
	snprintf(q->nick, sizeof q->nick, "%s", c->nick);
	q->nick_since = c->nick_since;
	q->words[0] = histserv ? 'H' : '\0';
	struct membership *m;
	if (!resolve_target(c, "REDACT", NULL, histserv, target, q->key, sizeof q->key, &q->floor, q->target,
	                    sizeof q->target, &m)) {
		free(q);
		return;
	}
	q->is_op = m && (m->status & MEMBER_OP);
	query_submit(c, q);
}

void cmd_redact(struct client *c, struct msg *m)
{
	history_redact(c, m->params[0], m->params[1], m->nparams > 2 ? m->params[2] : NULL, false);
}

/* Starts a search of target (NULL: every channel c is in) for words. */
static void start_search(struct client *c, const char *target, const char *words, const char *from, int limit,
                         unsigned long long after, unsigned long long before, enum query_output out)
{
	struct query_job *q = query_new(c, Q_SEARCH);
	q->output = out;
	q->limit = limit;
	q->a = after;
	q->b = before;
	snprintf(q->words, sizeof q->words, "%s", words);
	snprintf(q->target, sizeof q->target, "%s", target ? target : "*");
	/* from=nick: the sender's prefix starts with "nick!"; a nick's '_' would be a LIKE
	 * wildcard, so it is escaped ('=' is in no nick) */
	size_t n = 0;
	for (const char *f = from ? from : ""; *f && n + 4 < sizeof q->from; f++) {
		if (*f == '_' || *f == '%' || *f == '=')
			q->from[n++] = '=';
		q->from[n++] = *f;
	}
	snprintf(q->from + n, sizeof q->from - n, "%s", n ? "!%" : "%");
	if (target) {
		q->keys = calloc(1, sizeof *q->keys);
		q->floors = calloc(1, sizeof *q->floors);
		if (!q->keys || !q->floors)
			abort();
		struct membership *m;
		if (!resolve_target(c, "SEARCH", NULL, out == OUT_HISTSERV, target, q->keys[0], HKEY_MAX, &q->floors[0],
		                    q->target, sizeof q->target, &m)) {
			free(q->keys);
			free(q->floors);
			free(q);
			return;
		}
		q->nkeys = 1;
	} else {
		collect_keys(c, q);
	}
	query_submit(c, q);
}

/* SEARCH in=#chan;from=...;after=...;before=...;text=...;limit=n (soju.im/search) */
void cmd_search(struct client *c, struct msg *m)
{
	char buf[512], target[CHANNEL_MAX + 1] = "", text[200] = "", from[NICK_MAX + 1] = "";
	unsigned long long after = 0, before = ~0ULL >> 1;
	int limit = 50;
	snprintf(buf, sizeof buf, "%s", m->params[0]);
	char *save;
	bool ok = true;
	for (char *kv = strtok_r(buf, ";", &save); kv && ok; kv = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq) {
			ok = false;
			break;
		}
		*eq++ = '\0';
		tag_unescape(eq);
		long long ms;
		if (strcmp(kv, "in") == 0)
			snprintf(target, sizeof target, "%s", eq);
		else if (strcmp(kv, "text") == 0)
			snprintf(text, sizeof text, "%s", eq);
		else if (strcmp(kv, "limit") == 0)
			ok = (limit = atoi(eq)) > 0;
		else if (strcmp(kv, "after") == 0 && (ms = outmsg_parse_time(eq)) >= 0)
			after = ((unsigned long long)ms << 12) | 0xfff; /* after and excluding that millisecond */
		else if (strcmp(kv, "before") == 0 && (ms = outmsg_parse_time(eq)) >= 0)
			before = (unsigned long long)ms << 12;
		else if (strcmp(kv, "from") == 0)
			ok = client_nick_valid(eq, NICK_MAX) && snprintf(from, sizeof from, "%s", eq) > 0;
		else
			ok = false;
	}
	if (!ok || !text[0]) {
		reply_standard(c, "FAIL", "SEARCH", "INVALID_PARAMS", m->params[0], "Invalid search attributes");
		return;
	}
	if (limit > ircd.conf->chathistory_max)
		limit = ircd.conf->chathistory_max;
	start_search(c, target[0] ? target : NULL, text, from, limit, after, before, OUT_SEARCH);
}

void history_histserv_search(struct client *c, const char *target, const char *words)
{
	start_search(c, target, words, NULL, ircd.conf->chathistory_max < 20 ? ircd.conf->chathistory_max : 20, 0,
	             ~0ULL >> 1, OUT_HISTSERV);
}

void history_histserv_play(struct client *c, const char *target, int count)
{
	struct query_job *q = query_new(c, Q_LATEST);
	q->output = OUT_HISTSERV;
	int max = ircd.conf->chathistory_max;
	q->limit = count > 0 ? (count < max ? count : max) : (max < 20 ? max : 20);
	q->a = 0;
	q->b = ~0ULL >> 1;
	snprintf(q->target, sizeof q->target, "%s", target);
	struct membership *m;
	if (!resolve_target(c, "PLAY", NULL, true, target, q->key, sizeof q->key, &q->floor, q->target, sizeof q->target,
	                    &m)) {
		free(q);
		return;
	}
	query_submit(c, q);
}

/* EDIT <target> <msgid> :<new text> (draft/message-edit): only the original sender. */
void cmd_edit(struct client *c, struct msg *m)
{
	const char *target = m->params[0], *text = m->params[2];
	if (!*text || !utf8_valid(text, strlen(text))) {
		reply_standard(c, "FAIL", "EDIT", "INVALID_TEXT", target, "The new text must be non-empty UTF-8");
		return;
	}
	struct query_job *q = query_new(c, Q_LOOKUP);
	q->output = OUT_EDIT;
	q->limit = 1;
	snprintf(q->target, sizeof q->target, "%s", target);
	snprintf(q->msgid, sizeof q->msgid, "%s", m->params[1]);
	snprintf(q->reason, sizeof q->reason, "%s", text);
	snprintf(q->account, sizeof q->account, "%s", c->account);
	snprintf(q->nick, sizeof q->nick, "%s", c->nick);
	q->nick_since = c->nick_since;
	struct membership *mem;
	if (!resolve_target(c, "EDIT", NULL, false, target, q->key, sizeof q->key, &q->floor, q->target, sizeof q->target,
	                    &mem)) {
		free(q);
		return;
	}
	query_submit(c, q);
}
