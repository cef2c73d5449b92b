/* cap.h - IRCv3 capabilities: the ones Parley implements and their CAP LS values. */
#ifndef PARLEY_CAP_H
#define PARLEY_CAP_H

#include <stdint.h>

enum cap_bit {
	CAP_CAP_NOTIFY,
	CAP_MESSAGE_TAGS,
	CAP_SERVER_TIME,
	CAP_ECHO_MESSAGE,
	CAP_MULTI_PREFIX,
	CAP_USERHOST_IN_NAMES,
	CAP_EXTENDED_JOIN,
	CAP_AWAY_NOTIFY,
	CAP_ACCOUNT_NOTIFY,
	CAP_ACCOUNT_TAG,
	CAP_CHGHOST,
	CAP_SETNAME,
	CAP_INVITE_NOTIFY,
	CAP_BATCH,
	CAP_LABELED_RESPONSE,
	CAP_STANDARD_REPLIES,
	CAP_EXTENDED_MONITOR,
	CAP_SASL,
	CAP_ACCOUNT_REGISTRATION,
	CAP_CHATHISTORY,
	CAP_MESSAGE_REDACTION,
	CAP_SEARCH,
	CAP_READ_MARKER,
	CAP_MESSAGE_EDIT,
	CAP_SELF_MESSAGE, /* znc.in/self-message: informational, copies go to every session */
	CAP_STS, /* informational: listed, never enabled */
	CAP_COUNT
};

#define CAPF(bit) ((uint32_t)1 << (bit))

struct client;
struct msg;

/* Ends an unfinished SASL exchange with 906 (cmd_account.c). */
void sasl_abort(struct client *c);

struct conf;

/* cap-notify after REHASH, before old is freed: clients with cap-notify whose sts
 * value changed get CAP NEW with the new value (302) or CAP DEL when it is withdrawn. */
void cap_conf_changed(const struct conf *old, const struct conf *nc);

/* The CAP command. */
void cmd_cap(struct client *c, struct msg *m);

#endif
