/*
 * redis.c - the policy backend over a Redis registry (registry.h).
 *
 * The monitor asks at authentication time, one command per question, each
 * bounded by registry.timeout_ms.  The monitor is single-threaded, so a
 * slow Redis delays everything it does for at most that long; a failed or
 * timed-out command drops the connection (a late reply must never answer
 * the next question) and the registry counts as down: until a reconnect
 * succeeds, questions fail at once and logins are refused as "registry
 * unavailable".  Reconnects are tried on demand, no sooner than a backoff
 * that doubles from REDIS_BACKOFF_MIN_MS to REDIS_BACKOFF_MAX_MS.
 *
 * Answers are reused for registry.cache_ttl seconds at most, so a key or
 * member removed from Redis stops working within that time.  The cache is
 * a small table keyed by the command; an entry past its time is never
 * used.
 */
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "authkeys.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "keytypes.h"
#include "log.h"
#include "policy.h"
#include "registry.h"

#define REDIS_BACKOFF_MIN_MS	100
#define REDIS_BACKOFF_MAX_MS	5000
#define REDIS_CACHE_MAX		1024	/* answers kept at once */
#define REDIS_MAX_ELEMENTS	1024	/* fields of a hash, keys of a user */
#define REDIS_MAX_ELEMS		(2 * REDIS_MAX_ELEMENTS)	/* and values */
#define STUDIO_MAX_USERS	128
#define STUDIO_USERS_TEXT	(STUDIO_MAX_USERS * (POLICY_MAX_USER + 1))

struct cache_entry {
	char cmd[REGISTRY_MAX_KEY + 32];	/* "" if unused */
	redisReply *reply;
	uint64_t expires_ms;
};

/* The studio record last found; find_studio's answer points into it. */
struct studio_copy {
	char session[POLICY_MAX_SESSION + 1];
	char *host, *port;
	char upstream_user[POLICY_MAX_USER + 1];
	char fingerprint[AUTHKEY_FP_LEN + 8];
	char users_text[STUDIO_USERS_TEXT + 1];
	const char *users[STUDIO_MAX_USERS];
};

struct registry_redis {
	char *host, *port, *user, *password, *prefix;
	int db, timeout_ms, cache_ttl, enabled;
	unsigned rsa_min_bits;		/* limits.rsa_min_bits */
	redisContext *ctx;
	uint64_t retry_at_ms;		/* no reconnect before this */
	int backoff_ms;
	int reported_down;		/* the outage has been logged */
	struct cache_entry *cache;	/* REDIS_CACHE_MAX entries */
	struct studio_copy studio;
	struct registry_stats stats;
	const char *elems[REDIS_MAX_ELEMS];	/* a reply, flat */
	size_t lens[REDIS_MAX_ELEMS];
};

/* --- key names --------------------------------------------------------- */

static int
key_name(char *buf, size_t sz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
key_name(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

int
registry_key_allowed(char *buf, size_t sz, const char *prefix)
{
	return key_name(buf, sz, "%sallowed_workspaces", prefix);
}

int
registry_key_members(char *buf, size_t sz, const char *prefix,
    long long workspace)
{
	return key_name(buf, sz, "%sworkspace:%lld:members", prefix,
	    workspace);
}

int
registry_key_studio(char *buf, size_t sz, const char *prefix,
    const char *session)
{
	return key_name(buf, sz, "%sstudio:%s", prefix, session);
}

int
registry_key_user_keys(char *buf, size_t sz, const char *prefix,
    const char *user)
{
	return key_name(buf, sz, "%suser:%s:keys", prefix, user);
}

int
registry_key_user_cas(char *buf, size_t sz, const char *prefix)
{
	return key_name(buf, sz, "%suser_ca_keys", prefix);
}

int
registry_key_startups(char *buf, size_t sz, const char *prefix,
    const char *source)
{
	return key_name(buf, sz, "%sstartups:%s", prefix, source);
}

/* --- the connection ---------------------------------------------------- */

static void
record_latency(struct registry_redis *r, uint64_t us)
{
	static const unsigned long long le[] = REGISTRY_LATENCY_BUCKETS;
	size_t i;

	r->stats.requests++;
	r->stats.latency_us += us;
	for (i = 0; i < sizeof(le) / sizeof(le[0]); i++)
		if (us <= le[i])
			r->stats.latency_le[i]++;
}

/* The registry is down: drop the connection, wait before the next try. */
static void
mark_down(struct registry_redis *r, const char *reason)
{
	char why[128];

	/* reason may be the context's own errstr, freed below. */
	snprintf(why, sizeof(why), "%s", reason);
	if (r->ctx != NULL) {
		redisFree(r->ctx);
		r->ctx = NULL;
	}
	r->stats.up = 0;
	r->backoff_ms = r->backoff_ms == 0 ? REDIS_BACKOFF_MIN_MS :
	    (r->backoff_ms * 2 > REDIS_BACKOFF_MAX_MS ? REDIS_BACKOFF_MAX_MS :
	    r->backoff_ms * 2);
	r->retry_at_ms = clock_ms() + (uint64_t)r->backoff_ms;
	if (!r->reported_down) {
		error("registry: Redis at %s:%s is unavailable: %s; new logins "
		    "are refused until it is back", r->host, r->port, why);
		r->reported_down = 1;
	} else
		debug("registry: Redis at %s:%s still unavailable: %s; next "
		    "try in %d ms", r->host, r->port, why, r->backoff_ms);
}

/* One command on the open connection, for the set-up only. */
static int
setup_command(struct registry_redis *r, char *why, size_t whysz,
    const char *fmt, ...)
{
	redisReply *rep;
	va_list ap;
	int ok;

	va_start(ap, fmt);
	rep = redisvCommand(r->ctx, fmt, ap);
	va_end(ap);
	if (rep == NULL) {
		snprintf(why, whysz, "%s", r->ctx->errstr);
		return -1;
	}
	ok = rep->type == REDIS_REPLY_STATUS;
	if (!ok)
		snprintf(why, whysz, "%.*s", rep->type == REDIS_REPLY_ERROR ?
		    (int)rep->len : 0, rep->type == REDIS_REPLY_ERROR ?
		    rep->str : "");
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

static int
connect_redis(struct registry_redis *r)
{
	struct timeval tv = { r->timeout_ms / 1000,
	    (r->timeout_ms % 1000) * 1000 };
	char why[256];
	int fl;

	r->ctx = redisConnectWithTimeout(r->host, atoi(r->port), tv);
	if (r->ctx == NULL) {
		mark_down(r, "out of memory");
		return -1;
	}
	if (r->ctx->err) {
		snprintf(why, sizeof(why), "%s", r->ctx->errstr);
		mark_down(r, why);
		return -1;
	}
	/* The monitor's workers are exec'd: they must not inherit it. */
	if ((fl = fcntl(r->ctx->fd, F_GETFD)) == -1 ||
	    fcntl(r->ctx->fd, F_SETFD, fl | FD_CLOEXEC) == -1 ||
	    redisSetTimeout(r->ctx, tv) != REDIS_OK) {
		mark_down(r, "cannot set up the socket");
		return -1;
	}
	why[0] = '\0';
	if ((r->password != NULL && (r->user != NULL ?
	    setup_command(r, why, sizeof(why), "AUTH %s %s", r->user,
	    r->password) : setup_command(r, why, sizeof(why), "AUTH %s",
	    r->password)) != 0) ||
	    (r->db != 0 && setup_command(r, why, sizeof(why), "SELECT %d",
	    r->db) != 0)) {
		mark_down(r, why[0] != '\0' ? why : "set-up refused");
		return -1;
	}
	if (r->reported_down)
		logit("registry: Redis at %s:%s is back", r->host, r->port);
	else
		logit("registry: connected to Redis at %s:%s, db %d", r->host,
		    r->port, r->db);
	r->reported_down = 0;
	r->backoff_ms = 0;
	r->stats.up = 1;
	return 0;
}

/* Connected, or -1 without waiting while the backoff runs. */
static int
ensure_connected(struct registry_redis *r)
{
	if (r->ctx != NULL)
		return 0;
	if (clock_ms() < r->retry_at_ms)
		return -1;
	return connect_redis(r);
}

/*
 * One command, timed and counted, never cached (what names it in a log
 * line).  NULL when the registry cannot answer: not connected, no answer
 * in time (the connection is dropped), or an error reply.
 */
static redisReply *
run_command(struct registry_redis *r, const char *what, const char *fmt, ...)
{
	redisReply *rep;
	uint64_t t0;
	va_list ap;

	if (ensure_connected(r) != 0) {
		r->stats.errors++;
		return NULL;
	}
	t0 = clock_us();
	va_start(ap, fmt);
	rep = redisvCommand(r->ctx, fmt, ap);
	va_end(ap);
	record_latency(r, clock_us() - t0);
	if (rep == NULL) {
		r->stats.errors++;
		mark_down(r, r->ctx->err == REDIS_ERR_IO && (errno == EAGAIN ||
		    errno == EWOULDBLOCK) ? "no answer within "
		    "registry.timeout_ms" : r->ctx->errstr);
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		r->stats.errors++;
		error("registry: %s: %.*s", what, (int)rep->len, rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

/* --- the cache ---------------------------------------------------------- */

static struct cache_entry *
cache_find(struct registry_redis *r, const char *cmd, uint64_t now)
{
	size_t i;

	for (i = 0; i < REDIS_CACHE_MAX; i++)
		if (r->cache[i].cmd[0] != '\0' &&
		    strcmp(r->cache[i].cmd, cmd) == 0) {
			if (r->cache[i].expires_ms > now)
				return &r->cache[i];
			freeReplyObject(r->cache[i].reply);
			memset(&r->cache[i], 0, sizeof(r->cache[i]));
			return NULL;
		}
	return NULL;
}

/* A free or expired slot; when all are live, the one closest to expiry. */
static struct cache_entry *
cache_slot(struct registry_redis *r, uint64_t now)
{
	struct cache_entry *e, *best = &r->cache[0];
	size_t i;

	for (i = 0; i < REDIS_CACHE_MAX; i++) {
		e = &r->cache[i];
		if (e->cmd[0] == '\0' || e->expires_ms <= now) {
			best = e;
			break;
		}
		if (e->expires_ms < best->expires_ms)
			best = e;
	}
	if (best->cmd[0] != '\0')
		freeReplyObject(best->reply);
	memset(best, 0, sizeof(*best));
	return best;
}

static void
cache_clear(struct registry_redis *r)
{
	size_t i;

	for (i = 0; i < REDIS_CACHE_MAX; i++)
		if (r->cache[i].cmd[0] != '\0')
			freeReplyObject(r->cache[i].reply);
	memset(r->cache, 0, REDIS_CACHE_MAX * sizeof(*r->cache));
}

/*
 * Run "VERB key [arg]" (or find its answer in the cache).  The reply
 * stays owned by the cache, or by *owned when the cache is off; NULL when
 * the registry could not answer.
 */
static const redisReply *
ask(struct registry_redis *r, redisReply **owned, const char *verb,
    const char *key, const char *arg)
{
	struct cache_entry *e;
	redisReply *rep;
	char cmd[sizeof(e->cmd)];
	uint64_t now = clock_ms();

	*owned = NULL;
	if (key_name(cmd, sizeof(cmd), "%s %s%s%s", verb, key,
	    arg != NULL ? " " : "", arg != NULL ? arg : "") != 0)
		return NULL;
	if (r->cache_ttl > 0 && (e = cache_find(r, cmd, now)) != NULL) {
		r->stats.cache_hits++;
		return e->reply;
	}
	rep = arg != NULL ? run_command(r, cmd, "%s %s %s", verb, key, arg) :
	    run_command(r, cmd, "%s %s", verb, key);
	if (rep == NULL)
		return NULL;
	if (r->cache_ttl == 0) {
		*owned = rep;
		return rep;
	}
	e = cache_slot(r, now);
	memcpy(e->cmd, cmd, sizeof(cmd));
	e->reply = rep;
	e->expires_ms = now + (uint64_t)r->cache_ttl * 1000;
	return rep;
}

/* An integer answer (SCARD, SISMEMBER): >= 0, or -1. */
static long long
ask_int(struct registry_redis *r, const char *verb, const char *key,
    const char *arg)
{
	const redisReply *rep;
	redisReply *owned;
	long long v;

	if ((rep = ask(r, &owned, verb, key, arg)) == NULL)
		return -1;
	v = rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0 ?
	    rep->integer : -1;
	if (v < 0)
		error("registry: %s %s: not an integer answer", verb, key);
	freeReplyObject(owned);
	return v;
}

/* A hash (HGETALL): an array of field, value strings, as a flat list. */
static int
hash_elems(const redisReply *rep, const char **elems, size_t *lens, size_t max,
    size_t *n)
{
	size_t i;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements > max)
		return -1;
	for (i = 0; i < rep->elements; i++) {
		if (rep->element[i]->type != REDIS_REPLY_STRING)
			return -1;
		elems[i] = rep->element[i]->str;
		lens[i] = rep->element[i]->len;
	}
	*n = rep->elements;
	return 0;
}

/* Pairs, and no NUL inside a value (it would cut it short for the
 * checks). */
static int
hash_ok(const char *const *elems, const size_t *lens, size_t n)
{
	size_t i;

	if (n % 2 != 0 || n > 2 * REDIS_MAX_ELEMENTS)
		return 0;
	for (i = 0; i < n; i++)
		if (strlen(elems[i]) != lens[i])
			return 0;
	return 1;
}

/* --- the backend's questions --------------------------------------------- */

static int
redis_ssh_enabled(void *ctx)
{
	struct registry_redis *r = ctx;
	char key[REGISTRY_MAX_KEY];
	long long n;

	if (!r->enabled)
		return 0;
	if (registry_key_allowed(key, sizeof(key), r->prefix) != 0 ||
	    (n = ask_int(r, "SCARD", key, NULL)) < 0)
		return -1;
	return n > 0;
}

static int
redis_workspace_allowed(void *ctx, long long workspace)
{
	struct registry_redis *r = ctx;
	char key[REGISTRY_MAX_KEY], id[24];

	snprintf(id, sizeof(id), "%lld", workspace);
	if (registry_key_allowed(key, sizeof(key), r->prefix) != 0)
		return -1;
	return (int)ask_int(r, "SISMEMBER", key, id);
}

static int
redis_workspace_member(void *ctx, long long workspace, const char *user)
{
	struct registry_redis *r = ctx;
	char key[REGISTRY_MAX_KEY];

	if (registry_key_members(key, sizeof(key), r->prefix, workspace) != 0)
		return -1;
	return (int)ask_int(r, "SISMEMBER", key, user);
}

static void
bad_record(struct registry_redis *r, const char *key, const char *field,
    const char *value, const char *why)
{
	r->stats.bad_records++;
	error("registry: %s: %s \"%.80s\": %s", key, field, value, why);
}

/* "alice bob": the studio's own user list. */
static int
studio_users(struct registry_redis *r, const char *key, const char *v,
    struct policy_studio *out)
{
	struct studio_copy *sc = &r->studio;
	char *save = NULL, *tok;

	if (strlen(v) > STUDIO_USERS_TEXT) {
		bad_record(r, key, REGISTRY_F_USERS, v, "too long");
		return -1;
	}
	snprintf(sc->users_text, sizeof(sc->users_text), "%s", v);
	out->users_set = 1;
	out->nusers = 0;
	for (tok = strtok_r(sc->users_text, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		if (policy_valid_user(tok) != 0 ||
		    out->nusers == STUDIO_MAX_USERS) {
			bad_record(r, key, REGISTRY_F_USERS, v, "not a "
			    "space-separated list of up to 128 user names");
			return -1;
		}
		sc->users[out->nusers++] = tok;
	}
	out->users = sc->users;
	return 0;
}

/* One field of a studio record into out; unknown fields are the
 * platform's own and are ignored. */
static int
studio_field(struct registry_redis *r, const char *key, const char *f,
    const char *v, struct policy_studio *out, int *have)
{
	struct studio_copy *sc = &r->studio;
	const char *why;
	char *end;

	if (strcmp(f, REGISTRY_F_WORKSPACE) == 0) {
		errno = 0;
		out->workspace = strtoll(v, &end, 10);
		if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0) {
			bad_record(r, key, f, v, "not a workspace id");
			return -1;
		}
		*have |= 1;
	} else if (strcmp(f, REGISTRY_F_UPSTREAM) == 0) {
		free(sc->host);
		free(sc->port);
		sc->host = sc->port = NULL;
		if (config_parse_hostport(v, &sc->host, &sc->port, &why) != 0 ||
		    sc->host[0] == '\0') {
			bad_record(r, key, f, v, sc->host == NULL ? why :
			    "the host is missing");
			return -1;
		}
		*have |= 2;
	} else if (strcmp(f, REGISTRY_F_UPSTREAM_USER) == 0) {
		if (policy_valid_user(v) != 0) {
			bad_record(r, key, f, v, "not a valid user name");
			return -1;
		}
		snprintf(sc->upstream_user, sizeof(sc->upstream_user), "%s", v);
		out->upstream_user = sc->upstream_user;
	} else if (strcmp(f, REGISTRY_F_FINGERPRINT) == 0) {
		if (config_valid_fingerprint(v) != 0) {
			bad_record(r, key, f, v, "not a SHA256 fingerprint");
			return -1;
		}
		snprintf(sc->fingerprint, sizeof(sc->fingerprint), "%s", v);
		out->host_key_fingerprint = sc->fingerprint;
	} else if (strcmp(f, REGISTRY_F_UPSTREAM_AUTH) == 0) {
		if ((out->upstream_auth = config_upstream_auth_parse(v)) ==
		    CFG_UPSTREAM_UNSET) {
			bad_record(r, key, f, v, "not \"certificate\" or "
			    "\"key\"");
			return -1;
		}
	} else if (strcmp(f, REGISTRY_F_USERS) == 0)
		return studio_users(r, key, v, out);
	return 0;
}

int
registry_parse_studio(struct registry_redis *r, const char *key,
    const char *session, const char *const *elems, const size_t *lens,
    size_t n, struct policy_studio *out)
{
	struct studio_copy *sc = &r->studio;
	size_t i;
	int have = 0;

	memset(out, 0, sizeof(*out));
	if (!hash_ok(elems, lens, n)) {
		r->stats.bad_records++;
		error("registry: %s: not a hash of strings", key);
		return POLICY_BAD_RECORD;
	}
	if (n == 0)
		return 1;
	snprintf(sc->session, sizeof(sc->session), "%s", session);
	out->session = sc->session;
	for (i = 0; i < n; i += 2)
		if (studio_field(r, key, elems[i], elems[i + 1], out,
		    &have) != 0)
			goto bad;
	if (have != 3) {
		bad_record(r, key, (have & 1) ? REGISTRY_F_UPSTREAM :
		    REGISTRY_F_WORKSPACE, "", "missing");
		goto bad;
	}
	out->upstream_host = sc->host;
	out->upstream_port = sc->port;
	return 0;
 bad:
	memset(out, 0, sizeof(*out));
	return POLICY_BAD_RECORD;
}

static int
redis_find_studio(void *ctx, const char *session, struct policy_studio *out)
{
	struct registry_redis *r = ctx;
	char key[REGISTRY_MAX_KEY];
	const redisReply *rep;
	redisReply *owned;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (registry_key_studio(key, sizeof(key), r->prefix, session) != 0 ||
	    (rep = ask(r, &owned, "HGETALL", key, NULL)) == NULL)
		return -1;
	if (hash_elems(rep, r->elems, r->lens, REDIS_MAX_ELEMS, &n) != 0) {
		r->stats.bad_records++;
		error("registry: %s: not a hash of strings", key);
		rc = POLICY_BAD_RECORD;
	} else
		rc = registry_parse_studio(r, key, session, r->elems, r->lens,
		    n, out);
	freeReplyObject(owned);
	return rc;
}

/* Does the stored line parse, and is its field its fingerprint? */
static int
key_entry_matches(struct registry_redis *r, const char *key,
    const char *field, const char *line, const uint8_t *blob, size_t len)
{
	struct authkey k;
	const char *why;
	int match;

	memset(&k, 0, sizeof(k));
	if (authkey_parse_line_min(line, r->rsa_min_bits, &k, &why) != 0) {
		bad_record(r, key, field, line, why);
		return 0;
	}
	if (strcmp(k.fp, field) != 0) {
		bad_record(r, key, field, line, "the field is not the key's "
		    "fingerprint");
		authkey_free(&k);
		return 0;
	}
	match = blob != NULL && k.bloblen == len &&
	    bytes_equal(k.blob, blob, len);
	authkey_free(&k);
	return match;
}

int
registry_parse_keys(struct registry_redis *r, const char *key,
    const char *const *elems, const size_t *lens, size_t n,
    const uint8_t *blob, size_t len, int *has_key)
{
	size_t i;

	*has_key = 0;
	if (!hash_ok(elems, lens, n)) {
		r->stats.bad_records++;
		error("registry: %s: not a hash of strings", key);
		return POLICY_BAD_RECORD;
	}
	/* Every entry is checked, as the file backend compares every key. */
	for (i = 0; i < n; i += 2)
		if (key_entry_matches(r, key, elems[i], elems[i + 1], blob,
		    len))
			*has_key = 1;
	return n > 0 ? 1 : 0;
}

/* HGETALL key, a hash of key entries (a user's keys, the CA keys), and
 * look for blob in it: registry_parse_keys()'s answer, POLICY_BAD_RECORD
 * if it is not a hash of strings, -1 if Redis did not answer. */
static int
ask_keys(struct registry_redis *r, const char *key, const uint8_t *blob,
    size_t len, int *has_key)
{
	const redisReply *rep;
	redisReply *owned;
	size_t n = 0;
	int rc;

	if ((rep = ask(r, &owned, "HGETALL", key, NULL)) == NULL)
		return -1;
	if (hash_elems(rep, r->elems, r->lens, REDIS_MAX_ELEMS, &n) != 0) {
		r->stats.bad_records++;
		error("registry: %s: not a hash of strings", key);
		rc = POLICY_BAD_RECORD;
	} else
		rc = registry_parse_keys(r, key, r->elems, r->lens, n, blob,
		    len, has_key);
	freeReplyObject(owned);
	return rc;
}

static int
redis_user_key(void *ctx, const char *user, const uint8_t *blob, size_t len,
    int *has_key)
{
	struct registry_redis *r = ctx;
	char key[REGISTRY_MAX_KEY];

	*has_key = 0;
	if (registry_key_user_keys(key, sizeof(key), r->prefix, user) != 0)
		return -1;
	return ask_keys(r, key, blob, len, has_key);
}

/* Is blob one of the registry's user CA keys?  Every entry is checked as
 * a user's keys are. */
static int
redis_user_ca(void *ctx, const uint8_t *blob, size_t len)
{
	struct registry_redis *r = ctx;
	char key[REGISTRY_MAX_KEY];
	int rc, has = 0;

	if (registry_key_user_cas(key, sizeof(key), r->prefix) != 0)
		return -1;
	rc = ask_keys(r, key, blob, len, &has);
	return rc < 0 ? rc : has;
}

/* --- shared per-source counts ------------------------------------------- */

/*
 * One atomic step on Redis's own clock (the replicas' clocks may differ):
 * drop entries past their time, refuse if limit remain, else add member.
 * Returns the count including member, or minus the count when refused.
 */
static const char startup_script[] =
    /* Before Redis 5 a script that reads TIME may write only so. */
    "redis.replicate_commands() "
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
    "local n = redis.call('ZCARD', KEYS[1]) "
    "if n >= tonumber(ARGV[2]) then return -n end "
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1]) "
    "redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3])) "
    "return n + 1";

int
registry_redis_startup_take(struct registry_redis *r, const char *source,
    const char *member, int limit, int ttl_ms)
{
	char key[REGISTRY_MAX_KEY];
	redisReply *rep;
	int rc = -1;

	if (registry_key_startups(key, sizeof(key), r->prefix, source) != 0 ||
	    (rep = run_command(r, key, "EVAL %s 1 %s %s %d %d",
	    startup_script, key, member, limit, ttl_ms)) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_INTEGER)
		rc = rep->integer > 0 ? 1 : 0;
	else
		error("registry: %s: not an integer answer", key);
	freeReplyObject(rep);
	return rc;
}

void
registry_redis_startup_release(struct registry_redis *r, const char *source,
    const char *member)
{
	char key[REGISTRY_MAX_KEY];
	redisReply *rep;

	/* Best effort: an entry left behind stops counting at its time. */
	if (registry_key_startups(key, sizeof(key), r->prefix, source) == 0 &&
	    (rep = run_command(r, key, "ZREM %s %s", key, member)) != NULL)
		freeReplyObject(rep);
}

int
registry_key_replay(char *buf, size_t sz, const char *prefix,
    const char *hexid)
{
	return key_name(buf, sz, "%sreplay:%s", prefix, hexid);
}

int
registry_redis_replay_claim(struct registry_redis *r, const uint8_t *id,
    size_t len, int ttl_ms)
{
	char key[REGISTRY_MAX_KEY], hex[2 * 64 + 1];
	redisReply *rep;
	size_t i;
	int rc = -1;

	if (len == 0 || len > 64)
		return -1;
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	if (registry_key_replay(key, sizeof(key), r->prefix, hex) != 0 ||
	    (rep = run_command(r, "replay", "SET %s 1 NX PX %d", key,
	    ttl_ms)) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_STATUS && rep->len == 2 &&
	    memcmp(rep->str, "OK", 2) == 0)
		rc = 1;
	else if (rep->type == REDIS_REPLY_NIL)
		rc = 0;
	else
		error("registry: %s: unexpected answer to SET NX", key);
	freeReplyObject(rep);
	return rc;
}

/* --- life --------------------------------------------------------------- */

static char *
dup_or_null(const char *s, int *bad)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*bad = 1;
	return d;
}

struct registry_redis *
registry_redis_new(const struct cfg_registry *cfg)
{
	struct registry_redis *r;
	int bad = 0;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->host = dup_or_null(cfg->host, &bad);
	r->port = dup_or_null(cfg->port, &bad);
	r->user = dup_or_null(cfg->user, &bad);
	r->password = dup_or_null(cfg->password, &bad);
	r->prefix = dup_or_null(cfg->prefix, &bad);
	r->cache = calloc(REDIS_CACHE_MAX, sizeof(*r->cache));
	if (bad || r->host == NULL || r->port == NULL || r->prefix == NULL ||
	    r->cache == NULL) {
		registry_redis_free(r);
		return NULL;
	}
	r->db = cfg->db;
	r->timeout_ms = cfg->timeout_ms;
	r->cache_ttl = cfg->cache_ttl;
	r->enabled = 1;
	r->rsa_min_bits = KEYTYPE_RSA_MIN_BITS_DEFAULT;
	(void)connect_redis(r);
	return r;
}

void
registry_redis_set_rsa_min_bits(struct registry_redis *r, unsigned bits)
{
	r->rsa_min_bits = bits;
}

struct registry_redis *
registry_redis_offline(void)
{
	struct registry_redis *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->enabled = 1;
	r->rsa_min_bits = KEYTYPE_RSA_MIN_BITS_DEFAULT;
	return r;
}

void
registry_redis_free(struct registry_redis *r)
{
	if (r == NULL)
		return;
	if (r->ctx != NULL)
		redisFree(r->ctx);
	if (r->cache != NULL)
		cache_clear(r);
	free(r->cache);
	free(r->studio.host);
	free(r->studio.port);
	free(r->host);
	free(r->port);
	free(r->user);
	if (r->password != NULL)
		explicit_bzero(r->password, strlen(r->password));
	free(r->password);
	free(r->prefix);
	free(r);
}

const struct registry_stats *
registry_redis_stats(const struct registry_redis *r)
{
	return &r->stats;
}

void
registry_redis_carry_stats(struct registry_redis *to,
    const struct registry_redis *from)
{
	int up = to->stats.up;
	size_t i;

	to->stats.requests += from->stats.requests;
	to->stats.errors += from->stats.errors;
	to->stats.cache_hits += from->stats.cache_hits;
	to->stats.bad_records += from->stats.bad_records;
	to->stats.latency_us += from->stats.latency_us;
	for (i = 0; i < sizeof(to->stats.latency_le) /
	    sizeof(to->stats.latency_le[0]); i++)
		to->stats.latency_le[i] += from->stats.latency_le[i];
	to->stats.up = up;
}

void
policy_redis_backend(struct policy_backend *be, struct registry_redis *r,
    int enabled)
{
	memset(be, 0, sizeof(*be));
	be->name = "redis";
	be->ctx = r;
	r->enabled = enabled;
	be->find_studio = redis_find_studio;
	be->ssh_enabled = redis_ssh_enabled;
	be->workspace_allowed = redis_workspace_allowed;
	be->workspace_member = redis_workspace_member;
	be->user_key = redis_user_key;
	be->user_ca = redis_user_ca;
}
