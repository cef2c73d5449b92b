/* audit.c - audit lines (see audit.h): the actor's description and the log call. */
#include "audit.h"

#include "client.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *current_actor; /* set around a completion (loop thread only) */

void audit_who(const struct client *c, char *out, size_t size)
{
	snprintf(out, size, "%s!%s@%s (%s)", c->nick[0] ? c->nick : "*", c->user[0] ? c->user : "*", c->host,
	         c->conn.ip);
}

void audit_actor_set(const char *who) { current_actor = who; }

static void audit_v(const char *who, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void audit_v(const char *who, const char *fmt, va_list ap)
{
	if (!log_enabled(LOGC_AUDIT, LOG_INFO))
		return;
	char text[800];
	vsnprintf(text, sizeof text, fmt, ap);
	log_cat(LOGC_AUDIT, LOG_INFO, "%s from %s", text, who);
}

void audit(const struct client *c, const char *fmt, ...)
{
	char who[AUDIT_WHO_MAX];
	if (c)
		audit_who(c, who, sizeof who);
	else
		snprintf(who, sizeof who, "%s", current_actor ? current_actor : "(a client that has left)");
	va_list ap;
	va_start(ap, fmt);
	audit_v(who, fmt, ap);
	va_end(ap);
}

void audit_as(const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	audit_v(who, fmt, ap);
	va_end(ap);
}
