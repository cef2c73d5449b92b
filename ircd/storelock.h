/* storelock.h - one daemon per store: an exclusive lock taken before the database is
 * opened, so a second parleyd on the same store stops without touching it. */
#ifndef PARLEY_STORELOCK_H
#define PARLEY_STORELOCK_H

#include "conf.h"
#include "privs.h"

#include <stddef.h>

/* The lock file for conf's store: parleyd.lock in the directory of the SQLite file (or,
 * for MariaDB or an SQLite store that is no plain file, of the history journal). "" when
 * there is none. */
void storelock_path(const struct conf *conf, char *out, size_t size);

/* Creates the lock file (and its missing directories, given to the user p switches to),
 * takes an exclusive flock on it and writes our pid into it. The lock is held until the
 * process exits or executes itself again (RESTART). Returns 0, or -1 with the reason in
 * err; a lock held by another process names its pid. Blocks on the file system: start
 * only. */
int storelock_acquire(const struct conf *conf, const struct privs *p, char *err, size_t size);

/* Gives the store's existing files (the SQLite file and its -wal, -shm and -journal
 * companions, the history journal) to the user p switches to, so a store first used by
 * root keeps working after the switch. A no-op unless p drops privileges. Returns 0, or
 * -1 with the reason in err. */
int storelock_hand_over(const struct conf *conf, const struct privs *p, char *err, size_t size);

#endif
