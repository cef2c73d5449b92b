/* offline.c - direct messages to a registered account that is not online: kept, and
 * delivered at its next login.
 *
 * A logged-in user's PRIVMSG or NOTICE to a nick nobody uses is looked up on the storage
 * thread: when the nick is an account (or a nick grouped to one) the message is written
 * with the conversation's other messages (key "@a,b", both identities accounts) and a row
 * of offline_messages marks it as waiting, in one transaction; only after the commit does
 * the sender get its echo and "301 <nick> :<nick> is offline; ..." (a NOTICE gets no
 * reply), so the 301 means the message survives a crash. A nick that is no account gets
 * 401 as before. Guests cannot leave messages (a throwaway connection must not fill
 * mailboxes), and a recipient holds at most history.offline_max waiting messages, one
 * sender at most a quarter of them.
 *
 * When the account's next session starts (history_session_start), the waiting messages
 * are read: a plain client gets them replayed between two server NOTICEs, a client with
 * draft/chathistory a NOTICE counting them (it reads them with CHATHISTORY). Then they
 * stop waiting (the rows are deleted) and, after a replay, the conversations' read
 * markers move past them: a second login shows nothing again. With
 * history.direct_messages off the messages are kept only until delivered: everyone gets
 * the replay and the messages are deleted with their rows. */
#include "history.h"
#include "session.h"
#include "history_int.h"

#include "account.h"
#include "cap.h"
#include "casemap.h"
#include "client.h"
#include "ircd.h"
#include "outmsg.h"
#include "reply.h"
#include "storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFFLINE_MSG "is offline; your message will be delivered when they log in"

/* ---- keeping a message ---- */

enum keep_status { KEEP_STORED, KEEP_NO_ACCOUNT, KEEP_FULL, KEEP_FAILED };

struct keep_job {
	struct job job;
	uint64_t client_id;
	struct outmsg o; /* the message, unsent: echoed to the sender once stored */
	bool notice, echo;
	char recipient[HID_MAX]; /* folded nick asked for, then the owning account's key */
	char sender_key[HID_MAX];
	char target[NICK_MAX + 1]; /* the nick as the sender wrote it */
	char prefix[PREFIX_MAX + 1], account[NICK_MAX + 1], command[8];
	char *tags, *text;
	char *away; /* the 301 text for an always-on recipient, NULL for an offline one */
	bool known; /* recipient is already the account's key (always-on) */
	int max;
	enum keep_status status;
};

static void row_text(void *arg, int ncols, const char *const *cols)
{
	if (ncols > 0 && cols[0])
		snprintf(arg, HID_MAX, "%s", cols[0]);
}

static void row_counts(void *arg, int ncols, const char *const *cols)
{
	long long *n = arg;
	n[0] = ncols > 0 && cols[0] ? atoll(cols[0]) : 0;
	n[1] = ncols > 1 && cols[1] ? atoll(cols[1]) : 0;
}

/* The account owning j->recipient (a nick): its key into j->recipient, or false. */
static bool find_owner(struct keep_job *j, enum db_status *s)
{
	char owner[HID_MAX] = "";
	struct db_param k = DB_TEXT(j->recipient);
	*s = storage_exec("SELECT name_key FROM accounts WHERE name_key = ? AND verified = 1", &k, 1, row_text, owner);
	if (*s == DB_OK && !owner[0])
		*s = storage_exec("SELECT a.name_key FROM accounts a JOIN account_nicks n ON n.account_key = a.name_key "
		                  "WHERE n.nick_key = ? AND a.verified = 1",
		                  &k, 1, row_text, owner);
	if (*s != DB_OK || !owner[0])
		return false;
	snprintf(j->recipient, sizeof j->recipient, "%s", owner);
	return true;
}

static void keep_run(struct job *job)
{
	struct keep_job *j = (struct keep_job *)job;
	enum db_status s;
	j->status = KEEP_FAILED;
	if (!j->known && !find_owner(j, &s)) {
		if (s == DB_OK)
			j->status = KEEP_NO_ACCOUNT;
		return;
	}
	long long n[2] = {0, 0}; /* waiting for the recipient; from this sender */
	struct db_param c[2] = {DB_TEXT(j->sender_key), DB_TEXT(j->recipient)};
	if (storage_exec("SELECT COUNT(*), SUM(CASE WHEN sender_key = ? THEN 1 ELSE 0 END) FROM offline_messages "
	                 "WHERE account_key = ?",
	                 c, 2, row_counts, n) != DB_OK)
		return;
	int share = j->max / 4 > 0 ? j->max / 4 : 1;
	if (n[0] >= j->max || n[1] >= share) {
		j->status = KEEP_FULL;
		return;
	}
	char key[HKEY_MAX];
	history_dm_key(j->sender_key, j->recipient, key, sizeof key);
	static char sql[200]; /* storage thread only */
	if (!sql[0])
		snprintf(sql, sizeof sql,
		         "%s INTO messages (seq, msgid, target_key, target, sender, account, command, tags, text, time) "
		         "VALUES (?,?,?,?,?,?,?,?,?,?)",
		         storage_insert_ignore());
	struct db_param m[10] = {DB_INT((long long)j->o.seq), DB_TEXT(j->o.msgid), DB_TEXT(key), DB_TEXT(j->target),
	                         DB_TEXT(j->prefix),         DB_TEXT(j->account), DB_TEXT(j->command),
	                         DB_TEXT(j->tags),           DB_TEXT(j->text),    DB_INT(j->o.time_ms)};
	struct db_param w[3] = {DB_TEXT(j->recipient), DB_INT((long long)j->o.seq), DB_TEXT(j->sender_key)};
	if (storage_begin() != DB_OK)
		return;
	s = storage_exec(sql, m, 10, NULL, NULL);
	if (s == DB_OK)
		s = storage_exec("INSERT INTO offline_messages (account_key, seq, sender_key) VALUES (?, ?, ?)", w, 3, NULL,
		                 NULL);
	enum db_status e = storage_end(s == DB_OK);
	if (s == DB_OK && e == DB_OK)
		j->status = KEEP_STORED;
}

static void keep_done(struct job *job)
{
	struct keep_job *j = (struct keep_job *)job;
	struct client *c = client_by_id(j->client_id);
	if (c && !client_dead(c)) {
		switch (j->status) {
		case KEEP_STORED:
			if (j->echo)
				outmsg_send(&j->o, c);
			if (!j->notice && j->away) {
				reply(c, RPL_AWAY, j->target, j->away);
			} else if (!j->notice) {
				char why[NICK_MAX + sizeof OFFLINE_MSG + 2];
				snprintf(why, sizeof why, "%s " OFFLINE_MSG, j->target);
				reply(c, RPL_AWAY, j->target, why);
			}
			break;
		case KEEP_NO_ACCOUNT:
			if (!j->notice)
				reply(c, ERR_NOSUCHNICK, j->target);
			break;
		case KEEP_FULL:
			if (!j->notice)
				reply_standard(c, "FAIL", j->command, "MAILBOX_FULL", j->target,
				               "That user is offline and has too many messages waiting");
			break;
		case KEEP_FAILED:
			if (!j->notice)
				reply_standard(c, "FAIL", j->command, "TEMPORARILY_UNAVAILABLE", j->target,
				               "That user is offline and the message could not be kept; try again shortly");
			break;
		}
		client_release(c);
	}
	outmsg_release(&j->o);
	free(j->away);
	free(j->tags);
	free(j->text);
	free(j);
}

bool offline_keep(struct client *c, const char *command, const char *target, const struct outmsg *o,
                  const char *text, const char *tags, bool echo)
{
	return offline_keep_for(c, command, target, NULL, NULL, o, text, tags, echo);
}

bool offline_keep_for(struct client *c, const char *command, const char *target, const char *account,
                      const char *away, const struct outmsg *o, const char *text, const char *tags, bool echo)
{
	const struct conf *cf = ircd.conf;
	if (!c->account[0] || !cf->history_enabled || !cf->history_offline || !text || !o->msgid[0])
		return false;
	struct keep_job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->job.run = keep_run;
	j->job.done = keep_done;
	j->client_id = session_asker(c)->id; /* a session gets its own results */
	j->o = *o; /* nothing was serialized yet: the copy owns no buffer */
	j->tags = tags ? strdup(tags) : NULL;
	j->o.client_tags = j->tags;
	j->text = strdup(text);
	if (!j->text)
		abort();
	j->notice = strcmp(command, "NOTICE") == 0;
	j->echo = echo;
	casemap_fold(j->recipient, account ? account : target, sizeof j->recipient);
	j->known = account != NULL;
	if (away && !(j->away = strdup(away)))
		abort();
	casemap_fold(j->sender_key, c->account, sizeof j->sender_key);
	snprintf(j->target, sizeof j->target, "%s", target);
	snprintf(j->prefix, sizeof j->prefix, "%s", c->prefix);
	snprintf(j->account, sizeof j->account, "%s", c->account);
	snprintf(j->command, sizeof j->command, "%s", command);
	j->max = cf->history_offline_max;
	client_hold(c); /* the sender's next message to them is kept after this one */
	storage_submit(&j->job);
	return true;
}

/* ---- delivering at login ---- */

#define DELIVER_MAX 1000 /* rows read per login at most (offline_max bounds them anyway) */

struct deliver_job {
	struct job job;
	uint64_t client_id;
	char owner[HID_MAX];
	bool purge; /* history.direct_messages off: delete the messages once delivered */
	unsigned long long upto; /* the delete: rows up to this seq */
	struct out_rows out;
	enum db_status status;
};

static void deliver_run(struct job *job)
{
	struct deliver_job *j = (struct deliver_job *)job;
	history_catch_up();
	struct db_param p[2] = {DB_TEXT(j->owner), DB_INT(DELIVER_MAX)};
	j->status = storage_exec("SELECT m.seq, m.msgid, m.target, m.sender, m.account, m.command, m.tags, m.text, "
	                         "m.time, m.edited FROM offline_messages o JOIN messages m ON m.seq = o.seq "
	                         "WHERE o.account_key = ? AND m.redacted = 0 ORDER BY o.seq LIMIT ?",
	                         p, 2, history_row_out, &j->out);
	struct db_param k = DB_TEXT(j->owner);
	if (j->status == DB_OK && j->out.n == 0) /* what waits was redacted or purged since */
		storage_exec("DELETE FROM offline_messages WHERE account_key = ?", &k, 1, NULL, NULL);
}

static void forget_run(struct job *job)
{
	struct deliver_job *j = (struct deliver_job *)job;
	struct db_param p[2] = {DB_TEXT(j->owner), DB_INT((long long)j->upto)};
	if (j->purge)
		storage_exec("DELETE FROM messages WHERE seq IN (SELECT seq FROM offline_messages WHERE account_key = ? "
		             "AND seq <= ?)",
		             p, 2, NULL, NULL);
	storage_exec("DELETE FROM offline_messages WHERE account_key = ? AND seq <= ?", p, 2, NULL, NULL);
}

static void forget_done(struct job *job)
{
	struct deliver_job *j = (struct deliver_job *)job;
	history_rows_free(&j->out);
	free(j);
}

/* The nick part of a sender prefix. */
static void sender_nick(const struct out_row *r, char *out, size_t size)
{
	snprintf(out, size, "%.*s", (int)strcspn(r->sender, "!"), r->sender);
}

static void replay(struct client *c, struct deliver_job *j)
{
	const char *srv = ircd.conf->server_name;
	int n = j->out.n;
	client_sendf(c, ":%s NOTICE %s :— %d message%s sent to you while you were offline —", srv, c->nick, n,
	             n == 1 ? "" : "s");
	for (int i = 0; i < n; i++) {
		struct out_row *r = &j->out.rows[i];
		snprintf(r->target, sizeof r->target, "%s", c->nick); /* the nick it logged in with now */
		history_send_row(c, r, NULL);
	}
	client_sendf(c, ":%s NOTICE %s :— end of offline messages —", srv, c->nick);
	/* each conversation is read up to its last replayed message */
	for (int i = n - 1; i >= 0; i--) {
		char nick[NICK_MAX + 1];
		sender_nick(&j->out.rows[i], nick, sizeof nick);
		bool later = false;
		for (int k = i + 1; k < n && !later; k++) {
			char other[NICK_MAX + 1];
			sender_nick(&j->out.rows[k], other, sizeof other);
			later = casemap_cmp(nick, other) == 0;
		}
		if (!later)
			readmarker_advance(c, nick, j->out.rows[i].time_ms);
	}
}

/* A CHATHISTORY client reads them itself: it is told how many and from whom. */
static void tell_unread(struct client *c, struct deliver_job *j)
{
	char from[400] = "";
	size_t len = 0;
	int senders = 0;
	for (int i = 0; i < j->out.n; i++) {
		char nick[NICK_MAX + 1];
		sender_nick(&j->out.rows[i], nick, sizeof nick);
		bool seen = false;
		for (int k = 0; k < i && !seen; k++) {
			char other[NICK_MAX + 1];
			sender_nick(&j->out.rows[k], other, sizeof other);
			seen = casemap_cmp(nick, other) == 0;
		}
		if (seen)
			continue;
		if (len + strlen(nick) + 8 >= sizeof from) {
			len += (size_t)snprintf(from + len, sizeof from - len, ", ...");
			break;
		}
		len += (size_t)snprintf(from + len, sizeof from - len, "%s%s", senders++ ? ", " : "", nick);
	}
	client_sendf(c, ":%s NOTICE %s :You have %d unread message%s sent while you were offline, from %s (in your "
	                "direct conversations: CHATHISTORY)",
	             ircd.conf->server_name, c->nick, j->out.n, j->out.n == 1 ? "" : "s", from);
}

static void deliver_done(struct job *job)
{
	struct deliver_job *j = (struct deliver_job *)job;
	struct client *c = client_by_id(j->client_id);
	bool delivered = false;
	if (c && !client_dead(c) && client_registered(c) && j->status == DB_OK && j->out.n) {
		if (client_has_cap(c, CAP_CHATHISTORY) && !j->purge)
			tell_unread(c, j);
		else
			replay(c, j);
		delivered = true;
	}
	if (!delivered) { /* gone, or nothing: they keep waiting */
		history_rows_free(&j->out);
		free(j);
		return;
	}
	j->upto = j->out.rows[j->out.n - 1].seq;
	j->job.run = forget_run;
	j->job.done = forget_done;
	storage_submit(&j->job); /* a failed delete only means they are shown once more */
}

void offline_deliver(struct client *c)
{
	if (!c->account[0] || !client_registered(c))
		return;
	const struct conf *cf = ircd.conf;
	if (!cf->history_enabled)
		return;
	struct deliver_job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->job.run = deliver_run;
	j->job.done = deliver_done;
	j->client_id = session_asker(c)->id; /* a session gets its own results */
	j->purge = !cf->history_direct;
	casemap_fold(j->owner, c->account, sizeof j->owner);
	history_flush();
	storage_submit(&j->job);
}

void history_session_start(struct client *c)
{
	if (!c->account[0] || !client_registered(c))
		return;
	readmarker_session_start(c);
	offline_deliver(c);
}
