/* log_syslog.h - syslog for log.c, without <syslog.h>'s macros (see log_syslog.c). */
#ifndef PARLEY_LOG_SYSLOG_H
#define PARLEY_LOG_SYSLOG_H

/* The LOG_* value of a facility name ("daemon", "local3"...), or -1. */
int log_syslog_facility(const char *name);

/* openlog as "parleyd" with the pid, connected at once. May block: writer thread or start. */
void log_syslog_open(int facility);
void log_syslog_close(void);

/* One message of len bytes at level (0 debug, 1 info, 2 warn, 3 error). May block. */
void log_syslog_line(int level, const char *text, int len);

#endif
