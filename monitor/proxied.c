/*
 * proxied.c - connections on a proxy_protocol listener, until their PROXY
 * header has been read.
 *
 * A balancer in front of the gateway (HAProxy send-proxy / send-proxy-v2)
 * starts each connection with a header naming the real client.  The
 * monitor believes it only from the listener's proxy_from networks, reads
 * exactly the header and not one byte of what follows (the client's SSH
 * version line belongs to the worker), within limits.proxy_header_timeout
 * and at most MON_MAX_PROXIED at a time; then it admits the connection as
 * coming from the client, so that logs and per-source limits see the
 * client, not the balancer.  Anything else closes the connection, logged.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "monitor.h"

static int
addr_bytes(const struct sockaddr_storage *ss, int *family,
    const uint8_t **addr)
{
	*family = ss->ss_family;
	if (ss->ss_family == AF_INET)
		*addr = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		*addr = ((const struct sockaddr_in6 *)(const void *)ss)->
		    sin6_addr.s6_addr;
	else
		return -1;
	return 0;
}

static void
refuse(const char *peer, int fd, const char *reason, const char *detail)
{
	AUDIT("connection.refused", AF_S("peer", peer),
	    AF_S("reason", reason), AF_S("detail", detail));
	close(fd);
}

void
proxied_accept(struct monitor *m, const struct cfg_listen *ls, int fd,
    const struct sockaddr_storage *ss)
{
	struct proxied *p;
	char peer[IPC_MAX_NAME];
	const uint8_t *addr;
	int family;

	monitor_format_peer(ss, peer, sizeof(peer));
	if (addr_bytes(ss, &family, &addr) != 0 ||
	    !config_net_match(ls->proxy_from, ls->nproxy_from, family, addr)) {
		refuse(peer, fd, "proxy-not-allowed", "not in proxy_from");
		return;
	}
	if (m->proxied == NULL &&
	    (m->proxied = calloc(MON_MAX_PROXIED, sizeof(*p))) == NULL) {
		refuse(peer, fd, "no-memory", "");
		return;
	}
	if (m->nproxied == MON_MAX_PROXIED) {
		refuse(peer, fd, "proxy-pending-full", "");
		return;
	}
	p = &m->proxied[m->nproxied++];
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->lb = *ss;
	snprintf(p->lb_peer, sizeof(p->lb_peer), "%s", peer);
	mono_now(&p->until);
	p->until.tv_sec += m->cfg->limits.proxy_header_timeout;
}

static void
drop(struct monitor *m, size_t i)
{
	m->proxied[i] = m->proxied[--m->nproxied];
}

/* Read what is there of the header, without going past its end. */
void
proxied_readable(struct monitor *m, int fd)
{
	struct proxy_result r;
	struct proxied *p = NULL;
	const char *why = NULL;
	struct sockaddr_storage src;
	char via[IPC_MAX_NAME];
	ssize_t n;
	size_t i;
	int hl;

	for (i = 0; i < m->nproxied; i++)
		if (m->proxied[i].fd == fd)
			p = &m->proxied[i];
	if (p == NULL)
		return;
	i = (size_t)(p - m->proxied);
	n = recv(fd, p->hdr + p->hlen, sizeof(p->hdr) - p->hlen,
	    MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		refuse(p->lb_peer, fd, "bad-proxy-header",
		    n == 0 ? "closed before the header" : strerror(errno));
		drop(m, i);
		return;
	}
	hl = proxy_parse(p->hdr, p->hlen + (size_t)n, &r, &why);
	if (hl < 0 || (hl == 0 && p->hlen + (size_t)n == sizeof(p->hdr))) {
		refuse(p->lb_peer, fd, "bad-proxy-header",
		    hl < 0 ? why : "too long");
		drop(m, i);
		return;
	}
	/* Consume what belongs to the header: all that was peeked while it
	 * is incomplete, else up to its end. */
	if (hl == 0) {
		if (recv(fd, p->hdr + p->hlen, (size_t)n, MSG_DONTWAIT) != n) {
			refuse(p->lb_peer, fd, "bad-proxy-header", "short read");
			drop(m, i);
			return;
		}
		p->hlen += (size_t)n;
		return;
	}
	if (recv(fd, p->hdr + p->hlen, (size_t)hl - p->hlen, MSG_DONTWAIT) !=
	    (ssize_t)((size_t)hl - p->hlen)) {
		refuse(p->lb_peer, fd, "bad-proxy-header", "short read");
		drop(m, i);
		return;
	}
	src = r.local ? p->lb : r.src;
	snprintf(via, sizeof(via), "%s", p->lb_peer);
	drop(m, i);
	monitor_admit(m, fd, &src, via);
}

/* Close what did not send its header in time; the next deadline, in ms
 * from now (-1: none). */
long long
proxied_expire(struct monitor *m)
{
	long long ms, next = -1;
	size_t i = 0;

	while (i < m->nproxied) {
		ms = ms_until(&m->proxied[i].until);
		if (ms <= 0) {
			refuse(m->proxied[i].lb_peer, m->proxied[i].fd,
			    "proxy-header-timeout", "no header in time");
			drop(m, i);
			continue;
		}
		if (next < 0 || ms < next)
			next = ms;
		i++;
	}
	return next;
}

void
proxied_close_all(struct monitor *m)
{
	while (m->nproxied > 0)
		close(m->proxied[--m->nproxied].fd);
	free(m->proxied);
	m->proxied = NULL;
}
