/*
 * test_metrics.c - the Prometheus text of monitor/metrics.c: counters fed
 * through the audit hook as the monitor feeds them, 20-digit values,
 * long, odd and too many label values, every line complete and
 * well-formed, every series once.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "buf.h"
#include "log.h"
#include "monitor/monitor.h"
#include "registry.h"
#include "runner.h"

#define MAXU	18446744073709551615ULL		/* 20 digits */
#define MAXU_S	"18446744073709551615"
#define MAX_SERIES	1024

/* A metric or label name: [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no ':'). */
static size_t
name_len(const char *p, int colon)
{
	size_t n = 0;

	while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
	    p[n] == '_' || (colon && p[n] == ':') ||
	    (n > 0 && p[n] >= '0' && p[n] <= '9'))
		n++;
	return n;
}

/* A sample's value: digits, at most one '.' between digits. */
static int
number_ok(const char *p, size_t n)
{
	size_t i, dots = 0;

	if (n == 0 || p[0] == '.' || p[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] == '.')
			dots++;
		else if (p[i] < '0' || p[i] > '9')
			return 0;
	return dots <= 1;
}

/* The family a sample belongs to: histograms add _bucket, _sum, _count. */
static int
in_family(const char *name, size_t n, const char *fam, const char *type)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	size_t i, fl = strlen(fam);

	if (n == fl && strncmp(name, fam, n) == 0)
		return 1;
	if (strcmp(type, "histogram") != 0 || n <= fl ||
	    strncmp(name, fam, fl) != 0)
		return 0;
	for (i = 0; i < 3; i++)
		if (n - fl == strlen(sfx[i]) &&
		    strncmp(name + fl, sfx[i], n - fl) == 0)
			return 1;
	return 0;
}

/*
 * One line, without its '\n': "# HELP name text", "# TYPE name type", or
 * a sample of the family last typed, name{label="value",...} number, with
 * its series (name and labels) in *series.  0 if well-formed.
 */
static int
line_ok(const char *l, size_t len, char *fam, char *type, char **series)
{
	const char *p = l, *end = l + len, *v;
	size_t n;

	*series = NULL;
	if (len > 7 && (strncmp(l, "# HELP ", 7) == 0 ||
	    strncmp(l, "# TYPE ", 7) == 0)) {
		p += 7;
		if ((n = name_len(p, 1)) == 0 || n >= 128 || p + n >= end ||
		    p[n] != ' ' || p + n + 1 == end)
			return -1;
		if (l[2] == 'H')
			return 0;
		memcpy(fam, p, n);
		fam[n] = '\0';
		p += n + 1;
		if ((size_t)(end - p) >= 16)
			return -1;
		memcpy(type, p, (size_t)(end - p));
		type[end - p] = '\0';
		return strcmp(type, "counter") == 0 ||
		    strcmp(type, "gauge") == 0 ||
		    strcmp(type, "histogram") == 0 ? 0 : -1;
	}
	if ((n = name_len(p, 1)) == 0 || !in_family(p, n, fam, type))
		return -1;
	p += n;
	if (p < end && *p == '{') {
		do {
			p++;
			if ((n = name_len(p, 0)) == 0)
				return -1;
			p += n;
			if (end - p < 3 || p[0] != '=' || p[1] != '"')
				return -1;
			for (p += 2; p < end && *p != '"'; p++)
				if (*p == '\\' && (++p == end ||
				    (*p != '\\' && *p != '"' && *p != 'n')))
					return -1;
			if (p++ == end)
				return -1;
		} while (p < end && *p == ',');
		if (p == end || *p++ != '}')
			return -1;
	}
	if (p == end || *p != ' ')
		return -1;
	v = p + 1;
	if (!number_ok(v, (size_t)(end - v)))
		return -1;
	*series = strndup(l, (size_t)(p - l));
	return *series != NULL ? 0 : -1;
}

/*
 * The whole text: not empty, no NUL, every line ends in '\n' and is
 * well-formed, no series twice.  Returns it as a C string, to search.
 */
static char *
check_text(const struct buf *b)
{
	char fam[128] = "", type[16] = "", *series[MAX_SERIES], *text;
	const char *p, *nl, *end;
	size_t ns = 0, i, j;
	int bad = 0;

	CU_ASSERT_EQUAL_FATAL(buf_ok(b), 0);
	CU_ASSERT_FATAL(b->len > 0);
	CU_ASSERT_PTR_NULL(memchr(b->data, '\0', b->len));
	CU_ASSERT_EQUAL(b->data[b->len - 1], '\n');
	p = (const char *)b->data;
	end = p + b->len;
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (line_ok(p, (size_t)(nl - p), fam, type, &series[ns]) != 0) {
			printf("\n    bad line: [%.*s]", (int)(nl - p), p);
			bad++;
			continue;
		}
		if (series[ns] != NULL) {
			CU_ASSERT_FATAL(ns < MAX_SERIES - 1);
			ns++;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	for (i = 0; i < ns; i++) {
		for (j = i + 1; j < ns; j++)
			if (strcmp(series[i], series[j]) == 0) {
				printf("\n    series twice: %s", series[i]);
				CU_FAIL("a series appears twice");
			}
	}
	for (i = 0; i < ns; i++)
		free(series[i]);
	text = calloc(1, b->len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	memcpy(text, b->data, b->len);
	return text;
}

static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	printf("\n    missing: %s", line);
	return 0;
}

/* Render into a buffer as big as a response may be. */
static char *
render(const struct metrics_gauges *g, const struct registry_stats *reg)
{
	struct buf b;
	char *text;

	buf_init(&b, METRICS_MAX_TEXT);
	metrics_render(&b, g, reg, 0);
	text = check_text(&b);
	buf_free(&b);
	return text;
}

static void
channel_close(const char *type, long long in, long long out)
{
	const struct audit_field f[] = {
		AF_N("conn", 1), AF_S("user", "alice"), AF_S("session", "s1"),
		AF_N("channel", 0), AF_S("type", type),
		AF_S("request", "exec"), AF_N("bytes_in", in),
		AF_N("bytes_out", out),
	};

	metrics_observe("channel.close", f, sizeof(f) / sizeof(f[0]));
}

static void
one(const char *event, const char *key, const char *value)
{
	const struct audit_field f[] = { AF_N("conn", 1), AF_S(key, value) };

	metrics_observe(event, f, 2);
}

/* Byte counters, gauges and registry counts at 2^64 - 1: every value
 * whole, every line whole. */
static void
test_twenty_digits(void)
{
	struct metrics_gauges g = { MAXU, MAXU, MAXU, MAXU, MAXU };
	struct registry_stats st;
	char *t;
	size_t i;

	metrics_reset();
	/* 2 * (2^63 - 1) + 1: the sum the monitor keeps, fed as it is. */
	channel_close("session", LLONG_MAX, LLONG_MAX);
	channel_close("session", LLONG_MAX, LLONG_MAX);
	channel_close("direct-tcpip", 1, 1);
	memset(&st, 0, sizeof(st));
	st.up = 1;
	st.requests = st.errors = st.cache_hits = st.bad_records = MAXU;
	st.latency_us = MAXU;
	for (i = 0; i < sizeof(st.latency_le) / sizeof(st.latency_le[0]); i++)
		st.latency_le[i] = MAXU;

	t = render(&g, &st);
	CU_ASSERT(has_line(t, "connect_sshd_bytes_relayed_total"
	    "{direction=\"in\"} " MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_bytes_relayed_total"
	    "{direction=\"out\"} " MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_workers{state=\"idle\"} " MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_workers{state=\"starting\"} "
	    MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_workers{state=\"serving\"} "
	    MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_sessions_active " MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_connections_unauthenticated "
	    MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_channels_total{type=\"session\"} 2"));
	CU_ASSERT(has_line(t, "connect_sshd_channels_total"
	    "{type=\"direct-tcpip\"} 1"));
	/* After the byte counters, the rest is all there. */
	CU_ASSERT(has_line(t, "# TYPE connect_sshd_connection_ends_total "
	    "counter"));
	CU_ASSERT(has_line(t, "connect_sshd_registry_up 1"));
	CU_ASSERT(has_line(t, "connect_sshd_registry_requests_total " MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_registry_errors_total " MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_registry_cache_hits_total "
	    MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_registry_bad_records_total "
	    MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_registry_request_seconds_bucket"
	    "{le=\"0.000500\"} " MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_registry_request_seconds_bucket"
	    "{le=\"1.000000\"} " MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_registry_request_seconds_bucket"
	    "{le=\"+Inf\"} " MAXU_S));
	CU_ASSERT(has_line(t, "connect_sshd_registry_request_seconds_sum "
	    "18446744073709.551615"));
	CU_ASSERT(has_line(t, "connect_sshd_registry_request_seconds_count "
	    MAXU_S));
	free(t);
}

/* Each counter and label the audit records feed, once. */
static void
test_counted_from_audit(void)
{
	struct metrics_gauges g;
	char *t;

	metrics_reset();
	memset(&g, 0, sizeof(g));
	one("connection", "peer", "192.0.2.1:1");
	one("connection", "peer", "192.0.2.1:2");
	one("connection.refused", "reason", "max-startups");
	one("auth.accepted", "user", "alice");
	one("auth.denied", "reason", "not-a-member");
	one("auth.denied", "reason", "not-a-member");
	one("session.closed", "worker", "exited with status 0");
	one("session.closed", "worker", "exited with status 1");
	one("session.closed", "worker", "killed by signal KILL");
	one("session.closed", "worker", "killed by the sandbox (SIGSYS: a "
	    "forbidden system call)");
	one("session.closed", "worker", "killed by the monitor: bad W_LOG");
	one("session.closed", "worker", "login grace time exceeded");
	one("command", "request", "exec");		/* not counted */

	t = render(&g, NULL);
	CU_ASSERT(has_line(t, "connect_sshd_connections_total 2"));
	CU_ASSERT(has_line(t, "connect_sshd_connections_refused_total"
	    "{reason=\"max-startups\"} 1"));
	CU_ASSERT(has_line(t, "connect_sshd_auth_accepted_total 1"));
	CU_ASSERT(has_line(t, "connect_sshd_auth_denied_total"
	    "{reason=\"not-a-member\"} 2"));
	CU_ASSERT(has_line(t, "connect_sshd_connection_ends_total"
	    "{cause=\"exit\"} 1"));
	CU_ASSERT(has_line(t, "connect_sshd_connection_ends_total"
	    "{cause=\"error-exit\"} 1"));
	CU_ASSERT(has_line(t, "connect_sshd_connection_ends_total"
	    "{cause=\"signal\"} 1"));
	CU_ASSERT(has_line(t, "connect_sshd_connection_ends_total"
	    "{cause=\"sandbox\"} 1"));
	CU_ASSERT(has_line(t, "connect_sshd_connection_ends_total"
	    "{cause=\"monitor\"} 1"));
	CU_ASSERT(has_line(t, "connect_sshd_connection_ends_total"
	    "{cause=\"other\"} 1"));
	CU_ASSERT(has_line(t, "connect_sshd_bytes_relayed_total"
	    "{direction=\"in\"} 0"));
	/* No registry, no registry metrics. */
	CU_ASSERT_PTR_NULL(strstr(t, "registry"));
	free(t);
}

/* The gauges, from a worker table. */
static void
test_gauges(void)
{
	static const struct { enum wstate s; uint64_t conn; } ws[] = {
		{ WS_IDLE, 0 }, { WS_IDLE, 0 }, { WS_STARTING, 0 },
		{ WS_PREAUTH, 7 }, { WS_KEYED, 8 }, { WS_AUTHED, 9 },
		{ WS_ROUTED, 10 }, { WS_ROUTED, 11 },
	};
	struct worker w[sizeof(ws) / sizeof(ws[0])];
	struct monitor m;
	struct metrics_gauges g;
	size_t i;
	char *t;

	memset(&m, 0, sizeof(m));
	memset(w, 0, sizeof(w));
	for (i = 0; i < sizeof(ws) / sizeof(ws[0]); i++) {
		w[i].state = ws[i].s;
		w[i].conn_id = ws[i].conn;
		w[i].next = m.workers;
		m.workers = &w[i];
	}
	metrics_gauges(&m, &g);
	CU_ASSERT_EQUAL(g.idle, 2);
	CU_ASSERT_EQUAL(g.starting, 1);
	CU_ASSERT_EQUAL(g.serving, 5);
	CU_ASSERT_EQUAL(g.routed, 2);
	CU_ASSERT_EQUAL(g.unauth, 2);
	metrics_reset();
	t = render(&g, NULL);
	CU_ASSERT(has_line(t, "connect_sshd_workers{state=\"idle\"} 2"));
	CU_ASSERT(has_line(t, "connect_sshd_workers{state=\"starting\"} 1"));
	CU_ASSERT(has_line(t, "connect_sshd_workers{state=\"serving\"} 5"));
	CU_ASSERT(has_line(t, "connect_sshd_sessions_active 2"));
	CU_ASSERT(has_line(t, "connect_sshd_connections_unauthenticated 2"));
	free(t);
}

/*
 * Label values: the longest that is kept is kept whole; a longer one, or
 * one that would need escaping, counts as "other" -- never cut (two cut
 * values would be one series twice) and never able to add a line.
 */
static void
test_long_and_odd_labels(void)
{
	char longest[48], too_long[IPC_MAX_NAME], want[160];
	struct metrics_gauges g;
	char *t;

	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	memset(too_long, 'b', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	metrics_reset();
	memset(&g, 0, sizeof(g));
	channel_close(longest, 1, 1);
	channel_close(longest, 1, 1);
	channel_close(too_long, 1, 1);
	/* The same 47 first bytes as too_long: not the same series. */
	too_long[60] = 'c';
	channel_close(too_long, 1, 1);
	channel_close("x\"} 1\nconnect_sshd_connections_total 999", 1, 1);
	channel_close("back\\slash", 1, 1);
	channel_close("", 1, 1);
	one("connection.refused", "reason", too_long);

	t = render(&g, NULL);
	snprintf(want, sizeof(want), "connect_sshd_channels_total"
	    "{type=\"%s\"} 2", longest);
	CU_ASSERT(has_line(t, want));
	CU_ASSERT(has_line(t, "connect_sshd_channels_total{type=\"other\"} 5"));
	CU_ASSERT(has_line(t, "connect_sshd_connections_refused_total"
	    "{reason=\"other\"} 1"));
	CU_ASSERT(has_line(t, "connect_sshd_connections_total 0"));
	CU_ASSERT(has_line(t, "connect_sshd_bytes_relayed_total"
	    "{direction=\"in\"} 7"));
	CU_ASSERT_PTR_NULL(strstr(t, "bbbbbbbbbbbbbbbb"));
	free(t);
}

/* More distinct values than a family holds: the rest share the one
 * "other" series, with a value that was "other" already; no value that
 * was counted is renamed or lost. */
static void
test_full_table(void)
{
	struct metrics_gauges g;
	char v[32], want[128];
	unsigned i;
	char *t;

	metrics_reset();
	memset(&g, 0, sizeof(g));
	one("auth.denied", "reason", "other");
	for (i = 0; i < 40; i++) {
		snprintf(v, sizeof(v), "reason-%02u", i);
		one("auth.denied", "reason", v);
	}
	one("auth.denied", "reason", "reason-00");
	one("auth.denied", "reason", "reason-39");
	for (i = 0; i < 40; i++) {
		snprintf(v, sizeof(v), "cause-%02u", i);
		/* not a worker description end_cause knows: all "other" */
		one("session.closed", "worker", v);
	}
	one("session.closed", "worker", "ended (status 0x7f)");
	t = render(&g, NULL);
	CU_ASSERT(has_line(t, "connect_sshd_auth_denied_total"
	    "{reason=\"reason-00\"} 2"));
	for (i = 1; i < 30; i++) {
		snprintf(want, sizeof(want), "connect_sshd_auth_denied_total"
		    "{reason=\"reason-%02u\"} 1", i);
		CU_ASSERT(has_line(t, want));
	}
	CU_ASSERT_PTR_NULL(strstr(t, "reason-30"));
	CU_ASSERT(has_line(t, "connect_sshd_auth_denied_total"
	    "{reason=\"other\"} 12"));
	CU_ASSERT(has_line(t, "connect_sshd_connection_ends_total"
	    "{cause=\"other\"} 41"));
	free(t);
}

/* Every family full of the longest values, every number 20 digits: the
 * response still fits. */
static void
test_largest_fits(void)
{
	static const char *const events[][2] = {
		{ "connection.refused", "reason" },
		{ "auth.denied", "reason" },
		{ "channel.close", "type" },
	};
	static const char head[] = "HTTP/1.0 200 OK\r\n"
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Connection: close\r\n\r\n";
	struct metrics_gauges g = { MAXU, MAXU, MAXU, MAXU, MAXU };
	struct registry_stats st;
	char v[48];
	struct buf b;
	size_t e, i;
	char *t;

	metrics_reset();
	memset(v, 'v', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	for (e = 0; e < 3; e++)
		for (i = 0; i < 40; i++) {
			v[0] = (char)('a' + i % 26);
			v[1] = (char)('a' + i / 26);
			one(events[e][0], events[e][1], v);
		}
	memset(&st, 0xff, sizeof(st));
	st.up = 1;
	buf_init(&b, METRICS_MAX_TEXT);
	buf_put(&b, head, sizeof(head) - 1);	/* as metrics_serve */
	metrics_render(&b, &g, &st, 0);
	CU_ASSERT_EQUAL(buf_ok(&b), 0);
	buf_free(&b);
	t = render(&g, &st);
	free(t);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "20-digit values, whole lines", test_twenty_digits },
		{ "counted from the audit records", test_counted_from_audit },
		{ "gauges from the worker table", test_gauges },
		{ "long and odd label values", test_long_and_odd_labels },
		{ "more values than a family holds", test_full_table },
		{ "the largest response fits", test_largest_fits },
		UNIT_END,
	};

	return unit_run(argc, argv, "metrics", tests);
}
