/* ban.c - K-lines and D-lines. The list lives in memory (it is checked on every
 * connection); a change is written to the database first and applied in memory, and
 * acknowledged, only once it is committed, so what an operator was told is what a
 * restart loads. Bans that would lock out the operator or everyone need a leading !. */
#include "ban.h"
#include "audit.h"

#include "account.h"
#include "client.h"
#include "ircd.h"
#include "log.h"
#include "match.h"
#include "oper.h"
#include "parse.h"
#include "reply.h"
#include "route.h"
#include "storage.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct server_ban {
	char kind; /* 'k' or 'd' */
	char mask[128];
	char reason[256];
	char setter[64];
	time_t created, expires;
	struct server_ban *next;
};

static struct server_ban *bans;

static struct server_ban *ban_push(struct server_ban **list, char kind, const char *mask, const char *reason,
                                   const char *setter, time_t created, time_t expires)
{
	struct server_ban *b = calloc(1, sizeof *b);
	if (!b)
		abort();
	b->kind = kind;
	snprintf(b->mask, sizeof b->mask, "%s", mask);
	snprintf(b->reason, sizeof b->reason, "%s", reason);
	snprintf(b->setter, sizeof b->setter, "%s", setter);
	b->created = created;
	b->expires = expires;
	b->next = *list;
	*list = b;
	return b;
}

static struct server_ban *ban_add_mem(char kind, const char *mask, const char *reason, const char *setter,
                                      time_t created, time_t expires)
{
	return ban_push(&bans, kind, mask, reason, setter, created, expires);
}

/* Adds a server_bans row to the list arg points to. */
static void load_row(void *arg, int ncols, const char *const *cols)
{
	if (ncols < 6 || !cols[0] || !cols[1])
		return;
	time_t expires = cols[5] ? (time_t)atoll(cols[5]) : 0;
	if (expires && expires <= time(NULL))
		return;
	ban_push(arg, cols[0][0], cols[1], cols[2] ? cols[2] : "", cols[3] ? cols[3] : "",
	         cols[4] ? (time_t)atoll(cols[4]) : 0, expires);
}

#define LOAD_SQL "SELECT kind, mask, reason, setter, created, expires FROM server_bans"

void ban_load(void) { storage_query_now(LOAD_SQL, NULL, 0, load_row, &bans); }

static void free_list(struct server_ban *b)
{
	for (struct server_ban *n; b; b = n) {
		n = b->next;
		free(b);
	}
}

struct reload_job {
	struct job job;
	struct server_ban *list;
	enum db_status status;
};

static void reload_run(struct job *job)
{
	struct reload_job *j = (struct reload_job *)job;
	j->status = storage_exec(LOAD_SQL, NULL, 0, load_row, &j->list);
}

/* Changes queued before the reload are in what it read (the storage thread runs jobs in
 * order) and their completions ran before this one; later ones complete after it. */
static void reload_done(struct job *job)
{
	struct reload_job *j = (struct reload_job *)job;
	if (j->status == DB_OK) {
		free_list(bans);
		bans = j->list;
		log_info("bans: reloaded from the database");
	} else {
		free_list(j->list);
		log_warn("bans: not reloaded: the database is unavailable");
	}
	free(j);
}

void ban_reload(void)
{
	struct reload_job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->job.run = reload_run;
	j->job.done = reload_done;
	storage_submit(&j->job);
}

/* Drops expired entries as they are met. */
static bool live(struct server_ban **pp)
{
	struct server_ban *b = *pp;
	if (!b->expires || b->expires > time(NULL))
		return true;
	*pp = b->next;
	free(b);
	return false;
}

bool cidr_match(const char *text, const char *ip)
{
	char net[64];
	int bits = -1;
	const char *slash = strchr(text, '/');
	snprintf(net, sizeof net, "%.*s", slash ? (int)(slash - text) : (int)strlen(text), text);
	if (slash)
		bits = atoi(slash + 1);
	unsigned char a[16], b[16];
	int family = strchr(net, ':') ? AF_INET6 : AF_INET;
	int len = family == AF_INET6 ? 16 : 4;
	const char *addr = ip[0] == '0' && ip[1] == ':' ? ip + 1 : ip; /* undo the "0::1" form */
	if (inet_pton(family, net, a) != 1 || inet_pton(family, addr, b) != 1)
		return false;
	if (bits < 0 || bits > len * 8)
		bits = len * 8;
	for (int i = 0; i < len && bits > 0; i++, bits -= 8) {
		unsigned char m = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
		if ((a[i] & m) != (b[i] & m))
			return false;
	}
	return true;
}

static bool dline_matches(const struct server_ban *b, const char *ip)
{
	return cidr_match(b->mask, ip) || match_mask(b->mask, ip);
}

bool ban_check_ip(const char *ip, char *reason, size_t size)
{
	for (struct server_ban **pp = &bans; *pp;) {
		if (!live(pp))
			continue;
		struct server_ban *b = *pp;
		if (b->kind == 'd' && dline_matches(b, ip)) {
			snprintf(reason, size, "D-lined: %s", b->reason);
			return true;
		}
		pp = &b->next;
	}
	return false;
}

static bool kline_matches(const struct server_ban *b, const struct client *c)
{
	char uh[USER_MAX + HOST_MAX + 2], ui[USER_MAX + HOST_MAX + 2];
	snprintf(uh, sizeof uh, "%s@%s", c->user, c->host);
	snprintf(ui, sizeof ui, "%s@%s", c->user, c->conn.ip);
	const char *at = strchr(b->mask, '@');
	if (at && (cidr_match(at + 1, c->conn.ip))) {
		char user_mask[64];
		snprintf(user_mask, sizeof user_mask, "%.*s", (int)(at - b->mask), b->mask);
		if (match_mask(user_mask, c->user))
			return true;
	}
	return match_mask(b->mask, uh) || match_mask(b->mask, ui);
}

bool ban_check_client(const struct client *c, char *reason, size_t size)
{
	if (ban_check_ip(c->conn.ip, reason, size))
		return true;
	for (struct server_ban **pp = &bans; *pp;) {
		if (!live(pp))
			continue;
		struct server_ban *b = *pp;
		if (b->kind == 'k' && kline_matches(b, c)) {
			snprintf(reason, size, "K-lined: %s", b->reason);
			return true;
		}
		pp = &b->next;
	}
	return false;
}

/* Disconnects every registered client the new ban matches. */
static void apply_ban(const struct server_ban *b)
{
	for (struct client *c = ircd.clients; c; c = c->next) {
		if (client_dead(c) || (!client_registered(c) && !c->session_of))
			continue; /* each session of a user is judged on its own connection */
		bool hit = b->kind == 'k' ? kline_matches(b, c) : dline_matches(b, c->conn.ip);
		if (!hit)
			continue;
		reply(c, ERR_YOUREBANNEDCREEP, b->reason);
		char why[300];
		snprintf(why, sizeof why, "%c-lined: %s", b->kind == 'k' ? 'K' : 'D', b->reason);
		/* no notice of its own: the exit notice ("Client exiting: ... [K-lined: ...]")
		 * already says who went and why, and the ban had its notice when added */
		client_exit(c, why);
	}
}

/* A prefix length below /8 bans a good part of the Internet. */
#define BROAD_PREFIX 8

/* True if text is nothing but wildcards and separators ("*", "*.*", "*:*"...). */
static bool all_wild(const char *text)
{
	return *text && strspn(text, "*?.:") == strlen(text);
}

/* True if text is a CIDR range shorter than /BROAD_PREFIX. */
static bool broad_cidr(const char *text)
{
	const char *slash = strchr(text, '/');
	if (!slash || !slash[1])
		return false;
	char *end;
	long bits = strtol(slash + 1, &end, 10);
	return *end == '\0' && bits >= 0 && bits < BROAD_PREFIX;
}

/* True if the ban would match (nearly) everyone: "*@*", a D-line "*", a /0../7 range. */
static bool over_broad(char kind, const char *mask)
{
	if (kind == 'd')
		return all_wild(mask) || broad_cidr(mask);
	const char *at = strchr(mask, '@');
	char user[128];
	snprintf(user, sizeof user, "%.*s", (int)(at - mask), mask);
	return all_wild(user) && (all_wild(at + 1) || broad_cidr(at + 1));
}

/* The reply that refuses a ban an operator may not have meant, or NULL. */
static const char *lockout(char kind, const struct server_ban *b, const struct client *c, const char **code)
{
	if (over_broad(kind, b->mask)) {
		*code = "TOO_BROAD";
		return "That ban matches (nearly) everyone; prefix the mask with ! to set it anyway";
	}
	if (kind == 'k' ? kline_matches(b, c) : dline_matches(b, c->conn.ip)) {
		*code = "MATCHES_YOU";
		return "That ban matches your own connection; prefix the mask with ! to set it anyway";
	}
	return NULL;
}

#define BAN_UNAVAILABLE "The ban database is temporarily unavailable; try again shortly"

/* A ban change on its way to the database: memory and the replies follow its commit. */
struct ban_change {
	struct server_ban ban;
	long minutes;
};

static const char *add_cmd(char kind) { return kind == 'k' ? "KLINE" : "DLINE"; }

static void add_done(struct client *c, enum db_status status, void *arg)
{
	struct ban_change *ch = arg;
	const struct server_ban *n = &ch->ban;
	const char *cmd = add_cmd(n->kind);
	if (status != DB_OK) {
		if (c)
			reply_standard(c, "FAIL", cmd, status == DB_DUPLICATE ? "ALREADY_EXISTS" : "TEMPORARILY_UNAVAILABLE",
			               n->mask, status == DB_DUPLICATE ? "That ban already exists" : BAN_UNAVAILABLE);
		free(ch);
		return;
	}
	struct server_ban *b = ban_add_mem(n->kind, n->mask, n->reason, n->setter, n->created, n->expires);
	if (c)
		client_sendf(c, ":%s NOTICE %s :Added %s %s%s", ircd.conf->server_name, c->nick, cmd, b->mask,
		             ch->minutes ? " (temporary)" : "");
	/* one notice per ban: the setter has its reply above instead */
	snotice_except(c, "%s added %s %s (%s)%s", b->setter, cmd, b->mask, b->reason, ch->minutes ? " temporarily" : "");
	audit(c, "%s mask=%s minutes=%ld reason=\"%s\"", cmd, b->mask, ch->minutes, b->reason);
	apply_ban(b);
	if (c && b->kind == 'k') /* ours: the network's servers get it too */
		route_kline(c, b->mask, ch->minutes * 60, b->reason);
	free(ch);
}

/* The storage step of a ban change: under the operator's client (its replies follow the
 * commit), or for a change from another server, under none. */
static void store_ban(struct client *c, struct storage_txn *t, client_store_cb done, struct ban_change *ch);

static void submit_add(struct client *c, struct ban_change *ch);

/* "KLINE [minutes] [!]mask :reason": the ban is in force, and the operator told so,
 * once it is stored. A leading ! sets a ban that matches the operator or everyone. */
static void add_ban(struct client *c, struct msg *m, char kind)
{
	if (!oper_has(c, PRIV_BAN))
		return;
	int arg = 0;
	long minutes = 0;
	char *end;
	long v = strtol(m->params[0], &end, 10);
	if (*end == '\0' && m->nparams > 1) {
		minutes = v;
		arg = 1;
	}
	const char *mask = m->params[arg];
	bool forced = mask[0] == '!';
	if (forced)
		mask++;
	const char *reason = m->nparams > arg + 1 && *m->params[arg + 1] ? m->params[arg + 1] : "No reason";
	const char *cmd = add_cmd(kind);
	if (!*mask || (kind == 'k' && !strchr(mask, '@')) || strlen(mask) >= 128 || minutes < 0 ||
	    minutes > 10 * 365 * 24 * 60) {
		reply_standard(c, "FAIL", cmd, "INVALID_PARAMS", *mask ? mask : "*",
		               kind == 'k' ? "Use a user@host mask" : "Invalid mask");
		return;
	}
	time_t now = time(NULL);
	for (struct server_ban *b = bans; b; b = b->next)
		if (b->kind == kind && strcasecmp(b->mask, mask) == 0 && (!b->expires || b->expires > now)) {
			reply_standard(c, "FAIL", cmd, "ALREADY_EXISTS", mask, "That ban already exists");
			return;
		}
	struct ban_change *ch = calloc(1, sizeof *ch);
	if (!ch)
		abort();
	struct server_ban *n = &ch->ban;
	n->kind = kind;
	snprintf(n->mask, sizeof n->mask, "%s", mask);
	snprintf(n->reason, sizeof n->reason, "%s", reason);
	snprintf(n->setter, sizeof n->setter, "%s", c->nick);
	n->created = now;
	n->expires = minutes ? now + minutes * 60 : 0;
	ch->minutes = minutes;
	const char *code, *why = forced ? NULL : lockout(kind, n, c, &code);
	if (why) {
		reply_standard(c, "FAIL", cmd, code, mask, why);
		free(ch);
		return;
	}
	submit_add(c, ch);
}

static void submit_add(struct client *c, struct ban_change *ch)
{
	const struct server_ban *n = &ch->ban;
	time_t now = n->created;
	char k[2] = {n->kind, '\0'};
	struct storage_txn *t = storage_txn_new();
	/* an expired ban of the same mask may still have its row */
	struct db_param old[3] = {DB_TEXT(k), DB_TEXT(n->mask), DB_INT(now)};
	storage_txn_add(t, "DELETE FROM server_bans WHERE kind = ? AND mask = ? AND expires <> 0 AND expires <= ?", old, 3);
	struct db_param p[6] = {DB_TEXT(k), DB_TEXT(n->mask), DB_TEXT(n->reason), DB_TEXT(n->setter), DB_INT(now),
	                        DB_INT(n->expires)};
	storage_txn_add(t, "INSERT INTO server_bans (kind, mask, reason, setter, created, expires) VALUES (?, ?, ?, ?, ?, ?)",
	                p, 6);
	store_ban(c, t, add_done, ch);
}

static void del_done(struct client *c, enum db_status status, void *arg)
{
	struct ban_change *ch = arg;
	const char *cmd = ch->ban.kind == 'k' ? "UNKLINE" : "UNDLINE";
	if (status != DB_OK) {
		if (c)
			reply_standard(c, "FAIL", cmd, "TEMPORARILY_UNAVAILABLE", ch->ban.mask, BAN_UNAVAILABLE);
		free(ch);
		return;
	}
	for (struct server_ban **pp = &bans; *pp; pp = &(*pp)->next) {
		struct server_ban *b = *pp;
		if (b->kind == ch->ban.kind && strcmp(b->mask, ch->ban.mask) == 0) {
			*pp = b->next;
			free(b);
			break;
		}
	}
	if (c)
		client_sendf(c, ":%s NOTICE %s :Removed %s", ircd.conf->server_name, c->nick, ch->ban.mask);
	snotice_except(c, "%s used %s on %s", ch->ban.setter, cmd, ch->ban.mask);
	audit(c, "%s mask=%s", cmd, ch->ban.mask);
	if (c && ch->ban.kind == 'k')
		route_unkline(c, ch->ban.mask);
	free(ch);
}

static void submit_del(struct client *c, struct ban_change *ch)
{
	char k[2] = {ch->ban.kind, '\0'};
	struct db_param p[2] = {DB_TEXT(k), DB_TEXT(ch->ban.mask)};
	struct storage_txn *t = storage_txn_new();
	storage_txn_add(t, "DELETE FROM server_bans WHERE kind = ? AND mask = ?", p, 2);
	store_ban(c, t, del_done, ch);
}

/* "UNKLINE mask": the ban is lifted once its row is deleted. */
static void del_ban(struct client *c, struct msg *m, char kind)
{
	if (!oper_has(c, PRIV_BAN))
		return;
	const char *cmd = kind == 'k' ? "UNKLINE" : "UNDLINE";
	const struct server_ban *b = bans;
	while (b && (b->kind != kind || strcasecmp(b->mask, m->params[0]) != 0))
		b = b->next;
	if (!b) {
		reply_standard(c, "FAIL", cmd, "NO_SUCH_BAN", m->params[0], "No such ban");
		return;
	}
	struct ban_change *ch = calloc(1, sizeof *ch);
	if (!ch)
		abort();
	ch->ban.kind = kind;
	snprintf(ch->ban.mask, sizeof ch->ban.mask, "%s", b->mask);
	snprintf(ch->ban.setter, sizeof ch->ban.setter, "%s", c->nick);
	submit_del(c, ch);
}

/* ---- K-lines from other servers ---- */

struct network_change {
	client_store_cb done;
	struct ban_change *ch;
	char actor[160]; /* "nick (server)", for the audit log */
};

static void network_done(enum db_status status, void *arg)
{
	struct network_change *nc = arg;
	audit_actor_set(nc->actor);
	nc->done(NULL, status, nc->ch);
	audit_actor_set(NULL);
	free(nc);
}

static void store_ban(struct client *c, struct storage_txn *t, client_store_cb done, struct ban_change *ch)
{
	if (c) {
		client_store(c, t, done, ch);
		return;
	}
	struct network_change *nc = calloc(1, sizeof *nc);
	if (!nc)
		abort();
	nc->done = done;
	nc->ch = ch;
	snprintf(nc->actor, sizeof nc->actor, "%s (from the network)", ch->ban.setter);
	storage_txn_submit(t, network_done, nc);
}

static const struct server_ban *find_ban(char kind, const char *mask)
{
	time_t now = time(NULL);
	for (const struct server_ban *b = bans; b; b = b->next)
		if (b->kind == kind && strcasecmp(b->mask, mask) == 0 && (!b->expires || b->expires > now))
			return b;
	return NULL;
}

bool ban_kline_from_network(const char *mask, long seconds, const char *reason, const char *setter)
{
	if (!*mask || !strchr(mask, '@') || strlen(mask) >= 128 || seconds < 0 || seconds > 10L * 365 * 24 * 3600 ||
	    find_ban('k', mask))
		return false;
	struct ban_change *ch = calloc(1, sizeof *ch);
	if (!ch)
		abort();
	struct server_ban *n = &ch->ban;
	n->kind = 'k';
	snprintf(n->mask, sizeof n->mask, "%s", mask);
	snprintf(n->reason, sizeof n->reason, "%s", *reason ? reason : "No reason");
	snprintf(n->setter, sizeof n->setter, "%s", setter);
	n->created = time(NULL);
	ch->minutes = (seconds + 59) / 60;
	n->expires = ch->minutes ? n->created + ch->minutes * 60 : 0;
	submit_add(NULL, ch);
	return true;
}

bool ban_unkline_from_network(const char *mask, const char *setter)
{
	const struct server_ban *b = find_ban('k', mask);
	if (!b)
		return false;
	struct ban_change *ch = calloc(1, sizeof *ch);
	if (!ch)
		abort();
	ch->ban.kind = 'k';
	snprintf(ch->ban.mask, sizeof ch->ban.mask, "%s", b->mask);
	snprintf(ch->ban.setter, sizeof ch->ban.setter, "%s", setter);
	submit_del(NULL, ch);
	return true;
}

void cmd_kline(struct client *c, struct msg *m) { add_ban(c, m, 'k'); }
void cmd_dline(struct client *c, struct msg *m) { add_ban(c, m, 'd'); }
void cmd_unkline(struct client *c, struct msg *m) { del_ban(c, m, 'k'); }
void cmd_undline(struct client *c, struct msg *m) { del_ban(c, m, 'd'); }

void server_bans_stats(struct client *c, char kind)
{
	for (struct server_ban **pp = &bans; *pp;) {
		if (!live(pp))
			continue;
		struct server_ban *b = *pp;
		pp = &b->next;
		if (b->kind != kind)
			continue;
		char left[24] = "permanent";
		if (b->expires)
			snprintf(left, sizeof left, "%lld", (long long)(b->expires - time(NULL)));
		const char *setter = b->setter[0] ? b->setter : "*";
		if (kind == 'k')
			reply(c, RPL_STATSKLINE, b->mask, left, setter, b->reason);
		else
			reply(c, RPL_STATSDLINE, b->mask, left, setter, b->reason);
	}
}

/* ---- parleyd -unban: the store edited without the daemon ---- */

struct unban_rows {
	FILE *out;
	int n;
};

static void unban_row(void *arg, int ncols, const char *const *cols)
{
	struct unban_rows *u = arg;
	if (ncols < 3 || !cols[0] || !cols[1])
		return;
	fprintf(u->out, "removed %s-line %s (%s)\n", cols[0][0] == 'k' ? "K" : "D", cols[1], cols[2] ? cols[2] : "");
	u->n++;
}

int ban_unban_stored(const char *mask, FILE *out)
{
	bool sqlite = strcmp(storage_backend(), "sqlite") == 0;
	/* SQLite: take the write lock first (waiting out the daemon's own writes); MariaDB:
	 * lock the rows read, so what is printed is what is deleted */
	if (storage_query_now(sqlite ? "BEGIN IMMEDIATE" : "START TRANSACTION", NULL, 0, NULL, NULL) != DB_OK)
		return -1;
	struct db_param m = DB_TEXT(mask);
	struct unban_rows u = {out, 0};
	enum db_status s = storage_query_now(sqlite ? "SELECT kind, mask, reason FROM server_bans WHERE LOWER(mask) = LOWER(?)"
	                                            : "SELECT kind, mask, reason FROM server_bans WHERE LOWER(mask) = LOWER(?) "
	                                              "FOR UPDATE",
	                                     &m, 1, unban_row, &u);
	if (s == DB_OK)
		s = storage_query_now("DELETE FROM server_bans WHERE LOWER(mask) = LOWER(?)", &m, 1, NULL, NULL);
	if (s == DB_OK)
		s = storage_query_now("COMMIT", NULL, 0, NULL, NULL);
	if (s != DB_OK) {
		storage_query_now("ROLLBACK", NULL, 0, NULL, NULL);
		return -1;
	}
	return u.n;
}
