/* parse.h - the IRCv3 message format: bytes to a message and back. Pure: no I/O, no
 * allocation. Limits from the IRCv3 message-tags spec: 8191 bytes of tags (with the
 * leading '@' and the space after them) and 512 bytes for the rest, CRLF included. */
#ifndef PARLEY_PARSE_H
#define PARLEY_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define MSG_MAX_PARAMS 15
#define MSG_MAX_TAGS 64
#define MSG_TAGS_MAX 8191 /* '@' .. the space before the rest */
#define MSG_BODY_MAX 512  /* source .. CRLF */
#define CLIENT_TAG_DATA_MAX 4094 /* what a client may send in its tag section */
#define MSG_LINE_MAX (MSG_TAGS_MAX + MSG_BODY_MAX)
/* The longest body a client may send to a service (a 600-byte password in NickServ
 * REGISTER or IRCv3 REGISTER does not fit in 512); client.c decides which lines may. */
#define MSG_SERVICE_BODY_MAX 1024

struct msg_tag {
	const char *key;
	const char *value; /* unescaped; NULL when the tag has no value */
};

struct msg {
	struct msg_tag tags[MSG_MAX_TAGS];
	int ntags;
	size_t tags_len; /* bytes of tag data as received, without '@' and the space */
	const char *source; /* NULL when absent */
	const char *command;
	const char *params[MSG_MAX_PARAMS];
	int nparams;
	size_t body_len; /* bytes from the source (or command) to the CRLF, CRLF included */
};

enum parse_result {
	PARSE_OK,
	PARSE_EMPTY,         /* blank line: ignore */
	PARSE_TOO_LONG,      /* over the tag or body limit: ERR_INPUTTOOLONG */
	PARSE_NO_COMMAND,    /* tags or source but no command */
	PARSE_BAD_TAGS,      /* more than MSG_MAX_TAGS tags */
};

/* Parses one line (without CR/LF) in place: the line is modified and msg points into
 * it, so the line must outlive msg. len is the line's length; line[len] must be
 * writable (a NUL is stored there). */
enum parse_result msg_parse(char *line, size_t len, struct msg *msg);

/* msg_parse with a body limit of body_max bytes (CRLF included) instead of MSG_BODY_MAX. */
enum parse_result msg_parse_max(char *line, size_t len, struct msg *msg, size_t body_max);

/* Returns the value of tag key in msg, "" for a tag without value, or NULL if absent. */
const char *msg_tag(const struct msg *msg, const char *key);

/* Escapes a tag value per the message-tags spec into out (size bytes). Returns the
 * length written, or -1 if it does not fit. */
int tag_escape(const char *value, char *out, size_t size);

/* Unescapes a tag value in place. */
void tag_unescape(char *value);

/* Collects the client-only ('+') tags of msg, escaped, as "+a=b;+c" into out. Returns
 * false if they exceed CLIENT_TAG_DATA_MAX or size. */
bool msg_client_tags(const struct msg *msg, char *out, size_t size);

/* Serializes msg to out (size bytes) with a trailing CRLF. The last parameter is
 * written as trailing (':') when it is empty, holds a space or starts with ':'.
 * Returns the length, or -1 if it does not fit. Exact inverse of msg_parse. */
int msg_serialize(const struct msg *msg, char *out, size_t size);

/* True if s is valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
bool utf8_valid(const char *s, size_t len);

/* Copies s to dst (size bytes) as far as it fits, always terminated; returns the length
 * copied. For the per-message paths, where snprintf("%s") costs more. */
size_t str_copy(char *dst, size_t size, const char *s);

/* Appends s (no terminator) at buf + len while it fits in cap bytes; returns the new
 * length. For building a line piece by piece without printf. */
size_t str_put(char *buf, size_t cap, size_t len, const char *s);

#endif
