/* memtrim.h - gives the heap's free pages back to the kernel after a burst of
 * connections. */
#ifndef PARLEY_MEMTRIM_H
#define PARLEY_MEMTRIM_H

/* Starts the twice-a-second check on the loop (see memtrim.c). */
void memtrim_start(void);

/* A connection was opened, finished its TLS handshake or was closed (conn.c). */
void memtrim_note(void);

#endif
