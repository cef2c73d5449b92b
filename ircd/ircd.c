/* ircd.c - process start and stop: arguments, configuration, the libev loop and its
 * prepare watcher (flush pending output, then free exited clients), and signals. */
#include "server.h"
#include "ircd.h"

#include "cap.h"
#include "channel.h"
#include "client.h"
#include "command.h"
#include "conf.h"
#include "conn.h"
#include "dict.h"
#include "listener.h"
#include "audit.h"
#include "alwayson.h"
#include "ban.h"
#include "history.h"
#include "log.h"
#include "memtrim.h"
#include "metrics_http.h"
#include "oper.h"
#include "password.h"
#include "service.h"
#include "storage.h"
#include "workq.h"
#include "monitor.h"
#include "notify.h"
#include "privs.h"
#include "storelock.h"
#include "tls.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ircd ircd;

static ev_prepare prepare_watcher;
static ev_signal sigterm_watcher, sigint_watcher, sighup_watcher;
static bool restart_requested;

/* Runs once per loop iteration, just before the loop sleeps: every line produced by
 * this round of input goes out in one write per client, then exited clients (whose
 * final ERROR was just written) are freed. */
static void prepare_cb(EV_P_ ev_prepare *w, int revents)
{
	(void)w;
	(void)revents;
	client_exit_pending();
	conn_flush_pending();
	client_reap();
	server_reap();
	if (ircd.shutting_down)
		ev_break(loop, EVBREAK_ALL);
}

void ircd_shutdown(const char *reason, bool restart)
{
	log_info("%s", reason);
	if (restart)
		notify_reloading(); /* the same pid reports READY=1 again once it is back */
	else
		notify_send("STOPPING=1");
	restart_requested = restart;
	ircd.shutting_down = true;
	listener_close_all();
	alwayson_flush(); /* the presence changes of this iteration, before everyone exits */
	for (struct client *c = ircd.clients; c; c = c->next)
		client_exit(c, restart ? "Server restarting" : "Server shutting down");
}

static void shutdown_cb(EV_P_ ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	char reason[64];
	snprintf(reason, sizeof reason, "signal %d: shutting down", w->signum);
	ircd_shutdown(reason, false);
}

/* The server context when a listener uses TLS, the link context when a connect block
 * does; -1 with "file: reason" in err if a certificate or key cannot be loaded. */
static int tls_contexts(const struct conf *c, SSL_CTX **tls, SSL_CTX **tls_link, char *err, size_t size)
{
	bool listen = false, link = false;
	for (int i = 0; i < c->nlisteners; i++)
		listen |= c->listeners[i].tls;
	for (int i = 0; i < c->nconnects; i++)
		link |= c->connects[i].tls;
	char e[512];
	*tls = *tls_link = NULL;
	if ((listen && !(*tls = tls_ctx_new(c->tls_cert, c->tls_key, e, sizeof e))) ||
	    (link && !(*tls_link = tls_link_ctx_new(c->tls_cert, c->tls_key, e, sizeof e)))) {
		snprintf(err, size, "%s: %s\n", c->file, e);
		SSL_CTX_free(*tls);
		*tls = NULL;
		return -1;
	}
	return 0;
}

static int rehash(char *err, size_t size)
{
	struct conf *nc = conf_load(ircd.conf->file, err, size);
	if (!nc)
		return -1;
	SSL_CTX *tls = NULL, *tls_link = NULL;
	if (tls_contexts(nc, &tls, &tls_link, err, size) < 0) {
		conf_free(nc);
		return -1;
	}
	/* storage settings take effect at the next start; everything else now */
	memset(ircd.class_clients, 0, sizeof ircd.class_clients);
	for (struct client *c = ircd.clients; c; c = c->next) {
		const struct conf_class *cl = conf_class_find(nc, c->class->name);
		c->class = cl ? cl : &nc->classes[0];
		c->conn.sendq_max = c->class->sendq;
		if (!client_dead(c) && !(c->flags & CLI_GHOST)) /* a ghost is no connection */
			ircd.class_clients[c->class - nc->classes]++;
	}
	int failed = listener_sync(nc, tls, client_accept);
	failed += metrics_http_sync(nc) < 0;
	cap_conf_changed(ircd.conf, nc);
	conf_free(ircd.conf);
	SSL_CTX_free(ircd.tls); /* connections keep their own reference */
	SSL_CTX_free(ircd.tls_link);
	ircd.conf = nc;
	ircd.tls = tls;
	ircd.tls_link = tls_link;
	log_configure(&nc->log); /* the file reopened too: REHASH after logrotate works */
	log_info("configuration reloaded from %s%s", nc->file, failed ? " (some listeners failed)" : "");
	ban_reload(); /* bans edited in the store meanwhile (parleyd -unban) */
	return 0;
}

int ircd_rehash(char *err, size_t size)
{
	notify_reloading();
	int r = rehash(err, size);
	notify_send("READY=1");
	return r;
}

static void sighup_cb(EV_P_ ev_signal *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	char err[4096];
	log_reopen(); /* logrotate's postrotate, even when the new configuration is broken */
	if (ircd_rehash(err, sizeof err) < 0) {
		log_error("REHASH (SIGHUP) failed, old configuration kept:\n%s", err);
		audit_as("SIGHUP", "REHASH failed");
	} else {
		snotice("Configuration reloaded (SIGHUP)");
		audit_as("SIGHUP", "REHASH");
	}
}

/* parleyd -mkpasswd [password]: prints an operator password hash (reads the password
 * from standard input when not given). */
static int mkpasswd(const char *given)
{
	char pw[256];
	if (given) {
		snprintf(pw, sizeof pw, "%s", given);
	} else if (!fgets(pw, sizeof pw, stdin)) {
		return 1;
	}
	pw[strcspn(pw, "\r\n")] = '\0';
	char hash[PASSWORD_HASH_MAX];
	if (password_hash(pw, 16384, 8, 1, hash, sizeof hash) < 0)
		return 1;
	printf("%s\n", hash);
	return 0;
}

static const char usage_text[] =
	"usage: parleyd [-t] [-f config] | parleyd -mkpasswd [password] | parleyd -unban MASK [-f config]\n"
	"       parleyd -v | --version | -h | --help\n"
	"  -f FILE       configuration file (default conf/parley.conf); relative paths in it\n"
	"                resolve against its directory\n"
	"  -t            check the configuration and exit\n"
	"  -mkpasswd [P] print a password hash for an oper block (reads P from stdin if absent)\n"
	"  -unban MASK   delete the stored K-/D-line MASK (safe while parleyd runs; a running\n"
	"                daemon lifts it on REHASH or SIGHUP)\n"
	"  -v, --version print the version and exit\n"
	"  -h, --help    print this summary and exit\n";

/* The summary goes to stdout when asked for (-h), to stderr after a mistake. */
static void usage(FILE *to)
{
	fputs(usage_text, to);
}

/* An unknown option: its name (a long one whole), then the summary; exit status 2. */
static int bad_option(const char *word, int letter)
{
	if (word && strncmp(word, "--", 2) == 0)
		fprintf(stderr, "parleyd: unknown option %s\n", word);
	else
		fprintf(stderr, "parleyd: unknown option -%c\n", letter);
	usage(stderr);
	return 2;
}

/* -v/--version and -h/--help, alone as the first argument: answered before any other
 * parsing so they work without a configuration. Returns the exit status, -1 if neither. */
static int info_args(int argc, char **argv)
{
	if (argc < 2)
		return -1;
	const char *a = argv[1];
	if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
		printf("%s\n", PARLEY_VERSION);
		return 0;
	}
	if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	return -1;
}

/* parleyd -unban MASK -f FILE: removes a ban from the configured store without a client
 * (an operator who banned himself). Opens the store as a start does; exits 0 after
 * printing what it removed, 1 when nothing matched or the store failed. */
static int unban(const char *mask, const char *path)
{
	static char errors[8192];
	struct conf *conf = conf_load(path, errors, sizeof errors);
	if (!conf) {
		fputs(errors, stderr);
		return 1;
	}
	log_set_level(LOG_WARN);
	char err[1024];
	int n = -1;
	if (storage_open(conf, err, sizeof err) < 0)
		fprintf(stderr, "parleyd: %s\n", err);
	else if ((n = ban_unban_stored(mask, stdout)) == 0)
		fprintf(stderr, "parleyd: no stored K-line or D-line is %s\n", mask);
	else if (n < 0)
		fprintf(stderr, "parleyd: the database failed; nothing was removed\n");
	storage_stop();
	conf_free(conf);
	return n > 0 ? 0 : 1;
}

/* Finds "-unban MASK" among the arguments (with "-f FILE" before or after it). */
static int unban_args(int argc, char **argv)
{
	const char *mask = NULL, *path = "conf/parley.conf";
	bool found = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-unban") == 0) {
			found = true;
			mask = i + 1 < argc ? argv[++i] : NULL;
		} else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (found || strcmp(argv[i], "-f") == 0) {
			mask = NULL; /* anything else is a mistake */
			break;
		}
	}
	if (!found)
		return -1;
	if (!mask || !*mask) {
		usage(stderr);
		return 2;
	}
	return unban(mask, path);
}

static void cleanup(void)
{
	dict_free(ircd.nicks);
	dict_free(ircd.ids);
	conf_free(ircd.conf);
	SSL_CTX_free(ircd.tls);
	SSL_CTX_free(ircd.tls_link);
}


int ircd_main(int argc, char **argv)
{
	const char *path = "conf/parley.conf";
	bool test_only = false;
	if (argc >= 2 && strcmp(argv[1], "-mkpasswd") == 0)
		return mkpasswd(argc > 2 ? argv[2] : NULL);
	int info = info_args(argc, argv);
	if (info >= 0)
		return info;
	int unbanned = unban_args(argc, argv);
	if (unbanned >= 0)
		return unbanned;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strncmp(argv[i], "--", 2) == 0 && !(i > 1 && strcmp(argv[i - 1], "-f") == 0))
			return bad_option(argv[i], 0); /* getopt would name only its second '-' */
	int opt;
	opterr = 0; /* our own message, so the output is the same on every libc */
	while ((opt = getopt(argc, argv, ":f:t")) != -1) {
		switch (opt) {
		case 'f': path = optarg; break;
		case 't': test_only = true; break;
		case ':': fprintf(stderr, "parleyd: option -%c needs an argument\n", optopt); usage(stderr); return 2;
		default: return bad_option(NULL, optopt);
		}
	}
	static char errors[8192];
	struct conf *conf = conf_load(path, errors, sizeof errors);
	SSL_CTX *tls = NULL, *tls_link = NULL;
	if (conf && tls_contexts(conf, &tls, &tls_link, errors, sizeof errors) < 0) {
		conf_free(conf);
		conf = NULL;
	}
	if (!conf) {
		fputs(errors, stderr);
		return 1;
	}
	if (test_only) {
		printf("%s: configuration OK\n", path);
		SSL_CTX_free(tls);
		SSL_CTX_free(tls_link);
		conf_free(conf);
		return 0;
	}
	/* Root work first (the lock, listeners on low ports), then the switch to server.user,
	 * then the database: everything it creates belongs to that user. */
	struct privs privs;
	char err[1024];
	if (privs_plan(conf, &privs, err, sizeof err) < 0 || storelock_acquire(conf, &privs, err, sizeof err) < 0 ||
	    storelock_hand_over(conf, &privs, err, sizeof err) < 0) {
		fprintf(stderr, "parleyd: %s\n", err);
		SSL_CTX_free(tls);
		SSL_CTX_free(tls_link);
		conf_free(conf);
		return 1;
	}
	ircd.conf = conf;
	ircd.tls = tls;
	ircd.tls_link = tls_link;
	if (log_start(&conf->log, err, sizeof err) < 0) {
		fprintf(stderr, "parleyd: %s\n", err);
		cleanup();
		return 1;
	}
	/* Opened as root (its directory may be root's), written as server.user: the file is
	 * handed over so the writer can keep appending; reopening after logrotate needs the
	 * directory writable by that user (the unit's LogsDirectory). */
	if (conf->log.file[0] && privs_own(&privs, conf->log.file) < 0)
		log_warn("cannot give %s to %s: %s", conf->log.file, privs.user, strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN); /* a file past RLIMIT_FSIZE fails its write (EFBIG) instead of killing us */
	struct ev_loop *loop = EV_DEFAULT;
	/* Bound now, served once the loop runs: connections wait in the backlog meanwhile. */
	if (listener_open_all(conf, tls, client_accept) > 0 || metrics_http_open(conf) < 0) {
		log_stop();
		cleanup();
		return 1;
	}
	if (privs_drop(&privs, err, sizeof err) < 0 || storage_open(conf, err, sizeof err) < 0) {
		log_stop();
		fprintf(stderr, "parleyd: %s\n", err);
		cleanup();
		return 1;
	}
	if (privs.drop)
		log_info("running as user %s (uid %u, gid %u)", privs.user, (unsigned)privs.uid, (unsigned)privs.gid);

	ircd.started = time(NULL);
	struct tm tm;
	gmtime_r(&ircd.started, &tm);
	strftime(ircd.created, sizeof ircd.created, "%Y-%m-%d %H:%M:%S UTC", &tm);
	ircd.nicks = dict_new();
	ircd.ids = dict_new();
	command_init();
	channel_init();
	monitor_init();
	ban_load();
	services_load(); /* registered channels need the channel table */
	alwayson_load(); /* after the rooms ChanServ keeps; before any client is served */

	workq_loop_init();
	storage_start();
	history_start();
	services_init();
	server_init();
	memtrim_start();
	ev_prepare_init(&prepare_watcher, prepare_cb);
	ev_prepare_start(loop, &prepare_watcher);
	ev_signal_init(&sigterm_watcher, shutdown_cb, SIGTERM);
	ev_signal_init(&sigint_watcher, shutdown_cb, SIGINT);
	ev_signal_start(loop, &sigterm_watcher);
	ev_signal_start(loop, &sigint_watcher);
	ev_signal_init(&sighup_watcher, sighup_cb, SIGHUP);
	ev_signal_start(loop, &sighup_watcher);
	log_info("%s %s started (%s)", conf->server_name, PARLEY_VERSION, path);
	notify_send("READY=1"); /* listeners bound, store migrated and loaded */
	ev_run(loop, 0);
	/* Last flush of the closing ERRORs, then let the workers finish, then free. */
	client_exit_pending();
	conn_flush_pending();
	client_reap();
	history_drain();
	storage_stop();
	workq_drain();
	listener_close_all();
	metrics_http_close();
	cleanup();
	if (restart_requested) {
		log_info("restarting");
		log_stop(); /* every line written before the new process opens the log again */
		execv("/proc/self/exe", argv);
		log_error("restart failed");
		return 1;
	}
	log_info("stopped");
	log_stop();
	return 0;
}
