/*
 * metrics_http.c - the metrics on metrics_listen.
 *
 * The monitor never parses HTTP, nor anything else, from this socket:
 * every connection gets the current metrics (metrics.c) as an HTTP/1.0
 * response at once, and what the scraper sent is then read and dropped
 * unread (monitor_linger), as for a refused SSH client.  Anyone who can
 * reach metrics_listen can read the metrics: bind it to loopback or a
 * private network.
 */
#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "monitor.h"
#include "registry.h"

int
metrics_open(struct monitor *m)
{
	m->metrics_fd = -1;
	audit_set_hook(metrics_observe);
	if (m->cfg->metrics.host == NULL)
		return 0;
	if (monitor_listen_one(&m->cfg->metrics, &m->metrics_fd) != 0)
		return -1;
	logit("metrics on %s:%s", m->cfg->metrics.host[0] ?
	    m->cfg->metrics.host : "*", m->cfg->metrics.port);
	return 0;
}

/* A scrape: the response at once, whatever was asked. */
void
metrics_serve(struct monitor *m)
{
	static const char head[] = "HTTP/1.0 200 OK\r\n"
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Connection: close\r\n\r\n";
	static const struct registry_stats none;	/* nothing asked yet */
	struct metrics_gauges g;
	struct buf b;
	ssize_t n;
	int fd, sndbuf;

	fd = accept4(m->metrics_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			error("metrics accept: %s", strerror(errno));
		return;
	}
	buf_init(&b, METRICS_MAX_TEXT);
	buf_put(&b, head, sizeof(head) - 1);
	metrics_gauges(m, &g);
	metrics_render(&b, &g, !lookup_enabled(m) ? NULL :
	    lookup_stats() != NULL ? lookup_stats() : &none, m->loop_max_us);
	/* One send into an empty socket buffer made large enough for all
	 * of it (the kernel doubles the size asked, for its overhead): the
	 * monitor never waits for a scraper, nor sends half a response
	 * without saying so. */
	if (buf_ok(&b) == 0) {
		sndbuf = (int)b.len;
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    sizeof(sndbuf));
		n = send(fd, b.data, b.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n != (ssize_t)b.len)
			error("metrics: sent %zd of %zu bytes: %s", n, b.len,
			    n < 0 ? strerror(errno) : "socket buffer full");
	} else
		error("metrics: over %d bytes", METRICS_MAX_TEXT);
	buf_free(&b);
	monitor_linger(m, fd);
}

void
metrics_close(struct monitor *m)
{
	if (m->metrics_fd != -1)
		close(m->metrics_fd);
	m->metrics_fd = -1;
	audit_set_hook(NULL);
}
