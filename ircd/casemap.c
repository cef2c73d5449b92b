/* casemap.c - rfc1459 case folding, table driven so folding a name costs one lookup a byte. */
#include "casemap.h"

#define R(a) a, a + 1, a + 2, a + 3, a + 4, a + 5, a + 6, a + 7
#define ROW(a) R(a), R(a + 8)

const unsigned char casemap_table[256] = {
    ROW(0),   ROW(16), ROW(32), ROW(48),
    /* 64..95: '@' then A-Z folds to a-z, [\]^ fold to {|}~ (rfc1459), '_' stays */
    64, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '{', '|', '}', '~', '_',
    ROW(96),  ROW(112), ROW(128), ROW(144), ROW(160), ROW(176), ROW(192), ROW(208),
    ROW(224), ROW(240),
};

int casemap_cmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	while (*x && casemap_table[*x] == casemap_table[*y])
		x++, y++;
	return casemap_table[*x] - casemap_table[*y];
}

void casemap_fold(char *dst, const char *src, size_t size)
{
	size_t i = 0;
	if (size == 0)
		return;
	for (; src[i] && i + 1 < size; i++)
		dst[i] = (char)casemap_table[(unsigned char)src[i]];
	dst[i] = '\0';
}
