/*
 * replay.c - an exact set of recent session ids with a TTL (replay.h).
 *
 * The entries live in a ring in the order they were added, which is the
 * order they expire in; an open-addressing table (linear probing, slot =
 * ring index + 1, 0 empty) finds them.  Expired entries are taken off the
 * ring's head before each add, and out of the table by backward-shift
 * deletion, so the table never holds tombstones.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "replay.h"

struct replay_entry {
	uint64_t expires_ms;
	uint8_t len;
	uint8_t id[REPLAY_MAX_ID];
};

struct replay_set {
	struct replay_entry *ring;
	size_t cap, head, count;	/* ring: count entries from head */
	uint32_t *table;		/* ring index + 1, 0 empty */
	size_t mask;			/* table size - 1 (power of 2) */
	uint8_t key[32];		/* the hash's secret */
};

struct replay_set *
replay_new(size_t capacity)
{
	struct replay_set *s;
	size_t n = 2;

	if (capacity == 0 || capacity > UINT32_MAX / 4)
		return NULL;
	while (n < 2 * capacity)
		n <<= 1;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->cap = capacity;
	s->mask = n - 1;
	/* calloc: pages are touched only as the set fills. */
	if ((s->ring = calloc(capacity, sizeof(*s->ring))) == NULL ||
	    (s->table = calloc(n, sizeof(*s->table))) == NULL ||
	    getentropy(s->key, sizeof(s->key)) != 0) {
		replay_free(s);
		return NULL;
	}
	return s;
}

void
replay_free(struct replay_set *s)
{
	if (s == NULL)
		return;
	free(s->ring);
	free(s->table);
	free(s);
}

static size_t
slot_of(const struct replay_set *s, const uint8_t *id, size_t len)
{
	uint8_t in[sizeof(s->key) + REPLAY_MAX_ID], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uint64_t h = 0;

	memcpy(in, s->key, sizeof(s->key));
	memcpy(in + sizeof(s->key), id, len);
	if (EVP_Digest(in, sizeof(s->key) + len, md, &mdlen, EVP_sha256(),
	    NULL) == 1 && mdlen >= 8)
		memcpy(&h, md, 8);
	return (size_t)h & s->mask;
}

static int
same(const struct replay_entry *e, const uint8_t *id, size_t len)
{
	return e->len == len && memcmp(e->id, id, len) == 0;
}

/* The table slot of id, or the empty slot where it would go. */
static size_t
find(const struct replay_set *s, const uint8_t *id, size_t len)
{
	size_t i = slot_of(s, id, len);

	while (s->table[i] != 0 && !same(&s->ring[s->table[i] - 1], id, len))
		i = (i + 1) & s->mask;
	return i;
}

/* Remove the entry at table slot i, shifting its run back. */
static void
table_delete(struct replay_set *s, size_t i)
{
	size_t j = i, home;
	const struct replay_entry *e;

	s->table[i] = 0;
	for (;;) {
		j = (j + 1) & s->mask;
		if (s->table[j] == 0)
			return;
		e = &s->ring[s->table[j] - 1];
		home = slot_of(s, e->id, e->len);
		/* Move j back to i unless its home lies in (i, j]. */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		s->table[i] = s->table[j];
		s->table[j] = 0;
		i = j;
	}
}

static void
expire(struct replay_set *s, uint64_t now_ms)
{
	struct replay_entry *e;

	while (s->count > 0 && (e = &s->ring[s->head])->expires_ms <= now_ms) {
		table_delete(s, find(s, e->id, e->len));
		e->len = 0;
		s->head = (s->head + 1) % s->cap;
		s->count--;
	}
}

enum replay_result
replay_add(struct replay_set *s, const uint8_t *id, size_t len,
    uint64_t now_ms, uint64_t ttl_ms)
{
	struct replay_entry *e;
	size_t i, ri;

	if (len == 0 || len > REPLAY_MAX_ID)
		return REPLAY_BAD;
	expire(s, now_ms);
	i = find(s, id, len);
	if (s->table[i] != 0)
		return REPLAY_SEEN;
	if (s->count == s->cap)
		return REPLAY_FULL;
	ri = (s->head + s->count) % s->cap;
	e = &s->ring[ri];
	/* The ring must stay in expiry order: a TTL that shrank (a
	 * reload) keeps the later expiry of the entry before it. */
	e->expires_ms = now_ms + ttl_ms;
	if (s->count > 0) {
		const struct replay_entry *prev =
		    &s->ring[(ri + s->cap - 1) % s->cap];

		if (prev->expires_ms > e->expires_ms)
			e->expires_ms = prev->expires_ms;
	}
	e->len = (uint8_t)len;
	memcpy(e->id, id, len);
	s->table[i] = (uint32_t)ri + 1;
	s->count++;
	return REPLAY_NEW;
}

size_t
replay_count(struct replay_set *s, uint64_t now_ms)
{
	expire(s, now_ms);
	return s->count;
}
