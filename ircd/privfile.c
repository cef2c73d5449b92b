/* privfile.c - creating private files and their directories (see privfile.h). The mode
 * is set explicitly with fchmod/chmod rather than trusted to the umask, which a service
 * manager or a shell may have left at 000. */
#include "privfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir with exactly mode 0700 (the umask can only take bits away, chmod puts them back),
 * handed to owner when it was created here (root starting for server.user). */
static int make_dir(const char *dir, uid_t uid, gid_t gid)
{
	if (mkdir(dir, 0700) == 0)
		return chmod(dir, 0700) < 0 || lchown(dir, uid, gid) < 0 ? -1 : 0;
	return errno == EEXIST ? 0 : -1;
}

int privfile_make_dirs(const char *path) { return privfile_make_dirs_owned(path, (uid_t)-1, (gid_t)-1); }

int privfile_make_dirs_owned(const char *path, uid_t uid, gid_t gid)
{
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0; /* the current directory or / */
	*slash = '\0';
	struct stat st;
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
	for (char *p = dir + 1; *p; p++) { /* each component, from the top */
		if (*p != '/')
			continue;
		*p = '\0';
		int r = make_dir(dir, uid, gid);
		*p = '/';
		if (r < 0)
			return -1;
	}
	return make_dir(dir, uid, gid);
}

int privfile_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600); /* the usual case: it exists */
	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (privfile_make_dirs(path) < 0)
		return -1;
	fd = open(path, flags | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) /* created by someone else in between */
		return open(path, flags | O_CLOEXEC, 0600);
	if (fd >= 0 && fchmod(fd, 0600) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
