/*
 * pool.c - the monitor's workers: their states and the one function that
 * changes them, starting (fork+exec), sending to, killing and reaping
 * them, and keeping workers.prefork of them idle.
 *
 * Workers are started with posix_spawn of connect-sshd-worker, so each is
 * a fresh image with fresh ASLR and none of the monitor's memory -- the
 * gateway key included.  A worker serves one connection and exits.
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
#include "sshwire.h"

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
	/* The safe sets fit (config_algorithms.c); a failure here is a bug. */
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

/*
 * Start one of the monitor's unprivileged processes (a worker, the
 * lookup process) with fork+exec: a fresh image with fresh ASLR, an
 * empty environment, and exactly /dev/null on 0-2 (stderr kept in
 * debug mode and in the sanitizer build, for its reports), its end of
 * the IPC socket on IPC_NO and, when EXTRA_FD is not -1, that one on
 * EXTRA_NO.  Everything else the monitor holds is close-on-exec.  It
 * gets a session of its own: a Ctrl-C or SIGHUP meant for the
 * monitor's terminal must not reach it; the monitor stops it.
 * Returns posix_spawn()'s error number, 0 once it runs.
 */
int
spawn_unprivileged(const struct monitor *m, const char *path, char *argv0,
    int ipc_fd, int ipc_no, int extra_fd, int extra_no, pid_t *pid)
{
	static char *const envp[] = { NULL };
	char *argv[] = { argv0, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (!m->debug && !SANITIZER_BUILD)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null",
		    O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, ipc_fd, ipc_no);
	if (extra_fd != -1)
		posix_spawn_file_actions_adddup2(&fa, extra_fd, extra_no);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

struct worker *
worker_spawn(struct monitor *m)
{
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
	/* Its IPC socket on fd 3, nothing else. */
	rc = spawn_unprivileged(m, m->cfg->workers.program,
	    "connect-sshd-worker", sv[1], IPC_WORKER_FD, -1, -1, &w->pid);
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

/*
 * The worker's end of its IPC socket is closed: it is exiting, and the
 * reaper reports how.  Its socket closes an instant before it can be
 * reaped, so whether it really ends is decided WORKER_CLOSED_GRACE_SEC
 * later: one still running then closed it itself and is killed
 * (check_closed() in monitor.c).
 */
void
worker_closed(struct worker *w)
{
	if (w->sock == -1)
		return;
	close(w->sock);
	w->sock = -1;
	clock_now(&w->t_closed);
	w->t_closed.tv_sec += WORKER_CLOSED_GRACE_SEC;
	w->has_closed = 1;
}

int
worker_send(struct monitor *m, struct worker *w, const struct buf *b,
    const int *fds, int nfds)
{
	if (w->sock == -1)
		return -1;
	if (ipc_send(w->sock, b, fds, nfds) != 0) {
		/* Its end is gone, as when the monitor reads its EOF. */
		if (errno == EPIPE || errno == ECONNRESET) {
			worker_closed(w);
			return -1;
		}
		/* The socket buffer is full: a worker that does not read
		 * its answers is broken or hostile. */
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

int
worker_exited(const struct worker *w)
{
	siginfo_t si;

	if (w->reaped)
		return 1;
	memset(&si, 0, sizeof(si));
	/* WNOWAIT: the reaper still reaps it, and reports how it ended. */
	return waitid(P_PID, (id_t)w->pid, &si,
	    WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == w->pid;
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
	dispatch_log_dropped(w, 0);	/* with what the drain dropped */
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
	dispatch_forget(w);
}

void
reap_workers(struct monitor *m)
{
	struct worker **wp, *w;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (wp = &m->workers; (w = *wp) != NULL; wp = &w->next)
			if (w->pid == pid)
				break;
		if (w == NULL) {
			(void)lookup_reaped(m, pid, status);
			continue;
		}
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
void
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

size_t
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
void
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
void
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

struct worker *
take_idle(struct monitor *m)
{
	struct worker *w;

	for (w = m->workers; w != NULL; w = w->next)
		if (w->state == WS_IDLE)
			return w;
	return NULL;
}

