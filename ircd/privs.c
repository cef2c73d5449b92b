/* privs.c - starting as root and switching to server.user (see privs.h).
 *
 * DESIGN: root is needed only to bind ports below 1024 and to read files only root may
 * read; the daemon takes its listeners, its store lock and its TLS keys as root, then
 * setgroups/setgid/setuid before it opens the database or starts a thread, so everything
 * it creates from then on belongs to the unprivileged user. Files it made as root first
 * (the lock, directories) are handed over explicitly. Under systemd the unit starts the
 * daemon as the user directly (User=, CAP_NET_BIND_SERVICE) and server.user names that
 * same user: nothing to switch. */
#include "privs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static bool loopback(const char *address)
{
	unsigned char a[16];
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char one[16] = {[15] = 1};
	if (inet_pton(AF_INET, address, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, address, a) == 1)
		return memcmp(a, one, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
	return false;
}

static bool loopback_only(const struct conf *conf)
{
	for (int i = 0; i < conf->nlisteners; i++)
		if (!loopback(conf->listeners[i].address))
			return false;
	return true;
}

static int target_user(const struct conf *conf, struct privs *p, char *err, size_t size)
{
	errno = 0;
	struct passwd *pw = getpwnam(conf->user);
	if (!pw) {
		snprintf(err, size, "server.user '%s': %s", conf->user, errno ? strerror(errno) : "no such user");
		return -1;
	}
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	snprintf(p->user, sizeof p->user, "%s", conf->user);
	if (conf->group[0]) {
		errno = 0;
		struct group *gr = getgrnam(conf->group);
		if (!gr) {
			snprintf(err, size, "server.group '%s': %s", conf->group, errno ? strerror(errno) : "no such group");
			return -1;
		}
		p->gid = gr->gr_gid;
	}
	return 0;
}

int privs_plan(const struct conf *conf, struct privs *p, char *err, size_t size)
{
	*p = (struct privs){.uid = geteuid(), .gid = getegid()};
	bool root = p->uid == 0;
	if (conf->user[0]) {
		uid_t now = p->uid;
		if (target_user(conf, p, err, size) < 0)
			return -1;
		if (!root && p->uid != now) {
			snprintf(err, size,
			         "server.user is '%s' but parleyd runs as uid %u, not root: it cannot switch users "
			         "(start it as root or as %s)",
			         conf->user, (unsigned)now, conf->user);
			return -1;
		}
		p->drop = root;
	}
	if (p->uid == 0 && !conf->allow_root && !loopback_only(conf)) {
		snprintf(err, size,
		         "refusing to run as root: set server.user (and server.group) to an unprivileged account, "
		         "which parleyd switches to once its listeners are bound, or set server.allow_root = true");
		return -1;
	}
	return 0;
}

int privs_own(const struct privs *p, const char *path)
{
	if (!p->drop || !path[0])
		return 0;
	if (lchown(path, p->uid, p->gid) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int privs_drop(const struct privs *p, char *err, size_t size)
{
	if (!p->drop)
		return 0;
	if (initgroups(p->user, p->gid) < 0 || setgid(p->gid) < 0 || setuid(p->uid) < 0) {
		snprintf(err, size, "cannot switch to user %s (uid %u, gid %u): %s", p->user, (unsigned)p->uid,
		         (unsigned)p->gid, strerror(errno));
		return -1;
	}
	if (p->uid != 0 && setuid(0) == 0) {
		snprintf(err, size, "switched to user %s but could become root again", p->user);
		return -1;
	}
	return 0;
}
