/* channel.h - channels and membership. A channel exists while it has members. Members
 * are a doubly linked list on the channel (fan-out order) and a singly linked list on
 * the client (QUIT, NICK, WHOIS). */
#ifndef PARLEY_CHANNEL_H
#define PARLEY_CHANNEL_H

#include "client.h"
#include "outmsg.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CHANNEL_MAX 64
#define TOPIC_MAX 390
#define KEY_MAX 32
#define LIST_MAX 100      /* entries per +b/+e/+I list (MAXLIST) */
#define CHANNELS_PER_CLIENT 100
#define INVITES_MAX 64    /* pending invites remembered per channel */

/* Channel modes as bits indexed by letter (same scheme as user modes). */
#define CMODE(ch) ((uint64_t)1 << ((ch) - 'A'))

/* Member status, highest first. */
enum { MEMBER_OP = 1, MEMBER_VOICE = 2 };

struct membership {
	struct channel *chan;
	struct client *client;
	unsigned status;
	struct membership *chan_next, *chan_prev;
	struct membership *client_next;
};

struct list_entry {
	char mask[PREFIX_MAX + 16];
	char setter[PREFIX_MAX + 1];
	time_t when;
	struct list_entry *next;
};

enum list_kind { LIST_BAN, LIST_EXCEPT, LIST_INVEX, LIST_KINDS };

struct channel {
	char name[CHANNEL_MAX + 1];
	time_t created;
	uint64_t modes;
	char key[KEY_MAX + 1];
	unsigned limit;
	char *topic;
	char topic_setter[PREFIX_MAX + 1];
	time_t topic_time;
	struct list_entry *lists[LIST_KINDS];
	unsigned list_count[LIST_KINDS];
	uint64_t invites[INVITES_MAX]; /* client ids invited and not yet joined */
	unsigned ninvites;
	struct membership *members;
	unsigned nmembers;
	unsigned nremote;  /* members on other servers: 0 keeps server routing off the path */
	bool registered; /* kept by ChanServ: exists while empty */
	/* The seq (msgid value) this lifetime of the channel starts at: history before it
	 * belongs to earlier occupants of the name and is never shown (0 for a room ChanServ
	 * loaded at start, whose history is all its own). */
	unsigned long long history_floor;
};

void channel_init(void);

/* Returns the channel named name, or NULL. */
struct channel *channel_find(const char *name);

/* True if name is a valid channel name (CHANTYPES '#', no space, comma, ^G, ':'). */
bool channel_name_valid(const char *name);

/* Creates an empty channel (the caller adds the first member). */
struct channel *channel_create(const char *name);

/* Returns c's membership in ch, or NULL. */
struct membership *channel_member(const struct channel *ch, const struct client *c);

/* Adds c to ch with status; returns the membership. */
struct membership *channel_add(struct channel *ch, struct client *c, unsigned status);

/* Removes c from ch; frees ch when it becomes empty. */
void channel_remove(struct channel *ch, struct client *c);

/* Queues o to every member of ch except `except` (may be NULL) whose status includes
 * any bit of need (0: everyone), and whose capabilities include cap_need (0 = none)
 * and exclude cap_skip. */
void channel_send(struct channel *ch, struct outmsg *o, const struct client *except, unsigned need,
                  uint32_t cap_need, uint32_t cap_skip);

/* Sends o once to every client sharing a channel with c (not c itself). */
void channel_send_common(struct client *c, struct outmsg *o, uint32_t cap_need);

/* Like channel_send_common, and also to clients that MONITOR c with extended-monitor
 * (for AWAY, ACCOUNT, CHGHOST and SETNAME). */
void channel_send_common_monitored(struct client *c, struct outmsg *o, uint32_t cap_need);

/* True if c matches the channel list kind. */
bool channel_list_match(const struct channel *ch, enum list_kind kind, const struct client *c);

/* True if c is banned (+b) and not excepted (+e). */
bool channel_banned(const struct channel *ch, const struct client *c);

/* Status prefix characters for a member: all ("@+") with multi, else the highest. */
void channel_prefix(unsigned status, bool multi, char out[4]);

/* True if c can see ch in LIST/WHOIS/NAMES: not +s/+p, or a member. */
bool channel_visible(const struct channel *ch, const struct client *c);

/* Frees ch if it has no members and is not registered. */
void channel_free_if_empty(struct channel *ch);

/* Records an invitation of c to ch (lets c past +i, +l and bans once). */
void channel_invite_add(struct channel *ch, const struct client *c);

/* The user with id from is now the client with id to (a session handover): its pending
 * invitations go with it. */
void channel_invites_move(uint64_t from, uint64_t to);

/* Appends mask to list kind without announcing it. */
void channel_list_insert(struct channel *ch, enum list_kind kind, const char *mask, const char *setter, time_t when);

/* True if c matches a list mask (nick!user@host, or $a:account). */
bool channel_mask_matches(const char *mask, const struct client *c);

/* Hooks called by client.c and cmd_register.c. */
void channel_client_exit(struct client *c, const char *reason);
void channel_nick_change(struct client *c, const char *old_prefix, const char *nick);
unsigned channel_count(void);

/* Calls fn for every channel. */
void channel_each(void (*fn)(struct channel *ch, void *arg), void *arg);

#endif
