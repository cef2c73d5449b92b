/* history_int.h - what history.c (reads) and history_store.c (writes) share. */
#ifndef PARLEY_HISTORY_INT_H
#define PARLEY_HISTORY_INT_H

#include <stddef.h>

struct client;

#define HKEY_MAX 140 /* a history key: folded channel name, or "@a,b" for a conversation */
#define HID_MAX (NICK_MAX + 2) /* an identity (below), with its NUL */

/* The identity a direct conversation is stored under: the folded account when logged in,
 * else "$<connection time in ms>.<client id>" (hex): this connection only, never given to
 * anyone again. '$' and ',' are valid in neither nicks nor account names and no
 * casemapping produces them, so no account can name a connection's conversations and no
 * pair of identities can be read as another pair. */
void history_dm_identity(const struct client *c, char *out, size_t size);

/* The key of the conversation between identities a and b (in either order): "@a,b" with
 * the smaller first. */
void history_dm_key(const char *a, const char *b, char *out, size_t size);

/* A db_row_fn that stores the first column as an unsigned long long (arg). */
void history_row_seq(void *arg, int ncols, const char *const *cols);


#endif
