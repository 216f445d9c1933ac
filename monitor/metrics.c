/*
 * metrics.c - the Prometheus metrics: what is counted, and its text.
 *
 * The counters are kept from the audit records (metrics_observe, the
 * audit hook), so the metrics and the audit log cannot disagree; the
 * gauges are read from the worker table when a scrape comes
 * (metrics_gauges).  metrics_render writes them all from the values it is
 * given; metrics_http.c serves the text on metrics_listen.  Nothing here
 * touches a socket or another module's state, so the unit test links this
 * file alone.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "monitor.h"
#include "registry.h"

#define METRICS_MAX_LABELS	32	/* distinct label values per family */

#define METRICS_MAX_VALUE	47	/* bytes of a label value */

/*
 * A counter with one label: fixed names from the code, counts by value.
 * The last slot is kept for "other": values past the table's size, and
 * values that are not a label value (below), all count there, in the one
 * "other" series of the family.
 */
struct labelled {
	const char *name;
	const char *label;
	const char *help;
	size_t n;
	struct {
		char value[METRICS_MAX_VALUE + 1];
		unsigned long long count;
	} v[METRICS_MAX_LABELS];
};

static unsigned long long connections, auth_accepted, bytes_in, bytes_out;
static struct labelled refused = { "connect_sshd_connections_refused_total",
    "reason", "Connections refused before a worker served them, by reason.",
    0, { { "", 0 } } };
static struct labelled denied = { "connect_sshd_auth_denied_total",
    "reason", "Refused keys and logins, by reason.", 0, { { "", 0 } } };
static struct labelled channels = { "connect_sshd_channels_total",
    "type", "Channels relayed and closed, by type.", 0, { { "", 0 } } };
static struct labelled ends = { "connect_sshd_connection_ends_total",
    "cause", "Served connections ended, by how their worker ended.", 0,
    { { "", 0 } } };

/*
 * The values come from the code's fixed sets, but a channel type is what
 * a worker reported: a label value is 1 to METRICS_MAX_VALUE letters,
 * digits and "-_.@", kept whole, so that it never needs escaping, never
 * adds a line and is never cut into the same series as another.
 */
static int
label_value_ok(const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if (i == METRICS_MAX_VALUE ||
		    !((v[i] >= 'a' && v[i] <= 'z') ||
		    (v[i] >= 'A' && v[i] <= 'Z') ||
		    (v[i] >= '0' && v[i] <= '9') || strchr("-_.@", v[i])))
			return 0;
	return i > 0;
}

static void
count(struct labelled *l, const char *value, unsigned long long by)
{
	size_t i;

	if (!label_value_ok(value))
		value = "other";
	for (;;) {
		for (i = 0; i < l->n; i++)
			if (strcmp(l->v[i].value, value) == 0) {
				l->v[i].count += by;
				return;
			}
		/* Only "other" takes the last slot: a full table means
		 * new values appeared, counted as "other" rather than
		 * grow.  (With "other" in it, a full table finds it.) */
		if (l->n < METRICS_MAX_LABELS - 1 ||
		    strcmp(value, "other") == 0)
			break;
		value = "other";
	}
	if (l->n == METRICS_MAX_LABELS)		/* cannot happen */
		return;
	memcpy(l->v[l->n].value, value, strlen(value) + 1);
	l->v[l->n++].count = by;
}

static const struct audit_field *
field(const struct audit_field *f, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0)
			return &f[i];
	return NULL;
}

static const char *
str_field(const struct audit_field *f, size_t n, const char *key)
{
	const struct audit_field *x = field(f, n, key);

	return x != NULL && x->str != NULL ? x->str : "";
}

static long long
num_field(const struct audit_field *f, size_t n, const char *key)
{
	const struct audit_field *x = field(f, n, key);

	return x != NULL && x->str == NULL ? x->num : 0;
}

/* How a served connection's worker ended, from its session.closed. */
static const char *
end_cause(const char *worker)
{
	if (strncmp(worker, "exited with status 0", 20) == 0 &&
	    worker[20] == '\0')
		return "exit";
	if (strncmp(worker, "exited", 6) == 0)
		return "error-exit";
	if (strncmp(worker, "killed by the sandbox", 21) == 0)
		return "sandbox";
	if (strncmp(worker, "killed by the monitor", 21) == 0)
		return "monitor";
	if (strncmp(worker, "killed by signal", 16) == 0)
		return "signal";
	return "other";
}

void
metrics_observe(const char *event, const struct audit_field *f, size_t n)
{
	long long v;

	if (strcmp(event, "connection") == 0)
		connections++;
	else if (strcmp(event, "connection.refused") == 0)
		count(&refused, str_field(f, n, "reason"), 1);
	else if (strcmp(event, "auth.accepted") == 0)
		auth_accepted++;
	else if (strcmp(event, "auth.denied") == 0)
		count(&denied, str_field(f, n, "reason"), 1);
	else if (strcmp(event, "channel.close") == 0) {
		count(&channels, str_field(f, n, "type"), 1);
		if ((v = num_field(f, n, "bytes_in")) > 0)
			bytes_in += (unsigned long long)v;
		if ((v = num_field(f, n, "bytes_out")) > 0)
			bytes_out += (unsigned long long)v;
	} else if (strcmp(event, "session.closed") == 0)
		count(&ends, end_cause(str_field(f, n, "worker")), 1);
}

/*
 * Every line is appended whole with buf_printf: never cut, whatever the
 * length of a number or a value.  A response over METRICS_MAX_TEXT fails
 * the buffer as a whole, and the caller sends nothing.
 */
static void
put_labelled(struct buf *b, const struct labelled *l)
{
	size_t i;

	buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", l->name, l->help,
	    l->name);
	for (i = 0; i < l->n; i++)
		buf_printf(b, "%s{%s=\"%s\"} %llu\n", l->name, l->label,
		    l->v[i].value, l->v[i].count);
}

static void
put_metric(struct buf *b, const char *name, const char *type,
    const char *help, unsigned long long v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help,
	    name, type, name, v);
}

/* With a Redis registry: its health, and how long it takes to answer. */
static void
render_registry(const struct registry_stats *st, struct buf *b)
{
	static const unsigned long long le[] = REGISTRY_LATENCY_BUCKETS;
	size_t i;

	if (st == NULL)
		return;
	put_metric(b, "connect_sshd_registry_up", "gauge",
	    "1 while the Redis registry is connected.",
	    (unsigned long long)st->up);
	put_metric(b, "connect_sshd_registry_requests_total", "counter",
	    "Commands sent to the Redis registry.", st->requests);
	put_metric(b, "connect_sshd_registry_errors_total", "counter",
	    "Registry lookups that failed: down, timed out or refused.",
	    st->errors);
	put_metric(b, "connect_sshd_registry_cache_hits_total", "counter",
	    "Registry lookups answered from the cache.", st->cache_hits);
	put_metric(b, "connect_sshd_registry_bad_records_total", "counter",
	    "Registry values that failed the checks and were not used.",
	    st->bad_records);
	buf_printf(b, "# HELP connect_sshd_registry_request_seconds Time the "
	    "Redis registry took to answer.\n"
	    "# TYPE connect_sshd_registry_request_seconds histogram\n");
	for (i = 0; i < sizeof(le) / sizeof(le[0]); i++)
		buf_printf(b, "connect_sshd_registry_request_seconds_bucket"
		    "{le=\"%llu.%06llu\"} %llu\n", le[i] / 1000000,
		    le[i] % 1000000, st->latency_le[i]);
	buf_printf(b, "connect_sshd_registry_request_seconds_bucket"
	    "{le=\"+Inf\"} %llu\n"
	    "connect_sshd_registry_request_seconds_sum %llu.%06llu\n"
	    "connect_sshd_registry_request_seconds_count %llu\n",
	    st->requests, st->latency_us / 1000000, st->latency_us % 1000000,
	    st->requests);
}

void
metrics_gauges(const struct monitor *m, struct metrics_gauges *g)
{
	const struct worker *w;

	memset(g, 0, sizeof(*g));
	for (w = m->workers; w != NULL; w = w->next) {
		if (w->state == WS_IDLE)
			g->idle++;
		else if (w->state == WS_STARTING && w->conn_id == 0)
			g->starting++;
		else
			g->serving++;
		if (w->state == WS_ROUTED)
			g->routed++;
		else if (w->conn_id != 0 && w->state != WS_AUTHED &&
		    w->state != WS_ROUTING && w->state != WS_CLOSING)
			g->unauth++;
	}
}

void
metrics_reset(void)
{
	connections = auth_accepted = bytes_in = bytes_out = 0;
	refused.n = denied.n = channels.n = ends.n = 0;
}

void
metrics_render(struct buf *b, const struct metrics_gauges *g,
    const struct registry_stats *reg, uint64_t loop_max_us)
{
	put_metric(b, "connect_sshd_connections_total", "counter",
	    "TCP connections accepted.", connections);
	put_labelled(b, &refused);
	put_metric(b, "connect_sshd_auth_accepted_total", "counter",
	    "Logins the monitor verified and permitted.", auth_accepted);
	put_labelled(b, &denied);
	put_metric(b, "connect_sshd_sessions_active", "gauge",
	    "Connections relaying to their Studio.", g->routed);
	put_metric(b, "connect_sshd_connections_unauthenticated", "gauge",
	    "Connections not yet authenticated.", g->unauth);
	put_labelled(b, &channels);
	buf_printf(b, "# HELP connect_sshd_bytes_relayed_total Channel data "
	    "relayed, counted when a channel closes.\n"
	    "# TYPE connect_sshd_bytes_relayed_total counter\n"
	    "connect_sshd_bytes_relayed_total{direction=\"in\"} %llu\n"
	    "connect_sshd_bytes_relayed_total{direction=\"out\"} %llu\n",
	    bytes_in, bytes_out);
	buf_printf(b, "# HELP connect_sshd_workers Worker processes, by "
	    "state.\n# TYPE connect_sshd_workers gauge\n"
	    "connect_sshd_workers{state=\"idle\"} %llu\n"
	    "connect_sshd_workers{state=\"starting\"} %llu\n"
	    "connect_sshd_workers{state=\"serving\"} %llu\n",
	    g->idle, g->starting, g->serving);
	put_labelled(b, &ends);
	buf_printf(b, "# HELP connect_sshd_monitor_loop_max_seconds The "
	    "monitor's longest pass between two polls since it started: how "
	    "long any peer may have waited for it.\n"
	    "# TYPE connect_sshd_monitor_loop_max_seconds gauge\n"
	    "connect_sshd_monitor_loop_max_seconds %llu.%06llu\n",
	    (unsigned long long)(loop_max_us / 1000000),
	    (unsigned long long)(loop_max_us % 1000000));
	render_registry(reg, b);
}
