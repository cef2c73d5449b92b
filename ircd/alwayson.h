/* alwayson.h - always-on users: when the last connection of a logged-in user whose
 * account is always-on (NickServ SET ALWAYS-ON, or accounts.always_on) goes away, the
 * user stays as a ghost: a struct client without a connection, keeping its nick, its
 * channels and its modes, marked away. Nobody sees it quit. The account's next login
 * takes it over as its connection. Its presence is stored (behind each change) and
 * recreated at start. */
#ifndef PARLEY_ALWAYSON_H
#define PARLEY_ALWAYSON_H

#include <stdbool.h>

struct client;

#define ALWAYSON_AWAY "Always-on (disconnected)"

/* At start, after the channels ChanServ keeps are loaded and before clients are served:
 * the accounts' settings and the stored always-on users (ghosts again). */
void alwayson_load(void);

/* The account's setting: 1 on, 0 off, -1 the server's default. */
int alwayson_setting(const char *account);
bool alwayson_enabled(const char *account);

/* NickServ SET ALWAYS-ON for c's account: stored, then in memory, then done(c, ok). */
void alwayson_set(struct client *c, bool on, void (*done)(struct client *c, bool ok));

/* c's last connection is leaving with reason: true if c stays as a ghost (c has exited
 * then, nobody saw a QUIT). */
bool alwayson_keep(struct client *c, const char *reason);

/* The ghost of account, or NULL. */
struct client *alwayson_ghost(const char *account);

/* c, unregistered and logged in, registers: if its account has a ghost, c becomes that
 * user (its nick, channels, catch-up, offline messages) and true is returned. */
bool alwayson_attach(struct client *c);

/* After alwayson_attach and c's welcome: the JOIN, topic and NAMES of its channels,
 * each channel's catch-up, its markers and offline messages. */
void alwayson_burst(struct client *c);

/* c, registered with a nick of its own, logged in (IDENTIFY, GHOST) to an account that
 * has a ghost: c leaves its own nick and channels and becomes that user. */
bool alwayson_reattach(struct client *c);

/* c's presence changed (JOIN, PART, KICK, NICK, away): stored behind, if always-on. */
void alwayson_touch(struct client *c);

/* c (a user, logged in) is really gone or logged out: its stored presence is deleted. */
void alwayson_gone(struct client *c);

/* client_exit of a ghost (taken over or removed). */
void alwayson_ghost_exit(struct client *g);

/* The account was dropped: its ghost goes, its setting is forgotten. */
void alwayson_account_dropped(const char *account);

/* Submits the presence changes of this loop iteration now (at shutdown). */
void alwayson_flush(void);

#endif
