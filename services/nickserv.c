/* nickserv.c - NickServ: account registration and login for users who type commands
 * rather than use SASL, in the style Atheme, Anope and Ergo users know:
 * REGISTER, IDENTIFY, LOGOUT, DROP, GHOST, SET PASSWORD|EMAIL|ALWAYS-ON, INFO, CERT, RESETPASS, VERIFY, HELP. */
#include "account.h"
#include "conf.h"
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void ns_message(const struct service *s, struct client *from, char *text);

const struct service nickserv = {"NickServ", "Nickname and account services", ns_message};

#define NS (&nickserv)

static const char *status_text(enum account_status st)
{
	switch (st) {
	case ACC_EXISTS: return "That name is already registered.";
	case ACC_NOT_FOUND: return "No such account.";
	case ACC_BAD_PASSWORD: return "Invalid password.";
	case ACC_UNVERIFIED: return "This account is not verified yet; use VERIFY <account> <code>.";
	case ACC_BAD_CODE: return "Invalid verification code.";
	case ACC_THROTTLED: return "Too many failed attempts; try again in a minute.";
	case ACC_UNAVAILABLE: return "The account database is temporarily unavailable; try again shortly.";
	default: return "Internal error; try again later.";
	}
}

static void done_register(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	if (r->status == ACC_OK) {
		service_notice(NS, c, "Account %s registered. You are now logged in.", r->name);
		service_login(c, r->name);
	} else if (r->status == ACC_UNVERIFIED) {
		service_notice(NS, c, "Account %s registered; a verification code was sent to your email address.", r->name);
		service_notice(NS, c, "Send: /msg NickServ VERIFY %s <code>", r->name);
	} else if (r->status == ACC_THROTTLED) {
		service_notice(NS, c, "Registration failed: Too many accounts registered from your address; try again later.");
	} else {
		service_notice(NS, c, "Registration failed: %s", status_text(r->status));
	}
}

static void ns_register(struct client *c, char **argv, int argc)
{
	const struct conf *cf = ircd_conf();
	const char *nick = service_client_nick(c);
	if (argc < 1) {
		service_notice(NS, c, "Syntax: REGISTER <password> [email]");
		return;
	}
	if (!cf->registration_enabled) {
		service_notice(NS, c, "Registration is disabled on this server.");
		return;
	}
	if (service_client_account(c)[0]) {
		service_notice(NS, c, "You are already logged in as %s.", service_client_account(c));
		return;
	}
	const char *email = argc > 1 ? argv[1] : "";
	if (cf->email_required && !*email) {
		service_notice(NS, c, "An email address is required: REGISTER <password> <email>");
		return;
	}
	if (*email && !account_email_valid(email)) {
		service_notice(NS, c, "%s is not a valid email address.", email);
		return;
	}
	if (strlen(argv[0]) < (size_t)cf->min_password_length || strlen(argv[0]) > PASSWORD_MAX) {
		service_notice(NS, c, "Passwords must be %d to %d characters long.", cf->min_password_length, PASSWORD_MAX);
		return;
	}
	if (!account_name_valid(nick)) {
		service_notice(NS, c, "Your nick %s cannot be registered.", nick);
		return;
	}
	account_register(c, nick, email, argv[0], done_register, NULL);
}

static void done_identify(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	if (r->status == ACC_OK) {
		service_login(c, r->name);
		service_notice(NS, c, "You are now identified for %s.", r->name);
	} else {
		service_notice(NS, c, "Login failed: %s", status_text(r->status));
	}
}

static void ns_identify(struct client *c, char **argv, int argc)
{
	if (argc < 1) {
		service_notice(NS, c, "Syntax: IDENTIFY [account] <password>");
		return;
	}
	if (service_client_account(c)[0]) {
		service_notice(NS, c, "You are already logged in as %s.", service_client_account(c));
		return;
	}
	const char *name = argc > 1 ? argv[0] : service_client_nick(c);
	account_check_password(c, name, argv[argc > 1 ? 1 : 0], done_identify, NULL);
}

static void done_dropped(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	if (r->status != ACC_OK) {
		service_notice(NS, c, "Drop failed: %s", status_text(r->status));
		return;
	}
	service_notice(NS, c, "Your account has been dropped.");
	service_logout_account(r->name);
}

static void done_drop_check(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	if (r->status != ACC_OK) {
		service_notice(NS, c, "Drop failed: %s", status_text(r->status));
		return;
	}
	account_drop(c, r->name, done_dropped, NULL);
}

static void ns_drop(struct client *c, char **argv, int argc)
{
	const char *acct = service_client_account(c);
	if (!acct[0]) {
		service_notice(NS, c, "You must be logged in to drop your account.");
		return;
	}
	if (argc < 1) {
		service_notice(NS, c, "Syntax: DROP <password> (drops the account %s)", acct);
		return;
	}
	account_check_password(c, acct, argv[0], done_drop_check, NULL);
}

/* GHOST: the target nick's owner account must be the caller's (or the password given). */
static void done_ghost(struct client *c, const struct account_result *r, void *arg)
{
	char *nick = arg;
	struct client *t = service_client_find(nick);
	bool allowed = r->status == ACC_OK && strcasecmp(r->name, service_client_account(c)) == 0;
	if (!t || t == c)
		service_notice(NS, c, "%s is not online.", nick);
	else if (!allowed)
		service_notice(NS, c, "You may not ghost %s.", nick);
	else if (service_client_is_ghost(t) && strcasecmp(service_client_account(t), service_client_account(c)) == 0) {
		/* an always-on user of the caller's account: the caller becomes it */
		service_notice(NS, c, "%s is your always-on session; you are now using it.", nick);
		service_reattach(c);
	} else {
		char reason[128];
		snprintf(reason, sizeof reason, "GHOST command used by %s", service_client_nick(c));
		service_disconnect(t, reason);
		service_notice(NS, c, "%s has been ghosted.", nick);
	}
	free(nick);
}

static void ns_ghost(struct client *c, char **argv, int argc)
{
	if (argc < 1) {
		service_notice(NS, c, "Syntax: GHOST <nick>");
		return;
	}
	if (!service_client_account(c)[0]) {
		service_notice(NS, c, "You must be logged in to the nick's account to ghost it.");
		return;
	}
	char *nick = strdup(argv[0]);
	if (!nick)
		abort();
	account_nick_owner(c, nick, done_ghost, nick);
}

static void done_simple(struct client *c, const struct account_result *r, void *arg)
{
	if (r->status == ACC_OK)
		service_notice(NS, c, "%s", (const char *)arg);
	else
		service_notice(NS, c, "Failed: %s", status_text(r->status));
}

static void done_always_on(struct client *c, bool ok)
{
	if (!ok)
		service_notice(NS, c, "Failed: %s", status_text(ACC_UNAVAILABLE));
	else if (service_always_on(service_client_account(c)))
		service_notice(NS, c, "Always-on is now on: when your last connection leaves, you stay on your channels "
		               "(away) and messages to you are kept.");
	else
		service_notice(NS, c, "Always-on is now off.");
}

static void set_always_on(struct client *c, const char *value)
{
	bool enable = strcasecmp(value, "ON") == 0;
	if (!enable && strcasecmp(value, "OFF") != 0)
		service_notice(NS, c, "Syntax: SET ALWAYS-ON ON|OFF");
	else
		service_set_always_on(c, enable, done_always_on);
}

static void ns_set(struct client *c, char **argv, int argc)
{
	const char *acct = service_client_account(c);
	bool email = argc >= 2 && strcasecmp(argv[0], "EMAIL") == 0;
	bool always = argc >= 2 && strcasecmp(argv[0], "ALWAYS-ON") == 0;
	if (argc < 2 || (!email && !always && strcasecmp(argv[0], "PASSWORD") != 0)) {
		service_notice(NS, c, "Syntax: SET PASSWORD <new password> | SET EMAIL <address> | SET ALWAYS-ON ON|OFF");
		return;
	}
	if (!acct[0]) {
		service_notice(NS, c, "You must be logged in.");
		return;
	}
	if (always) {
		set_always_on(c, argv[1]);
		return;
	}
	if (email) {
		if (!account_email_valid(argv[1]))
			service_notice(NS, c, "%s is not a valid email address.", argv[1]);
		else
			account_set_email(c, acct, argv[1], done_simple, (void *)"Email address changed.");
		return;
	}
	if (strlen(argv[1]) < (size_t)ircd_conf()->min_password_length || strlen(argv[1]) > PASSWORD_MAX) {
		service_notice(NS, c, "Passwords must be %d to %d characters long.", ircd_conf()->min_password_length,
		               PASSWORD_MAX);
		return;
	}
	account_set_password(c, acct, argv[1], done_simple, (void *)"Password changed.");
}

static void done_info(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	if (r->status != ACC_OK) {
		service_notice(NS, c, "%s", status_text(r->status));
		return;
	}
	char when[64];
	struct tm tm;
	gmtime_r(&r->created, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	service_notice(NS, c, "Information on %s:", r->name);
	service_notice(NS, c, "Registered: %s", when);
	service_notice(NS, c, "Nicks: %s", r->nicks);
	bool own = strcasecmp(r->name, service_client_account(c)) == 0;
	if ((own || service_client_is_oper(c)) && r->email[0])
		service_notice(NS, c, "Email: %s", r->email);
	if (own || service_client_is_oper(c)) {
		int set = service_always_on_setting(r->name);
		service_notice(NS, c, "Always-on: %s%s", service_always_on(r->name) ? "on" : "off",
		               set < 0 ? " (server default)" : "");
	}
	if (service_client_find(r->name))
		service_notice(NS, c, "%s is online now.", r->name);
	service_notice(NS, c, "End of info.");
}

static void ns_info(struct client *c, char **argv, int argc)
{
	const char *name = argc > 0 ? argv[0] : service_client_account(c);
	if (!name[0]) {
		service_notice(NS, c, "Syntax: INFO <account>");
		return;
	}
	account_info(c, name, done_info, NULL);
}

static void done_cert_list(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	if (r->status != ACC_OK) {
		service_notice(NS, c, "Failed: %s", status_text(r->status));
		return;
	}
	service_notice(NS, c, "Certificate fingerprints for %s: %s", service_client_account(c),
	               r->certs[0] ? r->certs : "(none)");
}

static void ns_cert(struct client *c, char **argv, int argc)
{
	const char *acct = service_client_account(c);
	if (!acct[0]) {
		service_notice(NS, c, "You must be logged in.");
		return;
	}
	const char *sub = argc > 0 ? argv[0] : "";
	if (strcasecmp(sub, "LIST") == 0) {
		account_cert(c, acct, NULL, false, done_cert_list, NULL);
	} else if (strcasecmp(sub, "ADD") == 0) {
		const char *fp = argc > 1 ? argv[1] : service_client_certfp(c);
		if (!fp[0] || strlen(fp) > 128) {
			service_notice(NS, c, "No certificate fingerprint: connect with a client certificate or give one.");
			return;
		}
		account_cert(c, acct, fp, true, done_simple, (void *)"Certificate fingerprint added.");
	} else if (strcasecmp(sub, "DEL") == 0 && argc > 1) {
		account_cert(c, acct, argv[1], false, done_simple, (void *)"Certificate fingerprint removed.");
	} else {
		service_notice(NS, c, "Syntax: CERT ADD [fingerprint] | CERT DEL <fingerprint> | CERT LIST");
	}
}

static void done_verify(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	if (r->status == ACC_OK) {
		service_notice(NS, c, "Account %s verified.", r->name);
		if (!service_client_account(c)[0])
			service_login(c, r->name);
	} else {
		service_notice(NS, c, "Verification failed: %s", status_text(r->status));
	}
}

static void ns_verify(struct client *c, char **argv, int argc)
{
	if (argc < 2) {
		service_notice(NS, c, "Syntax: VERIFY <account> <code>");
		return;
	}
	account_verify(c, argv[0], argv[1], done_verify, NULL);
}

static void ns_help(struct client *c, char **argv, int argc);

/* Nick enforcement: someone using a nick registered to an account they are not logged
 * in to is warned, then renamed after accounts.nick_enforce_delay seconds. */
static void enforce_expired(struct client *c);

static void enforce_owner(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	if (r->status != ACC_OK || strcasecmp(r->name, service_client_account(c)) == 0)
		return;
	int delay = ircd_conf()->nick_enforce_delay;
	service_notice(NS, c, "The nick %s is registered to the account %s. Log in (SASL, or /msg NickServ IDENTIFY "
	               "<password>) within %d seconds or your nick will be changed.",
	               service_client_nick(c), r->name, delay);
	service_timer(c, delay, enforce_expired);
}

static void enforce_recheck(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	if (r->status != ACC_OK || strcasecmp(r->name, service_client_account(c)) == 0)
		return;
	service_notice(NS, c, "You did not log in to %s in time; changing your nick.", r->name);
	service_force_guest_nick(c, ircd_conf()->guest_prefix);
}

static void enforce_expired(struct client *c) { account_nick_owner(c, service_client_nick(c), enforce_recheck, NULL); }

void nickserv_nick_changed(struct client *c)
{
	service_timer_cancel(c);
	if (ircd_conf()->nick_enforce_delay > 0)
		account_nick_owner(c, service_client_nick(c), enforce_owner, NULL);
}

static void done_reset(struct client *c, const struct account_result *r, void *arg)
{
	(void)arg;
	if (r->status == ACC_OK)
		service_notice(NS, c, "Password changed for %s. You can log in with it now.", r->name);
	else if (r->status == ACC_BAD_CODE)
		service_notice(NS, c, "Invalid or expired code.");
	else
		service_notice(NS, c, "Failed: %s", status_text(r->status));
}

/* RESETPASS <account>: the same answer whether or not the account exists or has an
 * address, at once (the mail goes out on the storage thread afterwards). */
static void ns_resetpass(struct client *c, char **argv, int argc)
{
	if (argc != 1 && argc != 3) {
		service_notice(NS, c, "Syntax: RESETPASS <account> [<code> <new password>]");
		return;
	}
	if (!ircd_conf()->mail_command[0]) {
		service_notice(NS, c, "Password reset by email is not available on this network.");
		return;
	}
	if (argc == 1) {
		service_notice(NS, c, "If %s has an email address, a code was sent there. Within an hour, send: "
		               "RESETPASS %s <code> <new password>", argv[0], argv[0]);
		account_reset_request(c, argv[0]);
		return;
	}
	if (strlen(argv[2]) < (size_t)ircd_conf()->min_password_length || strlen(argv[2]) > PASSWORD_MAX) {
		service_notice(NS, c, "Passwords must be %d to %d characters long.", ircd_conf()->min_password_length,
		               PASSWORD_MAX);
		return;
	}
	account_reset_password(c, argv[0], argv[1], argv[2], done_reset, NULL);
}

static void ns_logout(struct client *c, char **argv, int argc)
{
	(void)argv;
	(void)argc;
	if (!service_client_account(c)[0]) {
		service_notice(NS, c, "You are not logged in.");
		return;
	}
	service_logout(c);
	service_notice(NS, c, "You are now logged out.");
}

static const struct {
	const char *name;
	void (*fn)(struct client *c, char **argv, int argc);
	const char *help;
	const char *detail;
} commands[] = {
    {"REGISTER", ns_register, "REGISTER <password> [email] - register your current nick as an account",
     "Creates an account named after your current nick and logs you in.\n"
     "Passwords are 8 to 600 characters (accounts.min_password_length sets the minimum).\n"
     "The email address is required when the network asks for one; with verification on,\n"
     "a code is sent there and the account works once VERIFY confirms it."},
    {"IDENTIFY", ns_identify, "IDENTIFY [account] <password> - log in",
     "Logs you in to an account (your current nick's when none is named).\n"
     "SASL does the same before registration; clients that cannot do SASL use this."},
    {"LOGOUT", ns_logout, "LOGOUT - log out of your account",
     "Logs you out; you keep your nick and channels."},
    {"DROP", ns_drop, "DROP <password> - delete your account",
     "Deletes the account you are logged in to, after checking its password. This cannot be undone."},
    {"GHOST", ns_ghost, "GHOST <nick> - disconnect a session using a nick of your account",
     "Disconnects another connection using a nick registered to your account, so you can take it."},
    {"SET", ns_set, "SET PASSWORD <new password> | EMAIL <address> | ALWAYS-ON ON|OFF - account settings",
     "Changes the password or the email address of the account you are logged in to.\n"
     "INFO shows the address to you and to operators only.\n"
     "ALWAYS-ON ON: when your last connection leaves, your nick stays on its channels, away\n"
     "(\"Always-on (disconnected)\"), nobody else can take it, messages to you are kept,\n"
     "and your next login takes it back with what you missed. OFF: you quit as usual.\n"
     "Without a choice the server's default applies (INFO shows it)."},
    {"INFO", ns_info, "INFO [account] - show information about an account",
     "Shows when an account was registered and whether it is online (yours without a name)."},
    {"CERT", ns_cert, "CERT ADD [fp] | DEL <fp> | LIST - client certificates for SASL EXTERNAL",
     "ADD without a fingerprint adds the certificate of your current connection.\n"
     "A listed certificate logs you in with SASL EXTERNAL, no password needed."},
    {"RESETPASS", ns_resetpass, "RESETPASS <account> [<code> <new password>] - a forgotten password",
     "With the account alone, mails a code to its email address (valid one hour, used once);\n"
     "with the code, sets the new password. The answer is the same whether or not the account exists."},
    {"VERIFY", ns_verify, "VERIFY <account> <code> - confirm a registration",
     "Confirms a registration with the code sent to its email address."},
    {"HELP", ns_help, "HELP [command] - this list, or help on one command",
     "Without a command, lists the commands; with one, shows its syntax and what it does."},
};

static void ns_help(struct client *c, char **argv, int argc)
{
	if (argc > 0) {
		for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
			if (strcasecmp(argv[0], commands[i].name) == 0) {
				service_help_topic(NS, c, commands[i].help, commands[i].detail);
				return;
			}
		service_notice(NS, c, "No help for %s. Use HELP for a list.", argv[0]);
		return;
	}
	service_notice(NS, c, "NickServ commands:");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		service_notice(NS, c, "  %s", commands[i].help);
}

static void ns_message(const struct service *s, struct client *from, char *text)
{
	(void)s;
	char *argv[8];
	int argc = 0;
	char *save;
	char *cmd = strtok_r(text, " ", &save);
	if (!cmd)
		return;
	for (char *a = strtok_r(NULL, " ", &save); a && argc < 8; a = strtok_r(NULL, " ", &save))
		argv[argc++] = a;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcasecmp(cmd, commands[i].name) == 0) {
			commands[i].fn(from, argv, argc);
			return;
		}
	}
	service_notice(NS, from, "Unknown command %s. Use HELP for a list.", cmd);
}
