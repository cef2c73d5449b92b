/* fuzz_mode.c - channel MODE string parsing (mode_next in ircd/mode.c). The input is
 * what follows "MODE #c " on a client's line; it goes through the line parser as in the
 * daemon. Checks: every letter comes out once and in order with the direction of the
 * last sign before it; parameters are taken in order, each at most once, and only by
 * letters that take one (b e I o v always, k when setting or when one is left, l when
 * setting); a letter that needs one finds none only when all are used; and only the
 * parameter modes past MODES_PER_COMMAND are marked to be ignored. */
#include "fuzz.h"
#include "mode.h"
#include "parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char prefix[] = "MODE #c ";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = 0;
	while (len < size && data[len] != '\r' && data[len] != '\n' && data[len] != '\0')
		len++;
	size_t plen = sizeof prefix - 1;
	char *line = malloc(plen + len + 1);
	CHECK(line);
	memcpy(line, prefix, plen);
	memcpy(line + plen, data, len);
	struct msg m;
	if (msg_parse(line, plen + len, &m) != PARSE_OK || m.nparams < 2) {
		free(line);
		return 0;
	}
	const char *const *params = m.params + 2;
	int nparams = m.nparams - 2;
	struct mode_iter it;
	struct mode_change mc;
	mode_iter_init(&it, m.params[1], params, nparams);
	const char *p = m.params[1];
	int dir = 1, used = 0;
	while (mode_next(&it, &mc)) {
		for (; *p == '+' || *p == '-'; p++)
			dir = *p == '+' ? 1 : -1;
		CHECK(*p && mc.mode == *p);
		p++;
		CHECK(mc.dir == dir);
		if (strchr("Ibeov", mc.mode) || (strchr("kl", mc.mode) && dir > 0))
			CHECK(mc.needs_param);
		else if (mc.mode != 'k')
			CHECK(!mc.needs_param);
		if (mc.param) {
			CHECK(mc.needs_param);
			CHECK(used < nparams && mc.param == params[used]);
			used++;
			CHECK(mc.over_limit == (used > MODES_PER_COMMAND));
		} else {
			CHECK(!mc.over_limit);
			if (mc.needs_param)
				CHECK(used == nparams);
			if (mc.mode == 'k' && dir < 0)
				CHECK(used == nparams); /* "-k" takes the key when there is one */
		}
	}
	while (*p == '+' || *p == '-')
		p++;
	CHECK(*p == '\0');
	CHECK(!mode_next(&it, &mc)); /* stays at the end */
	free(line);
	return 0;
}
