/*
 * monitor.c - the monitor's event loop: signals, the poll set, deadlines,
 * draining and reloads.  The worker pool is in pool.c, the listeners and
 * connection limits in admission.c, the workers' requests in dispatch.c.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <limits.h>
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


/* ---- the loop ---- */

/* What a descriptor in the poll set is, and so who services it. */
enum ps_role {
	PS_SIGNALS,		/* the self-pipe: handle_signals() */
	PS_LISTENER,		/* a client listener: accept_one() */
	PS_WORKER,		/* a worker's IPC: dispatch_worker_msg() */
	PS_AGENT,		/* a worker's agent socket: agent_readable() */
	PS_UPSTREAM,		/* a Studio connect in progress */
	PS_LINGER,		/* a refused client, told why, closing */
	PS_LOOKUP,		/* the lookup process: lookup_readable() */
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
	if (lookup_fd() != -1 &&
	    ps_add(ps, lookup_fd(), POLLIN, NULL, PS_LOOKUP) != 0)
		return -1;
	if ((ms = lookup_next_ms(m)) >= 0)
		*timeout = (int)(ms > INT_MAX ? INT_MAX : ms);
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
		if (w->has_closed && w->kill_reason[0] == '\0') {
			ms = clock_ms_until(&w->t_closed);
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

/*
 * A worker that closed its IPC socket and is still running: it did that
 * itself, and only a compromised worker would.  Left alone it would go on
 * relaying a connection the monitor can neither answer nor stop through
 * the protocol.  One that has ended by now is the reaper's to report.
 */
static void
check_closed(struct monitor *m, struct worker *w)
{
	w->has_closed = 0;
	if (!worker_exited(w))
		worker_kill(m, w, "it closed its IPC socket and was still "
		    "running %d s later", WORKER_CLOSED_GRACE_SEC);
}

static void
check_deadlines(struct monitor *m)
{
	struct worker *w;
	uint64_t now_s = clock_ms() / 1000;

	for (w = m->workers; w != NULL; w = w->next) {
		dispatch_log_dropped(w, now_s);
		if (w->has_deadline && w->state == WS_ROUTING &&
		    clock_ms_until(&w->t_deadline) <= 0)
			dispatch_route_done(m, w, ETIMEDOUT);
		if (w->has_grace && w->state != WS_ROUTED &&
		    w->kill_reason[0] == '\0' && clock_ms_until(&w->t_grace) <= 0)
			worker_kill(m, w, "login grace time exceeded (%d s): "
			    "the worker did not end the login itself",
			    m->cfg->limits.login_grace_time);
		if (w->has_closed && w->kill_reason[0] == '\0' &&
		    clock_ms_until(&w->t_closed) <= 0)
			check_closed(m, w);
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
	case PS_LINGER:
		service_linger(m, fd);
		break;
	case PS_LOOKUP:
		if (fd == lookup_fd())
			lookup_readable(m);
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

/*
 * The monitor's longest pass between two polls, which is how long a
 * worker, a client or the lookup process may have waited for it: logged
 * when it passes each new power of two over 64 ms, and in the metrics.
 */
static void
note_busy(struct monitor *m, uint64_t us)
{
	uint64_t old = m->loop_max_us;

	if (us <= old)
		return;
	m->loop_max_us = us;
	if (us >= 64000 && (old < 64000 || us / 1000 >= 2 * (old / 1000)))
		logit("the monitor was away from its poll loop for %llu ms",
		    (unsigned long long)(us / 1000));
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
	uint64_t busy_since = 0;
	int timeout, n;
	size_t i;

	notify_init();
	if (setup_signals(m) != 0 || open_listeners(m) != 0 ||
	    metrics_open(m) != 0)
		return -1;
	if ((m->replay = replay_new(REPLAY_CAPACITY)) == NULL)
		fatal("out of memory");
	for (i = 0; i < MON_MAX_ADMIT_WAIT; i++)
		m->admit[i].fd = -1;
	if (lookup_start(m) != 0)
		error("lookup: not started; logins are refused until it is");
	refill_pool(m);
	logit("connect-sshd %s ready: %zu listener(s), %d prefork worker(s), "
	    "host key %s", CSSHD_VERSION, m->nlisten,
	    m->cfg->workers.prefork, hostkey_fingerprint(m->key));
	while (!m->quit) {
		if (build_pollset(m, &ps, &timeout) != 0)
			fatal("out of memory");
		if (busy_since != 0)
			note_busy(m, clock_us() - busy_since);
		n = poll(ps.pfd, ps.n, timeout);
		busy_since = clock_us();
		if (n == -1 && errno != EINTR)
			fatal("poll: %s", strerror(errno));
		for (i = 1; n > 0 && i < ps.n; i++)
			service_fd(m, &ps, i);
		check_deadlines(m);
		lookup_tick(m);
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
	admission_close_waiting(m);
	lookup_stop(m);
	metrics_close(m);
	replay_free(m->replay);
	m->replay = NULL;
	free(ps.pfd);
	free(ps.who);
	free(ps.what);
	logit("stopped");
	return 0;
}
