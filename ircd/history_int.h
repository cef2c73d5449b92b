/* history_int.h - what history.c (reads) and history_store.c (writes) share. */
#ifndef PARLEY_HISTORY_INT_H
#define PARLEY_HISTORY_INT_H

#include "channel.h"
#include "client.h"

#include <stdbool.h>
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

/* A stored message as read back. */
struct out_row {
	unsigned long long seq;
	char msgid[24];
	char target[CHANNEL_MAX + 1];
	char sender[PREFIX_MAX + 1];
	char account[NICK_MAX + 1];
	char command[8];
	char *tags, *text; /* owned (malloc'd), may be NULL */
	long long time_ms;
	bool edited;
};

/* Rows read back, growing as a db_row_fn fills them. */
struct out_rows {
	struct out_row *rows;
	int n, cap;
};

/* The columns history_row_out reads, in its order (prefix a table alias with m.). */
#define HISTORY_COLUMNS "seq, msgid, target, sender, account, command, tags, text, time, edited"

/* A db_row_fn appending a row of HISTORY_COLUMNS to arg (a struct out_rows). */
void history_row_out(void *arg, int ncols, const char *const *cols);

/* Frees the rows' texts and the array. */
void history_rows_free(struct out_rows *r);

/* Sends one stored message to c, inside batch (may be NULL), with the tags c negotiated;
 * clients without server-time get a readable time in front of the text instead. */
void history_send_row(struct client *c, const struct out_row *r, const char *batch);

/* A db_row_fn that stores the first column as an unsigned long long (arg). */
void history_row_seq(void *arg, int ncols, const char *const *cols);


#endif
