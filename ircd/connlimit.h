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

/* True if ip (an address as text) is in net ("address" or "address/bits", IPv4 or IPv6):
 * both are parsed with inet_pton and compared as bytes, so "0::1", "::1" and
 * "0:0:0:0:0:0:0:1" are the same address. False if either does not parse. */
bool connlimit_net_match(const char *net, const char *ip);

/* True if text is an address or a CIDR range connlimit_net_match understands. */
bool connlimit_net_valid(const char *text);

/* True if ip is in one of the ranges of connlimit.exempt or websocket.proxies. */
bool connlimit_exempt(const char *ip);

/* Forgets a connection admitted from ip. */
void connlimit_release(const char *ip);

#endif
