/* server.h - server links (TS6, the dialect ircd-hybrid 8.2 speaks): connect blocks,
 * the handshake both ways, the burst, PING/PONG per link, splits; the servers and
 * users behind each link. A direct link owns its connection (struct server, not a
 * client); a remote server or user has none. Nothing here runs for a client's own
 * commands unless a link exists (ircd_links != 0). */
#ifndef PARLEY_SERVER_H
#define PARLEY_SERVER_H

#include "conn.h"

#include <ev.h>
#include <stdbool.h>
#include <time.h>

struct client;
struct channel;
struct conf_connect;
struct msg;

enum server_state { SRV_CONNECTING, SRV_HANDSHAKE, SRV_LINKED };

/* The CAPAB tokens we act on. RHOST marks the ircd-hybrid dialect (accounts as
 * SVSACCOUNT); ENCAP, the charybdis family's ENCAP LOGIN/SU; MTAGS, a peer that takes
 * @msgid/@time tags before a relayed message (Parley). */
enum { LINKCAP_ENCAP = 1, LINKCAP_RHOST = 2, LINKCAP_MTAGS = 4 };

/* The LINKCAP_* bits of a CAPAB token list. */
unsigned server_capab_parse(const char *list);

/* Why a server with this SID, reached over a link with these LINKCAP_* bits, cannot join
 * the network (its msgid keys would clash with ours or another Parley node's), or NULL. */
const char *server_msgid_clash(const char *sid, unsigned caps);

struct server {
	struct conn conn;        /* first; used by a direct link only */
	char name[64];
	char sid[4];
	char desc[128];
	struct server *uplink;   /* the server that introduced it; NULL: linked to us */
	struct server *via;      /* the direct link it is reached through (itself if direct) */
	enum server_state state;
	bool outgoing;           /* we connected */
	bool dead;
	bool got_pass;           /* outgoing: the peer's PASS matched */
	bool overflowed;         /* its SendQ filled: dropped at the next loop iteration */
	unsigned caps;           /* LINKCAP_* from the peer's CAPAB (direct links) */
	unsigned nusers;
	unsigned long long lines_in, lines_out; /* direct links: for STATS L */
	ev_tstamp linked_at;
	ev_io connect_w;         /* outgoing: waiting for connect() to finish */
	char pin[65];            /* outgoing TLS: the peer's certificate SHA-256, "" = CA + name */
	ev_timer timer;          /* handshake timeout, then PING/ping timeout */
	ev_tstamp last_line, ping_sent;
	unsigned long mark;      /* fan-out generation: one copy per link */
	struct server *next;
	struct server *dead_next;
};

/* Direct links in state SRV_LINKED; the routing hooks return at once when it is 0. */
extern unsigned ircd_links;

/* Starts the autoconnect timer (call once, after the config is loaded). */
void server_init(void);

/* Returns the server with this name or SID (any case), or NULL. */
struct server *server_find(const char *name_or_sid);

/* Queues a formatted line (no CRLF) to every linked direct link except `except`
 * (may be NULL). Formatted once. */
void server_send_all(struct server *except, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Queues a formatted line to one direct link. */
void server_send(struct server *link, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Queues a line to each link (except `except`) that leads to a member of ch: one copy
 * per link, not per member. */
void server_send_channel(struct channel *ch, struct server *except, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same for a relayed message with its tags (msgid, time, client tags; NULL for
 * none): a peer that announced MTAGS gets "@tags " before the line, the others the line
 * alone, or nothing when tags_only (TAGMSG, which is only tags). */
void server_send_channel_tagged(struct channel *ch, struct server *except, const char *tags, bool tags_only,
                                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void server_send_tagged(struct server *link, const char *tags, bool tags_only, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A registering connection sent SERVER: checks it against the connect blocks and, if it
 * matches, turns the connection into a link (the client is dropped without a trace). */
void cmd_server(struct client *c, struct msg *m);
void cmd_capab(struct client *c, struct msg *m);

/* Operators (privilege route): CONNECT <server> links to a connect block's server now;
 * SQUIT <server> [:reason] ends a direct link. */
void cmd_connect(struct client *c, struct msg *m);
void cmd_squit(struct client *c, struct msg *m);

/* Ends a direct link: its servers and users leave (netsplit QUITs), SQUIT goes to the
 * other links. Safe to call twice; the memory goes at server_reap. */
void server_drop(struct server *link, const char *reason);

/* A remote server (and everything behind it) leaves: SQUIT from a peer. */
void server_remove(struct server *s, const char *reason);

/* Frees dropped links (the loop calls it at its safe point, with client_reap). */
void server_reap(void);

/* A new remote user: listed in the nick and UID tables, counted on s. Takes ownership. */
void server_add_user(struct server *s, struct client *c);

/* A remote user leaves (QUIT, KILL, collision, split): its channels see the QUIT, and it
 * is freed. */
void server_user_exit(struct client *c, const char *reason);

/* Introduces user c (ours or behind another link) on a link, or on every link but the
 * one it is behind. */
void server_send_uid(struct server *link, const struct client *c);
void server_uid_all(const struct client *c);

/* Tells the links (but except) the account of user c (c->account, "" when logged out),
 * in each peer's dialect. */
void server_send_account(struct server *except, const struct client *c);

/* A K-line set (seconds >= 0, 0 permanent) or lifted (seconds < 0) by source (a UID or
 * SID), to the links but except: `KLINE * secs user host :reason` / `UNKLINE * user host`
 * to ircd-hybrid (which takes them from a server its `shared` block names), `ENCAP *
 * KLINE`/`UNKLINE` to the others. */
void server_send_kline(struct server *except, const char *source, const char *mask, long seconds,
                       const char *reason);

/* The user modes the network carries (i, o, w) of a change such as "+iB-x", as "+i"
 * ("" if none). */
void server_umode_filter(const char *change, char *out, size_t size);

/* Applies a user-mode change from the network to remote user c (i, o, w; counted for
 * LUSERS). */
void server_user_umodes(struct client *c, const char *change);

/* Tells the links (but except) user c's displayed host: `SVSHOST uid ts host` to
 * ircd-hybrid, `ENCAP * CHGHOST uid host` to the others. */
void server_send_host(struct server *except, const struct client *c);

/* Lists a remote server (ts6.c SID). */
void server_list_add(struct server *s);

/* An operator or service removes a remote user: KILL to every link (path "our name
 * (reason)"), then its exit, seen here as on its server: "Killed (our name (reason))". */
void server_user_kill(struct client *c, const char *reason);

/* A remote user logged in to account (any case), or NULL. */
struct client *server_account_user(const char *account);

/* Counts for LUSERS: remote users (adding the invisible ones to *invisible) and
 * servers other than us. */
unsigned server_count_users(unsigned *invisible);
unsigned server_count(void);

/* The network's peak user count, raised to global (the count now) if that is more. Our
 * registrations show LUSERS, and remote users are counted as they come, so no peak is
 * missed. */
unsigned server_global_max(unsigned global);

/* Calls fn for every known server (LINKS). */
void server_each(void (*fn)(const struct server *s, void *arg), void *arg);

/* The ts6.c handshake hooks: the peer's SERVER line was accepted (outgoing side). */
void server_established(struct server *link);

/* Our side's PASS/CAPAB/SERVER lines. */
void server_send_intro(struct server *link, const struct conf_connect *cc);

/* The connect block for a server name, or NULL. */
const struct conf_connect *server_conf(const char *name);

/* ts6.c: runs one line from a direct link. */
void ts6_dispatch(struct server *link, struct msg *m);

#endif
