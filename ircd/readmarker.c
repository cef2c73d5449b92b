/* readmarker.c - draft/read-marker: MARKREAD stores, per account and target, the time
 * up to which the user has read; every connection of that account with the capability
 * is told, so a user's other devices clear their unread state. Markers only move
 * forward. */
#include "cap.h"
#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "command.h"
#include "history.h"
#include "ircd.h"
#include "parse.h"
#include "reply.h"
#include "storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct marker_job {
	struct job job;
	uint64_t client_id;
	char account[NICK_MAX + 1];
	char account_key[NICK_MAX + 1];
	char target[CHANNEL_MAX + 1];
	char target_key[CHANNEL_MAX + 1];
	long long want;   /* -1: just read the marker */
	long long stored; /* -1: none */
	bool changed;
	enum db_status status;
};

static void row_time(void *arg, int ncols, const char *const *cols)
{
	if (ncols > 0 && cols[0])
		*(long long *)arg = atoll(cols[0]);
}

static void marker_run(struct job *job)
{
	struct marker_job *j = (struct marker_job *)job;
	struct db_param k[2] = {DB_TEXT(j->account_key), DB_TEXT(j->target_key)};
	j->stored = -1;
	j->status = storage_exec("SELECT time_ms FROM read_markers WHERE account_key = ? AND target_key = ?", k, 2,
	                         row_time, &j->stored);
	if (j->status != DB_OK || j->want < 0 || j->want <= j->stored)
		return;
	struct db_param p[3] = {DB_INT(j->want), DB_TEXT(j->account_key), DB_TEXT(j->target_key)};
	if (j->stored < 0)
		j->status = storage_exec("INSERT INTO read_markers (time_ms, account_key, target_key) VALUES (?, ?, ?)", p, 3,
		                         NULL, NULL);
	else
		j->status = storage_exec("UPDATE read_markers SET time_ms = ? WHERE account_key = ? AND target_key = ?", p,
		                         3, NULL, NULL);
	if (j->status == DB_OK) {
		j->stored = j->want;
		j->changed = true;
	}
}

static void format_marker(long long ms, char *out, size_t size)
{
	if (ms < 0) {
		snprintf(out, size, "*");
		return;
	}
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	char base[32];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "timestamp=%s.%03dZ", base, (int)(ms % 1000));
}

static void marker_done(struct job *job)
{
	struct marker_job *j = (struct marker_job *)job;
	struct client *c = client_by_id(j->client_id);
	char value[64];
	format_marker(j->stored, value, sizeof value);
	if (j->status != DB_OK) {
		if (c && !client_dead(c))
			reply_standard(c, "FAIL", "MARKREAD", "TEMPORARILY_UNAVAILABLE", j->target, "Try again shortly");
	} else if (j->changed) {
		/* every session of the account learns the new marker */
		for (struct client *o = ircd.clients; o; o = o->next)
			if (client_registered(o) && !client_dead(o) && client_has_cap(o, CAP_READ_MARKER) &&
			    strcasecmp(o->account, j->account) == 0)
				client_sendf(o, ":%s MARKREAD %s %s", ircd.conf->server_name, j->target, value);
	} else if (c && !client_dead(c)) {
		client_sendf(c, ":%s MARKREAD %s %s", ircd.conf->server_name, j->target, value);
	}
	free(j);
}

static void marker_submit(struct client *c, const char *target, long long want)
{
	struct marker_job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->job.run = marker_run;
	j->job.done = marker_done;
	j->client_id = c->id;
	snprintf(j->account, sizeof j->account, "%s", c->account);
	casemap_fold(j->account_key, c->account, sizeof j->account_key);
	snprintf(j->target, sizeof j->target, "%s", target);
	casemap_fold(j->target_key, target, sizeof j->target_key);
	j->want = want;
	storage_submit(&j->job);
}

void readmarker_joined(struct client *c, const struct channel *ch)
{
	if (c->account[0] && client_has_cap(c, CAP_READ_MARKER))
		marker_submit(c, ch->name, -1);
}

void cmd_markread(struct client *c, struct msg *m)
{
	const char *target = m->params[0];
	if (!c->account[0]) {
		reply_standard(c, "FAIL", "MARKREAD", "ACCOUNT_REQUIRED", target, "Log in to keep read markers");
		return;
	}
	if (strlen(target) > CHANNEL_MAX || (target[0] != '#' && !client_nick_valid(target, NICK_MAX))) {
		reply_standard(c, "FAIL", "MARKREAD", "INVALID_TARGET", target, "Invalid target");
		return;
	}
	long long want = -1;
	if (m->nparams > 1) {
		struct tm tm = {0};
		int ms = 0;
		if (strncmp(m->params[1], "timestamp=", 10) != 0 ||
		    sscanf(m->params[1] + 10, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		           &tm.tm_min, &tm.tm_sec, &ms) < 6) {
			reply_standard(c, "FAIL", "MARKREAD", "INVALID_PARAMS", m->params[1], "Invalid timestamp");
			return;
		}
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		want = (long long)timegm(&tm) * 1000 + ms;
	}
	marker_submit(c, target, want);
}
