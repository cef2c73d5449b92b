/* mode.h - channel and user modes: what exists, and the MODE command. */
#ifndef PARLEY_MODE_H
#define PARLEY_MODE_H

#include <stdbool.h>

struct client;
struct channel;
struct msg;

/* Letters for RPL_MYINFO and ISUPPORT. */
#define USER_MODES "BRioswx"
#define CHANNEL_MODES "IRbeiklmnopstv"
#define CHANNEL_PARAM_MODES "Ibeklov"
#define CHANMODES_TOKEN "CHANMODES=beI,k,l,Rimnpst"
#define MODES_PER_COMMAND 6

/* Writes ch's flag modes (and the key and limit when show_params) as "+ntk key". */
void mode_channel_string(const struct channel *ch, int show_params, char *out, unsigned size);

/* One letter of a channel MODE request, as mode_next splits it. */
struct mode_change {
	int dir;           /* +1 or -1 */
	char mode;
	bool needs_param;  /* the letter takes a parameter in this direction */
	const char *param; /* the parameter it takes; NULL if it takes none or none is left */
	bool over_limit;   /* past MODES_PER_COMMAND parameter modes: parameter used up, change ignored */
};

struct mode_iter {
	const char *p;
	const char *const *params;
	int nparams, arg, dir, param_modes;
};

/* Splits a channel mode string and the parameters after it into letters, left to right,
 * pairing each letter with its parameter. Pure (no channel state), so it can be fuzzed. */
void mode_iter_init(struct mode_iter *it, const char *modes, const char *const *params, int nparams);

/* Fills out with the next letter; false at the end of the mode string. */
bool mode_next(struct mode_iter *it, struct mode_change *out);

void cmd_mode(struct client *c, struct msg *m);

#endif
