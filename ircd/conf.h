/* conf.h - the daemon's configuration: a libconfig file parsed into a struct conf,
 * validated completely before it is used. */
#ifndef PARLEY_CONF_H
#define PARLEY_CONF_H

#include "log.h"

#include <stdbool.h>
#include <stddef.h>

#define CONF_MAX_LISTENERS 32
#define CONF_MAX_CLASSES 16
#define CONF_MAX_OPERS 32
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

/* Operator privileges. */
enum {
	PRIV_KILL = 1 << 0,      /* KILL */
	PRIV_BAN = 1 << 1,       /* KLINE, DLINE and their removal */
	PRIV_REHASH = 1 << 2,    /* REHASH */
	PRIV_DIE = 1 << 3,       /* DIE, RESTART */
	PRIV_SEE_HIDDEN = 1 << 4, /* real hosts, secret channels */
	PRIV_SA = 1 << 5,        /* SAJOIN, SAPART, SANICK */
	PRIV_WALLOPS = 1 << 6,   /* WALLOPS */
	PRIV_REPORTS = 1 << 7,   /* REPORTS */
	PRIV_ROUTE = 1 << 8,     /* CONNECT, SQUIT */
};

struct conf_oper {
	char name[CONF_NAME_LEN];
	char password[160];    /* scrypt hash from parleyd -mkpasswd */
	char hosts[256];       /* space-separated user@host masks; "" = any */
	char certfp[130];      /* required client certificate fingerprint, or "" */
	char account[CONF_NAME_LEN]; /* required account, or "" */
	char privileges[256];  /* space-separated names */
	unsigned privs;
};

/* A server we link with (connect blocks, server.c). */
#define CONF_MAX_CONNECTS 16
struct conf_connect {
	char name[CONF_NAME_LEN];     /* the peer's server name */
	char address[CONF_NAME_LEN];  /* its IP address (no DNS lookup on the loop) */
	int port;                     /* where we connect to it */
	char send_password[128];      /* PASS we send */
	char accept_password[128];    /* PASS it must send */
	bool tls;                     /* the link must use TLS (incoming: a TLS listener) */
	char fingerprint[130];        /* its certificate's SHA-256, hex; "" = not checked */
	bool autoconnect;             /* we connect (and reconnect) to it */
	int line;
};

struct conf_listener {
	char address[CONF_NAME_LEN];
	int port;
	bool tls;
	bool websocket; /* connections start with a WebSocket upgrade (ws.c) */
	int class_index;
	int line; /* where it was declared, for error messages */
};

struct conf {
	char file[CONF_PATH_LEN];
	char server_name[CONF_NAME_LEN];
	char sid[4];                   /* TS6 server id: a digit and two of [0-9A-Z] */
	char network[CONF_NAME_LEN];
	char description[128];
	char admin_location[128];
	char admin_location2[128];
	char admin_email[128];
	char password[128]; /* server password (PASS); "" for none */
	char user[CONF_NAME_LEN];  /* started as root: switch to this user after binding; "" none */
	char group[CONF_NAME_LEN]; /* ... and this group ("": the user's own) */
	bool allow_root;           /* keep running as root when no user is set */
	char motd_path[CONF_PATH_LEN];
	char *motd; /* file contents, NULL when no MOTD is configured or readable */
	char *isupport; /* the 005 lines' tokens, '\n'-separated; built at first use (isupport.c) */
	int nicklen;
	int registration_timeout;
	struct log_config log; /* log = { level; file; syslog; syslog_facility; categories }; */
	char tls_cert[CONF_PATH_LEN];
	char tls_key[CONF_PATH_LEN];
	/* IRCv3 STS (tls.sts): advertised only when the group is present */
	bool sts_enabled;
	int sts_port;     /* a TLS listener's port: where plaintext clients are sent */
	int sts_duration; /* seconds TLS clients keep the policy; 0 withdraws it */
	bool sts_preload;
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
	char mail_command[CONF_PATH_LEN];   /* "" = no NickServ RESETPASS */
	int min_password_length;
	int scrypt_n, scrypt_r, scrypt_p;
	int sasl_plaintext; /* 0 never, 1 loopback only, 2 always */
	int nick_enforce_delay; /* seconds; 0 = off */
	char guest_prefix[16];
	int max_failed_logins; /* per account or address per minute */
	int registrations_per_ip_hour; /* account registrations per address per hour (0: no limit) */
	int crypto_threads;    /* password-hashing threads (0: one per online CPU); read at start */
	int login_cache_seconds; /* lifetime of a cached successful check (0: no cache) */
	int login_cache_entries; /* bound of the verification cache */
	int scram_iterations;  /* PBKDF2 rounds of new SCRAM-SHA-256 keys */
	int max_sessions; /* connections sharing one logged-in user (multiclient); 1 = off */
	bool always_on;   /* accounts that did not choose stay present when their last session leaves */
	/* privacy and limits */
	char cloak_secret[128]; /* "" disables cloaking */
	bool cloak_default;     /* +x for every new client */
	char cloak_suffix[CONF_NAME_LEN];
	int per_ip_max;         /* concurrent connections per address; 0 = unlimited */
	int per_cidr_max;       /* per IPv4 /24 or IPv6 /64 */
	int connect_rate;       /* new connections per address per 10 s; 0 = unlimited */
	char limit_exempt[256]; /* space-separated addresses exempt from these limits */
	/* websocket */
	char ws_origins[1024];  /* space-separated Origin masks allowed; "" = no browser page */
	char ws_proxies[512];   /* space-separated addresses/ranges whose X-Forwarded-For is used */
	/* history */
	bool history_enabled;
	bool history_direct;      /* store direct messages too */
	bool history_offline;     /* keep direct messages to an offline registered account */
	int history_offline_max;  /* at most this many waiting per recipient */
	int history_replay_lines; /* replayed on JOIN; 0 = off */
	int history_replay_hours; /* only messages newer than this; 0 = no age bound */
	int history_max_age_days; /* retention; 0 = keep */
	int history_batch_rows;
	int history_batch_ms;
	int chathistory_max;      /* CHATHISTORY limit (ISUPPORT) */
	char history_journal[CONF_PATH_LEN];
	/* metrics: the HTTP endpoint is on when the group is present */
	bool metrics_enabled;
	char metrics_address[CONF_NAME_LEN];
	int metrics_port;
	int metrics_timeout;         /* seconds a connection has for its request and response */
	int metrics_max_connections; /* open at once; more are answered 503 and closed */
	struct conf_oper opers[CONF_MAX_OPERS];
	int nopers;
	struct conf_connect connects[CONF_MAX_CONNECTS];
	int nconnects;
	int link_ping_frequency; /* seconds idle before a server link is PINGed */
	int link_ping_timeout;   /* seconds to wait for its answer */
	int connect_retry;       /* seconds between autoconnect attempts */
	int link_sendq;          /* bytes queued to a linked server before the link is dropped */
	bool shared_store;       /* every linked node uses this store: each message is stored by its origin only */
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

/* Parses space-separated privilege names; the first unknown one goes into bad. */
unsigned conf_privileges_parse(const char *text, char *bad, size_t size);

/* Returns the class named name, or NULL. */
const struct conf_class *conf_class_find(const struct conf *conf, const char *name);

#endif
