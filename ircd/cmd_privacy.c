/* cmd_privacy.c - protecting users from each other: SILENCE (server-side ignore by mask
 * or account) and REPORT (users report a nick or a message to the operators), with
 * REPORTS for operators to read and close them. */
#include "account.h"
#include "session.h"
#include "audit.h"
#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "cloak.h"
#include "command.h"
#include "history.h"
#include "ircd.h"
#include "match.h"
#include "oper.h"
#include "parse.h"
#include "reply.h"
#include "storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SILENCE_MAX 15

/* A mask on the sender's cloak holds whether its +x is on or off ("MODE me -x" evades no
 * SILENCE). Unlike channel bans, its real address is not tried: anyone may SILENCE, and
 * that would tell them which address a cloaked user has. */
static bool silence_matches(const char *mask, const struct client *s)
{
	if (match_mask(mask, s->prefix))
		return true;
	if (!ircd.conf->cloak_secret[0] || (s->umodes & UMODE('x')))
		return false; /* with +x the prefix already has the cloak */
	char cloak[HOST_MAX + 1], other[PREFIX_MAX + 1];
	cloak_host(ircd.conf->cloak_secret, ircd.conf->cloak_suffix, s->conn.ip, cloak, sizeof cloak);
	snprintf(other, sizeof other, "%s!%s@%s", s->nick, s->user, cloak);
	return match_mask(mask, other);
}

bool client_silences(const struct client *target, const struct client *sender)
{
	for (unsigned i = 0; i < target->nsilence; i++) {
		const char *m = target->silence[i];
		if (m[0] == '$' && m[1] == 'a' && m[2] == ':') {
			if (sender->account[0] && match_mask(m + 3, sender->account))
				return true;
		} else if (silence_matches(m, sender)) {
			return true;
		}
	}
	return false;
}

void cmd_silence(struct client *c, struct msg *m)
{
	if (m->nparams == 0) {
		for (unsigned i = 0; i < c->nsilence; i++) {
			char line[PREFIX_MAX + 80];
			snprintf(line, sizeof line, "%s %s", c->nick, c->silence[i]);
			reply(c, RPL_SILELIST, line);
		}
		reply(c, RPL_ENDOFSILELIST);
		return;
	}
	const char *arg = m->params[0];
	bool remove = arg[0] == '-';
	if (arg[0] == '+' || arg[0] == '-')
		arg++;
	if (!*arg) {
		reply(c, ERR_NEEDMOREPARAMS, "SILENCE");
		return;
	}
	char mask[PREFIX_MAX + 16];
	match_normalize_ban(arg, mask, sizeof mask);
	for (unsigned i = 0; i < c->nsilence; i++) {
		if (casemap_cmp(c->silence[i], mask) != 0)
			continue;
		if (remove) {
			memmove(c->silence[i], c->silence[--c->nsilence], sizeof c->silence[0]);
			client_sendf(c, ":%s SILENCE -%s", c->prefix, mask);
		}
		return;
	}
	if (remove)
		return;
	if (c->nsilence >= SILENCE_MAX) {
		reply(c, ERR_SILELISTFULL, mask);
		return;
	}
	c->silence = realloc(c->silence, (c->nsilence + 1) * sizeof *c->silence);
	if (!c->silence)
		abort();
	snprintf(c->silence[c->nsilence++], sizeof c->silence[0], "%s", mask);
	client_sendf(c, ":%s SILENCE +%s", c->prefix, mask);
}

/* A report about a message: the storage thread copies the message, its sender and the
 * sender's account from history into the report, so operators see what was said. */
struct report_job {
	struct job job;
	uint64_t client_id;
	char nick[NICK_MAX + 1], account[NICK_MAX + 1], msgid[32], reason[400];
	enum db_status status;
};

#define REPORT_UNAVAILABLE "Reports are temporarily unavailable; try again shortly"

static void report_run(struct job *job)
{
	history_catch_up(); /* the reported message may have been spilled to the journal */
	struct report_job *j = (struct report_job *)job;
	struct db_param p[6] = {DB_INT(time(NULL)), DB_TEXT(j->nick), DB_TEXT(j->account[0] ? j->account : NULL),
	                        DB_TEXT(j->msgid), DB_TEXT(j->reason), DB_TEXT(j->msgid)};
	/* in a transaction, like storage_txn: a server that stops answering does not apply it later */
	j->status = storage_begin();
	if (j->status == DB_OK) {
		j->status = storage_exec("INSERT INTO reports (created, reporter_nick, reporter_account, target, target_nick, "
		                         "target_account, target_host, msgid, message, reason) "
		                         "SELECT ?, ?, ?, ?, sender, account, sender, msgid, text, ? FROM messages WHERE msgid = ?",
		                         p, 6, NULL, NULL);
		enum db_status e = storage_end(j->status == DB_OK);
		if (j->status == DB_OK)
			j->status = e;
	}
}

/* The report is acknowledged (and the operators told) once it is stored. */
static void report_result(struct client *c, enum db_status status, const char *from, const char *target,
                          const char *about, const char *reason)
{
	if (status != DB_OK) {
		if (c)
			reply_standard(c, "FAIL", "REPORT", "TEMPORARILY_UNAVAILABLE", target, REPORT_UNAVAILABLE);
		return;
	}
	snotice("REPORT from %s about %s: %s", from, about, reason);
	audit(c, "REPORT target=%s about=%s reason=\"%s\"", target, about, reason);
	if (c)
		reply_standard(c, "NOTE", "REPORT", "RECEIVED", target, "Your report was sent to the operators");
}

static void report_done(struct job *job)
{
	struct report_job *j = (struct report_job *)job;
	struct client *c = client_by_id(j->client_id);
	if (c && client_dead(c))
		c = NULL;
	if (c)
		c->flags &= ~CLI_WAITING;
	report_result(c, j->status, j->nick, j->msgid, j->msgid, j->reason);
	if (c && !(c->flags & CLI_WAITING))
		client_release(c);
	free(job);
}

static void report_by_msgid(struct client *c, const char *msgid, const char *reason)
{
	history_flush(); /* the message may still be in the pending batch */
	struct report_job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->job.run = report_run;
	j->job.done = report_done;
	j->client_id = session_asker(c)->id; /* a session gets its own results */
	snprintf(j->nick, sizeof j->nick, "%s", c->nick);
	snprintf(j->account, sizeof j->account, "%s", c->account);
	snprintf(j->msgid, sizeof j->msgid, "%s", msgid);
	snprintf(j->reason, sizeof j->reason, "%s", reason);
	client_hold(c);
	storage_submit(&j->job);
}

struct nick_report {
	char from[NICK_MAX + 1], target[NICK_MAX + 1], about[PREFIX_MAX + 1], reason[400];
};

static void nick_report_done(struct client *c, enum db_status status, void *arg)
{
	struct nick_report *r = arg;
	report_result(c, status, r->from, r->target, r->about, r->reason);
	free(r);
}

void cmd_report(struct client *c, struct msg *m)
{
	const char *target = m->params[0];
	const char *reason = m->params[1];
	struct client *t = client_find(target);
	bool by_msgid = !t && outmsg_msgid_seq(target, &(unsigned long long){0});
	if ((!t || !client_registered(t)) && !by_msgid) {
		reply_standard(c, "FAIL", "REPORT", "INVALID_TARGET", target, "No such nick or message id");
		return;
	}
	if (!*reason) {
		reply_standard(c, "FAIL", "REPORT", "NEED_REASON", target, "Give a reason for the report");
		return;
	}
	if (by_msgid) {
		report_by_msgid(c, target, reason);
		return;
	}
	struct db_param p[10] = {
	    DB_INT(time(NULL)),
	    DB_TEXT(c->nick),
	    DB_TEXT(c->account[0] ? c->account : NULL),
	    DB_TEXT(target),
	    DB_TEXT(t ? t->nick : NULL),
	    DB_TEXT(t && t->account[0] ? t->account : NULL),
	    DB_TEXT(t ? t->conn.ip : NULL),
	    DB_TEXT(by_msgid ? target : NULL),
	    DB_TEXT(NULL), /* message text: filled from history once history is stored */
	    DB_TEXT(reason),
	};
	struct storage_txn *txn = storage_txn_new();
	storage_txn_add(txn, "INSERT INTO reports (created, reporter_nick, reporter_account, target, target_nick, "
	                     "target_account, target_host, msgid, message, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                p, 10);
	struct nick_report *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	snprintf(r->from, sizeof r->from, "%s", c->nick);
	snprintf(r->target, sizeof r->target, "%s", target);
	snprintf(r->about, sizeof r->about, "%s", t ? t->prefix : target);
	snprintf(r->reason, sizeof r->reason, "%s", reason);
	client_store(c, txn, nick_report_done, r);
}

/* REPORTS [LIST | CLOSE <id>] for operators. The list is read on the storage thread. */
struct reports_job {
	struct job job;
	uint64_t client_id;
	long long close_id;
	char closer[64];
	bool see_hidden; /* the reader may see the reported user's address */
	char lines[20][400];
	int nlines;
	enum db_status status;
};

static void report_row(void *arg, int ncols, const char *const *cols)
{
	struct reports_job *j = arg;
	if (ncols < 8 || j->nlines >= 20)
		return;
	const char *host = j->see_hidden ? cols[5] : NULL; /* the real address of the target */
	snprintf(j->lines[j->nlines++], sizeof j->lines[0], "#%s by %s%s%s about %s (%s%s%s): %s%s%s%s", cols[0],
	         cols[1] ? cols[1] : "?", cols[2] ? "/" : "", cols[2] ? cols[2] : "", cols[3] ? cols[3] : "?",
	         cols[4] ? cols[4] : "-", host ? " " : "", host ? host : "", cols[6] ? cols[6] : "",
	         cols[7] ? " [message: \"" : "", cols[7] ? cols[7] : "", cols[7] ? "\"]" : "");
}

static void reports_run(struct job *job)
{
	struct reports_job *j = (struct reports_job *)job;
	if (j->close_id) {
		struct db_param p[2] = {DB_TEXT(j->closer), DB_INT(j->close_id)};
		j->status = storage_exec("UPDATE reports SET closed_by = ? WHERE id = ?", p, 2, NULL, NULL);
		return;
	}
	j->status = storage_exec("SELECT id, reporter_nick, reporter_account, target, target_account, target_host, "
	                         "reason, message FROM reports WHERE closed_by IS NULL ORDER BY id LIMIT 20",
	                         NULL, 0, report_row, j);
}

static void reports_done(struct job *job)
{
	struct reports_job *j = (struct reports_job *)job;
	struct client *c = client_by_id(j->client_id);
	if (c && !client_dead(c)) {
		const char *me = ircd.conf->server_name;
		if (j->status != DB_OK)
			client_sendf(c, ":%s NOTICE %s :REPORTS: the database is unavailable", me, c->nick);
		else if (j->close_id)
			client_sendf(c, ":%s NOTICE %s :REPORTS: closed #%lld", me, c->nick, j->close_id);
		else {
			for (int i = 0; i < j->nlines; i++)
				client_sendf(c, ":%s NOTICE %s :REPORTS: %s", me, c->nick, j->lines[i]);
			client_sendf(c, ":%s NOTICE %s :REPORTS: %d open report%s", me, c->nick, j->nlines,
			             j->nlines == 1 ? "" : "s");
		}
	}
	free(j);
}

void cmd_reports(struct client *c, struct msg *m)
{
	if (!oper_has(c, PRIV_REPORTS))
		return;
	struct reports_job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->job.run = reports_run;
	j->job.done = reports_done;
	j->client_id = session_asker(c)->id; /* a session gets its own results */
	snprintf(j->closer, sizeof j->closer, "%s", c->nick);
	j->see_hidden = (c->privs & PRIV_SEE_HIDDEN) != 0;
	if (m->nparams >= 2 && strcasecmp(m->params[0], "CLOSE") == 0)
		j->close_id = atoll(m->params[1]);
	storage_submit(&j->job);
}
