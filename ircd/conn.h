/* conn.h - one client socket: non-blocking reads split into lines, the TLS handshake,
 * and the sendq flushed before the loop sleeps. Knows nothing of IRC beyond the line
 * limits; the owner (client.c) gets lines and events through struct conn_ops. */
#ifndef PARLEY_CONN_H
#define PARLEY_CONN_H

#include "msgbuf.h"
#include "sendq.h"

#include <ev.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

/* The most a connection may hold of unprocessed input: two maximal lines. */
#define CONN_RECVQ (2 * (8191 + 512))

struct conn;

struct conn_ops {
	/* A complete line without CR/LF, NUL-terminated and writable, len bytes long.
	 * Return false to stop processing lines (the rest is kept until conn_resume). */
	bool (*on_line)(struct conn *c, char *line, size_t len);
	/* Asked before each line: false holds the line (and the rest) until conn_resume. */
	bool (*admit)(struct conn *c);
	/* A line longer than CONN_RECVQ/2 was discarded. */
	void (*on_too_long)(struct conn *c);
	/* Input is held (paused) and the receive queue is full. */
	void (*on_recvq_full)(struct conn *c);
	/* The peer closed the connection or an I/O error happened; reason is readable. The
	 * owner must not free the conn here, only mark it for freeing later. */
	void (*on_error)(struct conn *c, const char *reason);
	/* A WebSocket handshake from a trusted proxy named the client's address (ip, text);
	 * may be NULL. The owner re-checks what depends on the address and sets c->ip. */
	void (*on_address)(struct conn *c, const char *ip);
};

enum {
	CONN_HANDSHAKE = 1 << 0,     /* TLS handshake in progress */
	CONN_PAUSED = 1 << 1,        /* owner holds input processing */
	CONN_PENDING = 1 << 2,       /* on the pending-flush list */
	CONN_DEAD = 1 << 3,          /* no more I/O; waiting to be freed */
	CONN_WANT_WRITE_READ = 1 << 4, /* SSL_read wants the socket writable */
};

struct conn {
	int fd;
	unsigned flags;
	SSL *ssl;
	const struct conn_ops *ops;
	ev_io rio, wio;
	struct sendq sendq;
	size_t sendq_max;       /* hard limit; 0 = none */
	int tls_retry_len;      /* length of an SSL_write to repeat after WANT_WRITE */
	char *inbuf;            /* unprocessed input, NULL when there is none */
	size_t inlen;
	bool discarding;        /* dropping the rest of an over-long line */
	struct ws *ws;          /* WebSocket framing state (ws.c), NULL for a plain stream */
	struct conn *pending_next;
	char ip[INET6_ADDRSTRLEN + 1];
	char certfp[65];        /* SHA-256 of the client certificate, hex; "" if none */
	unsigned long long bytes_in, bytes_out; /* IRC bytes read and written (inside TLS) */
};

/* Takes ownership of fd (and ssl, which may be NULL) and starts reading. */
void conn_init(struct conn *c, int fd, SSL *ssl, const struct conn_ops *ops);

/* Moves an open connection to another owner (a client becoming a server link): dst
 * takes src's socket, TLS state, queued input and output, with ops; src is left dead and
 * empty. dst has no SendQ limit and starts paused: conn_resume hands it the queued input. */
void conn_move(struct conn *dst, struct conn *src, const struct conn_ops *ops);

/* Makes c a WebSocket connection (ws.c): its input starts with the HTTP upgrade
 * request, and lines go both ways as frames. Call right after conn_init. */
void conn_websocket(struct conn *c);

/* Queues a new reference to b. Returns false, queueing nothing, if it would push the
 * sendq past sendq_max; the caller then disconnects the client. */
bool conn_send(struct conn *c, struct msgbuf *b);

/* Like conn_send, ignoring the limit: for the final ERROR line. */
void conn_send_force(struct conn *c, struct msgbuf *b);

/* Queues b to be written exactly as it is, never framed (ws.c: HTTP responses and
 * control frames). Returns false, queueing nothing, past sendq_max. */
bool conn_send_raw(struct conn *c, struct msgbuf *b);

/* Holds input: lines already read stay queued. */
void conn_pause(struct conn *c);

/* Releases input and processes the queued lines now. */
void conn_resume(struct conn *c);

/* Writes as much of the sendq as the socket takes now. */
void conn_flush(struct conn *c);

/* Stops all I/O and closes the socket; the sendq is dropped. The struct stays valid
 * (and may be freed by the owner afterwards). */
/* For a connection about to be closed: writes what is queued now and, when all of it
 * went out, ends the stream (FIN) at once, so the peer does not wait for the end of the
 * loop iteration (where conn_close runs) to see it. Plain TCP only. */
void conn_finish(struct conn *c);

void conn_close(struct conn *c);

/* Flushes every connection that queued output since the last call; the loop calls
 * this just before it sleeps. */
void conn_flush_pending(void);

#endif
