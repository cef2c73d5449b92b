/* notify.c - the sd_notify protocol, written out instead of linking libsystemd: one
 * datagram of KEY=value lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or
 * '@' for a name in the abstract namespace). The variable stays set: the daemon reports
 * more than once (reloads, stop) and RESTART executes itself again under the same
 * manager. */
#include "notify.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int notify_send(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	if (!name || !name[0])
		return 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	if ((name[0] != '/' && name[0] != '@') || len >= sizeof sa.sun_path)
		return -1;
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: the length, not a NUL, ends the name */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	size_t n = strlen(state);
	ssize_t sent = sendto(fd, state, n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa,
	                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
	return sent == (ssize_t)n ? 0 : -1;
}

int notify_reloading(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char msg[80];
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	return notify_send(msg);
}
