/*
 * test_replay.c - the monitor's set of recent session ids (replay.h).
 */
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "monitor/replay.h"
#include "runner.h"

#define TTL	90000

static void
id_of(uint8_t *id, unsigned n, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		id[i] = (uint8_t)(n * 131 + i * 7 + (n >> 8));
}

static void
test_new_then_seen(void)
{
	struct replay_set *s = replay_new(16);
	uint8_t a[32], b[48];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memset(a, 0x42, sizeof(a));
	memset(b, 0x42, sizeof(b));
	CU_ASSERT_EQUAL(replay_add(s, a, 32, 0, TTL), REPLAY_NEW);
	CU_ASSERT_EQUAL(replay_add(s, a, 32, 1, TTL), REPLAY_SEEN);
	/* The same bytes at another length are another id. */
	CU_ASSERT_EQUAL(replay_add(s, b, 48, 2, TTL), REPLAY_NEW);
	CU_ASSERT_EQUAL(replay_add(s, b, 48, 3, TTL), REPLAY_SEEN);
	CU_ASSERT_EQUAL(replay_add(s, a, 0, 3, TTL), REPLAY_BAD);
	CU_ASSERT_EQUAL(replay_add(s, b, REPLAY_MAX_ID + 1, 3, TTL),
	    REPLAY_BAD);
	CU_ASSERT_EQUAL(replay_count(s, 4), 2);
	replay_free(s);
}

/* The old table kept one id per 16-bit prefix: an id with the same
 * first two (or sixteen) bytes pushed the first out, and the first could
 * then be used again.  Not here. */
static void
test_same_prefix_does_not_evict(void)
{
	struct replay_set *s = replay_new(REPLAY_CAPACITY);
	uint8_t x[32], y[32];
	unsigned i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memset(x, 0x61, sizeof(x));
	CU_ASSERT_EQUAL(replay_add(s, x, 32, 0, TTL), REPLAY_NEW);
	for (i = 0; i < 1000; i++) {
		memset(y, 0x61, sizeof(y));
		y[31] = (uint8_t)i;
		y[30] = (uint8_t)(i >> 8) ^ 0x80;
		CU_ASSERT_EQUAL(replay_add(s, y, 32, 1, TTL), REPLAY_NEW);
	}
	CU_ASSERT_EQUAL(replay_add(s, x, 32, 2, TTL), REPLAY_SEEN);
	CU_ASSERT_EQUAL(replay_count(s, 2), 1001);
	replay_free(s);
}

static void
test_ttl(void)
{
	struct replay_set *s = replay_new(16);
	uint8_t a[32], b[32];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	CU_ASSERT_EQUAL(replay_add(s, a, 32, 1000, TTL), REPLAY_NEW);
	CU_ASSERT_EQUAL(replay_add(s, b, 32, 2000, TTL), REPLAY_NEW);
	CU_ASSERT_EQUAL(replay_add(s, a, 32, 1000 + TTL - 1, TTL),
	    REPLAY_SEEN);
	/* a's TTL is over, b's is not. */
	CU_ASSERT_EQUAL(replay_count(s, 1000 + TTL), 1);
	CU_ASSERT_EQUAL(replay_add(s, b, 32, 1000 + TTL, TTL), REPLAY_SEEN);
	CU_ASSERT_EQUAL(replay_add(s, a, 32, 1000 + TTL, TTL), REPLAY_NEW);
	CU_ASSERT_EQUAL(replay_count(s, 2000 + TTL), 1);
	replay_free(s);
}

/* Full: the new id is refused, no live id is pushed out. */
static void
test_capacity_refuses(void)
{
	struct replay_set *s = replay_new(4);
	uint8_t id[32];
	unsigned i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (i = 0; i < 4; i++) {
		id_of(id, i, 32);
		CU_ASSERT_EQUAL(replay_add(s, id, 32, i, TTL), REPLAY_NEW);
	}
	id_of(id, 4, 32);
	CU_ASSERT_EQUAL(replay_add(s, id, 32, 10, TTL), REPLAY_FULL);
	CU_ASSERT_EQUAL(replay_add(s, id, 32, 11, TTL), REPLAY_FULL);
	for (i = 0; i < 4; i++) {
		id_of(id, i, 32);
		CU_ASSERT_EQUAL(replay_add(s, id, 32, 12, TTL), REPLAY_SEEN);
	}
	/* Once the first expires there is room for one. */
	id_of(id, 4, 32);
	CU_ASSERT_EQUAL(replay_add(s, id, 32, TTL, TTL), REPLAY_NEW);
	id_of(id, 0, 32);
	CU_ASSERT_EQUAL(replay_add(s, id, 32, TTL, TTL), REPLAY_FULL);
	replay_free(s);
}

/* Against a plain list, with a small table so that probe runs wrap and
 * expiry deletes from the middle of runs. */
static void
test_against_model(void)
{
	enum { CAP = 8, NIDS = 24, STEPS = 200000 };
	struct replay_set *s = replay_new(CAP);
	uint64_t expires[NIDS], now = 0;
	uint8_t id[REPLAY_MAX_ID];
	unsigned i, j, n, live, bad = 0;
	enum replay_result want, got;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memset(expires, 0, sizeof(expires));
	srand(7);
	for (i = 0; i < STEPS; i++) {
		now += (uint64_t)(rand() % 40);
		n = (unsigned)rand() % NIDS;
		for (live = 0, j = 0; j < NIDS; j++)
			if (expires[j] > now)
				live++;
		if (expires[n] > now)
			want = REPLAY_SEEN;
		else if (live == CAP)
			want = REPLAY_FULL;
		else
			want = REPLAY_NEW;
		id_of(id, n, 16 + n % 3 * 16);
		got = replay_add(s, id, 16 + n % 3 * 16, now, 1000);
		if (got != want)
			bad++;
		if (got == REPLAY_NEW)
			expires[n] = now + 1000;
	}
	CU_ASSERT_EQUAL(bad, 0);
	replay_free(s);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "new, then seen; lengths apart", test_new_then_seen },
		{ "an id with the same prefix does not evict",
		    test_same_prefix_does_not_evict },
		{ "an id lives for its TTL", test_ttl },
		{ "full: refused, nothing evicted", test_capacity_refuses },
		{ "200000 random adds against a model", test_against_model },
		UNIT_END,
	};

	return unit_run(argc, argv, "replay", tests);
}
