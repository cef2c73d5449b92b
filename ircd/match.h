/* match.h - IRC wildcard masks ('*' any run, '?' one character, '\' escapes) compared
 * under the casemapping. Pure. */
#ifndef PARLEY_MATCH_H
#define PARLEY_MATCH_H

#include <stdbool.h>
#include <stddef.h>

/* True if text matches mask. Runs in O(len(mask) * len(text)) at worst. */
bool match_mask(const char *mask, const char *text);

/* Normalises a ban-style mask into out: "nick" -> "nick!*@*", "user@host" ->
 * "*!user@host", "nick!user" -> "nick!user@*". Extbans ("$a:acct") are copied. */
void match_normalize_ban(const char *mask, char *out, size_t size);

#endif
