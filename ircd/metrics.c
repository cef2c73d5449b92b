/* metrics.c - the Prometheus text exposition (format 0.0.4) of the daemon's counters.
 *
 * Counters live in struct metrics (metrics.h), incremented where their event happens.
 * Gauges are computed here when scraped, from the state the loop owns anyway: one walk
 * of the client list (per class, registered, TLS, flood-held), the channel table's size,
 * the storage queue's length. Process figures come from /proc/self (procfs: no disk I/O)
 * and only on a scrape. Every family has its HELP and TYPE lines, and every labelled
 * series is written even when it is 0, so a rate() never starts from a missing series. */
#include "metrics.h"

#include "channel.h"
#include "client.h"
#include "history.h"
#include "ircd.h"
#include "storage.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct metrics metrics;

unsigned long long metrics_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

void metrics_write_done(unsigned long long start)
{
	static const double bounds[] = METRICS_WRITE_BOUNDS;
	unsigned long long ns = metrics_clock() - start;
	int i = 0;
	while (i < METRICS_WRITE_BUCKETS && (double)ns > bounds[i] * 1e9)
		i++;
	METRICS_ADD(write_count[i], 1);
	METRICS_ADD(write_ns, ns);
}

#define LOAD(field) __atomic_load_n(&metrics.field, __ATOMIC_RELAXED)

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped, as the format requires. */
static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void clients(FILE *f)
{
	const struct conf *conf = ircd.conf;
	unsigned count[CONF_MAX_CLASSES][2][2] = {{{0}}}; /* [class][registered][tls] */
	unsigned held = 0;
	for (const struct client *c = ircd.clients; c; c = c->next) {
		if (client_dead(c) || (c->flags & CLI_GHOST)) /* connections only */
			continue;
		count[c->class - conf->classes][client_registered(c)][c->conn.ssl != NULL]++;
		held += (c->flags & CLI_FLOOD_HELD) != 0;
	}
	family(f, "parley_clients", "gauge", "Connections, by class, registration and TLS.");
	for (int i = 0; i < conf->nclasses; i++)
		for (int r = 1; r >= 0; r--)
			for (int t = 0; t < 2; t++) {
				fputs("parley_clients{class=\"", f);
				label_value(f, conf->classes[i].name);
				fprintf(f, "\",registered=\"%s\",tls=\"%s\"} %u\n", r ? "true" : "false", t ? "true" : "false",
				        count[i][r][t]);
			}
	family(f, "parley_clients_flood_held", "gauge", "Clients whose input flood control is holding now (fakelag).");
	fprintf(f, "parley_clients_flood_held %u\n", held);
	family(f, "parley_operators", "gauge", "Clients with operator status.");
	fprintf(f, "parley_operators %u\n", ircd.nopers);
	family(f, "parley_channels", "gauge", "Channels that exist now.");
	fprintf(f, "parley_channels %u\n", channel_count());
}

static void messages(FILE *f)
{
	static const char *const commands[METRICS_RELAY_KINDS] = {"PRIVMSG", "NOTICE", "TAGMSG"};
	static const char *const mechanisms[METRICS_LOGIN_KINDS] = {"PLAIN", "EXTERNAL", "PASS"};
	family(f, "parley_messages_relayed_total", "counter",
	       "PRIVMSG, NOTICE and TAGMSG accepted for relay, one per target.");
	for (int i = 0; i < METRICS_RELAY_KINDS; i++)
		fprintf(f, "parley_messages_relayed_total{command=\"%s\"} %llu\n", commands[i], metrics.relayed[i]);
	family(f, "parley_message_deliveries_total", "counter",
	       "Copies of relayed messages queued to recipients, echo-message copies included.");
	fprintf(f, "parley_message_deliveries_total %llu\n", metrics.deliveries);
	family(f, "parley_sendq_exceeded_total", "counter", "Clients disconnected because their SendQ was full.");
	fprintf(f, "parley_sendq_exceeded_total %llu\n", metrics.sendq_exceeded);
	family(f, "parley_logins_total", "counter", "Account logins checked (SASL PLAIN and EXTERNAL, PASS), by result.");
	for (int i = 0; i < METRICS_LOGIN_KINDS; i++)
		for (int ok = 1; ok >= 0; ok--)
			fprintf(f, "parley_logins_total{mechanism=\"%s\",result=\"%s\"} %llu\n", mechanisms[i],
			        ok ? "ok" : "failed", metrics.logins[i][ok]);
}

static void storage(FILE *f)
{
	family(f, "parley_storage_queue_jobs", "gauge", "Jobs waiting for the storage thread.");
	fprintf(f, "parley_storage_queue_jobs %u\n", storage_queue_length());
	family(f, "parley_history_queue_rows", "gauge", "History rows relayed and not yet written or journaled.");
	fprintf(f, "parley_history_queue_rows %ld\n", history_queued_rows());
	family(f, "parley_history_rows_written_total", "counter",
	       "History rows in INSERTs that succeeded (journal replays included).");
	fprintf(f, "parley_history_rows_written_total %llu\n", LOAD(history_rows_written));
	family(f, "parley_history_rows_journaled_total", "counter",
	       "History rows appended to the journal because the database was down or behind.");
	fprintf(f, "parley_history_rows_journaled_total %llu\n", LOAD(history_rows_journaled));
	family(f, "parley_history_journal_bytes", "gauge", "Size of the history journal waiting for replay.");
	fprintf(f, "parley_history_journal_bytes %llu\n", LOAD(journal_bytes));
	static const double bounds[] = METRICS_WRITE_BOUNDS;
	family(f, "parley_history_write_duration_seconds", "histogram",
	       "Time the storage thread took to write one history batch (one transaction).");
	unsigned long long cumulative = 0;
	for (int i = 0; i <= METRICS_WRITE_BUCKETS; i++) {
		cumulative += LOAD(write_count[i]);
		if (i < METRICS_WRITE_BUCKETS)
			fprintf(f, "parley_history_write_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i], cumulative);
	}
	fprintf(f, "parley_history_write_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cumulative);
	fprintf(f, "parley_history_write_duration_seconds_sum %.9f\n", (double)LOAD(write_ns) / 1e9);
	fprintf(f, "parley_history_write_duration_seconds_count %llu\n", cumulative);
}

/* Resident memory from /proc/self/statm (pages), open descriptors from /proc/self/fd. */
static void process(FILE *f)
{
	family(f, "parley_start_time_seconds", "gauge", "When the daemon started, in seconds since the epoch.");
	fprintf(f, "parley_start_time_seconds %lld\n", (long long)ircd.started);
	family(f, "parley_uptime_seconds", "gauge", "Seconds since the daemon started.");
	fprintf(f, "parley_uptime_seconds %lld\n", (long long)(time(NULL) - ircd.started));
	FILE *statm = fopen("/proc/self/statm", "r");
	unsigned long long size, resident;
	if (statm && fscanf(statm, "%llu %llu", &size, &resident) == 2) {
		family(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
		fprintf(f, "process_resident_memory_bytes %llu\n", resident * (unsigned long long)sysconf(_SC_PAGESIZE));
	}
	if (statm)
		fclose(statm);
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		long n = -1; /* the directory's own descriptor is listed too */
		for (struct dirent *e; (e = readdir(d));)
			n += e->d_name[0] != '.';
		closedir(d);
		family(f, "process_open_fds", "gauge", "Open file descriptors.");
		fprintf(f, "process_open_fds %ld\n", n);
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		family(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
		fprintf(f, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
}

char *metrics_render(size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (!f)
		abort();
	family(f, "parley_info", "gauge", "Always 1: the version and server name as labels.");
	fputs("parley_info{version=\"" PARLEY_VERSION "\",server=\"", f);
	label_value(f, ircd.conf->server_name);
	fputs("\"} 1\n", f);
	clients(f);
	messages(f);
	storage(f);
	process(f);
	if (fclose(f) != 0 || !text)
		abort();
	return text;
}
