/*
 * replay.h - the session ids (exchange hashes) the monitor has signed
 * recently: an exact set, each id kept for a time to live, with a hard
 * capacity.
 *
 * An exchange hash is random; the same one in two connections means a
 * worker is replaying a login signature it captured (the monitor cannot
 * see the key exchange, so it takes the worker's word for the hash, as
 * OpenSSH's monitor does).  Every id is kept, whole, until its TTL ends:
 * another connection cannot push it out.  When the set is full, the new
 * id is refused (the caller refuses that connection) and no live entry is
 * evicted.  Ids expire in the order they were added (one TTL per set), so
 * expiry is a queue; lookups hash the id with a key of the process's own,
 * so a worker cannot choose ids that collide.
 */
#ifndef CSSHD_REPLAY_H
#define CSSHD_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#define REPLAY_MAX_ID		64	/* SHA-512 exchange hash */
#define REPLAY_CAPACITY		262144	/* ids live at once */

enum replay_result {
	REPLAY_NEW = 0,		/* not seen within its TTL: now recorded */
	REPLAY_SEEN = 1,	/* recorded and still live: a reuse */
	REPLAY_FULL = -1,	/* capacity reached: not recorded, refuse */
	REPLAY_BAD = -2		/* empty or longer than REPLAY_MAX_ID */
};

struct replay_set;

/* A set for at most capacity live ids; NULL when out of memory. */
struct replay_set *replay_new(size_t capacity);
void replay_free(struct replay_set *s);
/* Record id at now_ms (a monotonic clock), live until now_ms + ttl_ms,
 * unless it is live already or the set is full. */
enum replay_result replay_add(struct replay_set *s, const uint8_t *id,
    size_t len, uint64_t now_ms, uint64_t ttl_ms);
/* Live ids at now_ms. */
size_t replay_count(struct replay_set *s, uint64_t now_ms);

#endif
