/* route.h - what our users do, told to the linked servers (TS6 lines with UIDs). Every
 * function returns at once when no server is linked. */
#ifndef PARLEY_ROUTE_H
#define PARLEY_ROUTE_H

#include "parse.h"

#include <stdbool.h>
#include <stddef.h>

struct channel;
struct client;
struct outmsg;

void route_introduce(struct client *c);               /* registration: UID */
void route_quit(struct client *c, const char *reason);
void route_nick(struct client *c);                    /* after the change */
void route_join(struct client *c, struct channel *ch, bool created);
void route_part(struct client *c, struct channel *ch, const char *reason);
void route_kick(struct client *c, struct channel *ch, struct client *t, const char *reason);
void route_topic(struct client *c, struct channel *ch);
void route_away(struct client *c);
/* Our operator by KILLs remote user t: KILL (with the TS6 path) to every link, then t
 * leaves here with reason ("Killed (nick (why))"). */
void route_kill(struct client *by, struct client *t, const char *why, const char *reason);
/* Our operator by set (seconds 0: permanent) or lifted the K-line mask (user@host). */
void route_kline(struct client *by, const char *mask, long seconds, const char *reason);
void route_unkline(struct client *by, const char *mask);
/* c's user modes changed ("+i-w"...): the ones the network knows (i, o, w) go out as
 * MODE. */
void route_umode(struct client *c, const char *change);
/* c's displayed host changed (cloak +x/-x): ENCAP CHGHOST, or SVSHOST to a hybrid peer. */
void route_host(struct client *c);
/* ChanServ stored a change of the room name (links.shared_store): ENCAP * CSCHANGE, so
 * the other nodes read it again from the store. */
void route_channel_stored(const char *name);
/* NickServ dropped account (links.shared_store): ENCAP * ACCTDROP, so the other nodes
 * log out their users of it. */
void route_account_dropped(const char *account);
/* c logged in or out (c->account): ENCAP LOGIN/SU, or SVSACCOUNT to a hybrid peer. */
void route_account(struct client *c);
/* A PRIVMSG/NOTICE/TAGMSG (text NULL) to a channel (status prefix included in target) or
 * a remote user; o is the message as our users got it: its msgid, time and client tags
 * go to the peers that take tags, and a TAGMSG only to them. */
void route_channel_message(struct client *c, const char *cmd, struct channel *ch, const char *target,
                           const char *text, const struct outmsg *o);
void route_user_message(struct client *c, const char *cmd, struct client *t, const char *text,
                        const struct outmsg *o);

/* The tags o carries between servers: "msgid=...;time=...[;+client=tags]". */
#define ROUTE_TAGS_MAX (CLIENT_TAG_DATA_MAX + 64)
void route_tags(const struct outmsg *o, char *out, size_t size);
/* A channel MODE change as announced to our members ("+ov-k alice bob key"): sent as
 * TMODE, with the nicks of o/v turned into UIDs. */
void route_mode(struct client *c, struct channel *ch, const char *change);

/* What a service (ChanServ) did to ch, from our SID, so every node agrees: a mode change
 * as announced ("+o alice", "+t"), a KICK of t, the topic now in ch (a server's TOPIC). */
void route_service_mode(struct channel *ch, const char *change);
void route_service_kick(struct channel *ch, struct client *t, const char *reason);
void route_service_topic(struct channel *ch);

#endif
