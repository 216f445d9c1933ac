/*
 * test_policy.c - user name parsing and every verdict of policy_check(),
 * through the file backend over a config loaded from a temporary file,
 * and through a fake backend that fails on demand.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "config.h"
#include "policy.h"
#include "runner.h"

#define WORKER	"/usr/libexec/connect-sshd/connect-sshd-worker"

static const char alice_key[] = "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIJL2caz85W7nHbvPdyt9RJm5dcvBCsH9ILDGjnNfd2mH "
    "alice@test";
static const char bob_key[] = "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIOuugzN7jBZFZ1h5oGoI44UEGksz8URTgAMX9fXFrDQZ "
    "bob@test";
static const char carol_key[] = "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIATiU3b+8Pz1bk/56n30aRDErB//Q2tW6Ye1ismku9lo "
    "carol@test";
static const char dave_key[] = "ecdsa-sha2-nistp256 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBA2rkki+6Yb+Y/s4e8v"
    "X1x/tXvQZiDpyDnj+g4ebLvvct0bM/bdRYbfYW5lPR45K0ppnhMNmcMQC0L6c1mnZ2c4= "
    "dave@test";
static const char pin[] = "SHA256:Cv5Jn0tlB/2h+DXihN3gSH4hk3nt1Hu1wlSmaZRPm6Q";

/*
 * Workspace 100 is open to alice, bob and carol; 200 is not allowed;
 * 300 is allowed, and its Studio lists alice alone.  dave is a user of no
 * workspace.
 */
static const char config_fmt[] =
    "listen = [ \":2222\" ];\n"
    "key = \"/k\";\n"
    "allowed_workspaces = [ %s ];\n"
    "workspaces = (\n"
    "  { id = 100; members = [ \"alice\", \"bob\", \"carol@example.com\" ]; },\n"
    "  { id = 200; members = [ \"alice\" ]; },\n"
    "  { id = 300; members = [ \"alice\", \"bob\" ]; }\n"
    ");\n"
    "users = (\n"
    "  { name = \"alice\"; keys = [ \"%s\" ]; },\n"
    "  { name = \"bob\"; keys = [ \"%s\" ]; },\n"
    "  { name = \"carol@example.com\"; keys = [ \"%s\" ]; },\n"
    "  { name = \"dave\"; keys = [ \"%s\" ]; }\n"
    ");\n"
    "studios = (\n"
    "  { session = \"open1\"; workspace = 100; upstream = \"10.0.0.5:22\"; },\n"
    "  { session = \"closed2\"; workspace = 200; upstream = \"10.0.0.6:22\"; },\n"
    "  { session = \"listed3\"; workspace = 300;\n"
    "    upstream = \"[fd00::7]:2222\"; upstream_user = \"root\";\n"
    "    users = [ \"alice\" ]; host_key_fingerprint = \"%s\"; }\n"
    ");\n";

/* A config loaded from a file in a scratch directory. */
struct fixture {
	char dir[PATH_MAX];
	char path[PATH_MAX + sizeof("/test.conf")];
	struct config *cfg;
	struct policy_backend be;
};

static void
fixture_load(struct fixture *fx, const char *allowed)
{
	struct config_errors errs;
	FILE *f;
	size_t i;

	memset(fx, 0, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "%s/csshd-policy.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	CU_ASSERT_FATAL(mkdtemp(fx->dir) != NULL);
	snprintf(fx->path, sizeof(fx->path), "%s/test.conf", fx->dir);
	CU_ASSERT_FATAL((f = fopen(fx->path, "w")) != NULL);
	fprintf(f, config_fmt, allowed, alice_key, bob_key, carol_key,
	    dave_key, pin);
	CU_ASSERT_FATAL(fclose(f) == 0);
	fx->cfg = config_load(fx->path, NULL, WORKER, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "\n    config: %s", errs.msg[i]);
	config_errors_free(&errs);
	CU_ASSERT(unlink(fx->path) == 0);
	CU_ASSERT(rmdir(fx->dir) == 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx->cfg);
	policy_file_backend(&fx->be, fx->cfg);
}

static void
fixture_done(struct fixture *fx)
{
	config_free(fx->cfg);
}

/* The first key of a configured user. */
static const struct authkey *
key_of(const struct fixture *fx, const char *user)
{
	size_t i;

	for (i = 0; i < fx->cfg->nusers; i++)
		if (strcmp(fx->cfg->users[i].name, user) == 0)
			return &fx->cfg->users[i].keys[0];
	CU_FAIL_FATAL("no such user in the fixture");
	return NULL;
}

static enum policy_verdict
check(const struct policy_backend *be, const char *ssh_user,
    const struct authkey *key, struct policy_decision *d)
{
	struct policy_request req;

	req.ssh_user = ssh_user;
	req.key_blob = key != NULL ? key->blob : NULL;
	req.key_len = key != NULL ? key->bloblen : 0;
	return policy_check(be, &req, d);
}

/* --- user names ------------------------------------------------------- */

static void
expect_split(const char *in, const char *user, const char *session)
{
	char u[POLICY_MAX_USER + 1], s[POLICY_MAX_SESSION + 1];

	CU_ASSERT_EQUAL(policy_split_username(in, u, sizeof(u), s,
	    sizeof(s)), 0);
	CU_ASSERT_STRING_EQUAL(u, user);
	CU_ASSERT_STRING_EQUAL(s, session);
}

static void
expect_no_split(const char *in)
{
	char u[POLICY_MAX_USER + 1], s[POLICY_MAX_SESSION + 1];

	CU_ASSERT_EQUAL(policy_split_username(in, u, sizeof(u), s,
	    sizeof(s)), -1);
	CU_ASSERT_STRING_EQUAL(u, "");
	CU_ASSERT_STRING_EQUAL(s, "");
}

static void
test_split(void)
{
	char long_user[POLICY_MAX_USER + 2 + sizeof("@s")];
	char long_session[POLICY_MAX_SESSION + 2 + sizeof("u@")];
	char u[8], s[8];

	expect_split("alice@a1b2c3", "alice", "a1b2c3");
	expect_split("alice@example.com@a1b2c3", "alice@example.com",
	    "a1b2c3");
	expect_split("a.b+c_d-e@x@sess-1_X", "a.b+c_d-e@x", "sess-1_X");
	expect_split("0@0", "0", "0");

	expect_no_split("alice");
	expect_no_split("");
	expect_no_split("@a1b2c3");
	expect_no_split("alice@");
	expect_no_split("@");
	expect_no_split("alice@@");
	expect_no_split("-alice@a1b2c3");
	expect_no_split("@alice@a1b2c3");
	expect_no_split("al ice@a1b2c3");
	expect_no_split("alice@a1.b2");
	expect_no_split("alice@a1b2c3\n");
	expect_no_split("ali/ce@a1b2c3");
	expect_no_split("alice@a1b2+c3");
	expect_no_split("al\xc3\xa9@a1b2c3");

	/* 64 characters fit; 65 do not. */
	memset(long_user, 'u', POLICY_MAX_USER);
	strcpy(long_user + POLICY_MAX_USER, "@s");
	expect_split(long_user, "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"
	    "uuuuuuuuuuuuuuuuuuu", "s");
	memset(long_user, 'u', POLICY_MAX_USER + 1);
	strcpy(long_user + POLICY_MAX_USER + 1, "@s");
	expect_no_split(long_user);
	strcpy(long_session, "u@");
	memset(long_session + 2, 's', POLICY_MAX_SESSION);
	long_session[2 + POLICY_MAX_SESSION] = '\0';
	expect_split(long_session, "u", long_session + 2);
	memset(long_session + 2, 's', POLICY_MAX_SESSION + 1);
	long_session[3 + POLICY_MAX_SESSION] = '\0';
	expect_no_split(long_session);

	/* Buffers too small for a part are a failure, not a cut. */
	CU_ASSERT_EQUAL(policy_split_username("alice@s1", u, 5, s, sizeof(s)),
	    -1);
	CU_ASSERT_EQUAL(policy_split_username("alice@s1", u, 6, s, sizeof(s)),
	    0);
	CU_ASSERT_EQUAL(policy_split_username("a@sessions", u, sizeof(u), s,
	    sizeof(s)), -1);
	CU_ASSERT_EQUAL(policy_split_username(NULL, u, sizeof(u), s,
	    sizeof(s)), -1);
}

static void
test_valid_parts(void)
{
	CU_ASSERT_EQUAL(policy_valid_user("alice"), 0);
	CU_ASSERT_EQUAL(policy_valid_user("alice@example.com"), 0);
	CU_ASSERT_EQUAL(policy_valid_user("a-"), 0);
	CU_ASSERT_EQUAL(policy_valid_user(""), -1);
	CU_ASSERT_EQUAL(policy_valid_user("-a"), -1);
	CU_ASSERT_EQUAL(policy_valid_user("@a"), -1);
	CU_ASSERT_EQUAL(policy_valid_user("a:b"), -1);
	CU_ASSERT_EQUAL(policy_valid_session("a1b2c3"), 0);
	CU_ASSERT_EQUAL(policy_valid_session("-_-"), 0);
	CU_ASSERT_EQUAL(policy_valid_session(""), -1);
	CU_ASSERT_EQUAL(policy_valid_session("a@b"), -1);
	CU_ASSERT_EQUAL(policy_valid_session("a.b"), -1);
}

static void
test_reasons(void)
{
	static const char *const want[POLICY_VERDICT_MAX] = {
		"allowed", "ssh-disabled", "bad-username", "unknown-studio",
		"workspace-not-allowed", "unknown-user", "key-not-registered",
		"not-a-member", "not-listed-for-studio", "registry-unavailable",
		"bad-registry-record",
	};
	int v;

	for (v = 0; v < POLICY_VERDICT_MAX; v++)
		CU_ASSERT_STRING_EQUAL(policy_reason((enum policy_verdict)v),
		    want[v]);
	CU_ASSERT_STRING_EQUAL(policy_reason(POLICY_VERDICT_MAX), "unknown");
}

/* --- verdicts through the file backend -------------------------------- */

static void
test_allow(void)
{
	struct fixture fx;
	struct policy_decision d;

	fixture_load(&fx, "100, 300");
	CU_ASSERT_STRING_EQUAL(fx.be.name, "file");
	CU_ASSERT_EQUAL(check(&fx.be, "alice@open1", key_of(&fx, "alice"), &d),
	    POLICY_ALLOW);
	CU_ASSERT_EQUAL(d.verdict, POLICY_ALLOW);
	CU_ASSERT_STRING_EQUAL(d.user, "alice");
	CU_ASSERT_STRING_EQUAL(d.session, "open1");
	CU_ASSERT(d.workspace == 100);
	CU_ASSERT_STRING_EQUAL(d.studio.session, "open1");
	CU_ASSERT_STRING_EQUAL(d.studio.upstream_host, "10.0.0.5");
	CU_ASSERT_STRING_EQUAL(d.studio.upstream_port, "22");
	CU_ASSERT_PTR_NULL(d.studio.upstream_user);
	CU_ASSERT_PTR_NULL(d.studio.host_key_fingerprint);
	CU_ASSERT_EQUAL(d.studio.users_set, 0);
	/* No upstream_user: the client's own name goes on. */
	CU_ASSERT_STRING_EQUAL(d.upstream_user, "alice");

	/* An e-mail user name, split at the last '@'. */
	CU_ASSERT_EQUAL(check(&fx.be, "carol@example.com@open1",
	    key_of(&fx, "carol@example.com"), &d), POLICY_ALLOW);
	CU_ASSERT_STRING_EQUAL(d.user, "carol@example.com");
	CU_ASSERT_STRING_EQUAL(d.upstream_user, "carol@example.com");

	/* Listed for the Studio, with its upstream user and pin. */
	CU_ASSERT_EQUAL(check(&fx.be, "alice@listed3", key_of(&fx, "alice"),
	    &d), POLICY_ALLOW);
	CU_ASSERT(d.workspace == 300);
	CU_ASSERT_STRING_EQUAL(d.upstream_user, "root");
	CU_ASSERT_STRING_EQUAL(d.studio.upstream_host, "fd00::7");
	CU_ASSERT_STRING_EQUAL(d.studio.upstream_port, "2222");
	CU_ASSERT_STRING_EQUAL(d.studio.host_key_fingerprint, pin);
	CU_ASSERT_EQUAL(d.studio.users_set, 1);
	CU_ASSERT_EQUAL(d.studio.nusers, 1);

	/* Without a key, everything but the key is checked. */
	CU_ASSERT_EQUAL(check(&fx.be, "bob@open1", NULL, &d), POLICY_ALLOW);
	fixture_done(&fx);
}

static void
test_ssh_disabled(void)
{
	struct fixture fx;
	struct policy_decision d;

	fixture_load(&fx, "");
	CU_ASSERT_EQUAL(check(&fx.be, "alice@open1", key_of(&fx, "alice"), &d),
	    POLICY_DENY_SSH_DISABLED);
	CU_ASSERT_STRING_EQUAL(d.user, "alice");
	CU_ASSERT_STRING_EQUAL(d.session, "open1");
	CU_ASSERT(d.workspace == -1);
	CU_ASSERT_STRING_EQUAL(d.upstream_user, "");
	fixture_done(&fx);
}

static void
test_bad_username(void)
{
	struct fixture fx;
	struct policy_decision d;

	fixture_load(&fx, "100, 300");
	CU_ASSERT_EQUAL(check(&fx.be, "alice", key_of(&fx, "alice"), &d),
	    POLICY_DENY_BAD_USERNAME);
	CU_ASSERT_STRING_EQUAL(d.user, "");
	CU_ASSERT(d.workspace == -1);
	CU_ASSERT_EQUAL(check(&fx.be, "alice@open1;rm", NULL, &d),
	    POLICY_DENY_BAD_USERNAME);
	fixture_done(&fx);
	/* Even with SSH off, a malformed name is reported as such. */
	fixture_load(&fx, "");
	CU_ASSERT_EQUAL(check(&fx.be, "@open1", NULL, &d),
	    POLICY_DENY_BAD_USERNAME);
	fixture_done(&fx);
}

static void
test_denials(void)
{
	struct fixture fx;
	struct policy_decision d;

	fixture_load(&fx, "100, 300");
	CU_ASSERT_EQUAL(check(&fx.be, "alice@nosuch", key_of(&fx, "alice"),
	    &d), POLICY_DENY_UNKNOWN_STUDIO);
	CU_ASSERT(d.workspace == -1);

	CU_ASSERT_EQUAL(check(&fx.be, "alice@closed2", key_of(&fx, "alice"),
	    &d), POLICY_DENY_WORKSPACE_NOT_ALLOWED);
	CU_ASSERT(d.workspace == 200);

	CU_ASSERT_EQUAL(check(&fx.be, "zed@open1", key_of(&fx, "alice"), &d),
	    POLICY_DENY_UNKNOWN_USER);
	CU_ASSERT_EQUAL(check(&fx.be, "zed@open1", NULL, &d),
	    POLICY_DENY_UNKNOWN_USER);

	/* Another user's key, of the same length and of another. */
	CU_ASSERT_EQUAL(check(&fx.be, "alice@open1", key_of(&fx, "bob"), &d),
	    POLICY_DENY_KEY_NOT_REGISTERED);
	CU_ASSERT_EQUAL(check(&fx.be, "alice@open1", key_of(&fx, "dave"), &d),
	    POLICY_DENY_KEY_NOT_REGISTERED);
	CU_ASSERT_STRING_EQUAL(d.upstream_user, "");

	CU_ASSERT_EQUAL(check(&fx.be, "dave@open1", key_of(&fx, "dave"), &d),
	    POLICY_DENY_NOT_MEMBER);
	CU_ASSERT(d.workspace == 100);

	CU_ASSERT_EQUAL(check(&fx.be, "bob@listed3", key_of(&fx, "bob"), &d),
	    POLICY_DENY_NOT_LISTED);
	CU_ASSERT_EQUAL(check(&fx.be, "bob@listed3", NULL, &d),
	    POLICY_DENY_NOT_LISTED);
	fixture_done(&fx);
}

/* The first "no" wins: the order of the checks is part of the contract. */
static void
test_order(void)
{
	struct fixture fx;
	struct policy_decision d;

	fixture_load(&fx, "100, 300");
	/* Unknown studio before unknown user. */
	CU_ASSERT_EQUAL(check(&fx.be, "zed@nosuch", NULL, &d),
	    POLICY_DENY_UNKNOWN_STUDIO);
	/* Workspace before the key. */
	CU_ASSERT_EQUAL(check(&fx.be, "alice@closed2", key_of(&fx, "bob"), &d),
	    POLICY_DENY_WORKSPACE_NOT_ALLOWED);
	/* The key before membership. */
	CU_ASSERT_EQUAL(check(&fx.be, "dave@open1", key_of(&fx, "alice"), &d),
	    POLICY_DENY_KEY_NOT_REGISTERED);
	fixture_done(&fx);
}

/* --- a backend that fails --------------------------------------------- */

enum fake_step {
	FAIL_NONE,
	FAIL_ENABLED,
	FAIL_STUDIO,
	FAIL_ALLOWED,
	FAIL_USER_KEY,
	FAIL_MEMBER,
};

struct fake {
	enum fake_step fail;
	struct policy_studio studio;
	int bad_record;		/* POLICY_BAD_RECORD from 1 find_studio,
				 * 2 user_key */
};

static int
fake_find_studio(void *ctx, const char *session, struct policy_studio *out)
{
	struct fake *f = ctx;

	if (f->fail == FAIL_STUDIO)
		return -1;
	if (f->bad_record == 1)
		return POLICY_BAD_RECORD;
	*out = f->studio;
	return 0;
}

static int
fake_ssh_enabled(void *ctx)
{
	return ((struct fake *)ctx)->fail == FAIL_ENABLED ? -1 : 1;
}

static int
fake_workspace_allowed(void *ctx, long long workspace)
{
	return ((struct fake *)ctx)->fail == FAIL_ALLOWED ? -1 : 1;
}

static int
fake_workspace_member(void *ctx, long long workspace, const char *user)
{
	return ((struct fake *)ctx)->fail == FAIL_MEMBER ? -1 : 1;
}

static int
fake_user_key(void *ctx, const char *user, const uint8_t *blob, size_t len,
    int *has_key)
{
	struct fake *f = ctx;

	*has_key = 1;
	if (f->bad_record == 2)
		return POLICY_BAD_RECORD;
	return f->fail == FAIL_USER_KEY ? -1 : 1;
}

static void
test_backend_errors(void)
{
	static const uint8_t blob[] = { 0, 0, 0, 1, 'x' };
	struct fake f;
	struct policy_backend be;
	struct policy_request req;
	struct policy_decision d;
	enum fake_step step;

	memset(&f, 0, sizeof(f));
	f.studio.session = "s1";
	f.studio.workspace = 42;
	f.studio.upstream_host = "10.0.0.1";
	f.studio.upstream_port = "22";
	memset(&be, 0, sizeof(be));
	be.name = "fake";
	be.ctx = &f;
	be.find_studio = fake_find_studio;
	be.ssh_enabled = fake_ssh_enabled;
	be.workspace_allowed = fake_workspace_allowed;
	be.workspace_member = fake_workspace_member;
	be.user_key = fake_user_key;
	req.ssh_user = "u@s1";
	req.key_blob = blob;
	req.key_len = sizeof(blob);

	CU_ASSERT_EQUAL(policy_check(&be, &req, &d), POLICY_ALLOW);
	CU_ASSERT_STRING_EQUAL(d.upstream_user, "u");
	for (step = FAIL_ENABLED; step <= FAIL_MEMBER; step++) {
		f.fail = step;
		CU_ASSERT_EQUAL(policy_check(&be, &req, &d),
		    POLICY_DENY_BACKEND);
		CU_ASSERT_EQUAL(d.verdict, POLICY_DENY_BACKEND);
		CU_ASSERT_STRING_EQUAL(policy_reason(d.verdict),
		    "registry-unavailable");
		CU_ASSERT_STRING_EQUAL(d.upstream_user, "");
	}
	/* A record that failed the backend's checks: its own reason. */
	f.fail = 0;
	f.bad_record = 1;
	CU_ASSERT_EQUAL(policy_check(&be, &req, &d), POLICY_DENY_BAD_RECORD);
	CU_ASSERT_STRING_EQUAL(policy_reason(d.verdict), "bad-registry-record");
	CU_ASSERT_PTR_NULL(d.studio.session);
	/* Likewise a user's keys that fail the checks as a whole. */
	f.bad_record = 2;
	CU_ASSERT_EQUAL(policy_check(&be, &req, &d), POLICY_DENY_BAD_RECORD);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "split user@session", test_split },
		{ "valid user and session", test_valid_parts },
		{ "reason strings", test_reasons },
		{ "allow", test_allow },
		{ "ssh disabled", test_ssh_disabled },
		{ "bad user name", test_bad_username },
		{ "each denial", test_denials },
		{ "order of checks", test_order },
		{ "backend errors", test_backend_errors },
		UNIT_END,
	};

	return unit_run(argc, argv, "policy", tests);
}
