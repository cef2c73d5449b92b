/* command.h - the command table and the dispatcher. The dispatcher, not the handler,
 * answers unknown commands (421), missing parameters (461), commands before
 * registration (451), re-registration (462) and oper-only commands (481). */
#ifndef PARLEY_COMMAND_H
#define PARLEY_COMMAND_H

#include <stdbool.h>

struct client;
struct msg;

typedef void (*command_fn)(struct client *c, struct msg *m);

enum command_access {
	CMD_ANY,        /* before and after registration */
	CMD_UNREG,      /* only before registration (462 after) */
	CMD_USER,       /* only after registration (451 before) */
	CMD_OPER,       /* registered operators (481 otherwise) */
};

struct command {
	const char *name;
	command_fn fn;
	int min_params;
	enum command_access access;
	int penalty;             /* flood-control cost; 0 for PONG-like commands */
	unsigned long count;     /* times used, for STATS m */
};

/* Builds the lookup table; call once at start. */
void command_init(void);

/* Returns the command named name (any case), or NULL. */
struct command *command_find(const char *name);

/* Runs one parsed message from c: access checks, handler, reply context. */
void command_dispatch(struct client *c, struct msg *m);

/* Runs m's command for c inside a reply context the caller started (session.c runs a
 * session's commands on its user this way). */
void command_run(struct client *c, struct msg *m);

/* Calls fn for every command (STATS m, HELP). */
void command_each(void (*fn)(const struct command *cmd, void *arg), void *arg);

/* Handlers, grouped by family in cmd_*.c. */
void cmd_pass(struct client *, struct msg *);
void cmd_nick(struct client *, struct msg *);
void cmd_user(struct client *, struct msg *);
void cmd_ping(struct client *, struct msg *);
void cmd_pong(struct client *, struct msg *);
void cmd_quit(struct client *, struct msg *);
void cmd_cap(struct client *, struct msg *);
void cmd_motd(struct client *, struct msg *);
void cmd_lusers(struct client *, struct msg *);
void cmd_links(struct client *, struct msg *);
void cmd_version(struct client *, struct msg *);
void cmd_time(struct client *, struct msg *);
void cmd_info(struct client *, struct msg *);
void cmd_admin(struct client *, struct msg *);
void cmd_join(struct client *, struct msg *);
void cmd_part(struct client *, struct msg *);
void cmd_topic(struct client *, struct msg *);
void cmd_names(struct client *, struct msg *);
void cmd_list(struct client *, struct msg *);
void cmd_invite(struct client *, struct msg *);
void cmd_kick(struct client *, struct msg *);
void cmd_mode(struct client *, struct msg *);
void cmd_privmsg(struct client *, struct msg *);
void cmd_notice(struct client *, struct msg *);
void cmd_tagmsg(struct client *, struct msg *);
void cmd_who(struct client *, struct msg *);
void cmd_whois(struct client *, struct msg *);
void cmd_whowas(struct client *, struct msg *);
void cmd_ison(struct client *, struct msg *);
void cmd_userhost(struct client *, struct msg *);
void cmd_away(struct client *, struct msg *);
void cmd_setname(struct client *, struct msg *);
void cmd_monitor(struct client *, struct msg *);
void cmd_authenticate(struct client *, struct msg *);
void cmd_silence(struct client *, struct msg *);
void cmd_chathistory(struct client *, struct msg *);
void cmd_redact(struct client *, struct msg *);
void cmd_markread(struct client *, struct msg *);
void cmd_edit(struct client *, struct msg *);
void cmd_search(struct client *, struct msg *);
void cmd_report(struct client *, struct msg *);
void cmd_reports(struct client *, struct msg *);
void cmd_register(struct client *, struct msg *);
void cmd_verify(struct client *, struct msg *);

/* Registered client c takes the free, valid nick (NICK, or a service renaming it):
 * its channels and monitors see it, the links get NICK with a new TS, and NickServ
 * checks the new nick. */
void nick_change(struct client *c, const char *nick);

/* Starts a PASS account:password login during registration; true if one started (the
 * registration then resumes when it completes). */
bool account_pass_login(struct client *c);

#endif
