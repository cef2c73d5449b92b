/* session.h - multiclient: several connections logged in to one account share one user
 * (nick, channels, modes, presence).
 *
 * The user is an ordinary struct client (in the nick table and its channels) whose own
 * connection is one of its sessions; each other session is a struct client with `user`
 * set, kept out of the nick table and channels. A session's commands run on the user,
 * with the replies going to the session that asked (labeled-response intact), and what
 * is relayed to the user reaches every session. Each connection keeps its own caps,
 * SendQ, flood bucket and ping timer. */
#ifndef PARLEY_SESSION_H
#define PARLEY_SESSION_H

#include <stdbool.h>
#include <stdint.h>

struct client;
struct msg;
struct outmsg;

/* True if an unregistered c asking for nick (held by another user) may still attach to
 * that user at registration: multiclient is on and the holder is logged in. cmd_nick
 * then defers the 433 to registration, when c's own login is known. */
bool session_may_attach(const struct client *c, const char *nick);

/* At registration of a client flagged CLI_ATTACH: attaches it to the holder of its nick
 * if both are logged in to the same account and the account has a free session slot
 * (true: registered as a session, burst sent). Otherwise tells it why (FAIL
 * TOO_MANY_SESSIONS, 433), clears its nick and returns false: it may send another NICK. */
bool session_attach(struct client *c);

/* Runs a session's command on its user (reply context, caps of the session). */
void session_dispatch(struct client *s, struct msg *m);

/* A job a session started completes: its callback runs on the user, as the session's
 * commands do (session_resume returns the client to pass it: the user, or c itself when
 * c is no session); session_suspend ends that, given what session_resume returned. */
struct reply_ctx;
struct client *session_resume(struct client *c, struct reply_ctx *ctx);
void session_suspend(struct client *c, struct client *u, struct reply_ctx *ctx);

/* The connection whose command is running on c (c itself outside a session's command). */
struct client *session_asker(struct client *c);

/* After session_attach: the session's welcome is sent; now its JOIN, topic and NAMES
 * for each of the user's channels, and the account's read markers. */
void session_start(struct client *s);

/* Disconnects the user u and every session of it (KILL, services). */
void session_exit_user(struct client *u, const char *reason);

/* A session is leaving: the user and everybody else see nothing. */
void session_detach(struct client *s);

/* The user's own connection is leaving while it has sessions: the first one takes the
 * user over (nick, channels, modes...). False if there was none. */
bool session_handover(struct client *u);

/* Sends o to the user's connections other than the one c (the asker, or the user's own
 * connection) already got it on, whose caps include need and none of skip. */
void session_send_others(struct outmsg *o, struct client *u, uint32_t need, uint32_t skip);

/* Calls fn for each connection of c's user except the one whose command is running
 * (the asker), as if outside that command: replies to x go to x. */
void session_each_other(struct client *c, void (*fn)(struct client *x, void *arg), void *arg);

/* Sends b to the asker (as a reply) and to every other connection of the user u. */
struct msgbuf;
void session_send_all(struct client *u, struct msgbuf *b);

/* Iterates the connections of the user u: its own, then its sessions. */
#define SESSION_EACH(x, u) for (struct client *x = (u); x; x = x == (u) ? (u)->sessions : x->session_next)

/* Copies the user's identity (nick, user, host, prefix) to its sessions after a change. */
void session_sync(struct client *u);

#endif
