/* cap.c - capability negotiation (CAP LS/LIST/REQ/END, versions 301 and 302).
 * A capability is listed here only once it works; its value, if any, is shown to
 * 302 clients. Registration waits while negotiation is open (CLI_CAP_WAIT). */
#include "cap.h"

#include "client.h"
#include "ircd.h"
#include "parse.h"
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cap_def {
	const char *name;
	enum cap_bit bit;
	const char *(*value)(const struct client *c); /* 302 value, or NULL */
};

static const char *sasl_value(const struct client *c)
{
	(void)c;
	return "PLAIN,EXTERNAL,SCRAM-SHA-256";
}

static const char *registration_value(const struct client *c)
{
	(void)c;
	return ircd.conf->email_required ? "before-connect,custom-account-name,email-required"
	                                 : "before-connect,custom-account-name";
}

/* STS: a plaintext client is told where TLS is (and only that: the policy is not to be
 * trusted from an insecure connection, so no duration); a TLS client how long to keep
 * the policy. */
static void sts_format(const struct conf *conf, bool tls, char *buf, size_t size)
{
	if (!tls)
		snprintf(buf, size, "port=%d", conf->sts_port);
	else
		snprintf(buf, size, "duration=%d%s", conf->sts_duration, conf->sts_preload ? ",preload" : "");
}

static const char *sts_value(const struct client *c)
{
	static char buf[64];
	sts_format(ircd.conf, c->conn.ssl != NULL, buf, sizeof buf);
	return buf;
}

/* Whether conf offers sts to a plaintext or TLS client (see offered()). */
static bool sts_offered(const struct conf *conf, bool tls)
{
	return conf->sts_enabled && (tls || conf->sts_duration > 0);
}

static const struct cap_def caps[] = {
    {"account-notify", CAP_ACCOUNT_NOTIFY, NULL},
    {"account-tag", CAP_ACCOUNT_TAG, NULL},
    {"away-notify", CAP_AWAY_NOTIFY, NULL},
    {"batch", CAP_BATCH, NULL},
    {"cap-notify", CAP_CAP_NOTIFY, NULL},
    {"chghost", CAP_CHGHOST, NULL},
    {"draft/chathistory", CAP_CHATHISTORY, NULL},
    {"draft/message-edit", CAP_MESSAGE_EDIT, NULL},
    {"draft/message-redaction", CAP_MESSAGE_REDACTION, NULL},
    {"draft/read-marker", CAP_READ_MARKER, NULL},
    {"draft/account-registration", CAP_ACCOUNT_REGISTRATION, registration_value},
    {"echo-message", CAP_ECHO_MESSAGE, NULL},
    {"extended-join", CAP_EXTENDED_JOIN, NULL},
    {"extended-monitor", CAP_EXTENDED_MONITOR, NULL},
    {"invite-notify", CAP_INVITE_NOTIFY, NULL},
    {"labeled-response", CAP_LABELED_RESPONSE, NULL},
    {"message-tags", CAP_MESSAGE_TAGS, NULL},
    {"multi-prefix", CAP_MULTI_PREFIX, NULL},
    {"sasl", CAP_SASL, sasl_value},
    {"server-time", CAP_SERVER_TIME, NULL},
    {"setname", CAP_SETNAME, NULL},
    {"soju.im/search", CAP_SEARCH, NULL},
    {"standard-replies", CAP_STANDARD_REPLIES, NULL},
    {"sts", CAP_STS, sts_value},
    {"userhost-in-names", CAP_USERHOST_IN_NAMES, NULL},
    {"znc.in/self-message", CAP_SELF_MESSAGE, NULL},
};
#define NCAPS (sizeof caps / sizeof caps[0])

static const struct cap_def *cap_find(const char *name)
{
	for (size_t i = 0; i < NCAPS; i++)
		if (strcmp(caps[i].name, name) == 0)
			return &caps[i];
	return NULL;
}

/* True if def is offered to c: account-registration only when registration is on;
 * sts when configured, and on plaintext only while the policy stands (duration 0
 * withdraws it: TLS clients are told so, plaintext ones are no longer sent away). */
static bool offered(const struct client *c, const struct cap_def *def)
{
	if (def->bit == CAP_ACCOUNT_REGISTRATION)
		return ircd.conf->registration_enabled;
	if (def->bit == CAP_STS)
		return sts_offered(ircd.conf, c->conn.ssl != NULL);
	return true;
}

/* Sends "CAP <nick> <sub> [*] :<list>", split so each line stays under the limit. */
static void send_list(struct client *c, const char *sub, bool only_enabled, bool values)
{
	char list[1024] = "";
	size_t len = 0;
	for (size_t i = 0; i < NCAPS; i++) {
		if (only_enabled && !(c->caps & CAPF(caps[i].bit)))
			continue;
		if (!offered(c, &caps[i]))
			continue;
		char item[128];
		bool v = values && caps[i].value;
		snprintf(item, sizeof item, "%s%s%s", caps[i].name, v ? "=" : "", v ? caps[i].value(c) : "");
		/* ":server CAP nick LS * :" and the list must fit in 510 bytes */
		size_t room = 490 - strlen(ircd.conf->server_name) - strlen(reply_target(c));
		if (len + strlen(item) + 1 > room && c->cap_version >= 302) {
			client_sendf(c, ":%s CAP %s %s * :%s", ircd.conf->server_name, reply_target(c), sub, list);
			len = 0;
			list[0] = '\0';
		}
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? " " : "", item);
	}
	client_sendf(c, ":%s CAP %s %s :%s", ircd.conf->server_name, reply_target(c), sub, list);
}

/* Applies "REQ :a -b c" all or nothing. Returns false if any name is unknown, not
 * offered, or informational only (sts: never enabled, so always refused). */
static bool apply_req(struct client *c, const char *req)
{
	uint32_t set = c->caps;
	char buf[512];
	snprintf(buf, sizeof buf, "%s", req);
	for (char *save, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		bool remove = *tok == '-';
		const struct cap_def *d = cap_find(tok + remove);
		if (!d || d->bit == CAP_STS || (!remove && !offered(c, d)))
			return false;
		if (remove)
			set &= ~CAPF(d->bit);
		else
			set |= CAPF(d->bit);
	}
	c->caps = set;
	return true;
}

void cap_conf_changed(const struct conf *old, const struct conf *nc)
{
	char was[2][64] = {"", ""}, now[2][64] = {"", ""}; /* [tls]: "" when not offered */
	for (int tls = 0; tls < 2; tls++) {
		if (sts_offered(old, tls))
			sts_format(old, tls, was[tls], sizeof was[tls]);
		if (sts_offered(nc, tls))
			sts_format(nc, tls, now[tls], sizeof now[tls]);
	}
	if (strcmp(was[0], now[0]) == 0 && strcmp(was[1], now[1]) == 0)
		return;
	for (struct client *c = ircd.clients; c; c = c->next) {
		int tls = c->conn.ssl != NULL;
		if (client_dead(c) || !client_has_cap(c, CAP_CAP_NOTIFY) || strcmp(was[tls], now[tls]) == 0)
			continue;
		if (!now[tls][0])
			client_sendf(c, ":%s CAP %s DEL :sts", nc->server_name, reply_target(c));
		else if (c->cap_version >= 302)
			client_sendf(c, ":%s CAP %s NEW :sts=%s", nc->server_name, reply_target(c), now[tls]);
		else if (!was[tls][0])
			client_sendf(c, ":%s CAP %s NEW :sts", nc->server_name, reply_target(c));
	}
}

void cmd_cap(struct client *c, struct msg *m)
{
	const char *sub = m->params[0];
	const char *me = ircd.conf->server_name;
	if (strcasecmp(sub, "LS") == 0) {
		int version = m->nparams > 1 ? atoi(m->params[1]) : 301;
		if (version > c->cap_version)
			c->cap_version = version;
		if (c->cap_version >= 302)
			c->caps |= CAPF(CAP_CAP_NOTIFY);
		if (!client_registered(c))
			c->flags |= CLI_CAP_WAIT;
		send_list(c, "LS", false, c->cap_version >= 302);
	} else if (strcasecmp(sub, "LIST") == 0) {
		send_list(c, "LIST", true, false);
	} else if (strcasecmp(sub, "REQ") == 0) {
		const char *req = m->nparams > 1 ? m->params[1] : "";
		if (!client_registered(c))
			c->flags |= CLI_CAP_WAIT;
		bool ok = apply_req(c, req);
		client_sendf(c, ":%s CAP %s %s :%s", me, reply_target(c), ok ? "ACK" : "NAK", req);
	} else if (strcasecmp(sub, "END") == 0) {
		if (!client_registered(c)) {
			c->flags &= ~CLI_CAP_WAIT;
			if (c->sasl_mech[0]) /* CAP END ends an unfinished SASL exchange */
				sasl_abort(c);
			client_try_register(c);
		}
	} else {
		reply(c, ERR_INVALIDCAPCMD, sub);
	}
}
