/* notify.h - telling a service manager (systemd, Type=notify) what the daemon is doing. */
#ifndef PARLEY_NOTIFY_H
#define PARLEY_NOTIFY_H

/* Sends state ("READY=1", "RELOADING=1", "STOPPING=1", newline-separated KEY=value lines)
 * to the socket named by $NOTIFY_SOCKET; does nothing when it is unset. Never blocks (a
 * full socket drops the message). Returns 0, or -1 if the message could not be sent. */
int notify_send(const char *state);

/* RELOADING=1 with the MONOTONIC_USEC= systemd wants alongside it. */
int notify_reloading(void);

#endif
