/* uid.h - TS6 user ids: our SID followed by six characters, one per client for the
 * daemon's lifetime, and the table of every user's id (local and remote). */
#ifndef PARLEY_UID_H
#define PARLEY_UID_H

#include <stdbool.h>

#define UID_LEN 9

struct client;

/* Gives c the next unused UID of this server (sid: conf's server.sid) and lists it. */
void uid_assign(struct client *c, const char *sid);

/* Lists c under c->uid (a remote client's id from its UID message). */
void uid_add(struct client *c);

/* Unlists c (at exit). */
void uid_del(struct client *c);

/* Returns the client with this UID, or NULL. */
struct client *uid_find(const char *uid);

/* True if uid is 9 characters: a SID (digit, two of [0-9A-Z]) and six of [0-9A-Z]. */
bool uid_valid(const char *uid);

#endif
