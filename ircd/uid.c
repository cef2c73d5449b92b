/* uid.c - TS6 user ids. Ours are handed out in order (AAAAAA, AAAAAB, ... the first of
 * the six a letter, as TS6 requires), so ids are not reused while the daemon runs. */
#include "uid.h"

#include "client.h"
#include "dict.h"

#include <stdio.h>
#include <string.h>

static struct dict *uids;
static unsigned long long counter;

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

void uid_assign(struct client *c, const char *sid)
{
	unsigned long long n = counter++;
	char tail[7];
	for (int i = 5; i >= 1; i--) {
		tail[i] = alnum[n % 36];
		n /= 36;
	}
	tail[0] = alnum[n % 26];
	tail[6] = '\0';
	snprintf(c->uid, sizeof c->uid, "%.3s%s", sid, tail);
	uid_add(c);
}

void uid_add(struct client *c)
{
	if (!uids)
		uids = dict_new();
	dict_put(uids, c->uid, c);
}

void uid_del(struct client *c)
{
	if (uids && c->uid[0] && dict_get(uids, c->uid) == c)
		dict_del(uids, c->uid);
}

struct client *uid_find(const char *uid) { return uids ? dict_get(uids, uid) : NULL; }

bool uid_valid(const char *uid)
{
	if (strlen(uid) != UID_LEN || uid[0] < '0' || uid[0] > '9')
		return false;
	for (int i = 1; i < UID_LEN; i++)
		if (!strchr(alnum, uid[i]) || !uid[i])
			return false;
	return true;
}
