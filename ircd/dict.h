/* dict.h - a hash table from names (compared under the casemapping) to pointers.
 * Used for nicks, channels and the command table. */
#ifndef PARLEY_DICT_H
#define PARLEY_DICT_H

#include <stddef.h>

struct dict;

/* Returns a new empty table; aborts on out-of-memory. */
struct dict *dict_new(void);

/* Frees the table, not the values. */
void dict_free(struct dict *d);

/* Returns the value stored under name, or NULL. */
void *dict_get(const struct dict *d, const char *name);

/* Stores value under name (copied), replacing any previous value. */
void dict_put(struct dict *d, const char *name, void *value);

/* Removes name; returns the value it had, or NULL. */
void *dict_del(struct dict *d, const char *name);

size_t dict_count(const struct dict *d);

/* Calls fn for every entry; fn must not modify the table. */
void dict_each(const struct dict *d, void (*fn)(void *value, void *arg), void *arg);

#endif
