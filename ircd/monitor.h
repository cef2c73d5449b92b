/* monitor.h - MONITOR: clients ask to be told when nicks come online or go offline. */
#ifndef PARLEY_MONITOR_H
#define PARLEY_MONITOR_H

#include <stdint.h>

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

/* Gives to the nicks from watches (a multiclient user handed over to another session;
 * from is forgotten when it exits). */
void monitor_move(struct client *from, struct client *to);

/* Sends o to the clients that monitor c and have every capability in cap_need, except
 * those already reached in fan-out generation gen (their mark equals gen). */
struct outmsg;
void monitor_send_extended(struct client *c, struct outmsg *o, uint32_t cap_need, unsigned long gen);

void cmd_monitor(struct client *c, struct msg *m);

#endif
