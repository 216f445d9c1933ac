/*
 * registry.h - the Redis registry: its key schema, and the policy backend
 * that reads it (connect-sshd.conf(5), REGISTRY).
 *
 * The platform (or connect-sshctl(8)) writes, every gateway reads:
 *
 *   <prefix>allowed_workspaces        SET of workspace ids; empty: SSH off
 *   <prefix>workspace:<id>:members    SET of user names
 *   <prefix>studio:<session>          HASH: workspace, upstream, and the
 *                                     optional upstream_user,
 *                                     host_key_fingerprint, users
 *                                     ("alice bob": only they may log in),
 *                                     upstream_auth ("certificate", "key")
 *   <prefix>user:<name>:keys          HASH: "SHA256:<fp>" -> the key as an
 *                                     authorized_keys line, no options
 *   <prefix>user_ca_keys              HASH: the same, of CA keys whose user
 *                                     certificates log users in (with the
 *                                     file's trusted_user_ca_keys)
 *
 * and the gateways themselves keep
 *
 *   <prefix>startups:<source>         ZSET: "<instance>:<conn>" scored by
 *                                     when it stops counting (ms): the
 *                                     unauthenticated connections from a
 *                                     source, across replicas
 *   <prefix>replay:<session id, hex>  STRING "1", with a TTL: the session
 *                                     id of a login, claimed by SET NX PX
 *
 * Every value is checked as the config file's would be; a studio record
 * that does not pass is refused and logged with its key, a key line that
 * does not pass (or whose field is not its fingerprint) is skipped and
 * logged.
 */
#ifndef CSSHD_REGISTRY_H
#define CSSHD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct cfg_registry;

#define REGISTRY_MAX_KEY	256	/* longest key name the gateway builds */

/* Key names, as above.  Each returns 0, or -1 if the name would not fit
 * (it cannot, for names that passed policy_valid_*()). */
int registry_key_allowed(char *buf, size_t sz, const char *prefix);
int registry_key_members(char *buf, size_t sz, const char *prefix,
    long long workspace);
int registry_key_studio(char *buf, size_t sz, const char *prefix,
    const char *session);
int registry_key_user_keys(char *buf, size_t sz, const char *prefix,
    const char *user);
int registry_key_user_cas(char *buf, size_t sz, const char *prefix);

/* The fields of a studio record. */
#define REGISTRY_F_WORKSPACE	"workspace"
#define REGISTRY_F_UPSTREAM	"upstream"
#define REGISTRY_F_UPSTREAM_USER "upstream_user"
#define REGISTRY_F_FINGERPRINT	"host_key_fingerprint"
#define REGISTRY_F_USERS	"users"
#define REGISTRY_F_UPSTREAM_AUTH "upstream_auth"

/* What the metrics report about the registry. */
struct registry_stats {
	unsigned long long requests;	/* commands sent to Redis */
	unsigned long long errors;	/* failed: down, timeout, error reply */
	unsigned long long cache_hits;
	unsigned long long bad_records;	/* values that did not pass */
	unsigned long long latency_us;	/* sum over requests */
	unsigned long long latency_le[8];	/* histogram, see below */
	int up;				/* 1 connected, 0 not */
};
/* Upper bounds of the latency histogram's buckets, in microseconds. */
#define REGISTRY_LATENCY_BUCKETS \
	{ 500, 1000, 5000, 10000, 50000, 100000, 500000, 1000000 }

struct registry_redis;

/* A registry client with the settings of cfg (copied).  It connects at
 * once, but a registry that is down is no error: logins are refused until
 * it is back.  NULL only when out of memory. */
struct registry_redis *registry_redis_new(const struct cfg_registry *cfg);
void registry_redis_free(struct registry_redis *r);
/* The least RSA modulus of a stored key (limits.rsa_min_bits; default
 * KEYTYPE_RSA_MIN_BITS_DEFAULT): a key under it is a bad record. */
void registry_redis_set_rsa_min_bits(struct registry_redis *r,
    unsigned bits);
/* The policy backend over r; enabled is the config's enabled switch. */
void policy_redis_backend(struct policy_backend *be, struct registry_redis *r,
    int enabled);
/*
 * per_source_max_startups across replicas: count one more unauthenticated
 * connection from source (hex) as member, unless limit are counted
 * already.  An entry stops counting after ttl_ms even if never released,
 * so a replica that dies does not hold its sources' slots.  Returns 1
 * counted, 0 refused, -1 the registry could not answer (not counted).
 */
int registry_redis_startup_take(struct registry_redis *r, const char *source,
    const char *member, int limit, int ttl_ms);
/* The connection authenticated or ended: it no longer counts. */
void registry_redis_startup_release(struct registry_redis *r,
    const char *source, const char *member);
int registry_key_startups(char *buf, size_t sz, const char *prefix,
    const char *source);
/*
 * The replay check across replicas: claim a login's session id (len bytes,
 * the key holds it in hex) for ttl_ms with SET NX PX.  Returns 1 claimed,
 * 0 claimed already (by another connection, on any replica), -1 the
 * registry could not answer.
 */
int registry_redis_replay_claim(struct registry_redis *r, const uint8_t *id,
    size_t len, int ttl_ms);
int registry_key_replay(char *buf, size_t sz, const char *prefix,
    const char *hexid);

/*
 * The checks on what Redis returned, a hash as a flat list of n field,
 * value strings (lens: their lengths as Redis sent them).  As the backend's
 * find_studio and user_key; exposed for the unit and fuzz tests, which
 * use a client from registry_redis_offline() that never connects.
 */
int registry_parse_studio(struct registry_redis *r, const char *key,
    const char *session, const char *const *elems, const size_t *lens,
    size_t n, struct policy_studio *out);
int registry_parse_keys(struct registry_redis *r, const char *key,
    const char *const *elems, const size_t *lens, size_t n,
    const uint8_t *blob, size_t len, int *has_key);
struct registry_redis *registry_redis_offline(void);

const struct registry_stats *registry_redis_stats(
    const struct registry_redis *r);
/* A reload's new client goes on counting where the old one stopped. */
void registry_redis_carry_stats(struct registry_redis *to,
    const struct registry_redis *from);

#endif
