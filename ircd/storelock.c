/* storelock.c - the store lock (see storelock.h).
 *
 * DESIGN: flock on a file next to the store, not a lock inside the database: the second
 * daemon must stop before it opens anything the first one uses (SQLite's own locks come
 * only once the file is open, and a second writer of the same history journal would
 * interleave records). A flock dies with its process, so a crash leaves no stale lock to
 * clean up; the pid in the file is only for the error message. For MariaDB the lock sits
 * next to the journal: it guards this host's journal, while two hosts sharing one
 * database are the operator's business. */
#include "storelock.h"

#include "privfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_NAME "parleyd.lock"

static int lock_fd = -1;

/* The directory part of path ("." when it has none). */
static void dir_of(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(out, size, ".");
	else if (slash == path)
		snprintf(out, size, "/");
	else
		snprintf(out, size, "%.*s", (int)(slash - path), path);
}

void storelock_path(const struct conf *conf, char *out, size_t size)
{
	const char *store = conf->history_journal;
	const char *db = conf->sqlite_path;
	if (conf->backend == 0 && db[0] && strcmp(db, ":memory:") != 0 && strncmp(db, "file:", 5) != 0)
		store = db;
	out[0] = '\0';
	if (!store[0])
		return;
	char dir[CONF_PATH_LEN];
	dir_of(store, dir, sizeof dir);
	snprintf(out, size, "%s%s" LOCK_NAME, dir, strcmp(dir, "/") ? "/" : "");
}

/* Another process holds the lock: the pid it wrote, for the message. */
static void holder(int fd, char *pid, size_t size)
{
	ssize_t n = pread(fd, pid, size - 1, 0);
	pid[n > 0 ? n : 0] = '\0';
	pid[strspn(pid, "0123456789")] = '\0';
	if (!pid[0])
		snprintf(pid, size, "unknown");
}

int storelock_acquire(const struct conf *conf, const struct privs *p, char *err, size_t size)
{
	char path[CONF_PATH_LEN + 16];
	storelock_path(conf, path, sizeof path);
	if (!path[0])
		return 0;
	if (privfile_make_dirs_owned(path, p->drop ? p->uid : (uid_t)-1, p->drop ? p->gid : (gid_t)-1) < 0) {
		snprintf(err, size, "store lock %s: %s", path, strerror(errno));
		return -1;
	}
	/* Root opens a file in a directory the unprivileged user may write: no link
	 * followed, and a hard link to someone else's file is refused before it is written. */
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, size, "store lock %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		snprintf(err, size, "store lock %s: not a plain file", path);
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[24];
		if (errno == EWOULDBLOCK) {
			holder(fd, pid, sizeof pid);
			snprintf(err, size,
			         "the store is in use by another parleyd (pid %s holds %s): refusing to start, "
			         "the database was not opened",
			         pid, path);
		} else {
			snprintf(err, size, "store lock %s: %s", path, strerror(errno));
		}
		close(fd);
		return -1;
	}
	if (p->drop && fchown(fd, p->uid, p->gid) < 0) {
		snprintf(err, size, "store lock %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	char pid[24];
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		snprintf(err, size, "store lock %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	lock_fd = fd;
	return 0;
}

int storelock_hand_over(const struct conf *conf, const struct privs *p, char *err, size_t size)
{
	static const char *const sqlite_files[] = {"", "-wal", "-shm", "-journal"};
	char path[CONF_PATH_LEN + 16];
	for (size_t i = 0; conf->backend == 0 && i < sizeof sqlite_files / sizeof *sqlite_files; i++) {
		snprintf(path, sizeof path, "%s%s", conf->sqlite_path, sqlite_files[i]);
		if (privs_own(p, path) < 0)
			goto failed;
	}
	snprintf(path, sizeof path, "%s", conf->history_journal);
	if (privs_own(p, path) == 0)
		return 0;
failed:
	snprintf(err, size, "cannot give %s to user %s: %s", path, p->user, strerror(errno));
	return -1;
}
