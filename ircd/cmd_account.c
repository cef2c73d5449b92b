/* cmd_account.c - logging in and registering from the client protocol: AUTHENTICATE
 * (SASL PLAIN, EXTERNAL and SCRAM-SHA-256 (sasl_scram.c), IRCv3 sasl 3.1/3.2), REGISTER and VERIFY
 * (draft/account-registration), and PASS account:password for clients without SASL. */
#include "account.h"
#include "cap.h"
#include "client.h"
#include "command.h"
#include "ircd.h"
#include "metrics.h"
#include "parse.h"
#include "reply.h"
#include "sasl.h"
#include "sasl_scram.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SASL_CHUNK 400
#define SASL_MAX 8192

static void sasl_reset(struct client *c)
{
	if (c->sasl_buf)
		OPENSSL_cleanse(c->sasl_buf, c->sasl_len);
	free(c->sasl_buf);
	c->sasl_buf = NULL;
	c->sasl_len = 0;
	c->sasl_mech[0] = '\0';
	sasl_scram_free(c);
}

static bool plaintext_login_allowed(const struct client *c)
{
	if (c->conn.ssl)
		return true;
	switch (ircd.conf->sasl_plaintext) {
	case 2: return true;
	case 1: return strncmp(c->conn.ip, "127.", 4) == 0 || strcmp(c->conn.ip, "0::1") == 0;
	default: return false;
	}
}

static void sasl_done(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	metrics.logins[c->sasl_mech[0] == 'E' ? METRICS_LOGIN_EXTERNAL : METRICS_LOGIN_PLAIN][r->status == ACC_OK]++;
	sasl_reset(c);
	if (r->status == ACC_OK) {
		account_login(c, r->name);
		reply(c, RPL_SASLSUCCESS);
		client_try_register(c);
		return;
	}
	if (r->status == ACC_UNAVAILABLE)
		reply_standard(c, "NOTE", "AUTHENTICATE", "TEMPORARILY_UNAVAILABLE", NULL,
		               "The account database is unavailable; try again shortly");
	reply(c, ERR_SASLFAIL);
	client_try_register(c); /* CAP END may have come while we waited */
}

static void sasl_finish(struct client *c)
{
	unsigned char *raw = malloc(c->sasl_len + 4);
	if (!raw)
		abort();
	int n = c->sasl_len ? sasl_b64_decode(c->sasl_buf, c->sasl_len, raw) : 0;
	if (n < 0) {
		free(raw);
		sasl_reset(c);
		reply(c, ERR_SASLFAIL);
		return;
	}
	raw[n] = '\0';
	if (strcmp(c->sasl_mech, "SCRAM-SHA-256") == 0) {
		/* one message of the exchange: the next one starts a new buffer */
		OPENSSL_cleanse(c->sasl_buf, c->sasl_len);
		free(c->sasl_buf);
		c->sasl_buf = NULL;
		c->sasl_len = 0;
		sasl_scram_step(c, raw, (size_t)n);
		OPENSSL_cleanse(raw, (size_t)n);
		free(raw);
		return;
	}
	if (strcmp(c->sasl_mech, "EXTERNAL") == 0) {
		free(raw);
		account_check_cert(c, c->conn.certfp, sasl_done, NULL);
		return;
	}
	struct sasl_plain plain;
	if (!sasl_plain_split((const char *)raw, (size_t)n, &plain)) {
		OPENSSL_cleanse(raw, (size_t)n);
		free(raw);
		sasl_reset(c);
		reply(c, ERR_SASLFAIL);
		return;
	}
	account_check_password(c, plain.authcid, plain.password, sasl_done, NULL);
	OPENSSL_cleanse(raw, (size_t)n);
	free(raw);
}

static void sasl_start(struct client *c, const char *mech)
{
	if (strcasecmp(mech, "PLAIN") == 0 && plaintext_login_allowed(c)) {
		snprintf(c->sasl_mech, sizeof c->sasl_mech, "PLAIN");
	} else if (strcasecmp(mech, "EXTERNAL") == 0 && c->conn.certfp[0]) {
		snprintf(c->sasl_mech, sizeof c->sasl_mech, "EXTERNAL");
	} else if (strcasecmp(mech, "SCRAM-SHA-256") == 0 && plaintext_login_allowed(c)) {
		snprintf(c->sasl_mech, sizeof c->sasl_mech, "SCRAM-SHA-256");
	} else {
		if (strcasecmp(mech, "PLAIN") != 0 && strcasecmp(mech, "EXTERNAL") != 0 &&
		    strcasecmp(mech, "SCRAM-SHA-256") != 0)
			reply(c, RPL_SASLMECHS, "PLAIN,EXTERNAL,SCRAM-SHA-256");
		reply(c, ERR_SASLFAIL);
		return;
	}
	client_sendf(c, "AUTHENTICATE +");
}

void sasl_abort(struct client *c)
{
	sasl_reset(c);
	reply(c, ERR_SASLABORTED);
}

void cmd_authenticate(struct client *c, struct msg *m)
{
	const char *arg = m->params[0];
	if (!client_has_cap(c, CAP_SASL)) {
		reply(c, ERR_SASLFAIL);
		return;
	}
	if (strcmp(arg, "*") == 0) {
		sasl_reset(c);
		reply(c, ERR_SASLABORTED);
		client_try_register(c);
		return;
	}
	if (!c->sasl_mech[0]) {
		if (c->account[0])
			reply(c, ERR_SASLALREADY);
		else
			sasl_start(c, arg);
		return;
	}
	size_t len = strlen(arg);
	if (len > SASL_CHUNK || c->sasl_len + len > SASL_MAX) {
		/* 905 is for one line over 400 bytes; a response that grows past the limit
		 * chunk by chunk is a failed exchange */
		sasl_reset(c);
		if (len > SASL_CHUNK)
			reply(c, ERR_SASLTOOLONG);
		else
			reply(c, ERR_SASLFAIL);
		return;
	}
	if (strcmp(arg, "+") != 0) {
		c->sasl_buf = realloc(c->sasl_buf, c->sasl_len + len + 1);
		if (!c->sasl_buf)
			abort();
		memcpy(c->sasl_buf + c->sasl_len, arg, len + 1);
		c->sasl_len += len;
	}
	if (len < SASL_CHUNK)
		sasl_finish(c);
}

/* ---- draft/account-registration ---- */

static void register_done(struct client *c, const struct account_result *r, void *arg)
{
	const char *cmd = arg;
	switch (r->status) {
	case ACC_OK:
		client_sendf(c, ":%s %s SUCCESS %s :Account successfully registered", ircd.conf->server_name, cmd, r->name);
		account_login(c, r->name);
		break;
	case ACC_UNVERIFIED:
		client_sendf(c, ":%s %s VERIFICATION_REQUIRED %s :Account created, pending verification; a code was sent to %s",
		             ircd.conf->server_name, cmd, r->name, "your email address");
		break;
	case ACC_EXISTS:
		reply_standard(c, "FAIL", cmd, "ACCOUNT_EXISTS", r->name[0] ? r->name : "*", "Account already exists");
		break;
	case ACC_THROTTLED: /* the spec has no code of its own for a rate limit */
		reply_standard(c, "FAIL", cmd, "TEMPORARILY_UNAVAILABLE", r->name[0] ? r->name : "*",
		               "Too many accounts registered from your address; try again later");
		break;
	default:
		reply_standard(c, "FAIL", cmd, "TEMPORARILY_UNAVAILABLE", r->name[0] ? r->name : "*",
		               "Account registration is temporarily unavailable");
		break;
	}
}

void cmd_register(struct client *c, struct msg *m)
{
	const struct conf *cf = ircd.conf;
	const char *name = m->params[0], *email = m->params[1], *password = m->params[2];
	if (!cf->registration_enabled) {
		reply_standard(c, "FAIL", "REGISTER", "DISALLOWED", "*", "Account registration is disabled");
		return;
	}
	if (c->account[0]) {
		reply_standard(c, "FAIL", "REGISTER", "ALREADY_AUTHENTICATED", c->account, "You are already logged in");
		return;
	}
	if (strcmp(name, "*") == 0) {
		if (!c->nick[0]) {
			reply_standard(c, "FAIL", "REGISTER", "NEED_NICK", "*", "Send NICK before registering the current nick");
			return;
		}
		name = c->nick;
	}
	if (!account_name_valid(name)) {
		reply_standard(c, "FAIL", "REGISTER", "BAD_ACCOUNT_NAME", name, "That account name is not valid");
		return;
	}
	bool no_email = strcmp(email, "*") == 0;
	if ((no_email && cf->email_required) || (!no_email && !account_email_valid(email))) {
		reply_standard(c, "FAIL", "REGISTER", "INVALID_EMAIL", name, "A valid email address is required");
		return;
	}
	if (strlen(password) < (size_t)cf->min_password_length) {
		reply_standard(c, "FAIL", "REGISTER", "WEAK_PASSWORD", name, "Password too short");
		return;
	}
	if (strlen(password) > PASSWORD_MAX) {
		reply_standard(c, "FAIL", "REGISTER", "UNACCEPTABLE_PASSWORD", name, "Password too long");
		return;
	}
	account_register(c, name, no_email ? "" : email, password, register_done, (void *)"REGISTER");
}

static void verify_done(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	if (r->status == ACC_OK) {
		client_sendf(c, ":%s VERIFY SUCCESS %s :Account successfully verified", ircd.conf->server_name, r->name);
		if (!c->account[0])
			account_login(c, r->name);
	} else if (r->status == ACC_UNAVAILABLE) {
		reply_standard(c, "FAIL", "VERIFY", "TEMPORARILY_UNAVAILABLE", r->name[0] ? r->name : "*", "Try again shortly");
	} else {
		reply_standard(c, "FAIL", "VERIFY", "INVALID_CODE", r->name[0] ? r->name : "*", "Invalid verification code");
	}
}

void cmd_verify(struct client *c, struct msg *m)
{
	account_verify(c, m->params[0], m->params[1], verify_done, NULL);
}

/* ---- PASS account:password ---- */

static void pass_done(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	metrics.logins[METRICS_LOGIN_PASS][r->status == ACC_OK]++;
	if (r->status == ACC_OK)
		account_login(c, r->name);
	else
		client_sendf(c, ":%s NOTICE %s :Login with PASS failed", ircd.conf->server_name, reply_target(c));
	client_try_register(c);
}

bool account_pass_login(struct client *c)
{
	if (c->flags & CLI_PASS_TRIED || ircd.conf->password[0] || !c->pass || c->account[0])
		return false;
	c->flags |= CLI_PASS_TRIED;
	char *colon = strchr(c->pass, ':');
	if (!colon || !plaintext_login_allowed(c))
		return false;
	/* the job keeps its own copy; the client's is wiped and freed before the login can
	 * complete (a throttled login completes at once and registration frees c->pass) */
	char pass[260];
	snprintf(pass, sizeof pass, "%s", c->pass);
	OPENSSL_cleanse(c->pass, strlen(c->pass));
	free(c->pass);
	c->pass = NULL;
	char *sep = strchr(pass, ':');
	*sep = '\0';
	account_check_password(c, pass, sep + 1, pass_done, NULL);
	OPENSSL_cleanse(pass, sizeof pass);
	return true;
}
