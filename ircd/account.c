/* account.c - account operations as jobs that move between the storage thread (SQL) and
 * the crypto thread (scrypt), then finish on the loop. SQL text is shared by both
 * backends; names are stored with their casemapped key. */
#include "account.h"
#include "alwayson.h"
#include "session.h"
#include "audit.h"

#include "cap.h"
#include "casemap.h"
#include "channel.h"
#include "connlimit.h"
#include "history.h"
#include "ircd.h"
#include "log.h"
#include "logincache.h"
#include "outmsg.h"
#include "reply.h"
#include "route.h"
#include "service.h"
#include "storage.h"
#include "throttle.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum op { OP_REGISTER, OP_CHECK, OP_SCRAM, OP_CERT_LOOKUP, OP_VERIFY, OP_SETPW, OP_SETEMAIL, OP_RESET, OP_DROP, OP_INFO, OP_CERT, OP_OWNER };
enum stage { ON_STORAGE, ON_CRYPTO };

struct acc_job {
	struct job job;
	enum op op;
	enum stage stage;
	int steps_left;            /* stages still to run after this one */
	uint64_t client_id;
	account_cb cb;
	void *arg;
	bool add;                  /* OP_CERT: add or delete */
	char name[ACCOUNT_MAX + 1], key[ACCOUNT_MAX + 1];
	char email[EMAIL_MAX + 1];
	char password[PASSWORD_MAX + 1];
	char hash[PASSWORD_HASH_MAX];
	char scram[SCRAM_STORED_MAX]; /* stored SCRAM keys ("" none); OP_CHECK: new ones when scram_new */
	bool scram_new;
	int scram_iterations;
	char code[24];
	char reset[24];            /* OP_RESET: the new one-time code (code holds the stored verify code) */
	char fp[130];
	char ip[INET6_ADDRSTRLEN + 1];
	char who[AUDIT_WHO_MAX];   /* the requester, for the audit log */
	time_t slot_a, slot_i;     /* windows of the throttle slots taken: account, address (0: none) */
	bool cacheable;            /* OP_CHECK: mac holds the verification cache key */
	char account_key[ACCOUNT_MAX + 1]; /* OP_CHECK: the folded account found (name may be a nick) */
	unsigned char mac[LOGINCACHE_MAC_LEN];
	/* copies of the config the worker needs, so it never reads the live conf */
	int n, r, p;
	char verify_command[CONF_PATH_LEN];
	char mail_command[CONF_PATH_LEN];
	struct account_result res;
};

/* ---- worker side ---- */

static void row_account(void *arg, int ncols, const char *const *cols)
{
	struct acc_job *j = arg;
	if (ncols < 6)
		return;
	snprintf(j->res.name, sizeof j->res.name, "%s", cols[0] ? cols[0] : "");
	snprintf(j->res.email, sizeof j->res.email, "%s", cols[1] ? cols[1] : "");
	snprintf(j->hash, sizeof j->hash, "%s", cols[2] ? cols[2] : "");
	j->res.created = cols[3] ? (time_t)atoll(cols[3]) : 0;
	j->res.verified = cols[4] && atoi(cols[4]);
	snprintf(j->code, sizeof j->code, "%s", cols[5] ? cols[5] : "");
	snprintf(j->scram, sizeof j->scram, "%s", ncols > 6 && cols[6] ? cols[6] : "");
	j->res.status = ACC_OK;
}

#define ACCOUNT_COLUMNS "a.name, a.email, a.password, a.created, a.verified, a.verify_code, a.scram"

/* Loads the account named (or owning the nick) j->key into j->res / j->hash. */
static enum db_status load_account(struct acc_job *j)
{
	struct db_param k = DB_TEXT(j->key);
	j->res.status = ACC_NOT_FOUND;
	enum db_status s = storage_exec("SELECT " ACCOUNT_COLUMNS " FROM accounts a WHERE a.name_key = ?", &k, 1,
	                                row_account, j);
	if (s == DB_OK && j->res.status == ACC_NOT_FOUND)
		s = storage_exec("SELECT " ACCOUNT_COLUMNS " FROM accounts a JOIN account_nicks n ON "
		                 "n.account_key = a.name_key WHERE n.nick_key = ?",
		                 &k, 1, row_account, j);
	return s;
}

static void send_verification(struct acc_job *j)
{
	FILE *f = popen(j->verify_command, "w");
	if (!f) {
		log_error("accounts: cannot run verify_command");
		return;
	}
	fprintf(f, "To: %s\nSubject: Your account %s\n\nTo verify the account %s, send:\n/quote VERIFY %s %s\n",
	        j->email, j->name, j->name, j->name, j->code);
	if (pclose(f) != 0)
		log_warn("accounts: verify_command exited with an error");
}

/* RESETPASS: the code goes by mail, on the storage thread (popen waits for the command). */
static void send_reset(struct acc_job *j)
{
	FILE *f = popen(j->mail_command, "w");
	if (!f) {
		log_error("accounts: cannot run mail_command");
		return;
	}
	fprintf(f, "To: %s\nSubject: Password reset for %s\n\nTo choose a new password for %s within an hour, send:\n"
	        "/msg NickServ RESETPASS %s %s <new password>\nIf you did not ask for this, ignore this mail.\n",
	        j->res.email, j->res.name, j->res.name, j->res.name, j->reset);
	if (pclose(f) != 0)
		log_warn("accounts: mail_command exited with an error");
}

/* Reset codes waiting for use, in memory only (a restart forgets them: ask again). A code
 * is 16 random hex digits, valid RESET_TTL seconds, used once; a newer request for the
 * same account replaces it. Full, the slot expiring first is taken. */
#define RESET_SLOTS 128
#define RESET_TTL 3600
static struct {
	char key[ACCOUNT_MAX + 1];
	char code[24];
	time_t expires;
} resets[RESET_SLOTS];

static void reset_store(const char *key, const char *code)
{
	int slot = 0;
	for (int i = 0; i < RESET_SLOTS; i++) {
		if (strcmp(resets[i].key, key) == 0) {
			slot = i;
			break;
		}
		if (resets[i].expires < resets[slot].expires)
			slot = i;
	}
	snprintf(resets[slot].key, sizeof resets[slot].key, "%s", key);
	snprintf(resets[slot].code, sizeof resets[slot].code, "%s", code);
	resets[slot].expires = time(NULL) + RESET_TTL;
}

static bool reset_take(const char *key, const char *code)
{
	for (int i = 0; i < RESET_SLOTS; i++) {
		if (!resets[i].key[0] || strcmp(resets[i].key, key) != 0)
			continue;
		bool ok = resets[i].expires > time(NULL) && strlen(code) == strlen(resets[i].code) &&
		          CRYPTO_memcmp(code, resets[i].code, strlen(code)) == 0;
		if (ok || resets[i].expires <= time(NULL))
			memset(&resets[i], 0, sizeof resets[i]);
		return ok;
	}
	return false;
}

static enum account_status from_db(enum db_status s)
{
	return s == DB_DUPLICATE ? ACC_EXISTS : s == DB_UNAVAILABLE ? ACC_UNAVAILABLE : ACC_ERROR;
}

static void run_register(struct acc_job *j)
{
	bool verify = j->verify_command[0] != '\0';
	if (verify) {
		unsigned char raw[8];
		RAND_bytes(raw, sizeof raw);
		for (int i = 0; i < 8; i++)
			snprintf(j->code + 2 * i, 3, "%02x", raw[i]);
	}
	/* the primary keys on name_key and nick_key turn a taken name into DB_DUPLICATE */
	struct db_param p[8] = {DB_TEXT(j->key), DB_TEXT(j->name), DB_TEXT(j->email[0] ? j->email : NULL),
	                        DB_TEXT(j->hash), DB_INT(time(NULL)), DB_INT(verify ? 0 : 1),
	                        DB_TEXT(verify ? j->code : NULL), DB_TEXT(j->scram[0] ? j->scram : NULL)};
	enum db_status s = storage_exec("INSERT INTO accounts (name_key, name, email, password, created, verified, "
	                                "verify_code, scram) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	                                p, 8, NULL, NULL);
	struct db_param n[3] = {DB_TEXT(j->key), DB_TEXT(j->name), DB_TEXT(j->key)};
	if (s == DB_OK) {
		s = storage_exec("INSERT INTO account_nicks (nick_key, nick, account_key) VALUES (?, ?, ?)", n, 3, NULL, NULL);
		if (s != DB_OK)
			storage_exec("DELETE FROM accounts WHERE name_key = ?", n, 1, NULL, NULL);
	}
	if (s != DB_OK) {
		j->res.status = from_db(s);
		return;
	}
	snprintf(j->res.name, sizeof j->res.name, "%s", j->name);
	j->res.verified = !verify;
	j->res.status = verify ? ACC_UNVERIFIED : ACC_OK;
	if (verify)
		send_verification(j);
}

static void row_string(void *arg, int ncols, const char *const *cols)
{
	char *out = arg; /* at least 1024 bytes */
	if (ncols < 1 || !cols[0])
		return;
	size_t len = strlen(out);
	snprintf(out + len, 1024 - len, "%s%s", len ? " " : "", cols[0]);
}

static void run_storage(struct acc_job *j)
{
	enum db_status s = DB_OK;
	struct db_param k = DB_TEXT(j->key);
	switch (j->op) {
	case OP_REGISTER:
		run_register(j);
		return;
	case OP_CHECK:
		if (j->scram_new) {
			/* keys derived after a right password: stored unless the password changed
			 * meanwhile; a failure only delays them to the next login */
			struct db_param p[3] = {DB_TEXT(j->scram), DB_TEXT(j->account_key), DB_TEXT(j->hash)};
			storage_exec("UPDATE accounts SET scram = ? WHERE name_key = ? AND password = ?", p, 3, NULL, NULL);
			return;
		}
		/* fall through */
	case OP_SCRAM:
	case OP_INFO:
	case OP_OWNER:
		s = load_account(j);
		if (s == DB_OK && j->res.status == ACC_OK && j->op == OP_INFO) {
			char key[ACCOUNT_MAX + 1];
			casemap_fold(key, j->res.name, sizeof key);
			struct db_param a = DB_TEXT(key);
			s = storage_exec("SELECT nick FROM account_nicks WHERE account_key = ? ORDER BY nick", &a, 1,
			                 row_string, j->res.nicks);
		}
		break;
	case OP_CERT_LOOKUP: {
		struct db_param f = DB_TEXT(j->fp);
		j->res.status = ACC_NOT_FOUND;
		s = storage_exec("SELECT " ACCOUNT_COLUMNS " FROM accounts a JOIN account_certs c ON "
		                 "c.account_key = a.name_key WHERE c.fingerprint = ?",
		                 &f, 1, row_account, j);
		break;
	}
	case OP_VERIFY:
		s = load_account(j);
		if (s == DB_OK && j->res.status == ACC_OK) {
			/* row_account read the stored code into j->code; the offered one is in password */
			if (j->res.verified || !j->password[0] || !j->code[0] || strcmp(j->password, j->code) != 0)
				j->res.status = ACC_BAD_CODE;
			else
				s = storage_exec("UPDATE accounts SET verified = 1, verify_code = NULL WHERE name_key = ?", &k, 1,
				                 NULL, NULL);
		}
		break;
	case OP_SETPW: {
		struct db_param p[3] = {DB_TEXT(j->hash), DB_TEXT(j->scram[0] ? j->scram : NULL), DB_TEXT(j->key)};
		s = storage_exec("UPDATE accounts SET password = ?, scram = ? WHERE name_key = ?", p, 3, NULL, NULL);
		j->res.status = ACC_OK;
		break;
	}
	case OP_RESET:
		s = load_account(j);
		if (s == DB_OK && j->res.status == ACC_OK && j->res.email[0])
			send_reset(j);
		else if (s == DB_OK)
			j->res.status = ACC_NOT_FOUND;
		break;
	case OP_SETEMAIL: {
		struct db_param p[2] = {DB_TEXT(j->email), DB_TEXT(j->key)};
		s = storage_exec("UPDATE accounts SET email = ? WHERE name_key = ?", p, 2, NULL, NULL);
		j->res.status = ACC_OK;
		break;
	}
	case OP_DROP:
		s = storage_exec("DELETE FROM account_nicks WHERE account_key = ?", &k, 1, NULL, NULL);
		if (s == DB_OK)
			s = storage_exec("DELETE FROM account_certs WHERE account_key = ?", &k, 1, NULL, NULL);
		if (s == DB_OK)
			s = storage_exec("DELETE FROM accounts WHERE name_key = ?", &k, 1, NULL, NULL);
		j->res.status = ACC_OK;
		break;
	case OP_CERT:
		if (j->fp[0] && j->add) {
			struct db_param p[2] = {DB_TEXT(j->fp), DB_TEXT(j->key)};
			s = storage_exec("INSERT INTO account_certs (fingerprint, account_key) VALUES (?, ?)", p, 2, NULL, NULL);
		} else if (j->fp[0]) {
			struct db_param p[2] = {DB_TEXT(j->fp), DB_TEXT(j->key)};
			s = storage_exec("DELETE FROM account_certs WHERE fingerprint = ? AND account_key = ?", p, 2, NULL, NULL);
		} else {
			s = storage_exec("SELECT fingerprint FROM account_certs WHERE account_key = ? ORDER BY fingerprint", &k,
			                 1, row_string, j->res.certs);
		}
		j->res.status = ACC_OK;
		break;
	}
	if (s != DB_OK)
		j->res.status = from_db(s);
}

/* True if the stored SCRAM keys are missing or use another iteration count than the
 * configured one: a right password then derives new ones. */
static bool scram_stale(const struct acc_job *j)
{
	struct scram_keys k;
	return !scram_parse(j->scram, &k) || k.iterations != j->scram_iterations;
}

/* New SCRAM keys for j->password into j->scram ("" if that failed: no keys is better
 * than no account or no login). PBKDF2 of accounts.scram_iterations rounds. */
static void derive_scram(struct acc_job *j)
{
	struct scram_keys k;
	j->scram[0] = '\0';
	if (scram_derive(j->password, j->scram_iterations, &k) == 0)
		scram_format(&k, j->scram);
	OPENSSL_cleanse(&k, sizeof k);
}

static void run_crypto(struct acc_job *j)
{
	if (j->op == OP_CHECK) {
		if (!password_verify(j->password, j->hash))
			j->res.status = ACC_BAD_PASSWORD;
		else if (!j->res.verified)
			j->res.status = ACC_UNVERIFIED;
		if (j->res.status != ACC_BAD_PASSWORD && scram_stale(j)) {
			derive_scram(j);
			j->scram_new = j->scram[0] != '\0';
			if (j->scram_new)
				j->steps_left = 1; /* back to storage to store them */
		}
	} else if (password_hash(j->password, j->n, j->r, j->p, j->hash, sizeof j->hash) < 0) {
		j->res.status = ACC_ERROR;
	} else {
		derive_scram(j); /* REGISTER, SET PASSWORD: keys for the new password */
	}
	OPENSSL_cleanse(j->password, sizeof j->password);
}

static void job_run(struct job *job)
{
	struct acc_job *j = (struct acc_job *)job;
	if (j->stage == ON_CRYPTO)
		run_crypto(j);
	else
		run_storage(j);
}

/* ---- loop side ---- */

/* The login throttle: attempts per account and per address in a 60-second window
 * (throttle.c). A failure keeps its slot; any other outcome gives it back. Registrations
 * per address per hour work the same way (a registration that fails gives its slot
 * back). */
static struct throttle_table logins = {.window = 60}, registrations = {.window = 3600};

/* Takes a login slot for j's attempt on its account and (unless exempt) its address;
 * false, taking nothing, when either is used up. Addresses exempt from connection
 * limits (loopback by default) are not throttled as a whole: many users may share them;
 * their accounts still are. */
static bool login_reserve(struct acc_job *j)
{
	int max = ircd.conf->max_failed_logins;
	j->slot_a = throttle_take(&logins, "a", j->key, max);
	if (!j->slot_a)
		return false;
	if (!connlimit_exempt(j->ip) && !(j->slot_i = throttle_take(&logins, "i", j->ip, max))) {
		throttle_put_back(&logins, "a", j->key, j->slot_a);
		return false;
	}
	return true;
}

/* Takes a registration slot for j's address: false when it has registered
 * accounts.registrations_per_ip_hour accounts this hour (0: no limit; exempt addresses
 * are not limited). */
static bool register_reserve(struct acc_job *j)
{
	int max = ircd.conf->registrations_per_ip_hour;
	if (max == 0 || connlimit_exempt(j->ip))
		return true;
	j->slot_i = throttle_take(&registrations, "r", j->ip, max);
	return j->slot_i != 0;
}

void account_scram_settle(const struct login_ticket *t, bool success)
{
	if (!success)
		return;
	throttle_put_back(&logins, "a", t->key, t->slot_a);
	throttle_put_back(&logins, "i", t->ip, t->slot_i);
}

/* On completion: a wrong password keeps its login slots, a created account its
 * registration slot; anything else gives them back. */
static void throttle_settle(struct acc_job *j)
{
	if (j->op == OP_SCRAM) {
		/* keys to check a proof against: the slots stay taken until account_scram_settle */
		if (j->res.status == ACC_OK && j->res.verified && scram_parse(j->scram, &j->res.scram)) {
			j->res.has_scram = true;
			j->res.ticket = (struct login_ticket){.slot_a = j->slot_a, .slot_i = j->slot_i};
			snprintf(j->res.ticket.key, sizeof j->res.ticket.key, "%s", j->key);
			snprintf(j->res.ticket.ip, sizeof j->res.ticket.ip, "%s", j->ip);
		} else {
			if (j->res.status == ACC_OK && !j->res.verified)
				j->res.status = ACC_UNVERIFIED;
			throttle_put_back(&logins, "a", j->key, j->slot_a);
			throttle_put_back(&logins, "i", j->ip, j->slot_i);
		}
	} else if (j->op == OP_CHECK && j->res.status != ACC_BAD_PASSWORD) {
		throttle_put_back(&logins, "a", j->key, j->slot_a);
		throttle_put_back(&logins, "i", j->ip, j->slot_i);
	} else if (j->op == OP_REGISTER && j->res.status != ACC_OK && j->res.status != ACC_UNVERIFIED) {
		throttle_put_back(&registrations, "r", j->ip, j->slot_i);
	}
}

void client_hold(struct client *c)
{
	c = session_asker(c); /* a session's command waits on the session's input */
	c->flags |= CLI_WAITING;
	conn_pause(&c->conn);
}

void client_release(struct client *c)
{
	c->flags &= ~CLI_WAITING;
	if (!(c->flags & CLI_FLOOD_HELD))
		conn_resume(&c->conn);
}

struct store_wait {
	uint64_t client_id;
	char who[AUDIT_WHO_MAX]; /* the requester: done's audit lines name it even after it left */
	client_store_cb done;
	void *arg;
};

static void store_done(enum db_status status, void *arg)
{
	struct store_wait *w = arg;
	struct client *c = w->client_id ? client_by_id(w->client_id) : NULL;
	if (c && client_dead(c))
		c = NULL;
	if (c)
		c->flags &= ~CLI_WAITING;
	audit_actor_set(w->who[0] ? w->who : NULL);
	struct reply_ctx ctx;
	struct client *u = c ? session_resume(c, &ctx) : NULL;
	w->done(u, status, w->arg); /* may hold c again for a next step */
	if (c)
		session_suspend(c, u, &ctx);
	audit_actor_set(NULL);
	if (c && !(c->flags & CLI_WAITING) && !client_dead(c))
		client_release(c);
	free(w);
}

void client_store(struct client *c, struct storage_txn *t, client_store_cb done, void *arg)
{
	struct store_wait *w = calloc(1, sizeof *w);
	if (!w)
		abort();
	w->client_id = c ? session_asker(c)->id : 0; /* a session gets its own results */
	if (c)
		audit_who(c, w->who, sizeof w->who);
	w->done = done;
	w->arg = arg;
	if (c)
		client_hold(c);
	storage_txn_submit(t, store_done, w);
}

/* After a login's storage stage: true if the verification cache knows this account,
 * stored hash and password, which then need no scrypt (the outcome is set as
 * run_crypto would). Loop thread; an HMAC, a few microseconds. */
static bool check_cached(struct acc_job *j)
{
	if (j->op != OP_CHECK || j->stage != ON_STORAGE)
		return false;
	casemap_fold(j->account_key, j->res.name, sizeof j->account_key);
	j->cacheable = logincache_key(j->account_key, j->hash, j->password, j->mac);
	/* missing SCRAM keys are derived from a checked password: check it */
	if (!j->cacheable || scram_stale(j) || !logincache_hit(j->mac))
		return false;
	if (!j->res.verified)
		j->res.status = ACC_UNVERIFIED;
	return true;
}

/* On completion: a right password is remembered; a changed or dropped account forgets. */
static void cache_settle(const struct acc_job *j)
{
	if (j->op == OP_CHECK && j->cacheable && (j->res.status == ACC_OK || j->res.status == ACC_UNVERIFIED))
		logincache_put(j->account_key, j->mac);
	else if ((j->op == OP_SETPW || j->op == OP_DROP) && j->res.status == ACC_OK)
		logincache_forget(j->key);
}

static void job_done(struct job *job)
{
	struct acc_job *j = (struct acc_job *)job;
	bool failed = j->res.status != ACC_OK && j->res.status != ACC_UNVERIFIED;
	if (j->steps_left > 0 && !failed && check_cached(j))
		j->steps_left = 0;
	if (j->steps_left > 0 && !failed) {
		j->steps_left--;
		j->stage = j->stage == ON_CRYPTO ? ON_STORAGE : ON_CRYPTO;
		if (j->stage == ON_CRYPTO)
			workq_submit(&crypto_queue, job);
		else
			storage_submit(job);
		return;
	}
	throttle_settle(j);
	cache_settle(j);
	OPENSSL_cleanse(j->password, sizeof j->password);
	if (!failed && (j->op == OP_REGISTER || j->op == OP_DROP)) /* committed: NickServ's and IRCv3's */
		audit_as(j->who, "account %s name=%s%s", j->op == OP_DROP ? "DROP" : "REGISTER", j->res.name,
		         j->res.status == ACC_UNVERIFIED ? " (unverified)" : "");
	if (j->op == OP_RESET) { /* whoever asked may be gone: the code is for the mailbox */
		if (j->res.status == ACC_OK) {
			char key[ACCOUNT_MAX + 1];
			casemap_fold(key, j->res.name, sizeof key);
			reset_store(key, j->reset);
		}
		OPENSSL_cleanse(j->reset, sizeof j->reset);
		free(j);
		return;
	}
	struct client *c = client_by_id(j->client_id);
	if (c && !client_dead(c)) {
		/* the result first, then the commands that waited for it, in order */
		c->flags &= ~CLI_WAITING;
		struct reply_ctx ctx;
		struct client *u = session_resume(c, &ctx);
		j->cb(u, &j->res, j->arg);
		session_suspend(c, u, &ctx);
		if (!(c->flags & CLI_WAITING) && !client_dead(c))
			client_release(c);
	}
	free(j);
}

static struct acc_job *job_new(struct client *c, enum op op, const char *name, account_cb cb, void *arg)
{
	struct acc_job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->job.run = job_run;
	j->job.done = job_done;
	j->op = op;
	j->client_id = session_asker(c)->id; /* a session gets its own results */
	j->cb = cb;
	j->arg = arg;
	snprintf(j->name, sizeof j->name, "%s", name ? name : "");
	casemap_fold(j->key, j->name, sizeof j->key);
	/* failure replies name what was asked for; a found account replaces it */
	snprintf(j->res.name, sizeof j->res.name, "%s", j->name);
	snprintf(j->ip, sizeof j->ip, "%s", c->conn.ip);
	audit_who(c, j->who, sizeof j->who);
	j->n = ircd.conf->scrypt_n;
	j->r = ircd.conf->scrypt_r;
	j->p = ircd.conf->scrypt_p;
	j->scram_iterations = ircd.conf->scram_iterations;
	snprintf(j->verify_command, sizeof j->verify_command, "%s", ircd.conf->verify_command);
	snprintf(j->mail_command, sizeof j->mail_command, "%s", ircd.conf->mail_command);
	j->res.status = ACC_OK;
	return j;
}

/* Starts j on its first queue and holds the client's input until it completes. */
static void job_start(struct client *c, struct acc_job *j)
{
	client_hold(c);
	if (j->stage == ON_CRYPTO)
		workq_submit(&crypto_queue, &j->job);
	else
		storage_submit(&j->job);
}

void account_register(struct client *c, const char *name, const char *email, const char *password,
                      account_cb cb, void *arg)
{
	struct acc_job *j = job_new(c, OP_REGISTER, name, cb, arg);
	if (!register_reserve(j)) {
		j->res.status = ACC_THROTTLED;
		cb(c, &j->res, arg);
		free(j);
		return;
	}
	snprintf(j->email, sizeof j->email, "%s", email ? email : "");
	snprintf(j->password, sizeof j->password, "%s", password);
	j->stage = ON_CRYPTO;
	j->steps_left = 1;
	job_start(c, j);
}

void account_check_password(struct client *c, const char *name, const char *password, account_cb cb, void *arg)
{
	struct acc_job *j = job_new(c, OP_CHECK, name, cb, arg);
	if (!login_reserve(j)) {
		j->res.status = ACC_THROTTLED;
		cb(c, &j->res, arg);
		free(j);
		return;
	}
	snprintf(j->password, sizeof j->password, "%s", password);
	j->stage = ON_STORAGE;
	j->steps_left = 1;
	job_start(c, j);
}

void account_scram_lookup(struct client *c, const char *name, account_cb cb, void *arg)
{
	struct acc_job *j = job_new(c, OP_SCRAM, name, cb, arg);
	if (!login_reserve(j)) {
		j->res.status = ACC_THROTTLED;
		cb(c, &j->res, arg);
		free(j);
		return;
	}
	job_start(c, j);
}

void account_check_cert(struct client *c, const char *fp, account_cb cb, void *arg)
{
	struct acc_job *j = job_new(c, OP_CERT_LOOKUP, NULL, cb, arg);
	snprintf(j->fp, sizeof j->fp, "%s", fp);
	job_start(c, j);
}

void account_verify(struct client *c, const char *name, const char *code, account_cb cb, void *arg)
{
	struct acc_job *j = job_new(c, OP_VERIFY, name, cb, arg);
	snprintf(j->password, sizeof j->password, "%s", code); /* the expected code is read into j->code */
	job_start(c, j);
}

void account_set_password(struct client *c, const char *name, const char *password, account_cb cb, void *arg)
{
	struct acc_job *j = job_new(c, OP_SETPW, name, cb, arg);
	snprintf(j->password, sizeof j->password, "%s", password);
	j->stage = ON_CRYPTO;
	j->steps_left = 1;
	job_start(c, j);
}

void account_set_email(struct client *c, const char *name, const char *email, account_cb cb, void *arg)
{
	struct acc_job *j = job_new(c, OP_SETEMAIL, name, cb, arg);
	snprintf(j->email, sizeof j->email, "%s", email);
	job_start(c, j);
}

bool account_email_valid(const char *email)
{
	const char *at = strchr(email, '@');
	return at && at != email && at[1] && !strchr(at + 1, '@') && strlen(email) <= EMAIL_MAX &&
	       !strpbrk(email, " ,:;<>\"");
}

void account_reset_request(struct client *c, const char *name)
{
	char key[ACCOUNT_MAX + 1];
	casemap_fold(key, name, sizeof key);
	for (int i = 0; i < RESET_SLOTS; i++) /* one mail a minute per account, so nobody is mail-bombed */
		if (resets[i].key[0] && strcmp(resets[i].key, key) == 0 && resets[i].expires > time(NULL) + RESET_TTL - 60)
			return;
	struct acc_job *j = job_new(c, OP_RESET, name, NULL, NULL);
	unsigned char raw[8];
	RAND_bytes(raw, sizeof raw);
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(j->reset + 2 * i, 3, "%02x", raw[i]);
	storage_submit(&j->job); /* not held: the answer came first and does not wait for the mail */
}

void account_reset_password(struct client *c, const char *name, const char *code, const char *password,
                            account_cb cb, void *arg)
{
	char key[ACCOUNT_MAX + 1];
	casemap_fold(key, name, sizeof key);
	if (!reset_take(key, code)) {
		struct account_result r = {.status = ACC_BAD_CODE};
		snprintf(r.name, sizeof r.name, "%s", name);
		cb(c, &r, arg);
		return;
	}
	account_set_password(c, name, password, cb, arg);
}

void account_drop(struct client *c, const char *name, account_cb cb, void *arg)
{
	struct acc_job *j = job_new(c, OP_DROP, name, cb, arg);
	job_start(c, j);
}

void account_info(struct client *c, const char *name, account_cb cb, void *arg)
{
	job_start(c, job_new(c, OP_INFO, name, cb, arg));
}

void account_cert(struct client *c, const char *name, const char *fp, bool add, account_cb cb, void *arg)
{
	struct acc_job *j = job_new(c, OP_CERT, name, cb, arg);
	snprintf(j->fp, sizeof j->fp, "%s", fp ? fp : "");
	j->add = add;
	job_start(c, j);
}

void account_nick_owner(struct client *c, const char *nick, account_cb cb, void *arg)
{
	job_start(c, job_new(c, OP_OWNER, nick, cb, arg));
}

bool account_name_valid(const char *name)
{
	return client_nick_valid(name, ircd.conf->nicklen) && strcmp(name, "*") != 0;
}

static void logged_in(struct client *x, void *arg)
{
	(void)arg;
	reply(x, RPL_LOGGEDIN, x->prefix, x->account, x->account);
}

void account_notify_change(struct client *c)
{
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s ACCOUNT %s", c->prefix, c->account[0] ? c->account : "*");
	channel_send_common_monitored(c, &o, CAPF(CAP_ACCOUNT_NOTIFY));
	if (client_has_cap(c, CAP_ACCOUNT_NOTIFY))
		outmsg_send(&o, c);
	outmsg_release(&o);
	route_account(c);
}

void account_login(struct client *c, const char *account)
{
	snprintf(c->account, sizeof c->account, "%s", account);
	const char *prefix = c->prefix[0] ? c->prefix : "*";
	reply(c, RPL_LOGGEDIN, prefix, c->account, c->account);
	if (c->sessions || c->session_of) { /* a session's IDENTIFY: every session is logged in */
		session_sync(c->session_of ? c->session_of : c);
		session_each_other(c, logged_in, NULL);
	}
	readmarker_login(c);
	if (!client_registered(c))
		return;
	if (alwayson_reattach(c)) /* IDENTIFY to an account that stayed on: c becomes that user */
		return;
	services_account_changed(c);
	account_notify_change(c->session_of ? c->session_of : c);
	offline_deliver(c); /* its markers come with their loading (readmarker_login) */
}
