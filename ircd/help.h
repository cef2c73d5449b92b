/* help.h - HELP / HELPOP: per-command help text (704/705/706, 524). */
#ifndef PARLEY_HELP_H
#define PARLEY_HELP_H

struct client;
struct msg;

/* HELP [<command>]: the index, or the syntax and description of one command. */
void cmd_help(struct client *c, struct msg *m);

#endif
