/*
 * lookup.c - the monitor's side of connect-sshd-lookup, the process that
 * talks to the Redis registry (policy/lookup.c).
 *
 * The monitor never waits on it.  A worker's request that needs the
 * registry sends one question and is parked (dispatch.c runs it again
 * with the answer); an admission that needs the shared per-source count
 * waits in admission.c's queue.  The process answers in order, one
 * question at a time, so the questions outstanding are a FIFO: an answer
 * must be for the question at its head, of the same kind, or the process
 * is lying or broken and is killed.
 *
 * A question unanswered within its budget is answered "unavailable" by
 * the monitor itself (the login is refused: "Registry unavailable"); the
 * late answer, when it comes, is read and dropped.  A process that stops
 * answering altogether is killed and started again, at most once a
 * second; meanwhile every question is answered "unavailable" at once.
 *
 * What an answer may say is checked before it is used (facts_check), and
 * the decision over it is the monitor's (policy_check, in dispatch.c).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "clock.h"
#include "facts.h"
#include "ipc.h"
#include "log.h"
#include "monitor.h"
#include "registry.h"

#define LOOKUP_MAX_PENDING	256	/* questions outstanding at once */
#define LOOKUP_RESTART_MS	1000	/* between two starts */
#define LOOKUP_SLACK_MS		1000	/* over the registry's own timeouts */

enum lk_kind { LK_ACCESS = 1, LK_STARTUP };

struct lk_pending {
	uint64_t id;
	enum lk_kind kind;
	struct worker *w;		/* NULL: abandoned, or an admission */
	int admit;			/* admission.c's slot, or -1 */
	uint64_t deadline_ms;		/* answered "unavailable" then */
};

struct lookup {
	pid_t pid;
	int sock;
	int ready;			/* L_READY seen */
	uint64_t next_id;
	uint64_t started_ms;
	uint64_t restart_at_ms;
	struct lk_pending q[LOOKUP_MAX_PENDING];
	size_t head, n;
	int gone;			/* closed its socket, not reaped */
	struct registry_stats stats;	/* as last reported */
	int stats_seen;
	uint8_t init_digest[32];	/* of the settings it was started with */
	uint64_t scrape_window;		/* the second scrape_left counts for */
	unsigned scrape_left;		/* L_SCRAPE still answered in it */
	uint64_t log_window;		/* the second log_left counts for */
	unsigned log_left;		/* L_LOG lines still logged in it */
	unsigned long long log_dropped;
};

static struct lookup lk = { .pid = -1, .sock = -1 };

/* A question's budget: a Redis command's timeout, a reconnect's, and
 * slack (policy/redis.c backs off after one failure, so a question that
 * finds Redis stalled costs at most about two timeouts). */
static uint64_t
budget_ms(const struct monitor *m)
{
	return 2 * (uint64_t)m->cfg->registry.timeout_ms + LOOKUP_SLACK_MS;
}

int
lookup_enabled(const struct monitor *m)
{
	return m->cfg->registry.backend == CFG_REGISTRY_REDIS;
}

/* The process runs for the Redis registry, for metrics_listen, or both. */
int
lookup_runs(const struct monitor *m)
{
	return lookup_enabled(m) || m->metrics_fd != -1;
}

/* ---- the process ---- */

/* connect-sshd-lookup lives beside the worker program. */
int
lookup_path(const struct config *cfg, char *out, size_t outsz)
{
	const char *prog = cfg->workers.program, *slash;
	int n;

	slash = strrchr(prog, '/');
	n = snprintf(out, outsz, "%.*sconnect-sshd-lookup",
	    slash != NULL ? (int)(slash - prog + 1) : 0, prog);
	return n > 0 && (size_t)n < outsz ? 0 : -1;
}

/* The L_INIT the configuration gives, encoded into b; 0 on success. */
static int
encode_init(const struct monitor *m, struct buf *b)
{
	const struct cfg_registry *r = &m->cfg->registry;
	static struct ipc_lookup_init in;
	int rc;

	memset(&in, 0, sizeof(in));
	in.version = IPC_PROTO_VERSION;
	in.log_level = (uint32_t)log_get_level();
	in.log_format = (uint32_t)m->cfg->log.format;
	if (m->init_flags & IPC_INIT_SETUID)
		in.flags |= IPC_LOOKUP_SETUID;
	if (m->cfg->enabled)
		in.flags |= IPC_LOOKUP_ENABLED;
	if (lookup_enabled(m))
		in.flags |= IPC_LOOKUP_REDIS;
	if (m->metrics_fd != -1)
		in.flags |= IPC_LOOKUP_METRICS;
	in.uid = (uint32_t)m->lookup_uid;
	in.gid = (uint32_t)m->lookup_gid;
	snprintf(in.host, sizeof(in.host), "%s", r->host);
	snprintf(in.port, sizeof(in.port), "%s", r->port);
	in.db = (uint32_t)r->db;
	snprintf(in.user, sizeof(in.user), "%s", r->user ? r->user : "");
	snprintf(in.password, sizeof(in.password), "%s",
	    r->password ? r->password : "");
	snprintf(in.prefix, sizeof(in.prefix), "%s", r->prefix);
	in.timeout_ms = (uint32_t)r->timeout_ms;
	in.cache_ttl = (uint32_t)r->cache_ttl;
	in.rsa_min_bits = (uint32_t)m->cfg->limits.rsa_min_bits;
	rc = ipc_enc_lookup_init(b, &in);
	explicit_bzero(in.password, sizeof(in.password));
	return rc;
}

/* The digest of the L_INIT the configuration gives (no secret kept). */
static int
init_digest(const struct monitor *m, uint8_t out[32])
{
	unsigned int n = 0;
	struct buf b;
	int rc;

	buf_init(&b, IPC_MAX_MSG);
	rc = encode_init(m, &b) == 0 &&
	    EVP_Digest(b.data, b.len, out, &n, EVP_sha256(), NULL) == 1 &&
	    n == 32 ? 0 : -1;
	buf_free(&b);
	return rc;
}

static int
send_init(const struct monitor *m)
{
	struct buf b;
	int rc;

	if (init_digest(m, lk.init_digest) != 0)
		return -1;
	buf_init(&b, IPC_MAX_MSG);
	rc = encode_init(m, &b) == 0 ? ipc_send(lk.sock, &b, NULL, 0) : -1;
	buf_free(&b);
	return rc;
}

static int
spawn(struct monitor *m)
{
	char path[IPC_MAX_PATH + 32];
	int sv[2], rc, sndbuf = 1 << 20;

	if (lookup_path(m->cfg, path, sizeof(path)) != 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		error("lookup: socketpair: %s", strerror(errno));
		return -1;
	}
	/* Room for every question outstanding: a send never blocks. */
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf));
	/* Its log lines come as L_LOG (log_line()), not on stderr.  The
	 * IPC socket on fd 3; the metrics_listen socket, if any, on fd 4:
	 * the monitor never accepts on it. */
	rc = spawn_unprivileged(m, path, "connect-sshd-lookup", sv[1],
	    IPC_LOOKUP_FD, m->metrics_fd, IPC_LOOKUP_METRICS_FD, &lk.pid);
	close(sv[1]);
	if (rc != 0) {
		error("lookup: cannot start %s: %s", path, strerror(rc));
		close(sv[0]);
		lk.pid = -1;
		return -1;
	}
	lk.sock = sv[0];
	(void)fcntl(lk.sock, F_SETFL, O_NONBLOCK);
	lk.ready = 0;
	lk.started_ms = clock_ms();
	if (send_init(m) != 0) {
		lookup_kill(m, "cannot send its settings");
		return -1;
	}
	debug("lookup: started %s (pid %ld)", path, (long)lk.pid);
	return 0;
}

/* Every question outstanding answered "unavailable"; the FIFO empty. */
static void
fail_all(struct monitor *m)
{
	struct lk_pending p;

	while (lk.n > 0) {
		p = lk.q[lk.head];
		lk.head = (lk.head + 1) % LOOKUP_MAX_PENDING;
		lk.n--;
		if (p.kind == LK_ACCESS && p.w != NULL)
			dispatch_lookup_answer(m, p.w, NULL);
		else if (p.kind == LK_STARTUP && p.w != NULL)
			dispatch_lookup_counted(m, p.w, -1);
		else if (p.kind == LK_STARTUP && p.admit >= 0)
			admission_counted(m, p.admit, -1);
	}
}

void
lookup_kill(struct monitor *m, const char *why)
{
	if (lk.pid <= 0 && lk.sock == -1)
		return;
	if (why != NULL)
		error("lookup: killing connect-sshd-lookup (pid %ld): %s",
		    (long)lk.pid, why);
	if (lk.pid > 0)
		kill(lk.pid, SIGKILL);
	if (lk.sock != -1)
		close(lk.sock);
	lk.sock = -1;
	lk.ready = 0;
	lk.gone = 0;
	/* Reaped by reap_workers() through lookup_reaped(). */
	lk.restart_at_ms = clock_ms() + LOOKUP_RESTART_MS;
	fail_all(m);
}

/* Its end of the socket closed: it is exiting or died.  Its questions are
 * answered "unavailable" now; lookup_reaped() says how it ended. */
static void
lookup_gone(struct monitor *m)
{
	close(lk.sock);
	lk.sock = -1;
	lk.ready = 0;
	lk.gone = 1;
	lk.restart_at_ms = clock_ms() + LOOKUP_RESTART_MS;
	fail_all(m);
}

/*
 * A send to the lookup process failed.  Its end gone (EPIPE, ECONNRESET):
 * it died, and lookup_reaped() says how, as when the monitor reads its EOF
 * first.  Otherwise its socket is full: it does not read, and is replaced.
 */
static void
send_failed(struct monitor *m, const char *why)
{
	if (errno == EPIPE || errno == ECONNRESET)
		lookup_gone(m);
	else
		lookup_kill(m, why);
}

int
lookup_start(struct monitor *m)
{
	if (!lookup_runs(m))
		return 0;
	lk.restart_at_ms = 0;
	return spawn(m);
}

/* A reload: the settings may have changed.  If they did, the running
 * process ends, its questions are answered "unavailable", and a new one
 * starts; if not, it goes on, and no login in flight notices the reload. */
int
lookup_restart(struct monitor *m)
{
	uint8_t d[32];

	if (lk.sock != -1 && lookup_runs(m) && init_digest(m, d) == 0 &&
	    memcmp(d, lk.init_digest, sizeof(d)) == 0) {
		debug("lookup: its settings did not change: kept running");
		return 0;
	}
	if (lk.pid > 0 || lk.sock != -1)
		lookup_kill(m, NULL);
	memset(&lk.stats, 0, sizeof(lk.stats));
	lk.stats_seen = 0;
	return lookup_start(m);
}

void
lookup_stop(struct monitor *m)
{
	pid_t pid = lk.pid;

	lookup_kill(m, NULL);
	if (pid > 0)
		(void)waitpid(pid, NULL, 0);
	lk.pid = -1;
}

int
lookup_reaped(struct monitor *m, pid_t pid, int status)
{
	if (pid != lk.pid || pid <= 0)
		return 0;
	lk.pid = -1;
	if (lk.sock != -1 || lk.gone) {
		/* Not killed by us: it died. */
		if (WIFSIGNALED(status))
			error("lookup: connect-sshd-lookup died of %s%s; "
			    "logins that need the registry are refused until "
			    "it is back", sigabbrev_np(WTERMSIG(status)) ?
			    sigabbrev_np(WTERMSIG(status)) : "a signal",
			    WTERMSIG(status) == SIGSYS ? " (the sandbox: a "
			    "forbidden system call)" : "");
		else
			error("lookup: connect-sshd-lookup exited with status "
			    "%d; logins that need the registry are refused "
			    "until it is back", WEXITSTATUS(status));
		if (lk.sock != -1)
			lookup_gone(m);
		lk.gone = 0;
	}
	return 1;
}

/* ---- questions ---- */

static int
enqueue(struct monitor *m, enum lk_kind kind, struct worker *w, int admit,
    const struct buf *b, uint64_t id)
{
	struct lk_pending *p;

	if (lk.sock == -1 || lk.n == LOOKUP_MAX_PENDING)
		return -1;
	if (ipc_send(lk.sock, b, NULL, 0) != 0) {
		send_failed(m, "its questions are not read");
		return -1;
	}
	p = &lk.q[(lk.head + lk.n) % LOOKUP_MAX_PENDING];
	p->id = id;
	p->kind = kind;
	p->w = w;
	p->admit = admit;
	p->deadline_ms = clock_ms() + budget_ms(m);
	lk.n++;
	return 0;
}

/* The question's digest: an answer is used only for the question it was
 * asked for. */
static void
question_digest(const struct lookup_question *q, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint32_t lens[4];
	unsigned n = 0;

	lens[0] = (uint32_t)strlen(q->ssh_user);
	lens[1] = (uint32_t)q->key_len;
	lens[2] = (uint32_t)q->ca_len;
	lens[3] = (uint32_t)q->claim;
	memset(out, 0, 32);
	if (ctx == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, lens, sizeof(lens)) != 1 ||
	    EVP_DigestUpdate(ctx, q->ssh_user, lens[0]) != 1 ||
	    (q->key_len > 0 &&
	    EVP_DigestUpdate(ctx, q->key, q->key_len) != 1) ||
	    (q->ca_len > 0 && EVP_DigestUpdate(ctx, q->ca, q->ca_len) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		memset(out, 0xff, 32);
	EVP_MD_CTX_free(ctx);
}

int
lookup_access(struct monitor *m, struct worker *w,
    const struct lookup_question *q, const struct ipc_lookup_facts **out)
{
	static struct ipc_lookup_facts unavailable;
	struct ipc_lookup_access a;
	uint8_t digest[32];
	struct buf b;
	int rc;

	question_digest(q, digest);
	if (w->lk_facts != NULL) {
		/* Run again with the answer: for this question only. */
		*out = memcmp(digest, w->lk_digest, 32) == 0 ? w->lk_facts :
		    NULL;
		if (*out != NULL)
			return 0;
	}
	facts_clear(&unavailable);
	*out = &unavailable;
	if (w->lk_resuming)
		return 0;	/* one question per request */
	memset(&a, 0, sizeof(a));
	a.id = ++lk.next_id;
	snprintf(a.ssh_user, sizeof(a.ssh_user), "%s", q->ssh_user);
	a.key_blob = q->key;
	a.key_blob_len = q->key_len;
	a.ca_blob = q->ca;
	a.ca_blob_len = q->ca_len;
	if (q->claim) {
		a.claim_id = w->session_id;
		a.claim_id_len = w->session_id_len;
		a.claim_ttl_ms = q->claim_ttl_ms;
	}
	buf_init(&b, IPC_MAX_MSG);
	rc = ipc_enc_lookup_access(&b, &a) == 0 ?
	    enqueue(m, LK_ACCESS, w, -1, &b, a.id) : -1;
	buf_free(&b);
	if (rc != 0)
		return 0;	/* answered "unavailable" at once */
	memcpy(w->lk_digest, digest, 32);
	w->lk_id = a.id;
	return 1;
}

static int
send_startup(struct monitor *m, struct worker *w, int admit,
    const char *source, const char *member, int limit, int ttl_ms,
    int release)
{
	struct ipc_lookup_startup s;
	struct buf b;
	int rc;

	memset(&s, 0, sizeof(s));
	s.id = release ? 0 : ++lk.next_id;
	s.release = (uint32_t)release;
	snprintf(s.source, sizeof(s.source), "%s", source);
	snprintf(s.member, sizeof(s.member), "%s", member);
	s.limit = (uint32_t)limit;
	s.ttl_ms = (uint32_t)ttl_ms;
	buf_init(&b, IPC_MAX_MSG);
	if (ipc_enc_lookup_startup(&b, &s) != 0)
		rc = -1;
	else if (release)
		rc = lk.sock != -1 && ipc_send(lk.sock, &b, NULL, 0) == 0 ?
		    0 : -1;
	else
		rc = enqueue(m, LK_STARTUP, w, admit, &b, s.id);
	buf_free(&b);
	if (rc == 0 && w != NULL && !release)
		w->lk_id = s.id;
	return rc;
}

int
lookup_startup(struct monitor *m, struct worker *w, int admit,
    const char *source, const char *member, int limit, int ttl_ms)
{
	return send_startup(m, w, admit, source, member, limit, ttl_ms, 0);
}

void
lookup_release(struct monitor *m, const char *source, const char *member)
{
	(void)send_startup(m, NULL, -1, source, member, 0, 0, 1);
}

/* A worker that ended, or an admission that gave up: its questions'
 * answers will be dropped. */
void
lookup_forget(struct worker *w, int admit)
{
	size_t i;
	struct lk_pending *p;

	for (i = 0; i < lk.n; i++) {
		p = &lk.q[(lk.head + i) % LOOKUP_MAX_PENDING];
		if ((w != NULL && p->w == w) || (admit >= 0 &&
		    p->admit == admit)) {
			p->w = NULL;
			p->admit = -1;
		}
	}
}

/* ---- answers ---- */

static void
take_stats(const struct ipc_lookup_facts *f)
{
	size_t i;

	lk.stats.requests = f->st_requests;
	lk.stats.errors = f->st_errors;
	lk.stats.cache_hits = f->st_cache_hits;
	lk.stats.bad_records = f->st_bad_records;
	lk.stats.latency_us = f->st_latency_us;
	for (i = 0; i < 8; i++)
		lk.stats.latency_le[i] = f->st_latency_le[i];
	lk.stats.up = f->st_up ? 1 : 0;
	lk.stats_seen = 1;
}

/*
 * Once the second whose lines were dropped is over, say how many: at
 * its next line or at the next lookup_tick(), whichever comes first
 * (lookup_next_ms() wakes the loop for it).
 */
static void
log_dropped_flush(uint64_t now_s)
{
	if (lk.log_dropped == 0 || now_s == lk.log_window)
		return;
	logit("lookup: %llu log lines dropped (more than %u a second)",
	    lk.log_dropped, MON_LOG_BURST);
	lk.log_dropped = 0;
}

/*
 * A log line of the lookup process: decoded, escaped and prefixed by the
 * monitor's own logging, at most MON_LOG_BURST a second (beyond that,
 * dropped and counted, as a worker's W_LOG).  0, or -1 after killing it.
 */
static int
log_line(struct monitor *m, struct cursor *c)
{
	struct ipc_log l;
	char line[IPC_MAX_TEXT + 64];
	uint64_t now = clock_ms() / 1000;

	if (ipc_dec_log(c, &l) != 0 || l.level > LOG_LVL_DEBUG) {
		lookup_kill(m, "a malformed L_LOG");
		return -1;
	}
	if (now != lk.log_window) {
		log_dropped_flush(now);	/* and zeroes the count */
		lk.log_window = now;
		lk.log_left = MON_LOG_BURST;
	}
	if (lk.log_left == 0) {
		lk.log_dropped++;
		return 0;
	}
	lk.log_left--;
	snprintf(line, sizeof(line), "lookup %ld: %s", (long)lk.pid, l.text);
	log_raw((enum log_level)l.level, line);
	return 0;
}

/*
 * A scraper on metrics_listen, accepted by the lookup process: its
 * metrics, rendered here, the body only.  The lookup process takes at
 * most LOOKUP_SCRAPES_PER_S itself; more than MON_LOOKUP_SCRAPE_BURST in
 * a second is a lookup process that misbehaves.  0, or -1 after killing
 * it.
 */
static int
on_scrape(struct monitor *m, struct cursor *c)
{
	static const struct registry_stats none;	/* nothing asked yet */
	struct ipc_lookup_scrape q;
	struct ipc_lookup_metrics a;
	struct metrics_gauges g;
	struct buf text, b;
	uint64_t now = clock_ms() / 1000;
	int rc = 0;

	if (m->metrics_fd == -1 || ipc_dec_lookup_scrape(c, &q) != 0) {
		lookup_kill(m, m->metrics_fd == -1 ? "a scrape with no "
		    "metrics_listen" : "a malformed L_SCRAPE");
		return -1;
	}
	if (now != lk.scrape_window) {
		lk.scrape_window = now;
		lk.scrape_left = MON_LOOKUP_SCRAPE_BURST;
	}
	if (lk.scrape_left == 0) {
		lookup_kill(m, "scrapes faster than metrics_listen takes them");
		return -1;
	}
	lk.scrape_left--;
	buf_init(&text, IPC_MAX_METRICS);
	metrics_gauges(m, &g);
	metrics_render(&text, &g, !lookup_enabled(m) ? NULL :
	    lookup_stats() != NULL ? lookup_stats() : &none, m->loop_max_us);
	if (buf_ok(&text) != 0) {
		error("metrics: over %d bytes", IPC_MAX_METRICS);
		buf_reset(&text);
	}
	a.id = q.id;
	a.text = text.data;
	a.text_len = text.len;
	buf_init(&b, IPC_MAX_MSG);
	/* Never waits: the socket's buffer holds 1 MiB, and a process
	 * that does not read its answers is replaced. */
	if (ipc_enc_lookup_metrics(&b, &a) != 0) {
		lookup_kill(m, "its metrics do not fit a message");
		rc = -1;
	} else if (ipc_send(lk.sock, &b, NULL, 0) != 0) {
		send_failed(m, "its metrics are not read");
		rc = -1;
	}
	buf_free(&b);
	buf_free(&text);
	return rc;
}

/* The head of the FIFO, if msg answers it (kind and id); else the
 * process is killed. */
static int
pop_head(struct monitor *m, enum lk_kind kind, uint64_t id,
    struct lk_pending *out)
{
	if (lk.n == 0 || lk.q[lk.head].kind != kind ||
	    lk.q[lk.head].id != id) {
		lookup_kill(m, "an answer to no question asked");
		return -1;
	}
	*out = lk.q[lk.head];
	lk.head = (lk.head + 1) % LOOKUP_MAX_PENDING;
	lk.n--;
	return 0;
}

static void
on_facts(struct monitor *m, struct cursor *c)
{
	static struct ipc_lookup_facts f;
	struct lk_pending p;
	const char *why;

	if (ipc_dec_lookup_facts(c, &f) != 0) {
		lookup_kill(m, "a malformed L_FACTS");
		return;
	}
	if (facts_check(&f, &why) != 0) {
		char text[160];

		snprintf(text, sizeof(text), "facts with %s", why);
		lookup_kill(m, text);
		return;
	}
	if (pop_head(m, LK_ACCESS, f.id, &p) != 0)
		return;
	take_stats(&f);
	/* Answered "unavailable" already, or its worker is gone. */
	if (p.w != NULL && p.w->lk_id == p.id)
		dispatch_lookup_answer(m, p.w, &f);
}

static void
on_counted(struct monitor *m, struct cursor *c)
{
	struct ipc_lookup_counted a;
	struct lk_pending p;

	if (ipc_dec_lookup_counted(c, &a) != 0 || a.result < -1 ||
	    a.result > 1) {
		lookup_kill(m, "a malformed L_COUNTED");
		return;
	}
	if (pop_head(m, LK_STARTUP, a.id, &p) != 0)
		return;
	if (p.w != NULL && p.w->lk_id == p.id)
		dispatch_lookup_counted(m, p.w, a.result);
	else if (p.admit >= 0)
		admission_counted(m, p.admit, a.result);
}

int
lookup_fd(void)
{
	return lk.sock;
}

void
lookup_readable(struct monitor *m)
{
	uint8_t msg[IPC_MAX_MSG];
	int fds[IPC_MAX_FDS], nfds, i;
	struct cursor c;
	unsigned type;
	long n;

	/* A bounded batch: the lookup cannot keep the monitor here. */
	for (i = 0; i < 64 && lk.sock != -1; i++) {
		n = ipc_recv(lk.sock, msg, &type, fds, &nfds);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == 0) {
			lookup_gone(m);
			return;
		}
		if (n < 0) {
			lookup_kill(m, "a malformed message");
			return;
		}
		cursor_init(&c, msg + 2, (size_t)n - 2);
		/* Log lines come in any state: start-up errors too. */
		if (type == IPC_L_LOG) {
			if (log_line(m, &c) != 0)
				return;
			continue;
		}
		if (!lk.ready) {
			if (type != IPC_L_READY || cursor_end(&c) != 0) {
				lookup_kill(m, "no L_READY first");
				return;
			}
			lk.ready = 1;
			debug("lookup: ready");
			continue;
		}
		switch (type) {
		case IPC_L_FACTS:
			on_facts(m, &c);
			break;
		case IPC_L_COUNTED:
			on_counted(m, &c);
			break;
		case IPC_L_SCRAPE:
			if (on_scrape(m, &c) != 0)
				return;
			break;
		default:
			lookup_kill(m, "a message it may not send");
			return;
		}
	}
}

/* ---- time ---- */

/* Questions past their budget are answered "unavailable"; a process whose
 * oldest question is far past it has stopped answering: it is replaced.
 * A process that died is started again. */
void
lookup_tick(struct monitor *m)
{
	uint64_t now = clock_ms();
	struct lk_pending *p;
	size_t i;

	if (!lookup_runs(m))
		return;
	log_dropped_flush(now / 1000);
	for (i = 0; i < lk.n; i++) {
		p = &lk.q[(lk.head + i) % LOOKUP_MAX_PENDING];
		if (now < p->deadline_ms || (p->w == NULL && p->admit < 0))
			continue;
		if (p->kind == LK_ACCESS && p->w != NULL) {
			struct worker *w = p->w;

			p->w = NULL;
			dispatch_lookup_answer(m, w, NULL);
		} else if (p->kind == LK_STARTUP && p->w != NULL) {
			struct worker *w = p->w;

			p->w = NULL;
			dispatch_lookup_counted(m, w, -1);
		} else if (p->kind == LK_STARTUP && p->admit >= 0) {
			int admit = p->admit;

			p->admit = -1;
			admission_counted(m, admit, -1);
		}
	}
	if (lk.n > 0 && now > lk.q[lk.head].deadline_ms + 4 * budget_ms(m))
		lookup_kill(m, "no answer for far longer than "
		    "registry.timeout_ms allows");
	if (lk.sock == -1 && lk.pid <= 0 && now >= lk.restart_at_ms &&
	    !m->quit) {
		if (spawn(m) != 0)
			lk.restart_at_ms = now + LOOKUP_RESTART_MS;
	}
}

/* ms until lookup_tick() has something to do, or -1. */
long long
lookup_next_ms(const struct monitor *m)
{
	uint64_t now = clock_ms(), next = 0;
	size_t i;
	const struct lk_pending *p;

	if (!lookup_runs(m))
		return -1;
	if (lk.sock == -1 && lk.pid <= 0)
		next = lk.restart_at_ms;
	for (i = 0; i < lk.n; i++) {
		p = &lk.q[(lk.head + i) % LOOKUP_MAX_PENDING];
		if (p->w == NULL && p->admit < 0)
			continue;
		if (next == 0 || p->deadline_ms < next)
			next = p->deadline_ms;
	}
	if (lk.n > 0 && (next == 0 ||
	    lk.q[lk.head].deadline_ms + 4 * budget_ms(m) < next))
		next = lk.q[lk.head].deadline_ms + 4 * budget_ms(m);
	if (lk.log_dropped > 0 &&
	    (next == 0 || (lk.log_window + 1) * 1000 < next))
		next = (lk.log_window + 1) * 1000;
	if (next == 0)
		return -1;
	return next <= now ? 0 : (long long)(next - now);
}

const struct registry_stats *
lookup_stats(void)
{
	return lk.stats_seen ? &lk.stats : NULL;
}
