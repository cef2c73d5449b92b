/* fuzz_conf.c - the configuration loader (ircd/conf.c). The input is the config file;
 * conf_load reads it from a memfd through /proc/self/fd, as it reads any file. It must
 * never crash or leak (LeakSanitizer checks after every input), must fail exactly when it
 * reports an error, and a conf it accepts must be consistent. Standard input is
 * /dev/null so that `@include "/dev/stdin"` or `motd = "/dev/stdin"` cannot block. */
#include "fuzz.h"
#include "conf.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define TERMINATED(field) CHECK(memchr((field), '\0', sizeof(field)) != NULL)

/* libconfig 1.5 (Debian 12) leaks a string token dropped in error recovery (a file of
 * just `""` is enough); fixed upstream in 1.7.3 (hyperrealm/libconfig#142). Only the
 * scanner's strings are suppressed: a setting conf.c failed to free would still show. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

/* Those leaks make LeakSanitizer scan the heap after most inputs; with ASan's default
 * 256 MB quarantine that scan dominates (about 400 runs/s instead of 3,000+). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=8";
}

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	int null = open("/dev/null", O_RDONLY);
	CHECK(null >= 0 && dup2(null, 0) == 0);
	close(null);
	fd = memfd_create("parley.conf", 0);
	CHECK(fd >= 0);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return 0;
}

static void check_conf(const struct conf *c)
{
	TERMINATED(c->server_name);
	TERMINATED(c->network);
	TERMINATED(c->motd_path);
	TERMINATED(c->cloak_secret);
	TERMINATED(c->history_journal);
	CHECK(strchr(c->server_name, '.'));
	CHECK(c->log.levels[LOGC_GENERAL] >= 0 && c->log.levels[LOGC_GENERAL] < LOG_OFF);
	for (int i = 0; i < LOGC_COUNT; i++)
		CHECK(c->log.levels[i] >= 0 && c->log.levels[i] <= LOG_OFF);
	CHECK(c->log.facility >= 0);
	CHECK(memchr(c->log.file, 0, sizeof c->log.file) != NULL);
	CHECK(c->backend == 0 || c->backend == 1);
	CHECK(c->sasl_plaintext >= 0 && c->sasl_plaintext <= 2);
	CHECK(c->nclasses >= 1 && c->nclasses <= CONF_MAX_CLASSES);
	CHECK(c->nlisteners >= 1 && c->nlisteners <= CONF_MAX_LISTENERS);
	CHECK(c->nopers >= 0 && c->nopers <= CONF_MAX_OPERS);
	for (int i = 0; i < c->nclasses; i++) {
		TERMINATED(c->classes[i].name);
		CHECK(conf_class_find(c, c->classes[i].name) != NULL);
	}
	for (int i = 0; i < c->nlisteners; i++) {
		const struct conf_listener *l = &c->listeners[i];
		TERMINATED(l->address);
		CHECK(l->address[0] && l->port >= 1 && l->port <= 65535);
		CHECK(l->class_index >= 0 && l->class_index < c->nclasses);
		CHECK(!l->tls || c->tls_cert[0]);
	}
	for (int i = 0; i < c->nopers; i++) {
		TERMINATED(c->opers[i].name);
		TERMINATED(c->opers[i].privileges);
		CHECK(strncmp(c->opers[i].password, "$scrypt$", 8) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
	char errors[4096];
	struct conf *c = conf_load(path, errors, sizeof errors);
	if (c) {
		CHECK(errors[0] == '\0');
		check_conf(c);
		conf_free(c);
	} else {
		CHECK(memchr(errors, '\0', sizeof errors) && errors[0]);
	}
	return 0;
}
