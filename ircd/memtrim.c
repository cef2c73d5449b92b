/* memtrim.c - gives the heap's free pages back to the kernel after a burst of
 * connections.
 *
 * A storm of connections leaves free memory scattered between the objects that stay:
 * every TLS handshake in flight holds two record buffers of about 17 KiB and the
 * handshake messages, freed when it completes, while its session, keys and cipher
 * contexts stay. glibc returns free memory to the kernel only from the top of the heap,
 * so after a reconnection storm (or a mass disconnection) the resident size kept the
 * storm's peak. conn.c counts the connections opened and closed and the TLS handshakes
 * completed. Twice a second, once MEMTRIM_BURST of these events happened since the last
 * trim and the last half second saw less than an eighth of that (the burst is over),
 * malloc_trim() releases the whole free pages inside the heap (madvise), so an idle
 * server's resident size follows what it holds. A steady trickle of connections triggers
 * a trim every MEMTRIM_BURST events at most; a trim takes about 0.4 ms at 5,000 TLS
 * connections. */
#include "memtrim.h"

#include <ev.h>

#define MEMTRIM_BURST 256
#define MEMTRIM_INTERVAL 0.5

static unsigned since_trim; /* events since the last trim */
static unsigned since_check;

void memtrim_note(void) { since_check++; }

#ifdef __GLIBC__
#include <malloc.h>

static ev_timer timer;

static void check_cb(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	since_trim += since_check;
	unsigned recent = since_check;
	since_check = 0;
	if (since_trim < MEMTRIM_BURST || recent >= since_trim / 8)
		return;
	malloc_trim(0);
	since_trim = 0;
}

void memtrim_start(void)
{
	ev_timer_init(&timer, check_cb, MEMTRIM_INTERVAL, MEMTRIM_INTERVAL);
	ev_timer_start(EV_DEFAULT, &timer);
	ev_unref(EV_DEFAULT); /* the check alone must not keep the loop alive */
}
#else
void memtrim_start(void) {}
#endif
