/*
 * test_config.c - connect-sshd.conf loading: defaults, every kind of
 * validation error with its file:line text, environment overrides, the
 * keys_file, and the dump -> load -> dump round trip.
 *
 * Each test writes its files under a fresh mkdtemp() directory and removes
 * it afterwards.  Error messages name that directory, so expectations are
 * written as the part after the file name.
 */
#include <sys/stat.h>
#include <sys/socket.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "config.h"
#include "log.h"
#include "runner.h"

#define WORKER		"/usr/libexec/connect-sshd/connect-sshd-worker"
#define NFTW_FDS	8

static const char alice_key[] = "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIJL2caz85W7nHbvPdyt9RJm5dcvBCsH9ILDGjnNfd2mH "
    "alice@test";
static const char bob_key[] = "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIOuugzN7jBZFZ1h5oGoI44UEGksz8URTgAMX9fXFrDQZ "
    "bob@test";
static const char carol_key[] = "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIATiU3b+8Pz1bk/56n30aRDErB//Q2tW6Ye1ismku9lo "
    "carol@test";
static const char rsa_key[] = "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAABAQDbcg29LSvZzZYNRYUm+6JmmUe4eXP/EvFw4X4AOII"
    "bpKy0iOf+JfnQs3fX64Vn4cKx9qTY5oMZZMgMYGTi1u14qgiBRc3jbyKZHZI0V02dy8ouxs"
    "NyZ66n3FrgGtUem2DqYiWNmyo9zubRR4nFL6EI0dbNRIcj9dxph0+sxZSRRx5kr59JbgX7r"
    "LCwR3nPf863EBrMKb78fYI+7WB0gcFd6lkBqT4ap2IlxXsKfkRezuvCilZ/EsabUwuNvfsf"
    "+qjHb6ATDKx6VvWqY/083sgTjLoDUW3Myw9y1NayKDmIS3IqNeIaLlMO/LFgIbT8uSmwUkL"
    "cdvu4VG2CJ8Pi8jIv rsa@test";
static const char fp_alice[] =
    "SHA256:6AhPnsFrPj0MS65F0DBq4gk1c+HHf4eF6mhvOIM8Ud4";
static const char fp_bob[] =
    "SHA256:Cv5Jn0tlB/2h+DXihN3gSH4hk3nt1Hu1wlSmaZRPm6Q";

/* A scratch directory and the config file in it. */
struct fx {
	char dir[PATH_MAX];
	char path[PATH_MAX + sizeof("/connect-sshd.conf")];
	struct config_errors errs;
};

static void
fx_init(struct fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "%s/csshd-config.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	CU_ASSERT_FATAL(mkdtemp(fx->dir) != NULL);
	snprintf(fx->path, sizeof(fx->path), "%s/connect-sshd.conf", fx->dir);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
fx_done(struct fx *fx)
{
	config_errors_free(&fx->errs);
	CU_ASSERT(nftw(fx->dir, rm_one, NFTW_FDS, FTW_DEPTH | FTW_PHYS) == 0);
}

/* Write text to dir/name, making dir/keys if name is under it. */
static void
fx_write(struct fx *fx, const char *name, const char *text)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/keys", fx->dir);
	if (strncmp(name, "keys/", 5) == 0 && mkdir(path, 0700) == -1)
		CU_ASSERT_FATAL(errno == EEXIST);
	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	CU_ASSERT_FATAL((f = fopen(path, "w")) != NULL);
	CU_ASSERT(fputs(text, f) >= 0);
	CU_ASSERT(fclose(f) == 0);
}

static struct config *
fx_load_env(struct fx *fx, const char *text, char *const *env)
{
	config_errors_free(&fx->errs);
	fx_write(fx, "connect-sshd.conf", text);
	return config_load(fx->path, env, WORKER, &fx->errs);
}

static struct config *
fx_load(struct fx *fx, const char *text)
{
	return fx_load_env(fx, text, NULL);
}

/* Is "<file><rest>" among the errors?  file is the config unless given. */
static int
has_error(const struct fx *fx, const char *file, const char *rest)
{
	char want[PATH_MAX * 3];
	size_t i;

	snprintf(want, sizeof(want), "%s%s", file != NULL ? file : fx->path,
	    rest);
	for (i = 0; i < fx->errs.n; i++)
		if (strcmp(fx->errs.msg[i], want) == 0)
			return 1;
	/* Show what there was instead, to make the failure easy to read. */
	fprintf(stderr, "\n      missing error [%s]", want);
	for (i = 0; i < fx->errs.n; i++)
		fprintf(stderr, "\n      have [%s]", fx->errs.msg[i]);
	return 0;
}

/* Load text, expect failure with exactly the one error "<path><rest>". */
static void
expect_one_error(const char *text, const char *rest)
{
	struct fx fx;
	struct config *cfg;

	fx_init(&fx);
	cfg = fx_load(&fx, text);
	CU_ASSERT_PTR_NULL(cfg);
	config_free(cfg);
	if (!has_error(&fx, NULL, rest) || fx.errs.n != 1) {
		CU_FAIL("not exactly the one error expected");
		fprintf(stderr, "\n      %zu errors", fx.errs.n);
	}
	fx_done(&fx);
}

/* printf into a fresh string. */
static char *
fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	int rc;

	va_start(ap, f);
	rc = vasprintf(&s, f, ap);
	va_end(ap);
	CU_ASSERT_FATAL(rc >= 0);
	return s;
}

/* The config most tests start from: line numbers matter below. */
static char *
base_config(const char *extra)
{
	return fmt(
	    "listen = [ \"127.0.0.1:2222\", \"[::1]:2222\", \":2200\" ];\n"
	    "key = \"/secrets/ssh-key\";\n"
	    "allowed_workspaces = [ 12345 ];\n"
	    "workspaces = ( { id = 12345; members = [ \"alice\", \"bob\" ]; } );\n"
	    "users = ( { name = \"alice\"; keys = [ \"%s\" ]; },\n"
	    "          { name = \"bob\"; keys = [ \"%s\" ]; } );\n"
	    "studios = ( { session = \"a1b2c3\"; workspace = 12345;\n"
	    "              upstream = \"10.0.0.5:22\"; } );\n"
	    "%s", alice_key, bob_key, extra);
}

#define BASE_LINES	8	/* the next line of base_config() is 9 */

static void
expect_base_error(const char *extra, const char *rest)
{
	char *text = base_config(extra);

	expect_one_error(text, rest);
	free(text);
}

/* --- success ---------------------------------------------------------- */

static void
test_defaults(void)
{
	struct fx fx;
	struct config *cfg;

	fx_init(&fx);
	cfg = fx_load(&fx, "listen = [ \":2222\" ];\nkey = \"/k\";\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(fx.errs.n, 0);
	CU_ASSERT_STRING_EQUAL(cfg->path, fx.path);
	CU_ASSERT_EQUAL(cfg->nlisten, 1);
	CU_ASSERT_STRING_EQUAL(cfg->listen[0].host, "");
	CU_ASSERT_STRING_EQUAL(cfg->listen[0].port, "2222");
	CU_ASSERT_EQUAL(cfg->listen[0].line, 1);
	CU_ASSERT_STRING_EQUAL(cfg->key_path, "/k");
	CU_ASSERT_PTR_NULL(cfg->key_fingerprint);
	CU_ASSERT_EQUAL(cfg->enabled, 1);
	CU_ASSERT_EQUAL(cfg->nallowed_workspaces, 0);
	CU_ASSERT_EQUAL(cfg->nworkspaces, 0);
	CU_ASSERT_EQUAL(cfg->nusers, 0);
	CU_ASSERT_EQUAL(cfg->nstudios, 0);
	CU_ASSERT_EQUAL(cfg->workers.prefork, 4);
	CU_ASSERT_STRING_EQUAL(cfg->workers.user, "nobody");
	CU_ASSERT_STRING_EQUAL(cfg->workers.chroot, "/var/empty");
	CU_ASSERT_STRING_EQUAL(cfg->workers.program, WORKER);
	CU_ASSERT_EQUAL(cfg->log.level, LOG_LVL_INFO);
	CU_ASSERT_EQUAL(cfg->log.format, LOG_FMT_TEXT);
	CU_ASSERT_EQUAL(cfg->limits.login_grace_time, 30);
	CU_ASSERT_EQUAL(cfg->limits.upstream_connect_timeout, 10);
	CU_ASSERT_EQUAL(cfg->limits.max_auth_tries, 6);
	CU_ASSERT_EQUAL(cfg->limits.max_sessions, 1000);
	CU_ASSERT_EQUAL(cfg->limits.max_sessions_per_user, 32);
	CU_ASSERT_EQUAL(cfg->limits.per_source_max_startups, 5);
	CU_ASSERT_EQUAL(cfg->limits.idle_timeout, 0);
	CU_ASSERT_EQUAL(cfg->limits.keepalive_interval, 60);
	CU_ASSERT_EQUAL(cfg->limits.keepalive_count_max, 3);
	CU_ASSERT_EQUAL(cfg->limits.rsa_min_bits, 2048);
	CU_ASSERT_EQUAL(cfg->forwarding.local, 1);
	CU_ASSERT_EQUAL(cfg->forwarding.remote, 1);
	CU_ASSERT_EQUAL(cfg->forwarding.agent, 1);
	CU_ASSERT_EQUAL(cfg->algorithms.nkex, 7);
	CU_ASSERT_STRING_EQUAL(cfg->algorithms.kex[0], "mlkem768x25519-sha256");
	CU_ASSERT_STRING_EQUAL(cfg->algorithms.kex[1], "sntrup761x25519-sha512");
	CU_ASSERT_STRING_EQUAL(cfg->algorithms.kex[3], "curve25519-sha256");
	CU_ASSERT_EQUAL(cfg->algorithms.nciphers, 6);
	CU_ASSERT_STRING_EQUAL(cfg->algorithms.ciphers[0],
	    "aes128-gcm@openssh.com");
	CU_ASSERT_EQUAL(cfg->algorithms.nmacs, 2);
	config_free(cfg);
	fx_done(&fx);
}


/* Every setting given, none at its default. */
static char *
full_config(void)
{
	return fmt(
	    "listen = [ \"0.0.0.0:2222\", \"[::]:2222\" ];\n"
	    "key = \"/secrets/ssh-key\";\n"
	    "key_fingerprint = \"%s\";\n"
	    "enabled = true;\n"
	    "allowed_workspaces = [ 12345L, 77L, 9000000000L ];\n"
	    "workspaces = (\n"
	    "  { id = 12345; members = [ \"alice\", \"carol@example.com\" ]; },\n"
	    "  { id = 9000000000L; members = [ ]; }\n"
	    ");\n"
	    "users = (\n"
	    "  { name = \"alice\";\n"
	    "    keys = [ \"%s\", \"%s\" ]; },\n"
	    "  { name = \"carol@example.com\";\n"
	    "    keys = [ \"%s a \\\"quoted\\\" \\\\ and\\ttabbed comment\" ];\n"
	    "    keys_file = \"keys/carol\"; }\n"
	    ");\n"
	    "studios = (\n"
	    "  { session = \"a1b2c3\"; workspace = 12345;\n"
	    "    upstream = \"10.0.0.5:22\"; upstream_user = \"root\";\n"
	    "    users = [ \"alice\" ]; host_key_fingerprint = \"%s\"; },\n"
	    "  { session = \"v6-studio_2\"; workspace = 9000000000L;\n"
	    "    upstream = \"[fd00::5]:2022\"; users = [ ]; }\n"
	    ");\n"
	    "workers = { prefork = 8; user = \"sshd\"; chroot = \"/run/empty\";\n"
	    "  program = \"/opt/csshd/worker\"; };\n"
	    "log = { level = \"debug\"; format = \"json\"; };\n"
	    "limits = { login_grace_time = 60; upstream_connect_timeout = 5;\n"
	    "  max_auth_tries = 3; max_sessions = 50;\n"
	    "  max_startups = \"5:50:20\"; per_source_max_startups = 3; };\n"
	    "forwarding = { local = false; agent = false; };\n",
	    fp_alice, alice_key, rsa_key, carol_key, fp_bob);
}

static char *
carol_keys_file(void)
{
	return fmt("# carol's other keys\n\n%s\n   \n  %s\n", bob_key, rsa_key);
}

static void
check_full(const struct config *cfg)
{
	const struct cfg_studio *st;
	const struct cfg_user *u;

	CU_ASSERT_EQUAL_FATAL(cfg->nlisten, 2);
	CU_ASSERT_STRING_EQUAL(cfg->listen[0].host, "0.0.0.0");
	CU_ASSERT_STRING_EQUAL(cfg->listen[1].host, "::");
	CU_ASSERT_STRING_EQUAL(cfg->listen[1].port, "2222");
	CU_ASSERT_STRING_EQUAL(cfg->key_fingerprint, fp_alice);
	CU_ASSERT_EQUAL_FATAL(cfg->nallowed_workspaces, 3);
	CU_ASSERT(cfg->allowed_workspaces[2] == 9000000000LL);
	CU_ASSERT_EQUAL_FATAL(cfg->nworkspaces, 2);
	CU_ASSERT_EQUAL(cfg->workspaces[0].nmembers, 2);
	CU_ASSERT_STRING_EQUAL(cfg->workspaces[0].members[1],
	    "carol@example.com");
	CU_ASSERT_EQUAL(cfg->workspaces[1].nmembers, 0);
	CU_ASSERT_EQUAL_FATAL(cfg->nusers, 2);
	u = &cfg->users[0];
	CU_ASSERT_EQUAL(u->nkeys, 2);
	CU_ASSERT_EQUAL(u->ninline, 2);
	CU_ASSERT_PTR_NULL(u->keys_file);
	CU_ASSERT_STRING_EQUAL(u->keys[0].fp, fp_alice);
	CU_ASSERT_STRING_EQUAL(u->keys[1].type, "ssh-rsa");
	u = &cfg->users[1];
	CU_ASSERT_EQUAL_FATAL(u->nkeys, 3);
	CU_ASSERT_EQUAL(u->ninline, 1);
	CU_ASSERT_STRING_EQUAL(u->keys_file, "keys/carol");
	CU_ASSERT_STRING_EQUAL(u->keys[0].comment,
	    "carol@test a \"quoted\" \\ and\ttabbed comment");
	CU_ASSERT_STRING_EQUAL(u->keys[1].fp, fp_bob);
	CU_ASSERT_STRING_EQUAL(u->keys[2].type, "ssh-rsa");
	CU_ASSERT_EQUAL_FATAL(cfg->nstudios, 2);
	st = &cfg->studios[0];
	CU_ASSERT_STRING_EQUAL(st->session, "a1b2c3");
	CU_ASSERT(st->workspace == 12345);
	CU_ASSERT_STRING_EQUAL(st->upstream_host, "10.0.0.5");
	CU_ASSERT_STRING_EQUAL(st->upstream_port, "22");
	CU_ASSERT_STRING_EQUAL(st->upstream_user, "root");
	CU_ASSERT_EQUAL(st->users_set, 1);
	CU_ASSERT_EQUAL_FATAL(st->nusers, 1);
	CU_ASSERT_STRING_EQUAL(st->users[0], "alice");
	CU_ASSERT_STRING_EQUAL(st->host_key_fingerprint, fp_bob);
	st = &cfg->studios[1];
	CU_ASSERT(st->workspace == 9000000000LL);
	CU_ASSERT_STRING_EQUAL(st->upstream_host, "fd00::5");
	CU_ASSERT_STRING_EQUAL(st->upstream_port, "2022");
	CU_ASSERT_PTR_NULL(st->upstream_user);
	CU_ASSERT_PTR_NULL(st->host_key_fingerprint);
	CU_ASSERT_EQUAL(st->users_set, 1);
	CU_ASSERT_EQUAL(st->nusers, 0);
	CU_ASSERT_EQUAL(cfg->workers.prefork, 8);
	CU_ASSERT_STRING_EQUAL(cfg->workers.user, "sshd");
	CU_ASSERT_STRING_EQUAL(cfg->workers.chroot, "/run/empty");
	CU_ASSERT_STRING_EQUAL(cfg->workers.program, "/opt/csshd/worker");
	CU_ASSERT_EQUAL(cfg->log.level, LOG_LVL_DEBUG);
	CU_ASSERT_EQUAL(cfg->log.format, LOG_FMT_JSON);
	CU_ASSERT_EQUAL(cfg->limits.login_grace_time, 60);
	CU_ASSERT_EQUAL(cfg->limits.upstream_connect_timeout, 5);
	CU_ASSERT_EQUAL(cfg->limits.max_auth_tries, 3);
	CU_ASSERT_EQUAL(cfg->limits.max_sessions, 50);
	CU_ASSERT_EQUAL(cfg->limits.startups_begin, 5);
	CU_ASSERT_EQUAL(cfg->limits.startups_rate, 50);
	CU_ASSERT_EQUAL(cfg->limits.startups_full, 20);
	CU_ASSERT_EQUAL(cfg->limits.per_source_max_startups, 3);
	CU_ASSERT_EQUAL(cfg->forwarding.local, 0);
	CU_ASSERT_EQUAL(cfg->forwarding.remote, 1);
	CU_ASSERT_EQUAL(cfg->forwarding.agent, 0);
}

static void
test_full(void)
{
	struct fx fx;
	struct config *cfg;
	char *text, *keys;

	fx_init(&fx);
	fx_write(&fx, "keys/carol", keys = carol_keys_file());
	cfg = fx_load(&fx, text = full_config());
	CU_ASSERT_PTR_NOT_NULL(cfg);
	if (cfg != NULL)
		check_full(cfg);
	config_free(cfg);
	free(text);
	free(keys);
	fx_done(&fx);
}

/* --- errors, each with its place -------------------------------------- */

static void
test_unknown_settings(void)
{
	expect_base_error("foo = 1;\n", ":9: unknown setting 'foo'");
	expect_base_error("workers = {\n  prefork = 2;\n  bar = 1;\n};\n",
	    ":11: unknown setting 'bar' in workers");
	expect_base_error("log = { colour = true; };\n",
	    ":9: unknown setting 'colour' in log");
	expect_base_error("limits = { max_users = 1; };\n",
	    ":9: unknown setting 'max_users' in limits");
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "workspaces = ( { id = 1; members = [ ]; } );\n"
	    "studios = ( { session = \"s1\"; workspace = 1;\n"
	    "  upstream = \"10.0.0.1:22\";\n"
	    "  colour = \"red\"; } );\n",
	    ":6: unknown setting 'colour' in studio s1");
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "workspaces = ( { id = 7; owner = \"x\"; } );\n",
	    ":3: unknown setting 'owner' in workspace 7");
}

static void
test_wrong_types(void)
{
	expect_base_error("workers = { prefork = \"4\"; };\n",
	    ":9: workers.prefork must be an integer, not a string");
	expect_base_error("enabled = 1;\n",
	    ":9: enabled must be a boolean, not an integer");
	expect_base_error("limits = ( );\n",
	    ":9: limits must be a group { ... }, not a list ( ... )");
	expect_base_error("log = { level = 3; };\n",
	    ":9: log.level must be a string, not an integer");
	expect_base_error("forwarding = { remote = \"no\"; };\n",
	    ":9: forwarding.remote must be a boolean, not a string");
	expect_base_error("algorithms = { ciphers = [ \"aes128-cbc\" ]; };\n",
	    ":9: algorithms.ciphers: \"aes128-cbc\" is not valid: use some of "
	    "aes128-gcm@openssh.com, aes256-gcm@openssh.com, "
	    "chacha20-poly1305@openssh.com, aes256-ctr, aes192-ctr, aes128-ctr");
	expect_base_error("algorithms = { macs = [ \"hmac-sha1\" ]; };\n",
	    ":9: algorithms.macs: \"hmac-sha1\" is not valid: use some of "
	    "hmac-sha2-256-etm@openssh.com, hmac-sha2-512-etm@openssh.com, "
	    "hmac-sha2-256, hmac-sha2-512");
	expect_base_error("algorithms = { kex = [ ]; };\n",
	    ":9: algorithms.kex is empty: list at least one algorithm");
	expect_base_error("forwarding = { x11 = true; };\n",
	    ":9: unknown setting 'x11' in forwarding");
	expect_base_error("limits = { max_startups = \"10:30\"; };\n",
	    ":9: limits.max_startups = \"10:30\" is not valid: use "
	    "\"start:rate:full\" with 1 <= start <= full <= 100000 and rate 0 "
	    "to 100, or one number");
	expect_base_error("limits = { max_startups = \"20:30:10\"; };\n",
	    ":9: limits.max_startups = \"20:30:10\" is not valid: use "
	    "\"start:rate:full\" with 1 <= start <= full <= 100000 and rate 0 "
	    "to 100, or one number");
	expect_base_error("limits = { keepalive_count_max = 0; };\n",
	    ":9: limits.keepalive_count_max = 0 is out of range: use 1 to 100");
	expect_base_error("limits = { max_sessions = 1.5; };\n",
	    ":9: limits.max_sessions must be an integer, not a "
	    "floating-point number");
	expect_one_error("listen = \":22\";\nkey = \"/k\";\n",
	    ":1: listen must be an array [ ... ], not a string");
	expect_one_error("listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "users = { name = \"x\"; };\n",
	    ":3: users must be a list ( ... ), not a group { ... }");
	expect_one_error("listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "users = ( \"x\" );\n",
	    ":3: users entry 1 must be a group { ... }, not a string");
	expect_one_error("listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "allowed_workspaces = [ \"1\" ];\n",
	    ":3: allowed_workspaces[0] must be an integer, not a string");
}

static void
test_bad_listen(void)
{
	static const struct {
		const char *addr, *why;
	} cases[] = {
		{ "localhost:22", "not a numeric IPv4 address; host names are "
		    "not resolved" },
		{ "127.1:22", "not a numeric IPv4 address; host names are "
		    "not resolved" },
		{ "1.2.3.4", "missing \":port\"" },
		{ ":0", "the port must be a number from 1 to 65535" },
		{ ":65536", "the port must be a number from 1 to 65535" },
		{ ":022", "the port must be a number from 1 to 65535" },
		{ ":ssh", "the port must be a number from 1 to 65535" },
		{ "::1:22", "an IPv6 address must be in brackets, as in "
		    "\"[::1]:22\"" },
		{ "[::1]22", "missing \":port\" after ']'" },
		{ "[::1:22", "missing ']' after the IPv6 address" },
		{ "[]:22", "empty IPv6 address in brackets" },
		{ "[1.2.3.4]:22", "not a numeric IPv6 address" },
	};
	char *text, *rest;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		text = fmt("key = \"/k\";\nlisten = [ \"%s\" ];\n",
		    cases[i].addr);
		rest = fmt(":2: listen \"%s\": %s (use \"host:port\", "
		    "\"[v6]:port\" or \":port\")", cases[i].addr,
		    cases[i].why);
		expect_one_error(text, rest);
		free(text);
		free(rest);
	}
}

static void
test_bad_fingerprint(void)
{
	static const char *const bad[] = {
		"SHA256:abc",
		"MD5:6AhPnsFrPj0MS65F0DBq4gk1c+HHf4eF6mhvOIM8Ud4",
		"SHA256:6AhPnsFrPj0MS65F0DBq4gk1c+HHf4eF6mhvOIM8Ud4=",
		"SHA256:6AhPnsFrPj0MS65F0DBq4gk1c+HHf4eF6mhvOIM8Ud!",
		/* The last character may carry only 4 bits. */
		"SHA256:6AhPnsFrPj0MS65F0DBq4gk1c+HHf4eF6mhvOIM8Ud5",
	};
	char *extra, *rest;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		extra = fmt("key_fingerprint = \"%s\";\n", bad[i]);
		rest = fmt(":9: key_fingerprint \"%s\" is not a SHA256 "
		    "fingerprint: expected \"SHA256:\" and 43 base64 "
		    "characters, as ssh-keygen -lf prints", bad[i]);
		expect_base_error(extra, rest);
		free(extra);
		free(rest);
	}
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "workspaces = ( { id = 1; } );\n"
	    "studios = ( { session = \"s1\"; workspace = 1;\n"
	    "  upstream = \"10.0.0.1:22\";\n"
	    "  host_key_fingerprint = \"SHA256:\"; } );\n",
	    ":6: studio s1: host_key_fingerprint \"SHA256:\" is not a SHA256 "
	    "fingerprint: expected \"SHA256:\" and 43 base64 characters, as "
	    "ssh-keygen -lf prints");
}

static void
test_duplicates(void)
{
	char *text;

	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "workspaces = ( { id = 5; },\n"
	    "  { id = 5; } );\n",
	    ":4: workspace 5 is defined twice (first on line 3)");
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "allowed_workspaces = [ 1, 2,\n  1 ];\n",
	    ":4: allowed_workspaces: workspace 1 is listed twice (first on "
	    "line 3)");
	text = fmt("listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "users = ( { name = \"al\"; keys = [ \"%s\" ]; },\n"
	    "  { name = \"al\"; keys = [ \"%s\" ]; } );\n", alice_key, bob_key);
	expect_one_error(text, ":4: user al is defined twice (first on line "
	    "3)");
	free(text);
	expect_base_error("studios = ( { session = \"a1b2c3\"; "
	    "workspace = 12345; upstream = \"10.0.0.6:22\"; } );\n",
	    ":9: syntax error: duplicate setting name");
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "workspaces = ( { id = 1; } );\n"
	    "studios = ( { session = \"s1\"; workspace = 1; "
	    "upstream = \"10.0.0.1:22\"; },\n"
	    "  { session = \"s1\"; workspace = 1; "
	    "upstream = \"10.0.0.2:22\"; } );\n",
	    ":5: studio s1 is defined twice (first on line 4)");
}

static void
test_studio_errors(void)
{
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "workspaces = ( { id = 12345; } );\n"
	    "studios = ( { session = \"a1b2c3\";\n"
	    "  workspace = 999;\n"
	    "  upstream = \"10.0.0.1:22\"; } );\n",
	    ":5: studio a1b2c3: workspace 999 is not defined in workspaces");
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "workspaces = ( { id = 1; } );\n"
	    "studios = ( { session = \"a b\"; workspace = 1; "
	    "upstream = \"10.0.0.1:22\"; } );\n",
	    ":4: studios: session \"a b\" is not valid: use 1 to 64 of "
	    "A-Z a-z 0-9 _ -");
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "workspaces = ( { id = 1; } );\n"
	    "studios = ( { session = \"s1\"; workspace = 1; } );\n",
	    ":4: studio s1: upstream is not set: add upstream = "
	    "\"10.0.0.5:22\";");
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "workspaces = ( { id = 1; } );\n"
	    "studios = ( { session = \"s1\"; workspace = 1;\n"
	    "  upstream = \"studio.internal:22\"; } );\n",
	    ":5: studio s1: upstream \"studio.internal:22\": not a numeric "
	    "IPv4 address; host names are not resolved (use \"IPv4:port\" or "
	    "\"[IPv6]:port\")");
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "workspaces = ( { id = 1; } );\n"
	    "studios = ( { session = \"s1\"; workspace = 1;\n"
	    "  upstream = \":22\"; } );\n",
	    ":5: studio s1: upstream \":22\" has no address (use \"IPv4:port\" "
	    "or \"[IPv6]:port\")");
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "workspaces = ( { id = 1; members = [ \"ok\", \"-bad\" ]; } );\n",
	    ":3: workspace 1: members: \"-bad\" is not valid: use 1 to 64 of "
	    "A-Z a-z 0-9 . _ + @ -, not starting with - or @");
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "workspaces = ( { id = 1; } );\n"
	    "studios = ( { session = \"s1\"; workspace = 1;\n"
	    "  upstream = \"10.0.0.1:22\";\n"
	    "  users = [ \"a b\" ]; } );\n",
	    ":6: studio s1: users: \"a b\" is not valid: use 1 to 64 of "
	    "A-Z a-z 0-9 . _ + @ -, not starting with - or @");
}

static void
test_user_keys(void)
{
	struct fx fx;
	struct config *cfg;
	char *text;

	fx_init(&fx);
	cfg = fx_load(&fx, "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "users = ( { name = \"alice\"; },\n"
	    "  { name = \"dave\"; keys = [ ]; } );\n");
	/* keys = [ ] is a user who logs in with certificates only
	 * (trusted_user_ca_keys): no error; no keys setting at all is. */
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL(fx.errs.n, 1);
	CU_ASSERT(has_error(&fx, NULL, ":3: user alice has no keys: add keys = "
	    "[ \"ssh-ed25519 ...\" ] or keys_file = \"/path\" (keys = [ ] "
	    "for certificates only)"));
	fx_done(&fx);
	text = fmt("listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "users = ( { name = \"alice\";\n"
	    "  keys = [ \"%s\",\n"
	    "    \"no-pty %s\" ]; } );\n", bob_key, alice_key);
	expect_one_error(text, ":5: user alice: keys[1]: key options are not "
	    "supported; remove them");
	free(text);
	expect_one_error(
	    "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "users = ( { name = \"alice\"; keys = [ \"# just a comment\" ]; } "
	    ");\n",
	    ":3: user alice: keys[0] holds no key");
}

static void
test_keys_file_errors(void)
{
	struct fx fx;
	struct config *cfg;
	char *keys, *file, *text;

	fx_init(&fx);
	keys = fmt("# bob\n%s\n\nssh-dss AAAA old\n%s\nrestrict %s\n",
	    bob_key, rsa_key, bob_key);
	fx_write(&fx, "keys/bob", keys);
	text = fmt("listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "users = ( { name = \"bob\"; keys_file = \"keys/bob\"; },\n"
	    "  { name = \"eve\";\n"
	    "    keys_file = \"keys/none\"; } );\n");
	cfg = fx_load(&fx, text);
	CU_ASSERT_PTR_NULL(cfg);
	config_free(cfg);
	CU_ASSERT_EQUAL(fx.errs.n, 3);
	/* Relative to the config file's directory, reported at its lines. */
	file = fmt("%s/keys/bob", fx.dir);
	CU_ASSERT(has_error(&fx, file, ":4: DSA keys are not supported; use "
	    "ssh-ed25519"));
	CU_ASSERT(has_error(&fx, file, ":6: key options are not supported; "
	    "remove them"));
	free(file);
	file = fmt(":5: user eve: keys_file %s/keys/none: No such file or "
	    "directory", fx.dir);
	CU_ASSERT(has_error(&fx, NULL, file));
	free(file);
	free(text);
	free(keys);
	fx_done(&fx);
}

/* A 1024-bit RSA key, as ssh-keygen -t rsa -b 1024 made it. */
static const char rsa1024_key[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDpeO7pQaLqMJSqYiMwNekK9dMJUKpmOsRnsD5YsIJYKYV5540ShrSMaNsd8DjT72mnUjd1XtrKWJcOV63ShEBh2RO8+/KI2BN80N7hV3pfHFhlPnv4/VrrpAYint3pTQ+CLY5dKoBtCVyMwguuFTYA2Q4kPfQzGOjJy/0yROdbHQ== weak@test";

/*
 * limits.rsa_min_bits bounds the users' RSA keys, inline and in a
 * keys_file, wherever the limits group is in the file: 2048 bits by
 * default, down to 1024.
 */
static void
test_rsa_min_bits(void)
{
	struct fx fx;
	struct config *cfg;
	char *file, *text;

	fx_init(&fx);
	fx_write(&fx, "keys/dave", rsa1024_key);
	text = fmt("listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "users = ( { name = \"carol\"; keys = [ \"%s\" ]; },\n"
	    "  { name = \"dave\"; keys_file = \"keys/dave\"; } );\n",
	    rsa1024_key);
	cfg = fx_load(&fx, text);
	CU_ASSERT_PTR_NULL(cfg);
	config_free(cfg);
	CU_ASSERT_EQUAL(fx.errs.n, 2);
	CU_ASSERT(has_error(&fx, NULL, ":3: user carol: keys[0]: ssh-rsa key "
	    "of 1024 bits is too small: limits.rsa_min_bits is 2048; use "
	    "ssh-ed25519 or a 3072-bit RSA key, or lower limits.rsa_min_bits "
	    "to 1024"));
	file = fmt("%s/keys/dave", fx.dir);
	CU_ASSERT(has_error(&fx, file, ":1: ssh-rsa key of 1024 bits is too "
	    "small: limits.rsa_min_bits is 2048; use ssh-ed25519 or a "
	    "3072-bit RSA key, or lower limits.rsa_min_bits to 1024"));
	free(file);
	free(text);

	/* Lowered, after the users in the file: both load. */
	text = fmt("listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "users = ( { name = \"carol\"; keys = [ \"%s\" ]; },\n"
	    "  { name = \"dave\"; keys_file = \"keys/dave\"; } );\n"
	    "limits = { rsa_min_bits = 1024; };\n", rsa1024_key);
	cfg = fx_load(&fx, text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->limits.rsa_min_bits, 1024);
	CU_ASSERT_EQUAL(cfg->users[0].nkeys, 1);
	CU_ASSERT_EQUAL(cfg->users[1].nkeys, 1);
	CU_ASSERT_STRING_EQUAL(cfg->users[1].keys[0].type, "ssh-rsa");
	config_free(cfg);
	free(text);

	/* Raised: the 2048-bit key of the base config no longer loads. */
	text = fmt("listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "limits = { rsa_min_bits = 3072; };\n"
	    "users = ( { name = \"bob\"; keys = [ \"%s\" ]; } );\n",
	    rsa_key);
	cfg = fx_load(&fx, text);
	CU_ASSERT_PTR_NULL(cfg);
	config_free(cfg);
	CU_ASSERT(has_error(&fx, NULL, ":4: user bob: keys[0]: ssh-rsa key "
	    "of 2048 bits is too small: limits.rsa_min_bits is 3072; use "
	    "ssh-ed25519 or a 3072-bit RSA key, or lower limits.rsa_min_bits "
	    "to 2048"));
	free(text);
	fx_done(&fx);
}

/* All keys revoked: an empty keys_file loads, and the user has none. */
static void
test_keys_file_empty(void)
{
	struct fx fx;
	struct config *cfg;

	fx_init(&fx);
	fx_write(&fx, "keys/bob", "# every key revoked\n\n");
	cfg = fx_load(&fx, "listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "users = ( { name = \"bob\"; keys_file = \"keys/bob\"; } );\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->nusers, 1);
	CU_ASSERT_EQUAL(cfg->users[0].nkeys, 0);
	config_free(cfg);
	fx_done(&fx);
}

static void
test_syntax_error(void)
{
	expect_one_error("listen = [ \":22\" ];\nkey = ;\n",
	    ":2: syntax error");
	expect_one_error("listen = [ \":22\" ];\nkey = \"/k\";\nkey = \"/j\";\n",
	    ":3: syntax error: duplicate setting name");
	expect_one_error("listen = [ 1, \"x\" ];\nkey = \"/k\";\n",
	    ":1: syntax error: mismatched element type in array");
}

static void
test_ranges_and_paths(void)
{
	expect_base_error("workers = { prefork = 0; };\n",
	    ":9: workers.prefork = 0 is out of range: use 1 to 256");
	expect_base_error("limits = { login_grace_time = 3601; };\n",
	    ":9: limits.login_grace_time = 3601 is out of range: use 1 to "
	    "3600");
	expect_base_error("limits = { upstream_connect_timeout = 301; };\n",
	    ":9: limits.upstream_connect_timeout = 301 is out of range: use 1 "
	    "to 300");
	expect_base_error("limits = { max_auth_tries = 101; };\n",
	    ":9: limits.max_auth_tries = 101 is out of range: use 1 to 100");
	expect_base_error("limits = { max_sessions = 100001; };\n",
	    ":9: limits.max_sessions = 100001 is out of range: use 1 to "
	    "100000");
	expect_base_error("limits = { max_sessions_per_user = -1; };\n",
	    ":9: limits.max_sessions_per_user = -1 is out of range: use 0 to "
	    "100000");
	expect_base_error("limits = { max_sessions_per_user = 100001; };\n",
	    ":9: limits.max_sessions_per_user = 100001 is out of range: use 0 "
	    "to 100000");
	expect_base_error("limits = { rsa_min_bits = 1023; };\n",
	    ":9: limits.rsa_min_bits = 1023 is out of range: use 1024 to 8192");
	expect_base_error("limits = { rsa_min_bits = 8193; };\n",
	    ":9: limits.rsa_min_bits = 8193 is out of range: use 1024 to 8192");
	expect_base_error("workers = { chroot = \"var/empty\"; };\n",
	    ":9: workers.chroot \"var/empty\" must be an absolute path");
	expect_base_error("workers = { program = \"worker\"; };\n",
	    ":9: workers.program \"worker\" must be an absolute path");
	expect_base_error("workers = { user = \"\"; };\n",
	    ":9: workers.user is empty");
	expect_base_error("log = { level = \"verbose\"; };\n",
	    ":9: log.level \"verbose\" is not one of error, warn, info, debug");
	expect_base_error("log = { format = \"xml\"; };\n",
	    ":9: log.format \"xml\" is not one of text, json");
	expect_one_error("listen = [ \":22\" ];\nkey = \"/k\";\n"
	    "allowed_workspaces = [ -3 ];\n",
	    ":3: allowed_workspaces[0] = -3 is negative: workspace ids are 0 or "
	    "more");
}

/* The compiled-in worker path is checked only when it is used. */
static void
test_default_worker(void)
{
	struct fx fx;
	struct config *cfg;

	fx_init(&fx);
	fx_write(&fx, "connect-sshd.conf", "listen = [ \":22\" ];\n"
	    "key = \"/k\";\n");
	cfg = config_load(fx.path, NULL, "relative/worker", &fx.errs);
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL(fx.errs.n, 1);
	CU_ASSERT(has_error(&fx, NULL, ": the built-in workers.program "
	    "\"relative/worker\" is not an absolute path: set workers.program"));
	config_errors_free(&fx.errs);
	fx_write(&fx, "connect-sshd.conf", "listen = [ \":22\" ];\n"
	    "key = \"/k\";\nworkers = { program = \"/w\"; };\n");
	cfg = config_load(fx.path, NULL, "relative/worker", &fx.errs);
	CU_ASSERT_PTR_NOT_NULL(cfg);
	if (cfg != NULL)
		CU_ASSERT_STRING_EQUAL(cfg->workers.program, "/w");
	config_free(cfg);
	fx_done(&fx);
}

static void
test_required_and_listen(void)
{
	struct fx fx;
	struct config *cfg;

	expect_one_error("listen = [ \":22\" ];\n",
	    ": key is not set: set key = \"/path\" or CONNECT_SSH_KEY_PATH");
	expect_one_error("key = \"/k\";\n",
	    ": listen is not set: set listen = [ \":2222\" ] or "
	    "CONNECT_SSH_ADDR");
	expect_one_error("key = \"/k\";\nlisten = [ ];\n",
	    ":2: listen is empty: add an address such as \":2222\", or set "
	    "enabled = false");
	/* SSH off: no listener needed, and still a valid config. */
	fx_init(&fx);
	cfg = fx_load(&fx, "key = \"/k\";\nenabled = false;\n");
	CU_ASSERT_PTR_NOT_NULL(cfg);
	if (cfg != NULL)
		CU_ASSERT_EQUAL(cfg->enabled, 0);
	config_free(cfg);
	fx_done(&fx);
}

static void
test_all_errors_collected(void)
{
	struct fx fx;
	struct config *cfg;
	char *text;
	size_t i;
	FILE *f;
	size_t len;

	fx_init(&fx);
	cfg = fx_load(&fx, "listen = [ \"x\" ];\n"
	    "foo = 1;\n"
	    "workers = { prefork = 0; };\n"
	    "log = { level = \"loud\"; };\n");
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL(fx.errs.n, 5);
	CU_ASSERT_EQUAL(fx.errs.dropped, 0);
	CU_ASSERT(has_error(&fx, NULL, ":2: unknown setting 'foo'"));
	CU_ASSERT(has_error(&fx, NULL, ": key is not set: set key = \"/path\" "
	    "or CONNECT_SSH_KEY_PATH"));

	/* More than CFG_MAX_ERRORS: the rest are counted. */
	text = NULL;
	len = 0;
	CU_ASSERT_FATAL((f = open_memstream(&text, &len)) != NULL);
	fputs("listen = [ \":22\" ];\nkey = \"/k\";\n", f);
	for (i = 0; i < CFG_MAX_ERRORS + 10; i++)
		fprintf(f, "unknown%zu = 1;\n", i);
	fclose(f);
	cfg = fx_load(&fx, text);
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL(fx.errs.n, CFG_MAX_ERRORS);
	CU_ASSERT_EQUAL(fx.errs.dropped, 10);
	free(text);
	fx_done(&fx);
}

static void
test_missing_file(void)
{
	struct config_errors errs;
	struct config *cfg;

	cfg = config_load("/nonexistent/connect-sshd.conf", NULL, WORKER,
	    &errs);
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL_FATAL(errs.n, 1);
	CU_ASSERT_STRING_EQUAL(errs.msg[0], "/nonexistent/connect-sshd.conf: "
	    "cannot read: No such file or directory");
	config_errors_free(&errs);
	CU_ASSERT_EQUAL(errs.n, 0);
}

/* --- environment ------------------------------------------------------ */

static void
test_env_overrides(void)
{
	char *const env[] = {
		"PATH=/bin", "CONNECT_SSH_ADDR=[::]:2022",
		"CONNECT_SSH_KEY_PATH=/run/secrets/key",
		"CONNECT_SSH_ENABLED=No", "CONNECT_SSH_ADDRX=junk", NULL,
	};
	char *const env_yes[] = { "CONNECT_SSH_ENABLED=1", NULL };
	struct fx fx;
	struct config *cfg;
	char *text = base_config("enabled = false;\n");

	fx_init(&fx);
	cfg = fx_load_env(&fx, text, env);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->nlisten, 1);
	CU_ASSERT_STRING_EQUAL(cfg->listen[0].host, "::");
	CU_ASSERT_STRING_EQUAL(cfg->listen[0].port, "2022");
	CU_ASSERT_EQUAL(cfg->listen[0].line, 0);
	CU_ASSERT_STRING_EQUAL(cfg->key_path, "/run/secrets/key");
	CU_ASSERT_EQUAL(cfg->enabled, 0);
	config_free(cfg);

	cfg = fx_load_env(&fx, text, env_yes);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->enabled, 1);
	CU_ASSERT_EQUAL(cfg->nlisten, 3);
	config_free(cfg);

	/* The key may come from the environment alone; so may listen. */
	cfg = fx_load_env(&fx, "enabled = true;\n", env);
	CU_ASSERT_PTR_NOT_NULL(cfg);
	config_free(cfg);
	free(text);
	fx_done(&fx);
}

static void
test_env_errors(void)
{
	char *const bad_enabled[] = { "CONNECT_SSH_ENABLED=maybe", NULL };
	char *const bad_addr[] = { "CONNECT_SSH_ADDR=localhost:22", NULL };
	char *const empty_key[] = { "CONNECT_SSH_KEY_PATH=", NULL };
	struct fx fx;
	struct config *cfg;
	char *text = base_config("");

	fx_init(&fx);
	cfg = fx_load_env(&fx, text, bad_enabled);
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL(fx.errs.n, 1);
	CU_ASSERT(has_error(&fx, NULL, ": CONNECT_SSH_ENABLED: \"maybe\" is "
	    "not a boolean: use true, false, 1, 0, yes or no"));
	cfg = fx_load_env(&fx, text, bad_addr);
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL(fx.errs.n, 1);
	CU_ASSERT(has_error(&fx, NULL, ": CONNECT_SSH_ADDR: \"localhost:22\": "
	    "not a numeric IPv4 address; host names are not resolved (use "
	    "\"host:port\", \"[v6]:port\" or \":port\")"));
	cfg = fx_load_env(&fx, text, empty_key);
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_EQUAL(fx.errs.n, 1);
	CU_ASSERT(has_error(&fx, NULL, ": CONNECT_SSH_KEY_PATH is empty: "
	    "unset it or give the key's path"));
	free(text);
	fx_done(&fx);
}

/* --- dump ------------------------------------------------------------- */

static char *
dump_string(const struct config *cfg)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f;

	CU_ASSERT_FATAL((f = open_memstream(&s, &len)) != NULL);
	config_dump(cfg, f);
	CU_ASSERT(fclose(f) == 0);
	return s;
}

static void
test_dump_defaults(void)
{
	static const char want[] =
	    "listen = [ \":2222\", \"127.0.0.1:22\", \"[::1]:22\" ];\n"
	    "key = \"/k\";\n"
	    "enabled = true;\n"
	    "upstream_auth = \"certificate\";\n"
	    "allowed_workspaces = [ ];\n"
	    "workspaces = ( );\n"
	    "users = ( );\n"
	    "studios = ( );\n"
	    "workers = {\n"
	    "  prefork = 4;\n"
	    "  user = \"nobody\";\n"
	    "  chroot = \"/var/empty\";\n"
	    "  program = \"" WORKER "\";\n"
	    "};\n"
	    "log = {\n"
	    "  level = \"info\";\n"
	    "  format = \"text\";\n"
	    "};\n"
	    "limits = {\n"
	    "  login_grace_time = 30;\n"
	    "  upstream_connect_timeout = 10;\n"
	    "  max_auth_tries = 6;\n"
	    "  max_sessions = 1000;\n"
	    "  max_sessions_per_user = 32;\n"
	    "  idle_timeout = 0;\n"
	    "  keepalive_interval = 60;\n"
	    "  keepalive_count_max = 3;\n"
	    "  drain_timeout = 30;\n"
	    "  max_startups = \"10:30:100\";\n"
	    "  per_source_max_startups = 5;\n"
	    "  proxy_header_timeout = 5;\n"
	    "  rsa_min_bits = 2048;\n"
	    "};\n"
	    "forwarding = {\n"
	    "  local = true;\n"
	    "  remote = true;\n"
	    "  agent = true;\n"
	    "};\n"
	    "algorithms = {\n"
	    "  kex = [ \"mlkem768x25519-sha256\", \"sntrup761x25519-sha512\", "
	    "\"sntrup761x25519-sha512@openssh.com\", "
	    "\"curve25519-sha256\", \"curve25519-sha256@libssh.org\", "
	    "\"diffie-hellman-group18-sha512\", "
	    "\"diffie-hellman-group16-sha512\" ];\n"
	    "  ciphers = [ \"aes128-gcm@openssh.com\", "
	    "\"aes256-gcm@openssh.com\", \"chacha20-poly1305@openssh.com\", "
	    "\"aes256-ctr\", \"aes192-ctr\", \"aes128-ctr\" ];\n"
	    "  macs = [ \"hmac-sha2-256-etm@openssh.com\", "
	    "\"hmac-sha2-512-etm@openssh.com\" ];\n"
	    "};\n";
	struct fx fx;
	struct config *cfg;
	char *out;

	fx_init(&fx);
	cfg = fx_load(&fx, "listen = [ \":2222\", \"127.0.0.1:22\", "
	    "\"[::1]:22\" ];\nkey = \"/k\";\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	out = dump_string(cfg);
	CU_ASSERT_STRING_EQUAL(out, want);
	free(out);
	config_free(cfg);
	fx_done(&fx);
}

/* dump -> load -> dump is a fixed point, env overrides included. */
static void
test_dump_round_trip(void)
{
	char *const env[] = {
		"CONNECT_SSH_ADDR=10.1.2.3:2022",
		"CONNECT_SSH_KEY_PATH=/run/key with \"quotes\"",
		NULL,
	};
	struct fx fx;
	struct config *cfg, *again;
	char *text, *keys, *out1, *out2;

	fx_init(&fx);
	fx_write(&fx, "keys/carol", keys = carol_keys_file());
	cfg = fx_load_env(&fx, text = full_config(), env);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	out1 = dump_string(cfg);
	CU_ASSERT(strstr(out1, "keys_file = \"keys/carol\";") != NULL);
	CU_ASSERT(strstr(out1, "listen = [ \"10.1.2.3:2022\" ];") != NULL);
	CU_ASSERT(strstr(out1, "key = \"/run/key with \\\"quotes\\\"\";") !=
	    NULL);
	CU_ASSERT(strstr(out1, "9000000000L") != NULL);
	/* The dump sits where the original did, so keys/carol resolves. */
	again = fx_load(&fx, out1);
	CU_ASSERT_PTR_NOT_NULL(again);
	if (again != NULL) {
		CU_ASSERT_EQUAL(again->users[1].nkeys, 3);
		out2 = dump_string(again);
		CU_ASSERT_STRING_EQUAL(out1, out2);
		free(out2);
	}
	config_free(again);
	config_free(cfg);
	free(out1);
	free(text);
	free(keys);
	fx_done(&fx);
}

/* --- host:port -------------------------------------------------------- */

static void
test_join(void)
{
	char *v[] = { "a", "bc", "def" };
	char buf[16];

	CU_ASSERT_EQUAL(config_join(v, 3, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "a,bc,def");
	CU_ASSERT_EQUAL(config_join(v, 0, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "");
	/* "a,bc,def" needs 9 bytes with its NUL: 8 is too small. */
	CU_ASSERT_EQUAL(config_join(v, 3, buf, 9), 0);
	CU_ASSERT_EQUAL(config_join(v, 3, buf, 8), -1);
	CU_ASSERT_EQUAL(config_join(v, 1, buf, 0), -1);
}

static void
test_parse_hostport(void)
{
	char *host, *port;
	const char *why;

	CU_ASSERT_EQUAL(config_parse_hostport("10.0.0.5:22", &host, &port,
	    &why), 0);
	CU_ASSERT_STRING_EQUAL(host, "10.0.0.5");
	CU_ASSERT_STRING_EQUAL(port, "22");
	free(host);
	free(port);
	CU_ASSERT_EQUAL(config_parse_hostport("[fe80::1]:65535", &host, &port,
	    &why), 0);
	CU_ASSERT_STRING_EQUAL(host, "fe80::1");
	CU_ASSERT_STRING_EQUAL(port, "65535");
	free(host);
	free(port);
	CU_ASSERT_EQUAL(config_parse_hostport(":1", &host, &port, &why), 0);
	CU_ASSERT_STRING_EQUAL(host, "");
	CU_ASSERT_STRING_EQUAL(port, "1");
	free(host);
	free(port);
	CU_ASSERT_EQUAL(config_parse_hostport("", &host, &port, &why), -1);
	CU_ASSERT_PTR_NULL(host);
	CU_ASSERT_PTR_NULL(port);
	CU_ASSERT_PTR_NOT_NULL(why);
	CU_ASSERT_EQUAL(config_parse_hostport("10.0.0.5:", &host, &port,
	    &why), -1);
	CU_ASSERT_EQUAL(config_parse_hostport("10.0.0.5:22x", &host, &port,
	    &why), -1);
	CU_ASSERT_EQUAL(config_parse_hostport("[::1]:22:", &host, &port,
	    &why), -1);
	CU_ASSERT_EQUAL(config_parse_hostport("256.0.0.1:22", &host, &port,
	    &why), -1);
	CU_ASSERT_PTR_NULL(host);
}

/* proxy_from networks: parsing, and matching addresses against them. */
static void
test_parse_net(void)
{
	static const char *const bad[] = {
		"10.0.0.1/8", "10.0.0.0/", "10.0.0.0/-1", "/8", "10.0.0.0/8x",
		"10.0.0.0/33", "2001:db8::1/32", "::/129", "host.example",
		"10.0.0.0/08x", "",
	};
	const uint8_t in4[4] = { 10, 1, 2, 3 }, out4[4] = { 11, 0, 0, 1 };
	const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	    10, 9, 9, 9 };
	const uint8_t in6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 1 };
	const uint8_t out6[16] = { 0x20, 0x01, 0x0d, 0xb9 };
	struct cfg_net n[3];
	const char *why;
	size_t i;

	CU_ASSERT_EQUAL(config_parse_net("10.0.0.0/8", &n[0], &why), 0);
	CU_ASSERT_EQUAL(config_parse_net("2001:db8::/32", &n[1], &why), 0);
	CU_ASSERT_EQUAL(config_parse_net("192.0.2.7", &n[2], &why), 0);
	CU_ASSERT_EQUAL(n[2].prefix, 32);
	CU_ASSERT_TRUE(config_net_match(n, 3, AF_INET, in4));
	CU_ASSERT_FALSE(config_net_match(n, 3, AF_INET, out4));
	CU_ASSERT_TRUE(config_net_match(n, 3, AF_INET6, mapped));
	CU_ASSERT_TRUE(config_net_match(n, 3, AF_INET6, in6));
	CU_ASSERT_FALSE(config_net_match(n, 3, AF_INET6, out6));
	CU_ASSERT_FALSE(config_net_match(n, 0, AF_INET, in4));
	CU_ASSERT_EQUAL(config_parse_net("0.0.0.0/0", &n[0], &why), 0);
	CU_ASSERT_TRUE(config_net_match(n, 1, AF_INET, out4));
	CU_ASSERT_FALSE(config_net_match(n, 1, AF_INET6, out6));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CU_ASSERT_EQUAL(config_parse_net(bad[i], &n[0], &why), -1);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
}

/* per_source_max_startups defaults to half of max_startups' start, at
 * least 1; a value set, 0 included, stays. */
static void
test_per_source_default(void)
{
	static const struct {
		const char *limits;
		int want;
	} cases[] = {
		{ "", 5 },
		{ "limits = { max_sessions = 10; };\n", 5 },
		{ "limits = { max_startups = \"20:30:60\"; };\n", 10 },
		{ "limits = { max_startups = \"3\"; };\n", 1 },
		{ "limits = { max_startups = \"1:30:5\"; };\n", 1 },
		{ "limits = { per_source_max_startups = 0; };\n", 0 },
		{ "limits = { max_startups = \"20:30:60\";\n"
		  "  per_source_max_startups = 30; };\n", 30 },
	};
	struct fx fx;
	struct config *cfg;
	char *text;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_init(&fx);
		text = fmt("listen = [ \":2222\" ];\nkey = \"/k\";\n%s",
		    cases[i].limits);
		cfg = fx_load(&fx, text);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
		CU_ASSERT_EQUAL(fx.errs.n, 0);
		CU_ASSERT_EQUAL(cfg->limits.per_source_max_startups,
		    cases[i].want);
		free(text);
		config_free(cfg);
		fx_done(&fx);
	}
}

/* What a reload logs (config_changes()): the changed limits and forwarding
 * switches, in table order, old and new value as the file writes them;
 * not workers.prefork, the registry's numbers or enabled, which a reload
 * applies quietly or keeps until a restart (config_table.c, reload). */
static char changes[512];

static void
note_change(const char *group, const char *name, const char *from,
    const char *to)
{
	size_t n = strlen(changes);

	snprintf(changes + n, sizeof(changes) - n, "%s.%s: %s -> %s\n", group,
	    name, from, to);
}

static void
test_changes(void)
{
	static const char a_text[] =
	    "listen = [ \":2222\" ];\nkey = \"/k\";\n";
	static const char b_text[] =
	    "listen = [ \":2222\" ];\nkey = \"/k\";\nenabled = false;\n"
	    "workers = { prefork = 8; };\n"
	    "limits = { idle_timeout = 600; max_startups = \"20:30:100\"; };\n"
	    "forwarding = { agent = false; };\n"
	    "registry = { timeout_ms = 900; cache_ttl = 0; };\n";
	struct fx fx;
	struct config *a, *b;

	fx_init(&fx);
	a = fx_load(&fx, a_text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	b = fx_load(&fx, b_text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	changes[0] = '\0';
	config_changes(a, a, note_change);
	CU_ASSERT_STRING_EQUAL(changes, "");
	config_changes(a, b, note_change);
	CU_ASSERT_STRING_EQUAL(changes,
	    "limits.idle_timeout: 0 -> 600\n"
	    "limits.max_startups: 10:30:100 -> 20:30:100\n"
	    "limits.per_source_max_startups: 5 -> 10\n"
	    "forwarding.agent: true -> false\n");
	config_free(a);
	config_free(b);
	fx_done(&fx);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "defaults", test_defaults },
		{ "every setting", test_full },
		{ "unknown settings", test_unknown_settings },
		{ "wrong types", test_wrong_types },
		{ "bad listen", test_bad_listen },
		{ "bad fingerprint", test_bad_fingerprint },
		{ "duplicates", test_duplicates },
		{ "studio errors", test_studio_errors },
		{ "user keys", test_user_keys },
		{ "keys_file errors", test_keys_file_errors },
		{ "empty keys_file", test_keys_file_empty },
		{ "limits.rsa_min_bits and user keys", test_rsa_min_bits },
		{ "syntax error", test_syntax_error },
		{ "ranges and paths", test_ranges_and_paths },
		{ "required settings, listen", test_required_and_listen },
		{ "default worker path", test_default_worker },
		{ "all errors collected", test_all_errors_collected },
		{ "missing file", test_missing_file },
		{ "environment overrides", test_env_overrides },
		{ "environment errors", test_env_errors },
		{ "dump of defaults", test_dump_defaults },
		{ "per_source_max_startups default", test_per_source_default },
		{ "proxy_from networks", test_parse_net },
		{ "dump round trip", test_dump_round_trip },
		{ "config_parse_hostport", test_parse_hostport },
		{ "config_join", test_join },
		{ "reload change log", test_changes },
		UNIT_END,
	};

	return unit_run(argc, argv, "config", tests);
}
