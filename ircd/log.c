/* log.c - leveled, categorized logging (see log.h).
 *
 * DESIGN: a caller formats its line on its own thread (the time is the event's) and
 * copies it into a bounded ring of LOG_QUEUE lines under a mutex; a writer thread takes
 * lines off in batches and writes them to the sinks (stderr, the file, syslog). So the
 * loop never waits for a slow disk, a full pipe or a stalled syslog: when the ring is
 * full the line is dropped and counted, and once the writer has emptied the ring it
 * writes "N log lines dropped". Only the writer touches the sinks while it runs; a
 * REHASH or SIGHUP leaves it a request (new settings, reopen) that it applies before
 * its next batch, so every line queued after the request goes to the new file. Before
 * log_start and after log_stop there is no writer: lines are written directly (start
 * and exit may block; nothing is lost). */
#include "log.h"

#include "log_syslog.h"
#include "privfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_QUEUE 1024 /* lines waiting for the writer */
#define LOG_LINE 1024  /* bytes per line, newline included */
#define LOG_BATCH 64   /* lines the writer takes at once */

struct line {
	unsigned short len;  /* with the newline */
	unsigned short text; /* offset of "category: message", what syslog gets */
	unsigned char level;
	char buf[LOG_LINE];
};

/* Copies the used part of a line. */
static void line_copy(struct line *to, const struct line *from)
{
	memcpy(to, from, offsetof(struct line, buf) + from->len);
}

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};
static const char *const category_names[LOGC_COUNT] = {"general", "audit", "connections", "storage"};

static atomic_int levels[LOGC_COUNT] = {LOG_INFO, LOG_INFO, LOG_INFO, LOG_INFO};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct line ring[LOG_QUEUE];
static unsigned head, count;  /* oldest line, lines queued */
static unsigned long dropped; /* lines refused since the writer last caught up */
static bool running, stopping;
static pthread_t writer;
static bool want_reopen, want_config; /* requests for the writer */
static struct log_config pending;

/* The sinks: the writer's alone while it runs. */
static struct log_config sinks; /* file and syslog in use */
static int file_fd = -1;
static bool syslog_open;

void log_set_level(enum log_level level)
{
	for (int i = 0; i < LOGC_COUNT; i++)
		atomic_store(&levels[i], (int)level);
}

int log_level_parse(const char *name, bool off_ok)
{
	for (int i = 0; i < (off_ok ? 5 : 4); i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

int log_facility_parse(const char *name) { return log_syslog_facility(name); }

const char *log_category_name(enum log_category cat) { return category_names[cat]; }

bool log_enabled(enum log_category cat, enum log_level level)
{
	return (int)level >= atomic_load_explicit(&levels[cat], memory_order_relaxed);
}

/* Copies text into out (at most size - 1 bytes, NUL-terminated) with every control
 * character as '?' and each newline but trailing ones as " | ": one event, one line.
 * Returns the length. */
static size_t clean(char *out, size_t size, const char *text)
{
	size_t n = 0, end = strlen(text);
	while (end && text[end - 1] == '\n')
		end--;
	for (size_t i = 0; i < end && n + 1 < size; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch == '\n') {
			for (const char *s = " | "; *s && n + 1 < size; s++)
				out[n++] = *s;
		} else {
			out[n++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
		}
	}
	out[n] = '\0';
	return n;
}

/* Fills l: stamp, level, category, the cleaned message, newline. */
static void format_line(struct line *l, enum log_category cat, enum log_level level, const char *msg)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char stamp[32];
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(l->buf, sizeof l->buf, "%s.%03dZ %s ", stamp, (int)(ts.tv_nsec / 1000000), level_names[level]);
	l->text = (unsigned short)n;
	n += snprintf(l->buf + n, sizeof l->buf - (size_t)n, "%s: ", category_names[cat]);
	n += (int)clean(l->buf + n, sizeof l->buf - (size_t)n - 1, msg);
	l->buf[n++] = '\n';
	l->len = (unsigned short)n;
	l->level = (unsigned char)level;
}

/* Writes all of buf to fd (a partial write of a pipe or a full disk: the rest is lost). */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		len -= (size_t)w;
	}
}

/* Writes n lines to the sinks: the file and/or syslog, stderr when neither is set. */
static void sink_lines(const struct line *lines, unsigned n)
{
	static char out[LOG_BATCH * LOG_LINE];
	for (unsigned i = 0; i < n;) {
		size_t len = 0;
		for (; i < n && len + lines[i].len <= sizeof out; i++) {
			memcpy(out + len, lines[i].buf, lines[i].len);
			len += lines[i].len;
			if (syslog_open)
				log_syslog_line(lines[i].level, lines[i].buf + lines[i].text, lines[i].len - lines[i].text - 1);
		}
		if (file_fd >= 0)
			write_all(file_fd, out, len);
		else if (!syslog_open)
			write_all(STDERR_FILENO, out, len);
	}
}

/* A line about the logger itself, written at once by whoever holds the sinks. */
static void sink_note(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sink_note(enum log_level level, const char *fmt, ...)
{
	char msg[LOG_LINE];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	static struct line l;
	format_line(&l, LOGC_GENERAL, level, msg);
	sink_lines(&l, 1);
}

static int open_file(const char *path) { return privfile_open(path, O_WRONLY | O_APPEND); }

/* Applies cfg's file and syslog settings (reopening the file even when the path is the
 * same). A file that cannot be opened leaves the previous sinks in use. Blocks. */
static int sinks_apply(const struct log_config *cfg, char *err, size_t size)
{
	int fd = -1;
	if (cfg->file[0] && (fd = open_file(cfg->file)) < 0) {
		snprintf(err, size, "log.file %s: %s", cfg->file, strerror(errno));
		return -1;
	}
	if (file_fd >= 0)
		close(file_fd);
	file_fd = fd;
	if (syslog_open && (!cfg->syslog || cfg->facility != sinks.facility)) {
		log_syslog_close();
		syslog_open = false;
	}
	if (cfg->syslog && !syslog_open) {
		log_syslog_open(cfg->facility);
		syslog_open = true;
	}
	sinks = *cfg;
	return 0;
}

/* The writer's requests, taken under the lock, applied without it. */
static void apply_requests(bool config, bool reopen, const struct log_config *cfg)
{
	char err[LOG_LINE];
	if (config) {
		if (sinks_apply(cfg, err, sizeof err) < 0)
			sink_note(LOG_ERROR, "%s; still writing where the log went before", err);
	} else if (reopen && sinks.file[0]) {
		if (sinks_apply(&sinks, err, sizeof err) < 0)
			sink_note(LOG_ERROR, "%s; still writing to the file opened before", err);
	}
}

static void *writer_main(void *arg)
{
	(void)arg;
	static struct line batch[LOG_BATCH];
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!count && !want_reopen && !want_config && !dropped && !stopping)
			pthread_cond_wait(&wake, &lock);
		bool reopen = want_reopen, config = want_config;
		struct log_config cfg = pending;
		want_reopen = want_config = false;
		unsigned n = 0;
		for (; n < LOG_BATCH && count; n++, count--, head = (head + 1) % LOG_QUEUE)
			line_copy(&batch[n], &ring[head]);
		unsigned long lost = count ? 0 : dropped; /* reported once the ring is empty */
		dropped -= lost;
		bool done = stopping && !count && !n && !reopen && !config && !lost;
		pthread_mutex_unlock(&lock);
		if (done)
			return NULL;
		apply_requests(config, reopen, &cfg);
		sink_lines(batch, n);
		if (lost)
			sink_note(LOG_WARN, "%lu log lines dropped (the log could not keep up)", lost);
		pthread_mutex_lock(&lock);
	}
}

int log_start(const struct log_config *cfg, char *err, size_t size)
{
	for (int i = 0; i < LOGC_COUNT; i++)
		atomic_store(&levels[i], cfg->levels[i]);
	if (sinks_apply(cfg, err, size) < 0)
		return -1;
	/* the writer never takes a signal: SIGHUP and SIGTERM stay the loop's */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_mutex_lock(&lock);
	stopping = false;
	running = pthread_create(&writer, NULL, writer_main, NULL) == 0;
	pthread_mutex_unlock(&lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

void log_configure(const struct log_config *cfg)
{
	for (int i = 0; i < LOGC_COUNT; i++)
		atomic_store(&levels[i], cfg->levels[i]);
	pthread_mutex_lock(&lock);
	if (running) {
		pending = *cfg;
		want_config = true;
		pthread_cond_signal(&wake);
	}
	pthread_mutex_unlock(&lock);
}

void log_reopen(void)
{
	pthread_mutex_lock(&lock);
	want_reopen = true;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
}

void log_stop(void)
{
	pthread_mutex_lock(&lock);
	bool was = running;
	stopping = true;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	if (was)
		pthread_join(writer, NULL);
	pthread_mutex_lock(&lock);
	running = false;
	want_reopen = want_config = false;
	/* lines queued after the writer's last look: written here, the writer is gone */
	for (; count; count--, head = (head + 1) % LOG_QUEUE)
		sink_lines(&ring[head], 1);
	if (dropped)
		sink_note(LOG_WARN, "%lu log lines dropped (the log could not keep up)", dropped);
	dropped = 0;
	pthread_mutex_unlock(&lock);
}

void log_cat(enum log_category cat, enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(cat, level))
		return;
	char msg[LOG_LINE];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct line l; /* formatted before taking the lock: the writer waits only for a copy */
	format_line(&l, cat, level, msg);
	pthread_mutex_lock(&lock);
	if (!running) {
		sink_lines(&l, 1);
	} else if (count == LOG_QUEUE) {
		dropped++;
	} else {
		line_copy(&ring[(head + count) % LOG_QUEUE], &l);
		if (count++ == 0)
			pthread_cond_signal(&wake);
	}
	pthread_mutex_unlock(&lock);
}
