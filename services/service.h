/* service.h - the interface between the daemon and its built-in services (NickServ,
 * ChanServ...). A service is a pseudo-client: users PRIVMSG it, it answers with NOTICEs
 * from "Nick!Nick@services.". Services see clients only through these calls. */
#ifndef PARLEY_SERVICE_H
#define PARLEY_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

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
bool service_client_is_remote(const struct client *c); /* a user on another node */

/* Finds a registered client by nick. */
struct client *service_client_find(const char *nick);

/* Logs c in to account (900, account-notify) or out (901). */
void service_login(struct client *c, const char *account);
void service_logout(struct client *c);

/* Logs out every client logged in to account (after DROP), on this node and, with
 * links.shared_store, on the others (which dropped it too: it was their account). */
void service_logout_account(const char *account);

/* The configuration in force (read-only). */
const struct conf *ircd_conf(void);

/* Always-on (alwayson.h): an account's setting (1, 0, -1 for the server's default) and
 * what applies; SET ALWAYS-ON for c's account (done after the commit); a client that is
 * an always-on user without a connection; c logged in to such a user's account takes it
 * over (false if there is none). */
int service_always_on_setting(const char *account);
bool service_always_on(const char *account);
void service_set_always_on(struct client *c, bool on, void (*done)(struct client *c, bool ok));
bool service_client_is_ghost(const struct client *c);
bool service_reattach(struct client *c);

/* Disconnects c with reason. */
void service_disconnect(struct client *c, const char *reason);

/* Called by the daemon after c registers or changes nick (nick enforcement). */
void services_nick_changed(struct client *c);

/* Calls fn(c) after seconds unless c exits or service_timer_cancel(c) runs first; one
 * timer per client. */
void service_timer(struct client *c, double seconds, void (*fn)(struct client *c));
void service_timer_cancel(struct client *c);

/* Calls fn every seconds on the loop, from now on (a service's periodic retry; at most
 * four in all). */
void service_every(double seconds, void (*fn)(void));

/* Renames c to a free nick made of prefix and digits, as if it had sent NICK. */
void service_force_guest_nick(struct client *c, const char *prefix);

/* ---- channels, for ChanServ ---- */
struct channel;

struct channel *service_channel_find(const char *name);
const char *service_channel_name(const struct channel *ch);
/* Creates (if needed) a channel that persists while empty; its history shows from seq
 * floor on (the floor the room was registered with; a live channel keeps its own, which
 * is never lower). */
struct channel *service_channel_keep(const char *name, unsigned long long floor);
/* The first seq of ch's current lifetime: what REGISTER stores with the room. */
unsigned long long service_channel_history_floor(const struct channel *ch);
/* Lets the channel vanish when empty again (DROP). */
void service_channel_release(struct channel *ch);
bool service_channel_is_op(const struct channel *ch, const struct client *c);
bool service_channel_is_member(const struct channel *ch, const struct client *c);
/* Applies a flag-mode string such as "+nt-s" as service s, announcing what changed. */
void service_channel_mode(const struct service *s, struct channel *ch, const char *modes);
/* Gives or takes +o/+v of member c as service s. */
void service_channel_member_mode(const struct service *s, struct channel *ch, struct client *c, char mode, bool on);
void service_channel_kick(const struct service *s, struct channel *ch, struct client *c, const char *reason);
void service_channel_invite(const struct service *s, struct channel *ch, struct client *c);
/* Sets the topic (announced when announce) as setter at when. */
void service_channel_set_topic(struct channel *ch, const char *topic, const char *setter, long long when, bool announce,
                               const struct service *s);
void service_channel_topic(const struct channel *ch, const char **topic, const char **setter, long long *when);
/* Restores a +b/+e/+I entry without announcing it (loading saved lists). */
void service_channel_list_restore(struct channel *ch, char kind, const char *mask, const char *setter, long long when);
/* Calls fn for every +b/+e/+I entry of ch (kind 'b', 'e' or 'I'). */
void service_channel_each_list_entry(struct channel *ch,
                                     void (*fn)(char kind, const char *mask, const char *setter, long long when, void *arg),
                                     void *arg);

/* Flag modes the channel has now, as "+nt". */
void service_channel_modes(const struct channel *ch, char *out, size_t size);
/* True if c matches a ban-style mask or $a:account. */
bool service_client_matches(const struct client *c, const char *mask);
/* Calls fn for every member of ch (fn must not remove members). */
void service_channel_each_member(struct channel *ch, void (*fn)(struct client *c, void *arg), void *arg);
/* Calls fn for every channel c is in. */
void service_client_each_channel(struct client *c, void (*fn)(struct channel *ch, void *arg), void *arg);

/* HELP <command>: "Syntax: " and the part of help before " - ", then each line of detail
 * (lines separated by '\n'). Every service's command table holds both, so the list and
 * the per-command help come from the same entry. */
void service_help_topic(const struct service *s, struct client *c, const char *help, const char *detail);

/* Hooks the daemon calls (service.c dispatches them to the services). */
void services_channel_joined(struct client *c, struct channel *ch);
void services_account_changed(struct client *c);
void services_channel_modes_changed(struct client *by, struct channel *ch);
void services_channel_list_changed(struct client *by, struct channel *ch, char kind, bool add, const char *mask);
void services_channel_topic_changed(struct client *by, struct channel *ch);
void services_channel_topic_relayed(struct channel *ch);
/* Another node of a shared store dropped account: this node's users of it are logged
 * out and its always-on user goes. */
void services_account_dropped(const char *account);
/* Which of a channel's entry modes c passes by its ChanServ access entry: none; +i, +k
 * and +l (a member, voice or op entry, not AKICKed: like an invite exception); or those
 * and +b too (op and founder entries, who could lift the ban through ChanServ anyway). */
enum service_admit { ADMIT_NONE, ADMIT_DOORS, ADMIT_ALL };
enum service_admit services_channel_admits(const struct client *c, const struct channel *ch);
/* Text ChanServ adds to LIST for registered channels (its description), or NULL. */
const char *services_channel_description(const struct channel *ch);
/* Loads saved state at start (before the storage thread runs). */
void services_load(void);

/* HistServ (services/histserv.c) */
extern const struct service histserv;

/* ChanServ (services/chanserv.c) */
extern const struct service chanserv;
void chanserv_load(void);
/* ChanServ stored a change of the room name: the other nodes of a shared store are told. */
void service_channel_stored(const char *name);
/* Reads the room name (NULL: every room) again from the store (storage thread), then
 * replaces what ChanServ holds of it: another node registered, changed or dropped it
 * (links.shared_store), or a link came up after changes made while split. */
void chanserv_reload(const char *name);
void chanserv_joined(struct client *c, struct channel *ch);
void chanserv_account_changed(struct client *c);
void chanserv_modes_changed(struct client *by, struct channel *ch);
void chanserv_list_changed(struct client *by, struct channel *ch, char kind, bool add, const char *mask);
void chanserv_topic_changed(struct client *by, struct channel *ch);
/* A topic set on another node (whose ChanServ enforced TOPICLOCK for its user): with
 * KEEPTOPIC it is the room's topic here too, the one TOPICLOCK restores. */
void chanserv_topic_relayed(struct channel *ch);
const char *chanserv_description(const struct channel *ch);
enum service_admit chanserv_admits(const struct client *c, const struct channel *ch);

/* A registered channel's REPLAY (retention false) or RETENTION setting, -1 if none. */
int chanserv_history_setting(const char *name, bool retention);

/* Calls fn for every registered channel with its own RETENTION. */
void chanserv_each_retention(void (*fn)(const char *name, int days, void *arg), void *arg);

/* The NickServ service (services/nickserv.c). */
extern const struct service nickserv;

/* NickServ's part of services_nick_changed. */
void nickserv_nick_changed(struct client *c);

#endif
