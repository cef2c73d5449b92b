/* parse.c - IRC message parsing and serialization (IRCv3 message-tags framing).
 * Parsing splits the line in place, replacing separators with NULs, so a message
 * costs no allocation; the serializer is its inverse and is what the unit tests and
 * the fuzz round trip compare against. */
#include "parse.h"

#include <stdio.h>
#include <string.h>

static char *skip_spaces(char *p)
{
	while (*p == ' ')
		*p++ = '\0';
	return p;
}

void tag_unescape(char *v)
{
	char *w = v;
	for (char *r = v; *r; r++) {
		if (*r != '\\') {
			*w++ = *r;
			continue;
		}
		switch (*++r) {
		case ':': *w++ = ';'; break;
		case 's': *w++ = ' '; break;
		case '\\': *w++ = '\\'; break;
		case 'r': *w++ = '\r'; break;
		case 'n': *w++ = '\n'; break;
		case '\0': r--; break; /* trailing lone backslash is dropped */
		default: *w++ = *r; break;
		}
	}
	*w = '\0';
}

static enum parse_result parse_tags(char *tags, struct msg *msg)
{
	for (char *p = tags; p && *p;) {
		char *next = strchr(p, ';');
		if (next)
			*next++ = '\0';
		if (*p && *p != '=') { /* a tag without a key ("@=x") is dropped */
			char *eq = strchr(p, '=');
			const char *value = NULL;
			if (eq) {
				*eq = '\0';
				tag_unescape(eq + 1);
				value = eq + 1;
			}
			/* a later duplicate replaces the earlier one, as the spec says */
			int i;
			for (i = 0; i < msg->ntags; i++)
				if (strcmp(msg->tags[i].key, p) == 0)
					break;
			if (i == MSG_MAX_TAGS)
				return PARSE_BAD_TAGS;
			msg->tags[i].key = p;
			msg->tags[i].value = value;
			if (i == msg->ntags)
				msg->ntags++;
		}
		p = next;
	}
	return PARSE_OK;
}

enum parse_result msg_parse(char *line, size_t len, struct msg *msg)
{
	return msg_parse_max(line, len, msg, MSG_BODY_MAX);
}

enum parse_result msg_parse_max(char *line, size_t len, struct msg *msg, size_t body_max)
{
	msg->ntags = 0;
	msg->tags_len = 0;
	msg->nparams = 0;
	msg->body_len = 0;
	msg->source = NULL;
	msg->command = NULL;
	char *p = line;
	char *tags = NULL;
	line[len] = '\0';
	if (*p == '@') {
		char *sp = strchr(p, ' ');
		size_t taglen = sp ? (size_t)(sp - p) + 1 : len;
		if (taglen > MSG_TAGS_MAX)
			return PARSE_TOO_LONG;
		tags = p + 1;
		msg->tags_len = taglen - 2;
		if (!sp)
			return PARSE_NO_COMMAND;
		p = sp;
		p = skip_spaces(p);
	}
	while (*p == ' ')
		p++; /* tolerate leading spaces before the source or command */
	/* The body limit counts the CRLF the client sent (or would have sent). */
	msg->body_len = (size_t)(line + len - p) + 2;
	if (msg->body_len > body_max)
		return PARSE_TOO_LONG;
	if (tags && parse_tags(tags, msg) != PARSE_OK)
		return PARSE_BAD_TAGS;
	if (*p == ':') {
		msg->source = p + 1;
		p = strchr(p, ' ');
		if (!p)
			return PARSE_NO_COMMAND;
		p = skip_spaces(p);
	}
	if (*p == '\0')
		return tags || msg->source ? PARSE_NO_COMMAND : PARSE_EMPTY;
	/* No command starts with '@' (" @a", "@t @a"): written back it would read as tags. */
	if (*p == '@')
		return PARSE_NO_COMMAND;
	msg->command = p;
	p = strchr(p, ' ');
	while (p) {
		p = skip_spaces(p);
		if (*p == '\0')
			break;
		if (*p == ':' || msg->nparams == MSG_MAX_PARAMS - 1) {
			msg->params[msg->nparams++] = *p == ':' ? p + 1 : p;
			break;
		}
		msg->params[msg->nparams++] = p;
		p = strchr(p, ' ');
	}
	return PARSE_OK;
}

const char *msg_tag(const struct msg *msg, const char *key)
{
	for (int i = 0; i < msg->ntags; i++)
		if (strcmp(msg->tags[i].key, key) == 0)
			return msg->tags[i].value ? msg->tags[i].value : "";
	return NULL;
}

int tag_escape(const char *v, char *out, size_t size)
{
	size_t n = 0;
	for (; *v; v++) {
		const char *rep = NULL;
		switch (*v) {
		case ';': rep = "\\:"; break;
		case ' ': rep = "\\s"; break;
		case '\\': rep = "\\\\"; break;
		case '\r': rep = "\\r"; break;
		case '\n': rep = "\\n"; break;
		}
		size_t rl = rep ? 2 : 1;
		if (n + rl >= size)
			return -1;
		if (rep)
			memcpy(out + n, rep, 2);
		else
			out[n] = *v;
		n += rl;
	}
	if (n >= size)
		return -1;
	out[n] = '\0';
	return (int)n;
}

/* Appends s (len bytes) to out at *n; false if it would not fit. */
static bool put(char *out, size_t size, size_t *n, const char *s, size_t len)
{
	if (*n + len >= size)
		return false;
	memcpy(out + *n, s, len);
	*n += len;
	return true;
}

int msg_serialize(const struct msg *msg, char *out, size_t size)
{
	size_t n = 0;
	for (int i = 0; i < msg->ntags; i++) {
		if (!put(out, size, &n, i ? ";" : "@", 1) ||
		    !put(out, size, &n, msg->tags[i].key, strlen(msg->tags[i].key)))
			return -1;
		if (msg->tags[i].value && *msg->tags[i].value) {
			if (!put(out, size, &n, "=", 1))
				return -1;
			int l = tag_escape(msg->tags[i].value, out + n, size - n);
			if (l < 0)
				return -1;
			n += (size_t)l;
		}
	}
	if (msg->ntags && !put(out, size, &n, " ", 1))
		return -1;
	if (msg->source && (!put(out, size, &n, ":", 1) ||
	                    !put(out, size, &n, msg->source, strlen(msg->source)) ||
	                    !put(out, size, &n, " ", 1)))
		return -1;
	if (!put(out, size, &n, msg->command, strlen(msg->command)))
		return -1;
	for (int i = 0; i < msg->nparams; i++) {
		const char *p = msg->params[i];
		bool last = i == msg->nparams - 1;
		bool trailing = last && (*p == '\0' || *p == ':' || strchr(p, ' '));
		if (!put(out, size, &n, trailing ? " :" : " ", trailing ? 2 : 1) ||
		    !put(out, size, &n, p, strlen(p)))
			return -1;
	}
	if (!put(out, size, &n, "\r\n", 2))
		return -1;
	out[n] = '\0';
	return (int)n;
}

bool utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + len;
	while (s < end) {
		unsigned c = *s;
		if (c < 0x80) {
			s++;
			continue;
		}
		int n;
		unsigned cp, min;
		if ((c & 0xe0) == 0xc0) n = 1, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0) n = 2, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0) n = 3, cp = c & 0x07, min = 0x10000;
		else return false;
		if (end - s <= n)
			return false;
		for (int i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

size_t str_copy(char *dst, size_t size, const char *s)
{
	size_t n = strnlen(s, size - 1);
	memcpy(dst, s, n);
	dst[n] = '\0';
	return n;
}

size_t str_put(char *buf, size_t cap, size_t len, const char *s)
{
	size_t n = strnlen(s, cap - len);
	memcpy(buf + len, s, n);
	return len + n;
}

bool msg_client_tags(const struct msg *m, char *out, size_t size)
{
	size_t n = 0;
	out[0] = '\0';
	for (int i = 0; i < m->ntags; i++) {
		const char *k = m->tags[i].key;
		if (k[0] != '+' || !k[1])
			continue;
		char esc[CLIENT_TAG_DATA_MAX + 1] = "";
		const char *v = m->tags[i].value;
		if (v && *v && tag_escape(v, esc, sizeof esc) < 0)
			return false;
		int w = snprintf(out + n, size - n, "%s%s%s%s", n ? ";" : "", k, esc[0] ? "=" : "", esc);
		if (w < 0 || (size_t)w >= size - n)
			return false;
		n += (size_t)w;
	}
	return n <= CLIENT_TAG_DATA_MAX;
}
