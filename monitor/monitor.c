/*
 * monitor.c - the monitor's event loop: listeners, the worker pool, IPC.
 *
 * The monitor accepts every TCP connection itself and passes the socket to
 * an idle worker; the listening sockets never enter a worker.  Workers are
 * started with fork+exec (posix_spawn) of connect-sshd-worker, so each is
 * a fresh image with fresh ASLR and none of the monitor's memory -- the
 * gateway key included.  A worker serves one connection and exits; the
 * pool is refilled to workers.prefork idle workers.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "clock.h"
#include "monitor.h"
#include "replay.h"
#include "registry.h"
#include "sshwire.h"

static int sig_fd = -1;		/* write end of the self-pipe */

static const char *const state_names[WS_NSTATES] = {
	[WS_STARTING] = "starting",
	[WS_IDLE] = "idle",
	[WS_PROXY] = "proxy",
	[WS_PREAUTH] = "preauth",
	[WS_KEYED] = "keyed",
	[WS_AUTHED] = "authenticated",
	[WS_ROUTING] = "routing",
	[WS_ROUTED] = "routed",
	[WS_CLOSING] = "closing",
};

const char *
wstate_name(enum wstate s)
{
	return (unsigned)s < WS_NSTATES ? state_names[s] : "unknown";
}

/*
 * The state changes of connect-sshd-ipc(7), STATES, and only those (its
 * list and this table are compared by tests/contract/check.py); any
 * state may also go to closing (a refusal, a failed route, a kill).
 */
static const struct {
	enum wstate from, to;
} transitions[] = {
	{ WS_STARTING,	WS_IDLE },	/* W_READY */
	{ WS_IDLE,	WS_PREAUTH },	/* M_CLIENT */
	{ WS_IDLE,	WS_PROXY },	/* M_CLIENT from a PROXY listener */
	{ WS_PROXY,	WS_PREAUTH },	/* W_PROXY, M_PROXY_REPLY 1 */
	{ WS_PREAUTH,	WS_KEYED },	/* the first W_SIGN */
	{ WS_KEYED,	WS_AUTHED },	/* W_VERIFY accepted */
	{ WS_AUTHED,	WS_ROUTING },	/* W_ROUTE */
	{ WS_ROUTING,	WS_ROUTED },	/* M_ROUTE or M_ROUTE_CERT */
};

/* Every state change but a new worker's first: 0, or -1 after killing a
 * worker the monitor itself tried to move along an edge the table does
 * not have (a monitor bug, never a worker's doing). */
int
worker_set_state(struct monitor *m, struct worker *w, enum wstate to)
{
	size_t i;

	if (to == WS_CLOSING) {
		w->state = to;
		return 0;
	}
	for (i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
		if (transitions[i].from == w->state && transitions[i].to == to) {
			w->state = to;
			return 0;
		}
	worker_kill(m, w, "internal error: no transition from %s to %s",
	    wstate_name(w->state), wstate_name(to));
	return -1;
}

static void
on_signal(int sig)
{
	unsigned char s = (unsigned char)sig;
	int saved = errno;

	if (write(sig_fd, &s, 1) < 0) {
		/* the pipe is full: a wakeup is already pending */
	}
	errno = saved;
}

static int
setup_signals(struct monitor *m)
{
	struct sigaction sa;
	int i, fl;

	if (pipe2(m->sigpipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	for (i = 0; i < 2; i++)
		if ((fl = fcntl(m->sigpipe[i], F_GETFL)) == -1)
			return -1;
	sig_fd = m->sigpipe[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGCHLD, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* ---- listeners ---- */

int
monitor_listen_one(const struct cfg_listen *l, int *out)
{
	struct addrinfo hints, *ai = NULL;
	int s, one = 1, zero = 0, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = l->host[0] ? AF_UNSPEC : AF_INET6;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(l->host[0] ? l->host : NULL, l->port, &hints,
	    &ai)) != 0) {
		error("listen %s:%s: %s", l->host, l->port, gai_strerror(rc));
		return -1;
	}
	s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (s == -1)
		goto fail;
	(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* ":port" listens on both IPv6 and IPv4. */
	if (ai->ai_family == AF_INET6 && l->host[0] == '\0')
		(void)setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
		    sizeof(zero));
	if (bind(s, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(s, SOMAXCONN) == -1)
		goto fail;
	freeaddrinfo(ai);
	*out = s;
	return 0;
 fail:
	error("listen on %s%s%s:%s: %s", l->host[0] && strchr(l->host, ':') ?
	    "[" : "", l->host, l->host[0] && strchr(l->host, ':') ? "]" : "",
	    l->port, strerror(errno));
	if (s != -1)
		close(s);
	freeaddrinfo(ai);
	return -1;
}

static int
open_listeners(struct monitor *m)
{
	size_t i;

	m->listen_fds = calloc(m->cfg->nlisten, sizeof(int));
	if (m->listen_fds == NULL)
		return -1;
	for (i = 0; i < m->cfg->nlisten; i++) {
		if (monitor_listen_one(&m->cfg->listen[i],
		    &m->listen_fds[i]) != 0) {
			while (m->nlisten > 0)
				close(m->listen_fds[--m->nlisten]);
			free(m->listen_fds);
			m->listen_fds = NULL;
			return -1;
		}
		m->nlisten++;
		logit("listening on %s:%s", m->cfg->listen[i].host[0] ?
		    m->cfg->listen[i].host : "*", m->cfg->listen[i].port);
	}
	return 0;
}

/* ---- workers ---- */

static int
send_init(struct monitor *m, struct worker *w)
{
	struct ipc_init in;
	struct buf b;
	int rc;

	memset(&in, 0, sizeof(in));
	in.version = IPC_PROTO_VERSION;
	in.log_level = (uint32_t)log_get_level();
	in.flags = m->init_flags;
	if (m->cfg->forwarding.local)
		in.flags |= IPC_INIT_FWD_LOCAL;
	if (m->cfg->forwarding.remote)
		in.flags |= IPC_INIT_FWD_REMOTE;
	if (m->cfg->forwarding.agent)
		in.flags |= IPC_INIT_FWD_AGENT;
	in.uid = (uint32_t)m->worker_uid;
	in.gid = (uint32_t)m->worker_gid;
	in.login_grace_time = (uint32_t)m->cfg->limits.login_grace_time;
	in.upstream_timeout = (uint32_t)m->cfg->limits.upstream_connect_timeout;
	in.idle_timeout = (uint32_t)m->cfg->limits.idle_timeout;
	in.keepalive_interval = (uint32_t)m->cfg->limits.keepalive_interval;
	in.keepalive_count_max = (uint32_t)m->cfg->limits.keepalive_count_max;
	in.max_auth_tries = (uint32_t)m->cfg->limits.max_auth_tries;
	w->init_max_auth_tries = in.max_auth_tries;
	snprintf(in.chroot_dir, sizeof(in.chroot_dir), "%s",
	    m->cfg->workers.chroot);
	/* The safe sets fit (config.c); a failure here is a bug. */
	if (config_join(m->cfg->algorithms.kex, m->cfg->algorithms.nkex,
	    in.kex, sizeof(in.kex)) != 0 ||
	    config_join(m->cfg->algorithms.ciphers,
	    m->cfg->algorithms.nciphers, in.ciphers, sizeof(in.ciphers)) != 0 ||
	    config_join(m->cfg->algorithms.macs, m->cfg->algorithms.nmacs,
	    in.macs, sizeof(in.macs)) != 0)
		return -1;
	/* What W_KEX may name: the lists this worker was given (a reload
	 * changes them for new workers only). */
	memcpy(w->init_kex, in.kex, sizeof(w->init_kex));
	memcpy(w->init_ciphers, in.ciphers, sizeof(w->init_ciphers));
	memcpy(w->init_macs, in.macs, sizeof(w->init_macs));
	in.hostkey_blob = hostkey_blob(m->key, &in.hostkey_blob_len);
	buf_init(&b, IPC_MAX_MSG);
	rc = ipc_enc_init(&b, &in) == 0 ? ipc_send(w->sock, &b, NULL, 0) : -1;
	buf_free(&b);
	return rc;
}

static struct worker *
worker_spawn(struct monitor *m)
{
	static char *const envp[] = { NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *argv[] = { "connect-sshd-worker", NULL };
	struct worker *w;
	int sv[2], rc;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->sock = w->client_fd = w->upstream_fd = w->agent_fd = -1;
	w->exit_status = -1;
	w->workspace = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		error("socketpair: %s", strerror(errno));
		free(w);
		return NULL;
	}
	/* The child gets exactly: /dev/null on 0-2 (stderr kept in debug
	 * mode and in the sanitizer build, for its reports) and its IPC
	 * socket on fd 3.  Everything else the monitor holds is
	 * close-on-exec. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (!m->debug && !SANITIZER_BUILD)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null",
		    O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], IPC_WORKER_FD);
	/* A session of its own: a Ctrl-C or SIGHUP meant for the monitor's
	 * terminal must not reach the workers; the monitor stops them. */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	rc = posix_spawn(&w->pid, m->cfg->workers.program, &fa, &attr, argv,
	    envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (rc != 0) {
		error("cannot start worker %s: %s", m->cfg->workers.program,
		    strerror(rc));
		close(sv[0]);
		free(w);
		return NULL;
	}
	w->sock = sv[0];
	(void)fcntl(w->sock, F_SETFL, O_NONBLOCK);
	w->state = WS_STARTING;
	w->next = m->workers;
	m->workers = w;
	m->nworkers++;
	if (send_init(m, w) != 0)
		worker_kill(m, w, "cannot send start-up settings: %s",
		    strerror(errno));
	return w;
}

int
worker_send(struct monitor *m, struct worker *w, const struct buf *b,
    const int *fds, int nfds)
{
	if (w->sock == -1)
		return -1;
	if (ipc_send(w->sock, b, fds, nfds) != 0) {
		/* The socket buffer is full or gone: a worker that does not
		 * read its answers is broken or hostile. */
		worker_kill(m, w, "cannot send to worker: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void
close_worker_fds(struct worker *w)
{
	int *fds[] = { &w->sock, &w->client_fd, &w->upstream_fd,
	    &w->agent_fd };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] != -1)
			close(*fds[i]);
		*fds[i] = -1;
	}
	w->has_deadline = 0;
}

void
worker_kill(struct monitor *m, struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->kill_reason[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(w->kill_reason, sizeof(w->kill_reason), fmt, ap);
	va_end(ap);
	error("killing worker %ld (conn %llu, state %s): %s", (long)w->pid,
	    (unsigned long long)w->conn_id, wstate_name(w->state),
	    w->kill_reason);
	/* Once reaped, the pid may belong to another process. */
	if (!w->reaped)
		kill(w->pid, SIGKILL);
	close_worker_fds(w);
	(void)worker_set_state(m, w, WS_CLOSING);
}

static const char *
describe_exit(const struct worker *w, int status, char *out, size_t outsz)
{
	if (w->kill_reason[0] != '\0')
		snprintf(out, outsz, "killed by the monitor: %s",
		    w->kill_reason);
	else if (WIFEXITED(status))
		snprintf(out, outsz, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(out, outsz, "killed by the sandbox (SIGSYS: a "
		    "forbidden system call)");
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(out, outsz, "login grace time exceeded");
	else if (WIFSIGNALED(status))
		snprintf(out, outsz, "killed by signal %s",
		    sigabbrev_np(WTERMSIG(status)) ?
		    sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(out, outsz, "ended (status 0x%x)", status);
	return out;
}

static void
worker_ended(struct monitor *m, struct worker *w, int status)
{
	char how[256];
	struct timespec now;
	long long ms;

	w->reaped = 1;
	dispatch_drain(m, w);
	describe_exit(w, status, how, sizeof(how));
	channels_worker_ended(w);
	monitor_shared_release(m, w);
	if (w->conn_id != 0) {
		clock_now(&now);
		ms = (long long)(now.tv_sec - w->t_connect.tv_sec) * 1000 +
		    (now.tv_nsec - w->t_connect.tv_nsec) / 1000000;
		AUDIT("session.closed", AF_N("conn", w->conn_id),
		    AF_S("peer", w->peer), AF_S("user", w->user),
		    AF_S("session", w->session),
		    AF_N("duration_ms", ms), AF_N("bytes_in", w->bytes_in),
		    AF_N("bytes_out", w->bytes_out),
		    AF_N("exit_status", w->exit_status),
		    AF_S("exit_signal", w->exit_signal), AF_S("worker", how));
	}
	if ((WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    w->kill_reason[0] == '\0') || w->retired ||
	    (m->quit && w->conn_id == 0))
		debug("worker %ld %s", (long)w->pid, how);
	else if (w->kill_reason[0] != '\0' || (WIFSIGNALED(status) &&
	    WTERMSIG(status) != SIGALRM) || w->conn_id == 0)
		error("worker %ld (conn %llu) %s", (long)w->pid,
		    (unsigned long long)w->conn_id, how);
	else
		logit("worker %ld (conn %llu) %s", (long)w->pid,
		    (unsigned long long)w->conn_id, how);
	close_worker_fds(w);
	buf_free(&w->agent_in);
}

static void
reap_workers(struct monitor *m)
{
	struct worker **wp, *w;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (wp = &m->workers; (w = *wp) != NULL; wp = &w->next)
			if (w->pid == pid)
				break;
		if (w == NULL)
			continue;
		*wp = w->next;
		m->nworkers--;
		worker_ended(m, w, status);
		free(w);
	}
}

static size_t
count_idle(const struct monitor *m)
{
	const struct worker *w;
	size_t n = 0;

	for (w = m->workers; w != NULL; w = w->next)
		if (w->state == WS_IDLE)
			n++;
	return n;
}

/* Ready for the service manager once the listeners are open and the
 * pre-forked workers have reported in: a client accepted then is served
 * by a worker that is already sandboxed and waiting. */
static void
notify_ready(struct monitor *m)
{
	if (m->ready_sent ||
	    count_idle(m) < (size_t)m->cfg->workers.prefork)
		return;
	m->ready_sent = 1;
	notify_send("READY=1\nSTATUS=serving: %zu listener(s), %zu idle "
	    "worker(s)", m->nlisten, count_idle(m));
	debug("told the service manager: ready");
}

static size_t
count_spare(const struct monitor *m)
{
	const struct worker *w;
	size_t n = 0;

	for (w = m->workers; w != NULL; w = w->next)
		if ((w->state == WS_STARTING && w->client_fd == -1) ||
		    w->state == WS_IDLE)
			n++;
	return n;
}

/* Keep workers.prefork spare workers, but back off if they die at once
 * (a broken worker binary must not turn into a fork loop). */
static void
refill_pool(struct monitor *m)
{
	static time_t last_fail;
	size_t spare = count_spare(m);

	while (spare < (size_t)m->cfg->workers.prefork &&
	    m->nworkers < (size_t)m->cfg->limits.max_sessions +
	    (size_t)m->cfg->workers.prefork) {
		if (time(NULL) == last_fail)
			return;
		if (worker_spawn(m) == NULL) {
			last_fail = time(NULL);
			return;
		}
		spare++;
	}
}

/* Stop the idle and starting workers: after a reload they hold old
 * settings, during a drain they are not needed.  They have no client, so
 * SIGKILL is quiet, and nothing they still have to say matters: their
 * IPC is closed at once, so that a W_READY already on its way is never
 * read in the state that forbids it. */
static void
retire_idle(struct monitor *m)
{
	struct worker *w;

	for (w = m->workers; w != NULL; w = w->next)
		if (w->conn_id == 0 && !w->retired) {
			w->retired = 1;
			(void)worker_set_state(m, w, WS_CLOSING);
			kill(w->pid, SIGKILL);
			close_worker_fds(w);
		}
}

static struct worker *
take_idle(struct monitor *m)
{
	struct worker *w;

	for (w = m->workers; w != NULL; w = w->next)
		if (w->state == WS_IDLE)
			return w;
	return NULL;
}

void
monitor_format_peer(const struct sockaddr_storage *ss, char *out,
    size_t outsz)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
		/* Show v4-mapped peers of a dual-stack listener as v4. */
		if (strncmp(host, "::ffff:", 7) == 0 && strchr(host, '.')) {
			memmove(host, host + 7, strlen(host + 7) + 1);
			snprintf(out, outsz, "%s:%d", host, port);
			return;
		}
		snprintf(out, outsz, "[%s]:%d", host, port);
		return;
	}
	snprintf(out, outsz, "%s:%d", host, port);
}

/* The part of a peer address that per-source limits count by: an IPv4
 * address (also when v4-mapped), or the /64 of an IPv6 one. */
size_t
monitor_source_key(const struct sockaddr_storage *ss, uint8_t key[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (ss->ss_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)(const void *)ss)->
		    sin_addr, 4);
		return 4;
	}
	if (ss->ss_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)
		    (const void *)ss)->sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memcpy(key, a + 12, 4);
			return 4;
		}
		memcpy(key, a, 8);
		return 8;
	}
	return 0;
}

/* Not yet authenticated: handed a client, no verified login. */
static int
unauthenticated(const struct worker *w)
{
	return w->conn_id != 0 && (w->state == WS_STARTING ||
	    w->state == WS_PROXY || w->state == WS_PREAUTH ||
	    w->state == WS_KEYED);
}

/*
 * max_startups and per_source_max_startups, as OpenSSH's MaxStartups and
 * PerSourceMaxStartups: the reason to refuse a new connection from src,
 * or NULL.  Between start and full, refuse with a probability that grows
 * from rate% to 100%.
 */
static const char *
startup_refusal(const struct monitor *m, const uint8_t *src, size_t srclen)
{
	const struct cfg_limits *lim = &m->cfg->limits;
	const struct worker *w;
	const char *why;
	int unauth = 0, p;

	if ((why = monitor_source_refusal(m, NULL, src, srclen)) != NULL)
		return why;
	for (w = m->workers; w != NULL; w = w->next)
		if (unauthenticated(w))
			unauth++;
	if (unauth >= lim->startups_full)
		return "max-startups";
	if (unauth < lim->startups_begin)
		return NULL;
	p = lim->startups_rate + (100 - lim->startups_rate) *
	    (unauth - lim->startups_begin) /
	    (lim->startups_full - lim->startups_begin);
	return (int)arc4random_uniform(100) < p ? "max-startups" : NULL;
}

/* per_source_max_startups alone: also applied when a PROXY header has
 * named the real source of a connection (self, not counted). */
const char *
monitor_source_refusal(const struct monitor *m, const struct worker *self,
    const uint8_t *src, size_t srclen)
{
	const struct worker *w;
	int same = 0;

	if (m->cfg->limits.per_source_max_startups == 0 || srclen == 0)
		return NULL;
	for (w = m->workers; w != NULL; w = w->next)
		if (w != self && unauthenticated(w) && w->src_len == srclen &&
		    memcmp(w->src, src, srclen) == 0)
			same++;
	return same >= m->cfg->limits.per_source_max_startups ?
	    "per-source-max-startups" : NULL;
}

/* "<source hex>" and "<instance>:<conn>", the shared count's names. */
static void
shared_names(const struct monitor *m, uint64_t conn_id, const uint8_t *src,
    size_t srclen, char *source, size_t sourcesz, char *member,
    size_t membersz)
{
	size_t i;

	source[0] = '\0';
	for (i = 0; i < srclen && 2 * i + 2 < sourcesz; i++)
		snprintf(source + 2 * i, 3, "%02x", src[i]);
	snprintf(member, membersz, "%s:%llu", m->instance,
	    (unsigned long long)conn_id);
}

/*
 * The local count (monitor_source_refusal) has let the connection in;
 * with a Redis registry the replicas' shared count decides too.  A
 * registry that cannot answer leaves the local count alone in charge:
 * logins are refused then anyway.
 */
int
monitor_shared_startup(struct monitor *m, struct worker *w, uint64_t conn_id,
    const uint8_t *src, size_t srclen)
{
	const struct cfg_limits *lim = &m->cfg->limits;
	char source[40], member[48];
	int rc;

	if (m->registry == NULL || lim->per_source_max_startups == 0 ||
	    srclen == 0)
		return 0;
	shared_names(m, conn_id, src, srclen, source, sizeof(source), member,
	    sizeof(member));
	/* Counted until authenticated, at most for as long as a login may
	 * take: a replica that dies leaves nothing behind for longer. */
	rc = registry_redis_startup_take(m->registry, source, member,
	    lim->per_source_max_startups, (lim->login_grace_time +
	    lim->proxy_header_timeout + 5) * 1000);
	if (rc == 0)
		return -1;
	if (w != NULL && rc == 1) {
		memcpy(w->src, src, srclen);
		w->src_len = srclen;
		w->shared_startup = 1;
	}
	return 0;
}

void
monitor_shared_release(struct monitor *m, struct worker *w)
{
	char source[40], member[48];

	if (!w->shared_startup)
		return;
	w->shared_startup = 0;
	if (m->registry == NULL)
		return;
	shared_names(m, w->conn_id, w->src, w->src_len, source,
	    sizeof(source), member, sizeof(member));
	registry_redis_startup_release(m->registry, source, member);
}

/*
 * Refuse a connection so that the client says why: our version line and
 * an unencrypted SSH_MSG_DISCONNECT, which clients accept before key
 * exchange.  Closing at once would reset the connection when the client's
 * next packet arrives, and a reset discards what the client has not read
 * yet, so the socket lingers (bounded in number and time) while what the
 * client sends is read and dropped, never parsed.
 */
static void
refuse_connection(struct monitor *m, int fd, const char *why)
{
	struct buf pkt;

	buf_init(&pkt, 512);
	sshwire_refusal(&pkt, why);
	if (buf_ok(&pkt) == 0)
		(void)send(fd, pkt.data, pkt.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	buf_free(&pkt);
	monitor_linger(m, fd);
}

/* Half-close fd after what was sent to it, and keep it (bounded in number
 * and time) to read and drop what the peer sends: never parsed. */
void
monitor_linger(struct monitor *m, int fd)
{
	char sink[512];

	shutdown(fd, SHUT_WR);
	if (m->nlinger == MON_MAX_LINGER) {
		/* Full: the oldest has had the most time to read. */
		(void)recv(m->linger[0].fd, sink, sizeof(sink), MSG_DONTWAIT);
		close(m->linger[0].fd);
		memmove(&m->linger[0], &m->linger[1],
		    (MON_MAX_LINGER - 1) * sizeof(m->linger[0]));
		m->nlinger--;
	}
	m->linger[m->nlinger].fd = fd;
	clock_now(&m->linger[m->nlinger].until);
	m->linger[m->nlinger].until.tv_nsec += MON_LINGER_MS % 1000 * 1000000L;
	m->linger[m->nlinger].until.tv_sec += MON_LINGER_MS / 1000 +
	    m->linger[m->nlinger].until.tv_nsec / 1000000000L;
	m->linger[m->nlinger].until.tv_nsec %= 1000000000L;
	m->nlinger++;
}

/* Drop what a refused client sent; close when it is done or its time is
 * up (fd -1: check the times only). */
static void
service_linger(struct monitor *m, int fd)
{
	char sink[4096];
	size_t i, j;
	ssize_t n;
	int done;

	for (i = j = 0; i < m->nlinger; i++) {
		done = clock_ms_until(&m->linger[i].until) <= 0;
		if (!done && m->linger[i].fd == fd) {
			n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
			done = n == 0 || (n < 0 && errno != EAGAIN &&
			    errno != EINTR);
		}
		if (done)
			close(m->linger[i].fd);
		else
			m->linger[j++] = m->linger[i];
	}
	m->nlinger = j;
}

/* Is this connection from one of the listener's proxy_from networks? */
static int
from_balancer(const struct cfg_listen *ls, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return config_net_match(ls->proxy_from, ls->nproxy_from,
		    AF_INET, (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)ss)->sin_addr);
	if (ss->ss_family == AF_INET6)
		return config_net_match(ls->proxy_from, ls->nproxy_from,
		    AF_INET6, ((const struct sockaddr_in6 *)(const void *)ss)->
		    sin6_addr.s6_addr);
	return 0;
}

/* Give a worker its client: M_CLIENT with the socket.  A proxied client's
 * worker first reads the PROXY header (WS_PROXY). */
int
monitor_send_client(struct monitor *m, struct worker *w, int fd)
{
	struct ipc_client cl;
	struct buf b;
	int rc;

	memset(&cl, 0, sizeof(cl));
	cl.conn_id = w->conn_id;
	snprintf(cl.peer, sizeof(cl.peer), "%s", w->peer);
	if (w->proxied) {
		cl.flags = IPC_CLIENT_PROXY;
		cl.proxy_timeout = (uint32_t)m->cfg->limits.proxy_header_timeout;
	}
	buf_init(&b, IPC_MAX_MSG);
	rc = ipc_enc_client(&b, &cl) == 0 ? worker_send(m, w, &b, &fd, 1) : -1;
	buf_free(&b);
	if (rc == 0 && worker_set_state(m, w, w->proxied ? WS_PROXY :
	    WS_PREAUTH) != 0)
		rc = -1;
	if (rc == 0) {
		clock_now(&w->t_connect);
		/* The worker's own alarm covers the PROXY header wait and
		 * the login; a worker that ignores it is killed here. */
		w->t_grace = w->t_connect;
		w->t_grace.tv_sec += m->cfg->limits.login_grace_time +
		    (w->proxied ? m->cfg->limits.proxy_header_timeout : 0) +
		    MON_GRACE_SLACK;
		w->has_grace = 1;
	}
	return rc;
}

static void
hand_over(struct monitor *m, struct worker *w, int fd, const char *peer,
    uint64_t conn_id, int proxied)
{
	w->conn_id = conn_id;
	/* The limit this worker was started with (a reload may change the
	 * configuration, not a worker's settings). */
	w->max_auth_tries = w->init_max_auth_tries;
	snprintf(w->peer, sizeof(w->peer), "%s", peer);
	w->proxied = proxied;
	if (proxied)
		snprintf(w->via, sizeof(w->via), "%s", peer);
	if (w->state == WS_STARTING) {
		w->client_fd = fd;	/* h_ready hands it over */
		return;
	}
	(void)monitor_send_client(m, w, fd);
	close(fd);
}

/*
 * A new connection: the limits, then a worker.  From a balancer that sends
 * the PROXY protocol (only from its proxy_from networks) the source is not
 * known yet: per_source_max_startups waits for the worker to read the
 * header (h_proxy), the monitor reads nothing from the network.
 */
static void
accept_one(struct monitor *m, size_t li)
{
	const struct cfg_listen *ls = &m->cfg->listen[li];
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char peer[IPC_MAX_NAME];
	struct worker *w = NULL;
	const char *why;
	uint8_t src[16];
	size_t srclen;
	uint64_t id;
	int fd;

	fd = accept4(m->listen_fds[li], (struct sockaddr *)&ss, &sslen,
	    SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			error("accept: %s", strerror(errno));
		return;
	}
	monitor_format_peer(&ss, peer, sizeof(peer));
	srclen = monitor_source_key(&ss, src);
	id = ++m->next_conn_id;
	AUDIT("connection", AF_N("conn", id), AF_S("peer", peer));
	if (ls->proxy_protocol && !from_balancer(ls, &ss)) {
		/* Not a balancer: nothing is sent, it may not be a client. */
		AUDIT("connection.refused", AF_N("conn", id),
		    AF_S("peer", peer), AF_S("reason", "proxy-not-allowed"));
		close(fd);
		return;
	}
	if (ls->proxy_protocol)
		srclen = 0;
	if (m->nworkers - count_spare(m) >= (size_t)m->cfg->limits.max_sessions)
		why = "max-sessions";
	else
		why = startup_refusal(m, src, srclen);
	if (why == NULL && (w = take_idle(m)) == NULL &&
	    (w = worker_spawn(m)) == NULL)
		why = "no-worker";
	if (why == NULL &&
	    monitor_shared_startup(m, w, id, src, srclen) != 0)
		why = "per-source-max-startups";
	if (why != NULL) {
		AUDIT("connection.refused", AF_N("conn", id),
		    AF_S("peer", peer), AF_S("reason", why));
		refuse_connection(m, fd, strcmp(why, "no-worker") == 0 ?
		    "The gateway cannot serve you now; try again later" :
		    "Too many connections to the gateway; try again later");
		return;
	}
	memcpy(w->src, src, srclen);
	w->src_len = srclen;
	hand_over(m, w, fd, peer, id, ls->proxy_protocol);
}

/* ---- the loop ---- */

/* What a descriptor in the poll set is, and so who services it. */
enum ps_role {
	PS_SIGNALS,		/* the self-pipe: handle_signals() */
	PS_LISTENER,		/* a client listener: accept_one() */
	PS_METRICS,		/* the metrics listener: metrics_serve() */
	PS_WORKER,		/* a worker's IPC: dispatch_worker_msg() */
	PS_AGENT,		/* a worker's agent socket: agent_readable() */
	PS_UPSTREAM,		/* a Studio connect in progress */
	PS_LINGER,		/* a refused client, told why, closing */
};

struct pollset {
	struct pollfd *pfd;
	struct worker **who;	/* the worker of PS_WORKER, PS_AGENT,
				 * PS_UPSTREAM; NULL for the others */
	enum ps_role *what;
	size_t n, cap;
};

static int
ps_add(struct pollset *ps, int fd, short ev, struct worker *w,
    enum ps_role what)
{
	if (ps->n == ps->cap) {
		size_t ncap = ps->cap ? ps->cap * 2 : 64;
		void *a = reallocarray(ps->pfd, ncap, sizeof(*ps->pfd));
		if (a == NULL)
			return -1;
		ps->pfd = a;
		if ((a = reallocarray(ps->who, ncap, sizeof(*ps->who))) == NULL)
			return -1;
		ps->who = a;
		if ((a = reallocarray(ps->what, ncap, sizeof(*ps->what))) ==
		    NULL)
			return -1;
		ps->what = a;
		ps->cap = ncap;
	}
	ps->pfd[ps->n].fd = fd;
	ps->pfd[ps->n].events = ev;
	ps->pfd[ps->n].revents = 0;
	ps->who[ps->n] = w;
	ps->what[ps->n] = what;
	ps->n++;
	return 0;
}

static int
build_pollset(struct monitor *m, struct pollset *ps, int *timeout)
{
	struct worker *w;
	long long ms;
	size_t i;

	ps->n = 0;
	*timeout = -1;
	if (ps_add(ps, m->sigpipe[0], POLLIN, NULL, PS_SIGNALS) != 0)
		return -1;
	for (i = 0; !m->quit && i < m->nlisten; i++)
		if (ps_add(ps, m->listen_fds[i], POLLIN, NULL, PS_LISTENER) != 0)
			return -1;
	if (m->metrics_fd != -1 &&
	    ps_add(ps, m->metrics_fd, POLLIN, NULL, PS_METRICS) != 0)
		return -1;
	for (w = m->workers; w != NULL; w = w->next) {
		if (w->sock != -1 && ps_add(ps, w->sock, POLLIN, w, PS_WORKER) != 0)
			return -1;
		if (w->agent_fd != -1 &&
		    ps_add(ps, w->agent_fd, POLLIN, w, PS_AGENT) != 0)
			return -1;
		if (w->upstream_fd != -1 && w->state == WS_ROUTING &&
		    ps_add(ps, w->upstream_fd, POLLOUT, w, PS_UPSTREAM) != 0)
			return -1;
		if (w->has_deadline) {
			ms = clock_ms_until(&w->t_deadline);
			ms = ms < 0 ? 0 : ms;
			if (*timeout < 0 || ms < *timeout)
				*timeout = (int)ms;
		}
		if (w->has_grace && w->kill_reason[0] == '\0') {
			ms = clock_ms_until(&w->t_grace);
			ms = ms < 0 ? 0 : ms;
			if (*timeout < 0 || ms < *timeout)
				*timeout = (int)ms;
		}
	}
	for (i = 0; i < m->nlinger; i++) {
		if (ps_add(ps, m->linger[i].fd, POLLIN, NULL, PS_LINGER) != 0)
			return -1;
		ms = clock_ms_until(&m->linger[i].until);
		ms = ms < 0 ? 0 : ms;
		if (*timeout < 0 || ms < *timeout)
			*timeout = (int)ms;
	}
	if (m->draining && (*timeout < 0 || *timeout > 250))
		*timeout = 250;
	return 0;
}

static void
check_deadlines(struct monitor *m)
{
	struct worker *w;

	for (w = m->workers; w != NULL; w = w->next) {
		if (w->has_deadline && w->state == WS_ROUTING &&
		    clock_ms_until(&w->t_deadline) <= 0)
			dispatch_route_done(m, w, ETIMEDOUT);
		if (w->has_grace && w->state != WS_ROUTED &&
		    w->kill_reason[0] == '\0' && clock_ms_until(&w->t_grace) <= 0)
			worker_kill(m, w, "login grace time exceeded (%d s): "
			    "the worker did not end the login itself",
			    m->cfg->limits.login_grace_time);
	}
}

static size_t
count_connections(const struct monitor *m)
{
	const struct worker *w;
	size_t n = 0;

	for (w = m->workers; w != NULL; w = w->next)
		if (w->conn_id != 0)
			n++;
	return n;
}

/* SIGTERM: accept nothing more, let the connections in progress finish
 * for up to limits.drain_timeout, then tell the rest to stop. */
static void
start_drain(struct monitor *m, int sig)
{
	size_t i;

	m->draining = 1;
	notify_send("STOPPING=1\nSTATUS=draining %zu connection(s)",
	    count_connections(m));
	for (i = 0; i < m->nlisten; i++)
		close(m->listen_fds[i]);
	m->nlisten = 0;
	retire_idle(m);
	clock_now(&m->drain_deadline);
	m->drain_deadline.tv_sec += m->cfg->limits.drain_timeout;
	logit("received %s: no new connections; draining %zu connection(s) "
	    "for up to %d s", sigabbrev_np(sig), count_connections(m),
	    m->cfg->limits.drain_timeout);
}

/* Workers told to stop get this long to say goodbye to their client. */
#define DRAIN_GOODBYE_SEC	3

static void
check_drain(struct monitor *m)
{
	struct worker *w;

	if (!m->draining)
		return;
	if (count_connections(m) == 0) {
		logit("all connections ended: exiting");
		m->quit = 1;
		return;
	}
	if (clock_ms_until(&m->drain_deadline) > 0)
		return;
	if (m->drain_signalled) {
		logit("%zu connection(s) did not end: stopping them",
		    count_connections(m));
		m->quit = 1;
		return;
	}
	logit("drain_timeout reached: disconnecting %zu connection(s)",
	    count_connections(m));
	for (w = m->workers; w != NULL; w = w->next)
		if (w->conn_id != 0)
			kill(w->pid, SIGTERM);
	m->drain_signalled = 1;
	clock_now(&m->drain_deadline);
	m->drain_deadline.tv_sec += DRAIN_GOODBYE_SEC;
}

static void
handle_signals(struct monitor *m)
{
	unsigned char sigs[64];
	ssize_t n, i;

	while ((n = read(m->sigpipe[0], sigs, sizeof(sigs))) > 0) {
		for (i = 0; i < n; i++) {
			switch (sigs[i]) {
			case SIGCHLD:
				reap_workers(m);
				break;
			case SIGTERM:
			case SIGINT:
				if (m->draining) {
					logit("received %s again: stopping "
					    "now", sigabbrev_np(sigs[i]));
					m->quit = 1;
				} else
					start_drain(m, sigs[i]);
				break;
			case SIGHUP:
				m->reload = 1;
				break;
			}
		}
	}
}

/* Workers are freed only by reap_workers(), called from handle_signals()
 * after this round, so the pointers in the poll set stay valid; a handler
 * that killed a worker has closed its fds, which the fd checks notice. */
static void
service_fd(struct monitor *m, struct pollset *ps, size_t i)
{
	struct worker *w = ps->who[i];
	int fd = ps->pfd[i].fd;
	size_t k;

	if (ps->pfd[i].revents == 0)
		return;
	switch (ps->what[i]) {
	case PS_SIGNALS:
		/* Read by handle_signals(), after the pass. */
		break;
	case PS_LISTENER:
		for (k = 0; k < m->nlisten; k++)
			if (fd == m->listen_fds[k])
				accept_one(m, k);
		break;
	case PS_METRICS:
		metrics_serve(m);
		break;
	case PS_LINGER:
		service_linger(m, fd);
		break;
	/* A worker's descriptors: unless an earlier handler in this pass
	 * closed or replaced them. */
	case PS_WORKER:
		if (w->sock == fd)
			dispatch_worker_msg(m, w);
		break;
	case PS_AGENT:
		if (w->agent_fd == fd)
			agent_readable(m, w);
		break;
	case PS_UPSTREAM:
		if (w->upstream_fd == fd && w->state == WS_ROUTING)
			dispatch_route_done(m, w, upstream_finish(fd));
		break;
	}
}

static void
shutdown_workers(struct monitor *m)
{
	struct worker *w;
	int tries;

	for (w = m->workers; w != NULL; w = w->next)
		kill(w->pid, SIGTERM);
	/* Give them a moment, then make sure. */
	for (tries = 0; tries < 20 && m->workers != NULL; tries++) {
		reap_workers(m);
		if (m->workers != NULL)
			usleep(50000);
	}
	for (w = m->workers; w != NULL; w = w->next)
		kill(w->pid, SIGKILL);
	while (m->workers != NULL) {
		if (waitpid(-1, NULL, 0) == -1 && errno == ECHILD)
			break;
		reap_workers(m);
	}
}

int
monitor_run(struct monitor *m)
{
	struct pollset ps = { 0 };
	int timeout, n;
	size_t i;

	notify_init();
	if (setup_signals(m) != 0 || open_listeners(m) != 0 ||
	    metrics_open(m) != 0)
		return -1;
	if ((m->replay = replay_new(REPLAY_CAPACITY)) == NULL)
		fatal("out of memory");
	refill_pool(m);
	logit("connect-sshd %s ready: %zu listener(s), %d prefork worker(s), "
	    "host key %s", CSSHD_VERSION, m->nlisten,
	    m->cfg->workers.prefork, hostkey_fingerprint(m->key));
	while (!m->quit) {
		if (build_pollset(m, &ps, &timeout) != 0)
			fatal("out of memory");
		n = poll(ps.pfd, ps.n, timeout);
		if (n == -1 && errno != EINTR)
			fatal("poll: %s", strerror(errno));
		for (i = 1; n > 0 && i < ps.n; i++)
			service_fd(m, &ps, i);
		check_deadlines(m);
		service_linger(m, -1);
		if (ps.pfd[0].revents)
			handle_signals(m);
		if (m->reload && !m->draining) {
			m->reload = 0;
			notify_send("RELOADING=1\nMONOTONIC_USEC=%llu",
			    (unsigned long long)clock_us());
			/* A refused configuration changes nothing: the
			 * workers starting or waiting keep serving. */
			if (monitor_reload(m) == 0) {
				retire_idle(m);
				notify_send("READY=1\nSTATUS=configuration "
				    "reloaded");
			} else
				notify_send("READY=1\nSTATUS=reload failed: "
				    "running configuration kept");
		}
		check_drain(m);
		if (!m->quit && !m->draining) {
			refill_pool(m);
			notify_ready(m);
		}
	}
	for (i = 0; i < m->nlisten; i++)
		close(m->listen_fds[i]);
	free(m->listen_fds);
	m->listen_fds = NULL;
	m->nlisten = 0;
	shutdown_workers(m);
	metrics_close(m);
	replay_free(m->replay);
	m->replay = NULL;
	free(ps.pfd);
	free(ps.who);
	free(ps.what);
	logit("stopped");
	return 0;
}
