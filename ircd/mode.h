/* mode.h - channel and user modes: what exists, and the MODE command. */
#ifndef PARLEY_MODE_H
#define PARLEY_MODE_H

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

void cmd_mode(struct client *c, struct msg *m);

#endif
