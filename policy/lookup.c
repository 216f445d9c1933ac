/*
 * lookup.c - connect-sshd-lookup: the registry client, out of the monitor.
 *
 * The monitor holds the gateway key and must neither parse what comes
 * from the network nor wait on it.  Redis replies are both: this process,
 * started by the monitor with fork+exec, sandboxed before it speaks to
 * Redis (lookup_sandbox.c), asks the registry the monitor's questions and
 * answers with what the registry said (facts.h).  It decides nothing: the
 * monitor runs the policy over the answers, checks each of them, and
 * keeps the verdict.  One question at a time, in order; the monitor
 * meanwhile serves everyone else and times out a question that takes
 * longer than the registry's timeout_ms allows.
 *
 * Its trust (connect-sshd-lookup(8)): what the registry's data grants.  A
 * lookup process that lies can grant what a forged Redis record could,
 * refuse logins, and miscount per-source startups; it cannot sign, read
 * the key, pass a signature check or widen the file's settings.
 */
#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "facts.h"
#include "ipc.h"
#include "log.h"
#include "lookup.h"
#include "policy.h"
#include "registry.h"
#include "scrape.h"

static int ipc_fd = IPC_LOOKUP_FD;

/* The IPC socket at fd 3, metrics_listen at fd 4 (the monitor's L_INIT
 * says whether it is one), and stdio; nothing else may leak in. */
static void
fixed_fds(void)
{
	int fl;

	if ((fl = fcntl(IPC_LOOKUP_FD, F_GETFD)) == -1)
		_exit(3);
	(void)fcntl(IPC_LOOKUP_FD, F_SETFD, fl | FD_CLOEXEC);
	if ((fl = fcntl(IPC_LOOKUP_METRICS_FD, F_GETFD)) != -1)
		(void)fcntl(IPC_LOOKUP_METRICS_FD, F_SETFD, fl | FD_CLOEXEC);
	closefrom(IPC_LOOKUP_METRICS_FD + 1);
}

static void
send_msg(const struct buf *b)
{
	if (buf_ok(b) != 0 || ipc_send(ipc_fd, b, NULL, 0) != 0)
		fatal("cannot answer the monitor: %s", strerror(errno));
}

/*
 * Log lines go to the monitor as L_LOG, which it formats, escapes and
 * rate-limits as a worker's: this process has no descriptor on the log
 * (its stderr is /dev/null outside debug mode and the sanitizer build),
 * so a compromised one cannot write a line that reads as the monitor's.
 * A line the socket does not take is dropped (a sink cannot fail).
 */
static void
log_to_monitor(enum log_level level, const char *line)
{
	struct ipc_log l;
	struct buf b;

	memset(&l, 0, sizeof(l));
	l.level = (uint32_t)level;
	snprintf(l.text, sizeof(l.text), "%s", line);
	buf_init(&b, IPC_MAX_MSG);
	if (ipc_enc_lookup_log(&b, &l) == 0)
		(void)ipc_send(ipc_fd, &b, NULL, 0);
	buf_free(&b);
}

/* One message from the monitor of the expected type, or exit: the
 * monitor has gone (EOF), which ends this process too. */
static long
recv_msg(uint8_t *msg, unsigned *type)
{
	int fds[IPC_MAX_FDS], nfds;
	long n;

	do
		n = ipc_recv(ipc_fd, msg, type, fds, &nfds);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		_exit(0);
	if (n < 0)
		fatal("bad message from the monitor: %s", strerror(errno));
	return n;
}

static void
init_registry_cfg(const struct ipc_lookup_init *in, struct cfg_registry *c)
{
	memset(c, 0, sizeof(*c));
	c->backend = CFG_REGISTRY_REDIS;
	c->host = (char *)in->host;
	c->port = (char *)in->port;
	c->db = (int)in->db;
	c->user = in->user[0] ? (char *)in->user : NULL;
	c->password = in->password[0] ? (char *)in->password : NULL;
	c->prefix = (char *)in->prefix;
	c->timeout_ms = (int)in->timeout_ms;
	c->cache_ttl = (int)in->cache_ttl;
}

static void
put_stats(struct ipc_lookup_facts *f, const struct registry_redis *r)
{
	const struct registry_stats *st = registry_redis_stats(r);
	size_t i;

	f->st_requests = st->requests;
	f->st_errors = st->errors;
	f->st_cache_hits = st->cache_hits;
	f->st_bad_records = st->bad_records;
	f->st_latency_us = st->latency_us;
	for (i = 0; i < 8; i++)
		f->st_latency_le[i] = st->latency_le[i];
	f->st_up = st->up ? 1 : 0;
}

/* The facts of one login decision (ipc.h, IPC_L_ACCESS). */
static void
answer_access(struct registry_redis *r, const struct policy_backend *redis,
    struct cursor *c)
{
	static struct ipc_lookup_facts f;
	struct ipc_lookup_access q;
	struct facts_recorder rec;
	struct policy_backend be;
	struct policy_request req;
	struct policy_decision d;
	struct buf b;

	if (ipc_dec_lookup_access(c, &q) != 0)
		fatal("malformed L_ACCESS from the monitor");
	facts_clear(&f);
	f.id = q.id;
	facts_recording_backend(&be, &rec, redis, &f);
	memset(&req, 0, sizeof(req));
	req.ssh_user = q.ssh_user;
	if (q.key_blob_len > 0) {
		req.key_blob = q.key_blob;
		req.key_len = q.key_blob_len;
	}
	/* The same function the monitor runs, so the same questions. */
	if (policy_check(&be, &req, &d) == POLICY_ALLOW && q.ca_blob_len > 0)
		(void)be.user_ca(be.ctx, q.ca_blob, q.ca_blob_len);
	if (q.claim_id_len > 0)
		f.claimed = registry_redis_replay_claim(r, q.claim_id,
		    q.claim_id_len, (int)q.claim_ttl_ms);
	put_stats(&f, r);
	buf_init(&b, IPC_MAX_MSG);
	if (ipc_enc_lookup_facts(&b, &f) != 0)
		fatal("facts do not fit a message");
	send_msg(&b);
	buf_free(&b);
}

/* A scraper is waiting: its metrics, please (IPC_L_SCRAPE). */
static void
ask_metrics(uint64_t id)
{
	struct ipc_lookup_scrape q;
	struct buf b;

	q.id = id;
	buf_init(&b, IPC_MAX_MSG);
	(void)ipc_enc_lookup_scrape(&b, &q);
	send_msg(&b);
	buf_free(&b);
}

static void
answer_scraper(struct cursor *c)
{
	struct ipc_lookup_metrics a;

	if (ipc_dec_lookup_metrics(c, &a) != 0 ||
	    scrape_answer(a.id, a.text, a.text_len) != 0)
		fatal("malformed L_METRICS from the monitor");
}

/* per_source_max_startups across replicas (IPC_L_STARTUP). */
static void
answer_startup(struct registry_redis *r, struct cursor *c)
{
	struct ipc_lookup_startup q;
	struct ipc_lookup_counted a;
	struct buf b;

	if (ipc_dec_lookup_startup(c, &q) != 0 || q.release > 1)
		fatal("malformed L_STARTUP from the monitor");
	if (q.release) {
		/* No answer: the monitor does not wait for a release. */
		registry_redis_startup_release(r, q.source, q.member);
		return;
	}
	a.id = q.id;
	a.result = registry_redis_startup_take(r, q.source, q.member,
	    (int)q.limit, (int)q.ttl_ms);
	buf_init(&b, IPC_MAX_MSG);
	(void)ipc_enc_lookup_counted(&b, &a);
	send_msg(&b);
	buf_free(&b);
}

int
main(int argc, char **argv)
{
	static uint8_t msg[IPC_MAX_MSG];
	static struct ipc_lookup_init in;
	struct pollfd pfd[1 + SCRAPE_POLLFDS];
	struct cfg_registry cfg;
	struct registry_redis *r = NULL;
	struct policy_backend redis;
	struct cursor c;
	struct buf b;
	unsigned type;
	size_t npfd;
	long n;

	(void)argc;
	(void)argv;
	fixed_fds();
	signal(SIGPIPE, SIG_IGN);
	log_init("connect-sshd-lookup", LOG_LVL_INFO, LOG_FMT_TEXT);
	log_set_sink(log_to_monitor);
	n = recv_msg(msg, &type);
	cursor_init(&c, msg + 2, (size_t)n - 2);
	if (type != IPC_L_INIT || ipc_dec_lookup_init(&c, &in) != 0 ||
	    in.version != IPC_PROTO_VERSION)
		fatal("bad start-up settings from the monitor");
	log_init("connect-sshd-lookup", (enum log_level)in.log_level,
	    (enum log_format)in.log_format);
	if (in.flags & IPC_LOOKUP_METRICS)
		scrape_init(IPC_LOOKUP_METRICS_FD);
	else {
		(void)close(IPC_LOOKUP_METRICS_FD);
		scrape_init(-1);
	}
	lookup_sandbox_enter(&in);
	if (in.flags & IPC_LOOKUP_REDIS) {
		init_registry_cfg(&in, &cfg);
		if ((r = registry_redis_new(&cfg)) == NULL)
			fatal("out of memory");
		registry_redis_set_rsa_min_bits(r, in.rsa_min_bits);
		policy_redis_backend(&redis, r,
		    (in.flags & IPC_LOOKUP_ENABLED) != 0);
	}
	explicit_bzero(in.password, sizeof(in.password));
	buf_init(&b, IPC_MAX_MSG);
	(void)ipc_enc_empty(&b, IPC_L_READY);
	send_msg(&b);
	buf_free(&b);
	for (;;) {
		pfd[0].fd = ipc_fd;
		pfd[0].events = POLLIN;
		npfd = 1 + scrape_pollfds(pfd + 1);
		if (poll(pfd, npfd, scrape_timeout_ms()) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll: %s", strerror(errno));
		}
		scrape_events(pfd + 1, npfd - 1, ask_metrics);
		if (pfd[0].revents == 0)
			continue;
		n = recv_msg(msg, &type);
		cursor_init(&c, msg + 2, (size_t)n - 2);
		if ((type == IPC_L_ACCESS || type == IPC_L_STARTUP) &&
		    r == NULL)
			fatal("%s from the monitor, with no Redis registry",
			    ipc_type_name(type));
		switch (type) {
		case IPC_L_ACCESS:
			answer_access(r, &redis, &c);
			break;
		case IPC_L_STARTUP:
			answer_startup(r, &c);
			break;
		case IPC_L_METRICS:
			answer_scraper(&c);
			break;
		default:
			fatal("unexpected %s from the monitor",
			    ipc_type_name(type));
		}
	}
}
