/* isupport.c - builds the ISUPPORT tokens from the config and the compiled-in limits,
 * and sends them at most 13 to a line as the Modern IRC document recommends. */
#include "isupport.h"

#include "client.h"
#include "ircd.h"
#include "mode.h"
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
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

/* The token lines for cf, 13 tokens to a line. They depend only on the configuration,
 * so they are built once per configuration rather than once per connection. */
static const char *lines_for(struct conf *cf)
{
	if (cf->isupport)
		return cf->isupport;
	char dyn[5][96];
	const char *tokens[40];
	int n = 0;
	snprintf(dyn[0], sizeof dyn[0], "NETWORK=%s", cf->network);
	snprintf(dyn[1], sizeof dyn[1], "NICKLEN=%d", cf->nicklen);
	snprintf(dyn[2], sizeof dyn[2], "USERLEN=%d", USER_MAX);
	snprintf(dyn[3], sizeof dyn[3], "HOSTLEN=%d", HOST_MAX);
	snprintf(dyn[4], sizeof dyn[4], "CHATHISTORY=%d", cf->chathistory_max);
	for (int i = 0; i < 4 + cf->history_enabled; i++)
		tokens[n++] = dyn[i];
	for (const char *const *t = fixed_tokens; *t; t++)
		tokens[n++] = *t;
	char all[2048];
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(all + len, sizeof all - len, "%s%s", i == 0 ? "" : i % 13 ? " " : "\n", tokens[i]);
	cf->isupport = strdup(all);
	if (!cf->isupport)
		abort();
	return cf->isupport;
}

void isupport_send(struct client *c)
{
	for (const char *p = lines_for(ircd.conf); *p;) {
		size_t len = strcspn(p, "\n");
		reply(c, RPL_ISUPPORT_LINE, (int)len, p);
		p += len + (p[len] == '\n');
	}
}
