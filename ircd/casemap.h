/* casemap.h - the rfc1459 casemapping advertised in ISUPPORT (CASEMAPPING=rfc1459):
 * A-Z fold to a-z and [\]^ fold to {|}~. Pure functions. */
#ifndef PARLEY_CASEMAP_H
#define PARLEY_CASEMAP_H

#include <stddef.h>

extern const unsigned char casemap_table[256];

static inline unsigned char casemap_lower(unsigned char c) { return casemap_table[c]; }

/* Compares two NUL-terminated names under the casemapping, like strcmp. */
int casemap_cmp(const char *a, const char *b);

/* Writes the folded form of src into dst (at most size bytes, always terminated). */
void casemap_fold(char *dst, const char *src, size_t size);

#endif
