/* ircd.c - process start and stop: arguments, configuration, the libev loop and its
 * prepare watcher (flush pending output, then free exited clients), and signals. */
#include "ircd.h"

#include "channel.h"
#include "client.h"
#include "command.h"
#include "conf.h"
#include "conn.h"
#include "dict.h"
#include "listener.h"
#include "log.h"
#include "service.h"
#include "storage.h"
#include "workq.h"
#include "monitor.h"
#include "tls.h"

#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ircd ircd;

static ev_prepare prepare_watcher;
static ev_signal sigterm_watcher, sigint_watcher;

/* Runs once per loop iteration, just before the loop sleeps: every line produced by
 * this round of input goes out in one write per client, then exited clients (whose
 * final ERROR was just written) are freed. */
static void prepare_cb(EV_P_ ev_prepare *w, int revents)
{
	(void)w;
	(void)revents;
	conn_flush_pending();
	client_reap();
	if (ircd.shutting_down)
		ev_break(loop, EVBREAK_ALL);
}

static void shutdown_cb(EV_P_ ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	log_info("signal %d: shutting down", w->signum);
	ircd.shutting_down = true;
	listener_close_all();
	for (struct client *c = ircd.clients; c; c = c->next)
		client_exit(c, "Server shutting down");
}

static void usage(void)
{
	fprintf(stderr, "usage: parleyd [-t] [-f config]\n"
	                "  -f FILE  configuration file (default conf/parley.conf)\n"
	                "  -t       check the configuration and exit\n");
}

static void cleanup(void)
{
	dict_free(ircd.nicks);
	dict_free(ircd.ids);
	conf_free(ircd.conf);
	if (ircd.tls)
		SSL_CTX_free(ircd.tls);
}

static bool needs_tls(const struct conf *c)
{
	for (int i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].tls)
			return true;
	return false;
}

int ircd_main(int argc, char **argv)
{
	const char *path = "conf/parley.conf";
	bool test_only = false;
	int opt;
	while ((opt = getopt(argc, argv, "f:th")) != -1) {
		switch (opt) {
		case 'f': path = optarg; break;
		case 't': test_only = true; break;
		default: usage(); return 2;
		}
	}
	static char errors[8192];
	struct conf *conf = conf_load(path, errors, sizeof errors);
	SSL_CTX *tls = NULL;
	if (conf && needs_tls(conf)) {
		char err[512];
		if (!(tls = tls_ctx_new(conf->tls_cert, conf->tls_key, err, sizeof err))) {
			snprintf(errors, sizeof errors, "%s: %s\n", path, err);
			conf_free(conf);
			conf = NULL;
		}
	}
	if (!conf) {
		fputs(errors, stderr);
		return 1;
	}
	if (test_only) {
		printf("%s: configuration OK\n", path);
		SSL_CTX_free(tls);
		conf_free(conf);
		return 0;
	}
	ircd.conf = conf;
	ircd.tls = tls;
	log_set_level((enum log_level)conf->log_level);
	char err[1024];
	if (storage_open(conf, err, sizeof err) < 0) {
		fprintf(stderr, "parleyd: %s\n", err);
		cleanup();
		return 1;
	}
	ircd.started = time(NULL);
	struct tm tm;
	gmtime_r(&ircd.started, &tm);
	strftime(ircd.created, sizeof ircd.created, "%Y-%m-%d %H:%M:%S UTC", &tm);
	ircd.nicks = dict_new();
	ircd.ids = dict_new();
	command_init();
	channel_init();
	monitor_init();
	signal(SIGPIPE, SIG_IGN);

	struct ev_loop *loop = EV_DEFAULT;
	if (listener_open_all(conf, tls, client_accept) > 0) {
		cleanup();
		return 1;
	}
	workq_loop_init();
	storage_start();
	services_init();
	ev_prepare_init(&prepare_watcher, prepare_cb);
	ev_prepare_start(loop, &prepare_watcher);
	ev_signal_init(&sigterm_watcher, shutdown_cb, SIGTERM);
	ev_signal_init(&sigint_watcher, shutdown_cb, SIGINT);
	ev_signal_start(loop, &sigterm_watcher);
	ev_signal_start(loop, &sigint_watcher);
	log_info("%s %s started (%s)", conf->server_name, PARLEY_VERSION, path);
	ev_run(loop, 0);
	/* Last flush of the closing ERRORs, then let the workers finish, then free. */
	conn_flush_pending();
	client_reap();
	storage_stop();
	workq_drain();
	listener_close_all();
	cleanup();
	log_info("stopped");
	return 0;
}
