/* service.h - the interface between the daemon and its built-in services (NickServ,
 * ChanServ...). A service is a pseudo-client: users PRIVMSG it, it answers with NOTICEs
 * from "Nick!Nick@services.". Services see clients only through these calls. */
#ifndef PARLEY_SERVICE_H
#define PARLEY_SERVICE_H

#include <stdbool.h>

struct client;
struct conf;

struct service {
	const char *nick;
	const char *description;
	/* A PRIVMSG to the service; text is writable. */
	void (*on_message)(const struct service *s, struct client *from, char *text);
};

/* Registers the built-in services; called once at start. */
void services_init(void);

/* Returns the service named nick (any case), or NULL. Its nick is never given to a user. */
const struct service *service_find(const char *nick);

/* Sends a NOTICE from service s to c. */
void service_notice(const struct service *s, struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Read-only facts about a client. */
const char *service_client_nick(const struct client *c);
const char *service_client_account(const struct client *c); /* "" when not logged in */
const char *service_client_certfp(const struct client *c);  /* "" without a certificate */
bool service_client_is_oper(const struct client *c);

/* Finds a registered client by nick. */
struct client *service_client_find(const char *nick);

/* Logs c in to account (900, account-notify) or out (901). */
void service_login(struct client *c, const char *account);
void service_logout(struct client *c);

/* The configuration in force (read-only). */
const struct conf *ircd_conf(void);

/* Disconnects c with reason. */
void service_disconnect(struct client *c, const char *reason);

/* Called by the daemon after c registers or changes nick (nick enforcement). */
void services_nick_changed(struct client *c);

/* Calls fn(c) after seconds unless c exits or service_timer_cancel(c) runs first; one
 * timer per client. */
void service_timer(struct client *c, double seconds, void (*fn)(struct client *c));
void service_timer_cancel(struct client *c);

/* Renames c to a free nick made of prefix and digits, as if it had sent NICK. */
void service_force_guest_nick(struct client *c, const char *prefix);

/* The NickServ service (services/nickserv.c). */
extern const struct service nickserv;

/* NickServ's part of services_nick_changed. */
void nickserv_nick_changed(struct client *c);

#endif
