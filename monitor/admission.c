/*
 * admission.c - which connections the monitor takes and to whom: the
 * listeners, max_startups and the per-source limits (with the Redis
 * registry's shared count), refused connections held briefly to be told
 * why, and handing an accepted socket to an idle worker.
 *
 * The monitor accepts every TCP connection itself and passes the socket
 * to a worker; the listening sockets never enter a worker.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
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

int
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
 * with a Redis registry the replicas' shared count decides too, asked
 * through the lookup process (never waited for).  1 when it is asked
 * about this source (names filled), 0 when the local count alone
 * decides.
 */
int
monitor_shared_question(const struct monitor *m, uint64_t conn_id,
    const uint8_t *src, size_t srclen, char source[40], char member[48],
    int *limit, int *ttl_ms)
{
	const struct cfg_limits *lim = &m->cfg->limits;

	if (!lookup_enabled(m) || lim->per_source_max_startups == 0 ||
	    srclen == 0)
		return 0;
	shared_names(m, conn_id, src, srclen, source, 40, member, 48);
	*limit = lim->per_source_max_startups;
	/* Counted until authenticated, at most for as long as a login may
	 * take: a replica that dies leaves nothing behind for longer. */
	*ttl_ms = (lim->login_grace_time + lim->proxy_header_timeout + 5) *
	    1000;
	return 1;
}

void
monitor_shared_release(struct monitor *m, struct worker *w)
{
	char source[40], member[48];

	if (!w->shared_startup)
		return;
	w->shared_startup = 0;
	shared_names(m, w->conn_id, w->src, w->src_len, source,
	    sizeof(source), member, sizeof(member));
	lookup_release(m, source, member);
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
void
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
static void refuse(struct monitor *, int, uint64_t, const char *,
    const char *);
static void admit(struct monitor *, int, size_t, uint64_t, const char *,
    const uint8_t *, size_t, int);
static int wait_for_count(struct monitor *, int, size_t, uint64_t,
    const char *, const uint8_t *, size_t);

void
accept_one(struct monitor *m, size_t li)
{
	const struct cfg_listen *ls = &m->cfg->listen[li];
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char peer[IPC_MAX_NAME];
	const char *why;
	uint8_t src[16];
	size_t srclen;
	uint64_t id;
	int fd, nodelay = 1;

	fd = accept4(m->listen_fds[li], (struct sockaddr *)&ss, &sslen,
	    SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			error("accept: %s", strerror(errno));
		return;
	}
	/* Interactive traffic, as on the Studio socket (upstream.c): with
	 * Nagle's algorithm a small write (a keystroke's echo, an exit
	 * status) would wait for the client's ACK of the one before, a
	 * round trip on a long link.  libssh sets nothing on a socket it is
	 * handed. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay,
	    sizeof(nodelay));
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
	if (why != NULL) {
		refuse(m, fd, id, peer, why);
		return;
	}
	if (wait_for_count(m, fd, li, id, peer, src, srclen) == 0)
		return;
	admit(m, fd, li, id, peer, src, srclen, 0);
}

static void
refuse(struct monitor *m, int fd, uint64_t id, const char *peer,
    const char *why)
{
	AUDIT("connection.refused", AF_N("conn", id), AF_S("peer", peer),
	    AF_S("reason", why));
	refuse_connection(m, fd, strcmp(why, "no-worker") == 0 ?
	    "The gateway cannot serve you now; try again later" :
	    "Too many connections to the gateway; try again later");
}

/* A worker for a connection the limits let in; counted: in the shared
 * per-source count (to be released once authenticated or ended). */
static void
admit(struct monitor *m, int fd, size_t li, uint64_t id, const char *peer,
    const uint8_t *src, size_t srclen, int counted)
{
	struct worker *w;

	if ((w = take_idle(m)) == NULL && (w = worker_spawn(m)) == NULL) {
		if (counted) {
			char source[40], member[48];
			int limit, ttl;

			if (monitor_shared_question(m, id, src, srclen, source,
			    member, &limit, &ttl))
				lookup_release(m, source, member);
		}
		refuse(m, fd, id, peer, "no-worker");
		return;
	}
	memcpy(w->src, src, srclen);
	w->src_len = srclen;
	w->shared_startup = counted;
	hand_over(m, w, fd, peer, id, m->cfg->listen[li].proxy_protocol);
}

/*
 * With a shared per-source count, the connection waits in a slot for the
 * lookup process's answer (admission_counted) before a worker is chosen:
 * 0.  -1 when it does not wait: no shared count, no free slot, or no
 * lookup process (the local count alone decides, as when Redis is down).
 */
static int
wait_for_count(struct monitor *m, int fd, size_t li, uint64_t id,
    const char *peer, const uint8_t *src, size_t srclen)
{
	struct admit_wait *a = NULL;
	int i, limit, ttl;

	for (i = 0; i < MON_MAX_ADMIT_WAIT; i++)
		if (m->admit[i].fd == -1) {
			a = &m->admit[i];
			break;
		}
	if (a == NULL || !monitor_shared_question(m, id, src, srclen,
	    a->source, a->member, &limit, &ttl))
		return -1;
	if (lookup_startup(m, NULL, i, a->source, a->member, limit, ttl) != 0)
		return -1;
	a->fd = fd;
	a->li = li;
	a->conn_id = id;
	snprintf(a->peer, sizeof(a->peer), "%s", peer);
	memcpy(a->src, src, srclen);
	a->srclen = srclen;
	return 0;
}

void
admission_counted(struct monitor *m, int i, int result)
{
	struct admit_wait a;

	if (i < 0 || i >= MON_MAX_ADMIT_WAIT || m->admit[i].fd == -1)
		return;
	a = m->admit[i];
	m->admit[i].fd = -1;
	if (result == 0) {
		refuse(m, a.fd, a.conn_id, a.peer, "per-source-max-startups");
		return;
	}
	/* (-1: the registry could not answer; the local count let the
	 * connection in, and its login is refused while Redis is down.) */
	admit(m, a.fd, a.li, a.conn_id, a.peer, a.src, a.srclen, result == 1);
}

/* Every waiting connection closed (shutdown). */
void
admission_close_waiting(struct monitor *m)
{
	int i;

	for (i = 0; i < MON_MAX_ADMIT_WAIT; i++)
		if (m->admit[i].fd != -1) {
			lookup_forget(NULL, i);
			close(m->admit[i].fd);
			m->admit[i].fd = -1;
		}
}

