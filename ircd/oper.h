/* oper.h - operators: OPER, server notices (+s), and the commands an operator runs the
 * server with (KILL, WALLOPS, DIE, RESTART, REHASH, STATS, SAJOIN, SAPART, SANICK). */
#ifndef PARLEY_OPER_H
#define PARLEY_OPER_H

#include <stdbool.h>

struct client;
struct msg;

/* Sends "*** text" as a NOTICE to every operator with user mode +s. */
void snotice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* snotice to every operator but skip (NULL: none): for an operator's own action, which
 * its command's reply already reports to it. */
void snotice_except(const struct client *skip, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* snotice about the client t: operators without see_hidden get t's displayed host (its
 * cloak) wherever the text has t's real address. */
void snotice_about(const struct client *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True if c is an operator with privilege priv; otherwise replies 481 and returns false. */
bool oper_has(struct client *c, unsigned priv);

void cmd_oper(struct client *, struct msg *);
void cmd_kill(struct client *, struct msg *);
void cmd_wallops(struct client *, struct msg *);
void cmd_die(struct client *, struct msg *);
void cmd_restart(struct client *, struct msg *);
void cmd_rehash(struct client *, struct msg *);
void cmd_stats(struct client *, struct msg *);
void cmd_sajoin(struct client *, struct msg *);
void cmd_sapart(struct client *, struct msg *);
void cmd_sanick(struct client *, struct msg *);

#endif
