/* histbench: latency of history queries (Parley issues 6 and 8, docs/BENCHMARKS.md).
 *
 * One client registers with batch, server-time, message-tags, draft/chathistory and
 * soju.im/search (so joining replays nothing), joins --channel, then sends --query
 * --count times, one at a time, and times each from the write of the query to the read
 * of the line that ends its answer (the closing "BATCH -", or a FAIL). Queries of the
 * --warmup before are not counted.
 *
 * In the query, "%T" becomes a random timestamp=YYYY-MM-DDThh:mm:ss.sssZ between
 * --from-ms and --to-ms, so BEFORE/AFTER queries land all over the stored range instead
 * of on one cached page.
 *
 * Output: a readable summary, then "RESULT key=value ..." for scripts. Exit status 0 when
 * every query was answered without FAIL. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fd = -1;
static char rbuf[1 << 20];
static size_t rlen;

static void die(const char *why)
{
	fprintf(stderr, "histbench: %s\n", why);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void send_line(const char *line)
{
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "%s\r\n", line);
	if (n < 0 || (size_t)n >= sizeof buf)
		die("line too long");
	for (int off = 0; off < n;) {
		ssize_t w = write(fd, buf + off, (size_t)(n - off));
		if (w <= 0)
			die("write failed");
		off += (int)w;
	}
}

/* Returns the next line without CRLF (valid until the next call). */
static char *read_line(void)
{
	static size_t consumed;
	if (consumed) {
		memmove(rbuf, rbuf + consumed, rlen - consumed);
		rlen -= consumed;
		consumed = 0;
	}
	for (;;) {
		char *nl = memchr(rbuf, '\n', rlen);
		if (nl) {
			*nl = '\0';
			if (nl > rbuf && nl[-1] == '\r')
				nl[-1] = '\0';
			consumed = (size_t)(nl - rbuf) + 1;
			return rbuf;
		}
		if (rlen == sizeof rbuf)
			die("line longer than the read buffer");
		ssize_t r = read(fd, rbuf + rlen, sizeof rbuf - rlen);
		if (r <= 0)
			die("connection closed by the server");
		rlen += (size_t)r;
	}
}

/* The command word of an IRC line (after tags and source). */
static const char *command_of(const char *line, char *out, size_t size)
{
	const char *p = line;
	if (*p == '@')
		p = strchr(p, ' ') ? strchr(p, ' ') + 1 : p + strlen(p);
	if (*p == ':')
		p = strchr(p, ' ') ? strchr(p, ' ') + 1 : p + strlen(p);
	size_t n = strcspn(p, " ");
	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return p + n;
}

static void connect_to(const char *host, int port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	char ports[16];
	snprintf(ports, sizeof ports, "%d", port);
	if (getaddrinfo(host, ports, &hints, &ai) != 0)
		die("cannot resolve host");
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("cannot connect");
	freeaddrinfo(ai);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void register_and_join(const char *nick, const char *channel)
{
	char line[512], cmd[32];
	send_line("CAP LS 302");
	send_line("CAP REQ :batch server-time message-tags draft/chathistory soju.im/search");
	snprintf(line, sizeof line, "NICK %s", nick);
	send_line(line);
	snprintf(line, sizeof line, "USER %s 0 * :histbench", nick);
	send_line(line);
	send_line("CAP END");
	for (;;) {
		char *l = read_line();
		command_of(l, cmd, sizeof cmd);
		if (strcmp(cmd, "PING") == 0) {
			l[1] = 'O';
			send_line(l);
		} else if (strcmp(cmd, "001") == 0) {
			break;
		} else if (strcmp(cmd, "ERROR") == 0 || strcmp(cmd, "433") == 0) {
			fprintf(stderr, "%s\n", l);
			die("registration refused");
		}
	}
	snprintf(line, sizeof line, "JOIN %s", channel);
	send_line(line);
	for (;;) {
		char *l = read_line();
		command_of(l, cmd, sizeof cmd);
		if (strcmp(cmd, "366") == 0)
			return;
		if (cmd[0] == '4' && strlen(cmd) == 3 && strcmp(cmd, "422") != 0) { /* 422: no MOTD, from the burst */
			fprintf(stderr, "%s\n", l);
			die("JOIN refused");
		}
	}
}

/* The query with each %T replaced by a random timestamp selector in [from, to] ms. */
static void expand(const char *query, long long from_ms, long long to_ms, char *out, size_t size)
{
	size_t n = 0;
	for (const char *p = query; *p && n + 40 < size; p++) {
		if (p[0] == '%' && p[1] == 'T') {
			long long span = to_ms > from_ms ? to_ms - from_ms : 1;
			long long ms = from_ms + (long long)(((double)random() / RAND_MAX) * (double)span);
			time_t s = (time_t)(ms / 1000);
			struct tm tm;
			gmtime_r(&s, &tm);
			n += strftime(out + n, size - n, "timestamp=%Y-%m-%dT%H:%M:%S", &tm);
			n += (size_t)snprintf(out + n, size - n, ".%03dZ", (int)(ms % 1000));
			p++;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

/* Runs one query; returns the rows it got, or -1 on FAIL. */
static int run_query(const char *q)
{
	send_line(q);
	int rows = 0;
	char cmd[32];
	for (;;) {
		char *l = read_line();
		const char *rest = command_of(l, cmd, sizeof cmd);
		if (strcmp(cmd, "PING") == 0) {
			char pong[600];
			snprintf(pong, sizeof pong, "PONG%s", rest);
			send_line(pong);
		} else if (strcmp(cmd, "FAIL") == 0) {
			fprintf(stderr, "  %s\n", l);
			return -1;
		} else if (strcmp(cmd, "BATCH") == 0 && rest[0] == ' ' && rest[1] == '-') {
			return rows;
		} else if (strncmp(l, "@batch=", 7) == 0) {
			rows++;
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(const uint64_t *v, int n, double p)
{
	if (n == 0)
		return 0;
	int i = (int)(p * (n - 1) + 0.5);
	return (double)v[i] / 1e6;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *nick = "histbench", *channel = "#hist", *query = NULL, *label = "parley";
	const char *name = "query", *extra = "";
	int port = 6667, count = 1000, warmup = 50;
	long long from_ms = 0, to_ms = 0;
	static const struct option opts[] = {
	    {"host", 1, 0, 'h'},    {"port", 1, 0, 'p'},   {"nick", 1, 0, 'n'},    {"channel", 1, 0, 'c'},
	    {"query", 1, 0, 'q'},   {"count", 1, 0, 'N'},  {"warmup", 1, 0, 'w'},  {"from-ms", 1, 0, 'f'},
	    {"to-ms", 1, 0, 't'},   {"label", 1, 0, 'l'},  {"name", 1, 0, 'm'},    {"extra", 1, 0, 'x'},
	    {0, 0, 0, 0},
	};
	for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (o) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'n': nick = optarg; break;
		case 'c': channel = optarg; break;
		case 'q': query = optarg; break;
		case 'N': count = atoi(optarg); break;
		case 'w': warmup = atoi(optarg); break;
		case 'f': from_ms = atoll(optarg); break;
		case 't': to_ms = atoll(optarg); break;
		case 'l': label = optarg; break;
		case 'm': name = optarg; break;
		case 'x': extra = optarg; break;
		default:
			fprintf(stderr, "usage: histbench --port P --channel C --query 'CHATHISTORY LATEST #c * 100' "
			                "[--count N] [--warmup W] [--from-ms A --to-ms B] [--label L] [--name N] "
			                "[--extra 'k=v ...']\n");
			return 2;
		}
	}
	if (!query || count <= 0)
		die("--query and a positive --count are required");
	srandom((unsigned)now_ns());
	connect_to(host, port);
	register_and_join(nick, channel);

	uint64_t *lat = calloc((size_t)count, sizeof *lat);
	if (!lat)
		die("out of memory");
	long long rows_total = 0;
	int fails = 0, min_rows = -1, max_rows = 0;
	char q[1024];
	for (int i = -warmup; i < count; i++) {
		expand(query, from_ms, to_ms, q, sizeof q);
		uint64_t t0 = now_ns();
		int rows = run_query(q);
		uint64_t t = now_ns() - t0;
		if (i < 0)
			continue;
		lat[i] = t;
		if (rows < 0) {
			fails++;
			continue;
		}
		rows_total += rows;
		if (min_rows < 0 || rows < min_rows)
			min_rows = rows;
		if (rows > max_rows)
			max_rows = rows;
	}
	qsort(lat, (size_t)count, sizeof *lat, cmp_u64);
	double p50 = pct_ms(lat, count, 0.50), p99 = pct_ms(lat, count, 0.99), max = (double)lat[count - 1] / 1e6;
	printf("%s: %d queries \"%s\": p50 %.3f ms, p99 %.3f ms, max %.3f ms; rows per answer %d-%d (mean %.1f); "
	       "%d failed\n",
	       name, count, query, p50, p99, max, min_rows < 0 ? 0 : min_rows, max_rows,
	       count > fails ? (double)rows_total / (count - fails) : 0.0, fails);
	printf("RESULT server=%s scenario=%s status=%s count=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f rows_min=%d "
	       "rows_max=%d failed=%d%s%s\n",
	       label, name, fails ? "fail" : "ok", count, p50, p99, max, min_rows < 0 ? 0 : min_rows, max_rows, fails,
	       *extra ? " " : "", extra);
	send_line("QUIT");
	free(lat);
	return fails ? 1 : 0;
}
