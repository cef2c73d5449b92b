/* log_syslog.c - the syslog sink of log.c. Kept apart because <syslog.h> defines
 * LOG_DEBUG, LOG_INFO... as macros, which log.h uses as enum names: this file includes
 * only <syslog.h> and speaks in log.h's level numbers (0 debug .. 3 error). */
#include "log_syslog.h"

#include <string.h>
#include <syslog.h>

static const struct {
	const char *name;
	int value;
} facilities[] = {
    {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV},
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

int log_syslog_facility(const char *name)
{
	for (size_t i = 0; i < sizeof facilities / sizeof facilities[0]; i++)
		if (strcmp(facilities[i].name, name) == 0)
			return facilities[i].value;
	return -1;
}

void log_syslog_open(int facility)
{
	/* LOG_NDELAY: connect now, so the first line does not pay for it */
	openlog("parleyd", LOG_PID | LOG_NDELAY, facility);
}

void log_syslog_close(void) { closelog(); }

void log_syslog_line(int level, const char *text, int len)
{
	static const int priorities[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
	syslog(priorities[level >= 0 && level < 4 ? level : 3], "%.*s", len, text);
}
