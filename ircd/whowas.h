/* whowas.h - a bounded ring of recently used nicks for WHOWAS. */
#ifndef PARLEY_WHOWAS_H
#define PARLEY_WHOWAS_H

struct client;

/* Records c under its current nick. */
void whowas_add(const struct client *c);

/* Records c under the nick in old_prefix ("nick!user@host"), before a nick change. */
void whowas_add_as(const struct client *c, const char *old_prefix);

/* The WHOWAS command. */
struct msg;
void cmd_whowas(struct client *c, struct msg *m);

#endif
