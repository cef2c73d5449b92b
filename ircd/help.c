/* help.c - HELP (and its alias HELPOP): the syntax and a short description of every
 * command in the command table. The first line of an entry is its syntax; the replies
 * are 704 (first line), 705 (the others) and 706 (end), or 524 for an unknown subject.
 * A protocol test checks that every command of command.c has an entry here, so the two
 * cannot drift apart. */
#include "help.h"

#include "client.h"
#include "parse.h"
#include "reply.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct help_entry {
	const char *name;
	bool oper; /* listed in the index for operators only */
	const char *const *lines;
};

#define LINES(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct help_entry entries[] = {
    /* operator commands */
    {"KILL", true, LINES("KILL <nick> [:<reason>]",
                         "Disconnect <nick> with \"Killed (<you> (<reason>))\". Privilege: kill.")},
    {"KLINE", true, LINES("KLINE [<minutes>] [!]<user@host> [:<reason>]",
                          "Ban a user@host mask (wildcards, or host as an address or CIDR range) and",
                          "disconnect the clients it matches. With <minutes> the ban is temporary.",
                          "A mask matching you or (nearly) everyone needs a leading !.",
                          "The ban is stored and survives restarts. Privilege: ban.")},
    {"UNKLINE", true, LINES("UNKLINE <user@host>", "Remove the K-line on exactly that mask. Privilege: ban.")},
    {"DLINE", true, LINES("DLINE [<minutes>] [!]<address|CIDR|mask> [:<reason>]",
                          "Ban connections from an address, a CIDR range or an address mask, and",
                          "disconnect the clients it matches; refused before registration.",
                          "With <minutes> the ban is temporary. A mask matching you or (nearly)",
                          "everyone needs a leading !. Privilege: ban.")},
    {"UNDLINE", true, LINES("UNDLINE <address|CIDR|mask>", "Remove the D-line on exactly that mask. Privilege: ban.")},
    {"REHASH", true, LINES("REHASH",
                           "Reload the configuration file (as SIGHUP does): listeners, classes,",
                           "operators, MOTD, TLS certificate, STS policy. A file with errors is not",
                           "used; the errors are sent to you. Privilege: rehash.")},
    {"DIE", true, LINES("DIE", "Shut the server down, disconnecting everyone. Privilege: die.")},
    {"RESTART", true, LINES("RESTART", "Restart the server in place (same process id). Privilege: die.")},
    {"WALLOPS", true, LINES("WALLOPS :<text>", "Send <text> to every user with mode +w. Privilege: wallops.")},
    {"SAJOIN", true, LINES("SAJOIN <nick> <#channel>", "Make <nick> join <#channel>. Privilege: sa.")},
    {"SAPART", true, LINES("SAPART <nick> <#channel>", "Make <nick> leave <#channel>. Privilege: sa.")},
    {"SANICK", true, LINES("SANICK <nick> <newnick>", "Change the nick of <nick>. Privilege: sa.")},
    {"REPORTS", true, LINES("REPORTS [CLOSE <id>]",
                            "List the open user reports (REPORT), or close report <id>. Privilege: reports.")},
    {"CONNECT", true, LINES("CONNECT <server>",
                            "Link to <server> (a connect block) now. Privilege: route.")},
    {"SQUIT", true, LINES("SQUIT <server> [:<reason>]",
                          "End the link with <server>, linked to this one. Privilege: route.")},
    /* everyone */
    {"ADMIN", false, LINES("ADMIN", "Show the server's administrative contact.")},
    {"AUTHENTICATE", false, LINES("AUTHENTICATE <mechanism|data>", "SASL login (PLAIN, EXTERNAL); see CAP sasl.")},
    {"AWAY", false, LINES("AWAY [:<message>]", "Mark yourself away with <message>, or back without one.")},
    {"CAP", false, LINES("CAP LS [302] | LIST | REQ :<caps> | END", "IRCv3 capability negotiation.")},
    {"CAPAB", false, LINES("CAPAB :<capabilities>", "Server linking (TS6): a registering peer's capabilities.")},
    {"CHATHISTORY", false, LINES("CHATHISTORY <subcommand> <target> ...",
                                 "Fetch stored history (draft/chathistory): LATEST, BEFORE, AFTER, AROUND,",
                                 "BETWEEN, TARGETS.")},
    {"EDIT", false, LINES("EDIT <target> <msgid> :<new text>", "Change a message you sent (draft/message-edit).")},
    {"HELP", false, LINES("HELP [<command>]", "Show the commands, or the help of one. HELPOP is the same.")},
    {"HELPOP", false, LINES("HELPOP [<command>]", "The same as HELP.")},
    {"INFO", false, LINES("INFO", "Show information about the server software.")},
    {"INVITE", false, LINES("INVITE <nick> <#channel>", "Invite <nick> to <#channel>.")},
    {"ISON", false, LINES("ISON <nick> [<nick> ...]", "Show which of the nicks are online.")},
    {"JOIN", false, LINES("JOIN <#channel>[,<#channel>...] [<key>[,<key>...]]", "Join channels; JOIN 0 leaves all.")},
    {"KICK", false, LINES("KICK <#channel> <nick> [:<reason>]", "Remove <nick> from <#channel> (channel operators).")},
    {"LIST", false, LINES("LIST [<#channel>[,...]]", "List channels with their user counts and topics.")},
    {"LUSERS", false, LINES("LUSERS", "Show user, operator and channel counts.")},
    {"MARKREAD", false, LINES("MARKREAD <target> [timestamp=<time>]",
                              "Get or set your read marker for <target> (draft/read-marker).")},
    {"MODE", false, LINES("MODE <nick|#channel> [<modes> [<arguments>]]", "Show or change user or channel modes.")},
    {"MONITOR", false, LINES("MONITOR + <nicks> | - <nicks> | C | L | S",
                             "Be told when nicks come online or go offline.")},
    {"MOTD", false, LINES("MOTD", "Show the message of the day.")},
    {"NAMES", false, LINES("NAMES [<#channel>]", "List the members of a channel.")},
    {"NICK", false, LINES("NICK <nick>", "Choose or change your nick.")},
    {"NOTICE", false, LINES("NOTICE <target> :<text>", "Like PRIVMSG, but never answered automatically.")},
    {"OPER", false, LINES("OPER <name> <password>",
                         "Become an IRC operator with the operators block <name>. The block may also",
                         "require a host mask, a client certificate or an account. Failed attempts are",
                         "limited per name and per address (accounts.max_failed_logins a minute).")},
    {"LINKS", false, LINES("LINKS", "The servers of the network: name, uplink, hops, description.")},
    {"PART", false, LINES("PART <#channel>[,...] [:<reason>]", "Leave channels.")},
    {"PASS", false, LINES("PASS <password> | PASS <account>:<password>",
                          "Before registration: the server password, or a login to your account.")},
    {"PING", false, LINES("PING <token>", "The server answers PONG <token>.")},
    {"SERVER", false, LINES("SERVER <name> <hops> <sid> <flags> :<description>",
                            "Server linking (TS6): a peer registering as a server. It must match a",
                            "connect block: name, address and PASS.")},
    {"PONG", false, LINES("PONG <token>", "The answer to the server's PING.")},
    {"PRIVMSG", false, LINES("PRIVMSG <target>[,...] :<text>", "Send a message to users or channels.")},
    {"QUIT", false, LINES("QUIT [:<reason>]", "Disconnect.")},
    {"REDACT", false, LINES("REDACT <target> <msgid> [:<reason>]",
                            "Delete a message you sent (draft/message-redaction).")},
    {"REGISTER", false, LINES("REGISTER <account|*> <email|*> <password>",
                              "Register an account (draft/account-registration).")},
    {"REPORT", false, LINES("REPORT <nick|msgid> :<reason>", "Report a user or a message to the operators.")},
    {"SEARCH", false, LINES("SEARCH in=<target>;text=<words>[;after=<time>][;before=<time>][;limit=<n>]",
                            "Search stored history (soju.im/search).")},
    {"SETNAME", false, LINES("SETNAME :<realname>", "Change your real name.")},
    {"SILENCE", false, LINES("SILENCE [+<mask>|-<mask>]", "List, add or remove masks whose messages you ignore.")},
    {"STATS", false, LINES("STATS <letter>",
                          "u: uptime; m: command use counts (both for everyone).",
                          "Operators only: l: listeners (address:port, plain|tls, clients, SendQ bytes,",
                          "bytes sent, bytes received, clients accepted); L: one line per connection",
                          "and per server link; c: connect blocks (A autoconnect, S TLS) and their state;",
                          "k / d: K-lines / D-lines (mask, seconds left or permanent, setter, reason);",
                          "o: operator blocks.")},
    {"TAGMSG", false, LINES("TAGMSG <target>", "Send only message tags (message-tags).")},
    {"TIME", false, LINES("TIME", "Show the server's time.")},
    {"TOPIC", false, LINES("TOPIC <#channel> [:<topic>]", "Show or set a channel's topic.")},
    {"USER", false, LINES("USER <username> 0 * :<realname>", "Registration: your user name and real name.")},
    {"USERHOST", false, LINES("USERHOST <nick> [<nick> ...]", "Show the user@host of nicks.")},
    {"VERIFY", false, LINES("VERIFY <account> <code>", "Confirm an account registration with the emailed code.")},
    {"VERSION", false, LINES("VERSION", "Show the server version and its ISUPPORT tokens.")},
    {"WHO", false, LINES("WHO <mask|#channel> [o]", "List users matching a mask or in a channel.")},
    {"WHOIS", false, LINES("WHOIS <nick>", "Show information about a user.")},
    {"WHOWAS", false, LINES("WHOWAS <nick>", "Show information about a user who left.")},
};
#define NENTRIES (sizeof entries / sizeof entries[0])

static const struct help_entry *help_find(const char *name)
{
	for (size_t i = 0; i < NENTRIES; i++)
		if (strcasecmp(entries[i].name, name) == 0)
			return &entries[i];
	return NULL;
}

/* The index: the commands (operator ones only to operators), several a line. */
static void help_index(struct client *c)
{
	bool oper = (c->umodes & UMODE('o')) != 0;
	reply(c, RPL_HELPSTART, "*", "Parley help: HELP <command> for the syntax and use of a command");
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && !oper)
			break;
		reply(c, RPL_HELPTXT, "*", pass ? "Operator commands:" : "Commands:");
		char line[128];
		size_t len = 0;
		for (size_t i = 0; i < NENTRIES; i++) {
			if (entries[i].oper != (pass == 1))
				continue;
			if (len + strlen(entries[i].name) + 3 > 64) {
				reply(c, RPL_HELPTXT, "*", line);
				len = 0;
			}
			len += (size_t)snprintf(line + len, sizeof line - len, "%s%s", len ? " " : "  ", entries[i].name);
		}
		if (len)
			reply(c, RPL_HELPTXT, "*", line);
	}
	reply(c, RPL_ENDOFHELP, "*", "End of /HELP");
}

void cmd_help(struct client *c, struct msg *m)
{
	if (m->nparams == 0 || !*m->params[0]) {
		help_index(c);
		return;
	}
	const struct help_entry *e = help_find(m->params[0]);
	if (!e) {
		reply(c, ERR_HELPNOTFOUND, m->params[0]);
		return;
	}
	reply(c, RPL_HELPSTART, e->name, e->lines[0]);
	for (size_t i = 1; e->lines[i]; i++)
		reply(c, RPL_HELPTXT, e->name, e->lines[i]);
	reply(c, RPL_ENDOFHELP, e->name, "End of /HELP");
}
