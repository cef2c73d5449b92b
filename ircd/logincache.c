/* logincache.c - the verification cache (see logincache.h).
 *
 * DESIGN: a set-associative table (sets of WAYS entries, the set chosen by the MAC's
 * first bytes, which are uniform), so its size is fixed by accounts.login_cache_entries
 * and a full set evicts its oldest entry: no list to maintain, nothing to grow under a
 * storm. The stored hash string is part of the MAC, so a changed password (a new salt)
 * can never hit an old entry; logincache_forget also drops them at once, on SET
 * PASSWORD and DROP.
 *
 * Timing: a hit skips scrypt, so it answers in microseconds where a miss takes tens of
 * milliseconds. Only a right password is ever stored, so the difference tells an
 * attacker that a password they already know was used recently; a wrong guess always
 * pays for scrypt and the login throttle still counts it. */
#include "logincache.h"

#include "account.h"
#include "ircd.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAYS 4

struct entry {
	unsigned char mac[LOGINCACHE_MAC_LEN];
	long long stored;                    /* monotonic ms; 0: free */
	char account[ACCOUNT_MAX + 1];
};

static unsigned char secret[32];
static bool have_secret;
static struct entry *table;
static unsigned nsets, count;

/* The table for the configured size, (re)made when that changes (a REHASH empties it). */
static bool ready(void)
{
	const struct conf *cf = ircd.conf;
	if (cf->login_cache_seconds <= 0)
		return false;
	if (!have_secret) {
		if (RAND_bytes(secret, sizeof secret) != 1)
			return false;
		have_secret = true;
	}
	unsigned sets = (unsigned)(cf->login_cache_entries + WAYS - 1) / WAYS;
	if (table && sets == nsets)
		return true;
	if (table)
		OPENSSL_cleanse(table, (size_t)nsets * WAYS * sizeof *table);
	free(table);
	table = calloc((size_t)sets * WAYS, sizeof *table);
	if (!table)
		abort();
	nsets = sets;
	count = 0;
	return true;
}

static struct entry *set_of(const unsigned char *mac)
{
	unsigned long long h;
	memcpy(&h, mac, sizeof h);
	return table + (size_t)(h % nsets) * WAYS;
}

/* Milliseconds on the monotonic clock (never 0): a lifetime of whole seconds counted
 * in time() steps could end anywhere in its last second. */
static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

static bool expired(const struct entry *e, long long now)
{
	return now - e->stored >= 1000LL * ircd.conf->login_cache_seconds || now < e->stored;
}

static void clear(struct entry *e)
{
	OPENSSL_cleanse(e, sizeof *e);
	count--;
}

bool logincache_key(const char *account, const char *hash, const char *password,
                    unsigned char mac[LOGINCACHE_MAC_LEN])
{
	if (!ready())
		return false;
	/* NUL-separated: none of the three holds a NUL, so the input is unambiguous */
	size_t la = strlen(account) + 1, lh = strlen(hash) + 1, lp = strlen(password);
	unsigned char *in = malloc(la + lh + lp + 1);
	if (!in)
		abort();
	memcpy(in, account, la);
	memcpy(in + la, hash, lh);
	memcpy(in + la + lh, password, lp);
	unsigned len = 0;
	bool ok = HMAC(EVP_sha256(), secret, sizeof secret, in, la + lh + lp, mac, &len) && len == LOGINCACHE_MAC_LEN;
	OPENSSL_cleanse(in, la + lh + lp);
	free(in);
	return ok;
}

bool logincache_hit(const unsigned char mac[LOGINCACHE_MAC_LEN])
{
	if (!ready())
		return false;
	long long now = now_ms();
	struct entry *set = set_of(mac);
	for (int i = 0; i < WAYS; i++) {
		struct entry *e = &set[i];
		if (!e->stored)
			continue;
		if (expired(e, now)) {
			clear(e);
			continue;
		}
		if (CRYPTO_memcmp(e->mac, mac, LOGINCACHE_MAC_LEN) == 0)
			return true;
	}
	return false;
}

void logincache_put(const char *account, const unsigned char mac[LOGINCACHE_MAC_LEN])
{
	if (!ready())
		return;
	long long now = now_ms();
	struct entry *set = set_of(mac), *slot = NULL;
	for (int i = 0; i < WAYS; i++) {
		struct entry *e = &set[i];
		if (e->stored && (expired(e, now) || CRYPTO_memcmp(e->mac, mac, LOGINCACHE_MAC_LEN) == 0))
			clear(e);
		if (!e->stored && !slot)
			slot = e;
	}
	if (!slot) {
		slot = &set[0];
		for (int i = 1; i < WAYS; i++)
			if (set[i].stored < slot->stored)
				slot = &set[i];
		clear(slot);
	}
	memcpy(slot->mac, mac, LOGINCACHE_MAC_LEN);
	snprintf(slot->account, sizeof slot->account, "%s", account);
	slot->stored = now;
	count++;
}

void logincache_forget(const char *account)
{
	if (!table)
		return;
	for (size_t i = 0; i < (size_t)nsets * WAYS; i++)
		if (table[i].stored && strcmp(table[i].account, account) == 0)
			clear(&table[i]);
}

unsigned logincache_count(void) { return count; }
