/*
 * test_lookup.c - the lookup process's messages (ipc.c, IPC_L_*) and the
 * facts they carry (policy/facts.c): each codec round trips and refuses a
 * short body, a byte left over and a list over its bound; facts_check
 * refuses every answer a registry could not have given; and a decision
 * recorded through a backend and replayed from the facts is the same
 * decision, for every verdict the backend can lead to.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "buf.h"
#include "config.h"
#include "facts.h"
#include "ipc.h"
#include "policy.h"
#include "runner.h"

static const uint8_t key[] = { 0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd',
    '2', '5', '5', '1', '9' };

/* Encode with enc, then decode the body with dec: 0 if both worked. */
#define ROUND_TRIP(b, enc, dec, in, out) \
	(buf_init(&(b), IPC_MAX_MSG), \
	 enc(&(b), (in)) == 0 ? \
	    (cursor_init(&c, (b).data + 2, (b).len - 2), dec(&c, (out))) : -1)

static void
test_facts_round_trip(void)
{
	static struct ipc_lookup_facts in, out;
	struct cursor c;
	struct buf b;
	size_t i;

	facts_clear(&in);
	in.id = 77;
	in.enabled = 1;
	in.studio = 0;
	in.workspace = 100;
	snprintf(in.upstream_host, sizeof(in.upstream_host), "fd00::7");
	snprintf(in.upstream_port, sizeof(in.upstream_port), "2222");
	snprintf(in.host_key_pin, sizeof(in.host_key_pin), "SHA256:x");
	in.users_set = 1;
	in.nusers = IPC_LOOKUP_MAX_USERS;
	for (i = 0; i < in.nusers; i++)
		snprintf(in.users[i], sizeof(in.users[i]), "%0*zu",
		    IPC_LOOKUP_USER - 1, i);	/* every name at its longest */
	in.workspace_allowed = 1;
	in.user_exists = POLICY_BAD_RECORD;
	in.st_latency_le[7] = 9;
	CU_ASSERT_EQUAL(ROUND_TRIP(b, ipc_enc_lookup_facts,
	    ipc_dec_lookup_facts, &in, &out), 0);
	CU_ASSERT(b.len <= IPC_MAX_MSG);
	CU_ASSERT_EQUAL(memcmp(&in, &out, sizeof(in)), 0);
	/* A byte short, a byte over. */
	cursor_init(&c, b.data + 2, b.len - 3);
	CU_ASSERT_EQUAL(ipc_dec_lookup_facts(&c, &out), -1);
	buf_put_u8(&b, 0);
	cursor_init(&c, b.data + 2, b.len - 2);
	CU_ASSERT_EQUAL(ipc_dec_lookup_facts(&c, &out), -1);
	buf_free(&b);
	/* One user too many: the encoder refuses. */
	in.nusers = IPC_LOOKUP_MAX_USERS + 1;
	buf_init(&b, IPC_MAX_MSG);
	CU_ASSERT_EQUAL(ipc_enc_lookup_facts(&b, &in), -1);
	buf_free(&b);
}

/* A body that claims more users than the bound: refused before any is
 * read. */
static void
test_facts_too_many_users(void)
{
	static struct ipc_lookup_facts in, out;
	struct cursor c;
	struct buf b;
	size_t off;

	facts_clear(&in);
	in.studio = 0;
	in.users_set = 1;
	buf_init(&b, IPC_MAX_MSG);
	CU_ASSERT_EQUAL_FATAL(ipc_enc_lookup_facts(&b, &in), 0);
	/* the u32 nusers: after id, enabled, studio, workspace, four
	 * empty strings, upstream_auth, users_set */
	off = 2 + 8 + 4 + 4 + 8 + 4 * 4 + 4 + 4;
	b.data[off] = 0xff;
	cursor_init(&c, b.data + 2, b.len - 2);
	CU_ASSERT_EQUAL(ipc_dec_lookup_facts(&c, &out), -1);
	buf_free(&b);
}

static void
test_access_round_trip(void)
{
	struct ipc_lookup_access in, out;
	uint8_t big[IPC_MAX_BLOB + 1] = { 0 }, id[32] = { 1, 2, 3 };
	struct cursor c;
	struct buf b;

	memset(&in, 0, sizeof(in));
	in.id = 5;
	snprintf(in.ssh_user, sizeof(in.ssh_user), "alice@open1");
	in.key_blob = key;
	in.key_blob_len = sizeof(key);
	in.claim_id = id;
	in.claim_id_len = sizeof(id);
	in.claim_ttl_ms = 1234;
	CU_ASSERT_EQUAL(ROUND_TRIP(b, ipc_enc_lookup_access,
	    ipc_dec_lookup_access, &in, &out), 0);
	CU_ASSERT_EQUAL(out.id, 5);
	CU_ASSERT_STRING_EQUAL(out.ssh_user, "alice@open1");
	CU_ASSERT_EQUAL(out.key_blob_len, sizeof(key));
	CU_ASSERT_EQUAL(out.ca_blob_len, 0);
	CU_ASSERT_EQUAL(out.claim_id_len, 32);
	CU_ASSERT_EQUAL(out.claim_ttl_ms, 1234);
	buf_free(&b);
	in.ca_blob = big;
	in.ca_blob_len = sizeof(big);
	buf_init(&b, IPC_MAX_MSG);
	CU_ASSERT_EQUAL(ipc_enc_lookup_access(&b, &in), -1);
	buf_free(&b);
}

static void
test_startup_counted_init(void)
{
	struct ipc_lookup_startup s = { .id = 9, .release = 1, .limit = 3,
	    .ttl_ms = 50 }, s2;
	struct ipc_lookup_counted k = { .id = 9, .result = -1 }, k2;
	static struct ipc_lookup_init in, out;
	struct cursor c;
	struct buf b;

	snprintf(s.source, sizeof(s.source), "7f000003");
	snprintf(s.member, sizeof(s.member), "abcd:4");
	CU_ASSERT_EQUAL(ROUND_TRIP(b, ipc_enc_lookup_startup,
	    ipc_dec_lookup_startup, &s, &s2), 0);
	CU_ASSERT_EQUAL(memcmp(&s, &s2, sizeof(s)), 0);
	buf_free(&b);
	CU_ASSERT_EQUAL(ROUND_TRIP(b, ipc_enc_lookup_counted,
	    ipc_dec_lookup_counted, &k, &k2), 0);
	CU_ASSERT_EQUAL(k2.result, -1);
	buf_free(&b);
	in.version = IPC_PROTO_VERSION;
	snprintf(in.host, sizeof(in.host), "redis.internal");
	snprintf(in.port, sizeof(in.port), "6379");
	snprintf(in.password, sizeof(in.password), "%0*d",
	    IPC_LOOKUP_SECRET - 1, 0);	/* the longest secret */
	CU_ASSERT_EQUAL(ROUND_TRIP(b, ipc_enc_lookup_init,
	    ipc_dec_lookup_init, &in, &out), 0);
	CU_ASSERT_EQUAL(memcmp(&in, &out, sizeof(in)), 0);
	buf_free(&b);
}

/* L_SCRAPE and L_METRICS: the longest body fits, one byte more does not. */
static void
test_scrape_metrics(void)
{
	static uint8_t text[IPC_MAX_METRICS + 1];
	struct ipc_lookup_scrape q = { .id = 77 }, q2;
	struct ipc_lookup_metrics a, a2;
	struct cursor c;
	struct buf b;

	CU_ASSERT_EQUAL(ROUND_TRIP(b, ipc_enc_lookup_scrape,
	    ipc_dec_lookup_scrape, &q, &q2), 0);
	CU_ASSERT_EQUAL(q2.id, 77);
	buf_free(&b);
	memset(text, 'm', sizeof(text));
	a.id = 78;
	a.text = text;
	a.text_len = IPC_MAX_METRICS;
	CU_ASSERT_EQUAL(ROUND_TRIP(b, ipc_enc_lookup_metrics,
	    ipc_dec_lookup_metrics, &a, &a2), 0);
	CU_ASSERT_EQUAL(a2.id, 78);
	CU_ASSERT_EQUAL(a2.text_len, IPC_MAX_METRICS);
	CU_ASSERT(a2.text_len == IPC_MAX_METRICS &&
	    memcmp(a2.text, text, IPC_MAX_METRICS) == 0);
	buf_free(&b);
	a.text_len = IPC_MAX_METRICS + 1;
	buf_init(&b, IPC_MAX_MSG);
	CU_ASSERT_NOT_EQUAL(ipc_enc_lookup_metrics(&b, &a), 0);
	buf_free(&b);
}

/* ---- facts_check ---- */

static void
good_record(struct ipc_lookup_facts *f)
{
	facts_clear(f);
	f->enabled = 1;
	f->studio = 0;
	f->workspace = 100;
	snprintf(f->upstream_host, sizeof(f->upstream_host), "10.0.0.5");
	snprintf(f->upstream_port, sizeof(f->upstream_port), "22");
	f->workspace_allowed = 1;
	f->user_exists = 1;
	f->has_key = 1;
	f->member = 1;
}

static void
test_check(void)
{
	static struct ipc_lookup_facts f;
	const char *why;

	good_record(&f);
	CU_ASSERT_EQUAL(facts_check(&f, &why), 0);
	snprintf(f.upstream_host, sizeof(f.upstream_host), "fd00::7");
	CU_ASSERT_EQUAL(facts_check(&f, &why), 0);
	/* What the registry's own checks never let through. */
	snprintf(f.upstream_host, sizeof(f.upstream_host), "studio.internal");
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	good_record(&f);
	snprintf(f.upstream_port, sizeof(f.upstream_port), "0");
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	good_record(&f);
	f.upstream_host[0] = '\0';
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	good_record(&f);
	f.workspace = -5;
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	good_record(&f);
	snprintf(f.upstream_user, sizeof(f.upstream_user), "-oProxyCommand");
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	good_record(&f);
	snprintf(f.host_key_pin, sizeof(f.host_key_pin), "MD5:aa");
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	good_record(&f);
	f.upstream_auth = 7;
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	good_record(&f);
	f.nusers = 1;		/* a list without its flag */
	snprintf(f.users[0], sizeof(f.users[0]), "alice");
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	f.users_set = 1;
	CU_ASSERT_EQUAL(facts_check(&f, &why), 0);
	snprintf(f.users[0], sizeof(f.users[0]), "a b");
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	good_record(&f);
	f.enabled = 5;		/* no backend answers that */
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	good_record(&f);
	f.has_key = 2;
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	good_record(&f);
	f.claimed = -2;
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	/* No studio, but a record all the same. */
	good_record(&f);
	f.studio = 1;
	CU_ASSERT_EQUAL(facts_check(&f, &why), -1);
	CU_ASSERT_PTR_NOT_NULL(why);
}

/* ---- recorded, then replayed: the same decision ---- */

/* A registry in a test: fixed answers, each settable. */
static struct fake {
	int enabled, studio, allowed, member, user, has_key, ca;
	int users_set;
	const char *users[2];
	size_t nusers;
	int calls;
} fk;

static int
fk_find_studio(void *ctx, const char *session, struct policy_studio *out)
{
	(void)ctx;
	fk.calls++;
	memset(out, 0, sizeof(*out));
	if (fk.studio != 0)
		return fk.studio;
	out->session = session;
	out->workspace = 300;
	out->upstream_host = "fd00::7";
	out->upstream_port = "2222";
	out->upstream_user = "root";
	out->host_key_fingerprint =
	    "SHA256:Cv5Jn0tlB/2h+DXihN3gSH4hk3nt1Hu1wlSmaZRPm6Q";
	out->upstream_auth = CFG_UPSTREAM_KEY;
	out->users_set = fk.users_set;
	out->users = fk.users;
	out->nusers = fk.nusers;
	return 0;
}

static int
fk_enabled(void *ctx)
{
	(void)ctx;
	fk.calls++;
	return fk.enabled;
}

static int
fk_allowed(void *ctx, long long ws)
{
	(void)ctx;
	fk.calls++;
	return ws == 300 ? fk.allowed : 0;
}

static int
fk_member(void *ctx, long long ws, const char *user)
{
	(void)ctx;
	(void)user;
	fk.calls++;
	return ws == 300 ? fk.member : 0;
}

static int
fk_user_key(void *ctx, const char *user, const uint8_t *blob, size_t len,
    int *has_key)
{
	(void)ctx;
	(void)user;
	(void)blob;
	(void)len;
	fk.calls++;
	*has_key = fk.has_key;
	return fk.user;
}

static int
fk_user_ca(void *ctx, const uint8_t *blob, size_t len)
{
	(void)ctx;
	(void)blob;
	(void)len;
	fk.calls++;
	return fk.ca;
}

static const struct policy_backend fake_backend = {
	"fake", NULL, fk_find_studio, fk_enabled, fk_allowed, fk_member,
	fk_user_key, fk_user_ca
};

/* The decision over the fake, and again over the facts recorded while
 * making it (through the codec, as the monitor receives them): both
 * must agree in verdict and in everything a login is routed by. */
static enum policy_verdict
both_ways(const char *ssh_user, int with_key)
{
	static struct ipc_lookup_facts f, got;
	struct policy_decision d1, d2;
	struct policy_request req = { ssh_user, with_key ? key : NULL,
	    with_key ? sizeof(key) : 0 };
	struct facts_recorder rec;
	struct facts_view view;
	struct policy_backend be;
	enum policy_verdict v1, v2;
	struct cursor c;
	const char *why;
	struct buf b;

	facts_clear(&f);
	facts_recording_backend(&be, &rec, &fake_backend, &f);
	v1 = policy_check(&be, &req, &d1);
	CU_ASSERT_EQUAL(ROUND_TRIP(b, ipc_enc_lookup_facts,
	    ipc_dec_lookup_facts, &f, &got), 0);
	buf_free(&b);
	CU_ASSERT_EQUAL(facts_check(&got, &why), 0);
	facts_backend(&be, &view, &got);
	v2 = policy_check(&be, &req, &d2);
	CU_ASSERT_EQUAL(v1, v2);
	CU_ASSERT_EQUAL(d1.workspace, d2.workspace);
	CU_ASSERT_STRING_EQUAL(d1.upstream_user, d2.upstream_user);
	if (v1 == POLICY_ALLOW) {
		CU_ASSERT_STRING_EQUAL(d1.studio.upstream_host,
		    d2.studio.upstream_host);
		CU_ASSERT_STRING_EQUAL(d1.studio.upstream_port,
		    d2.studio.upstream_port);
		CU_ASSERT_STRING_EQUAL(d1.studio.host_key_fingerprint,
		    d2.studio.host_key_fingerprint);
		CU_ASSERT_EQUAL(d1.studio.upstream_auth,
		    d2.studio.upstream_auth);
	}
	return v2;
}

static void
fake_allow(void)
{
	memset(&fk, 0, sizeof(fk));
	fk.enabled = fk.allowed = fk.member = fk.user = fk.has_key = 1;
	fk.studio = 0;
}

static void
test_replay_verdicts(void)
{
	fake_allow();
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1), POLICY_ALLOW);
	CU_ASSERT_EQUAL(both_ways("alice@s1", 0), POLICY_ALLOW);
	fake_allow();
	fk.users_set = 1;
	fk.users[0] = "bob";
	fk.nusers = 1;
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1), POLICY_DENY_NOT_LISTED);
	fk.users[1] = "alice";
	fk.nusers = 2;
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1), POLICY_ALLOW);
	fake_allow();
	fk.enabled = 0;
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1), POLICY_DENY_SSH_DISABLED);
	fake_allow();
	fk.studio = 1;
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1), POLICY_DENY_UNKNOWN_STUDIO);
	fk.studio = POLICY_BAD_RECORD;
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1), POLICY_DENY_BAD_RECORD);
	fake_allow();
	fk.allowed = 0;
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1),
	    POLICY_DENY_WORKSPACE_NOT_ALLOWED);
	fake_allow();
	fk.has_key = 0;
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1),
	    POLICY_DENY_KEY_NOT_REGISTERED);
	fk.user = 0;
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1), POLICY_DENY_UNKNOWN_USER);
	fake_allow();
	fk.member = 0;
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1), POLICY_DENY_NOT_MEMBER);
	/* Redis failing at each step in turn. */
	fake_allow();
	fk.enabled = -1;
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1), POLICY_DENY_BACKEND);
	fake_allow();
	fk.allowed = -1;
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1), POLICY_DENY_BACKEND);
	fake_allow();
	fk.member = -1;
	CU_ASSERT_EQUAL(both_ways("alice@s1", 1), POLICY_DENY_BACKEND);
	fake_allow();
	CU_ASSERT_EQUAL(both_ways("not-a-login-name", 1),
	    POLICY_DENY_BAD_USERNAME);
}

/* Facts that answer nothing: every decision is "could not answer", never
 * a grant. */
static void
test_unasked_denies(void)
{
	static struct ipc_lookup_facts f;
	struct policy_request req = { "alice@s1", key, sizeof(key) };
	struct policy_decision d;
	struct facts_view view;
	struct policy_backend be;

	facts_clear(&f);
	facts_backend(&be, &view, &f);
	CU_ASSERT_EQUAL(policy_check(&be, &req, &d), POLICY_DENY_BACKEND);
	CU_ASSERT_EQUAL(be.user_ca(be.ctx, key, sizeof(key)), -1);
	/* Every answer yes but the key's: unasked, so no login. */
	fake_allow();
	good_record(&f);
	f.user_exists = IPC_FACT_UNASKED;
	facts_backend(&be, &view, &f);
	CU_ASSERT_EQUAL(policy_check(&be, &req, &d), POLICY_DENY_BACKEND);
	/* A record for another workspace than the one asked about. */
	good_record(&f);
	CU_ASSERT_EQUAL(be.workspace_allowed(be.ctx, 101), -1);
	CU_ASSERT_EQUAL(be.workspace_member(be.ctx, 101, "alice"), -1);
}

static const struct unit_test codec_tests[] = {
	{ "L_FACTS round trip, short, leftover, 129 users", test_facts_round_trip },
	{ "L_FACTS claiming too many users", test_facts_too_many_users },
	{ "L_ACCESS round trip, blob over bound", test_access_round_trip },
	{ "L_STARTUP, L_COUNTED, L_INIT round trip", test_startup_counted_init },
	{ "L_SCRAPE, L_METRICS round trip, body bound", test_scrape_metrics },
	UNIT_END,
};

static const struct unit_test facts_tests[] = {
	{ "facts_check refuses what no registry answers", test_check },
	{ "recorded and replayed: the same decision", test_replay_verdicts },
	{ "unasked answers never grant", test_unasked_denies },
	UNIT_END,
};

int
main(int argc, char **argv)
{
	static const struct unit_suite suites[] = {
		{ "lookup codec", codec_tests },
		{ "lookup facts", facts_tests },
		UNIT_SUITES_END,
	};

	return unit_run_suites(argc, argv, suites);
}
