/* command.c - the command table and dispatch. Adding a command is one line here and a
 * handler in the cmd_*.c file of its family. */
#include "server.h"
#include "command.h"

#include "client.h"
#include "ban.h"
#include "dict.h"
#include "help.h"
#include "oper.h"
#include "parse.h"
#include "reply.h"

#include <stddef.h>

static struct command commands[] = {
    {"WALLOPS", cmd_wallops, 1, CMD_OPER, 1, 0},
    {"UNKLINE", cmd_unkline, 1, CMD_OPER, 1, 0},
    {"UNDLINE", cmd_undline, 1, CMD_OPER, 1, 0},
    {"STATS", cmd_stats, 0, CMD_USER, 1, 0},
    {"SILENCE", cmd_silence, 0, CMD_USER, 1, 0},
    {"SAPART", cmd_sapart, 2, CMD_OPER, 1, 0},
    {"SANICK", cmd_sanick, 2, CMD_OPER, 1, 0},
    {"SAJOIN", cmd_sajoin, 2, CMD_OPER, 1, 0},
    {"RESTART", cmd_restart, 0, CMD_OPER, 1, 0},
    {"REPORTS", cmd_reports, 0, CMD_OPER, 1, 0},
    {"REPORT", cmd_report, 2, CMD_USER, 1, 0},
    {"REHASH", cmd_rehash, 0, CMD_OPER, 1, 0},
    {"OPER", cmd_oper, 2, CMD_USER, 1, 0},
    {"KLINE", cmd_kline, 1, CMD_OPER, 1, 0},
    {"KILL", cmd_kill, 1, CMD_OPER, 1, 0},
    {"DLINE", cmd_dline, 1, CMD_OPER, 1, 0},
    {"DIE", cmd_die, 0, CMD_OPER, 1, 0},
    {"CHATHISTORY", cmd_chathistory, 2, CMD_USER, 1, 0},
    {"REDACT", cmd_redact, 2, CMD_USER, 1, 0},
    {"MARKREAD", cmd_markread, 0, CMD_USER, 1, 0},
    {"EDIT", cmd_edit, 3, CMD_USER, 1, 0},
    {"SEARCH", cmd_search, 1, CMD_USER, 1, 0},
    {"ADMIN", cmd_admin, 0, CMD_USER, 1, 0},
    {"AUTHENTICATE", cmd_authenticate, 1, CMD_ANY, 1, 0},
    {"AWAY", cmd_away, 0, CMD_USER, 1, 0},
    {"CAP", cmd_cap, 1, CMD_ANY, 1, 0},
    {"HELP", cmd_help, 0, CMD_USER, 1, 0},
    {"HELPOP", cmd_help, 0, CMD_USER, 1, 0},
    {"INFO", cmd_info, 0, CMD_USER, 1, 0},
    {"INVITE", cmd_invite, 2, CMD_USER, 1, 0},
    {"ISON", cmd_ison, 1, CMD_USER, 1, 0},
    {"JOIN", cmd_join, 1, CMD_USER, 1, 0},
    {"KICK", cmd_kick, 2, CMD_USER, 1, 0},
    {"LIST", cmd_list, 0, CMD_USER, 1, 0},
    {"LUSERS", cmd_lusers, 0, CMD_USER, 1, 0},
    {"MODE", cmd_mode, 1, CMD_USER, 1, 0},
    {"MONITOR", cmd_monitor, 1, CMD_USER, 1, 0},
    {"MOTD", cmd_motd, 0, CMD_USER, 1, 0},
    {"NAMES", cmd_names, 0, CMD_USER, 1, 0},
    {"NICK", cmd_nick, 0, CMD_ANY, 1, 0},
    {"NOTICE", cmd_notice, 0, CMD_USER, 1, 0},
    {"PART", cmd_part, 1, CMD_USER, 1, 0},
    {"PASS", cmd_pass, 1, CMD_UNREG, 1, 0},
    {"SERVER", cmd_server, 1, CMD_UNREG, 1, 0},
    {"LINKS", cmd_links, 0, CMD_USER, 1, 0},
    {"CONNECT", cmd_connect, 1, CMD_OPER, 1, 0},
    {"SQUIT", cmd_squit, 1, CMD_OPER, 1, 0},
    {"CAPAB", cmd_capab, 0, CMD_UNREG, 0, 0},
    {"PING", cmd_ping, 1, CMD_ANY, 1, 0},
    {"PONG", cmd_pong, 0, CMD_ANY, 0, 0},
    {"PRIVMSG", cmd_privmsg, 0, CMD_USER, 1, 0},
    {"QUIT", cmd_quit, 0, CMD_ANY, 0, 0},
    {"REGISTER", cmd_register, 3, CMD_ANY, 1, 0},
    {"SETNAME", cmd_setname, 1, CMD_USER, 1, 0},
    {"TAGMSG", cmd_tagmsg, 0, CMD_USER, 1, 0},
    {"TIME", cmd_time, 0, CMD_USER, 1, 0},
    {"TOPIC", cmd_topic, 1, CMD_USER, 1, 0},
    {"USER", cmd_user, 4, CMD_UNREG, 1, 0},
    {"USERHOST", cmd_userhost, 1, CMD_USER, 1, 0},
    {"VERIFY", cmd_verify, 2, CMD_ANY, 1, 0},
    {"VERSION", cmd_version, 0, CMD_USER, 1, 0},
    {"WHO", cmd_who, 1, CMD_USER, 1, 0},
    {"WHOIS", cmd_whois, 1, CMD_USER, 1, 0},
    {"WHOWAS", cmd_whowas, 1, CMD_USER, 1, 0},
};

static struct dict *table;

void command_init(void)
{
	table = dict_new();
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		dict_put(table, commands[i].name, &commands[i]);
}

struct command *command_find(const char *name) { return dict_get(table, name); }

void command_each(void (*fn)(const struct command *cmd, void *arg), void *arg)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fn(&commands[i], arg);
}

/* Returns false (after replying) if c may not run cmd now. */
static bool allowed(struct client *c, const struct command *cmd, const struct msg *m)
{
	switch (cmd->access) {
	case CMD_ANY:
		break;
	case CMD_UNREG:
		if (client_registered(c)) {
			reply(c, ERR_ALREADYREGISTERED);
			return false;
		}
		break;
	case CMD_USER:
	case CMD_OPER:
		if (!client_registered(c)) {
			reply(c, ERR_NOTREGISTERED);
			return false;
		}
		if (cmd->access == CMD_OPER && !(c->umodes & UMODE('o'))) {
			reply(c, ERR_NOPRIVILEGES);
			return false;
		}
		break;
	}
	if (m->nparams < cmd->min_params) {
		reply(c, ERR_NEEDMOREPARAMS, cmd->name);
		return false;
	}
	return true;
}

void command_run(struct client *c, struct msg *m)
{
	struct command *cmd = command_find(m->command);
	if (!cmd) {
		if (client_registered(c))
			reply(c, ERR_UNKNOWNCOMMAND, m->command);
		else
			reply(c, ERR_NOTREGISTERED);
	} else if (allowed(c, cmd, m)) {
		cmd->count++;
		cmd->fn(c, m);
	}
}

void command_dispatch(struct client *c, struct msg *m)
{
	struct reply_ctx ctx;
	reply_ctx_begin(&ctx, c, msg_tag(m, "label"));
	command_run(c, m);
	reply_ctx_end(&ctx);
}
