/* ircbench: a load generator for IRC servers (Parley issue 8, docs/BENCHMARKS.md).
 *
 * One process opens many client connections to one server, registers each with NICK/USER,
 * answers PING, and runs one scenario:
 *
 *   idle     N clients registered and joined, one channel per --per-channel clients; reports
 *            registrations/s and the server's VmRSS per client (minus the VmRSS before).
 *   fanout   N members of one channel, K of them senders. Each sender keeps --inflight
 *            messages unacknowledged ("window" mode: as fast as the server takes them) or
 *            sends at a fixed total --rate; reports deliveries/s, latency, loss and reordering.
 *   direct   --pairs pairs of clients sending PRIVMSG to each other, same two modes.
 *   connect  --parallel slots each looping connect, NICK/USER, wait for 001, QUIT, wait for
 *            the server to close; reports cycles/s and the connect-to-001 latency.
 *   netsim   a linked network (tests/bench/netsim.py, docs/NETSIM.md): --ports lists one
 *            port per node, client i connects to node i % nodes, all join one channel; the
 *            --senders are on --sender-node and send at a fixed --rate. Per receiving node:
 *            latency, lost, duplicated and reordered deliveries. With --split-at S the main
 *            thread runs --split-cmd S seconds into the measuring window (it cuts a link)
 *            and watches every client's view of the channel to time the re-link and burst.
 *
 * With --sasl PASSWORD each client logs in during registration as account L<index> (a login
 * storm when --setup-inflight covers every client): SASL PLAIN pipelined with CAP REQ,
 * NICK/USER and CAP END, or with --scram a full SCRAM-SHA-256 exchange (the client's PBKDF2
 * is computed once per salt and reused: the server's cost is what is measured). With
 * --sasl-wait PLAIN goes in lockstep as irssi and WeeChat do it (the credentials after the
 * server's "AUTHENTICATE +", CAP END after 903/904): for servers that drop early AUTHENTICATE
 * data and register on CAP END without waiting for the login (InspIRCd). A 904 or 906 counts
 * as an error; the idle scenario's setup time is then the time for every client to log in.
 *
 * DESIGN
 * - Worker threads (--threads, default 2), each with its own epoll set, own disjoint sets of
 *   connections; the main thread only orchestrates (phases in one atomic, an eventfd per
 *   worker to wake it) and reads published counters. No locks on the data path.
 * - Every message is "PRIVMSG <target> :~B<run> <stream> <seq> <send time ns>" (<run>: four
 *   characters drawn per run, so messages of other runs are told apart). A stream is one
 *   sender and its target; the receiver checks that each stream's sequence numbers arrive in
 *   order and counts them, so loss and reordering are exact. The latency is the receiver's
 *   CLOCK_MONOTONIC at read() minus the send time (one machine, one clock).
 * - Window mode acknowledges a message when one chosen receiver (the stream's observer, a
 *   member served by the same worker thread as the sender) has read it: in flight means sent
 *   and not yet delivered through the server. Fixed-rate mode stamps each message with its
 *   scheduled time, not the time it was written, so generator lateness is not hidden.
 * - Reads go into one 256 KiB scratch buffer per worker; only an unfinished line is kept per
 *   connection (inline, 1 KiB). Writes are buffered per connection and flushed after each
 *   batch of events, so a sender writes its whole window in one write().
 * - Deliveries and latencies count only inside the measuring window (after --warmup, for
 *   --duration); loss counts every message sent, after a drain of up to --drain seconds.
 * - CPU: the generator's from getrusage(RUSAGE_SELF), the server's from utime+stime in
 *   /proc/PID/stat, both over the measuring window, in cores (CPU seconds per second);
 *   other_cpu is the rest of the machine's busy time (/proc/stat), other processes and
 *   kernel work charged to no process.
 * - --quickack sets TCP_QUICKACK after each read: on loopback (64 KiB MSS) a server without
 *   TCP_NODELAY otherwise waits for this client's delayed ACKs between small writes.
 *
 * - --ws speaks WebSocket (RFC 6455, text.ircv3.net) instead of a byte stream: an HTTP upgrade
 *   after connect (and TLS), then every line is one masked frame each way. Lines are still
 *   built as text in the output buffer; the flush wraps each complete line in a frame (a copy
 *   on the generator's side only), and reads split frames instead of lines.
 *
 * Output: a readable summary, then one line "RESULT key=value ..." for scripts. The exit
 * status is 0 when the run completed with no loss, reordering or unexpected disconnection. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "hist.h"

#define RBUF_SIZE (256 * 1024)
#define INLINE_IN 1024
#define MAX_EVENTS 512

enum scenario { SC_IDLE, SC_FANOUT, SC_DIRECT, SC_CONNECT, SC_NETSIM };
static const char *const scenario_name[] = {"idle", "fanout", "direct", "connect", "netsim"};
#define NSCENARIOS 5
#define MAX_NODES 16

enum phase { PH_INIT, PH_SETUP, PH_MEASURE, PH_STOP };

enum cstate {
	ST_IDLE,        /* no socket */
	ST_CONNECTING,  /* connect() in progress */
	ST_TLS,         /* TLS handshake */
	ST_UPGRADING,   /* WebSocket upgrade request sent, waiting for the 101 */
	ST_REGISTERING, /* NICK/USER sent, waiting for 001 */
	ST_REGISTERED,  /* got 001 */
	ST_QUITTING,    /* QUIT sent, waiting for the server to close */
};

/* Counters each worker publishes for the main thread (relaxed stores, read while running). */
enum pub {
	P_REGISTERED,
	P_JOINED,
	P_DELIVERED,
	P_EXPECTED,
	P_ERRORS,
	P_DISCONNECTS,
	P_CYCLES,
	P_CONVERGED, /* netsim: clients that see every member in the channel */
	P_NOW,
	P_COUNT
};

struct opts {
	const char *host;
	int port;
	bool tls;
	bool ws;
	const char *label;
	pid_t pid;
	enum scenario sc;
	int clients;
	int per_channel;
	int senders;
	int pairs;
	int inflight;
	double rate;
	int parallel;
	int setup_inflight;
	const char *sasl_password; /* --sasl: log in as L<index> with this password */
	bool scram;
	bool sasl_wait; /* --sasl-wait: PLAIN in lockstep, CAP END after 903/904 */
	bool resume; /* --resume: TLS connections offer the session of an earlier one */
	int threads;
	double duration, warmup, settle, drain, setup_timeout;
	int pad;
	int src_ips;
	bool quickack;
	bool busy;
	const char *extra;
	/* netsim */
	int nnodes;
	int ports[MAX_NODES];
	pid_t pids[MAX_NODES];
	int sender_node;
	double split_at; /* seconds into the measuring window; < 0: no split */
	const char *split_cmd;
};

struct worker;
struct stream;

struct rxslot {
	uint32_t next;  /* next sequence number expected */
	uint32_t count; /* messages received */
};

struct conn {
	int fd;
	int idx;
	struct worker *w;
	uint8_t state;
	bool joined;
	bool want_out;
	bool dead;     /* close after the current batch */
	bool on_dead;  /* queued on w->dead */
	uint8_t node;  /* netsim: the node this client is on (index into --ports) */
	int members_seen; /* netsim: channel members this client knows (NAMES, JOIN, QUIT) */
	SSL *ssl;
	char nick[16];
	uint8_t sasl_stage;    /* --scram: 0 mechanism sent, 1 client-first sent, 2 final sent; 3 done */
	char *scram_first;     /* --scram: client-first-message-bare, until the exchange ends */
	const char *chan;      /* channel to join after 001, or NULL */
	struct stream *stream; /* the stream this connection sends, or NULL */
	struct rxslot *rx;     /* receive state for streams rx_base .. rx_base + rx_n - 1 */
	int rx_base, rx_n;
	uint64_t t_launch, t_quit;
	uint32_t inlen;
	char *out;
	uint32_t outlen, outoff, outcap;
	char *wout; /* --ws: frames made from out's complete lines, not yet written */
	uint32_t woutlen, woutoff, woutcap;
	char in[INLINE_IN];
};

struct stream {
	int id;
	struct conn *sender, *observer;
	int nrecv;     /* deliveries expected per message */
	char prefix[96]; /* "PRIVMSG <target> :[pad ]~B <id> " */
	int prefix_len;
	uint32_t sent, acked;
	bool dirty;
	uint64_t next_due, interval;
	uint64_t *ts; /* netsim: send time of each sequence number below g.maxseq */
};

struct worker {
	int id;
	pthread_t th;
	int ep, evfd, tfd;
	struct conn **own; /* connections this worker launches */
	int nown, next_launch;
	struct conn **retry; /* connections to (re)launch */
	int nretry;
	int inflight, limit;
	struct stream **streams;
	int nstreams;
	struct stream **dirty;
	int ndirty;
	struct conn **dead;
	int ndead;
	char *rbuf;
	uint64_t nick_counter;
	/* statistics, owned by the worker, read by main after join */
	uint64_t registered, joined, delivered, delivered_win, expected, errors, disconnects;
	uint64_t reordered, gaps, unexpected, overflows, foreign, cycles, cycles_win;
	uint64_t first_launch, last_registered;
	uint64_t handshakes, resumed; /* TLS handshakes completed, of which resumed */
	SSL_SESSION *session;         /* --resume: the session offered by new connections */
	struct hist lat;
	struct hist quit; /* connect: QUIT sent to the server's close */
	/* netsim: clients with members_seen == every client; per node and send period
	 * (NS_LINKED before the cut or after the restore, NS_SPLIT between) a latency histogram;
	 * receipts per node, stream and sequence number; reordering and gaps per node */
	uint64_t converged;
	struct hist *nlat;
	uint16_t *rcv;
	uint64_t nreordered[MAX_NODES], ngaps[MAX_NODES];
	uint64_t nworst[MAX_NODES], nworst_ts[MAX_NODES]; /* the slowest linked delivery, its send time */
	_Alignas(64) _Atomic uint64_t pub[P_COUNT];
};

static struct opts o = {
	.host = "127.0.0.1",
	.port = 6667,
	.label = "server",
	.sc = SC_FANOUT,
	.clients = 100,
	.per_channel = 50,
	.senders = 10,
	.pairs = 50,
	.inflight = 16,
	.parallel = 10,
	.setup_inflight = 50,
	.threads = 2,
	.duration = 5,
	.warmup = 1,
	.settle = 1,
	.drain = 10,
	.setup_timeout = 120,
	.src_ips = 1,
	.extra = "",
	.split_at = -1,
};

static struct {
	_Atomic int phase;
	uint64_t t0, meas_start, meas_end; /* written by main before PH_MEASURE */
	struct sockaddr_in addr[MAX_NODES];
	SSL_CTX *ssl_ctx;
	struct conn *conns;
	char **chans; /* channel names, shared by the conns that join them */
	int nconns;
	struct stream *streams;
	int nstreams;
	struct worker *workers;
	char marker[7]; /* "~B" and four characters drawn per run */
	/* netsim: sequence numbers recorded per stream; when the link was cut and when every
	 * client saw the whole channel again (0: not yet) */
	uint32_t maxseq;
	int node_members[MAX_NODES];
	_Atomic uint64_t t_cut, t_restored;
	uint64_t win_lo; /* the split window starts 1 s before the planned cut (0: no split) */
} g;

enum { NS_LINKED, NS_SPLIT, NS_PERIODS };

/* ------------------------------------------------------------------------------------- */
/* Small helpers */

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ircbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die("out of memory");
	return p;
}

static char *put_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static void base36(char *dst, size_t size, char prefix, uint64_t v)
{
	char tmp[16];
	int n = 0;
	do {
		unsigned d = (unsigned)(v % 36);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
	} while ((v /= 36) != 0 && n < 12);
	size_t i = 0;
	dst[i++] = prefix;
	while (n && i + 1 < size)
		dst[i++] = tmp[--n];
	dst[i] = '\0';
}

/* CPU seconds used by this process (all threads). */
static double self_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds (utime + stime) of process pid, or -1. */
static double proc_cpu(pid_t pid)
{
	if (pid <= 0)
		return -1;
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long long ut = 0, st = 0;
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS of process pid in KiB, or -1. */
static long proc_rss_kib(pid_t pid)
{
	if (pid <= 0)
		return -1;
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long kib = -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

/* CPU seconds all CPUs spent busy (not idle, not waiting for I/O), from /proc/stat. */
static double machine_busy(void)
{
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return -1;
	unsigned long long v[8] = {0};
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		       &v[6], &v[7]);
	fclose(f);
	if (n < 5)
		return -1;
	unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

static bool proc_alive(pid_t pid)
{
	return pid <= 0 || kill(pid, 0) == 0;
}

/* ------------------------------------------------------------------------------------- */
/* Connections */

static void ep_set(struct conn *c, bool out)
{
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
	if (epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl MOD: %s", strerror(errno));
	c->want_out = out;
}

static void conn_kill(struct conn *c)
{
	c->dead = true;
	if (!c->on_dead) {
		c->on_dead = true;
		c->w->dead[c->w->ndead++] = c;
	}
}

static void out_reserve(struct conn *c, uint32_t more)
{
	if (c->outoff && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outlen + more <= c->outcap)
		return;
	if (c->outoff) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
		if (c->outlen + more <= c->outcap)
			return;
	}
	uint32_t cap = c->outcap ? c->outcap : 512;
	while (cap < c->outlen + more)
		cap *= 2;
	c->out = realloc(c->out, cap);
	if (!c->out)
		die("out of memory");
	c->outcap = cap;
}

static void out_append(struct conn *c, const char *s, size_t n)
{
	out_reserve(c, (uint32_t)n);
	memcpy(c->out + c->outlen, s, n);
	c->outlen += (uint32_t)n;
}

static void out_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct conn *c, const char *fmt, ...)
{
	char buf[600];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		out_append(c, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* --ws: moves every complete line of out into wout as one masked text frame. The mask key
 * is fixed (the server must unmask whatever the key; randomness protects browsers' peers,
 * not a benchmark). */
static void ws_frame_lines(struct conn *c)
{
	static const unsigned char key[4] = {0x5a, 0x3c, 0xa5, 0xc3};
	char *p = c->out + c->outoff, *end = c->out + c->outlen, *nl;
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		size_t len = (size_t)(nl - p);
		if (len && p[len - 1] == '\r')
			len--;
		uint32_t need = (uint32_t)len + 8;
		if (c->woutoff && c->woutoff == c->woutlen)
			c->woutoff = c->woutlen = 0;
		if (c->woutlen + need > c->woutcap) {
			uint32_t cap = c->woutcap ? c->woutcap : 512;
			while (cap < c->woutlen + need)
				cap *= 2;
			c->wout = realloc(c->wout, cap);
			if (!c->wout)
				die("out of memory");
			c->woutcap = cap;
		}
		unsigned char *f = (unsigned char *)c->wout + c->woutlen;
		size_t h = 2;
		f[0] = 0x81;
		if (len < 126) {
			f[1] = (unsigned char)(0x80 | len);
		} else {
			f[1] = 0x80 | 126;
			f[2] = (unsigned char)(len >> 8);
			f[3] = (unsigned char)len;
			h = 4;
		}
		memcpy(f + h, key, 4);
		for (size_t i = 0; i < len; i++)
			f[h + 4 + i] = (unsigned char)p[i] ^ key[i & 3];
		c->woutlen += (uint32_t)(h + 4 + len);
		p = nl + 1;
	}
	c->outoff = (uint32_t)(p - c->out);
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
}

/* Writes what the output buffer holds; arms EPOLLOUT only while something is left. */
static void conn_flush(struct conn *c)
{
	if (c->fd < 0 || c->dead || c->state == ST_CONNECTING || c->state == ST_TLS)
		return;
	/* in --ws mode, the bytes written are the frames; the upgrade request is sent as is */
	bool framed = o.ws && c->state != ST_UPGRADING;
	if (framed)
		ws_frame_lines(c);
	char **bufp = framed ? &c->wout : &c->out;
	uint32_t *offp = framed ? &c->woutoff : &c->outoff, *lenp = framed ? &c->woutlen : &c->outlen;
	while (*offp < *lenp) {
		ssize_t n;
		size_t len = *lenp - *offp;
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_write(c->ssl, *bufp + *offp, (int)(len > 1 << 30 ? 1 << 30 : len));
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					break;
				conn_kill(c);
				return;
			}
			n = r;
		} else {
			n = write(c->fd, *bufp + *offp, len);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				conn_kill(c);
				return;
			}
		}
		*offp += (uint32_t)n;
	}
	bool left = *offp < *lenp;
	if (!left)
		*offp = *lenp = 0;
	if (left != c->want_out)
		ep_set(c, left);
}

static void b64(const void *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* After connect (and TLS): --ws sends the upgrade request first, conn_register follows
 * the 101. */
static void conn_register(struct conn *c);
static void conn_start(struct conn *c)
{
	if (!o.ws) {
		conn_register(c);
		return;
	}
	c->state = ST_UPGRADING;
	out_printf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		   "Sec-WebSocket-Key: aXJjYmVuY2gta2V5LTAwMA==\r\nSec-WebSocket-Version: 13\r\n"
		   "Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n", o.host);
	conn_flush(c);
}

static void conn_register(struct conn *c)
{
	c->state = ST_REGISTERING;
	if (!o.sasl_password) {
		out_printf(c, "NICK %s\r\nUSER u 0 * :ircbench\r\n", c->nick);
	} else if (!o.scram && o.sasl_wait) {
		c->sasl_stage = 0;
		out_printf(c, "CAP REQ :sasl\r\nNICK %s\r\nUSER u 0 * :ircbench\r\nAUTHENTICATE PLAIN\r\n", c->nick);
	} else if (!o.scram) {
		/* the server holds CAP END until the login completes: all of it in one write */
		char raw[300], enc[420];
		int n = snprintf(raw, sizeof raw, "%cL%d%c%s", 0, c->idx, 0, o.sasl_password);
		b64(raw, (size_t)n, enc);
		out_printf(c, "CAP REQ :sasl\r\nNICK %s\r\nUSER u 0 * :ircbench\r\nAUTHENTICATE PLAIN\r\n"
		              "AUTHENTICATE %s\r\nCAP END\r\n", c->nick, enc);
	} else {
		c->sasl_stage = 0;
		free(c->scram_first);
		c->scram_first = NULL;
		out_printf(c, "CAP REQ :sasl\r\nNICK %s\r\nUSER u 0 * :ircbench\r\nAUTHENTICATE SCRAM-SHA-256\r\n",
		           c->nick);
	}
	conn_flush(c);
}

/* SaltedPassword for the last salt and iteration count seen, per thread (one PBKDF2 per
 * salt: the accounts of a benchmark share theirs). */
static _Thread_local unsigned char scram_salted[32];
static _Thread_local char scram_salt_seen[64];
static _Thread_local int scram_iter_seen;

static void hmac256(const unsigned char *key, size_t klen, const void *msg, size_t n, unsigned char *out)
{
	unsigned len;
	HMAC(EVP_sha256(), key, (int)klen, msg, n, out, &len);
}

/* The client side of SCRAM-SHA-256 for an AUTHENTICATE line's argument arg. */
static void scram_step(struct conn *c, const char *arg, size_t n)
{
	char msg[1024], enc[1400];
	if (c->sasl_stage == 0 && n == 1 && arg[0] == '+') {
		unsigned char r[18];
		char nonce[32];
		RAND_bytes(r, sizeof r);
		b64(r, sizeof r, nonce);
		snprintf(msg, sizeof msg, "n=L%d,r=%s", c->idx, nonce);
		c->scram_first = strdup(msg);
		snprintf(msg, sizeof msg, "n,,n=L%d,r=%s", c->idx, nonce);
		b64(msg, strlen(msg), enc);
		out_printf(c, "AUTHENTICATE %s\r\n", enc);
		c->sasl_stage = 1;
	} else if (c->sasl_stage == 1 && n < sizeof enc) {
		char server_first[1024];
		int m = EVP_DecodeBlock((unsigned char *)server_first, (const unsigned char *)arg, (int)n);
		if (m <= 0 || !c->scram_first) {
			c->w->errors++;
			return;
		}
		server_first[m] = '\0';
		char *rr = strstr(server_first, "r="), *ss = strstr(server_first, ",s="), *ii = strstr(server_first, ",i=");
		if (!rr || !ss || !ii) {
			c->w->errors++;
			return;
		}
		char nonce[300], salt64[64];
		snprintf(nonce, sizeof nonce, "%.*s", (int)(ss - rr - 2), rr + 2);
		snprintf(salt64, sizeof salt64, "%.*s", (int)(ii - ss - 3), ss + 3);
		int iter = atoi(ii + 3);
		if (iter != scram_iter_seen || strcmp(salt64, scram_salt_seen) != 0) {
			unsigned char salt[64];
			int sl = EVP_DecodeBlock(salt, (const unsigned char *)salt64, (int)strlen(salt64));
			for (size_t k = strlen(salt64); k > 0 && salt64[k - 1] == '='; k--)
				sl--;
			PKCS5_PBKDF2_HMAC(o.sasl_password, (int)strlen(o.sasl_password), salt, sl, iter, EVP_sha256(), 32,
			                  scram_salted);
			snprintf(scram_salt_seen, sizeof scram_salt_seen, "%s", salt64);
			scram_iter_seen = iter;
		}
		char without[400];
		snprintf(without, sizeof without, "c=biws,r=%s", nonce);
		char auth[1500];
		int al = snprintf(auth, sizeof auth, "%s,%s,%s", c->scram_first, server_first, without);
		unsigned char ck[32], sk[32], sig[32], proof[32];
		hmac256(scram_salted, 32, "Client Key", 10, ck);
		EVP_Digest(ck, 32, sk, NULL, EVP_sha256(), NULL);
		hmac256(sk, 32, auth, (size_t)al, sig);
		for (int k = 0; k < 32; k++)
			proof[k] = ck[k] ^ sig[k];
		char p64[48];
		b64(proof, 32, p64);
		snprintf(msg, sizeof msg, "%s,p=%s", without, p64);
		b64(msg, strlen(msg), enc);
		out_printf(c, "AUTHENTICATE %s\r\n", enc);
		c->sasl_stage = 2;
	} else if (c->sasl_stage == 2) {
		/* server-final (v=...): acknowledge, then end CAP negotiation */
		out_printf(c, "AUTHENTICATE +\r\nCAP END\r\n");
		c->sasl_stage = 3;
		free(c->scram_first);
		c->scram_first = NULL;
	}
	conn_flush(c);
}

static void conn_launch(struct conn *c, uint64_t now)
{
	struct worker *w = c->w;
	if (o.sc == SC_CONNECT)
		base36(c->nick, sizeof c->nick, 'c', (uint64_t)w->nick_counter++ * (uint64_t)o.threads + (uint64_t)w->id);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s (raise the file descriptor limit or use fewer clients)", strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (o.src_ips > 1) {
		struct sockaddr_in src = {.sin_family = AF_INET};
		src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(c->idx % o.src_ips));
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0)
			die("bind: %s", strerror(errno));
	}
	c->fd = fd;
	c->state = ST_CONNECTING;
	c->t_launch = now;
	c->inlen = 0;
	c->outlen = c->outoff = 0;
	c->woutlen = c->woutoff = 0;
	c->dead = c->joined = false;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl ADD: %s", strerror(errno));
	c->want_out = true;
	if (connect(fd, (struct sockaddr *)&g.addr[c->node], sizeof g.addr[c->node]) < 0 && errno != EINPROGRESS)
		conn_kill(c);
	if (!w->first_launch)
		w->first_launch = now;
}

/* Closes the socket and does the bookkeeping of whatever the connection was doing. Only
 * called between event batches (from the dead list), so no stale event can reach a new
 * socket of the same struct conn. */
static void conn_close(struct conn *c, bool abort)
{
	struct worker *w = c->w;
	if (c->fd >= 0) {
		if (abort) {
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		}
		if (c->ssl) {
			if (o.resume && !w->session && c->state >= ST_REGISTERED) {
				/* By 001 the server's TLS 1.3 tickets have been read. A copy: SSL_free
				 * marks the connection's own session not resumable (no close_notify sent). */
				SSL_SESSION *sess = SSL_get0_session(c->ssl);
				if (sess && SSL_SESSION_is_resumable(sess))
					w->session = SSL_SESSION_dup(sess);
			}
			SSL_free(c->ssl);
			c->ssl = NULL;
		}
		close(c->fd);
		c->fd = -1;
	}
	int was = c->state;
	c->state = ST_IDLE;
	c->dead = false;
	if (abort)
		return;
	int ph = atomic_load_explicit(&g.phase, memory_order_relaxed);
	if (o.sc == SC_CONNECT) {
		if (was == ST_QUITTING) {
			uint64_t t = now_ns();
			w->cycles++;
			if (t >= g.meas_start && t < g.meas_end) {
				w->cycles_win++;
				hist_add(&w->quit, t - c->t_quit);
			}
		} else {
			w->errors++;
		}
		if (ph == PH_MEASURE)
			w->retry[w->nretry++] = c;
		return;
	}
	if (was == ST_REGISTERED) {
		w->disconnects++;
		return;
	}
	/* failed before registration: try again */
	w->errors++;
	w->inflight--;
	if (ph == PH_SETUP)
		w->retry[w->nretry++] = c;
}

static void reap(struct worker *w)
{
	for (int i = 0; i < w->ndead; i++) {
		struct conn *c = w->dead[i];
		c->on_dead = false;
		if (c->dead)
			conn_close(c, false);
	}
	w->ndead = 0;
}

/* ------------------------------------------------------------------------------------- */
/* Streams */

static void stream_mark(struct worker *w, struct stream *st)
{
	if (!st->dirty) {
		st->dirty = true;
		w->dirty[w->ndirty++] = st;
	}
}

static void stream_append(struct stream *st, uint64_t ts)
{
	struct conn *c = st->sender;
	out_reserve(c, (uint32_t)st->prefix_len + 48);
	char *p = c->out + c->outlen;
	memcpy(p, st->prefix, (size_t)st->prefix_len);
	p += st->prefix_len;
	p = put_u64(p, st->sent);
	*p++ = ' ';
	p = put_u64(p, ts);
	*p++ = '\r';
	*p++ = '\n';
	c->outlen = (uint32_t)(p - c->out);
	if (st->ts && st->sent < g.maxseq)
		st->ts[st->sent] = ts;
	st->sent++;
	c->w->expected += (uint64_t)st->nrecv;
}

/* Window mode: fill the sender's window. */
static void stream_pump(struct stream *st, uint64_t now)
{
	struct conn *c = st->sender;
	if (c->fd < 0 || c->dead || c->state != ST_REGISTERED || now >= g.meas_end)
		return;
	uint32_t n = 0;
	while (st->sent - st->acked < (uint32_t)o.inflight) {
		stream_append(st, now);
		n++;
	}
	if (n)
		conn_flush(c);
}

/* Fixed-rate mode: send everything that is due, then arm the timer for the next. */
static void rate_tick(struct worker *w)
{
	uint64_t now = now_ns(), next = UINT64_MAX;
	for (int i = 0; i < w->nstreams; i++) {
		struct stream *st = w->streams[i];
		struct conn *c = st->sender;
		bool any = false;
		while (st->next_due <= now && st->next_due < g.meas_end) {
			if (c->fd >= 0 && !c->dead && c->state == ST_REGISTERED) {
				stream_append(st, st->next_due);
				any = true;
			}
			st->next_due += st->interval;
		}
		if (any)
			conn_flush(c);
		if (st->next_due < g.meas_end && st->next_due < next)
			next = st->next_due;
	}
	if (next != UINT64_MAX) {
		struct itimerspec its = {.it_value = {.tv_sec = (time_t)(next / 1000000000u),
						      .tv_nsec = (long)(next % 1000000000u)}};
		timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
	}
}

/* ------------------------------------------------------------------------------------- */
/* Input */

/* Parses a payload "~B<nonce> <stream> <seq> <ts>" at the end of a line, from the end
 * backwards so the source and the command need not be scanned. The nonce is drawn per run:
 * a message from another run (history replay, say) does not match. */
static bool parse_payload(const char *l, size_t n, uint32_t *sid, uint32_t *seq, uint64_t *ts)
{
	const char *p = l + n;
	uint64_t v[3];
	for (int k = 0; k < 3; k++) {
		uint64_t x = 0, mul = 1;
		int digits = 0;
		while (p > l && p[-1] >= '0' && p[-1] <= '9' && digits < 20) {
			p--;
			x += (uint64_t)(*p - '0') * mul;
			mul *= 10;
			digits++;
		}
		if (!digits || p == l || p[-1] != ' ')
			return false;
		p--;
		v[k] = x;
	}
	size_t ml = sizeof g.marker - 1;
	if ((size_t)(p - l) < ml + 1 || memcmp(p - ml, g.marker, ml) != 0 || (p[-(long)ml - 1] != ':' && p[-(long)ml - 1] != ' '))
		return false;
	*ts = v[0];
	*seq = (uint32_t)v[1];
	*sid = (uint32_t)v[2];
	return true;
}

static void on_payload(struct conn *c, uint32_t sid, uint32_t seq, uint64_t ts, uint64_t now)
{
	struct worker *w = c->w;
	int slot = (int)sid - c->rx_base;
	if (sid >= (uint32_t)g.nstreams || slot < 0 || slot >= c->rx_n) {
		w->unexpected++;
		return;
	}
	struct rxslot *r = &c->rx[slot];
	if (seq == r->next) {
		r->next++;
	} else if (seq > r->next) {
		w->gaps++;
		w->ngaps[c->node]++;
		r->next = seq + 1;
	} else {
		w->reordered++;
		w->nreordered[c->node]++;
	}
	r->count++;
	w->delivered++;
	if (o.sc == SC_NETSIM) {
		if (seq < g.maxseq) {
			uint16_t *n = &w->rcv[((size_t)c->node * (size_t)g.nstreams + sid) * g.maxseq + seq];
			if (*n < UINT16_MAX)
				(*n)++;
		}
		/* the period of the send time: from 1 s before the cut to the restore, or not */
		uint64_t back = atomic_load_explicit(&g.t_restored, memory_order_acquire);
		int period = g.win_lo && ts >= g.win_lo && (!back || ts < back) ? NS_SPLIT : NS_LINKED;
		if (ts >= g.meas_start && ts < g.meas_end) {
			uint64_t l = now > ts ? now - ts : 0;
			w->delivered_win++;
			hist_add(&w->nlat[c->node * NS_PERIODS + period], l);
			if (period == NS_LINKED && l > w->nworst[c->node]) {
				w->nworst[c->node] = l;
				w->nworst_ts[c->node] = ts;
			}
		}
	} else if (now >= g.meas_start && now < g.meas_end) {
		w->delivered_win++;
		hist_add(&w->lat, now > ts ? now - ts : 0);
	}
	struct stream *st = &g.streams[sid];
	if (st->observer == c) {
		st->acked++;
		if (o.rate <= 0)
			stream_mark(w, st);
	}
}

/* netsim: this client's view of the channel changes by delta members; the worker counts the
 * clients whose view is complete (every client of the run). */
static void seen_add(struct conn *c, int delta)
{
	bool was = c->members_seen == g.nconns;
	c->members_seen += delta;
	bool is = c->members_seen == g.nconns;
	if (was != is)
		c->w->converged += is ? 1 : (uint64_t)-1;
}

/* The number of nicks in a 353 line's last parameter. */
static int names_count(const char *p, const char *e)
{
	const char *t = memmem(p, (size_t)(e - p), " :", 2);
	if (!t)
		return 0;
	int n = 0;
	bool in = false;
	for (t += 2; t < e; t++) {
		if (*t != ' ' && !in)
			n++;
		in = *t != ' ';
	}
	return n;
}

static void on_registered(struct conn *c, uint64_t now)
{
	struct worker *w = c->w;
	if (c->state != ST_REGISTERING)
		return;
	c->state = ST_REGISTERED;
	w->registered++;
	w->last_registered = now;
	if (o.sc == SC_CONNECT) {
		if (now >= g.meas_start && now < g.meas_end)
			hist_add(&w->lat, now - c->t_launch);
		c->state = ST_QUITTING;
		c->t_quit = now;
		out_printf(c, "QUIT :bye\r\n");
		conn_flush(c);
		return;
	}
	w->inflight--;
	if (c->chan) {
		out_printf(c, "JOIN %s\r\n", c->chan);
		conn_flush(c);
	}
}

static void handle_line(struct conn *c, const char *l, size_t n, uint64_t now)
{
	uint32_t sid, seq;
	uint64_t ts;
	if (n > 8 && l[n - 1] >= '0' && l[n - 1] <= '9' && parse_payload(l, n, &sid, &seq, &ts)) {
		on_payload(c, sid, seq, ts, now);
		return;
	}
	const char *p = l, *e = l + n;
	if (p < e && *p == ':') {
		p = memchr(p, ' ', (size_t)(e - p));
		if (!p)
			return;
		while (p < e && *p == ' ')
			p++;
	}
	const char *cmd = p;
	const char *ce = memchr(p, ' ', (size_t)(e - p));
	if (!ce)
		ce = e;
	size_t cl = (size_t)(ce - cmd);
	if (cl == 4 && memcmp(cmd, "PING", 4) == 0) {
		out_append(c, "PONG", 4);
		out_append(c, ce, (size_t)(e - ce));
		out_append(c, "\r\n", 2);
		conn_flush(c);
	} else if (cl == 7 && memcmp(cmd, "PRIVMSG", 7) == 0) {
		c->w->foreign++; /* not ours: another run's message, e.g. replayed history */
	} else if (cl == 3 && memcmp(cmd, "001", 3) == 0) {
		on_registered(c, now);
	} else if (o.scram && cl == 12 && memcmp(cmd, "AUTHENTICATE", 12) == 0 && ce < e) {
		scram_step(c, ce + 1, (size_t)(e - ce - 1));
	} else if (o.sasl_wait && !o.scram && cl == 12 && memcmp(cmd, "AUTHENTICATE", 12) == 0) {
		if (c->sasl_stage == 0) { /* "AUTHENTICATE +" (or ":+"): now the credentials */
			char raw[300], enc[420];
			int n = snprintf(raw, sizeof raw, "%cL%d%c%s", 0, c->idx, 0, o.sasl_password);
			b64(raw, (size_t)n, enc);
			out_printf(c, "AUTHENTICATE %s\r\n", enc);
			conn_flush(c);
			c->sasl_stage = 1;
		}
	} else if (o.sasl_wait && !o.scram && cl == 3 && memcmp(cmd, "903", 3) == 0) {
		if (c->sasl_stage < 3) {
			c->sasl_stage = 3;
			out_printf(c, "CAP END\r\n");
			conn_flush(c);
		}
	} else if (cl == 3 && (memcmp(cmd, "904", 3) == 0 || memcmp(cmd, "906", 3) == 0)) {
		c->w->errors++; /* a failed login: registration still completes (CAP END) */
		if ((o.scram || o.sasl_wait) && c->sasl_stage < 3) {
			c->sasl_stage = 3;
			out_printf(c, "CAP END\r\n");
			conn_flush(c);
		}
	} else if (o.sc == SC_NETSIM && cl == 4 && (memcmp(cmd, "JOIN", 4) == 0 || memcmp(cmd, "QUIT", 4) == 0)) {
		/* every client of the run is in the one channel: a JOIN before our 366 is our own,
		 * any other JOIN or QUIT is a member arriving or leaving (a netsplit's QUITs, a
		 * burst's JOINs) */
		if (cmd[0] == 'Q')
			seen_add(c, -1);
		else if (c->joined)
			seen_add(c, 1);
	} else if (o.sc == SC_NETSIM && cl == 3 && memcmp(cmd, "353", 3) == 0 && !c->joined) {
		seen_add(c, names_count(ce, e));
	} else if (cl == 3 && memcmp(cmd, "366", 3) == 0) {
		if (!c->joined && c->chan) {
			c->joined = true;
			c->w->joined++;
		}
	} else if (cl == 3 && (memcmp(cmd, "433", 3) == 0 || memcmp(cmd, "432", 3) == 0 ||
			       memcmp(cmd, "437", 3) == 0)) {
		/* should not happen (unique nicks); count it and pick another */
		c->w->errors++;
		if (c->state == ST_REGISTERING) {
			base36(c->nick, sizeof c->nick, 'z', (uint64_t)rand());
			out_printf(c, "NICK %s\r\n", c->nick);
			conn_flush(c);
		}
	}
}

/* Handles every complete line in buf[0..*have), then moves the unfinished tail to the front. */
static void process_lines(struct conn *c, char *buf, size_t *have, uint64_t now)
{
	char *p = buf, *end = buf + *have, *nl;
	while (!c->dead && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		size_t len = (size_t)(nl - p);
		if (len && p[len - 1] == '\r')
			len--;
		handle_line(c, p, len, now);
		p = nl + 1;
	}
	size_t left = (size_t)(end - p);
	if (left >= INLINE_IN) { /* a line longer than we keep: drop it */
		c->w->overflows++;
		left = 0;
	}
	if (p != buf && left)
		memmove(buf, p, left);
	*have = left;
}

/* --ws: the 101 response, then frames (server frames are not masked); each text or binary
 * frame is one line. Moves the unfinished tail to the front like process_lines. */
static void process_frames(struct conn *c, char *buf, size_t *have, uint64_t now)
{
	char *p = buf, *end = buf + *have;
	if (c->state == ST_UPGRADING) {
		char *e = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!e) {
			if (*have >= INLINE_IN)
				conn_kill(c);
			return;
		}
		if (memcmp(p, "HTTP/1.1 101 ", 13) != 0) {
			c->w->errors++;
			conn_kill(c);
			return;
		}
		p = e + 4;
		conn_register(c);
	}
	while (!c->dead && end - p >= 2) {
		unsigned char op = (unsigned char)p[0] & 0x0f;
		size_t len = (unsigned char)p[1] & 0x7f, h = 2;
		if (len == 126) {
			if (end - p < 4)
				break;
			len = (size_t)(unsigned char)p[2] << 8 | (unsigned char)p[3];
			h = 4;
		} else if (len == 127) {
			c->w->overflows++; /* never for IRC lines */
			conn_kill(c);
			return;
		}
		if ((size_t)(end - p) < h + len)
			break;
		if (op == 1 || op == 2)
			handle_line(c, p + h, len, now);
		else if (op == 8)
			conn_kill(c);
		p += h + len;
	}
	size_t left = (size_t)(end - p);
	if (left >= INLINE_IN) {
		c->w->overflows++;
		left = 0;
	}
	if (p != buf && left)
		memmove(buf, p, left);
	*have = left;
}

static void conn_readable(struct conn *c)
{
	char *buf = c->w->rbuf;
	size_t have = c->inlen;
	memcpy(buf, c->in, have);
	if (c->ssl) {
		for (;;) {
			ERR_clear_error();
			int r = SSL_read(c->ssl, buf + have, (int)(RBUF_SIZE - have));
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
					conn_kill(c);
				break;
			}
			have += (size_t)r;
			if (o.ws)
				process_frames(c, buf, &have, now_ns());
			else
				process_lines(c, buf, &have, now_ns());
			if (c->dead)
				break;
		}
	} else {
		ssize_t r = read(c->fd, buf + have, RBUF_SIZE - have);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_kill(c);
		} else if (r > 0) {
			if (o.quickack) {
				int one = 1;
				setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
			}
			have += (size_t)r;
			if (o.ws)
				process_frames(c, buf, &have, now_ns());
			else
				process_lines(c, buf, &have, now_ns());
		}
	}
	if (!c->dead) {
		memcpy(c->in, buf, have);
		c->inlen = (uint32_t)have;
	}
}

static void tls_step(struct conn *c)
{
	ERR_clear_error();
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		c->w->handshakes++;
		if (SSL_session_reused(c->ssl))
			c->w->resumed++;
		conn_start(c);
		if (!c->dead && c->outoff == c->outlen && c->want_out)
			ep_set(c, false);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		ep_set(c, false);
	else if (e == SSL_ERROR_WANT_WRITE)
		ep_set(c, true);
	else
		conn_kill(c);
}

static void conn_event(struct conn *c, uint32_t events)
{
	if (c->fd < 0 || c->dead)
		return;
	if (c->state == ST_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			conn_kill(c);
			return;
		}
		if (o.tls) {
			c->ssl = SSL_new(g.ssl_ctx);
			if (!c->ssl)
				die("SSL_new failed");
			SSL_set_fd(c->ssl, c->fd);
			if (o.resume && c->w->session)
				SSL_set_session(c->ssl, c->w->session);
			c->state = ST_TLS;
			tls_step(c);
			return;
		}
		conn_start(c);
		if (!c->dead && c->outoff == c->outlen && c->want_out)
			ep_set(c, false);
		return;
	}
	if (c->state == ST_TLS) {
		tls_step(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_readable(c);
	if (!c->dead && (events & EPOLLOUT))
		conn_flush(c);
}

/* ------------------------------------------------------------------------------------- */
/* Workers */

static void publish(struct worker *w, uint64_t now)
{
	atomic_store_explicit(&w->pub[P_REGISTERED], w->registered, memory_order_relaxed);
	atomic_store_explicit(&w->pub[P_JOINED], w->joined, memory_order_relaxed);
	atomic_store_explicit(&w->pub[P_DELIVERED], w->delivered, memory_order_relaxed);
	atomic_store_explicit(&w->pub[P_EXPECTED], w->expected, memory_order_relaxed);
	atomic_store_explicit(&w->pub[P_ERRORS], w->errors, memory_order_relaxed);
	atomic_store_explicit(&w->pub[P_DISCONNECTS], w->disconnects, memory_order_relaxed);
	atomic_store_explicit(&w->pub[P_CYCLES], w->cycles, memory_order_relaxed);
	atomic_store_explicit(&w->pub[P_CONVERGED], w->converged, memory_order_relaxed);
	atomic_store_explicit(&w->pub[P_NOW], now, memory_order_release);
}

static void on_phase(struct worker *w, int ph)
{
	if (ph == PH_SETUP) {
		w->limit = o.setup_inflight / o.threads;
		if (w->limit < 1)
			w->limit = 1;
	} else if (ph == PH_MEASURE) {
		if (o.sc == SC_CONNECT) {
			for (int i = 0; i < w->nown; i++)
				w->retry[w->nretry++] = w->own[i];
		} else if (o.rate > 0) {
			for (int i = 0; i < w->nstreams; i++) {
				struct stream *st = w->streams[i];
				st->interval = (uint64_t)(1e9 * g.nstreams / o.rate);
				if (st->interval == 0)
					st->interval = 1;
				st->next_due = g.t0 + st->interval * (uint64_t)st->id / (uint64_t)g.nstreams;
			}
			rate_tick(w);
		} else {
			for (int i = 0; i < w->nstreams; i++)
				stream_mark(w, w->streams[i]);
		}
	}
}

static void launch(struct worker *w, int ph, uint64_t now)
{
	if (ph == PH_SETUP) {
		while (w->inflight < w->limit && (w->nretry || w->next_launch < w->nown)) {
			struct conn *c = w->nretry ? w->retry[--w->nretry] : w->own[w->next_launch++];
			w->inflight++;
			conn_launch(c, now);
		}
	} else if (ph == PH_MEASURE && o.sc == SC_CONNECT && now < g.meas_end) {
		while (w->nretry)
			conn_launch(w->retry[--w->nretry], now);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[MAX_EVENTS];
	int seen = PH_INIT;
	for (;;) {
		int n = epoll_wait(w->ep, ev, MAX_EVENTS, o.busy && seen == PH_MEASURE ? 0 : 20);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;
			uint64_t x;
			if (p == &w->evfd) {
				if (read(w->evfd, &x, sizeof x) < 0) { /* nothing to do */
				}
			} else if (p == &w->tfd) {
				if (read(w->tfd, &x, sizeof x) > 0)
					rate_tick(w);
			} else {
				conn_event(p, ev[i].events);
			}
		}
		reap(w);
		uint64_t now = now_ns();
		for (int i = 0; i < w->ndirty; i++) {
			struct stream *st = w->dirty[i];
			st->dirty = false;
			stream_pump(st, now);
		}
		w->ndirty = 0;
		reap(w);
		int ph = atomic_load_explicit(&g.phase, memory_order_acquire);
		if (ph != seen) {
			seen = ph;
			if (ph == PH_STOP)
				break;
			on_phase(w, ph);
			for (int i = 0; i < w->ndirty; i++) {
				w->dirty[i]->dirty = false;
				stream_pump(w->dirty[i], now);
			}
			w->ndirty = 0;
			reap(w);
		}
		launch(w, ph, now);
		publish(w, now);
	}
	publish(w, now_ns());
	return NULL;
}

static void wake_all(void)
{
	uint64_t one = 1;
	for (int i = 0; i < o.threads; i++)
		if (write(g.workers[i].evfd, &one, sizeof one) < 0) { /* the 20 ms poll catches it */
		}
}

static void set_phase(int ph)
{
	atomic_store_explicit(&g.phase, ph, memory_order_release);
	wake_all();
}

static uint64_t sum_pub(enum pub k)
{
	uint64_t s = 0;
	for (int i = 0; i < o.threads; i++)
		s += atomic_load_explicit(&g.workers[i].pub[k], memory_order_relaxed);
	return s;
}

static uint64_t min_pub_now(void)
{
	uint64_t m = UINT64_MAX;
	for (int i = 0; i < o.threads; i++) {
		uint64_t t = atomic_load_explicit(&g.workers[i].pub[P_NOW], memory_order_acquire);
		if (t < m)
			m = t;
	}
	return m;
}

/* ------------------------------------------------------------------------------------- */
/* Setup of connections and streams */

static void build(void)
{
	int n = 0;
	switch (o.sc) {
	case SC_IDLE:
	case SC_FANOUT:
	case SC_NETSIM:
		n = o.clients;
		break;
	case SC_DIRECT:
		n = o.pairs * 2;
		break;
	case SC_CONNECT:
		n = o.parallel;
		break;
	}
	if (n < 1)
		die("nothing to do: no clients");
	if (o.sc == SC_FANOUT && (o.senders < 1 || o.clients < o.senders + o.threads))
		die("fanout needs at least --senders + --threads members");
	if (o.sc == SC_NETSIM && (o.senders < 1 || o.rate <= 0 || o.sender_node >= o.nnodes ||
	                          o.clients < o.nnodes * (o.senders + 1)))
		die("netsim needs --rate, --senders >= 1, a --sender-node among the --ports and"
		    " at least (senders + 1) clients per node");
	g.nconns = n;
	g.conns = xcalloc((size_t)n, sizeof *g.conns);
	g.workers = xcalloc((size_t)o.threads, sizeof *g.workers);
	for (int t = 0; t < o.threads; t++) {
		struct worker *w = &g.workers[t];
		w->id = t;
		w->own = xcalloc((size_t)n, sizeof *w->own);
		w->retry = xcalloc((size_t)n, sizeof *w->retry);
		w->dead = xcalloc((size_t)n, sizeof *w->dead);
		w->rbuf = malloc(RBUF_SIZE);
		if (!w->rbuf)
			die("out of memory");
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (w->ep < 0 || w->evfd < 0 || w->tfd < 0)
			die("epoll/eventfd/timerfd: %s", strerror(errno));
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->evfd};
		epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &ev);
		ev.data.ptr = &w->tfd;
		epoll_ctl(w->ep, EPOLL_CTL_ADD, w->tfd, &ev);
	}
	static const char prefix[] = {'i', 'f', 'd', 'c', 'n'};
	int nchan = o.sc == SC_IDLE ? (n + o.per_channel - 1) / o.per_channel : 1;
	char **chans = g.chans = xcalloc((size_t)nchan, sizeof *chans);
	for (int i = 0; i < nchan; i++) {
		chans[i] = xcalloc(16, 1);
		snprintf(chans[i], 16, o.sc == SC_IDLE ? "#idle%d" : o.sc == SC_NETSIM ? "#net" : "#bench", i);
	}
	for (int i = 0; i < n; i++) {
		struct conn *c = &g.conns[i];
		c->fd = -1;
		c->idx = i;
		int t = o.sc == SC_DIRECT ? (i / 2) % o.threads : i % o.threads;
		c->w = &g.workers[t];
		c->w->own[c->w->nown++] = c;
		base36(c->nick, sizeof c->nick, prefix[o.sc], (uint64_t)i);
		if (o.sc == SC_IDLE)
			c->chan = chans[i / o.per_channel];
		else if (o.sc == SC_FANOUT || o.sc == SC_NETSIM)
			c->chan = chans[0];
		if (o.sc == SC_NETSIM) {
			c->node = (uint8_t)(i % o.nnodes);
			g.node_members[c->node]++;
		}
	}
	if (o.sc == SC_NETSIM) {
		/* every stream records its send times; receipts are counted per node */
		double per_stream = o.rate / o.senders * (o.warmup + o.duration) + 2;
		g.maxseq = (uint32_t)per_stream;
		for (int t = 0; t < o.threads; t++) {
			struct worker *w = &g.workers[t];
			w->nlat = xcalloc((size_t)o.nnodes * NS_PERIODS, sizeof *w->nlat);
			w->rcv = xcalloc((size_t)o.nnodes * (size_t)o.senders * g.maxseq, sizeof *w->rcv);
		}
	}
	if (o.sc == SC_FANOUT || o.sc == SC_DIRECT || o.sc == SC_NETSIM) {
		g.nstreams = o.sc == SC_DIRECT ? n : o.senders;
		g.streams = xcalloc((size_t)g.nstreams, sizeof *g.streams);
		for (int t = 0; t < o.threads; t++) {
			g.workers[t].streams = xcalloc((size_t)g.nstreams, sizeof(struct stream *));
			g.workers[t].dirty = xcalloc((size_t)g.nstreams, sizeof(struct stream *));
		}
		for (int s = 0; s < g.nstreams; s++) {
			struct stream *st = &g.streams[s];
			st->id = s;
			st->sender = &g.conns[s];
			const char *target;
			if (o.sc == SC_NETSIM) {
				/* the senders: the first clients of the sender node; no observer (fixed rate) */
				st->sender = &g.conns[o.sender_node + s * o.nnodes];
				st->nrecv = n - 1;
				st->ts = xcalloc(g.maxseq, sizeof *st->ts);
				target = chans[0];
			} else if (o.sc == SC_FANOUT) {
				/* the observer: the first non-sender member served by the same worker */
				int obs = o.senders;
				while (g.conns[obs].w != st->sender->w)
					obs++;
				st->observer = &g.conns[obs];
				st->nrecv = n - 1;
				target = chans[0];
			} else {
				st->observer = &g.conns[s ^ 1];
				st->nrecv = 1;
				target = st->observer->nick;
			}
			char pad[64] = "";
			if (o.pad > 0) {
				int k = o.pad < (int)sizeof pad - 2 ? o.pad : (int)sizeof pad - 2;
				memset(pad, 'x', (size_t)k);
				pad[k] = ' ';
				pad[k + 1] = '\0';
			}
			st->prefix_len = snprintf(st->prefix, sizeof st->prefix, "PRIVMSG %s :%s%s %d ", target, pad, g.marker, s);
			st->sender->stream = st;
			struct worker *w = st->sender->w;
			w->streams[w->nstreams++] = st;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = &g.conns[i];
			if (o.sc == SC_FANOUT || o.sc == SC_NETSIM) {
				c->rx_base = 0;
				c->rx_n = g.nstreams;
			} else {
				c->rx_base = i ^ 1;
				c->rx_n = 1;
			}
			c->rx = xcalloc((size_t)c->rx_n, sizeof *c->rx);
		}
	}
}

/* The address of every node (one, --port, except for netsim's --ports). */
static void resolve(void)
{
	if (o.sc != SC_NETSIM) {
		o.nnodes = 1;
		o.ports[0] = o.port;
	} else if (o.nnodes < 1) {
		die("netsim needs --ports");
	}
	for (int k = 0; k < o.nnodes; k++) {
		struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
		char port[16];
		snprintf(port, sizeof port, "%d", o.ports[k]);
		int r = getaddrinfo(o.host, port, &hints, &res);
		if (r)
			die("%s: %s", o.host, gai_strerror(r));
		memcpy(&g.addr[k], res->ai_addr, sizeof g.addr[k]);
		freeaddrinfo(res);
	}
}

/* A comma-separated list of up to MAX_NODES integers into v; returns how many. */
static int int_list(const char *arg, int *v)
{
	int n = 0;
	for (const char *p = arg; *p;) {
		char *end;
		long x = strtol(p, &end, 10);
		if (end == p || n == MAX_NODES || x < 0 || x > 65535)
			die("bad list %s", arg);
		v[n++] = (int)x;
		p = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			die("bad list %s", arg);
	}
	return n;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	if ((rlim_t)g.nconns + 16 + 4 * (rlim_t)o.threads > rl.rlim_cur)
		die("%d connections need more than the file descriptor limit %llu", g.nconns,
		    (unsigned long long)rl.rlim_cur);
}


/* ------------------------------------------------------------------------------------- */
/* netsim: the split, and the report per node */

static struct {
	double cpu_setup[MAX_NODES], cpu_meas[MAX_NODES]; /* cores, over setup and the window */
	long rss_setup[MAX_NODES], rss_end[MAX_NODES];    /* VmRSS after setup and at the end */
	uint64_t t_seen;                                  /* a client saw the split (a QUIT) */
	int split_rc;                                     /* --split-cmd's exit status */
} nsim = {.split_rc = -1};

static void nodes_cpu(double *v)
{
	for (int k = 0; k < o.nnodes; k++)
		v[k] = proc_cpu(o.pids[k]);
}

static bool nodes_alive(void)
{
	for (int k = 0; k < o.nnodes; k++)
		if (!proc_alive(o.pids[k]))
			return false;
	return true;
}

/* Polls every 2 ms until `until`: runs --split-cmd when due, notes when a client first
 * misses a member (t_seen) and when every client sees every member again (t_restored). */
static void netsim_watch(uint64_t until)
{
	uint64_t n = (uint64_t)g.nconns;
	for (uint64_t t = now_ns(); t < until; t = now_ns()) {
		if (o.split_at >= 0 && o.split_cmd && !g.t_cut && t >= g.meas_start + (uint64_t)(o.split_at * 1e9)) {
			atomic_store_explicit(&g.t_cut, now_ns(), memory_order_release);
			nsim.split_rc = system(o.split_cmd);
			if (nsim.split_rc != -1 && WIFEXITED(nsim.split_rc))
				nsim.split_rc = WEXITSTATUS(nsim.split_rc);
		}
		if (g.t_cut && !g.t_restored) {
			uint64_t conv = sum_pub(P_CONVERGED);
			if (!nsim.t_seen && conv < n)
				nsim.t_seen = now_ns();
			else if (nsim.t_seen && conv == n)
				atomic_store_explicit(&g.t_restored, now_ns(), memory_order_release);
		}
		usleep(2000);
	}
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static double pct_ms(const struct hist *h, double q)
{
	return h->count ? ms(hist_quantile(h, q)) : 0;
}

/* Per node: deliveries expected and missing (or duplicated) per send period, latency,
 * reordering, when delivery resumed after the cut, CPU and memory. Messages sent from 1 s
 * before the cut (in flight when it happened) to the restore are the split window; a
 * delivery missing outside it is a loss. Returns the losses, duplicates and reorderings
 * outside the split window. */
static uint64_t netsim_report(char *res, size_t size, int *rl)
{
	uint64_t cut = g.t_cut, back = g.t_restored, bad = 0;
	uint64_t win_lo = g.win_lo, win_hi = back ? back : UINT64_MAX;
	printf("  %d nodes, %d clients, senders on node %d, %.0f messages/s\n", o.nnodes, g.nconns, o.sender_node, o.rate);
	if (cut)
		printf("  split command exit %d; first client saw it %.1f ms after the cut; every client saw the whole"
		       " channel again %s%.1f ms after the cut\n",
		       nsim.split_rc, nsim.t_seen ? ms(nsim.t_seen - cut) : -1, back ? "" : "NEVER: ", back ? ms(back - cut) : -1);
	for (int k = 0; k < o.nnodes; k++) {
		uint64_t msgs[NS_PERIODS] = {0}, exp[NS_PERIODS] = {0}, miss[NS_PERIODS] = {0}, dup[NS_PERIODS] = {0};
		uint64_t last_bad = 0, resume = UINT64_MAX;
		uint64_t recv = (uint64_t)g.node_members[k] - (k == o.sender_node ? 1 : 0);
		for (int pass = 0; pass < 2; pass++)
			for (int sidx = 0; sidx < g.nstreams; sidx++) {
				struct stream *st = &g.streams[sidx];
				uint32_t nq = st->sent < g.maxseq ? st->sent : g.maxseq;
				for (uint32_t q = 0; q < nq; q++) {
					uint64_t ts = st->ts[q], got = 0;
					if (pass == 1) { /* the first message after the last one not delivered */
						if (cut && ts > last_bad && ts < resume)
							resume = ts;
						continue;
					}
					for (int t = 0; t < o.threads; t++)
						got += g.workers[t].rcv[((size_t)k * (size_t)g.nstreams + (size_t)sidx) * g.maxseq + q];
					int p = win_lo && ts >= win_lo && ts < win_hi ? NS_SPLIT : NS_LINKED;
					msgs[p]++;
					exp[p] += recv;
					if (got < recv) {
						miss[p] += recv - got;
						if (ts > last_bad)
							last_bad = ts;
					} else {
						dup[p] += got - recv;
					}
				}
			}
		struct hist *h = xcalloc(NS_PERIODS, sizeof *h);
		uint64_t reo = 0, gaps = 0, worst = 0, worst_ts = 0;
		for (int t = 0; t < o.threads; t++) {
			if (g.workers[t].nworst[k] > worst) {
				worst = g.workers[t].nworst[k];
				worst_ts = g.workers[t].nworst_ts[k];
			}
			for (int p = 0; p < NS_PERIODS; p++)
				hist_merge(&h[p], &g.workers[t].nlat[k * NS_PERIODS + p]);
			reo += g.workers[t].nreordered[k];
			gaps += g.workers[t].ngaps[k];
		}
		bad += miss[NS_LINKED] + dup[NS_LINKED] + dup[NS_SPLIT] + reo;
		double resume_ms = cut && last_bad >= win_lo && resume != UINT64_MAX ? ms(resume - cut) : -1;
		printf("  node %d (%d members): linked p50 %.3f ms, p99 %.3f ms, max %.3f ms; %" PRIu64 "/%" PRIu64
		       " deliveries missing, %" PRIu64 " duplicated, %" PRIu64 " reordered; split window: %" PRIu64
		       " messages, %" PRIu64 "/%" PRIu64 " not delivered; CPU %.2f cores, VmRSS %ld KiB\n",
		       k, g.node_members[k], pct_ms(&h[NS_LINKED], 0.5), pct_ms(&h[NS_LINKED], 0.99), ms(h[NS_LINKED].max),
		       miss[NS_LINKED], exp[NS_LINKED], dup[NS_LINKED], reo, msgs[NS_SPLIT], miss[NS_SPLIT], exp[NS_SPLIT],
		       nsim.cpu_meas[k], nsim.rss_end[k]);
		printf("NODE node=%d port=%d members=%d receivers=%" PRIu64 " lat_count=%" PRIu64 " p50_ms=%.3f p99_ms=%.3f"
		       " p999_ms=%.3f max_ms=%.3f msgs=%" PRIu64 " expected=%" PRIu64 " missing=%" PRIu64 " duplicated=%" PRIu64
		       " reordered=%" PRIu64 " gaps=%" PRIu64 " split_msgs=%" PRIu64 " split_expected=%" PRIu64
		       " split_missing=%" PRIu64 " split_duplicated=%" PRIu64 " split_lat_count=%" PRIu64 " split_p50_ms=%.3f"
		       " split_p99_ms=%.3f split_max_ms=%.3f resume_ms=%.1f max_sent_s=%.3f cpu_setup=%.2f cpu=%.2f rss_setup_kib=%ld"
		       " rss_end_kib=%ld\n",
		       k, o.ports[k], g.node_members[k], recv, h[NS_LINKED].count, pct_ms(&h[NS_LINKED], 0.5),
		       pct_ms(&h[NS_LINKED], 0.99), pct_ms(&h[NS_LINKED], 0.999), ms(h[NS_LINKED].max), msgs[NS_LINKED],
		       exp[NS_LINKED], miss[NS_LINKED], dup[NS_LINKED], reo, gaps, msgs[NS_SPLIT], exp[NS_SPLIT],
		       miss[NS_SPLIT], dup[NS_SPLIT], h[NS_SPLIT].count, pct_ms(&h[NS_SPLIT], 0.5),
		       pct_ms(&h[NS_SPLIT], 0.99), ms(h[NS_SPLIT].max), resume_ms,
		       worst_ts ? ((double)worst_ts - (double)g.meas_start) / 1e9 : -1, nsim.cpu_setup[k], nsim.cpu_meas[k],
		       nsim.rss_setup[k], nsim.rss_end[k]);
		free(h);
	}
	*rl += snprintf(res + *rl, size - (size_t)*rl,
	                " nodes=%d clients=%d senders=%d sender_node=%d split=%d split_rc=%d cut_s=%.3f seen_ms=%.1f"
	                " restored_ms=%.1f",
	                o.nnodes, g.nconns, o.senders, o.sender_node, cut != 0, nsim.split_rc,
	                cut ? ((double)cut - (double)g.meas_start) / 1e9 : -1,
	                cut && nsim.t_seen ? ms(nsim.t_seen - cut) : -1, cut && back ? ms(back - cut) : -1);
	return bad + (cut && !back);
}

/* ------------------------------------------------------------------------------------- */
/* Main */

static void usage(void)
{
	fputs("usage: ircbench --scenario idle|fanout|direct|connect|netsim [options]\n"
	      "  --host H --port P --tls        server address (default 127.0.0.1:6667)\n"
	      "  --ws                           WebSocket (text.ircv3.net) instead of a byte stream\n"
	      "  --label NAME --pid PID         server name for RESULT; its PID for CPU and VmRSS\n"
	      "  --clients N                    idle: clients; fanout: channel members (100)\n"
	      "  --per-channel N                idle: clients per channel (50)\n"
	      "  --senders K                    fanout: senders among the members (10)\n"
	      "  --pairs P                      direct: pairs of clients (50)\n"
	      "  --inflight W                   window mode: unacknowledged messages per sender (16)\n"
	      "  --rate R                       fixed-rate mode: total messages/s over all senders\n"
	      "  --parallel P                   connect: cycles in flight (10)\n"
	      "  --setup-inflight S             connections registering at once during setup (50)\n"
	      "  --threads T                    worker threads (2)\n"
	      "  --duration S --warmup S        measuring window and time before it (5, 1)\n"
	      "  --settle S --drain S           wait after setup; max wait for in-flight messages (1, 10)\n"
	      "  --setup-timeout S              give up setting up after S seconds (120)\n"
	      "  --pad N                        extra bytes in each message (0)\n"
	      "  --src-ips N                    spread connections over 127.0.0.1..N (1)\n"
	      "  --quickack                     TCP_QUICKACK after each read (no delayed ACKs)\n"
	      "  --busy-poll                    poll without sleeping while measuring\n"
	      "  --sasl PASSWORD                log in during registration as account L<index>\n"
	      "  --scram                        with --sasl: SCRAM-SHA-256 instead of PLAIN\n"
	      "  --sasl-wait                    with --sasl: PLAIN in lockstep, CAP END after 903/904\n"
	      "  --resume                       with --tls: offer the session (ticket) of an earlier connection\n"
	      "  --extra 'k=v ...'              appended to the RESULT line\n"
	      "  netsim: --ports P0,P1,...      one port per node; client i on node i mod nodes\n"
	      "  --pids PID0,PID1,...           the nodes' PIDs (CPU, VmRSS)\n"
	      "  --sender-node K                node of the --senders (0)\n"
	      "  --split-at S --split-cmd CMD   run CMD (cut a link) S s into the measuring window\n",
	      stderr);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{"host", 1, 0, 'h'},      {"port", 1, 0, 'p'},           {"tls", 0, 0, 'T'}, {"ws", 0, 0, 'V'},
		{"label", 1, 0, 'l'},     {"pid", 1, 0, 'P'},            {"scenario", 1, 0, 's'},
		{"clients", 1, 0, 'n'},   {"per-channel", 1, 0, 'c'},    {"senders", 1, 0, 'k'},
		{"pairs", 1, 0, 'a'},     {"inflight", 1, 0, 'w'},       {"rate", 1, 0, 'r'},
		{"parallel", 1, 0, 'j'},  {"setup-inflight", 1, 0, 'S'}, {"threads", 1, 0, 't'},
		{"duration", 1, 0, 'd'},  {"warmup", 1, 0, 'W'},         {"settle", 1, 0, 'e'},
		{"drain", 1, 0, 'D'},     {"setup-timeout", 1, 0, 'O'},  {"pad", 1, 0, 'x'},
		{"src-ips", 1, 0, 'i'},   {"extra", 1, 0, 'X'},          {"quickack", 0, 0, 'Q'},
		{"busy-poll", 0, 0, 'B'}, {"help", 0, 0, '?'},          {"sasl", 1, 0, 'A'},
		{"scram", 0, 0, 'M'},     {"resume", 0, 0, 'R'},         {"sasl-wait", 0, 0, 'L'},
		{"ports", 1, 0, 'N'},     {"pids", 1, 0, 'I'},           {"sender-node", 1, 0, 'G'},
		{"split-at", 1, 0, 'Y'},  {"split-cmd", 1, 0, 'Z'},
		{0, 0, 0, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': o.host = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 'T': o.tls = true; break;
		case 'V': o.ws = true; break;
		case 'l': o.label = optarg; break;
		case 'P': o.pid = (pid_t)atoi(optarg); break;
		case 's':
			for (int i = 0;; i++) {
				if (i == NSCENARIOS)
					die("unknown scenario %s", optarg);
				if (strcmp(optarg, scenario_name[i]) == 0) {
					o.sc = (enum scenario)i;
					break;
				}
			}
			break;
		case 'n': o.clients = atoi(optarg); break;
		case 'c': o.per_channel = atoi(optarg); break;
		case 'k': o.senders = atoi(optarg); break;
		case 'a': o.pairs = atoi(optarg); break;
		case 'w': o.inflight = atoi(optarg); break;
		case 'r': o.rate = atof(optarg); break;
		case 'j': o.parallel = atoi(optarg); break;
		case 'S': o.setup_inflight = atoi(optarg); break;
		case 't': o.threads = atoi(optarg); break;
		case 'd': o.duration = atof(optarg); break;
		case 'W': o.warmup = atof(optarg); break;
		case 'e': o.settle = atof(optarg); break;
		case 'D': o.drain = atof(optarg); break;
		case 'O': o.setup_timeout = atof(optarg); break;
		case 'x': o.pad = atoi(optarg); break;
		case 'i': o.src_ips = atoi(optarg); break;
		case 'X': o.extra = optarg; break;
		case 'Q': o.quickack = true; break;
		case 'B': o.busy = true; break;
		case 'A': o.sasl_password = optarg; break;
		case 'M': o.scram = true; break;
		case 'L': o.sasl_wait = true; break;
		case 'R': o.resume = true; break;
		case 'N': o.nnodes = int_list(optarg, o.ports); break;
		case 'I': {
			int v[MAX_NODES], k = int_list(optarg, v);
			for (int i = 0; i < k; i++)
				o.pids[i] = (pid_t)v[i];
			break;
		}
		case 'G': o.sender_node = atoi(optarg); break;
		case 'Y': o.split_at = atof(optarg); break;
		case 'Z': o.split_cmd = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || o.threads < 1 || o.threads > 64 || o.per_channel < 1 || o.duration <= 0 ||
	    o.src_ips < 1 || o.src_ips > 250 || (o.rate <= 0 && o.inflight < 1))
		usage();
}

/* Waits until sum_pub(k) reaches target; prints progress each second. False on timeout or
 * when the server process is gone. */
static bool wait_for(enum pub k, uint64_t target, double timeout, const char *what)
{
	uint64_t start = now_ns(), last = start;
	for (;;) {
		uint64_t v = sum_pub(k), t = now_ns();
		if (v >= target)
			return true;
		if ((double)(t - start) / 1e9 > timeout || !proc_alive(o.pid)) {
			fprintf(stderr, "ircbench: %s: %" PRIu64 "/%" PRIu64 " after %.1f s%s\n", what, v, target,
				(double)(t - start) / 1e9, proc_alive(o.pid) ? "" : " (server process gone)");
			return false;
		}
		if (t - last > 2000000000u) {
			fprintf(stderr, "ircbench: %s: %" PRIu64 "/%" PRIu64 " (errors %" PRIu64 ")\n", what, v, target,
				sum_pub(P_ERRORS));
			last = t;
		}
		usleep(2000);
	}
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	resolve();
	if (o.tls) {
		g.ssl_ctx = SSL_CTX_new(TLS_client_method());
		if (!g.ssl_ctx)
			die("SSL_CTX_new failed");
		SSL_CTX_set_verify(g.ssl_ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_mode(g.ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
	srand((unsigned)(now_ns() ^ (uint64_t)getpid()));
	base36(g.marker + 1, sizeof g.marker - 1, 'B', 36 * 36 * 36 + (uint64_t)rand() % (35u * 36 * 36 * 36));
	g.marker[0] = '~';
	build();
	raise_fd_limit();
	long rss_base = proc_rss_kib(o.pid);
	for (int t = 0; t < o.threads; t++)
		if (pthread_create(&g.workers[t].th, NULL, worker_main, &g.workers[t]))
			die("pthread_create failed");

	bool ok = true;
	const char *failure = "";
	double setup_s = 0, setup_gen_cpu = 0, setup_srv_cpu = 0, setup_busy = 0;
	long rss = -1;
	g.meas_start = g.meas_end = UINT64_MAX;

	if (o.sc != SC_CONNECT) {
		double c0 = self_cpu(), s0 = proc_cpu(o.pid), b0 = machine_busy();
		uint64_t t0 = now_ns();
		nodes_cpu(nsim.cpu_setup);
		set_phase(PH_SETUP);
		if (!wait_for(P_REGISTERED, (uint64_t)g.nconns, o.setup_timeout, "registered")) {
			ok = false;
			failure = "setup";
		} else if (o.sc != SC_DIRECT && !wait_for(P_JOINED, (uint64_t)g.nconns, o.setup_timeout, "joined")) {
			ok = false;
			failure = "join";
		} else if (o.sc == SC_NETSIM &&
		           !wait_for(P_CONVERGED, (uint64_t)g.nconns, o.setup_timeout, "clients seeing every member")) {
			ok = false;
			failure = "converge";
		}
		uint64_t t1 = now_ns();
		setup_s = (double)(t1 - t0) / 1e9;
		setup_gen_cpu = (self_cpu() - c0) / setup_s;
		setup_srv_cpu = (proc_cpu(o.pid) - s0) / setup_s;
		setup_busy = (machine_busy() - b0) / setup_s;
		if (o.sc == SC_NETSIM) {
			double c[MAX_NODES];
			nodes_cpu(c);
			for (int k = 0; k < o.nnodes; k++) {
				nsim.cpu_setup[k] = (c[k] - nsim.cpu_setup[k]) / setup_s;
				nsim.rss_setup[k] = proc_rss_kib(o.pids[k]);
			}
		}
		if (ok)
			usleep((useconds_t)(o.settle * 1e6));
		if (o.sc == SC_IDLE)
			rss = proc_rss_kib(o.pid);
	}

	double gen_cpu = setup_gen_cpu, srv_cpu = setup_srv_cpu, busy = setup_busy;
	if (ok && o.sc != SC_IDLE) {
		uint64_t t0 = now_ns();
		g.t0 = t0;
		g.meas_start = t0 + (uint64_t)(o.warmup * 1e9);
		g.meas_end = g.meas_start + (uint64_t)(o.duration * 1e9);
		if (o.sc == SC_NETSIM && o.split_at >= 0 && o.split_cmd)
			g.win_lo = g.meas_start + (uint64_t)(o.split_at * 1e9) - 1000000000u;
		set_phase(PH_MEASURE);
		sleep_until(g.meas_start);
		double c0 = self_cpu(), s0 = proc_cpu(o.pid), b0 = machine_busy(), n0[MAX_NODES], n1[MAX_NODES];
		nodes_cpu(n0);
		if (o.sc == SC_NETSIM)
			netsim_watch(g.meas_end);
		else
			sleep_until(g.meas_end);
		double c1 = self_cpu(), s1 = proc_cpu(o.pid), b1 = machine_busy();
		nodes_cpu(n1);
		busy = (b1 - b0) / o.duration;
		gen_cpu = (c1 - c0) / o.duration;
		srv_cpu = s0 >= 0 && s1 >= 0 ? (s1 - s0) / o.duration : -1;
		if (o.sc == SC_NETSIM) { /* server_cpu: every node's */
			srv_cpu = 0;
			for (int k = 0; k < o.nnodes; k++) {
				nsim.cpu_meas[k] = (n1[k] - n0[k]) / o.duration;
				srv_cpu += nsim.cpu_meas[k];
			}
		}
		/* drain: every worker past the end of sending, and everything sent delivered (netsim:
		 * the split restored and nothing delivered for 500 ms; messages sent while split are
		 * never delivered) */
		uint64_t deadline = g.meas_end + (uint64_t)(o.drain * 1e9), last_change = now_ns(), last_n = 0;
		while (now_ns() < deadline) {
			if (o.sc == SC_NETSIM) {
				netsim_watch(now_ns() + 5000000u);
				uint64_t d = sum_pub(P_DELIVERED), t = now_ns();
				if (d != last_n) {
					last_n = d;
					last_change = t;
				}
				if (min_pub_now() > g.meas_end + 30000000u && (!g.t_cut || g.t_restored) &&
				    (d >= sum_pub(P_EXPECTED) || t - last_change > 500000000u))
					break;
				continue;
			}
			usleep(5000);
			if (min_pub_now() <= g.meas_end + 30000000u)
				continue;
			if (o.sc == SC_CONNECT)
				break;
			if (sum_pub(P_DELIVERED) >= sum_pub(P_EXPECTED))
				break;
		}
		for (int k = 0; k < o.nnodes && o.sc == SC_NETSIM; k++)
			nsim.rss_end[k] = proc_rss_kib(o.pids[k]);
	}
	if (!proc_alive(o.pid) || (o.sc == SC_NETSIM && !nodes_alive())) {
		ok = false;
		failure = "server_died";
	}
	set_phase(PH_STOP);
	for (int t = 0; t < o.threads; t++)
		pthread_join(g.workers[t].th, NULL);

	/* totals */
	struct hist *lat = xcalloc(1, sizeof *lat), *quit = xcalloc(1, sizeof *quit);
	uint64_t registered = 0, delivered = 0, delivered_win = 0, errors = 0, disconnects = 0;
	uint64_t reordered = 0, gaps = 0, unexpected = 0, overflows = 0, foreign = 0, cycles = 0, cycles_win = 0;
	uint64_t first_launch = UINT64_MAX, last_reg = 0, handshakes = 0, resumed = 0;
	for (int t = 0; t < o.threads; t++) {
		struct worker *w = &g.workers[t];
		handshakes += w->handshakes;
		resumed += w->resumed;
		hist_merge(lat, &w->lat);
		hist_merge(quit, &w->quit);
		registered += w->registered;
		delivered += w->delivered;
		delivered_win += w->delivered_win;
		errors += w->errors;
		disconnects += w->disconnects;
		reordered += w->reordered;
		gaps += w->gaps;
		unexpected += w->unexpected;
		overflows += w->overflows;
		foreign += w->foreign;
		cycles += w->cycles;
		cycles_win += w->cycles_win;
		if (w->first_launch && w->first_launch < first_launch)
			first_launch = w->first_launch;
		if (w->last_registered > last_reg)
			last_reg = w->last_registered;
	}
	uint64_t sent = 0, lost = 0, dup = 0;
	for (int s = 0; s < g.nstreams; s++)
		sent += g.streams[s].sent;
	for (int i = 0; i < g.nconns && g.nstreams; i++) {
		struct conn *c = &g.conns[i];
		for (int k = 0; k < c->rx_n; k++) {
			struct stream *st = &g.streams[c->rx_base + k];
			if (st->sender == c)
				continue;
			uint32_t got = c->rx[k].count;
			if (got < st->sent)
				lost += st->sent - got;
			else
				dup += got - st->sent;
		}
	}
	for (int i = 0; i < g.nconns; i++)
		if (g.conns[i].fd >= 0)
			conn_close(&g.conns[i], true);

	/* report */
	const char *sname = scenario_name[o.sc];
	char mode[64] = "";
	if (o.sc == SC_FANOUT || o.sc == SC_DIRECT || o.sc == SC_NETSIM) {
		if (o.rate > 0)
			snprintf(mode, sizeof mode, "mode=rate rate=%.0f", o.rate);
		else
			snprintf(mode, sizeof mode, "mode=window inflight=%d", o.inflight);
	}
	char nsres[512] = "";
	int nsl = 0;
	printf("== %s %s %s\n", o.label, sname, mode);
	/* netsim: deliveries missing while split are expected, not a failure */
	if (o.sc == SC_NETSIM ? netsim_report(nsres, sizeof nsres, &nsl) || disconnects || unexpected
	                      : lost || reordered || dup || disconnects || unexpected) {
		ok = false;
		if (!*failure)
			failure = "integrity";
	}
	char res[2048];
	int rl = 0;
#define ADD(...) rl += snprintf(res + rl, sizeof res - (size_t)rl, __VA_ARGS__)
	ADD("RESULT server=%s scenario=%s status=%s%s%s", o.label, sname, ok ? "ok" : "fail", *failure ? " failure=" : "",
	    failure);
	if (*mode)
		ADD(" %s", mode);
	ADD(" tls=%d ws=%d threads=%d", o.tls, o.ws, o.threads);
	if (o.tls)
		ADD(" tls_handshakes=%" PRIu64 " tls_resumed=%" PRIu64, handshakes, resumed);
	switch (o.sc) {
	case SC_IDLE: {
		double reg_s = last_reg > first_launch ? (double)(last_reg - first_launch) / 1e9 : 0;
		double regps = reg_s > 0 ? (double)registered / reg_s : 0;
		double per = rss >= 0 && rss_base >= 0 ? (double)(rss - rss_base) / g.nconns : -1;
		int nchan = (g.nconns + o.per_channel - 1) / o.per_channel;
		printf("  %d clients in %d channels, setup %.2f s with %d in flight: %.0f registrations/s\n", g.nconns, nchan,
		       setup_s, o.setup_inflight, regps);
		printf("  server VmRSS %ld KiB before, %ld KiB after: %.2f KiB per client\n", rss_base, rss, per);
		printf("  errors %" PRIu64 ", disconnects %" PRIu64 "; CPU during setup: generator %.2f, server %.2f cores\n",
		       errors, disconnects, setup_gen_cpu, setup_srv_cpu);
		ADD(" clients=%d channels=%d setup_inflight=%d registered=%" PRIu64 " setup_s=%.2f registrations_per_s=%.0f"
		    " rss_base_kib=%ld rss_kib=%ld mem_per_client_kib=%.3f errors=%" PRIu64 " disconnects=%" PRIu64,
		    g.nconns, nchan, o.setup_inflight, registered, setup_s, regps, rss_base, rss, per, errors, disconnects);
		break;
	}
	case SC_FANOUT:
	case SC_DIRECT: {
		double dps = (double)delivered_win / o.duration;
		uint64_t p50 = hist_quantile(lat, 0.5), p99 = hist_quantile(lat, 0.99), p999 = hist_quantile(lat, 0.999);
		if (o.sc == SC_FANOUT)
			printf("  %d members, %d senders: ", g.nconns, o.senders);
		else
			printf("  %d pairs: ", o.pairs);
		printf("%" PRIu64 " messages sent, %.0f deliveries/s in %.1f s\n", sent, dps, o.duration);
		printf("  latency p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n", ms(p50), ms(p99), ms(p999),
		       ms(lat->max));
		printf("  lost %" PRIu64 ", reordered %" PRIu64 ", duplicated %" PRIu64 ", disconnects %" PRIu64
		       "; CPU: generator %.2f, server %.2f cores\n",
		       lost, reordered, dup, disconnects, gen_cpu, srv_cpu);
		if (o.sc == SC_FANOUT)
			ADD(" members=%d senders=%d", g.nconns, o.senders);
		else
			ADD(" pairs=%d", o.pairs);
		ADD(" duration=%.1f sent=%" PRIu64 " deliveries=%" PRIu64 " deliveries_per_s=%.0f p50_ms=%.3f p99_ms=%.3f"
		    " p999_ms=%.3f max_ms=%.3f lost=%" PRIu64 " reordered=%" PRIu64 " duplicated=%" PRIu64 " gaps=%" PRIu64
		    " disconnects=%" PRIu64 " errors=%" PRIu64,
		    o.duration, sent, delivered, dps, ms(p50), ms(p99), ms(p999), ms(lat->max), lost, reordered, dup, gaps,
		    disconnects, errors);
		break;
	}
	case SC_NETSIM:
		ADD("%s sent=%" PRIu64 " deliveries=%" PRIu64 " missing_total=%" PRIu64 " disconnects=%" PRIu64
		    " errors=%" PRIu64 " duration=%.1f",
		    nsres, sent, delivered, lost, disconnects, errors, o.duration);
		break;
	case SC_CONNECT: {
		double cps = (double)cycles_win / o.duration;
		uint64_t p50 = hist_quantile(lat, 0.5), p99 = hist_quantile(lat, 0.99);
		printf("  %d in flight: %.0f connect-register-quit cycles/s (%" PRIu64 " in %.1f s), errors %" PRIu64 "\n",
		       o.parallel, cps, cycles_win, o.duration, errors);
		uint64_t q50 = hist_quantile(quit, 0.5), q99 = hist_quantile(quit, 0.99);
		printf("  connect to 001: p50 %.3f ms, p99 %.3f ms, max %.3f ms; QUIT to close: p50 %.3f ms, p99 %.3f ms\n",
		       ms(p50), ms(p99), ms(lat->max), ms(q50), ms(q99));
		printf("  CPU: generator %.2f, server %.2f cores\n", gen_cpu, srv_cpu);
		ADD(" parallel=%d duration=%.1f cycles=%" PRIu64 " cycles_per_s=%.0f reg_p50_ms=%.3f reg_p99_ms=%.3f"
		    " reg_max_ms=%.3f quit_p50_ms=%.3f quit_p99_ms=%.3f errors=%" PRIu64,
		    o.parallel, o.duration, cycles_win, cps, ms(p50), ms(p99), ms(lat->max), ms(q50), ms(q99), errors);
		break;
	}
	}
	if (unexpected || overflows || foreign)
		ADD(" unexpected=%" PRIu64 " overflows=%" PRIu64 " foreign=%" PRIu64, unexpected, overflows, foreign);
	/* other_cpu: the machine's busy time not charged to the generator or the server (other
	 * processes, and kernel work such as softirqs that is charged to no process) */
	double other = busy - gen_cpu - (srv_cpu > 0 ? srv_cpu : 0);
	ADD(" gen_cpu=%.2f server_cpu=%.2f other_cpu=%.2f", gen_cpu, srv_cpu, other > 0 ? other : 0);
	if (*o.extra)
		ADD(" %s", o.extra);
#undef ADD
	printf("%s\n", res);
	fflush(stdout);
	free(lat);
	free(quit);
	return ok ? 0 : 1;
}
