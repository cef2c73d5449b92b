/* isupport.h - the RPL_ISUPPORT (005) tokens: exactly what is implemented. */
#ifndef PARLEY_ISUPPORT_H
#define PARLEY_ISUPPORT_H

struct client;

/* Sends the 005 lines to c. */
void isupport_send(struct client *c);

#endif
