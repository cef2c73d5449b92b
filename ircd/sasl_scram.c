/* sasl_scram.c - SCRAM-SHA-256 over AUTHENTICATE (IRCv3 sasl-3.1):
 *
 *   C: AUTHENTICATE SCRAM-SHA-256        S: AUTHENTICATE +
 *   C: client-first (base64)             (keys loaded on the storage thread)
 *                                        S: server-first (base64)
 *   C: client-final (base64)             (proof checked: a few HMACs, on the loop)
 *                                        S: server-final "v=..." (base64)
 *   C: AUTHENTICATE +                    S: 900, 903
 *
 * The attempt takes a login throttle slot when its keys are looked up and gives it back
 * only when the proof is right, so guessing through SCRAM is throttled like PLAIN. An
 * account without keys (registered before SCRAM, not logged in with a password since)
 * gets 904: the client falls back to PLAIN, whose success derives the keys. */
#include "sasl_scram.h"

#include "account.h"
#include "client.h"
#include "ircd.h"
#include "reply.h"
#include "scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 400

enum stage { WANT_FIRST, LOOKING_UP, WANT_FINAL, WANT_ACK };

struct sasl_scram {
	enum stage stage;
	struct scram_exchange x;
	struct scram_keys keys;
	struct login_ticket ticket;
	char account[ACCOUNT_MAX + 1];
};

void sasl_scram_free(struct client *c)
{
	if (!c->scram)
		return;
	OPENSSL_cleanse(c->scram, sizeof *c->scram);
	free(c->scram);
	c->scram = NULL;
}

/* Ends the exchange with 904. */
static void fail(struct client *c)
{
	sasl_scram_free(c);
	c->sasl_mech[0] = '\0';
	reply(c, ERR_SASLFAIL);
}

/* Sends msg as base64 AUTHENTICATE lines of CHUNK bytes (a full last chunk is followed
 * by "AUTHENTICATE +", as the client would do). */
static void send_message(struct client *c, const char *msg)
{
	size_t n = strlen(msg);
	char *b = malloc(4 * ((n + 2) / 3) + 1);
	if (!b)
		abort();
	EVP_EncodeBlock((unsigned char *)b, (const unsigned char *)msg, (int)n);
	size_t len = strlen(b);
	for (size_t off = 0; off < len; off += CHUNK)
		client_sendf(c, "AUTHENTICATE %.*s", (int)(len - off < CHUNK ? len - off : CHUNK), b + off);
	if (len % CHUNK == 0)
		client_sendf(c, "AUTHENTICATE +");
	free(b);
}

static void lookup_done(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	struct sasl_scram *s = c->scram;
	if (!s || s->stage != LOOKING_UP) {
		if (r->has_scram)
			account_scram_settle(&r->ticket, false);
		return;
	}
	if (r->status != ACC_OK || !r->has_scram) {
		if (r->status == ACC_UNAVAILABLE)
			reply_standard(c, "NOTE", "AUTHENTICATE", "TEMPORARILY_UNAVAILABLE", NULL,
			               "The account database is unavailable; try again shortly");
		fail(c);
		client_try_register(c);
		return;
	}
	s->keys = r->scram;
	s->ticket = r->ticket;
	snprintf(s->account, sizeof s->account, "%s", r->name);
	if (scram_server_first(&s->x, &s->keys) < 0) {
		account_scram_settle(&s->ticket, true); /* our failure, not a guess */
		fail(c);
		return;
	}
	s->stage = WANT_FINAL;
	send_message(c, s->x.server_first);
}

void sasl_scram_step(struct client *c, const unsigned char *msg, size_t n)
{
	if (!c->scram) {
		c->scram = calloc(1, sizeof *c->scram);
		if (!c->scram)
			abort();
	}
	struct sasl_scram *s = c->scram;
	switch (s->stage) {
	case WANT_FIRST:
		if (scram_client_first(&s->x, (const char *)msg, n) != SCRAM_OK || strlen(s->x.user) > ACCOUNT_MAX) {
			fail(c);
			return;
		}
		s->stage = LOOKING_UP;
		account_scram_lookup(c, s->x.user, lookup_done, NULL);
		return;
	case WANT_FINAL: {
		char final[64];
		bool ok = scram_client_final(&s->x, &s->keys, (const char *)msg, n, final, sizeof final) == SCRAM_OK;
		account_scram_settle(&s->ticket, ok);
		if (!ok) {
			fail(c);
			return;
		}
		s->stage = WANT_ACK;
		send_message(c, final);
		return;
	}
	case WANT_ACK: {
		if (n != 0) {
			fail(c);
			return;
		}
		char account[ACCOUNT_MAX + 1];
		snprintf(account, sizeof account, "%s", s->account);
		sasl_scram_free(c);
		c->sasl_mech[0] = '\0';
		account_login(c, account);
		reply(c, RPL_SASLSUCCESS);
		client_try_register(c);
		return;
	}
	case LOOKING_UP: /* input is held meanwhile: not reached */
		fail(c);
		return;
	}
}
