/* ban.h - server bans: K-lines (user@host masks) and D-lines (IP addresses or CIDR
 * ranges), optional expiry, stored through the storage layer so they survive restarts. */
#ifndef PARLEY_BAN_H
#define PARLEY_BAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct client;
struct msg;

/* Loads the stored bans (at start, before the storage thread runs). */
void ban_load(void);

/* Reads the stored bans again on the storage thread and replaces the list with them
 * (REHASH, SIGHUP: a ban removed with parleyd -unban is lifted). */
void ban_reload(void);

/* True if ip is D-lined; the reason goes into reason. */
bool ban_check_ip(const char *ip, char *reason, size_t size);

/* A K-line (user@host) set or lifted on another server: stored and applied here as if
 * set here (without the lockout checks), by setter ("nick" or a server name). False if
 * it is malformed, already in force, or (lifting) not there; the caller then does not
 * pass it on. seconds 0: permanent. */
bool ban_kline_from_network(const char *mask, long seconds, const char *reason, const char *setter);
bool ban_unkline_from_network(const char *mask, const char *setter);

/* True if c (registering) is K-lined or D-lined. */
bool ban_check_client(const struct client *c, char *reason, size_t size);

/* True if text is an IPv4/IPv6 address or CIDR range that matches ip. */
bool cidr_match(const char *text, const char *ip);

/* STATS k / d: one 216 (K-lines) or 225 (D-lines) per ban in force, with the seconds
 * left (or "permanent"), the setter and the reason. */
void server_bans_stats(struct client *c, char kind);

/* parleyd -unban: deletes every stored ban whose mask is mask (any case, K or D) in one
 * transaction on the store opened by storage_open (no storage thread), printing each to
 * out. Returns how many, or -1 when the database failed (nothing was deleted). */
int ban_unban_stored(const char *mask, FILE *out);

void cmd_kline(struct client *, struct msg *);
void cmd_unkline(struct client *, struct msg *);
void cmd_dline(struct client *, struct msg *);
void cmd_undline(struct client *, struct msg *);

#endif
