/* logincache.h - a bounded in-memory cache of recent successful password checks, so a
 * client that reconnects (a login storm after a network blip) is not verified with
 * scrypt again. An entry is the HMAC-SHA256, under a key drawn at random when the
 * process starts, of (account, stored hash, password): never the password, and useless
 * outside this process. Loop thread only; every call is a few microseconds. */
#ifndef PARLEY_LOGINCACHE_H
#define PARLEY_LOGINCACHE_H

#include <stdbool.h>

#define LOGINCACHE_MAC_LEN 32

/* Computes the cache key of a check of password against the stored hash of account
 * (folded name) into mac. Returns false (mac unset) when the cache is off
 * (accounts.login_cache_seconds = 0). */
bool logincache_key(const char *account, const char *hash, const char *password,
                    unsigned char mac[LOGINCACHE_MAC_LEN]);

/* True if mac was stored by logincache_put less than accounts.login_cache_seconds ago. */
bool logincache_hit(const unsigned char mac[LOGINCACHE_MAC_LEN]);

/* Stores mac (a check that succeeded) for account (folded name), evicting the oldest
 * entry of its set when the set is full. */
void logincache_put(const char *account, const unsigned char mac[LOGINCACHE_MAC_LEN]);

/* Drops every entry of account (folded name): its password changed or it was dropped. */
void logincache_forget(const char *account);

/* Entries currently held (for tests and STATS). */
unsigned logincache_count(void);

#endif
