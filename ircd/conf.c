/* conf.c - loading and validating the configuration file.
 *
 * DESIGN: every key the daemon knows is listed in a table (type, where it goes, range,
 * default, whether it is required). A group is loaded by walking its table, and any
 * setting in the file that no table names is an error, so a typo never passes
 * silently. Loading fills a fresh struct conf and collects every error with its file
 * and line; the caller swaps the new conf in only when there were none, so `-t`, start
 * and REHASH share this code and a broken file never replaces a working one. */
#include "conf.h"

#include "connlimit.h"
#include "log.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdint.h>
#include <strings.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

/* Where `make install` puts the migrations ($(PREFIX)/share/parley/sql); the Makefile
 * defines it from PREFIX. A source-tree config names its own (conf/parley.conf: "../sql"). */
#ifndef PARLEY_SCHEMA_DIR
#define PARLEY_SCHEMA_DIR "/usr/local/share/parley/sql"
#endif

enum key_type { K_STR, K_INT, K_SIZE, K_BOOL, K_FLOAT };

struct key {
	const char *name;
	enum key_type type;
	size_t offset, size; /* size: buffer size for K_STR */
	long long min, max;  /* K_INT and K_FLOAT ranges */
	const char *def;     /* default as text; NULL means required */
};

#define STR(n, st, f, d) {n, K_STR, offsetof(st, f), sizeof(((st *)0)->f), 0, 0, d}
#define INT(n, st, f, lo, hi, d) {n, K_INT, offsetof(st, f), 0, lo, hi, d}
#define SIZE(n, st, f, lo, hi, d) {n, K_SIZE, offsetof(st, f), 0, lo, hi, d}
#define BOOL(n, st, f, d) {n, K_BOOL, offsetof(st, f), 0, 0, 0, d}
#define FLOAT(n, st, f, lo, hi, d) {n, K_FLOAT, offsetof(st, f), 0, lo, hi, d}

/* Listeners name their class; the name is resolved after all classes are read. */
struct listener_raw {
	char address[CONF_NAME_LEN];
	int port;
	bool tls;
	bool websocket;
	char class_name[CONF_NAME_LEN];
};

/* Settings given as text and converted after loading. */
struct conf_raw {
	char log_level[16];
	char log_facility[16];
	char log_categories[LOGC_COUNT][16]; /* "" = the general level */
	char backend[16];
	char sasl_plaintext[16];
};

static const struct key server_keys[] = {
    STR("name", struct conf, server_name, NULL),
    STR("sid", struct conf, sid, ""),
    STR("network", struct conf, network, "Parley"),
    STR("description", struct conf, description, "Parley IRC server"),
    STR("motd", struct conf, motd_path, ""),
    STR("password", struct conf, password, ""),
    STR("user", struct conf, user, ""),
    STR("group", struct conf, group, ""),
    BOOL("allow_root", struct conf, allow_root, "false"),
    {0},
};
static const struct key admin_keys[] = {
    STR("location", struct conf, admin_location, "Parley server"),
    STR("location2", struct conf, admin_location2, ""),
    STR("email", struct conf, admin_email, "admin@localhost"),
    {0},
};
static const struct key limits_keys[] = {
    INT("nicklen", struct conf, nicklen, 9, 64, "30"),
    INT("registration_timeout", struct conf, registration_timeout, 1, 3600, "30"),
    {0},
};
static const struct key tls_keys[] = {
    STR("certificate", struct conf, tls_cert, NULL),
    STR("key", struct conf, tls_key, NULL),
    {0},
};
static const struct key sts_keys[] = {
    INT("port", struct conf, sts_port, 1, 65535, NULL),
    INT("duration", struct conf, sts_duration, 0, INT_MAX, "2592000"),
    BOOL("preload", struct conf, sts_preload, "false"),
    {0},
};
static const struct key log_raw_keys[] = {
    STR("level", struct conf_raw, log_level, "info"),
    STR("syslog_facility", struct conf_raw, log_facility, "daemon"),
    {0},
};
static const struct key log_keys[] = {
    STR("file", struct conf, log.file, ""),
    BOOL("syslog", struct conf, log.syslog, "false"),
    {0},
};
/* log.categories: one level per category (log.h); unset ones follow log.level. */
static const struct key log_category_keys[] = {
    STR("audit", struct conf_raw, log_categories[LOGC_AUDIT], ""),
    STR("connections", struct conf_raw, log_categories[LOGC_CONNECTIONS], ""),
    STR("storage", struct conf_raw, log_categories[LOGC_STORAGE], ""),
    {0},
};
static const struct key storage_keys[] = {
    STR("schema_dir", struct conf, schema_dir, PARLEY_SCHEMA_DIR),
    {0},
};
static const struct key storage_raw_keys[] = {
    STR("backend", struct conf_raw, backend, "sqlite"),
    {0},
};
static const struct key sqlite_keys[] = {
    STR("path", struct conf, sqlite_path, "var/parley.db"),
    {0},
};
static const struct key mariadb_keys[] = {
    STR("host", struct conf, mariadb_host, "127.0.0.1"),
    INT("port", struct conf, mariadb_port, 1, 65535, "3306"),
    STR("socket", struct conf, mariadb_socket, ""),
    STR("user", struct conf, mariadb_user, "parley"),
    STR("password", struct conf, mariadb_password, ""),
    STR("database", struct conf, mariadb_database, "parley"),
    BOOL("tls", struct conf, mariadb_tls, "false"),
    {0},
};
static const struct key accounts_keys[] = {
    BOOL("registration", struct conf, registration_enabled, "true"),
    BOOL("email_required", struct conf, email_required, "false"),
    STR("verify_command", struct conf, verify_command, ""),
    STR("mail_command", struct conf, mail_command, ""),
    INT("min_password_length", struct conf, min_password_length, 1, 256, "8"),
    INT("scrypt_n", struct conf, scrypt_n, 2, 1048576, "16384"),
    INT("scrypt_r", struct conf, scrypt_r, 1, 64, "8"),
    INT("scrypt_p", struct conf, scrypt_p, 1, 16, "1"),
    INT("nick_enforce_delay", struct conf, nick_enforce_delay, 0, 3600, "0"),
    STR("guest_prefix", struct conf, guest_prefix, "Guest"),
    INT("max_failed_logins", struct conf, max_failed_logins, 1, 1000, "5"),
    INT("registrations_per_ip_hour", struct conf, registrations_per_ip_hour, 0, 100000, "3"),
    INT("crypto_threads", struct conf, crypto_threads, 0, 64, "0"),
    INT("login_cache_seconds", struct conf, login_cache_seconds, 0, 604800, "3600"),
    INT("login_cache_entries", struct conf, login_cache_entries, 4, 10000000, "65536"),
    INT("scram_iterations", struct conf, scram_iterations, 4096, 10000000, "4096"),
    INT("max_sessions", struct conf, max_sessions, 1, 100, "5"),
    BOOL("always_on", struct conf, always_on, "false"),
    {0},
};
static const struct key accounts_raw_keys[] = {
    STR("sasl_plaintext", struct conf_raw, sasl_plaintext, "loopback"),
    {0},
};
static const struct key oper_keys[] = {
    STR("name", struct conf_oper, name, NULL),
    STR("password", struct conf_oper, password, NULL),
    STR("hosts", struct conf_oper, hosts, ""),
    STR("certfp", struct conf_oper, certfp, ""),
    STR("account", struct conf_oper, account, ""),
    STR("privileges", struct conf_oper, privileges, "kill ban rehash die see_hidden sa wallops reports route"),
    {0},
};
static const struct key privacy_keys[] = {
    STR("cloak_secret", struct conf, cloak_secret, ""),
    BOOL("cloak_default", struct conf, cloak_default, "false"),
    STR("cloak_suffix", struct conf, cloak_suffix, "parley"),
    {0},
};
static const struct key connlimit_keys[] = {
    INT("per_ip", struct conf, per_ip_max, 0, 100000, "0"),
    INT("per_cidr", struct conf, per_cidr_max, 0, 1000000, "0"),
    INT("rate", struct conf, connect_rate, 0, 100000, "0"),
    STR("exempt", struct conf, limit_exempt, "127.0.0.1 0::1"),
    {0},
};
static const struct key websocket_keys[] = {
    STR("origins", struct conf, ws_origins, ""),
    STR("proxies", struct conf, ws_proxies, ""),
    {0},
};
static const struct key history_keys[] = {
    BOOL("enabled", struct conf, history_enabled, "true"),
    BOOL("direct_messages", struct conf, history_direct, "true"),
    BOOL("offline_messages", struct conf, history_offline, "true"),
    INT("offline_max", struct conf, history_offline_max, 1, 10000, "100"),
    INT("replay_lines", struct conf, history_replay_lines, 0, 1000, "20"),
    INT("replay_hours", struct conf, history_replay_hours, 0, 100000, "24"),
    INT("max_age_days", struct conf, history_max_age_days, 0, 100000, "0"),
    INT("batch_rows", struct conf, history_batch_rows, 1, 5000, "1000"),
    INT("batch_ms", struct conf, history_batch_ms, 1, 10000, "20"),
    INT("chathistory_max", struct conf, chathistory_max, 1, 10000, "100"),
    STR("journal", struct conf, history_journal, "var/history.journal"),
    {0},
};
static const struct key metrics_keys[] = {
    STR("address", struct conf, metrics_address, "127.0.0.1"),
    INT("port", struct conf, metrics_port, 1, 65535, "9640"),
    INT("timeout", struct conf, metrics_timeout, 1, 300, "10"),
    INT("max_connections", struct conf, metrics_max_connections, 1, 1024, "16"),
    {0},
};
static const struct key connect_keys[] = {
    STR("name", struct conf_connect, name, NULL),
    STR("address", struct conf_connect, address, NULL),
    INT("port", struct conf_connect, port, 1, 65535, "6667"),
    STR("send_password", struct conf_connect, send_password, NULL),
    STR("accept_password", struct conf_connect, accept_password, NULL),
    BOOL("tls", struct conf_connect, tls, "false"),
    STR("fingerprint", struct conf_connect, fingerprint, ""),
    BOOL("autoconnect", struct conf_connect, autoconnect, "false"),
    {0},
};
static const struct key links_keys[] = {
    INT("ping_frequency", struct conf, link_ping_frequency, 1, 3600, "90"),
    INT("ping_timeout", struct conf, link_ping_timeout, 1, 3600, "60"),
    INT("connect_retry", struct conf, connect_retry, 1, 86400, "30"),
    INT("sendq", struct conf, link_sendq, 4096, 1073741824, "33554432"),
    BOOL("shared_store", struct conf, shared_store, "false"),
    {0},
};
static const struct key listener_keys[] = {
    STR("address", struct listener_raw, address, NULL),
    INT("port", struct listener_raw, port, 1, 65535, NULL),
    BOOL("tls", struct listener_raw, tls, "false"),
    BOOL("websocket", struct listener_raw, websocket, "false"),
    STR("class", struct listener_raw, class_name, ""),
    {0},
};
static const struct key class_keys[] = {
    STR("name", struct conf_class, name, NULL),
    SIZE("sendq", struct conf_class, sendq, 4096, 1LL << 30, "1048576"),
    INT("ping_frequency", struct conf_class, ping_frequency, 1, 86400, "120"),
    INT("ping_timeout", struct conf_class, ping_timeout, 1, 86400, "60"),
    INT("max_clients", struct conf_class, max_clients, 1, 1000000, "10000"),
    {0},
};
static const struct key flood_keys[] = {
    BOOL("enabled", struct conf_class, flood_enabled, "true"),
    FLOAT("rate", struct conf_class, flood_rate, 0, 100000, "2"),
    INT("burst", struct conf_class, flood_burst, 1, 100000, "10"),
    {0},
};

struct ctx {
	const char *file;
	char *errors;
	size_t size, used;
	int count;
};

static void error_at(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void error_at(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	x->count++;
	if (x->used >= x->size)
		return;
	int n = snprintf(x->errors + x->used, x->size - x->used, "%s:%d: %s\n", x->file,
	                 s ? config_setting_source_line(s) : 0, msg);
	if (n > 0)
		x->used += (size_t)n;
}

static const struct key *key_find(const struct key *keys, const char *name)
{
	for (; keys->name; keys++)
		if (strcmp(keys->name, name) == 0)
			return keys;
	return NULL;
}

/* Stores text as key k would (used for defaults). */
static void store_default(const struct key *k, void *base)
{
	char *dst = (char *)base + k->offset;
	switch (k->type) {
	case K_STR: snprintf(dst, k->size, "%s", k->def); break;
	case K_INT: *(int *)dst = atoi(k->def); break;
	case K_SIZE: *(size_t *)dst = (size_t)atoll(k->def); break;
	case K_BOOL: *(bool *)dst = strcmp(k->def, "true") == 0; break;
	case K_FLOAT: *(double *)dst = atof(k->def); break;
	}
}

static void store_setting(struct ctx *x, const struct key *k, const config_setting_t *s, void *base)
{
	char *dst = (char *)base + k->offset;
	int type = config_setting_type(s);
	switch (k->type) {
	case K_STR: {
		const char *v = config_setting_get_string(s);
		if (!v)
			error_at(x, s, "'%s' must be a string", k->name);
		else if (strlen(v) >= k->size)
			error_at(x, s, "'%s' is too long (at most %zu bytes)", k->name, k->size - 1);
		else
			snprintf(dst, k->size, "%s", v);
		return;
	}
	case K_INT:
	case K_SIZE: {
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
			error_at(x, s, "'%s' must be an integer", k->name);
			return;
		}
		long long v = config_setting_get_int64(s);
		if (v < k->min || v > k->max) {
			error_at(x, s, "'%s' must be between %lld and %lld", k->name, k->min, k->max);
			return;
		}
		if (k->type == K_SIZE)
			*(size_t *)dst = (size_t)v;
		else
			*(int *)dst = (int)v;
		return;
	}
	case K_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			error_at(x, s, "'%s' must be true or false", k->name);
		else
			*(bool *)dst = config_setting_get_bool(s);
		return;
	case K_FLOAT: {
		double v;
		if (type == CONFIG_TYPE_FLOAT)
			v = config_setting_get_float(s);
		else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
			v = (double)config_setting_get_int64(s);
		else {
			error_at(x, s, "'%s' must be a number", k->name);
			return;
		}
		if (v < (double)k->min || v > (double)k->max)
			error_at(x, s, "'%s' must be between %lld and %lld", k->name, k->min, k->max);
		else
			*(double *)dst = v;
		return;
	}
	}
}

/* Loads group (may be NULL: all defaults) through keys into base. Settings that are
 * groups themselves are left to the caller if listed in nested (NULL-terminated). */
static void load_group(struct ctx *x, const config_setting_t *group, const char *where,
                       const struct key *keys, void *base, const char *const *nested)
{
	for (const struct key *k = keys; k->name; k++) {
		const config_setting_t *s = group ? config_setting_get_member(group, k->name) : NULL;
		if (s)
			store_setting(x, k, s, base);
		else if (k->def)
			store_default(k, base);
		else
			error_at(x, group, "%s: '%s' is required", where, k->name);
	}
	if (!group)
		return;
	if (!config_setting_is_group(group)) {
		error_at(x, group, "'%s' must be a group { ... }", where);
		return;
	}
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		bool known = key_find(keys, name) != NULL;
		for (const char *const *n = nested; n && *n && !known; n++)
			known = strcmp(*n, name) == 0;
		if (!known)
			error_at(x, s, "%s: unknown setting '%s'", where, name);
	}
}

static void load_classes(struct ctx *x, struct conf *c, const config_setting_t *list)
{
	static const char *const nested[] = {"flood", NULL};
	if (!list) {
		/* No class section: one default class. */
		load_group(x, NULL, "class", class_keys + 1, &c->classes[0], NULL);
		load_group(x, NULL, "class.flood", flood_keys, &c->classes[0], NULL);
		snprintf(c->classes[0].name, sizeof c->classes[0].name, "default");
		c->nclasses = 1;
		return;
	}
	if (!config_setting_is_list(list)) {
		error_at(x, list, "'class' must be a list ( {...}, ... )");
		return;
	}
	for (int i = 0; i < config_setting_length(list); i++) {
		if (c->nclasses == CONF_MAX_CLASSES) {
			error_at(x, list, "too many classes (at most %d)", CONF_MAX_CLASSES);
			return;
		}
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct conf_class *cl = &c->classes[c->nclasses++];
		load_group(x, g, "class", class_keys, cl, nested);
		load_group(x, config_setting_get_member(g, "flood"), "class.flood", flood_keys, cl, NULL);
		for (int j = 0; j < c->nclasses - 1; j++)
			if (strcmp(c->classes[j].name, cl->name) == 0)
				error_at(x, g, "class '%s' is defined twice", cl->name);
	}
	if (c->nclasses == 0)
		error_at(x, list, "at least one class is required");
}

static void load_listeners(struct ctx *x, struct conf *c, const config_setting_t *list)
{
	if (!list || !config_setting_is_list(list) || config_setting_length(list) == 0) {
		error_at(x, list, "'listen' must be a non-empty list ( {...}, ... )");
		return;
	}
	bool any_tls = false;
	for (int i = 0; i < config_setting_length(list); i++) {
		if (c->nlisteners == CONF_MAX_LISTENERS) {
			error_at(x, list, "too many listeners (at most %d)", CONF_MAX_LISTENERS);
			return;
		}
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct listener_raw raw = {0};
		load_group(x, g, "listen", listener_keys, &raw, NULL);
		if (!raw.address[0])
			error_at(x, g, "listen: 'address' must not be empty");
		struct conf_listener *l = &c->listeners[c->nlisteners++];
		memcpy(l->address, raw.address, sizeof l->address);
		l->port = raw.port;
		l->tls = raw.tls;
		l->websocket = raw.websocket;
		l->line = config_setting_source_line(g);
		any_tls |= raw.tls;
		l->class_index = 0;
		if (raw.class_name[0]) {
			const struct conf_class *cl = conf_class_find(c, raw.class_name);
			if (!cl)
				error_at(x, g, "listen: no class named '%s'", raw.class_name);
			else
				l->class_index = (int)(cl - c->classes);
		}
	}
	if (any_tls && !c->tls_cert[0])
		error_at(x, list, "a TLS listener needs the 'tls' section (certificate, key)");
}

/* The STS port sends plaintext clients there for TLS: it must be one of our TLS
 * listeners, or every client that honours the policy would fail to connect. */
static void check_sts_port(struct ctx *x, const struct conf *c, const config_setting_t *s)
{
	if (!s)
		return;
	for (int i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].tls && c->listeners[i].port == c->sts_port)
			return;
	error_at(x, s, "tls.sts.port %d is not the port of a TLS listener", c->sts_port);
}

static void load_storage(struct ctx *x, struct conf *c, struct conf_raw *raw, const config_setting_t *g)
{
	static const char *const nested[] = {"backend", "sqlite", "mariadb", NULL};
	static const char *const nested_raw[] = {"schema_dir", "sqlite", "mariadb", NULL};
	load_group(x, g, "storage", storage_keys, c, nested);
	load_group(x, g, "storage", storage_raw_keys, raw, nested_raw);
	load_group(x, g ? config_setting_get_member(g, "sqlite") : NULL, "storage.sqlite", sqlite_keys, c, NULL);
	load_group(x, g ? config_setting_get_member(g, "mariadb") : NULL, "storage.mariadb", mariadb_keys, c, NULL);
	if (strcmp(raw->backend, "sqlite") == 0)
		c->backend = 0;
	else if (strcmp(raw->backend, "mariadb") == 0)
		c->backend = 1;
	else
		error_at(x, g, "storage.backend must be \"sqlite\" or \"mariadb\"");
}

static void load_accounts(struct ctx *x, struct conf *c, struct conf_raw *raw, const config_setting_t *g)
{
	static const char *const nested[] = {"sasl_plaintext", NULL};
	static const char *const nested_raw[] = {"registration", "email_required", "verify_command", "mail_command",
	                                         "min_password_length", "scrypt_n", "scrypt_r", "scrypt_p",
	                                         "nick_enforce_delay", "guest_prefix", "max_failed_logins",
	                                         "registrations_per_ip_hour", "crypto_threads",
	                                         "login_cache_seconds", "login_cache_entries", "scram_iterations",
	                                         "max_sessions", "always_on", NULL};
	load_group(x, g, "accounts", accounts_keys, c, nested);
	load_group(x, g, "accounts", accounts_raw_keys, raw, nested_raw);
	const char *modes[] = {"never", "loopback", "always"};
	c->sasl_plaintext = -1;
	for (int i = 0; i < 3; i++)
		if (strcmp(raw->sasl_plaintext, modes[i]) == 0)
			c->sasl_plaintext = i;
	if (c->sasl_plaintext < 0)
		error_at(x, g, "accounts.sasl_plaintext must be never, loopback or always");
	if (c->scrypt_n & (c->scrypt_n - 1))
		error_at(x, g, "accounts.scrypt_n must be a power of two");
}

static void load_log(struct ctx *x, struct conf *c, struct conf_raw *raw, const config_setting_t *g)
{
	static const char *const nested[] = {"level", "syslog_facility", "categories", NULL};
	static const char *const nested_raw[] = {"file", "syslog", "categories", NULL};
	load_group(x, g, "log", log_keys, c, nested);
	load_group(x, g, "log", log_raw_keys, raw, nested_raw);
	const config_setting_t *cats = g ? config_setting_get_member(g, "categories") : NULL;
	load_group(x, cats, "log.categories", log_category_keys, raw, NULL);
	int general = log_level_parse(raw->log_level, false);
	if (general < 0)
		error_at(x, g ? config_setting_get_member(g, "level") : NULL, "log.level must be debug, info, warn or error");
	c->log.levels[LOGC_GENERAL] = general;
	for (int i = LOGC_GENERAL + 1; i < LOGC_COUNT; i++) {
		const char *v = raw->log_categories[i];
		c->log.levels[i] = v[0] ? log_level_parse(v, true) : general;
		if (v[0] && c->log.levels[i] < 0)
			error_at(x, config_setting_get_member(cats, log_category_name((enum log_category)i)),
			         "log.categories.%s must be debug, info, warn, error or off", log_category_name((enum log_category)i));
	}
	c->log.facility = log_facility_parse(raw->log_facility);
	if (c->log.facility < 0)
		error_at(x, g ? config_setting_get_member(g, "syslog_facility") : NULL,
		         "log.syslog_facility must be daemon, user, auth, authpriv or local0 to local7");
}

/* Every entry of an address list (connlimit.exempt, websocket.proxies) must be an
 * address or a CIDR range: a typo would otherwise match nothing, or (before addresses
 * were parsed) the wrong addresses. */
static void check_nets(struct ctx *x, const char *list, const char *name, const config_setting_t *s)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", list);
	char *save;
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (!connlimit_net_valid(t))
			error_at(x, s, "%s: '%s' is not an address or a CIDR range", name, t);
}

/* The endpoint is on only when the group is there; its address must be an IP literal
 * (a name would need a resolver at bind). */
static void load_metrics(struct ctx *x, struct conf *c, const config_setting_t *g)
{
	load_group(x, g, "metrics", metrics_keys, c, NULL);
	c->metrics_enabled = g != NULL;
	unsigned char addr[sizeof(struct in6_addr)];
	if (g && inet_pton(AF_INET, c->metrics_address, addr) != 1 && inet_pton(AF_INET6, c->metrics_address, addr) != 1)
		error_at(x, config_setting_get_member(g, "address"), "metrics.address must be an IPv4 or IPv6 address");
}

unsigned conf_privileges_parse(const char *text, char *bad, size_t size)
{
	static const char *const names[] = {"kill", "ban", "rehash", "die", "see_hidden", "sa", "wallops", "reports",
	                                    "route"};
	unsigned privs = 0;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", text);
	if (size)
		bad[0] = '\0';
	char *save;
	for (char *t = strtok_r(buf, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
		size_t i = 0;
		while (i < sizeof names / sizeof names[0] && strcmp(names[i], t) != 0)
			i++;
		if (i == sizeof names / sizeof names[0])
			snprintf(bad, size, "%s", t);
		else
			privs |= 1u << i;
	}
	return privs;
}

static void load_opers(struct ctx *x, struct conf *c, const config_setting_t *list)
{
	if (!list)
		return;
	if (!config_setting_is_list(list)) {
		error_at(x, list, "'operators' must be a list ( {...}, ... )");
		return;
	}
	for (int i = 0; i < config_setting_length(list) && c->nopers < CONF_MAX_OPERS; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct conf_oper *o = &c->opers[c->nopers++];
		load_group(x, g, "operators", oper_keys, o, NULL);
		char bad[64];
		o->privs = conf_privileges_parse(o->privileges, bad, sizeof bad);
		if (bad[0])
			error_at(x, g, "operators: unknown privilege '%s'", bad);
		if (strncmp(o->password, "$scrypt$", 8) != 0)
			error_at(x, g, "operators: password must be a hash from 'parleyd -mkpasswd'");
	}
}

/* A TS6 SID: a digit, then two digits or upper-case letters. */
static bool sid_valid(const char *sid)
{
	if (strlen(sid) != 3 || sid[0] < '0' || sid[0] > '9')
		return false;
	for (int i = 1; i < 3; i++)
		if (!((sid[i] >= '0' && sid[i] <= '9') || (sid[i] >= 'A' && sid[i] <= 'Z')))
			return false;
	return true;
}

/* No server.sid: one derived from the server name (FNV-1a), stable across restarts. */
static void sid_derive(struct conf *c)
{
	static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	uint32_t h = 2166136261u;
	for (const char *p = c->server_name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	c->sid[0] = (char)('0' + h % 10);
	c->sid[1] = alnum[(h / 10) % 36];
	c->sid[2] = alnum[(h / 360) % 36];
	c->sid[3] = '\0';
}

/* A certificate fingerprint as `openssl x509 -fingerprint -sha256` prints it
 * (AB:CD:...) or plain hex, rewritten in place as 64 lowercase digits; "" stays "". */
static bool normal_fingerprint(char *fp)
{
	char out[65];
	size_t n = 0;
	for (const char *p = fp; *p; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n == 64)
			return false;
		out[n++] = (char)tolower((unsigned char)*p);
	}
	if (n != 0 && n != 64)
		return false;
	out[n] = '\0';
	memcpy(fp, out, n + 1);
	return true;
}

static void load_connects(struct ctx *x, struct conf *c, const config_setting_t *list)
{
	if (!list)
		return;
	if (!config_setting_is_list(list)) {
		error_at(x, list, "'connect' must be a list ( {...}, ... )");
		return;
	}
	for (int i = 0; i < config_setting_length(list); i++) {
		if (c->nconnects == CONF_MAX_CONNECTS) {
			error_at(x, list, "too many connect blocks (at most %d)", CONF_MAX_CONNECTS);
			return;
		}
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct conf_connect *k = &c->connects[c->nconnects++];
		load_group(x, g, "connect", connect_keys, k, NULL);
		k->line = config_setting_source_line(g);
		unsigned char addr[16];
		if (!inet_pton(AF_INET, k->address, addr) && !inet_pton(AF_INET6, k->address, addr))
			error_at(x, g, "connect: address '%s' must be an IP address", k->address);
		if (!strchr(k->name, '.') || strpbrk(k->name, " :,*?"))
			error_at(x, g, "connect: name '%s' must be a server name (with a '.')", k->name);
		if (strcmp(k->name, c->server_name) == 0)
			error_at(x, g, "connect: name '%s' is this server's own name", k->name);
		if (!k->send_password[0] || !k->accept_password[0] || strpbrk(k->send_password, " :") ||
		    strpbrk(k->accept_password, " :"))
			error_at(x, g, "connect: passwords must be non-empty, without spaces or ':'");
		if (k->tls && !c->tls_cert[0])
			error_at(x, g, "connect: a TLS link needs the 'tls' section (certificate, key)");
		if (!normal_fingerprint(k->fingerprint))
			error_at(x, g, "connect: fingerprint must be a SHA-256 in hex (64 digits, colons allowed)");
		for (int j = 0; j < c->nconnects - 1; j++)
			if (strcasecmp(c->connects[j].name, k->name) == 0)
				error_at(x, g, "connect: server '%s' is named twice", k->name);
	}
}

/* The file's contents, NUL-terminated, its length in *lenp if lenp is not NULL; NULL if
 * it cannot be read whole (or is over 1 MB). */
static char *read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *nb = cap < (1 << 20) ? realloc(buf, cap *= 2) : NULL;
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	if (ferror(f)) { /* a directory, /proc/self/mem... */
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
}

/* Reads the target of an `@include "..."` line starting at s (the text ends at end) into
 * out as libconfig 1.5's scanner reads it: `\\` and `\"` are escapes, any other
 * backslash is dropped, and each run of other bytes counts up to its first NUL. False
 * if the line is no include, or the name is unterminated or too long to open anyway. */
static bool include_target(const char *s, const char *end, char *out, size_t size)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (end - s < 10 || memcmp(s, "@include", 8) != 0 || (s[8] != ' ' && s[8] != '\t'))
		return false;
	for (s += 8; s < end && (*s == ' ' || *s == '\t');)
		s++;
	if (s == end || *s++ != '"')
		return false;
	size_t n = 0;
	bool cut = false; /* a NUL ended this run */
	for (; s < end && *s != '"'; s++) {
		char ch = *s;
		if (ch == '\\') {
			cut = false;
			if (s + 1 == end || (s[1] != '\\' && s[1] != '"'))
				continue;
			ch = *++s;
		} else if (ch == '\0' || cut) {
			cut = true;
			continue;
		}
		if (n + 1 == size)
			return false;
		out[n++] = ch;
	}
	out[n] = '\0';
	return s < end;
}

/* libconfig 1.5 exits the process when it cannot read an included file it could open
 * (a directory: "input in flex scanner failed"), so one bad @include would kill the
 * server on REHASH. Every target, nested ones too, must be a regular file we can read
 * before libconfig sees it. (An @include inside a comment is checked as well: an error
 * message at worst.) Writes the problem into errors and returns false. */
static bool includes_readable(const char *path, const char *dir, int depth, int counts[2], char *errors,
                              size_t size)
{
	size_t len = 0;
	char *text = read_file(path, &len);
	bool ok = true;
	const char *end = text + len;
	int line = 1;
	for (const char *s = text; ok && s && s < end; line++) {
		char name[4096], target[4096 + PATH_MAX];
		struct stat st;
		if (include_target(s, end, name, sizeof name)) {
			char *inc = NULL;
			bool relative = name[0] != '/';
			counts[relative]++; /* [0] absolute, [1] relative: dir/name, as libconfig reads it */
			snprintf(target, sizeof target, "%s%s%s", relative ? dir : "", relative ? "/" : "", name);
			if (stat(target, &st) == 0 && (!S_ISREG(st.st_mode) || !(inc = read_file(target, NULL)))) {
				snprintf(errors, size, "%s:%d: cannot include '%s': not a readable file\n", path, line, target);
				ok = false;
			}
			free(inc);
			if (ok && inc && depth < 10) /* deeper: libconfig's "include too deep" */
				ok = includes_readable(target, dir, depth + 1, counts, errors, size);
		}
		s = memchr(s, '\n', (size_t)(end - s));
		s = s ? s + 1 : NULL;
	}
	free(text);
	return ok;
}

static void check_top_level(struct ctx *x, config_t *cfg)
{
	static const char *const known[] = {"server",  "admin",    "limits",    "tls",     "log",
	                                    "listen",  "class",    "storage",   "accounts", "operators",
	                                    "privacy", "connlimit", "history",  "metrics", "websocket", "connect",
	                                    "links",   NULL};
	const config_setting_t *root = config_root_setting(cfg);
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		const char *const *k = known;
		while (*k && strcmp(*k, name) != 0)
			k++;
		if (!*k)
			error_at(x, s, "unknown setting '%s'", name);
	}
}

/* The directory of the configuration file (symbolic links followed), against which
 * every relative path in it resolves: so `cd / && parleyd -f /etc/parley/parley.conf`
 * finds what the file names, and REHASH resolves the same way whatever the cwd. */
static bool conf_dir(const char *path, char *dir, size_t size, char *errors, size_t esize)
{
	char real[PATH_MAX];
	if (realpath(path, real)) {
		char *slash = strrchr(real, '/');
		slash[slash == real] = '\0';
	} else {
		/* No file to follow (missing: config_read_file says so; or a /proc/self/fd/N
		 * memfd): the directory it is named in. */
		char parent[PATH_MAX];
		snprintf(parent, sizeof parent, "%s", path);
		char *slash = strrchr(parent, '/');
		if (slash)
			slash[slash == parent] = '\0';
		if (!realpath(slash ? parent : ".", real)) {
			snprintf(errors, esize, "%s:0: %s\n", path, strerror(errno));
			return false;
		}
	}
	if ((size_t)snprintf(dir, size, "%s", real) >= size) {
		snprintf(errors, esize, "%s:0: the directory name is too long\n", path);
		return false;
	}
	return true;
}

/* A relative path setting (a default too) becomes dir/path; empty means none. */
static void resolve_path(struct ctx *x, const config_setting_t *where, const char *dir, char *p, size_t size)
{
	if (!p[0] || p[0] == '/')
		return;
	char rel[CONF_PATH_LEN];
	snprintf(rel, sizeof rel, "%s", p);
	if ((size_t)snprintf(p, size, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", rel) >= size)
		error_at(x, where, "path '%s' is too long relative to %s", rel, dir);
}

static void resolve_paths(struct ctx *x, struct conf *c, config_t *cfg, const char *dir)
{
	resolve_path(x, config_lookup(cfg, "server.motd"), dir, c->motd_path, sizeof c->motd_path);
	resolve_path(x, config_lookup(cfg, "tls.certificate"), dir, c->tls_cert, sizeof c->tls_cert);
	resolve_path(x, config_lookup(cfg, "tls.key"), dir, c->tls_key, sizeof c->tls_key);
	resolve_path(x, config_lookup(cfg, "storage.schema_dir"), dir, c->schema_dir, sizeof c->schema_dir);
	resolve_path(x, config_lookup(cfg, "storage.sqlite.path"), dir, c->sqlite_path, sizeof c->sqlite_path);
	resolve_path(x, config_lookup(cfg, "storage.mariadb.socket"), dir, c->mariadb_socket, sizeof c->mariadb_socket);
	resolve_path(x, config_lookup(cfg, "history.journal"), dir, c->history_journal, sizeof c->history_journal);
	resolve_path(x, config_lookup(cfg, "log.file"), dir, c->log.file, sizeof c->log.file);
}

struct conf *conf_load(const char *path, char *errors, size_t size)
{
	struct ctx x = {path, errors, size, 0, 0};
	if (size)
		errors[0] = '\0';
	config_t cfg;
	char dir[PATH_MAX];
	if (!conf_dir(path, dir, sizeof dir, errors, size))
		return NULL;
	int includes[2] = {0, 0}; /* absolute, relative @include names */
	if (!includes_readable(path, dir, 0, includes, errors, size))
		return NULL;
	if (includes[0] && includes[1]) {
		/* libconfig 1.5 prefixes its include_dir to absolute names as well */
		snprintf(errors, size, "%s:0: @include names must be all absolute or all relative (to %s)\n", path, dir);
		return NULL;
	}
	config_init(&cfg);
	if (includes[1])
		config_set_include_dir(&cfg, dir);
	if (!config_read_file(&cfg, path)) {
		snprintf(errors, size, "%s:%d: %s\n", config_error_file(&cfg) ? config_error_file(&cfg) : path,
		         config_error_line(&cfg), config_error_text(&cfg));
		config_destroy(&cfg);
		return NULL;
	}
	struct conf *c = calloc(1, sizeof *c);
	struct conf_raw raw = {0};
	if (!c)
		abort();
	snprintf(c->file, sizeof c->file, "%s", path);
	check_top_level(&x, &cfg);
	const config_setting_t *server = config_lookup(&cfg, "server");
	if (!server)
		error_at(&x, NULL, "the 'server' section is required");
	load_group(&x, server, "server", server_keys, c, NULL);
	load_group(&x, config_lookup(&cfg, "admin"), "admin", admin_keys, c, NULL);
	load_group(&x, config_lookup(&cfg, "limits"), "limits", limits_keys, c, NULL);
	load_log(&x, c, &raw, config_lookup(&cfg, "log"));
	const config_setting_t *tls = config_lookup(&cfg, "tls");
	static const char *const tls_nested[] = {"sts", NULL};
	if (tls)
		load_group(&x, tls, "tls", tls_keys, c, tls_nested);
	const config_setting_t *sts = config_lookup(&cfg, "tls.sts");
	if (sts) {
		c->sts_enabled = true;
		load_group(&x, sts, "tls.sts", sts_keys, c, NULL);
	}
	load_storage(&x, c, &raw, config_lookup(&cfg, "storage"));
	load_accounts(&x, c, &raw, config_lookup(&cfg, "accounts"));
	load_group(&x, config_lookup(&cfg, "privacy"), "privacy", privacy_keys, c, NULL);
	load_group(&x, config_lookup(&cfg, "history"), "history", history_keys, c, NULL);
	load_group(&x, config_lookup(&cfg, "connlimit"), "connlimit", connlimit_keys, c, NULL);
	check_nets(&x, c->limit_exempt, "connlimit.exempt", config_lookup(&cfg, "connlimit.exempt"));
	load_group(&x, config_lookup(&cfg, "websocket"), "websocket", websocket_keys, c, NULL);
	check_nets(&x, c->ws_proxies, "websocket.proxies", config_lookup(&cfg, "websocket.proxies"));
	load_opers(&x, c, config_lookup(&cfg, "operators"));
	load_group(&x, config_lookup(&cfg, "links"), "links", links_keys, c, NULL);
	load_connects(&x, c, config_lookup(&cfg, "connect"));
	if (!c->sid[0])
		sid_derive(c);
	else if (!sid_valid(c->sid))
		error_at(&x, config_lookup(&cfg, "server.sid"), "server.sid '%s' must be a digit and two of [0-9A-Z]", c->sid);
	load_metrics(&x, c, config_lookup(&cfg, "metrics"));
	if (c->cloak_default && !c->cloak_secret[0])
		error_at(&x, config_lookup(&cfg, "privacy"), "privacy.cloak_default needs privacy.cloak_secret");
	load_classes(&x, c, config_lookup(&cfg, "class"));
	load_listeners(&x, c, config_lookup(&cfg, "listen"));
	if (sts)
		check_sts_port(&x, c, config_setting_get_member(sts, "port"));
	if (c->group[0] && !c->user[0])
		error_at(&x, config_lookup(&cfg, "server.group"), "server.group needs server.user");
	if (server && config_setting_get_member(server, "name") && !strchr(c->server_name, '.'))
		error_at(&x, config_setting_get_member(server, "name"), "server.name must contain a '.'");
	resolve_paths(&x, c, &cfg, dir);
	if (c->motd_path[0] && !(c->motd = read_file(c->motd_path, NULL)))
		error_at(&x, config_lookup(&cfg, "server.motd"), "cannot read MOTD file '%s'", c->motd_path);
	config_destroy(&cfg);
	if (x.count) {
		conf_free(c);
		return NULL;
	}
	return c;
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	free(c->motd);
	free(c->isupport);
	free(c);
}

const struct conf_class *conf_class_find(const struct conf *c, const char *name)
{
	for (int i = 0; i < c->nclasses; i++)
		if (strcmp(c->classes[i].name, name) == 0)
			return &c->classes[i];
	return NULL;
}
