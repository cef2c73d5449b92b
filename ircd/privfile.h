/* privfile.h - files that hold private data (password hashes, emails, private messages):
 * created readable and writable by their owner only (0600), in directories created
 * 0700, whatever the process's umask. Existing files and directories keep their modes. */
#ifndef PARLEY_PRIVFILE_H
#define PARLEY_PRIVFILE_H

#include <sys/types.h>

/* Creates the missing directories on the way to the file path (not path itself), each
 * mode 0700. Returns 0, or -1 with errno set. Blocks on the file system: call it at start
 * or on a worker thread. */
int privfile_make_dirs(const char *path);

/* The same, each directory it creates (only those) then given to uid:gid; (uid_t)-1 and
 * (gid_t)-1 leave the owner alone. Used by root before it switches to server.user. */
int privfile_make_dirs_owned(const char *path, uid_t uid, gid_t gid);

/* open(path, flags | O_CREAT | O_CLOEXEC, 0600) after privfile_make_dirs, with the mode
 * applied even under a permissive umask. Returns the descriptor (the caller owns it), or
 * -1 with errno set. Blocks: start or worker thread only. */
int privfile_open(const char *path, int flags);

#endif
