/* monitor.h - MONITOR: clients ask to be told when nicks come online or go offline. */
#ifndef PARLEY_MONITOR_H
#define PARLEY_MONITOR_H

#define MONITOR_MAX 100

struct client;
struct msg;

void monitor_init(void);

/* A nick came online (registration, nick change to it). */
void monitor_online(struct client *c);

/* The nick went offline (exit, nick change away from it). */
void monitor_offline(const char *nick);

/* Forgets every watch c holds (on exit). */
void monitor_forget(struct client *c);

void cmd_monitor(struct client *c, struct msg *m);

#endif
