/* sasl_scram.h - the SASL SCRAM-SHA-256 exchange over AUTHENTICATE (scram.c checks the
 * messages; this file moves them and asks account.c for the keys). */
#ifndef PARLEY_SASL_SCRAM_H
#define PARLEY_SASL_SCRAM_H

#include <stddef.h>

struct client;

/* Handles one complete client message (decoded, n bytes) of c's SCRAM exchange: the
 * client-first message, the client-final message, then the empty response that
 * acknowledges the server's signature. Replies 904 (and ends the exchange) on any
 * error, an unknown account, or an account without SCRAM keys yet. */
void sasl_scram_step(struct client *c, const unsigned char *msg, size_t n);

/* Frees c's exchange state (the exchange ended, was aborted, or c is gone). */
void sasl_scram_free(struct client *c);

#endif
