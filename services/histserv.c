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

static void hs_help(struct client *c)
{
	service_notice(HS, c, "HistServ commands:");
	service_notice(HS, c, "  PLAY <#channel|nick> [count] - the last messages (20 by default)");
	service_notice(HS, c, "  SEARCH <#channel|nick|*> <words> - messages containing the words");
	service_notice(HS, c, "  DELETE <#channel|nick> <msgid> - delete a message you sent (or, as a channel operator, any)");
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
		hs_help(from);
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
