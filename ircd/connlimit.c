/* connlimit.c - counters keyed by address and by /24 (IPv4) or /64 (IPv6) network. The
 * rate throttle keeps, per address, the count of connections in the current 10-second
 * window; entries are dropped when they fall to zero, so memory follows the number of
 * addresses actually connected or recently seen. */
#include "connlimit.h"

#include "dict.h"
#include "ircd.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct counter {
	char key[64];
	unsigned n;
	time_t window;
	unsigned rate;
};

static struct dict *per_ip, *per_net;

static void sweep(struct dict *d);

static void network_of(const char *ip, char *out, size_t size)
{
	unsigned char a[16];
	const char *addr = ip[0] == '0' && ip[1] == ':' ? ip + 1 : ip;
	if (inet_pton(AF_INET, addr, a) == 1) {
		snprintf(out, size, "%u.%u.%u.0/24", a[0], a[1], a[2]);
	} else if (inet_pton(AF_INET6, addr, a) == 1) {
		memset(a + 8, 0, 8);
		char buf[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, a, buf, sizeof buf);
		snprintf(out, size, "%s/64", buf);
	} else {
		snprintf(out, size, "%s", ip);
	}
}

static struct counter *get(struct dict **d, const char *key)
{
	if (!*d)
		*d = dict_new();
	struct counter *c = dict_get(*d, key);
	if (!c) {
		sweep(*d);
		c = calloc(1, sizeof *c);
		if (!c)
			abort();
		snprintf(c->key, sizeof c->key, "%s", key);
		c->window = time(NULL);
		dict_put(*d, c->key, c);
	}
	return c;
}

static void put_back(struct dict *d, const char *key)
{
	struct counter *c = d ? dict_get(d, key) : NULL;
	if (!c)
		return;
	if (c->n)
		c->n--;
	if (c->n == 0 && c->window + 10 <= time(NULL))
		free(dict_del(d, key));
}

/* Parses "address" or "address/bits" (IPv4 or IPv6, any spelling inet_pton accepts) into
 * family, the address bytes and the prefix length; false if it is neither. */
static bool parse_net(const char *text, int *family, unsigned char addr[16], int *bits)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	*family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	int max = *family == AF_INET6 ? 128 : 32;
	if (inet_pton(*family, buf, addr) != 1)
		return false;
	*bits = max;
	if (slash) {
		const char *b = slash + 1;
		if (!*b || strlen(b) > 3 || strspn(b, "0123456789") != strlen(b) || atoi(b) > max)
			return false;
		*bits = atoi(b);
	}
	return true;
}

bool connlimit_net_valid(const char *text)
{
	int family, bits;
	unsigned char a[16];
	return parse_net(text, &family, a, &bits);
}

bool connlimit_net_match(const char *net, const char *ip)
{
	int nf, ipf, bits, ipbits;
	unsigned char a[16], b[16];
	if (!parse_net(net, &nf, a, &bits) || !parse_net(ip, &ipf, b, &ipbits) || nf != ipf)
		return false;
	for (int i = 0; bits > 0; i++, bits -= 8) {
		unsigned char m = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
		if ((a[i] & m) != (b[i] & m))
			return false;
	}
	return true;
}

static bool in_list(const char *list, const char *ip)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", list);
	char *save;
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (connlimit_net_match(t, ip))
			return true;
	return false;
}

/* A trusted WebSocket proxy carries many clients; each is counted under its own
 * address once the proxy names it (client.c). */
bool connlimit_exempt(const char *ip)
{
	return in_list(ircd.conf->limit_exempt, ip) || in_list(ircd.conf->ws_proxies, ip);
}

struct sweep {
	struct counter **dead;
	size_t n, cap;
};

static void collect_dead(void *value, void *arg)
{
	struct counter *c = value;
	struct sweep *sw = arg;
	if (c->n || c->window + 10 > time(NULL))
		return;
	if (sw->n == sw->cap) {
		sw->cap = sw->cap ? sw->cap * 2 : 256;
		sw->dead = realloc(sw->dead, sw->cap * sizeof *sw->dead);
		if (!sw->dead)
			abort();
	}
	sw->dead[sw->n++] = c;
}

/* Drops counters of addresses with no connection and no recent attempt, so the tables
 * follow the addresses actually in use; runs when a table passes a bound. */
static void sweep(struct dict *d)
{
	if (!d || dict_count(d) < 4096)
		return;
	struct sweep sw = {0};
	dict_each(d, collect_dead, &sw);
	for (size_t i = 0; i < sw.n; i++)
		free(dict_del(d, sw.dead[i]->key));
	free(sw.dead);
}

bool connlimit_admit(const char *ip, char *why, size_t size)
{
	const struct conf *cf = ircd.conf;
	char net[64];
	network_of(ip, net, sizeof net);
	struct counter *a = get(&per_ip, ip), *n = get(&per_net, net);
	time_t now = time(NULL);
	if (now >= a->window + 10) {
		a->window = now;
		a->rate = 0;
	}
	if (!connlimit_exempt(ip)) {
		const char *reason = NULL;
		if (cf->connect_rate && a->rate >= (unsigned)cf->connect_rate)
			reason = "Connecting too fast from your address";
		else if (cf->per_ip_max && a->n >= (unsigned)cf->per_ip_max)
			reason = "Too many connections from your address";
		else if (cf->per_cidr_max && n->n >= (unsigned)cf->per_cidr_max)
			reason = "Too many connections from your network";
		if (reason) {
			a->rate++;
			snprintf(why, size, "%s", reason);
			return false;
		}
	}
	a->rate++;
	a->n++;
	n->n++;
	return true;
}

void connlimit_release(const char *ip)
{
	char net[64];
	network_of(ip, net, sizeof net);
	put_back(per_ip, ip);
	put_back(per_net, net);
}
