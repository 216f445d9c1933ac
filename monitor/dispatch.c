/*
 * dispatch.c - what a worker may ask of the monitor, and when.
 *
 * The table below is the state machine: a request is handled only in the
 * states its entry lists, ONCE entries only once per worker, and a handler
 * moves the worker to the next state, which permits the next legal step.
 * Anything else -- an unknown type, a request in the wrong state, a body
 * that does not decode, a request whose meaning is wrong -- kills the
 * worker.  Every request that has an answer (M_*_REPLY, M_ROUTE or
 * M_ROUTE_FAIL) gets exactly one; W_READY, W_LOG and W_AUDIT get none.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>
#include <netinet/in.h>

#include <openssl/rand.h>

#include "buf.h"
#include "cert.h"
#include "config.h"
#include "facts.h"
#include "ipc.h"
#include "keytypes.h"
#include "log.h"
#include "clock.h"
#include "monitor.h"
#include "policy.h"
#include "krl.h"
#include "replay.h"
#include "sshwire.h"
#include "usercert.h"

#define S_ANY		(WS_BIT(WS_NSTATES) - 1)
#define S_HAS_CLIENT	(WS_BIT(WS_PREAUTH) | WS_BIT(WS_KEYED) | \
			 WS_BIT(WS_AUTHED) | WS_BIT(WS_ROUTED))

typedef int (*mon_handler_fn)(struct monitor *, struct worker *,
    struct cursor *);

/*
 * What a request may cost per connection.  ONCE and COUNT are charged
 * before the handler runs (limit_take()): they bound how many requests are
 * decoded at all.  BUCKET and DROP are charged by the handler itself
 * (charge_now()), once the body is decoded and its meaning checked: a
 * malformed W_LOG past the log rate still kills, and a W_SIGN that is not
 * an exchange hash is killed for that without spending a token.  A handler
 * of such a row that returns without charging is an internal error.
 * Counters named here may be shared by rows: the keys a client offers are
 * counted whether the monitor is asked about them (W_KEY_QUERY) or the
 * worker refused them itself (W_REFUSED).  BUCKET and DROP keep their
 * state in one set of worker fields each (the W_SIGN bucket, the W_LOG
 * second): one row each at most, which tests/contract/check.py enforces.
 */
enum mon_limit_kind {
	LIM_NONE,	/* no bound beyond the states */
	LIM_ONCE,	/* once per worker; a repeat kills */
	LIM_COUNT,	/* n per worker, on a counter; one more kills */
	LIM_BUCKET,	/* n at once, refilled at rate a second; faster kills */
	LIM_DROP,	/* n a second; the excess is dropped, not punished */
};

#define NO_LIMIT		{ LIM_NONE, 0, 0, 0 }
#define ONCE			{ LIM_ONCE, 1, 0, 0 }
#define COUNT(n, counter)	{ LIM_COUNT, (n), 0, (counter) }
#define BUCKET(n, rate)		{ LIM_BUCKET, (n), (rate), 0 }
#define DROP(n)			{ LIM_DROP, (n), 0, 0 }

struct mon_limit {
	enum mon_limit_kind kind;
	unsigned n, rate;
	unsigned counter;	/* LIM_COUNT: index into worker.nreq */
};

/* LIM_COUNT counters, and how a kill names what was exceeded. */
static const char *const counter_names[WORKER_NCOUNTERS] = {
	[WC_KEYS] = "keys offered",
	[WC_VERIFIES] = "signed login attempts",
	[WC_KEX] = "W_KEX reports",
};

struct mon_handler {
	unsigned type;
	uint32_t states;	/* states in which the request is permitted */
	struct mon_limit limit;	/* per connection */
	mon_handler_fn fn;
};

static void park(struct monitor *, struct worker *, unsigned,
    const uint8_t *, size_t);
static int h_ready(struct monitor *, struct worker *, struct cursor *);
static int h_log(struct monitor *, struct worker *, struct cursor *);
static int h_sign(struct monitor *, struct worker *, struct cursor *);
static int h_key_query(struct monitor *, struct worker *, struct cursor *);
static int h_verify(struct monitor *, struct worker *, struct cursor *);
static int h_route(struct monitor *, struct worker *, struct cursor *);
static int h_audit(struct monitor *, struct worker *, struct cursor *);
static int h_proxy(struct monitor *, struct worker *, struct cursor *);
static int h_refused(struct monitor *, struct worker *, struct cursor *);
static int h_kex(struct monitor *, struct worker *, struct cursor *);
static void audit_opened(struct worker *);

/*
 * The whole contract: which request, in which states, how often.  One row
 * per line; connect-sshd-ipc(7) lists the same table and
 * tests/contract/check.py fails make check when the two differ.
 */
static const struct mon_handler handlers[] = {
	{ IPC_W_READY,	   WS_BIT(WS_STARTING),	ONCE,	h_ready },
	/* A client from a balancer: its PROXY header first, once. */
	{ IPC_W_PROXY,	   WS_BIT(WS_PROXY),	ONCE,	h_proxy },
	{ IPC_W_LOG,	   S_ANY,		DROP(MON_LOG_BURST),	h_log },
	/* Key exchanges: the first sets the session id, rekeys follow. */
	{ IPC_W_SIGN,	   S_HAS_CLIENT,	BUCKET(MON_KEX_SIGN_BURST, MON_KEX_SIGN_RATE),	h_sign },
	{ IPC_W_KEY_QUERY, WS_BIT(WS_KEYED),	COUNT(MON_MAX_KEY_QUERIES, WC_KEYS),	h_key_query },
	{ IPC_W_VERIFY,	   WS_BIT(WS_KEYED),	COUNT(MON_MAX_VERIFIES, WC_VERIFIES),	h_verify },
	/* What the worker refused itself: audited, counted as a failure. */
	{ IPC_W_REFUSED,   WS_BIT(WS_KEYED),	COUNT(MON_MAX_KEY_QUERIES, WC_KEYS),	h_refused },
	{ IPC_W_ROUTE,	   WS_BIT(WS_AUTHED),	ONCE,	h_route },
	{ IPC_W_AUDIT,	   WS_BIT(WS_ROUTED),	NO_LIMIT,	h_audit },
	/* What a leg negotiated: the client's once keyed, the Studio's
	 * once routed (h_kex checks which leg). */
	{ IPC_W_KEX,	   WS_BIT(WS_KEYED) | WS_BIT(WS_ROUTED),	COUNT(2, WC_KEX),	h_kex },
};

static const struct mon_handler *
find_handler(unsigned type)
{
	size_t i;

	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].type == type)
			return &handlers[i];
	return NULL;
}

/*
 * The W_SIGN token bucket: n signatures at once, refilled at rate a
 * second; counted in thousandths so that a refill after a millisecond is
 * not lost.  1 when a signature may be made (and takes it), 0 when the
 * worker asks faster than the bound.
 */
static int
bucket_take(struct worker *w, const struct mon_limit *l)
{
	const uint64_t full = (uint64_t)l->n * 1000;
	struct timespec now;
	int64_t ns, ms;

	clock_now(&now);
	if (w->nsign == 0) {
		w->sign_credit = full;
		w->sign_t = now;
	}
	ns = (int64_t)(now.tv_sec - w->sign_t.tv_sec) * 1000000000 +
	    (now.tv_nsec - w->sign_t.tv_nsec);
	if (ns > (int64_t)3600 * 1000000000) {
		/* Full long ago. */
		w->sign_credit = full;
		w->sign_t = now;
	} else if ((ms = ns / 1000000) > 0) {
		/* Whole milliseconds are credited, the rest kept. */
		w->sign_credit += (uint64_t)ms * l->rate;
		if (w->sign_credit > full)
			w->sign_credit = full;
		w->sign_t.tv_nsec += (long)((ms % 1000) * 1000000);
		w->sign_t.tv_sec += (time_t)(ms / 1000);
		if (w->sign_t.tv_nsec >= 1000000000) {
			w->sign_t.tv_nsec -= 1000000000;
			w->sign_t.tv_sec++;
		}
	}
	if (w->sign_credit < 1000)
		return 0;
	w->sign_credit -= 1000;
	w->nsign++;
	return 1;
}

/*
 * Once the second whose W_LOG lines were dropped is over (NOW_S, a second
 * of the monotonic clock, is another), or when the worker ends (NOW_S 0),
 * say how many: the operator learns that the log has gaps, and where.
 */
void
dispatch_log_dropped(struct worker *w, uint64_t now_s)
{
	if (w->log_dropped == 0 || now_s == w->drop_window)
		return;
	logit("worker %ld (conn %llu): %llu log lines dropped (more than %u "
	    "a second)", (long)w->pid, (unsigned long long)w->conn_id,
	    w->log_dropped, MON_LOG_BURST);
	w->log_dropped = 0;
}

/* n a second, the excess dropped and counted (W_LOG is the only such
 * row): 1 to handle the request, 0 to drop it. */
static int
drop_take(struct worker *w, const struct mon_limit *l)
{
	uint64_t now = clock_ms() / 1000;

	if (now != w->drop_window) {
		dispatch_log_dropped(w, now);
		w->drop_window = now;
		w->drop_left = l->n;
	}
	if (w->drop_left == 0) {
		w->log_dropped++;
		return 0;
	}
	w->drop_left--;
	return 1;
}

/* Charge one request to its row's limit: 1 to handle it, 0 to drop it,
 * -1 after killing the worker. */
static int
limit_take(struct monitor *m, struct worker *w, const struct mon_handler *h)
{
	const struct mon_limit *l = &h->limit;

	switch (l->kind) {
	case LIM_NONE:
		return 1;
	case LIM_ONCE:
		if (w->once_done & (1u << h->type)) {
			worker_kill(m, w, "%s repeated", ipc_type_name(h->type));
			return -1;
		}
		w->once_done |= 1u << h->type;
		return 1;
	case LIM_COUNT:
		if (++w->nreq[l->counter] > l->n) {
			worker_kill(m, w, "more than %u %s", l->n,
			    counter_names[l->counter]);
			return -1;
		}
		return 1;
	case LIM_BUCKET:
		if (!bucket_take(w, l)) {
			worker_kill(m, w, "key exchanges faster than %u a "
			    "second (burst %u) after %llu", l->rate, l->n,
			    (unsigned long long)w->nsign);
			return -1;
		}
		return 1;
	case LIM_DROP:
		return drop_take(w, l);
	}
	return -1;
}

/* Charged by the handler after its checks (the comment above mon_limit). */
static int
charged_late(const struct mon_limit *l)
{
	return l->kind == LIM_BUCKET || l->kind == LIM_DROP;
}

/* The row of the request in hand whose charge is still due, or NULL. */
static const struct mon_handler *charge_due;

/* For the handler of a BUCKET or DROP row, once the request is decoded
 * and checked: 1 to act on it, 0 to drop it (counted), -1 after killing
 * the worker. */
static int
charge_now(struct monitor *m, struct worker *w)
{
	const struct mon_handler *h = charge_due;

	charge_due = NULL;
	if (h == NULL) {
		worker_kill(m, w, "internal error: a request charged twice");
		return -1;
	}
	return limit_take(m, w, h);
}

/* Handle one message the table permits in the worker's state. */
static void
dispatch_one(struct monitor *m, struct worker *w, unsigned type,
    const uint8_t *msg, size_t n)
{
	const struct mon_handler *h;
	struct cursor c;
	int take, rc, uncharged;

	h = find_handler(type);
	if (h == NULL || !(h->states & WS_BIT(w->state))) {
		worker_kill(m, w, "%s not permitted in state %s",
		    ipc_type_name(type), wstate_name(w->state));
		return;
	}
	/* One request at a time: while one waits for the registry, only
	 * messages that want no answer may come. */
	if (w->lk_id != 0 && type != IPC_W_LOG && type != IPC_W_AUDIT &&
	    type != IPC_W_KEX) {
		worker_kill(m, w, "%s while %s is unanswered",
		    ipc_type_name(type), ipc_type_name(w->lk_type));
		return;
	}
	if (charged_late(&h->limit))
		charge_due = h;
	else if ((take = limit_take(m, w, h)) <= 0)
		return;
	cursor_init(&c, msg + 2, n - 2);
	rc = h->fn(m, w, &c);
	uncharged = charge_due != NULL;
	charge_due = NULL;
	/* A handler that failed because the worker had ended (its answer
	 * found no one: worker_send()) is not the worker's fault. */
	if (rc != 0 && w->kill_reason[0] == '\0' && w->sock != -1)
		worker_kill(m, w, "bad %s", ipc_type_name(type));
	else if (rc == 0 && uncharged)
		worker_kill(m, w, "internal error: %s handled uncharged",
		    ipc_type_name(type));
	else if (w->lk_id != 0 && w->lk_msg == NULL)
		park(m, w, type, msg, n);
}

/* The handler asked the lookup process: keep the request to run again
 * with the answer (dispatch_lookup_answer).  Its limits were taken. */
static void
park(struct monitor *m, struct worker *w, unsigned type, const uint8_t *msg,
    size_t n)
{
	if ((w->lk_msg = malloc(n)) == NULL) {
		worker_kill(m, w, "out of memory");
		return;
	}
	memcpy(w->lk_msg, msg, n);
	w->lk_len = n;
	w->lk_type = type;
}

static void
unpark(struct worker *w)
{
	free(w->lk_msg);
	free(w->lk_facts);
	w->lk_msg = NULL;
	w->lk_facts = NULL;
	w->lk_len = 0;
	w->lk_id = 0;
	w->lk_counted_set = 0;
}

/* Run the parked request again, now that its answer is in w. */
static void
resume(struct monitor *m, struct worker *w)
{
	const struct mon_handler *h = find_handler(w->lk_type);
	struct cursor c;
	int rc;

	w->lk_id = 0;
	if (h == NULL || w->lk_msg == NULL || w->sock == -1 ||
	    w->kill_reason[0] != '\0') {
		unpark(w);
		return;
	}
	/* The state cannot have changed: nothing else was handled. */
	if (!(h->states & WS_BIT(w->state))) {
		unpark(w);
		worker_kill(m, w, "internal error: parked %s in state %s",
		    ipc_type_name(w->lk_type), wstate_name(w->state));
		return;
	}
	cursor_init(&c, w->lk_msg + 2, w->lk_len - 2);
	w->lk_resuming = 1;
	rc = h->fn(m, w, &c);
	w->lk_resuming = 0;
	if (rc != 0 && w->kill_reason[0] == '\0' && w->sock != -1)
		worker_kill(m, w, "bad %s", ipc_type_name(w->lk_type));
	unpark(w);
}

void
dispatch_lookup_answer(struct monitor *m, struct worker *w,
    const struct ipc_lookup_facts *f)
{
	free(w->lk_facts);
	if ((w->lk_facts = malloc(sizeof(*w->lk_facts))) == NULL) {
		unpark(w);
		worker_kill(m, w, "out of memory");
		return;
	}
	if (f != NULL)
		*w->lk_facts = *f;
	else
		facts_clear(w->lk_facts);	/* "could not answer" */
	resume(m, w);
}

void
dispatch_lookup_counted(struct monitor *m, struct worker *w, int result)
{
	w->lk_counted = result;
	w->lk_counted_set = 1;
	resume(m, w);
}

/* A worker that ended with a request parked. */
void
dispatch_forget(struct worker *w)
{
	lookup_forget(w, -1);
	unpark(w);
}

/* Receive one message: its length, 0 when there is none (or the worker
 * closed its end), -1 after killing the worker. */
static long
receive_one(struct monitor *m, struct worker *w, uint8_t *msg,
    unsigned *type)
{
	int fds[IPC_MAX_FDS], nfds;
	long n;

	n = ipc_recv(w->sock, msg, type, fds, &nfds);
	if (n == 0) {
		worker_closed(w);
		return 0;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		worker_kill(m, w, "malformed IPC message: %s",
		    strerror(errno));
		return -1;
	}
	return n;
}

void
dispatch_worker_msg(struct monitor *m, struct worker *w)
{
	uint8_t msg[IPC_MAX_MSG];
	unsigned type;
	long n;

	if ((n = receive_one(m, w, msg, &type)) > 0)
		dispatch_one(m, w, type, msg, (size_t)n);
}

/*
 * A worker has ended; what it sent just before -- the close records of a
 * connection that ended, a refusal of the client's key, its last log lines
 * -- may still be queued on its socket.  Take those in, under the same
 * table; a request that would need an answer ends the drain (nobody is
 * left to read the answer).  Bounded: a dead worker sends nothing more,
 * and the socket holds a finite queue.
 */
void
dispatch_drain(struct monitor *m, struct worker *w)
{
	uint8_t msg[IPC_MAX_MSG];
	unsigned type;
	long n;
	int i;

	for (i = 0; i < 4096 && w->sock != -1 && w->kill_reason[0] == '\0';
	    i++) {
		if ((n = receive_one(m, w, msg, &type)) <= 0)
			break;
		if (type != IPC_W_AUDIT && type != IPC_W_LOG &&
		    type != IPC_W_KEX && type != IPC_W_REFUSED)
			break;
		dispatch_one(m, w, type, msg, (size_t)n);
	}
	/* Routed, but its Studio leg's key exchange never reported: the
	 * record is written all the same, without the method. */
	if (w->opened_pending)
		audit_opened(w);
}

/* ---- replies ---- */

static int
send_flag(struct monitor *m, struct worker *w, unsigned type, uint32_t value)
{
	struct ipc_flag f = { .ok = value };
	struct buf b;
	int rc;

	buf_init(&b, IPC_MAX_MSG);
	rc = ipc_enc_flag(&b, type, &f) == 0 ?
	    worker_send(m, w, &b, NULL, 0) : -1;
	buf_free(&b);
	return rc;
}

static int
reply_flag(struct monitor *m, struct worker *w, unsigned type, int ok)
{
	return send_flag(m, w, type, ok ? IPC_FLAG_YES : IPC_FLAG_NO);
}

/* A login decision: yes, no, or "the registry could not answer", which
 * the worker tells the client instead of a bare "Permission denied". */
static int
reply_verdict(struct monitor *m, struct worker *w, unsigned type,
    enum policy_verdict v)
{
	return send_flag(m, w, type, v == POLICY_ALLOW ? IPC_FLAG_YES :
	    v == POLICY_DENY_BACKEND ? IPC_FLAG_UNAVAILABLE : IPC_FLAG_NO);
}

/* ---- handlers ---- */

static int
h_ready(struct monitor *m, struct worker *w, struct cursor *c)
{
	int rc;

	if (cursor_end(c) != 0)
		return -1;
	if (worker_set_state(m, w, WS_IDLE) != 0)
		return -1;
	debug("worker %ld ready", (long)w->pid);
	if (w->client_fd == -1)
		return 0;
	/* A connection was waiting for this worker: hand it over now. */
	rc = monitor_send_client(m, w, w->client_fd);
	close(w->client_fd);
	w->client_fd = -1;
	return rc;
}

/*
 * The replicas' shared per-source count for a proxied client (lookup.c):
 * 1 the question is asked and the request parked; 0 counted, or no
 * shared count, or no answer (the local count alone decides); -1
 * refused.
 */
static int
shared_count(struct monitor *m, struct worker *w, const uint8_t *src,
    size_t srclen)
{
	char source[40], member[48];
	int limit, ttl;

	if (w->lk_counted_set) {
		if (w->lk_counted == 0)
			return -1;
		w->shared_startup = w->lk_counted == 1;
		return 0;
	}
	if (w->lk_resuming || !monitor_shared_question(m, w->conn_id, src,
	    srclen, source, member, &limit, &ttl))
		return 0;
	return lookup_startup(m, w, -1, source, member, limit, ttl) == 0 ?
	    1 : 0;
}

/*
 * The worker read the PROXY header of a client from a balancer.  The
 * header is believed because the connection came from the listener's
 * proxy_from networks (checked at accept).  The monitor logs the client,
 * applies per_source_max_startups to it, and lets the worker go on or has
 * it refuse the client.
 */
static int
h_proxy(struct monitor *m, struct worker *w, struct cursor *c)
{
	struct ipc_proxy p;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	uint8_t src[16];
	size_t srclen = 0;
	const char *why;

	if (ipc_dec_proxy(c, &p) != 0)
		return -1;
	if (p.status == IPC_PROXY_BAD || p.status == IPC_PROXY_TIMEOUT) {
		AUDIT("connection.refused", AF_N("conn", w->conn_id),
		    AF_S("peer", w->peer), AF_S("reason",
		    p.status == IPC_PROXY_BAD ? "bad-proxy-header" :
		    "proxy-header-timeout"), AF_S("detail", p.why));
		(void)worker_set_state(m, w, WS_CLOSING);
		return reply_flag(m, w, IPC_M_PROXY_REPLY, 0);
	}
	if (p.status == IPC_PROXY_CLIENT) {
		memset(&ss, 0, sizeof(ss));
		if (p.family == 4) {
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, p.addr, 4);
			sin->sin_port = htons(p.port);
		} else {
			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, p.addr, 16);
			sin6->sin6_port = htons(p.port);
		}
		monitor_format_peer(&ss, w->peer, sizeof(w->peer));
		srclen = monitor_source_key(&ss, src);
	}
	/* (LOCAL: the balancer's own connection keeps its address.) */
	if (!w->lk_resuming)
		AUDIT("connection.proxied", AF_N("conn", w->conn_id),
		    AF_S("peer", w->peer), AF_S("via", w->via));
	if ((why = monitor_source_refusal(m, w, src, srclen)) == NULL) {
		switch (shared_count(m, w, src, srclen)) {
		case 1:
			return 0;	/* parked: run again with the count */
		case -1:
			why = "per-source-max-startups";
			break;
		}
	}
	if (why != NULL) {
		AUDIT("connection.refused", AF_N("conn", w->conn_id),
		    AF_S("peer", w->peer), AF_S("reason", why));
		(void)worker_set_state(m, w, WS_CLOSING);
		return reply_flag(m, w, IPC_M_PROXY_REPLY, 0);
	}
	memcpy(w->src, src, srclen);
	w->src_len = srclen;
	if (worker_set_state(m, w, WS_PREAUTH) != 0)
		return -1;
	return reply_flag(m, w, IPC_M_PROXY_REPLY, 1);
}

/* Worker log lines (rate-limited by the table: a worker cannot flood the
 * log).  Decoded even past the rate: a malformed one kills. */
static int
h_log(struct monitor *m, struct worker *w, struct cursor *c)
{
	struct ipc_log l;
	char line[IPC_MAX_TEXT + 96];
	int take;

	if (ipc_dec_log(c, &l) != 0 || l.level > LOG_LVL_DEBUG)
		return -1;
	if ((take = charge_now(m, w)) <= 0)
		return take;		/* dropped (0) or killed (-1) */
	if (w->conn_id != 0)
		snprintf(line, sizeof(line), "worker %ld conn %llu: %s",
		    (long)w->pid, (unsigned long long)w->conn_id, l.text);
	else
		snprintf(line, sizeof(line), "worker %ld: %s", (long)w->pid,
		    l.text);
	log_raw((enum log_level)l.level, line);
	return 0;
}

/*
 * Session ids seen recently (replay.h): an exchange hash is random, so the
 * same one in two connections means a worker is replaying a login
 * signature it obtained elsewhere (the monitor cannot see the key
 * exchange, so it must take the worker's word for the hash, as OpenSSH's
 * monitor does).  Each id is kept exactly for at least as long as a login
 * on its connection can take -- the grace time, the PROXY header's time,
 * the monitor's own slack -- plus REPLAY_TTL_SLACK for the clocks of
 * replicas sharing the registry.  A full set refuses the connection
 * rather than forget a live id.
 */
#define REPLAY_TTL_SLACK	30	/* s */

static uint64_t
replay_ttl_ms(const struct monitor *m)
{
	const struct cfg_limits *lim = &m->cfg->limits;

	return ((uint64_t)lim->login_grace_time +
	    (uint64_t)lim->proxy_header_timeout + MON_GRACE_SLACK +
	    REPLAY_TTL_SLACK) * 1000;
}

/* 0 if this connection may use id as its session id; else it was killed. */
static int
session_id_fresh(struct monitor *m, struct worker *w, const uint8_t *id,
    size_t len)
{
	uint64_t now = clock_ms();

	switch (replay_add(m->replay, id, len, now, replay_ttl_ms(m))) {
	case REPLAY_NEW:
		return 0;
	case REPLAY_SEEN:
		worker_kill(m, w, "session id already used by another "
		    "connection");
		return -1;
	case REPLAY_FULL:
		/* No live id is forgotten: this connection is refused. */
		AUDIT("auth.denied", AF_N("conn", w->conn_id),
		    AF_S("peer", w->peer), AF_S("user", ""),
		    AF_S("session", ""), AF_N("workspace", -1),
		    AF_S("key", ""), AF_S("reason", "replay-set-full"));
		worker_kill(m, w, "refused: %zu session ids recorded within "
		    "their %llu s, the most the monitor keeps",
		    replay_count(m->replay, now),
		    (unsigned long long)(replay_ttl_ms(m) / 1000));
		return -1;
	default:
		worker_kill(m, w, "session id of %zu bytes", len);
		return -1;
	}
}

/*
 * With the Redis registry, a login's session id is also claimed across
 * replicas (SET NX PX) before the login is accepted, in the same question
 * to the lookup process as the policy's (f): 1 claimed, or no registry,
 * or the registry could not answer the claim; 0 claimed before -- the
 * worker was killed.  A claim taken by an earlier, refused attempt of the
 * same connection stands (decision_backend()).
 *
 * A claim the registry cannot answer does not refuse the login: the
 * policy was answered (from the lookup's cache, within cache_ttl, when
 * Redis is down or stalled), and this replica's own replay set
 * (session_id_fresh) has checked the id.  What goes unchecked while Redis
 * is away is only the reuse of a session id on another replica, which
 * takes a compromised worker on each of two replicas; logins the cache
 * can answer go on meanwhile (connect-sshd.conf(5), REGISTRY).
 */
static int
session_id_claim(struct monitor *m, struct worker *w,
    const struct ipc_lookup_facts *f)
{
	int rc;

	if (!lookup_enabled(m) || w->replay_claimed)
		return 1;
	rc = f != NULL && f->claimed != IPC_FACT_UNASKED ? f->claimed : -1;
	if (rc == 1)
		w->replay_claimed = 1;
	else if (rc == 0)
		worker_kill(m, w, "session id already used by another "
		    "connection (registry)");
	else
		logit("conn %llu: session id checked by this replica only: "
		    "the registry could not take the claim",
		    (unsigned long long)w->conn_id);
	return rc == 0 ? 0 : 1;
}

/*
 * Sign an exchange hash with the host key.  Only hash-sized input is
 * signed (SHA-256/384/512 exchange hashes), at a bounded rate; the first
 * hash is the connection's session id, which the userauth check below
 * binds every signature to.
 */
static int
h_sign(struct monitor *m, struct worker *w, struct cursor *c)
{
	struct ipc_bytes in, out;
	uint8_t sig[ED25519_SIG_LEN];
	struct buf b;
	int rc;

	if (ipc_dec_bytes(c, &in, IPC_MAX_HASH) != 0)
		return -1;
	if (in.len != 32 && in.len != 48 && in.len != 64) {
		worker_kill(m, w, "sign request of %zu bytes is not an "
		    "exchange hash", in.len);
		return -1;
	}
	/* Once the client's leg reported its method, every exchange hash
	 * is that method's length (a rekey negotiates the same method). */
	if (w->kex_hash_len != 0 && in.len != w->kex_hash_len) {
		worker_kill(m, w, "sign request of %zu bytes is not a %s "
		    "exchange hash (%zu)", in.len, w->kex, w->kex_hash_len);
		return -1;
	}
	/* A token is spent only on a hash the monitor would sign. */
	if (charge_now(m, w) != 1)
		return -1;
	if (w->session_id_len == 0) {
		if (session_id_fresh(m, w, in.data, in.len) != 0)
			return -1;
		memcpy(w->session_id, in.data, in.len);
		w->session_id_len = in.len;
		if (worker_set_state(m, w, WS_KEYED) != 0)
			return -1;
	}
	if (hostkey_sign(m->key, in.data, in.len, sig) != 0)
		return -1;
	out.data = sig;
	out.len = sizeof(sig);
	buf_init(&b, IPC_MAX_MSG);
	rc = ipc_enc_bytes(&b, IPC_M_SIGN_REPLY, &out, ED25519_SIG_LEN) == 0 ?
	    worker_send(m, w, &b, NULL, 0) : -1;
	buf_free(&b);
	return rc;
}

/*
 * A user name that is not "<user>@<session>" (bad-username) shows whole in
 * the audit record's user field: at most POLICY_MAX_USER bytes, a longer
 * one cut between two characters and ended with "..." (the worker sends a
 * name too long for the IPC so cut too).  The log escapes it.
 */
static void
show_bad_name(struct policy_decision *d, const char *ssh_user)
{
	size_t n = strlen(ssh_user), i;

	if (d->verdict != POLICY_DENY_BAD_USERNAME)
		return;
	if (n < sizeof(d->user)) {
		memcpy(d->user, ssh_user, n + 1);
		return;
	}
	n = sizeof(d->user) - sizeof("...");
	for (i = 0; i < 3 && n > 0 &&
	    ((unsigned char)ssh_user[n] & 0xc0) == 0x80; i++)
		n--;
	memcpy(d->user, ssh_user, n);
	memcpy(d->user + n, "...", sizeof("..."));
}

/* A refusal made before the policy was asked: the audit record names the
 * user and session as the policy's would (the name as sent when it is not
 * "<user>@<session>"). */
static void
unnamed_decision(struct policy_decision *d, const char *ssh_user)
{
	memset(d, 0, sizeof(*d));
	d->workspace = -1;
	if (policy_split_username(ssh_user, d->user, sizeof(d->user),
	    d->session, sizeof(d->session)) != 0) {
		d->verdict = POLICY_DENY_BAD_USERNAME;
		show_bad_name(d, ssh_user);
	}
}

static void
audit_denied(struct worker *w, const struct policy_decision *d,
    const char *fp, const char *reason)
{
	AUDIT("auth.denied", AF_N("conn", w->conn_id), AF_S("peer", w->peer),
	    AF_S("user", d->user), AF_S("session", d->session),
	    AF_N("workspace", d->workspace), AF_S("key", fp),
	    AF_S("reason", reason));
}

/* May this user log in with this key?  The answer only lets the client go
 * on to sign; the decision that counts is made again in h_verify. */
/*
 * limits.max_auth_tries: the worker disconnects its client after that many
 * refused keys or signatures (OpenSSH's MaxAuthTries); one that asks again
 * is not following the rules.
 */
static int
too_many_failures(struct monitor *m, struct worker *w)
{
	if (w->max_auth_tries == 0 || w->nauthfail < w->max_auth_tries)
		return 0;
	worker_kill(m, w, "authentication attempt after %u failures "
	    "(limits.max_auth_tries)", w->nauthfail);
	return 1;
}

/*
 * A key the gateway never accepts (keytypes.h: a type it does not take, a
 * malformed blob, an RSA key out of bounds) or that revoked_keys lists is
 * refused before the policy and before any signature check: a client's
 * refusal, audited with "key-too-weak", "bad-key" or "revoked-key" and
 * counted as a failure, not the worker's fault.  Returns 1 if refused.
 */
static int
key_refused(struct monitor *m, struct worker *w, const char *ssh_user,
    const uint8_t *blob, size_t len, const char *fp)
{
	unsigned min_bits = (unsigned)m->cfg->limits.rsa_min_bits;
	struct policy_decision d;
	struct keytype_key k;
	enum keytype_verdict v;
	char why[256];

	if ((v = keytype_check_blob(blob, len, min_bits, &k)) == KEYTYPE_OK) {
		if (m->cfg->revoked == NULL ||
		    !krl_key_revoked(m->cfg->revoked, blob, len))
			return 0;
		unnamed_decision(&d, ssh_user);
		logit("conn %llu: client key %s refused: revoked by %s",
		    (unsigned long long)w->conn_id, fp, m->cfg->revoked_path);
		audit_denied(w, &d, fp, "revoked-key");
		w->nauthfail++;
		return 1;
	}
	unnamed_decision(&d, ssh_user);
	logit("conn %llu: client key %s refused: %s",
	    (unsigned long long)w->conn_id, fp,
	    keytype_explain(v, &k, min_bits, why, sizeof(why)));
	audit_denied(w, &d, fp, keytype_reason(v));
	w->nauthfail++;
	return 1;
}

/* One more key offered (queried, or refused by the worker itself; the
 * table counts them): 0, or -1 after killing a worker past
 * max_auth_tries. */
static int
key_offered(struct monitor *m, struct worker *w)
{
	return too_many_failures(m, w) ? -1 : 0;
}

/* A refusal of a client certificate (or a login by one): the record
 * names the certified key's own fingerprint, the key id, the serial and
 * the CA's fingerprint, never the blob's. */
static void
audit_cert_denied(struct worker *w, const struct policy_decision *d,
    const struct usercert *uc, const char *reason)
{
	char serial[24];

	snprintf(serial, sizeof(serial), "%llu",
	    (unsigned long long)uc->serial);
	AUDIT("auth.denied", AF_N("conn", w->conn_id), AF_S("peer", w->peer),
	    AF_S("user", d->user), AF_S("session", d->session),
	    AF_N("workspace", d->workspace), AF_S("key", uc->key_fp),
	    AF_S("cert_key_id", uc->key_id), AF_S("cert_serial", serial),
	    AF_S("cert_ca_fp", uc->ca_fp), AF_S("reason", reason));
}

/*
 * Is the registry asked about this certificate's CA?  Only when the file
 * does not list it, and never about a CA that is itself a certificate.
 */
static int
ca_question(const struct usercert *uc, const struct usercert_ca *cas,
    size_t ncas)
{
	size_t i;

	for (i = 0; i < ncas; i++)
		if (cas[i].len == uc->ca_blob_len &&
		    memcmp(cas[i].blob, uc->ca_blob, cas[i].len) == 0)
			return 0;
	return keytype_cert_of_blob(uc->ca_blob, uc->ca_blob_len) == NULL;
}

/*
 * The registry's answer for a certificate's CA when the file does not
 * list it: 1 when the backend trusts it (appended to cas, which has room
 * for one more), 0 when not or when the backend holds no CA keys, -1 or
 * POLICY_BAD_RECORD when it cannot say.
 */
static int
registry_ca(const struct policy_backend *be, const struct usercert *uc,
    struct usercert_ca *cas, size_t ncas)
{
	int rc;

	if (be->user_ca == NULL || !ca_question(uc, cas, ncas))
		return 0;
	if ((rc = be->user_ca(be->ctx, uc->ca_blob, uc->ca_blob_len)) != 1)
		return rc;
	cas[ncas].blob = uc->ca_blob;
	cas[ncas].len = uc->ca_blob_len;
	return 1;
}

/*
 * What a decision on q runs over: the file's backend, or, with the Redis
 * registry, the lookup process's answers to q (facts.h).  1: the question
 * is asked and the request parked (the caller returns at once, without
 * answering); 0: *be is ready, and *f the answers (NULL with the file).
 */
static int
decision_backend(struct monitor *m, struct worker *w,
    const struct lookup_question *q, struct policy_backend *be,
    struct facts_view *view, const struct ipc_lookup_facts **f)
{
	*f = NULL;
	if (!lookup_enabled(m)) {
		*be = m->backend;
		return 0;
	}
	if (lookup_access(m, w, q, f) == 1)
		return 1;
	/* The lookup process claims the session id whatever the verdict
	 * turns out to be: once claimed, it is this connection's, and a
	 * later attempt on it (a refused key, then another) must not find
	 * it "already used". */
	if (q->claim && *f != NULL && (*f)->claimed == 1)
		w->replay_claimed = 1;
	facts_backend(be, view, *f);
	return 0;
}

/* A parked request's "verdict": no answer yet. */
#define VERDICT_PARKED	POLICY_VERDICT_MAX

/*
 * A client certificate (usercert.h), for the key query and the signed
 * login alike: parsed, the policy asked about the user with no key (the
 * certificate stands for the key), then the certificate's own checks, the
 * CA signature last.  Returns POLICY_ALLOW with *uc filled, or the verdict
 * to reply with, refused and audited here.
 */
static enum policy_verdict
cert_decision(struct monitor *m, struct worker *w, const char *ssh_user,
    const uint8_t *blob, size_t len, int claim, struct usercert *uc,
    struct policy_decision *d, const struct ipc_lookup_facts **f)
{
	unsigned min_bits = (unsigned)m->cfg->limits.rsa_min_bits;
	struct usercert_ca cas[CFG_MAX_USER_CAS + 1];	/* + the registry's */
	struct lookup_question q;
	struct policy_backend be;
	struct facts_view view;
	struct policy_request req;
	enum policy_verdict v;
	enum usercert_verdict cv;
	char fp[SSHWIRE_FP_LEN], ip[64], why[320];
	const char *perr;
	size_t i, ncas;
	int rc;

	if (usercert_parse(blob, len, min_bits, uc, &perr) != 0) {
		sshwire_fingerprint(blob, len, fp, sizeof(fp));
		unnamed_decision(d, ssh_user);
		logit("conn %llu: client certificate %s refused: %s",
		    (unsigned long long)w->conn_id, fp, perr);
		audit_denied(w, d, fp, "cert-malformed");
		w->nauthfail++;
		return POLICY_DENY_KEY_NOT_REGISTERED;
	}
	/* Revoked: the certified key, its CA, its serial or key id. */
	if (m->cfg->revoked != NULL &&
	    (krl_key_revoked(m->cfg->revoked, uc->key_blob,
	    uc->key_blob_len) || krl_cert_revoked(m->cfg->revoked,
	    uc->ca_blob, uc->ca_blob_len, uc->serial, uc->key_id))) {
		unnamed_decision(d, ssh_user);
		logit("conn %llu: client certificate for key %s (serial %llu, "
		    "key id %s, CA %s) refused: revoked by %s",
		    (unsigned long long)w->conn_id, uc->key_fp,
		    (unsigned long long)uc->serial, uc->key_id, uc->ca_fp,
		    m->cfg->revoked_path);
		audit_cert_denied(w, d, uc, "revoked-key");
		w->nauthfail++;
		return POLICY_DENY_KEY_NOT_REGISTERED;
	}
	ncas = m->cfg->nuser_cas < CFG_MAX_USER_CAS ? m->cfg->nuser_cas :
	    CFG_MAX_USER_CAS;
	for (i = 0; i < ncas; i++) {
		cas[i].blob = m->cfg->user_cas[i].blob;
		cas[i].len = m->cfg->user_cas[i].bloblen;
	}
	/* One question: the policy on the user with no key (the
	 * certificate stands for the key), the CA when the file does not
	 * list it, and the session id's claim on a signed login. */
	memset(&q, 0, sizeof(q));
	q.ssh_user = ssh_user;
	if (ca_question(uc, cas, ncas)) {
		q.ca = uc->ca_blob;
		q.ca_len = uc->ca_blob_len;
	}
	q.claim = claim;
	q.claim_ttl_ms = (uint32_t)replay_ttl_ms(m);
	if (decision_backend(m, w, &q, &be, &view, f) == 1)
		return VERDICT_PARKED;
	memset(&req, 0, sizeof(req));
	req.ssh_user = ssh_user;
	v = policy_check(&be, &req, d);
	show_bad_name(d, ssh_user);
	if (v != POLICY_ALLOW) {
		audit_cert_denied(w, d, uc, policy_reason(v));
		w->nauthfail++;
		return v;
	}
	/* The file's CA keys first, then the registry's (Redis:
	 * user_ca_keys), asked only about this certificate's CA. */
	if ((rc = registry_ca(&be, uc, cas, ncas)) < 0) {
		v = rc == POLICY_BAD_RECORD ? POLICY_DENY_BAD_RECORD :
		    POLICY_DENY_BACKEND;
		audit_cert_denied(w, d, uc, policy_reason(v));
		w->nauthfail++;
		return v;
	}
	ncas += (size_t)rc;
	if (usercert_peer_ip(w->peer, ip, sizeof(ip)) != 0)
		ip[0] = '\0';
	cv = usercert_check(uc, d->user, ip, (uint64_t)time(NULL), cas, ncas,
	    min_bits, why, sizeof(why));
	if (cv != USERCERT_OK) {
		logit("conn %llu: client certificate for key %s refused: %s",
		    (unsigned long long)w->conn_id, uc->key_fp, why);
		audit_cert_denied(w, d, uc, usercert_reason(cv));
		w->nauthfail++;
		return POLICY_DENY_KEY_NOT_REGISTERED;
	}
	return POLICY_ALLOW;
}

static int
h_key_query(struct monitor *m, struct worker *w, struct cursor *c)
{
	const struct ipc_lookup_facts *f;
	struct ipc_key_query q;
	struct usercert uc;
	struct lookup_question lq;
	struct policy_backend be;
	struct facts_view view;
	struct policy_request req;
	struct policy_decision d;
	char fp[SSHWIRE_FP_LEN];
	enum policy_verdict v;

	if (ipc_dec_key_query(c, &q) != 0)
		return -1;
	/* (Run again with the registry's answer: counted the first time.) */
	if (!w->lk_resuming && key_offered(m, w) != 0)
		return -1;
	if (keytype_cert_of_blob(q.key_blob, q.key_blob_len) != NULL) {
		v = cert_decision(m, w, q.user, q.key_blob, q.key_blob_len, 0,
		    &uc, &d, &f);
		return v == VERDICT_PARKED ? 0 :
		    reply_verdict(m, w, IPC_M_KEY_REPLY, v);
	}
	sshwire_fingerprint(q.key_blob, q.key_blob_len, fp, sizeof(fp));
	if (key_refused(m, w, q.user, q.key_blob, q.key_blob_len, fp))
		return reply_flag(m, w, IPC_M_KEY_REPLY, 0);
	memset(&lq, 0, sizeof(lq));
	lq.ssh_user = q.user;
	lq.key = q.key_blob;
	lq.key_len = q.key_blob_len;
	if (decision_backend(m, w, &lq, &be, &view, &f) == 1)
		return 0;
	req.ssh_user = q.user;
	req.key_blob = q.key_blob;
	req.key_len = q.key_blob_len;
	v = policy_check(&be, &req, &d);
	show_bad_name(&d, q.user);
	if (v != POLICY_ALLOW) {
		audit_denied(w, &d, fp, policy_reason(v));
		w->nauthfail++;
	}
	return reply_verdict(m, w, IPC_M_KEY_REPLY, v);
}

/* "SHA256:" and 43 characters of unpadded base64, as sshwire_fingerprint
 * writes them. */
static int
fp_well_formed(const char *fp)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n;

	if (strncmp(fp, "SHA256:", 7) != 0)
		return 0;
	n = strspn(fp + 7, b64);
	return n == 43 && fp[7 + n] == '\0';
}

/*
 * The worker refused a key or a signature that the monitor could not take
 * (a key blob over IPC_MAX_BLOB) or must not (a signature algorithm the
 * key's type does not sign with): the client's refusal, audited like one
 * of the monitor's and counted against limits.max_auth_tries and the
 * offered-keys bound.  The worker names the key by its fingerprint, whose
 * form is checked; it grants nothing, so a lying worker gains nothing.
 */
static int
h_refused(struct monitor *m, struct worker *w, struct cursor *c)
{
	struct ipc_refused r;
	struct policy_decision d;

	if (ipc_dec_refused(c, &r) != 0)
		return -1;
	if (!fp_well_formed(r.key_fp)) {
		worker_kill(m, w, "refusal names no key fingerprint");
		return -1;
	}
	if (key_offered(m, w) != 0)
		return -1;
	unnamed_decision(&d, r.user);
	audit_denied(w, &d, r.key_fp,
	    r.reason == IPC_REFUSED_KEY_TOO_LARGE ? "key-too-large" :
	    "bad-signature-algorithm");
	w->nauthfail++;
	return 0;
}

/* Check that data is a userauth request bound to this connection (and,
 * for publickey-hostbound-v00, to the gateway's host key). */
static const char *
verify_binding(struct monitor *m, struct worker *w,
    const struct userauth_req *r)
{
	const uint8_t *gw;
	size_t gwlen;

	if (r->session_id_len != w->session_id_len ||
	    !bytes_equal(r->session_id, w->session_id, w->session_id_len))
		return "signature not bound to this connection's session id";
	if (r->hostbound) {
		gw = hostkey_blob(m->key, &gwlen);
		if (r->server_key_blob_len != gwlen ||
		    !bytes_equal(r->server_key_blob, gw, gwlen))
			return "signature bound to a host key that is not "
			    "the gateway key";
	}
	if (userauth_algo_ok(r->algo, r->key_blob, r->key_blob_len) != 0)
		return "signature algorithm not accepted for this key";
	return NULL;
}

static void
record_login(struct worker *w, const struct policy_decision *d,
    const char *fp)
{
	const struct policy_studio *s = &d->studio;

	snprintf(w->user, sizeof(w->user), "%s", d->user);
	snprintf(w->session, sizeof(w->session), "%s", d->session);
	snprintf(w->upstream_user, sizeof(w->upstream_user), "%s",
	    d->upstream_user);
	snprintf(w->upstream_host, sizeof(w->upstream_host), "%s",
	    s->upstream_host);
	snprintf(w->upstream_port, sizeof(w->upstream_port), "%s",
	    s->upstream_port);
	snprintf(w->host_key_pin, sizeof(w->host_key_pin), "%s",
	    s->host_key_fingerprint ? s->host_key_fingerprint : "");
	snprintf(w->key_fp, sizeof(w->key_fp), "%s", fp);
	w->workspace = d->workspace;
}

/* The Studio's upstream_auth, or the global one. */
static int
resolve_upstream_auth(const struct monitor *m, const struct policy_decision *d)
{
	return d->studio.upstream_auth != CFG_UPSTREAM_UNSET ?
	    d->studio.upstream_auth : m->cfg->upstream_auth;
}

/*
 * The client's userauth signature.  The monitor parses what was signed,
 * checks it is bound to this connection, runs the policy on the user and
 * key found in the signed data and, only for a key that may log in,
 * verifies the signature itself.  Only then is the worker authenticated.
 */
static int
h_verify(struct monitor *m, struct worker *w, struct cursor *c)
{
	const struct ipc_lookup_facts *f = NULL;
	struct ipc_verify v;
	struct userauth_req r;
	struct lookup_question lq;
	struct policy_backend be;
	struct facts_view view;
	struct policy_request req;
	struct policy_decision d;
	enum policy_verdict verdict;
	char fp[SSHWIRE_FP_LEN];
	const char *why = NULL;
	struct usercert uc;
	int good, is_cert = 0;

	if (ipc_dec_verify(c, &v) != 0)
		return -1;
	if (too_many_failures(m, w))
		return -1;
	if (userauth_parse(v.data, v.data_len, &r, &why) != 0 ||
	    (why = verify_binding(m, w, &r)) != NULL) {
		worker_kill(m, w, "verify request refused: %s", why);
		return -1;
	}
	if (keytype_cert_of_blob(r.key_blob, r.key_blob_len) != NULL) {
		/* A certificate: the policy and the certificate's checks,
		 * then the user's signature with the certified key. */
		verdict = cert_decision(m, w, r.user, r.key_blob,
		    r.key_blob_len, !w->replay_claimed, &uc, &d, &f);
		if (verdict == VERDICT_PARKED)
			return 0;
		if (verdict != POLICY_ALLOW)
			return reply_verdict(m, w, IPC_M_VERIFY_REPLY, verdict);
		is_cert = 1;
		snprintf(fp, sizeof(fp), "%s", uc.key_fp);
		good = userauth_verify(keytype_plain_sigalg(r.key_blob,
		    r.key_blob_len, r.algo), uc.key_blob, uc.key_blob_len,
		    v.sig, v.sig_len, v.data, v.data_len,
		    (unsigned)m->cfg->limits.rsa_min_bits);
		if (good != 1) {
			audit_cert_denied(w, &d, &uc, "bad-signature");
			w->nauthfail++;
			return reply_flag(m, w, IPC_M_VERIFY_REPLY, 0);
		}
	} else {
		sshwire_fingerprint(r.key_blob, r.key_blob_len, fp,
		    sizeof(fp));
		if (key_refused(m, w, r.user, r.key_blob, r.key_blob_len, fp))
			return reply_flag(m, w, IPC_M_VERIFY_REPLY, 0);
		/* Policy before crypto: the user and key are known from the
		 * signed data, so a key that may not log in here costs no
		 * signature check (the key query already told the worker as
		 * much). */
		memset(&lq, 0, sizeof(lq));
		lq.ssh_user = r.user;
		lq.key = r.key_blob;
		lq.key_len = r.key_blob_len;
		lq.claim = !w->replay_claimed;
		lq.claim_ttl_ms = (uint32_t)replay_ttl_ms(m);
		if (decision_backend(m, w, &lq, &be, &view, &f) == 1)
			return 0;
		req.ssh_user = r.user;
		req.key_blob = r.key_blob;
		req.key_len = r.key_blob_len;
		verdict = policy_check(&be, &req, &d);
		show_bad_name(&d, r.user);
		if (verdict != POLICY_ALLOW) {
			audit_denied(w, &d, fp, policy_reason(verdict));
			w->nauthfail++;
			return reply_verdict(m, w, IPC_M_VERIFY_REPLY, verdict);
		}
		good = userauth_verify(r.algo, r.key_blob, r.key_blob_len,
		    v.sig, v.sig_len, v.data, v.data_len,
		    (unsigned)m->cfg->limits.rsa_min_bits);
		if (good != 1) {
			audit_denied(w, &d, fp, "bad-signature");
			w->nauthfail++;
			return reply_flag(m, w, IPC_M_VERIFY_REPLY, 0);
		}
	}
	if (session_id_claim(m, w, f) == 0)
		return -1;
	record_login(w, &d, fp);
	w->upstream_auth = resolve_upstream_auth(m, &d);
	if (worker_set_state(m, w, WS_AUTHED) != 0)
		return -1;
	monitor_shared_release(m, w);
	if (is_cert) {
		char serial[24];

		w->client_cert = 1;
		w->client_cert_ext = uc.ext;
		snprintf(serial, sizeof(serial), "%llu",
		    (unsigned long long)uc.serial);
		AUDIT("auth.accepted", AF_N("conn", w->conn_id),
		    AF_S("peer", w->peer), AF_S("user", w->user),
		    AF_S("session", w->session),
		    AF_N("workspace", w->workspace), AF_S("key", fp),
		    AF_S("algo", r.algo), AF_S("kex", w->kex),
		    AF_S("cipher", w->cipher), AF_S("mac", w->mac),
		    AF_S("cert_key_id", uc.key_id),
		    AF_S("cert_serial", serial), AF_S("cert_ca_fp", uc.ca_fp));
	} else
		AUDIT("auth.accepted", AF_N("conn", w->conn_id),
		    AF_S("peer", w->peer), AF_S("user", w->user),
		    AF_S("session", w->session),
		    AF_N("workspace", w->workspace), AF_S("key", fp),
		    AF_S("algo", r.algo), AF_S("kex", w->kex),
		    AF_S("cipher", w->cipher), AF_S("mac", w->mac));
	return reply_flag(m, w, IPC_M_VERIFY_REPLY, 1);
}

/* No route: the worker tells the client text and ends. */
static int
route_refuse(struct monitor *m, struct worker *w, const char *text)
{
	struct ipc_text t;
	struct buf b;
	int rc;

	snprintf(t.text, sizeof(t.text), "%s", text);
	(void)worker_set_state(m, w, WS_CLOSING);
	buf_init(&b, IPC_MAX_MSG);
	rc = ipc_enc_text(&b, IPC_M_ROUTE_FAIL, &t) == 0 ?
	    worker_send(m, w, &b, NULL, 0) : -1;
	buf_free(&b);
	return rc;
}

static int
route_fail(struct monitor *m, struct worker *w, const char *reason)
{
	char text[IPC_MAX_TEXT];

	AUDIT("upstream.failed", AF_N("conn", w->conn_id),
	    AF_S("user", w->user), AF_S("session", w->session),
	    AF_S("upstream", w->upstream_host),
	    AF_S("port", w->upstream_port), AF_S("reason", reason));
	snprintf(text, sizeof(text), "Studio session %s is not reachable; "
	    "try again later or restart the Studio", w->session);
	return route_refuse(m, w, text);
}

/* The user's connections that got, or are getting, a route. */
static int
user_connections(const struct monitor *m, const struct worker *self)
{
	const struct worker *o;
	int n = 0;

	for (o = m->workers; o != NULL; o = o->next)
		if (o != self && !o->reaped && (o->state == WS_ROUTING ||
		    o->state == WS_ROUTED) && strcmp(o->user, self->user) == 0)
			n++;
	return n;
}

/* The length of an Ed25519 public key blob: string "ssh-ed25519" and
 * string of 32 bytes. */
#define ED25519_BLOB_LEN	(4 + 11 + 4 + ED25519_PUB_LEN)

/*
 * Connect to the authenticated login's Studio; dispatch_route_done
 * answers when the connect finishes.  The request carries the public key
 * the worker made for the Studio login: exactly an Ed25519 public key
 * blob, or the worker is killed, whatever the Studio's upstream_auth (a
 * worker cannot tell the modes apart before the answer).
 * limits.max_sessions_per_user is checked here, once the login is
 * verified: connections that never log in are bounded by max_startups.
 */
static int
h_route(struct monitor *m, struct worker *w, struct cursor *c)
{
	struct ipc_route_req req;
	uint8_t pub[ED25519_PUB_LEN];
	char text[IPC_MAX_TEXT], detail[64];
	int err, n, max = m->cfg->limits.max_sessions_per_user;

	if (ipc_dec_route_req(c, &req) != 0)
		return -1;
	if (req.key_blob_len != ED25519_BLOB_LEN ||
	    sshwire_ed25519_pub(req.key_blob, req.key_blob_len, pub) != 0) {
		worker_kill(m, w, "route request: the login key is not an "
		    "Ed25519 public key");
		return -1;
	}
	memcpy(w->login_key, req.key_blob, req.key_blob_len);
	w->login_key_len = req.key_blob_len;
	if (max > 0 && (n = user_connections(m, w)) >= max) {
		snprintf(detail, sizeof(detail), "%d open, limit %d", n, max);
		AUDIT("connection.refused", AF_N("conn", w->conn_id),
		    AF_S("peer", w->peer), AF_S("user", w->user),
		    AF_S("session", w->session),
		    AF_S("reason", "max-sessions-per-user"),
		    AF_S("detail", detail));
		snprintf(text, sizeof(text), "Too many connections for this "
		    "user through the gateway (limit %d); close one and try "
		    "again", max);
		return route_refuse(m, w, text);
	}
	if (worker_set_state(m, w, WS_ROUTING) != 0)
		return -1;
	err = upstream_connect(w->upstream_host, w->upstream_port,
	    &w->upstream_fd);
	if (err != 0)
		return route_fail(m, w, strerror(err));
	clock_now(&w->t_deadline);
	w->t_deadline.tv_sec += m->cfg->limits.upstream_connect_timeout;
	w->has_deadline = 1;
	return 0;
}

static int
cert_sign(void *ctx, const uint8_t *data, size_t len, uint8_t sig[64])
{
	return hostkey_sign(ctx, data, len, sig);
}

/*
 * The certificate for the worker's login key: the Studio's session as
 * its only principal, CERT_LIFETIME seconds, the extensions the
 * forwarding switches allow.  0 or -1.
 */
static int
issue_cert(struct monitor *m, struct worker *w, uint8_t *out, size_t outsz,
    size_t *outlen)
{
	const struct cfg_forwarding *fw = &m->cfg->forwarding;
	struct cert_req req;
	const uint8_t *ca;
	size_t calen;
	uint64_t now = (uint64_t)time(NULL);

	if (RAND_bytes((uint8_t *)&w->cert_serial,
	    sizeof(w->cert_serial)) != 1)
		return -1;
	snprintf(w->cert_key_id, sizeof(w->cert_key_id),
	    "connect-sshd conn=%llu user=%s studio=%s",
	    (unsigned long long)w->conn_id, w->user, w->session);
	w->extensions = CERT_EXT_PTY;
	if (fw->local || fw->remote)
		w->extensions |= CERT_EXT_PORT_FWD;
	if (fw->agent)
		w->extensions |= CERT_EXT_AGENT_FWD;
	/* A client's certificate narrows them, as OpenSSH's sshd would: no
	 * permit-pty, no pty on the Studio; and so on. */
	if (w->client_cert) {
		if (!(w->client_cert_ext & USERCERT_EXT_PTY))
			w->extensions &= ~(unsigned)CERT_EXT_PTY;
		if (!(w->client_cert_ext & USERCERT_EXT_PORT_FWD))
			w->extensions &= ~(unsigned)CERT_EXT_PORT_FWD;
		if (!(w->client_cert_ext & USERCERT_EXT_AGENT_FWD))
			w->extensions &= ~(unsigned)CERT_EXT_AGENT_FWD;
	}
	memset(&req, 0, sizeof(req));
	req.key_blob = w->login_key;
	req.key_blob_len = w->login_key_len;
	req.serial = w->cert_serial;
	req.key_id = w->cert_key_id;
	req.principal = w->session;
	req.valid_after = now - CERT_BACKDATE;
	req.valid_before = now + CERT_LIFETIME;
	req.extensions = w->extensions;
	ca = hostkey_blob(m->key, &calen);
	return cert_build(&req, ca, calen, cert_sign, m->key, out, outsz,
	    outlen);
}

/*
 * Written once the Studio leg's key exchange is reported (W_KEX), so that
 * the record names its method; or, without it, when the worker reports
 * anything else or ends first.
 */
static void
audit_opened(struct worker *w)
{
	char serial[24];

	if (!w->opened_pending)
		return;
	w->opened_pending = 0;

	if (w->upstream_auth != CFG_UPSTREAM_CERTIFICATE) {
		AUDIT("upstream.opened", AF_N("conn", w->conn_id),
		    AF_S("user", w->user), AF_S("session", w->session),
		    AF_S("upstream", w->upstream_host),
		    AF_S("port", w->upstream_port),
		    AF_S("upstream_user", w->upstream_user),
		    AF_S("auth", "key"), AF_S("kex", w->up_kex));
		return;
	}
	snprintf(serial, sizeof(serial), "%llu",
	    (unsigned long long)w->cert_serial);
	AUDIT("upstream.opened", AF_N("conn", w->conn_id),
	    AF_S("user", w->user), AF_S("session", w->session),
	    AF_S("upstream", w->upstream_host),
	    AF_S("port", w->upstream_port),
	    AF_S("upstream_user", w->upstream_user),
	    AF_S("auth", "certificate"), AF_S("cert_serial", serial),
	    AF_S("cert_key_id", w->cert_key_id), AF_S("kex", w->up_kex));
}

/*
 * A route's answer (the Studio's socket, or its failure) could not be sent.
 * A worker whose end is closed is either ending -- the reaper reports how
 * -- or closed it itself, and then check_closed() kills it when its grace
 * runs out.  Otherwise it does not read its answers.
 */
static void
route_send_failed(struct monitor *m, struct worker *w, const char *what)
{
	if (w->sock != -1)
		worker_kill(m, w, "cannot send %s", what);
	else if (w->kill_reason[0] == '\0')
		debug("worker %ld (conn %llu): its IPC socket closed before "
		    "its %s was sent", (long)w->pid,
		    (unsigned long long)w->conn_id, what);
}

/* upstream_auth "certificate": the socket and the certificate, and no
 * agent: nothing the worker can ask to have signed. */
static void
route_done_cert(struct monitor *m, struct worker *w, const struct ipc_route *r)
{
	struct ipc_route_cert rc;
	uint8_t cert[CERT_MAX_BLOB];
	size_t certlen;
	struct buf b;
	int ok;

	if (issue_cert(m, w, cert, sizeof(cert), &certlen) != 0) {
		close(w->upstream_fd);
		w->upstream_fd = -1;
		if (route_fail(m, w, "cannot issue the login certificate") != 0)
			route_send_failed(m, w, "route failure");
		return;
	}
	rc.route = *r;
	rc.cert = cert;
	rc.cert_len = certlen;
	buf_init(&b, IPC_MAX_MSG);
	ok = ipc_enc_route_cert(&b, &rc) == 0 &&
	    worker_send(m, w, &b, &w->upstream_fd, 1) == 0;
	buf_free(&b);
	close(w->upstream_fd);
	w->upstream_fd = -1;
	if (!ok) {
		route_send_failed(m, w, "route");
		return;
	}
	w->has_grace = 0;
	if (worker_set_state(m, w, WS_ROUTED) != 0)
		return;
	w->opened_pending = 1;
}

void
dispatch_route_done(struct monitor *m, struct worker *w, int err)
{
	struct ipc_route r;
	struct buf b;
	int sv[2], fds[2], rc;

	w->has_deadline = 0;
	if (err == 0 && w->upstream_auth == CFG_UPSTREAM_CERTIFICATE) {
		memset(&r, 0, sizeof(r));
		snprintf(r.upstream_user, sizeof(r.upstream_user), "%s",
		    w->upstream_user);
		snprintf(r.host_key_pin, sizeof(r.host_key_pin), "%s",
		    w->host_key_pin);
		snprintf(r.session, sizeof(r.session), "%s", w->session);
		route_done_cert(m, w, &r);
		return;
	}
	if (err == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv) == -1)
		err = errno;
	if (err != 0) {
		if (w->upstream_fd != -1)
			close(w->upstream_fd);
		w->upstream_fd = -1;
		if (route_fail(m, w, err == ETIMEDOUT ? "connect timed out" :
		    strerror(err)) != 0)
			route_send_failed(m, w, "route failure");
		return;
	}
	memset(&r, 0, sizeof(r));
	snprintf(r.upstream_user, sizeof(r.upstream_user), "%s",
	    w->upstream_user);
	snprintf(r.host_key_pin, sizeof(r.host_key_pin), "%s",
	    w->host_key_pin);
	snprintf(r.session, sizeof(r.session), "%s", w->session);
	fds[0] = w->upstream_fd;
	fds[1] = sv[1];
	buf_init(&b, IPC_MAX_MSG);
	rc = ipc_enc_route(&b, &r) == 0 ? worker_send(m, w, &b, fds, 2) : -1;
	buf_free(&b);
	close(w->upstream_fd);
	w->upstream_fd = -1;
	close(sv[1]);
	if (rc != 0) {
		close(sv[0]);
		route_send_failed(m, w, "route");
		return;
	}
	w->agent_fd = sv[0];
	w->has_grace = 0;
	/* Never wait on the worker: a reply it does not read fills the
	 * socket, and a full socket kills it (agent_reply()). */
	(void)fcntl(w->agent_fd, F_SETFL, O_NONBLOCK);
	buf_init(&w->agent_in, MON_AGENT_MAX_MSG + 4);
	if (worker_set_state(m, w, WS_ROUTED) != 0)
		return;
	w->opened_pending = 1;
}

static int
h_audit(struct monitor *m, struct worker *w, struct cursor *c)
{
	struct ipc_audit a;

	if (ipc_dec_audit(c, &a) != 0)
		return -1;
	audit_opened(w);
	return channels_report(m, w, &a);
}

/* Is name one of the comma-separated list's names? */
static int
listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list, *e;

	if (n == 0)
		return 0;
	while (*p != '\0') {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) == n && memcmp(p, name, n) == 0)
			return 1;
		p = *e != '\0' ? e + 1 : e;
	}
	return 0;
}

/* The exchange hash length of a key exchange method (RFC 5656, 8731,
 * 8268, draft-ietf-sshm-mlkem-hybrid-kex, draft-josefsson-ntruprime-ssh),
 * 0 for a name not known here. */
static size_t
kex_hash_len(const char *kex)
{
	if (strstr(kex, "-sha512") != NULL ||
	    strcmp(kex, "ecdh-sha2-nistp521") == 0)
		return 64;
	if (strcmp(kex, "ecdh-sha2-nistp384") == 0)
		return 48;
	if (strstr(kex, "-sha256") != NULL ||
	    strcmp(kex, "ecdh-sha2-nistp256") == 0)
		return 32;
	return 0;
}

/* AEAD ciphers negotiate no MAC. */
static int
cipher_is_aead(const char *cipher)
{
	return strcmp(cipher, "aes128-gcm@openssh.com") == 0 ||
	    strcmp(cipher, "aes256-gcm@openssh.com") == 0 ||
	    strcmp(cipher, "chacha20-poly1305@openssh.com") == 0;
}

/*
 * What a leg's key exchange negotiated, for the audit log: the client's
 * leg once keyed (auth.accepted), the Studio's once routed
 * (upstream.opened).  Only names from the lists this worker was given are
 * believed: anything else is a lie, and kills it.
 */
static int
h_kex(struct monitor *m, struct worker *w, struct cursor *c)
{
	struct ipc_kex k;
	unsigned want = w->state == WS_KEYED ? IPC_KEX_CLIENT : IPC_KEX_STUDIO;

	if (ipc_dec_kex(c, &k) != 0)
		return -1;
	if (k.leg != want) {
		worker_kill(m, w, "W_KEX for the %s leg in state %s",
		    k.leg == IPC_KEX_CLIENT ? "client" : "Studio",
		    wstate_name(w->state));
		return -1;
	}
	if (k.leg == IPC_KEX_CLIENT ? w->kex[0] != '\0' :
	    w->up_kex[0] != '\0') {
		worker_kill(m, w, "W_KEX repeated");
		return -1;
	}
	if (!listed(w->init_kex, k.kex) || kex_hash_len(k.kex) == 0) {
		worker_kill(m, w, "W_KEX names a key exchange method that is "
		    "not configured");
		return -1;
	}
	if (!listed(w->init_ciphers, k.cipher)) {
		worker_kill(m, w, "W_KEX names a cipher that is not "
		    "configured");
		return -1;
	}
	if (k.mac[0] == '\0' ? !cipher_is_aead(k.cipher) :
	    (cipher_is_aead(k.cipher) || !listed(w->init_macs, k.mac))) {
		worker_kill(m, w, "W_KEX names a MAC that is not configured "
		    "or does not go with its cipher");
		return -1;
	}
	if (k.leg == IPC_KEX_STUDIO) {
		memcpy(w->up_kex, k.kex, sizeof(w->up_kex));
		audit_opened(w);
		return 0;
	}
	if (kex_hash_len(k.kex) != w->session_id_len) {
		worker_kill(m, w, "session id of %zu bytes is not a %s "
		    "exchange hash", w->session_id_len, k.kex);
		return -1;
	}
	memcpy(w->kex, k.kex, sizeof(w->kex));
	memcpy(w->cipher, k.cipher, sizeof(w->cipher));
	memcpy(w->mac, k.mac, sizeof(w->mac));
	w->kex_hash_len = w->session_id_len;
	return 0;
}
