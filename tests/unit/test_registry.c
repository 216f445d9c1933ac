/*
 * test_registry.c - the checks on what the Redis registry returns (studio
 * records and user keys), on a client that never connects, and the key
 * names of the schema.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "authkeys.h"
#include "config.h"
#include "policy.h"
#include "registry.h"
#include "runner.h"

#define KEY_A	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOz5JqMkJKITygKi/9nDH25FrNz+TknKjd/u9o6eZ5L3 a@t"
#define FP_A	"SHA256:m0eTeLViLihAvOxtTDmMoTN7q6rkPuAFbfTzUiiEsSk"
#define KEY_B	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHMRppjwEjrv61aqCR0SxY4iDSaUE5QI3BjfklqZJ+U2 b@t"
#define FP_B	"SHA256:YC78HDkM+zKRF2uAA9Q14nQHhmztE17i5sKU/VTQFTE"

/* A 1024-bit RSA key (ssh-keygen -t rsa -b 1024). */
#define KEY_W	"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDpeO7pQaLqMJSqYiMwNekK9dMJUKpmOsRnsD5YsIJYKYV5540ShrSMaNsd8DjT72mnUjd1XtrKWJcOV63ShEBh2RO8+/KI2BN80N7hV3pfHFhlPnv4/VrrpAYint3pTQ+CLY5dKoBtCVyMwguuFTYA2Q4kPfQzGOjJy/0yROdbHQ== weak@test"
#define FP_W	"SHA256:u3BPeVjeV1FiKUOWKuc+SVpkepKh9B4pMOh+hauV5+0"

static struct registry_redis *reg;

/* n strings as Redis would send them: each length its own. */
static int
studio(const char *const *e, size_t n, struct policy_studio *out)
{
	size_t lens[16], i;

	for (i = 0; i < n; i++)
		lens[i] = strlen(e[i]);
	return registry_parse_studio(reg, "connect-sshd:studio:s1", "s1", e,
	    lens, n, out);
}

static void
test_studio_good(void)
{
	const char *e[] = {
		"workspace", "100", "upstream", "10.1.2.3:22",
		"upstream_user", "root", "host_key_fingerprint", FP_A,
		"users", "alice bob", "owner", "the platform's own field",
		"upstream_auth", "key",
	};
	struct policy_studio s;

	CU_ASSERT_EQUAL_FATAL(studio(e, 14, &s), 0);
	CU_ASSERT_EQUAL(s.upstream_auth, CFG_UPSTREAM_KEY);
	CU_ASSERT_STRING_EQUAL(s.session, "s1");
	CU_ASSERT_EQUAL(s.workspace, 100);
	CU_ASSERT_STRING_EQUAL(s.upstream_host, "10.1.2.3");
	CU_ASSERT_STRING_EQUAL(s.upstream_port, "22");
	CU_ASSERT_STRING_EQUAL(s.upstream_user, "root");
	CU_ASSERT_STRING_EQUAL(s.host_key_fingerprint, FP_A);
	CU_ASSERT_EQUAL(s.users_set, 1);
	CU_ASSERT_EQUAL_FATAL(s.nusers, 2);
	CU_ASSERT_STRING_EQUAL(s.users[0], "alice");
	CU_ASSERT_STRING_EQUAL(s.users[1], "bob");
}

static void
test_studio_minimal_and_absent(void)
{
	const char *e[] = { "upstream", "[fd00::5]:2222", "workspace", "7" };
	struct policy_studio s;

	CU_ASSERT_EQUAL_FATAL(studio(e, 4, &s), 0);
	CU_ASSERT_STRING_EQUAL(s.upstream_host, "fd00::5");
	CU_ASSERT_STRING_EQUAL(s.upstream_port, "2222");
	CU_ASSERT_PTR_NULL(s.upstream_user);
	CU_ASSERT_PTR_NULL(s.host_key_fingerprint);
	CU_ASSERT_EQUAL(s.users_set, 0);
	CU_ASSERT_EQUAL(s.upstream_auth, CFG_UPSTREAM_UNSET);
	/* An empty hash is a studio that does not exist. */
	CU_ASSERT_EQUAL(studio(e, 0, &s), 1);
}

static void
test_studio_bad(void)
{
	static const char *const bad[][4] = {
		{ "workspace", "100", "upstream", "studio.internal:22" },
		{ "workspace", "100", "upstream", ":22" },
		{ "workspace", "100", "upstream", "10.1.2.3" },
		{ "workspace", "-1", "upstream", "10.1.2.3:22" },
		{ "workspace", "1x", "upstream", "10.1.2.3:22" },
		{ "workspace", "99999999999999999999", "upstream", "10.1.2.3:22" },
		{ "workspace", "100", "upstream_user", "root" },
		{ "upstream", "10.1.2.3:22", "users", "alice" },
		{ "workspace", "100", "upstream", "10.1.2.3:22" },
		{ "workspace", "100", "upstream", "10.1.2.3:22" },
	};
	const char *extra[][2] = {
		{ "x", "" }, { "x", "" }, { "x", "" }, { "x", "" }, { "x", "" },
		{ "x", "" }, { "x", "" }, { "x", "" },
		{ "users", "alice -bob" },
		{ "upstream_auth", "agent" },
	};
	const char *e[6];
	struct policy_studio s;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(e, bad[i], sizeof(bad[i]));
		e[4] = extra[i][0];
		e[5] = extra[i][1];
		CU_ASSERT_EQUAL(studio(e, 6, &s), POLICY_BAD_RECORD);
		CU_ASSERT_PTR_NULL(s.session);
		CU_ASSERT_PTR_NULL(s.upstream_host);
	}
}

static void
test_studio_shape(void)
{
	const char *e[] = { "workspace", "100", "upstream", "10.1.2.3:22",
	    "host_key_fingerprint", "SHA256:short" };
	size_t lens[4] = { 9, 3, 8, 12 };
	struct policy_studio s;

	/* An odd number of strings is no hash. */
	CU_ASSERT_EQUAL(studio(e, 3, &s), POLICY_BAD_RECORD);
	/* A NUL inside a value: Redis said 12 bytes, the C string is 11. */
	e[3] = "10.1.2.3:22";
	lens[3] = 12;
	CU_ASSERT_EQUAL(registry_parse_studio(reg, "k", "s1", e, lens, 4,
	    &s), POLICY_BAD_RECORD);
	CU_ASSERT_EQUAL(studio(e, 6, &s), POLICY_BAD_RECORD);
}

static int
keys(const char *const *e, size_t n, const char *line, int *has)
{
	struct authkey k;
	const char *why;
	size_t lens[8], i;
	int rc;

	for (i = 0; i < n; i++)
		lens[i] = strlen(e[i]);
	memset(&k, 0, sizeof(k));
	CU_ASSERT_EQUAL_FATAL(authkey_parse_line(line, &k, &why), 0);
	rc = registry_parse_keys(reg, "connect-sshd:user:alice:keys", e, lens,
	    n, k.blob, k.bloblen, has);
	authkey_free(&k);
	return rc;
}

static void
test_keys(void)
{
	const char *both[] = { FP_A, KEY_A, FP_B, KEY_B };
	const char *swapped[] = { FP_B, KEY_A, FP_A, "ssh-ed25519 nonsense" };
	int has;

	CU_ASSERT_EQUAL(keys(both, 4, KEY_A, &has), 1);
	CU_ASSERT_EQUAL(has, 1);
	CU_ASSERT_EQUAL(keys(both, 4, KEY_B, &has), 1);
	CU_ASSERT_EQUAL(has, 1);
	CU_ASSERT_EQUAL(keys(both, 2, KEY_B, &has), 1);
	CU_ASSERT_EQUAL(has, 0);
	/* A key under another key's fingerprint, or a line that does not
	 * parse, is skipped: the user exists, the key does not match. */
	CU_ASSERT_EQUAL(keys(swapped, 4, KEY_A, &has), 1);
	CU_ASSERT_EQUAL(has, 0);
	/* No entries: no such user. */
	CU_ASSERT_EQUAL(keys(both, 0, KEY_A, &has), 0);
	CU_ASSERT_EQUAL(keys(both, 3, KEY_A, &has), POLICY_BAD_RECORD);
}

/* A stored RSA key under limits.rsa_min_bits is a bad record, not a
 * key; lowered to 1024, the same entry matches. */
static void
test_keys_rsa_min_bits(void)
{
	const char *e[] = { FP_W, KEY_W, FP_A, KEY_A };
	size_t lens[4], i;
	unsigned long long bad;
	struct authkey k;
	const char *why;
	int has;

	for (i = 0; i < 4; i++)
		lens[i] = strlen(e[i]);
	CU_ASSERT_EQUAL_FATAL(authkey_parse_line_min(KEY_W, 1024, &k, &why),
	    0);
	bad = registry_redis_stats(reg)->bad_records;
	CU_ASSERT_EQUAL(registry_parse_keys(reg, "connect-sshd:user:dave:keys",
	    e, lens, 4, k.blob, k.bloblen, &has), 1);
	CU_ASSERT_EQUAL(has, 0);
	CU_ASSERT_EQUAL(registry_redis_stats(reg)->bad_records, bad + 1);
	registry_redis_set_rsa_min_bits(reg, 1024);
	CU_ASSERT_EQUAL(registry_parse_keys(reg, "connect-sshd:user:dave:keys",
	    e, lens, 4, k.blob, k.bloblen, &has), 1);
	CU_ASSERT_EQUAL(has, 1);
	CU_ASSERT_EQUAL(registry_redis_stats(reg)->bad_records, bad + 1);
	registry_redis_set_rsa_min_bits(reg, 2048);
	authkey_free(&k);
}

static void
test_key_names(void)
{
	char b[REGISTRY_MAX_KEY];

	CU_ASSERT_EQUAL(registry_key_allowed(b, sizeof(b), "p:"), 0);
	CU_ASSERT_STRING_EQUAL(b, "p:allowed_workspaces");
	CU_ASSERT_EQUAL(registry_key_members(b, sizeof(b), "p:", 42), 0);
	CU_ASSERT_STRING_EQUAL(b, "p:workspace:42:members");
	CU_ASSERT_EQUAL(registry_key_studio(b, sizeof(b), "p:", "s1"), 0);
	CU_ASSERT_STRING_EQUAL(b, "p:studio:s1");
	CU_ASSERT_EQUAL(registry_key_user_keys(b, sizeof(b), "p:", "a@b"), 0);
	CU_ASSERT_STRING_EQUAL(b, "p:user:a@b:keys");
	CU_ASSERT_EQUAL(registry_key_user_cas(b, sizeof(b), "p:"), 0);
	CU_ASSERT_STRING_EQUAL(b, "p:user_ca_keys");
	CU_ASSERT_EQUAL(registry_key_startups(b, sizeof(b), "p:", "7f000001"),
	    0);
	CU_ASSERT_STRING_EQUAL(b, "p:startups:7f000001");
	CU_ASSERT_EQUAL(registry_key_studio(b, 8, "p:", "s1"), -1);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "studio record, every field", test_studio_good },
		{ "studio record, required fields only; absent", test_studio_minimal_and_absent },
		{ "studio records that fail the checks", test_studio_bad },
		{ "odd hashes and NUL bytes", test_studio_shape },
		{ "user keys", test_keys },
		{ "user keys under limits.rsa_min_bits", test_keys_rsa_min_bits },
		{ "key names", test_key_names },
		UNIT_END,
	};
	int rc;

	if ((reg = registry_redis_offline()) == NULL)
		return 1;
	rc = unit_run(argc, argv, "registry", tests);
	registry_redis_free(reg);
	return rc;
}
