/* account.h - accounts: registration, login, passwords, certificates, nick ownership.
 * Every operation is asynchronous: the database work runs on the storage thread and
 * password hashing on the crypto thread; the callback runs on the loop thread, and only
 * if the client that asked is still connected. While an operation runs, the client's
 * later commands wait (its input is held), so they are processed in order. */
#ifndef PARLEY_ACCOUNT_H
#define PARLEY_ACCOUNT_H

#include "client.h"
#include "db.h"
#include "password.h"
#include "scram.h"

#include <stdint.h>
#include <time.h>

#define ACCOUNT_MAX NICK_MAX
#define EMAIL_MAX 254
#define PASSWORD_MAX 600

enum account_status {
	ACC_OK,
	ACC_EXISTS,       /* name (or a nick) already registered */
	ACC_NOT_FOUND,
	ACC_BAD_PASSWORD,
	ACC_UNVERIFIED,   /* registered, waiting for its verification code */
	ACC_BAD_CODE,
	ACC_THROTTLED,    /* too many failed logins; for a registration: too many from the address */
	ACC_UNAVAILABLE,  /* database down: try again later */
	ACC_ERROR,
};

/* The login throttle slots a SCRAM exchange holds until its proof is checked. */
struct login_ticket {
	time_t slot_a, slot_i;
	char key[ACCOUNT_MAX + 1];
	char ip[INET6_ADDRSTRLEN + 1];
};

struct account_result {
	enum account_status status;
	char name[ACCOUNT_MAX + 1];  /* canonical account name */
	char email[EMAIL_MAX + 1];
	time_t created;
	bool verified;
	char certs[1024];            /* CERT LIST: space-separated fingerprints */
	char nicks[512];             /* INFO: registered nicks */
	bool has_scram;              /* account_scram_lookup: scram holds the account's keys */
	struct scram_keys scram;
	struct login_ticket ticket;  /* account_scram_lookup with keys: pass to account_scram_settle */
};

/* Runs on the loop thread with the client that asked (never a gone one). arg is the
 * caller's small integer or pointer to static data. */
typedef void (*account_cb)(struct client *c, const struct account_result *r, void *arg);

/* Registers name (also reserving it as a nick) with password and email ("" for none).
 * With email verification configured, the account starts unverified and the code is
 * sent through accounts.verify_command. */
void account_register(struct client *c, const char *name, const char *email, const char *password,
                      account_cb cb, void *arg);

/* Checks name (an account or a nick registered to one) and password. Failed attempts
 * are counted per account and per address and refused past accounts.max_failed_logins
 * a minute. */
void account_check_password(struct client *c, const char *name, const char *password, account_cb cb, void *arg);

/* Loads the SCRAM-SHA-256 keys of name (an account or a nick registered to one) for an
 * exchange: ACC_OK with has_scram set, then the attempt holds a login throttle slot
 * until account_scram_settle(&r->ticket, ...) says how the proof went. ACC_THROTTLED
 * when the throttle refuses; ACC_OK without keys for an account that has none yet
 * (derived at its next password login), ACC_UNVERIFIED, ACC_NOT_FOUND... hold nothing. */
void account_scram_lookup(struct client *c, const char *name, account_cb cb, void *arg);

/* Ends a SCRAM attempt: a right proof gives its throttle slots back; a wrong one keeps
 * them, like a wrong password. */
void account_scram_settle(const struct login_ticket *t, bool success);

/* Finds the account holding certificate fingerprint fp. */
void account_check_cert(struct client *c, const char *fp, account_cb cb, void *arg);

/* Completes a verification with code. */
void account_verify(struct client *c, const char *name, const char *code, account_cb cb, void *arg);

void account_set_password(struct client *c, const char *name, const char *password, account_cb cb, void *arg);
/* Stores email (already checked with account_email_valid) as account name's address. */
void account_set_email(struct client *c, const char *name, const char *email, account_cb cb, void *arg);
/* An address with one '@', something on both sides, no spaces or separators, at most
 * EMAIL_MAX bytes. */
bool account_email_valid(const char *email);
/* RESETPASS: mails a one-time code (valid an hour, kept in memory) through
 * accounts.mail_command, on the storage thread, if name is an account with an email
 * address. Nothing comes back: the caller answers the same whatever happens, so the
 * answer does not tell whether the account exists. */
void account_reset_request(struct client *c, const char *name);
/* Sets account name's password if code is its current reset code (used up by success);
 * ACC_BAD_CODE otherwise. */
void account_reset_password(struct client *c, const char *name, const char *code, const char *password,
                            account_cb cb, void *arg);
void account_drop(struct client *c, const char *name, account_cb cb, void *arg);
void account_info(struct client *c, const char *name, account_cb cb, void *arg);

/* CERT ADD (add true) or DEL of fp for account name; CERT LIST when fp is NULL. */
void account_cert(struct client *c, const char *name, const char *fp, bool add, account_cb cb, void *arg);

/* Finds the account owning nick (status ACC_NOT_FOUND if none). */
void account_nick_owner(struct client *c, const char *nick, account_cb cb, void *arg);

/* Logs c in as account: sets it, sends 900 and account-notify. */
void account_login(struct client *c, const char *account);

/* c's account (c->account, "" when logged out) changed: ACCOUNT to the account-notify
 * users sharing a channel with c or monitoring it (and to c if it has the capability),
 * and the change to the linked servers. */
void account_notify_change(struct client *c);

/* True if name is acceptable as an account name. */
bool account_name_valid(const char *name);

/* Holds / releases c's input while an operation runs. */
void client_hold(struct client *c);
void client_release(struct client *c);

/* Runs the transaction t (takes ownership; see storage_txn) while c's input is held, so
 * c's later commands wait for it; then done(c, status, arg) on the loop, with c NULL
 * when it left meanwhile (or was NULL): done must still apply a committed change to
 * memory, and replies only to a c that is there. c's input is released after done
 * unless done held it again for a next step. */
struct storage_txn;
typedef void (*client_store_cb)(struct client *c, enum db_status status, void *arg);
void client_store(struct client *c, struct storage_txn *t, client_store_cb done, void *arg);

#endif
