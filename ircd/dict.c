/* dict.c - chained hash table keyed by casemapped name; grows by doubling at load 1. */
#include "dict.h"

#include "casemap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	uint32_t hash;
	void *value;
	char name[];
};

struct dict {
	struct entry **slots;
	size_t nslots, count;
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p)
		abort();
	return p;
}

/* FNV-1a over the folded bytes, so "Nick" and "nick" land together. */
static uint32_t name_hash(const char *name)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ casemap_lower(*p)) * 16777619u;
	return h;
}

struct dict *dict_new(void)
{
	struct dict *d = xcalloc(1, sizeof *d);
	d->nslots = 64;
	d->slots = xcalloc(d->nslots, sizeof *d->slots);
	return d;
}

void dict_free(struct dict *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nslots; i++) {
		for (struct entry *e = d->slots[i], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	}
	free(d->slots);
	free(d);
}

static struct entry **find(const struct dict *d, const char *name, uint32_t h)
{
	struct entry **pp = &d->slots[h & (d->nslots - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && casemap_cmp((*pp)->name, name) == 0)
			break;
	return pp;
}

void *dict_get(const struct dict *d, const char *name)
{
	struct entry *e = *find(d, name, name_hash(name));
	return e ? e->value : NULL;
}

static void grow(struct dict *d)
{
	size_t n = d->nslots * 2;
	struct entry **slots = xcalloc(n, sizeof *slots);
	for (size_t i = 0; i < d->nslots; i++) {
		for (struct entry *e = d->slots[i], *next; e; e = next) {
			next = e->next;
			e->next = slots[e->hash & (n - 1)];
			slots[e->hash & (n - 1)] = e;
		}
	}
	free(d->slots);
	d->slots = slots;
	d->nslots = n;
}

void dict_put(struct dict *d, const char *name, void *value)
{
	uint32_t h = name_hash(name);
	struct entry **pp = find(d, name, h);
	if (*pp) {
		(*pp)->value = value;
		return;
	}
	size_t len = strlen(name);
	struct entry *e = xcalloc(1, sizeof *e + len + 1);
	memcpy(e->name, name, len + 1);
	e->hash = h;
	e->value = value;
	*pp = e;
	if (++d->count > d->nslots)
		grow(d);
}

void *dict_del(struct dict *d, const char *name)
{
	struct entry **pp = find(d, name, name_hash(name));
	struct entry *e = *pp;
	if (!e)
		return NULL;
	void *v = e->value;
	*pp = e->next;
	free(e);
	d->count--;
	return v;
}

size_t dict_count(const struct dict *d) { return d->count; }

void dict_each(const struct dict *d, void (*fn)(void *value, void *arg), void *arg)
{
	for (size_t i = 0; i < d->nslots; i++)
		for (struct entry *e = d->slots[i]; e; e = e->next)
			fn(e->value, arg);
}
