/* client.h - a connected client: its connection, identity, negotiated capabilities and
 * timers. Clients are only ever freed by client_reap(), which the loop calls at a safe
 * point, so code iterating channels or lists may mark a client dead (client_exit) but
 * never sees it freed under its feet. */
#ifndef PARLEY_CLIENT_H
#define PARLEY_CLIENT_H

#include "conf.h"
#include "conn.h"

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define NICK_MAX 64
#define USER_MAX 10
#define HOST_MAX 64
#define REALNAME_MAX 128
#define PREFIX_MAX (NICK_MAX + USER_MAX + HOST_MAX + 3)

enum client_flag {
	CLI_REGISTERED = 1 << 0,
	CLI_DEAD = 1 << 1,
	CLI_CAP_WAIT = 1 << 2,  /* CAP negotiation holds registration */
	CLI_PING_SENT = 1 << 3, /* waiting for any line after our PING */
	CLI_GOT_USER = 1 << 4,
	CLI_PASS_OK = 1 << 5,
	CLI_FLOOD_HELD = 1 << 6, /* input paused by flood control */
	CLI_WAITING = 1 << 7,    /* input held while a storage job for this client runs */
	CLI_PASS_TRIED = 1 << 8, /* PASS account:password was tried */
	CLI_EXIT_SOON = 1 << 9,  /* client_exit_soon: exits before the next flush, gets nothing more */
	CLI_ATTACH = 1 << 10,    /* its nick is held by a logged-in user: attach at registration if the
	                          * same account (session.c), else 433 then */
	CLI_GHOST = 1 << 11,     /* an always-on user without a connection (alwayson.c) */
	CLI_AUTO_AWAY = 1 << 12, /* its away text was set when its last connection left */
};

/* User modes, as bits indexed by letter. */
#define UMODE(ch) ((uint64_t)1 << ((ch) - 'A'))

struct listener_stats;
struct server;
struct membership;
struct reply_ctx;

struct client {
	struct conn conn; /* first: conn callbacks find the client from it */
	uint64_t id;
	unsigned flags;
	uint32_t caps;
	int cap_version;
	uint64_t umodes;
	const struct conf_class *class;
	struct listener_stats *lstats; /* the counters of the listener it came in on */
	char nick[NICK_MAX + 1];
	char uid[10];           /* TS6 id: server.sid + 6 characters (uid.c), from registration */
	struct server *server;  /* a remote user: the server it is on (server.c); NULL for ours */
	time_t nick_ts;         /* TS6 nick timestamp: when this nick was taken */
	unsigned link_caps;     /* a registering server's CAPAB (server.h LINKCAP_*) */
	char user[USER_MAX + 1];
	char host[HOST_MAX + 1];
	char realname[REALNAME_MAX + 1];
	char prefix[PREFIX_MAX + 1]; /* nick!user@host, kept current */
	char *pass;             /* PASS, kept only until registration */
	char *away;
	char account[NICK_MAX + 1];
	unsigned long long nick_since; /* msgid seq when this nick was taken: only messages
	                                * from then on under it are this session's (EDIT, REDACT) */
	char oper_name[64];     /* operator block used for OPER, "" if not an operator */
	unsigned privs;         /* PRIV_* of that block */
	char (*silence)[PREFIX_MAX + 16]; /* SILENCE masks */
	unsigned nsilence;
	unsigned long long lines_in, lines_out;
	char sasl_mech[16];   /* mechanism of a SASL exchange in progress, "" if none */
	struct sasl_scram *scram; /* a SCRAM-SHA-256 exchange's state (sasl_scram.c), or NULL */
	char *sasl_buf;       /* base64 received so far */
	size_t sasl_len;
	ev_timer timer;       /* registration timeout, then ping */
	ev_timer flood_timer; /* releases input held by flood control */
	ev_tstamp connected, last_line, last_message, ping_sent;
	double flood_tokens;
	ev_tstamp flood_stamp;
	struct membership *channels;
	char (*monitors)[NICK_MAX + 1]; /* nicks this client MONITORs */
	unsigned nmonitors;
	unsigned nchannels;
	struct reply_ctx *rctx; /* set while a command of this client runs */
	ev_timer service_timer; /* services' per-client timer (nick enforcement) */
	void (*service_timer_fn)(struct client *c);
	struct client *next, *prev;
	struct client *dead_next;
	unsigned long mark; /* fan-out generation, to reach each client once */
	/* Multiclient (session.c): a connection attached to another connection's user has
	 * user set and is in no channel nor the nick table; the user lists its sessions. */
	struct client *session_of;
	struct client *sessions, *session_next;
	unsigned nsessions;
	uint32_t own_caps; /* the user's connection's caps while a session's command runs on it */
	int own_cap_version;
};

/* Accepts a connection (callback for listener_open_all). */
void client_accept(int fd, const struct sockaddr_storage *addr, SSL *ssl, const struct conf_listener *lc);

/* Marks c to exit with reason: tells its channels (QUIT), frees its nick, sends the
 * closing ERROR. The memory is released later by client_reap. Safe to call twice. */
void client_exit(struct client *c, const char *reason);

/* c's connection is gone (QUIT, ping timeout, SendQ, a network error): like client_exit,
 * except that the last connection of an always-on user leaves the user in place, as a
 * ghost (alwayson.c). KILL, K-lines and services use client_exit. */
void client_leave(struct client *c, const char *reason);

/* A registered user without a connection (alwayson.c): in the client list and the id
 * table, not counted as a connection; whatever is sent to it is dropped. */
struct client *client_ghost_new(const struct conf_class *class);

/* Like client_exit, but from inside a fan-out (a SendQ overflow): client_exit takes c
 * out of its channels at once, which would free the membership a channel_send loop is
 * standing on. c gets nothing more and exits when client_exit_pending runs. */
void client_exit_soon(struct client *c, const char *reason);

/* Exits the clients marked by client_exit_soon (the loop calls it before flushing). */
void client_exit_pending(void);

/* Frees every client marked by client_exit. Called by the loop before it sleeps,
 * after the pending output was flushed. */
void client_reap(void);

/* Returns the live client with this id, or NULL (results of storage jobs use this). */
struct client *client_by_id(uint64_t id);

/* Returns the client using nick (registered or reserving it), or NULL. */
struct client *client_find(const char *nick);

/* Changes c's nick (the caller checked validity and availability). */
void client_set_nick(struct client *c, const char *nick);

/* True if nick is syntactically valid and at most maxlen bytes. */
bool client_nick_valid(const char *nick, int maxlen);

/* Changes c's visible host (cloak on/off), telling chghost clients that share a
 * channel with it and c itself. */
void client_change_host(struct client *c, const char *host);

/* True if target has a SILENCE entry matching sender. */
bool client_silences(const struct client *target, const struct client *sender);

/* Completes registration if NICK, USER (and CAP END) have all arrived. */
void client_try_register(struct client *c);

/* Restarts the ping timer with the class's timings (after registration). */
void client_timer_restart(struct client *c);

#define client_registered(c) (((c)->flags & CLI_REGISTERED) != 0)
#define client_dead(c) (((c)->flags & CLI_DEAD) != 0)
#define client_has_cap(c, bit) (((c)->caps & CAPF(bit)) != 0)

#endif
