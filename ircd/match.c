/* match.c - wildcard matching with backtracking on the last '*' only, which is linear
 * in practice and never exponential. */
#include "match.h"

#include "casemap.h"

#include <stdio.h>
#include <string.h>

bool match_mask(const char *mask, const char *text)
{
	const char *m = mask, *t = text;
	const char *star = NULL, *star_t = NULL;
	while (*t) {
		if (*m == '*') {
			while (*m == '*')
				m++;
			if (!*m)
				return true;
			star = m;
			star_t = t;
			continue;
		}
		bool esc = *m == '\\' && m[1];
		const char *mc = esc ? m + 1 : m;
		if (*mc && ((!esc && *mc == '?') ||
		            casemap_lower((unsigned char)*mc) == casemap_lower((unsigned char)*t))) {
			m = mc + 1;
			t++;
			continue;
		}
		if (!star)
			return false;
		m = star;
		t = ++star_t;
	}
	while (*m == '*')
		m++;
	return *m == '\0';
}

/* Copies text[0..len) into out, or "*" when it is empty. */
static void part(char *out, size_t size, const char *text, size_t len)
{
	if (len == 0)
		snprintf(out, size, "*");
	else
		snprintf(out, size, "%.*s", (int)len, text);
}

void match_normalize_ban(const char *mask, char *out, size_t size)
{
	if (mask[0] == '$') {
		snprintf(out, size, "%s", mask);
		return;
	}
	char nick[128], user[128], host[256];
	const char *bang = strchr(mask, '!');
	const char *at = strchr(bang ? bang : mask, '@');
	const char *user_start = bang ? bang + 1 : mask;
	if (bang)
		part(nick, sizeof nick, mask, (size_t)(bang - mask));
	else
		part(nick, sizeof nick, mask, at ? 0 : strlen(mask));
	if (at)
		part(user, sizeof user, user_start, (size_t)(at - user_start));
	else
		part(user, sizeof user, user_start, bang ? strlen(user_start) : 0);
	part(host, sizeof host, at ? at + 1 : "", at ? strlen(at + 1) : 0);
	snprintf(out, size, "%s!%s@%s", nick, user, host);
}
