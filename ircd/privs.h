/* privs.h - which user the daemon runs as: started as root it binds its listeners, then
 * switches to server.user / server.group; it refuses to stay root unless told to. */
#ifndef PARLEY_PRIVS_H
#define PARLEY_PRIVS_H

#include "conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privs {
	bool drop;                /* root now, switching to uid/gid after binding */
	uid_t uid;                /* the user the daemon works as (now or after the switch) */
	gid_t gid;
	char user[CONF_NAME_LEN];
};

/* Decides from conf and the process's user what happens at start. Fails (-1, the reason
 * in err) for an unknown user or group, for a server.user a non-root process cannot
 * become, and for root with no server.user unless server.allow_root is set or every
 * listener is on a loopback address (a development or test server, reachable only from
 * this host). Looks users up through NSS: call it at start only. */
int privs_plan(const struct conf *conf, struct privs *p, char *err, size_t size);

/* Gives an existing file to the user the daemon will switch to (no-op unless it drops);
 * a symbolic link itself, never what it points to. Returns 0, or -1 with errno set
 * (ENOENT counts as success). */
int privs_own(const struct privs *p, const char *path);

/* Switches to the planned user and group (supplementary groups from the group database,
 * as login does) and checks root cannot be regained. 0, or -1 with the reason in err. */
int privs_drop(const struct privs *p, char *err, size_t size);

#endif
