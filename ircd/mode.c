/* mode.c - MODE for channels and users. A channel MODE line is applied left to right;
 * what took effect is collected into one MODE message announced to the channel. */
#include "route.h"
#include "mode.h"

#include "alwayson.h"

#include "casemap.h"
#include "channel.h"
#include "cloak.h"
#include "client.h"
#include "ircd.h"
#include "match.h"
#include "outmsg.h"
#include "parse.h"
#include "reply.h"
#include "session.h"
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAG_MODES "Rimnpst"

void mode_channel_string(const struct channel *ch, int show_params, char *out, unsigned size)
{
	unsigned n = 0;
	out[n++] = '+';
	for (const char *p = FLAG_MODES "kl"; *p && n + 1 < size; p++)
		if ((ch->modes & CMODE(*p)) || (*p == 'k' && ch->key[0]) || (*p == 'l' && ch->limit))
			out[n++] = *p;
	out[n] = '\0';
	if (show_params && ch->key[0])
		n += (unsigned)snprintf(out + n, size - n, " %s", ch->key);
	if (show_params && ch->limit && n < size)
		snprintf(out + n, size - n, " %u", ch->limit);
}

/* The changes that took effect, for the announcement (several MODE lines if the
 * parameters do not fit in one). */
#define CHANGES_MAX 64

struct change_set {
	struct {
		int dir;
		char mode;
		char param[PREFIX_MAX + 16]; /* "" when the mode takes none */
	} e[CHANGES_MAX];
	unsigned n;
	unsigned nmodes; /* kept for callers that test "anything changed" */
};

static void change_add(struct change_set *cs, int dir, char mode, const char *param)
{
	if (cs->n == CHANGES_MAX)
		return;
	cs->e[cs->n].dir = dir;
	cs->e[cs->n].mode = mode;
	snprintf(cs->e[cs->n].param, sizeof cs->e[cs->n].param, "%s", param ? param : "");
	cs->n++;
	cs->nmodes = cs->n;
}

/* Calls emit(line, arg) with "+ov-b a b c" strings of at most room bytes each. */
static void change_lines(const struct change_set *cs, size_t room, void (*emit)(const char *, void *), void *arg)
{
	unsigned i = 0;
	while (i < cs->n) {
		char modes[CHANGES_MAX * 2 + 1], params[512];
		size_t ml = 0, pl = 0;
		int dir = 0;
		for (; i < cs->n; i++) {
			size_t plen = cs->e[i].param[0] ? strlen(cs->e[i].param) + 1 : 0;
			if (ml && ml + 2 + pl + plen > room)
				break;
			if (cs->e[i].dir != dir) {
				dir = cs->e[i].dir;
				modes[ml++] = dir > 0 ? '+' : '-';
			}
			modes[ml++] = cs->e[i].mode;
			if (plen)
				pl += (size_t)snprintf(params + pl, sizeof params - pl, " %s", cs->e[i].param);
		}
		modes[ml] = '\0';
		params[pl] = '\0';
		char line[600];
		snprintf(line, sizeof line, "%s%s", modes, params);
		emit(line, arg);
	}
}

static const char list_letters[LIST_KINDS] = {'b', 'e', 'I'};

static void list_show(struct client *c, struct channel *ch, enum list_kind k)
{
	for (struct list_entry *e = ch->lists[k]; e; e = e->next) {
		if (k == LIST_BAN)
			reply(c, RPL_BANLIST, ch->name, e->mask, e->setter, (long long)e->when);
		else if (k == LIST_EXCEPT)
			reply(c, RPL_EXCEPTLIST, ch->name, e->mask, e->setter, (long long)e->when);
		else
			reply(c, RPL_INVITELIST, ch->name, e->mask, e->setter, (long long)e->when);
	}
	if (k == LIST_BAN)
		reply(c, RPL_ENDOFBANLIST, ch->name);
	else if (k == LIST_EXCEPT)
		reply(c, RPL_ENDOFEXCEPTLIST, ch->name);
	else
		reply(c, RPL_ENDOFINVITELIST, ch->name);
}

/* Adds or removes mask in list k; returns the normalized mask that changed, or NULL. */
static const char *list_change(struct client *c, struct channel *ch, enum list_kind k, int dir,
                               const char *param, char *norm, size_t size)
{
	match_normalize_ban(param, norm, size);
	struct list_entry **pp = &ch->lists[k];
	while (*pp && casemap_cmp((*pp)->mask, norm) != 0)
		pp = &(*pp)->next;
	if (dir > 0) {
		if (*pp)
			return NULL;
		if (ch->list_count[k] >= LIST_MAX) {
			reply(c, ERR_BANLISTFULL, ch->name, list_letters[k]);
			return NULL;
		}
		struct list_entry *e = calloc(1, sizeof *e);
		if (!e)
			abort();
		snprintf(e->mask, sizeof e->mask, "%s", norm);
		snprintf(e->setter, sizeof e->setter, "%s", c->nick);
		e->when = time(NULL);
		*pp = e; /* appended: lists show in the order they were set */
		ch->list_count[k]++;
		return norm;
	}
	if (!*pp)
		return NULL;
	struct list_entry *e = *pp;
	*pp = e->next;
	snprintf(norm, size, "%s", e->mask);
	free(e);
	ch->list_count[k]--;
	return norm;
}

static void member_change(struct client *c, struct channel *ch, int dir, char mode, const char *nick,
                          struct change_set *cs)
{
	struct client *t = client_find(nick);
	if (!t || !client_registered(t)) {
		reply(c, ERR_NOSUCHNICK, nick);
		return;
	}
	struct membership *m = channel_member(ch, t);
	if (!m) {
		reply(c, ERR_USERNOTINCHANNEL, t->nick, ch->name);
		return;
	}
	unsigned bit = mode == 'o' ? MEMBER_OP : MEMBER_VOICE;
	if (dir > 0 ? (m->status & bit) : !(m->status & bit))
		return;
	if (dir > 0)
		m->status |= bit;
	else
		m->status &= ~bit;
	alwayson_touch(t); /* an always-on user's status is restored at start */
	change_add(cs, dir, mode, t->nick);
}

static bool key_valid(const char *key)
{
	size_t len = strlen(key);
	return len > 0 && len <= KEY_MAX && !strpbrk(key, " ,:");
}

void mode_iter_init(struct mode_iter *it, const char *modes, const char *const *params, int nparams)
{
	*it = (struct mode_iter){.p = modes, .params = params, .nparams = nparams, .dir = 1};
}

bool mode_next(struct mode_iter *it, struct mode_change *out)
{
	for (; *it->p == '+' || *it->p == '-'; it->p++)
		it->dir = *it->p == '+' ? 1 : -1;
	if (!*it->p)
		return false;
	char mode = *it->p++;
	const char *param = it->arg < it->nparams ? it->params[it->arg] : NULL;
	/* "-k key" consumes the key, as clients send it; a bare "-k" works too */
	bool needs = strchr("Ibeov", mode) || (mode == 'k' && (it->dir > 0 || param)) || (mode == 'l' && it->dir > 0);
	*out = (struct mode_change){.dir = it->dir, .mode = mode, .needs_param = needs};
	if (needs && param) {
		out->param = param;
		it->arg++;
		out->over_limit = ++it->param_modes > MODES_PER_COMMAND;
	}
	return true;
}

/* Applies one mode letter. */
static void apply_one(struct client *c, struct channel *ch, const struct mode_change *mc, struct change_set *cs)
{
	int dir = mc->dir;
	char mode = mc->mode;
	const char *param = mc->param;
	if (mc->needs_param && !param) {
		int k = mode == 'b' ? LIST_BAN : mode == 'e' ? LIST_EXCEPT : mode == 'I' ? LIST_INVEX : -1;
		if (k >= 0)
			list_show(c, ch, (enum list_kind)k);
		else if (mode != 'k' || dir > 0)
			reply(c, ERR_NEEDMOREPARAMS, "MODE");
		return;
	}
	if (mc->over_limit)
		return;
	char norm[PREFIX_MAX + 16];
	switch (mode) {
	case 'b':
	case 'e':
	case 'I': {
		enum list_kind k = mode == 'b' ? LIST_BAN : mode == 'e' ? LIST_EXCEPT : LIST_INVEX;
		const char *changed = list_change(c, ch, k, dir, param, norm, sizeof norm);
		if (changed) {
			change_add(cs, dir, mode, changed);
			services_channel_list_changed(c, ch, mode, dir > 0, changed);
		}
		return;
	}
	case 'o':
	case 'v':
		member_change(c, ch, dir, mode, param, cs);
		return;
	case 'k':
		if (dir > 0) {
			if (!key_valid(param)) {
				reply(c, ERR_INVALIDMODEPARAM, ch->name, 'k', "*", "Invalid key");
				return;
			}
			snprintf(ch->key, sizeof ch->key, "%s", param);
			change_add(cs, dir, 'k', ch->key);
		} else if (ch->key[0]) {
			ch->key[0] = '\0';
			change_add(cs, dir, 'k', "*");
		}
		return;
	case 'l':
		if (dir > 0) {
			char *end;
			long v = strtol(param, &end, 10);
			if (*end || v <= 0 || v > 1000000) {
				reply(c, ERR_INVALIDMODEPARAM, ch->name, 'l', *param && !strchr(param, ' ') ? param : "*",
				      "Invalid limit");
				return;
			}
			ch->limit = (unsigned)v;
			snprintf(norm, sizeof norm, "%ld", v);
			change_add(cs, dir, 'l', norm);
		} else if (ch->limit) {
			ch->limit = 0;
			change_add(cs, dir, 'l', NULL);
		}
		return;
	default:
		if (!strchr(FLAG_MODES, mode)) {
			reply(c, ERR_UNKNOWNMODE, mode);
			return;
		}
		if (dir > 0 ? (ch->modes & CMODE(mode)) != 0 : (ch->modes & CMODE(mode)) == 0)
			return;
		if (dir > 0)
			ch->modes |= CMODE(mode);
		else
			ch->modes &= ~CMODE(mode);
		change_add(cs, dir, mode, NULL);
	}
}

struct announce {
	struct client *c;
	struct channel *ch;
};

static void announce_line(const char *line, void *arg)
{
	struct announce *a = arg;
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s MODE %s %s", a->c->prefix, a->ch->name, line);
	outmsg_from(&o, a->c);
	channel_send(a->ch, &o, NULL, 0, 0, 0);
	outmsg_release(&o);
	route_mode(a->c, a->ch, line);
}

static void user_mode_line(const char *line, void *arg)
{
	struct client *c = arg;
	struct msgbuf *b = msgbuf_printf(":%s MODE %s :%s", c->prefix, c->nick, line);
	session_send_all(c, b); /* every session of the user sees its modes change */
	msgbuf_unref(b);
}

static bool is_list_query(struct msg *m)
{
	/* "MODE #c b" / "MODE #c +e": a list query, which any member may make */
	if (m->nparams != 2)
		return false;
	const char *p = m->params[1];
	if (*p == '+')
		p++;
	return p[0] && !p[1] && strchr("beI", p[0]);
}

static void channel_mode(struct client *c, struct channel *ch, struct msg *m)
{
	struct membership *me = channel_member(ch, c);
	if (m->nparams < 2) {
		char modes[128];
		mode_channel_string(ch, me != NULL, modes, sizeof modes);
		reply(c, RPL_CHANNELMODEIS, ch->name, modes);
		reply(c, RPL_CREATIONTIME, ch->name, (long long)ch->created);
		return;
	}
	if (is_list_query(m)) {
		char k = m->params[1][m->params[1][0] == '+'];
		list_show(c, ch, k == 'b' ? LIST_BAN : k == 'e' ? LIST_EXCEPT : LIST_INVEX);
		return;
	}
	if (!me || !(me->status & MEMBER_OP)) {
		if (me)
			reply(c, ERR_CHANOPRIVSNEEDED, ch->name);
		else
			reply(c, ERR_NOTONCHANNEL, ch->name);
		return;
	}
	struct change_set cs = {0};
	struct mode_iter it;
	struct mode_change mc;
	mode_iter_init(&it, m->params[1], m->params + 2, m->nparams - 2);
	while (mode_next(&it, &mc))
		apply_one(c, ch, &mc, &cs);
	if (!cs.nmodes)
		return;
	struct announce a = {c, ch};
	change_lines(&cs, 500 - strlen(c->prefix) - strlen(ch->name) - 8, announce_line, &a);
	services_channel_modes_changed(c, ch);
}

static void user_mode_string(const struct client *c, char *out, size_t size)
{
	size_t n = 0;
	out[n++] = '+';
	for (const char *p = USER_MODES; *p && n + 1 < size; p++)
		if (c->umodes & UMODE(*p))
			out[n++] = *p;
	out[n] = '\0';
}

static void user_mode(struct client *c, struct client *target, struct msg *m)
{
	if (target != c) {
		reply(c, ERR_USERSDONTMATCH);
		return;
	}
	if (m->nparams < 2) {
		char modes[32];
		user_mode_string(c, modes, sizeof modes);
		reply(c, RPL_UMODEIS, modes);
		return;
	}
	struct change_set cs = {0};
	int dir = 1;
	bool unknown = false;
	for (const char *p = m->params[1]; *p; p++) {
		if (*p == '+' || *p == '-') {
			dir = *p == '+' ? 1 : -1;
			continue;
		}
		/* +o comes only from OPER; +s only for operators; the rest is the user's choice */
		bool allowed = strchr("iwBR", *p) || (*p == 'o' && dir < 0) || (*p == 's' && (c->umodes & UMODE('o'))) ||
		               (*p == 'x' && ircd.conf->cloak_secret[0]);
		if (!allowed) {
			unknown |= !strchr(USER_MODES, *p);
			continue;
		}
		uint64_t bit = UMODE(*p);
		if (dir > 0 ? (c->umodes & bit) != 0 : (c->umodes & bit) == 0)
			continue;
		c->umodes ^= bit;
		if (*p == 'i')
			ircd.ninvisible += dir > 0 ? 1 : -1;
		if (*p == 'o') {
			ircd.nopers--;
			c->privs = 0;
			c->oper_name[0] = '\0';
			if (c->umodes & UMODE('s')) { /* server notices go with operator status */
				c->umodes &= ~UMODE('s');
				change_add(&cs, -1, 's', NULL);
			}
		}
		if (*p == 'x') {
			char cloak[HOST_MAX + 1];
			cloak_host(ircd.conf->cloak_secret, ircd.conf->cloak_suffix, c->conn.ip, cloak, sizeof cloak);
			client_change_host(c, dir > 0 ? cloak : c->conn.ip);
		}
		change_add(&cs, dir, *p, NULL);
	}
	if (unknown)
		reply(c, ERR_UMODEUNKNOWNFLAG);
	if (cs.nmodes)
		change_lines(&cs, 400, user_mode_line, c);
}

void cmd_mode(struct client *c, struct msg *m)
{
	const char *target = m->params[0];
	if (target[0] == '#') {
		struct channel *ch = channel_find(target);
		if (!ch)
			reply(c, ERR_NOSUCHCHANNEL, target);
		else
			channel_mode(c, ch, m);
		return;
	}
	struct client *t = client_find(target);
	if (!t || !client_registered(t))
		reply(c, ERR_NOSUCHNICK, target);
	else
		user_mode(c, t, m);
}
