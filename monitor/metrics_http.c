/*
 * metrics_http.c - the metrics_listen socket.
 *
 * The monitor opens it (it may be a privileged port) and never accepts on
 * it: the lookup process gets it as its descriptor 4, accepts the
 * scrapers, and asks the monitor for each one's metrics (L_SCRAPE,
 * lookup.c on_scrape()).  So nothing a scraper sends reaches the monitor.
 * Anyone who can reach metrics_listen can read the metrics: bind it to
 * loopback or a private network.
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

void
metrics_close(struct monitor *m)
{
	if (m->metrics_fd != -1)
		close(m->metrics_fd);
	m->metrics_fd = -1;
	audit_set_hook(NULL);
}
