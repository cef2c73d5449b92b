/* audit.h - the audit log: what operators did (OPER, KILL, bans, REHASH, DIE, SA*) and
 * what users did that operators must be able to trace (account and channel
 * registrations, REPORT), as lines of the log's "audit" category:
 *
 *     OPER failed name=alice reason="bad password" from bob!bob@host (192.0.2.7)
 *
 * The actor comes last, as " from nick!user@host (real address)": the real address even
 * when the host is cloaked, because this log is for operators. Successes are logged
 * where the user is told, after the change is committed. */
#ifndef PARLEY_AUDIT_H
#define PARLEY_AUDIT_H

#include <stddef.h>

struct client;

#define AUDIT_WHO_MAX 200

/* Writes "nick!user@host (ip)" for c into out. */
void audit_who(const struct client *c, char *out, size_t size);

/* Logs "<text> from <c>". c may be NULL in a completion whose client has left: the actor
 * is then the one audit_actor_set names (client_store and the account jobs set it), or
 * "(a client that has left)". */
void audit(const struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs "<text> from <who>" (who: "SIGHUP", or an audit_who kept by a job). */
void audit_as(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Names the actor of the completion running now (NULL when it ends). */
void audit_actor_set(const char *who);

#endif
