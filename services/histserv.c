/* histserv.c - HistServ: message history for clients that speak neither CHATHISTORY,
 * SEARCH nor REDACT (irssi, WeeChat, HexChat): PLAY, SEARCH and DELETE answered with
 * NOTICEs anyone can read. */
#include "history.h"
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void hs_message(const struct service *s, struct client *from, char *text);

const struct service histserv = {"HistServ", "Message history", hs_message};
#define HS (&histserv)

/* The dispatch below is by hand (each command takes its arguments differently); this
 * table is what HELP shows, and the test walks it. */
static const struct {
	const char *name, *help, *detail;
} commands[] = {
    {"PLAY", "PLAY <#channel|nick> [count] - the last messages (20 by default)",
     "Sends the channel's or the conversation's last messages as NOTICEs, oldest first.\n"
     "Edited lines are marked (edited); actions show as * nick text, notices as -nick- text."},
    {"SEARCH", "SEARCH <#channel|nick|*> <words> - messages containing the words",
     "Searches a channel you are in, a conversation, or (*) all of them, newest first."},
    {"DELETE", "DELETE <#channel|nick> <msgid> - delete a message you sent (or, as a channel operator, any)",
     "The msgid is the one PLAY and SEARCH show in parentheses."},
    {"HELP", "HELP [command] - this list, or help on one command",
     "Without a command, lists the commands; with one, shows its syntax and what it does."},
};

static void hs_help(struct client *c, const char *topic)
{
	if (topic) {
		for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
			if (strcasecmp(topic, commands[i].name) == 0) {
				service_help_topic(HS, c, commands[i].help, commands[i].detail);
				return;
			}
		service_notice(HS, c, "No help for %s. Use HELP for a list.", topic);
		return;
	}
	service_notice(HS, c, "HistServ commands:");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		service_notice(HS, c, "  %s", commands[i].help);
}

static void hs_message(const struct service *s, struct client *from, char *text)
{
	(void)s;
	char *save;
	char *cmd = strtok_r(text, " ", &save);
	char *target = cmd ? strtok_r(NULL, " ", &save) : NULL;
	char *rest = target ? save : NULL;
	while (rest && *rest == ' ')
		rest++;
	if (!cmd || strcasecmp(cmd, "HELP") == 0) {
		hs_help(from, target);
	} else if (strcasecmp(cmd, "PLAY") == 0 && target) {
		history_histserv_play(from, target, rest && *rest ? atoi(rest) : 20);
	} else if (strcasecmp(cmd, "SEARCH") == 0 && target && rest && *rest) {
		history_histserv_search(from, strcmp(target, "*") == 0 ? NULL : target, rest);
	} else if (strcasecmp(cmd, "DELETE") == 0 && target && rest && *rest) {
		history_redact(from, target, rest, NULL, true);
	} else {
		service_notice(HS, from, "Unknown command or missing arguments. Use HELP for a list.");
	}
}
