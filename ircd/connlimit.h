/* connlimit.h - per-address and per-network concurrent connection limits and a
 * connection-rate throttle per address (connlimit section of the config). Checked at
 * accept, before any per-client state is allocated. */
#ifndef PARLEY_CONNLIMIT_H
#define PARLEY_CONNLIMIT_H

#include <stdbool.h>
#include <stddef.h>

/* Counts a new connection from ip and returns true, or returns false (counting
 * nothing) with the reason when a limit refuses it. */
bool connlimit_admit(const char *ip, char *why, size_t size);

/* True if ip is listed in connlimit.exempt. */
bool connlimit_exempt(const char *ip);

/* Forgets a connection admitted from ip. */
void connlimit_release(const char *ip);

#endif
