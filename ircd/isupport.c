/* isupport.c - builds the ISUPPORT tokens from the config and the compiled-in limits,
 * and sends them at most 13 to a line as the Modern IRC document recommends. */
#include "isupport.h"

#include "client.h"
#include "ircd.h"
#include "mode.h"
#include "reply.h"

#include <stdio.h>
#include <string.h>

/* Tokens that do not depend on the configuration. Extend this list as features land. */
static const char *const fixed_tokens[] = {
    "AWAYLEN=390",
    "BOT=B",
    "CASEMAPPING=rfc1459",
    "CHANLIMIT=#:100",
    CHANMODES_TOKEN,
    "CHANNELLEN=64",
    "CHANTYPES=#",
    "ELIST=CMNTU",
    "EXCEPTS=e",
    "EXTBAN=$,a",
    "INVEX=I",
    "KICKLEN=390",
    "MAXLIST=beI:100",
    "MAXTARGETS=4",
    "MODES=6",
    "MONITOR=100",
    "PREFIX=(ov)@+",
    "SAFELIST",
    "SILENCE=15",
    "STATUSMSG=@+",
    "TARGMAX=JOIN:,KICK:4,LIST:,MONITOR:,NAMES:,NOTICE:4,PART:,PRIVMSG:4,TAGMSG:4,WHOIS:1",
    "TOPICLEN=390",
    "UTF8ONLY",
    "WHOX",
    NULL,
};

void isupport_send(struct client *c)
{
	char dyn[5][96];
	const char *tokens[40];
	int n = 0;
	snprintf(dyn[0], sizeof dyn[0], "NETWORK=%s", ircd.conf->network);
	snprintf(dyn[1], sizeof dyn[1], "NICKLEN=%d", ircd.conf->nicklen);
	snprintf(dyn[2], sizeof dyn[2], "USERLEN=%d", USER_MAX);
	snprintf(dyn[3], sizeof dyn[3], "HOSTLEN=%d", HOST_MAX);
	snprintf(dyn[4], sizeof dyn[4], "CHATHISTORY=%d", ircd.conf->chathistory_max);
	for (int i = 0; i < 4 + ircd.conf->history_enabled; i++)
		tokens[n++] = dyn[i];
	for (const char *const *t = fixed_tokens; *t; t++)
		tokens[n++] = *t;
	for (int i = 0; i < n; i += 13) {
		char line[400] = "";
		size_t len = 0;
		for (int j = i; j < n && j < i + 13; j++)
			len += (size_t)snprintf(line + len, sizeof line - len, "%s%s", j > i ? " " : "", tokens[j]);
		reply(c, RPL_ISUPPORT, line);
	}
}
