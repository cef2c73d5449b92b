/* ircd.h - the daemon's global state: configuration in force, the nick table, the
 * list of connections and the counters LUSERS reports. */
#ifndef PARLEY_IRCD_H
#define PARLEY_IRCD_H

#include "conf.h"

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define PARLEY_VERSION "parley-0.1"

struct client;
struct dict;

struct ircd {
	struct conf *conf;
	SSL_CTX *tls;
	SSL_CTX *tls_link;         /* outgoing TLS server links; NULL if no connect block has tls */
	struct dict *nicks;       /* nick -> client, for every nick in use or reserved */
	struct dict *ids;         /* hex client id -> live client */
	struct client *clients;   /* every connection, registered or not */
	unsigned nconnections;    /* entries in clients that are not dead */
	unsigned nusers;          /* registered clients */
	unsigned nsessions;       /* connections attached to one of them (session.c) */
	unsigned ninvisible;      /* registered clients with +i */
	unsigned nopers;
	unsigned max_users;
	unsigned class_clients[CONF_MAX_CLASSES]; /* live connections per class */
	time_t started;
	char created[64];         /* start time, human readable, for RPL_CREATED */
	uint64_t next_id;
	bool shutting_down;
};

extern struct ircd ircd;

/* Reloads the configuration file (REHASH, SIGHUP): listeners, classes, operators, MOTD,
 * limits, TLS keys. Returns 0, or -1 with every error in err and the old configuration
 * still in force. Clients stay connected either way. Blocks briefly (reads files). */
int ircd_rehash(char *err, size_t size);

/* Starts a graceful shutdown (every client gets ERROR with reason); with restart the
 * daemon then executes itself again with the same arguments. */
void ircd_shutdown(const char *reason, bool restart);

/* Runs the daemon: parses arguments, loads the config, serves until a signal.
 * Returns the process exit status. */
int ircd_main(int argc, char **argv);

#endif
