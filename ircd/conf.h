/* conf.h - the daemon's configuration: a libconfig file parsed into a struct conf,
 * validated completely before it is used. */
#ifndef PARLEY_CONF_H
#define PARLEY_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define CONF_MAX_LISTENERS 32
#define CONF_MAX_CLASSES 16
#define CONF_NAME_LEN 64
#define CONF_PATH_LEN 512

struct conf_class {
	char name[CONF_NAME_LEN];
	size_t sendq;           /* hard SendQ limit in bytes */
	int ping_frequency;     /* seconds idle before we PING */
	int ping_timeout;       /* seconds to wait for any reply to that PING */
	int max_clients;        /* connections in this class */
	bool flood_enabled;
	double flood_rate;      /* commands per second once the burst is spent */
	int flood_burst;        /* commands accepted at once */
};

struct conf_listener {
	char address[CONF_NAME_LEN];
	int port;
	bool tls;
	int class_index;
	int line; /* where it was declared, for error messages */
};

struct conf {
	char file[CONF_PATH_LEN];
	char server_name[CONF_NAME_LEN];
	char network[CONF_NAME_LEN];
	char description[128];
	char admin_location[128];
	char admin_location2[128];
	char admin_email[128];
	char password[128]; /* server password (PASS); "" for none */
	char motd_path[CONF_PATH_LEN];
	char *motd; /* file contents, NULL when no MOTD is configured or readable */
	int nicklen;
	int registration_timeout;
	int log_level;
	char tls_cert[CONF_PATH_LEN];
	char tls_key[CONF_PATH_LEN];
	/* storage */
	int backend; /* 0 sqlite, 1 mariadb */
	char schema_dir[CONF_PATH_LEN];
	char sqlite_path[CONF_PATH_LEN];
	char mariadb_host[CONF_NAME_LEN];
	int mariadb_port;
	char mariadb_socket[CONF_PATH_LEN];
	char mariadb_user[CONF_NAME_LEN];
	char mariadb_password[128];
	char mariadb_database[CONF_NAME_LEN];
	bool mariadb_tls;
	/* accounts */
	bool registration_enabled;
	bool email_required;
	char verify_command[CONF_PATH_LEN]; /* "" = no email verification */
	int min_password_length;
	int scrypt_n, scrypt_r, scrypt_p;
	int sasl_plaintext; /* 0 never, 1 loopback only, 2 always */
	int nick_enforce_delay; /* seconds; 0 = off */
	char guest_prefix[16];
	int max_failed_logins; /* per account or address per minute */
	struct conf_listener listeners[CONF_MAX_LISTENERS];
	int nlisteners;
	struct conf_class classes[CONF_MAX_CLASSES];
	int nclasses;
};

/* Parses and validates path. Returns a new conf (owned by the caller, free with
 * conf_free) or NULL after writing every problem as "file:line: message" lines into
 * errors (size bytes). Reads files, so it blocks: call it at start or on REHASH only. */
struct conf *conf_load(const char *path, char *errors, size_t size);

void conf_free(struct conf *conf);

/* Returns the class named name, or NULL. */
const struct conf_class *conf_class_find(const struct conf *conf, const char *name);

#endif
