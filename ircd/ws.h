/* ws.h - the WebSocket transport (RFC 6455, IRCv3 WebSocket): the HTTP upgrade and
 * the framing of lines, under conn.c. A WebSocket connection is a conn like any other
 * once the handshake is done; its owner sees the same lines and events. */
#ifndef PARLEY_WS_H
#define PARLEY_WS_H

#include "conn.h"

#include <stddef.h>

/* The largest message a client may send: one line with its tags, as on a stream. */
#define WS_MESSAGE_MAX (CONN_RECVQ / 2)
/* The largest upgrade request (request line and headers). */
#define WS_REQUEST_MAX 8192
/* Seconds a client has to complete the upgrade request. */
#define WS_HANDSHAKE_TIMEOUT 10

/* Gives c its WebSocket state (called by conn_websocket). */
void ws_attach(struct conn *c);

/* Consumes input from buf[0..len): the upgrade request, then frames, each complete
 * message handed to c->ops->on_line. Stops where the owner pauses input; returns the
 * bytes consumed (the rest is kept by conn.c). May write, fail and close c. */
size_t ws_input(struct conn *c, char *buf, size_t len);

/* Queues a line (a shared buffer ending in CRLF) as one frame: dropped before the
 * upgrade and after a close; on a text connection a line that is not UTF-8 goes out
 * as a copy with U+FFFD for the bad bytes (checked once per buffer). */
void ws_push(struct conn *c, struct msgbuf *b);

/* The connection is closing: queues the closing frame (1000, or the code the client
 * closed with) if none was sent. */
void ws_finish(struct conn *c);

/* Frees c's WebSocket state (conn_close). */
void ws_free(struct conn *c);

#endif
