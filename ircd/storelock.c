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
#include "storage.h"

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

/* "cannot open STORE: lock file PATH: why", the way storage_open names a store it
 * cannot open. */
static int lock_failed(const struct conf *conf, const char *path, const char *why, char *err, size_t size)
{
	char store[CONF_PATH_LEN + 64];
	storage_describe(conf, store, sizeof store);
	snprintf(err, size, "cannot open %s: lock file %s: %s", store, path, why);
	return -1;
}

int storelock_acquire(const struct conf *conf, const struct privs *p, char *err, size_t size)
{
	char path[CONF_PATH_LEN + 16];
	storelock_path(conf, path, sizeof path);
	if (!path[0])
		return 0;
	if (privfile_make_dirs_owned(path, p->drop ? p->uid : (uid_t)-1, p->drop ? p->gid : (gid_t)-1) < 0)
		return lock_failed(conf, path, strerror(errno), err, size);
	/* Root opens a file in a directory the unprivileged user may write: no link
	 * followed, and a hard link to someone else's file is refused before it is written. */
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return lock_failed(conf, path, strerror(e), err, size);
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		return lock_failed(conf, path, "not a plain file", err, size);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char why[64] = "";
		if (errno == EWOULDBLOCK) {
			char pid[24];
			holder(fd, pid, sizeof pid);
			snprintf(why, sizeof why, "held by another parleyd (pid %s) on the same store", pid);
		}
		int e = errno;
		close(fd);
		return lock_failed(conf, path, why[0] ? why : strerror(e), err, size);
	}
	char pid[24];
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if ((p->drop && fchown(fd, p->uid, p->gid) < 0) || ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		int e = errno;
		close(fd);
		return lock_failed(conf, path, strerror(e), err, size);
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
