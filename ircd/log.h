/* log.h - leveled, categorized logging that never makes the loop wait for a disk: lines
 * go to stderr, a file (reopened on SIGHUP) and/or syslog through a writer thread.
 *
 * A line is "2026-12-04T18:30:00.123Z info audit: text": UTC time with milliseconds,
 * the level, the category. Each category has its own lowest level. */
#ifndef PARLEY_LOG_H
#define PARLEY_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

enum log_category {
	LOGC_GENERAL,     /* everything without a category of its own */
	LOGC_AUDIT,       /* what operators and account holders did (audit.h) */
	LOGC_CONNECTIONS, /* connects, registrations, exits with their reason */
	LOGC_STORAGE,     /* the database, the history journal */
	LOGC_COUNT
};

#define LOG_PATH_MAX 512

/* Where lines go and which are kept; part of struct conf (log = { ... }). */
struct log_config {
	int levels[LOGC_COUNT]; /* lowest level written per category (LOG_OFF: none) */
	char file[LOG_PATH_MAX]; /* "" = no file */
	bool syslog;
	int facility;            /* LOG_DAEMON... as <syslog.h> defines them */
};

/* Sets the lowest level of every category (before log_start: -unban). */
void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn" or "error" (and "off" when off_ok); returns -1 for
 * anything else. */
int log_level_parse(const char *name, bool off_ok);

/* Parses a syslog facility name ("daemon", "user", "local0".."local7", "auth",
 * "authpriv"); returns -1 for anything else. */
int log_facility_parse(const char *name);

/* The name a category has in log lines and in log.categories. */
const char *log_category_name(enum log_category cat);

/* At start, before the loop: opens cfg's sinks on the calling thread (so a file that
 * cannot be opened stops the start: returns -1 with the reason in err) and starts the
 * writer thread. Without a file or syslog, lines go to stderr. Blocks (opens a file). */
int log_start(const struct log_config *cfg, char *err, size_t size);

/* REHASH: the new levels apply at once; the writer thread opens the new file (or the
 * same path again) and syslog settings. Never blocks. A file that cannot be opened is
 * reported in the log, and lines keep going where they went. */
void log_configure(const struct log_config *cfg);

/* SIGHUP: the writer thread reopens the file (logrotate moved it). Never blocks. */
void log_reopen(void);

/* Writes every queued line and stops the writer thread; lines logged later are written
 * directly (blocking) to the same sinks. Call before exit or exec. */
void log_stop(void);

/* True if a line of this category and level would be written. */
bool log_enabled(enum log_category cat, enum log_level level);

/* Queues one line (formatted now, with the current time) if cat logs level. Safe from
 * any thread; never blocks on the sinks: when the queue is full the line is dropped and
 * counted, and "N log lines dropped" is written once the writer has caught up. Control
 * characters in the text are written as '?' (a newline as " | "). */
void log_cat(enum log_category cat, enum log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_msg(level, ...) log_cat(LOGC_GENERAL, level, __VA_ARGS__)
#define log_debug(...) log_cat(LOGC_GENERAL, LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_cat(LOGC_GENERAL, LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_cat(LOGC_GENERAL, LOG_WARN, __VA_ARGS__)
#define log_error(...) log_cat(LOGC_GENERAL, LOG_ERROR, __VA_ARGS__)

#define log_storage_debug(...) log_cat(LOGC_STORAGE, LOG_DEBUG, __VA_ARGS__)
#define log_storage_info(...) log_cat(LOGC_STORAGE, LOG_INFO, __VA_ARGS__)
#define log_storage_warn(...) log_cat(LOGC_STORAGE, LOG_WARN, __VA_ARGS__)
#define log_storage_error(...) log_cat(LOGC_STORAGE, LOG_ERROR, __VA_ARGS__)

#define log_conn(...) log_cat(LOGC_CONNECTIONS, LOG_INFO, __VA_ARGS__)

#endif
