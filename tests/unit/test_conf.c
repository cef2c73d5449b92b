/* test_conf.c - unit tests for ircd/conf.c: conf_load on files written by the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

/* Every test gets its own temporary directory with the config file (and a MOTD file
 * when it needs one); teardown removes them. */
struct fx {
	char dir[64];
	char path[128];
	char motd[128];
	char errors[4096];
	struct conf *conf;
	char *scratch; /* a test's heap buffer, freed by teardown */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/parley-test-conf-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof f->path, "%s/parley.conf", f->dir);
	snprintf(f->motd, sizeof f->motd, "%s/motd.txt", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	conf_free(f->conf);
	free(f->scratch);
	unlink(f->path);
	unlink(f->motd);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Writes text as the config file and loads it. */
static struct conf *load(struct fx *f, const char *text)
{
	write_file(f->path, text, strlen(text));
	conf_free(f->conf);
	memset(f->errors, 'Z', sizeof f->errors);
	f->conf = conf_load(f->path, f->errors, sizeof f->errors);
	assert_non_null(memchr(f->errors, '\0', sizeof f->errors));
	return f->conf;
}

/* Loads text, which must fail with an error at line (0: any line) containing msg. */
static void expect_error(struct fx *f, const char *text, int line, const char *msg)
{
	if (load(f, text))
		fail_msg("config loaded but should fail with \"%s\":\n%s", msg, text);
	char want[512];
	if (line)
		snprintf(want, sizeof want, "%s:%d: ", f->path, line);
	else
		snprintf(want, sizeof want, "%s:", f->path);
	/* some line carries both the location and the message */
	bool found = false;
	for (char *l = f->errors; *l && !found;) {
		char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char one[1024];
		snprintf(one, sizeof one, "%.*s", (int)len, l);
		found = strncmp(one, want, strlen(want)) == 0 && strstr(one, msg) != NULL;
		l = nl ? nl + 1 : l + len;
	}
	if (!found)
		fail_msg("expected an error \"%s...%s\", got:\n%s", want, msg, f->errors);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#define MINIMAL                                   \
	"server = { name = \"irc.example.net\"; };\n" \
	"listen = ( { address = \"127.0.0.1\"; port = 6667; } );\n"

/* ---- valid files ---- */

/* path is name in the fixture's directory (where the config file is). */
static void assert_in_dir(const struct fx *f, const char *path, const char *name)
{
	char want[256];
	snprintf(want, sizeof want, "%s/%s", f->dir, name);
	assert_string_equal(path, want);
}

static void test_minimal_defaults(void **state)
{
	struct fx *f = *state;
	struct conf *c = load(f, MINIMAL);
	if (!c)
		fail_msg("minimal config rejected:\n%s", f->errors);
	assert_string_equal(f->errors, "");
	assert_string_equal(c->file, f->path);
	assert_string_equal(c->server_name, "irc.example.net");
	assert_string_equal(c->network, "Parley");
	assert_string_equal(c->description, "Parley IRC server");
	assert_string_equal(c->motd_path, "");
	assert_null(c->motd);
	assert_string_equal(c->password, "");
	assert_string_equal(c->user, "");
	assert_string_equal(c->group, "");
	assert_false(c->allow_root);
	assert_string_equal(c->schema_dir, PARLEY_SCHEMA_DIR); /* absolute: not resolved against the file */
	assert_string_equal(c->admin_location, "Parley server");
	assert_string_equal(c->admin_location2, "");
	assert_string_equal(c->admin_email, "admin@localhost");
	assert_int_equal(c->nicklen, 30);
	assert_int_equal(c->registration_timeout, 30);
	assert_int_equal(c->log.levels[LOGC_GENERAL], LOG_INFO);
	for (int i = 0; i < LOGC_COUNT; i++)
		assert_int_equal(c->log.levels[i], LOG_INFO);
	assert_string_equal(c->log.file, ""); /* stderr */
	assert_false(c->log.syslog);
	assert_int_equal(c->log.facility, log_facility_parse("daemon"));
	assert_string_equal(c->tls_cert, "");
	assert_string_equal(c->tls_key, "");

	assert_int_equal(c->nlisteners, 1);
	assert_string_equal(c->listeners[0].address, "127.0.0.1");
	assert_int_equal(c->listeners[0].port, 6667);
	assert_false(c->listeners[0].tls);
	assert_int_equal(c->listeners[0].class_index, 0);
	assert_int_equal(c->listeners[0].line, 2);

	assert_int_equal(c->nclasses, 1);
	const struct conf_class *cl = &c->classes[0];
	assert_string_equal(cl->name, "default");
	assert_int_equal(cl->sendq, 1048576);
	assert_int_equal(cl->ping_frequency, 120);
	assert_int_equal(cl->ping_timeout, 60);
	assert_int_equal(cl->max_clients, 10000);
	assert_true(cl->flood_enabled);
	assert_true(cl->flood_rate == 2.0);
	assert_int_equal(cl->flood_burst, 10);

	assert_ptr_equal(conf_class_find(c, "default"), cl);
	assert_null(conf_class_find(c, "other"));
}

static void test_full_config(void **state)
{
	struct fx *f = *state;
	static const char motd[] = "Welcome to the test server.\nSecond line.\n";
	write_file(f->motd, motd, strlen(motd));
	char text[4096];
	snprintf(text, sizeof text,
	         "# comment\n"
	         "server = {\n"
	         "  name = \"irc.test.org\";\n"
	         "  network = \"TestNet\";\n"
	         "  description = \"A test server\";\n"
	         "  motd = \"%s\";\n"
	         "  password = \"sekrit\";\n"
	         "};\n"
	         "admin = { location = \"Here\"; location2 = \"There\"; email = \"root@test.org\"; };\n"
	         "limits = { nicklen = 16; registration_timeout = 10; };\n"
	         "log = { level = \"debug\"; file = \"logs/p.log\"; syslog = true; syslog_facility = \"local5\";"
	         " categories = { audit = \"info\"; storage = \"off\"; }; };\n"
	         "tls = { certificate = \"cert.pem\"; key = \"key.pem\"; };\n"
	         "listen = (\n"
	         "  { address = \"0.0.0.0\"; port = 6667; },\n"
	         "  { address = \"::\"; port = 6697; tls = true; class = \"users\"; },\n"
	         "  { address = \"127.0.0.1\"; port = 7000; class = \"servers\"; }\n"
	         ");\n"
	         "class = (\n"
	         "  { name = \"users\"; sendq = 2097152L; ping_frequency = 90; ping_timeout = 30;\n"
	         "    max_clients = 500; flood = { enabled = false; rate = 0.5; burst = 4; }; },\n"
	         "  { name = \"servers\"; sendq = 4096; flood = { rate = 3; }; }\n"
	         ");\n",
	         f->motd);
	struct conf *c = load(f, text);
	if (!c)
		fail_msg("full config rejected:\n%s", f->errors);
	assert_string_equal(c->server_name, "irc.test.org");
	assert_string_equal(c->network, "TestNet");
	assert_string_equal(c->description, "A test server");
	assert_string_equal(c->motd_path, f->motd);
	assert_non_null(c->motd);
	assert_string_equal(c->motd, motd);
	assert_string_equal(c->password, "sekrit");
	assert_string_equal(c->admin_location, "Here");
	assert_string_equal(c->admin_location2, "There");
	assert_string_equal(c->admin_email, "root@test.org");
	assert_int_equal(c->nicklen, 16);
	assert_int_equal(c->registration_timeout, 10);
	assert_int_equal(c->log.levels[LOGC_GENERAL], LOG_DEBUG);
	assert_int_equal(c->log.levels[LOGC_AUDIT], LOG_INFO);
	assert_int_equal(c->log.levels[LOGC_CONNECTIONS], LOG_DEBUG); /* unset: log.level */
	assert_int_equal(c->log.levels[LOGC_STORAGE], LOG_OFF);
	assert_in_dir(f, c->log.file, "logs/p.log");
	assert_true(c->log.syslog);
	assert_int_equal(c->log.facility, log_facility_parse("local5"));
	assert_int_not_equal(c->log.facility, log_facility_parse("daemon"));
	assert_in_dir(f, c->tls_cert, "cert.pem"); /* relative: against the file's directory */
	assert_in_dir(f, c->tls_key, "key.pem");

	assert_int_equal(c->nlisteners, 3);
	assert_string_equal(c->listeners[0].address, "0.0.0.0");
	assert_false(c->listeners[0].tls);
	assert_int_equal(c->listeners[0].class_index, 0); /* first class by default */
	assert_int_equal(c->listeners[0].line, 14);
	assert_string_equal(c->listeners[1].address, "::");
	assert_int_equal(c->listeners[1].port, 6697);
	assert_true(c->listeners[1].tls);
	assert_int_equal(c->listeners[1].class_index, 0);
	assert_int_equal(c->listeners[1].line, 15);
	assert_int_equal(c->listeners[2].port, 7000);
	assert_int_equal(c->listeners[2].class_index, 1);
	assert_int_equal(c->listeners[2].line, 16);

	assert_int_equal(c->nclasses, 2);
	const struct conf_class *u = conf_class_find(c, "users"), *s = conf_class_find(c, "servers");
	assert_ptr_equal(u, &c->classes[0]);
	assert_ptr_equal(s, &c->classes[1]);
	assert_null(conf_class_find(c, "default"));
	assert_int_equal(u->sendq, 2097152);
	assert_int_equal(u->ping_frequency, 90);
	assert_int_equal(u->ping_timeout, 30);
	assert_int_equal(u->max_clients, 500);
	assert_false(u->flood_enabled);
	assert_true(u->flood_rate == 0.5);
	assert_int_equal(u->flood_burst, 4);
	/* second class: explicit values and per-key defaults */
	assert_int_equal(s->sendq, 4096);
	assert_int_equal(s->ping_frequency, 120);
	assert_int_equal(s->ping_timeout, 60);
	assert_int_equal(s->max_clients, 10000);
	assert_true(s->flood_enabled);
	assert_true(s->flood_rate == 3.0); /* an integer is accepted as a number */
	assert_int_equal(s->flood_burst, 10);
}

static void test_range_boundaries_accepted(void **state)
{
	struct fx *f = *state;
	struct conf *c = load(f, "server = { name = \"a.b\"; };\n"
	                         "limits = { nicklen = 9; registration_timeout = 3600; };\n"
	                         "listen = ( { address = \"::1\"; port = 1; }, { address = \"::1\"; port = 65535; } );\n"
	                         "class = ( { name = \"x\"; sendq = 1073741824; ping_frequency = 86400;\n"
	                         "  ping_timeout = 1; max_clients = 1000000; flood = { rate = 0.0; burst = 100000; }; } );\n");
	if (!c)
		fail_msg("boundary values rejected:\n%s", f->errors);
	assert_int_equal(c->nicklen, 9);
	assert_int_equal(c->registration_timeout, 3600);
	assert_int_equal(c->listeners[0].port, 1);
	assert_int_equal(c->listeners[1].port, 65535);
	assert_int_equal(c->classes[0].sendq, 1073741824);
	assert_int_equal(c->classes[0].ping_frequency, 86400);
	assert_int_equal(c->classes[0].max_clients, 1000000);
	assert_true(c->classes[0].flood_rate == 0.0);
	assert_int_equal(c->classes[0].flood_burst, 100000);

	c = load(f, "server = { name = \"a.b\"; };\nlimits = { nicklen = 64; };\n"
	            "listen = ( { address = \"::1\"; port = 6667; } );\n"
	            "log = { level = \"error\"; };\n");
	if (!c)
		fail_msg("nicklen 64 rejected:\n%s", f->errors);
	assert_int_equal(c->nicklen, 64);
	assert_int_equal(c->log.levels[LOGC_GENERAL], LOG_ERROR);
}

static void test_motd_large_file(void **state)
{
	struct fx *f = *state;
	size_t len = 20000;
	char *motd = f->scratch = malloc(len + 1);
	assert_non_null(motd);
	for (size_t i = 0; i < len; i++)
		motd[i] = i % 80 == 79 ? '\n' : (char)('a' + i % 26);
	motd[len] = '\0';
	write_file(f->motd, motd, len);
	char text[1024];
	snprintf(text, sizeof text, "server = { name = \"a.b\"; motd = \"%s\"; };\n"
	                            "listen = ( { address = \"::1\"; port = 6667; } );\n", f->motd);
	struct conf *c = load(f, text);
	if (!c)
		fail_msg("config with MOTD rejected:\n%s", f->errors);
	assert_non_null(c->motd);
	assert_int_equal(strlen(c->motd), len);
	assert_string_equal(c->motd, motd);
}

static void test_tls_section_without_tls_listener(void **state)
{
	struct fx *f = *state;
	struct conf *c = load(f, MINIMAL "tls = { certificate = \"c.pem\"; key = \"k.pem\"; };\n");
	if (!c)
		fail_msg("rejected:\n%s", f->errors);
	assert_in_dir(f, c->tls_cert, "c.pem");
	assert_in_dir(f, c->tls_key, "k.pem");
}

/* ---- errors ---- */

static void test_syntax_errors(void **state)
{
	struct fx *f = *state;
	expect_error(f, "server = { name = \"a.b\"; };\nlisten = ( { address = \"::1\"; port = ; } );\n", 2, "");
	expect_error(f, "server = { name = \"a.b\" \n\n listen = ( );\n", 0, "");
	expect_error(f, "server = { name = \"unterminated; };\n", 0, "");
	/* a duplicate setting is reported by the parser */
	expect_error(f, MINIMAL "\nlimits = { nicklen = 10; nicklen = 11; };\n", 4, "duplicate");
	assert_int_equal(count_lines(f->errors), 1);
}

static void test_missing_file(void **state)
{
	struct fx *f = *state;
	char path[160];
	snprintf(path, sizeof path, "%s/does-not-exist.conf", f->dir);
	char errors[512];
	assert_null(conf_load(path, errors, sizeof errors));
	assert_non_null(strstr(errors, path));
	assert_true(strlen(errors) > strlen(path));
}

static void test_unknown_top_level(void **state)
{
	struct fx *f = *state;
	expect_error(f, MINIMAL "colour = \"blue\";\n", 3, "unknown setting 'colour'");
	expect_error(f, MINIMAL "\nclasses = ();\n", 4, "unknown setting 'classes'");
}

static void test_unknown_in_groups(void **state)
{
	struct fx *f = *state;
	expect_error(f, "server = {\n name = \"a.b\";\n nmae = \"x\";\n};\n"
	                "listen = ( { address = \"::1\"; port = 6667; } );\n",
	             3, "server: unknown setting 'nmae'");
	expect_error(f, MINIMAL "limits = {\n  nicklen = 30;\n  topiclen = 300;\n};\n", 5,
	             "limits: unknown setting 'topiclen'");
	expect_error(f, MINIMAL "admin = { mail = \"x\"; };\n", 3, "admin: unknown setting 'mail'");
	expect_error(f, MINIMAL "log = { colour = \"x\"; };\n", 3, "log: unknown setting 'colour'");
	expect_error(f, MINIMAL "log = { categories = {\n audit = \"info\";\n history = \"info\"; }; };\n", 5,
	             "log.categories: unknown setting 'history'");
	expect_error(f, MINIMAL "tls = { certificate = \"c\"; key = \"k\"; ca = \"x\"; };\n", 3,
	             "tls: unknown setting 'ca'");
	expect_error(f, "server = { name = \"a.b\"; };\n"
	                "listen = (\n { address = \"::1\"; port = 6667;\n   ssl = true; }\n);\n",
	             4, "listen: unknown setting 'ssl'");
	expect_error(f, MINIMAL "class = (\n { name = \"c\";\n   sendQ = 4096; }\n);\n", 5,
	             "class: unknown setting 'sendQ'");
	expect_error(f, MINIMAL "class = ( { name = \"c\";\n  flood = {\n    enabled = true;\n    limit = 3; }; } );\n",
	             6, "class.flood: unknown setting 'limit'");
}

static void test_wrong_types(void **state)
{
	struct fx *f = *state;
	expect_error(f, "server = { name = 5; };\nlisten = ( { address = \"::1\"; port = 6667; } );\n", 1,
	             "'name' must be a string");
	expect_error(f, MINIMAL "limits = { nicklen = \"30\"; };\n", 3, "'nicklen' must be an integer");
	expect_error(f, MINIMAL "limits = { nicklen = 30.0; };\n", 3, "'nicklen' must be an integer");
	expect_error(f, MINIMAL "limits = { nicklen = true; };\n", 3, "'nicklen' must be an integer");
	expect_error(f, "server = { name = \"a.b\"; };\nlisten = ( { address = \"::1\"; port = \"6667\"; } );\n", 2,
	             "'port' must be an integer");
	expect_error(f, "server = { name = \"a.b\"; };\nlisten = ( { address = \"::1\"; port = 6697; tls = 1; } );\n",
	             2, "'tls' must be true or false");
	expect_error(f, MINIMAL "class = ( { name = \"c\"; flood = { rate = \"fast\"; }; } );\n", 3,
	             "'rate' must be a number");
	expect_error(f, MINIMAL "class = ( { name = \"c\"; flood = { enabled = \"yes\"; }; } );\n", 3,
	             "'enabled' must be true or false");
	expect_error(f, MINIMAL "class = ( { name = \"c\"; sendq = \"1M\"; } );\n", 3, "'sendq' must be an integer");
	/* sections of the wrong shape */
	expect_error(f, MINIMAL "limits = 30;\n", 3, "must be a group");
	expect_error(f, MINIMAL "admin = ( \"x\" );\n", 3, "must be a group");
	expect_error(f, "server = { name = \"a.b\"; };\nlisten = { address = \"::1\"; port = 6667; };\n", 2,
	             "'listen' must be a non-empty list");
	expect_error(f, MINIMAL "class = { name = \"c\"; };\n", 3, "'class' must be a list");
	expect_error(f, MINIMAL "class = ( { name = \"c\"; flood = 5; } );\n", 3, "must be a group");
	expect_error(f, "server = { name = \"a.b\"; };\nlisten = ( 6667 );\n", 0, "must be a group");
}

static void test_out_of_range(void **state)
{
	struct fx *f = *state;
	expect_error(f, MINIMAL "limits = { nicklen = 8; };\n", 3, "'nicklen' must be between 9 and 64");
	expect_error(f, MINIMAL "limits = { nicklen = 65; };\n", 3, "'nicklen' must be between 9 and 64");
	expect_error(f, MINIMAL "limits = { registration_timeout = 0; };\n", 3, "'registration_timeout' must be between");
	expect_error(f, "server = { name = \"a.b\"; };\nlisten = ( { address = \"::1\"; port = 0; } );\n", 2,
	             "'port' must be between 1 and 65535");
	expect_error(f, "server = { name = \"a.b\"; };\nlisten = ( { address = \"::1\"; port = 65536; } );\n", 2,
	             "'port' must be between 1 and 65535");
	expect_error(f, "server = { name = \"a.b\"; };\nlisten = ( { address = \"::1\"; port = -1; } );\n", 2,
	             "'port' must be between 1 and 65535");
	expect_error(f, MINIMAL "class = ( { name = \"c\"; sendq = 4095; } );\n", 3, "'sendq' must be between");
	expect_error(f, MINIMAL "class = ( { name = \"c\"; sendq = 1073741825; } );\n", 3, "'sendq' must be between");
	expect_error(f, MINIMAL "class = ( { name = \"c\"; sendq = 5000000000L; } );\n", 3, "'sendq' must be between");
	expect_error(f, MINIMAL "class = ( { name = \"c\"; ping_timeout = 0; } );\n", 3, "'ping_timeout' must be between");
	expect_error(f, MINIMAL "class = ( { name = \"c\"; max_clients = 1000001; } );\n", 3, "'max_clients' must be between");
	expect_error(f, MINIMAL "class = ( { name = \"c\"; flood = { rate = -0.5; }; } );\n", 3, "'rate' must be between");
	expect_error(f, MINIMAL "class = ( { name = \"c\"; flood = { rate = 100000.5; }; } );\n", 3, "'rate' must be between");
	expect_error(f, MINIMAL "class = ( { name = \"c\"; flood = { burst = 0; }; } );\n", 3, "'burst' must be between");
	/* strings longer than their buffer */
	char text[512];
	snprintf(text, sizeof text, "server = { name = \"%062d.x\"; };\nlisten = ( { address = \"::1\"; port = 6667; } );\n", 0);
	expect_error(f, text, 1, "'name' is too long"); /* 64 bytes: no room for the NUL */
	snprintf(text, sizeof text, "server = { name = \"a.b\"; };\nlisten = ( { address = \"%0200d\"; port = 6667; } );\n", 0);
	expect_error(f, text, 2, "'address' is too long");
	/* 63 bytes still fit */
	snprintf(text, sizeof text, "server = { name = \"%061d.x\"; };\nlisten = ( { address = \"::1\"; port = 6667; } );\n", 0);
	struct conf *c = load(f, text);
	if (!c)
		fail_msg("63-byte server name rejected:\n%s", f->errors);
	assert_int_equal(strlen(c->server_name), CONF_NAME_LEN - 1);
}

static void test_missing_required(void **state)
{
	struct fx *f = *state;
	/* no server section at all */
	expect_error(f, "listen = ( { address = \"::1\"; port = 6667; } );\n", 0, "the 'server' section is required");
	assert_non_null(strstr(f->errors, "'name' is required"));
	/* server without name */
	expect_error(f, "server = {\n  network = \"X\";\n};\nlisten = ( { address = \"::1\"; port = 6667; } );\n", 1,
	             "server: 'name' is required");
	/* listener without port / address */
	expect_error(f, "server = { name = \"a.b\"; };\nlisten = (\n  { address = \"::1\"; }\n);\n", 3,
	             "listen: 'port' is required");
	expect_error(f, "server = { name = \"a.b\"; };\nlisten = (\n  { port = 6667; }\n);\n", 3,
	             "listen: 'address' is required");
	/* no listeners */
	expect_error(f, "server = { name = \"a.b\"; };\n", 0, "'listen' must be a non-empty list");
	expect_error(f, "server = { name = \"a.b\"; };\nlisten = ( );\n", 2, "'listen' must be a non-empty list");
	/* class without name, empty class list */
	expect_error(f, MINIMAL "class = (\n  { sendq = 8192; }\n);\n", 4, "class: 'name' is required");
	expect_error(f, MINIMAL "class = ( );\n", 3, "at least one class is required");
	/* tls section needs both files */
	expect_error(f, MINIMAL "tls = { certificate = \"c.pem\"; };\n", 3, "tls: 'key' is required");
	expect_error(f, MINIMAL "tls = { key = \"k.pem\"; };\n", 3, "tls: 'certificate' is required");
}

static void test_unknown_class_in_listener(void **state)
{
	struct fx *f = *state;
	expect_error(f, "server = { name = \"a.b\"; };\n"
	                "listen = (\n"
	                "  { address = \"::1\"; port = 6667; },\n"
	                "  { address = \"::1\"; port = 6668; class = \"vip\"; }\n"
	                ");\n"
	                "class = ( { name = \"default\"; } );\n",
	             4, "listen: no class named 'vip'");
	assert_int_equal(count_lines(f->errors), 1);
	/* the implicit class is "default" */
	expect_error(f, "server = { name = \"a.b\"; };\nlisten = ( { address = \"::1\"; port = 6667; class = \"Default\"; } );\n",
	             2, "no class named 'Default'");
	struct conf *c = load(f, "server = { name = \"a.b\"; };\n"
	                         "listen = ( { address = \"::1\"; port = 6667; class = \"default\"; } );\n");
	if (!c)
		fail_msg("listener naming the implicit class rejected:\n%s", f->errors);
	assert_int_equal(c->listeners[0].class_index, 0);
}

static void test_tls_listener_without_tls_section(void **state)
{
	struct fx *f = *state;
	expect_error(f, "server = { name = \"a.b\"; };\n"
	                "listen = (\n"
	                "  { address = \"::1\"; port = 6667; },\n"
	                "  { address = \"::1\"; port = 6697; tls = true; }\n"
	                ");\n",
	             2, "a TLS listener needs the 'tls' section");
	assert_int_equal(count_lines(f->errors), 1);
}

static void test_other_semantic_errors(void **state)
{
	struct fx *f = *state;
	expect_error(f, "server = {\n  name = \"localhost\";\n};\nlisten = ( { address = \"::1\"; port = 6667; } );\n", 2,
	             "server.name must contain a '.'");
	expect_error(f, MINIMAL "log = {\n  level = \"verbose\";\n};\n", 4, "log.level must be");
	expect_error(f, MINIMAL "class = (\n  { name = \"a\"; },\n  { name = \"a\"; }\n);\n", 5,
	             "class 'a' is defined twice");
	char text[512];
	snprintf(text, sizeof text,
	         "server = {\n  name = \"a.b\";\n  motd = \"%s/no-such-motd.txt\";\n};\n"
	         "listen = ( { address = \"::1\"; port = 6667; } );\n",
	         f->dir);
	expect_error(f, text, 3, "cannot read MOTD file");
}

/* An explicitly empty server name is as bad as a missing one. */
static void test_empty_server_name(void **state)
{
	struct fx *f = *state;
	expect_error(f, "server = { name = \"\"; };\nlisten = ( { address = \"::1\"; port = 6667; } );\n", 1, "name");
}

static void test_too_many(void **state)
{
	struct fx *f = *state;
	char *text = f->scratch = malloc(16384);
	assert_non_null(text);
	size_t n = (size_t)sprintf(text, "server = { name = \"a.b\"; };\nlisten = (\n");
	for (int i = 0; i <= CONF_MAX_LISTENERS; i++)
		n += (size_t)sprintf(text + n, "%s  { address = \"::1\"; port = %d; }\n", i ? "," : "", 7000 + i);
	n += (size_t)sprintf(text + n, ");\n");
	expect_error(f, text, 2, "too many listeners");

	n = (size_t)sprintf(text, MINIMAL "class = (\n");
	for (int i = 0; i <= CONF_MAX_CLASSES; i++)
		n += (size_t)sprintf(text + n, "%s  { name = \"c%d\"; }\n", i ? "," : "", i);
	sprintf(text + n, ");\n");
	expect_error(f, text, 3, "too many classes");

	/* exactly the maximum is fine */
	n = (size_t)sprintf(text, "server = { name = \"a.b\"; };\nlisten = (\n");
	for (int i = 0; i < CONF_MAX_LISTENERS; i++)
		n += (size_t)sprintf(text + n, "%s  { address = \"::1\"; port = %d; class = \"c%d\"; }\n", i ? "," : "",
		                     7000 + i, i % CONF_MAX_CLASSES);
	n += (size_t)sprintf(text + n, ");\nclass = (\n");
	for (int i = 0; i < CONF_MAX_CLASSES; i++)
		n += (size_t)sprintf(text + n, "%s  { name = \"c%d\"; }\n", i ? "," : "", i);
	sprintf(text + n, ");\n");
	struct conf *c = load(f, text);
	if (!c)
		fail_msg("maximum listeners/classes rejected:\n%s", f->errors);
	assert_int_equal(c->nlisteners, CONF_MAX_LISTENERS);
	assert_int_equal(c->nclasses, CONF_MAX_CLASSES);
	assert_int_equal(c->listeners[CONF_MAX_LISTENERS - 1].class_index, (CONF_MAX_LISTENERS - 1) % CONF_MAX_CLASSES);
}

static void test_all_errors_reported(void **state)
{
	struct fx *f = *state;
	expect_error(f,
	             "server = { name = \"a.b\"; };\n"                       /* 1 */
	             "limits = { nicklen = 100; };\n"                        /* 2 */
	             "bogus = 1;\n"                                          /* 3 */
	             "listen = ( { address = \"::1\"; port = 99999; } );\n", /* 4 */
	             2, "'nicklen' must be between");
	assert_non_null(strstr(f->errors, ":3: unknown setting 'bogus'"));
	assert_non_null(strstr(f->errors, ":4: 'port' must be between"));
	assert_int_equal(count_lines(f->errors), 3);
}

static void test_small_error_buffer(void **state)
{
	struct fx *f = *state;
	const char *text = "server = { name = \"a.b\"; };\nlimits = { nicklen = 100; };\nbogus = 1;\n"
	                   "listen = ( { address = \"::1\"; port = 99999; } );\n";
	write_file(f->path, text, strlen(text));
	/* surrounded by guard bytes: nothing may be written past size */
	char buf[64];
	memset(buf, 'G', sizeof buf);
	assert_null(conf_load(f->path, buf + 8, 20));
	assert_int_equal(strlen(buf + 8), 19);
	assert_memory_equal(buf + 8, f->path, 19);
	for (int i = 0; i < 8; i++)
		assert_int_equal(buf[i], 'G');
	for (int i = 28; i < 64; i++)
		assert_int_equal(buf[i], 'G');

	/* syntax error path too */
	write_file(f->path, "server = {", 10);
	memset(buf, 'G', sizeof buf);
	assert_null(conf_load(f->path, buf + 8, 10));
	assert_int_equal(strlen(buf + 8), 9);
	for (int i = 18; i < 64; i++)
		assert_int_equal(buf[i], 'G');

	/* size 0: nothing written at all */
	memset(buf, 'G', sizeof buf);
	assert_null(conf_load(f->path, buf, 0));
	for (int i = 0; i < 64; i++)
		assert_int_equal(buf[i], 'G');
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_minimal_defaults),
	    T(test_full_config),
	    T(test_range_boundaries_accepted),
	    T(test_motd_large_file),
	    T(test_tls_section_without_tls_listener),
	    T(test_syntax_errors),
	    T(test_missing_file),
	    T(test_unknown_top_level),
	    T(test_unknown_in_groups),
	    T(test_wrong_types),
	    T(test_out_of_range),
	    T(test_missing_required),
	    T(test_unknown_class_in_listener),
	    T(test_tls_listener_without_tls_section),
	    T(test_other_semantic_errors),
	    T(test_empty_server_name),
	    T(test_too_many),
	    T(test_all_errors_reported),
	    T(test_small_error_buffer),
	};
	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
