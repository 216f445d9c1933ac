/*
 * config_table.c - the number and bool settings, one row each.
 *
 * setting_rows[] gives each its group, name, field, bounds, default and
 * what a SIGHUP does with it; the loader, the -T dump and reload's change
 * log (config_changes()) all read it, so that a new limit is one row here
 * and its entry in connect-sshd.conf(5).  The limits and forwarding groups
 * are wholly rows and are loaded here too.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <libconfig.h>

#include "config.h"
#include "config_int.h"
#include "keytypes.h"

#define GRACE_MIN		1
#define GRACE_MAX		3600
#define GRACE_DEFAULT		30
#define CONNECT_TIMEOUT_MIN	1
#define CONNECT_TIMEOUT_MAX	300
#define CONNECT_TIMEOUT_DEFAULT	10
#define AUTH_TRIES_MIN		1
#define AUTH_TRIES_MAX		100
#define AUTH_TRIES_DEFAULT	6
#define SESSIONS_MIN		1
#define SESSIONS_MAX		100000
#define SESSIONS_DEFAULT	1000

/* One user's connections at once: a few editor windows, terminals and
 * transfers (VS Code keeps 1-3 connections per window; ControlMaster
 * shares one) stay well under it, while one user alone cannot take more
 * than 32 of max_sessions' workers and their memory. */
#define PER_USER_DEFAULT	32

#define STARTUPS_MAX		100000
#define STARTUPS_BEGIN_DEFAULT	10	/* OpenSSH's MaxStartups 10:30:100 */
#define STARTUPS_RATE_DEFAULT	30
#define STARTUPS_FULL_DEFAULT	100
#define DRAIN_MAX		86400
#define DRAIN_DEFAULT		30
#define PROXY_TIMEOUT_MIN	1
#define PROXY_TIMEOUT_MAX	60
#define PROXY_TIMEOUT_DEFAULT	5
#define IDLE_MAX		604800	/* a week */
#define IDLE_DEFAULT		0	/* off */
#define KEEPALIVE_MAX		3600
#define KEEPALIVE_DEFAULT	60
#define KEEPALIVE_COUNT_MIN	1
#define KEEPALIVE_COUNT_MAX	100
#define KEEPALIVE_COUNT_DEFAULT	3

/*
 * The number and bool settings of the limits and forwarding groups, one
 * row each, in the order -T prints them: the loader takes their bounds
 * and defaults from here, -T dumps them, check_rows() refuses a name
 * that is not here, and a reload logs the ones that changed
 * (config_changes()).  A new limit is its field, one row, and its entry
 * in connect-sshd.conf(5).  Every one of them applies to new connections
 * on SIGHUP.
 */
enum row_type {
	ROW_INT,
	ROW_BOOL,
	ROW_STARTUPS,	/* max_startups: "start:rate:full" */
};

struct setting_row {
	const char *group;
	const char *name;
	enum row_type type;
	size_t offset;		/* of its int in struct config */
	int min, max, def;
	int early;		/* read before the users (load_key_limits()) */
};

#define LIMIT(f, lo, hi, d) \
	{ "limits", #f, ROW_INT, offsetof(struct config, limits.f), lo, hi, d, 0 }
#define SWITCH(f) \
	{ "forwarding", #f, ROW_BOOL, offsetof(struct config, forwarding.f), \
	  0, 1, 1, 0 }

static const struct setting_row setting_rows[] = {
	LIMIT(login_grace_time, GRACE_MIN, GRACE_MAX, GRACE_DEFAULT),
	LIMIT(upstream_connect_timeout, CONNECT_TIMEOUT_MIN,
	    CONNECT_TIMEOUT_MAX, CONNECT_TIMEOUT_DEFAULT),
	LIMIT(max_auth_tries, AUTH_TRIES_MIN, AUTH_TRIES_MAX,
	    AUTH_TRIES_DEFAULT),
	LIMIT(max_sessions, SESSIONS_MIN, SESSIONS_MAX, SESSIONS_DEFAULT),
	LIMIT(max_sessions_per_user, 0, SESSIONS_MAX, PER_USER_DEFAULT),
	LIMIT(idle_timeout, 0, IDLE_MAX, IDLE_DEFAULT),
	LIMIT(keepalive_interval, 0, KEEPALIVE_MAX, KEEPALIVE_DEFAULT),
	LIMIT(keepalive_count_max, KEEPALIVE_COUNT_MIN, KEEPALIVE_COUNT_MAX,
	    KEEPALIVE_COUNT_DEFAULT),
	LIMIT(drain_timeout, 0, DRAIN_MAX, DRAIN_DEFAULT),
	{ "limits", "max_startups", ROW_STARTUPS, 0, 0, 0, 0, 0 },
	/* -1: half of max_startups' start (per_source_default()) */
	LIMIT(per_source_max_startups, 0, STARTUPS_MAX, -1),
	LIMIT(proxy_header_timeout, PROXY_TIMEOUT_MIN, PROXY_TIMEOUT_MAX,
	    PROXY_TIMEOUT_DEFAULT),
	{ "limits", "rsa_min_bits", ROW_INT,
	  offsetof(struct config, limits.rsa_min_bits),
	  KEYTYPE_RSA_MIN_BITS_LOWEST, KEYTYPE_RSA_MAX_BITS,
	  KEYTYPE_RSA_MIN_BITS_DEFAULT, 1 },
	SWITCH(local),
	SWITCH(remote),
	SWITCH(agent),
};

#define NROWS	(sizeof(setting_rows) / sizeof(setting_rows[0]))

/* "start:rate:full" as OpenSSH's MaxStartups, or "n" for n:100:n. */
static void
load_max_startups(struct loader *l, const config_setting_t *g,
    struct cfg_limits *lim)
{
	const config_setting_t *s;
	const char *v;
	char tail;
	int b, r, f, n;

	if ((s = config_setting_get_member(g, "max_startups")) == NULL ||
	    get_string(l, s, "limits.max_startups", &v) != 0)
		return;
	n = sscanf(v, "%d:%d:%d%c", &b, &r, &f, &tail);
	if (n == 1 && sscanf(v, "%d%c", &b, &tail) == 1) {
		r = 100;
		f = b;
		n = 3;
	}
	if (n != 3 || b < 1 || f < b || f > STARTUPS_MAX || r < 0 || r > 100) {
		serr(l, s, "limits.max_startups = \"%.*s\" is not valid: use "
		    "\"start:rate:full\" with 1 <= start <= full <= %d and "
		    "rate 0 to 100, or one number", SHOW_MAX, v, STARTUPS_MAX);
		return;
	}
	lim->startups_begin = b;
	lim->startups_rate = r;
	lim->startups_full = f;
}

static int *
row_field(struct config *cfg, const struct setting_row *r)
{
	return (int *)((char *)cfg + r->offset);
}

/* Report settings of group that have no row. */
static void
check_rows(struct loader *l, const config_setting_t *group, const char *gname)
{
	const char *names[NROWS + 1];
	size_t i, n = 0;

	for (i = 0; i < NROWS; i++)
		if (strcmp(setting_rows[i].group, gname) == 0)
			names[n++] = setting_rows[i].name;
	names[n] = NULL;
	check_names(l, group, names, gname);
}

/* The rows of group gname (early ones, or the others): their defaults,
 * then what g sets (g may be NULL: defaults only). */
static void
load_rows(struct loader *l, const config_setting_t *g, const char *gname,
    int early)
{
	const struct setting_row *r;
	size_t i;

	for (i = 0; i < NROWS; i++) {
		r = &setting_rows[i];
		if (strcmp(r->group, gname) != 0 || r->early != early)
			continue;
		switch (r->type) {
		case ROW_INT:
			*row_field(l->cfg, r) = r->def;
			member_int(l, g, r->name, gname, r->min, r->max,
			    row_field(l->cfg, r));
			break;
		case ROW_BOOL:
			*row_field(l->cfg, r) = r->def;
			member_bool(l, g, r->name, gname, row_field(l->cfg, r));
			break;
		case ROW_STARTUPS:
			l->cfg->limits.startups_begin = STARTUPS_BEGIN_DEFAULT;
			l->cfg->limits.startups_rate = STARTUPS_RATE_DEFAULT;
			l->cfg->limits.startups_full = STARTUPS_FULL_DEFAULT;
			if (g != NULL)
				load_max_startups(l, g, &l->cfg->limits);
			break;
		}
	}
}

/*
 * limits.rsa_min_bits, before the users whose keys it bounds (an error in
 * the group itself is reported by load_limits).  The bounds it moves are
 * keytypes.h's; the monitor applies the same value to every offered key.
 */
void
load_key_limits(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *g = NULL;

	if (root != NULL &&
	    ((g = config_setting_get_member(root, "limits")) == NULL ||
	    config_setting_type(g) != CONFIG_TYPE_GROUP))
		g = NULL;
	load_rows(l, g, "limits", 1);
}

/*
 * per_source_max_startups, when not set: half of max_startups' start (5
 * of the default 10), so that one source alone -- 100 idle connections
 * from one address -- never reaches the start of random early drop, and
 * the logins of everyone else go on.  At least 1.
 */
static void
per_source_default(struct cfg_limits *lim)
{
	if (lim->per_source_max_startups == -1)
		lim->per_source_max_startups = lim->startups_begin / 2 > 0 ?
		    lim->startups_begin / 2 : 1;
}

void
load_limits(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *g;

	if ((g = root_group(l, root, "limits")) != NULL)
		check_rows(l, g, "limits");
	load_rows(l, g, "limits", 0);
	per_source_default(&l->cfg->limits);
}

/* Every kind is on unless switched off: editors' remote modes need all. */
void
load_forwarding(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *g;

	if ((g = root_group(l, root, "forwarding")) != NULL)
		check_rows(l, g, "forwarding");
	load_rows(l, g, "forwarding", 0);
}

/* A row's value as the configuration file writes it (max_startups without
 * its quotes). */
static void
row_text(const struct config *cfg, const struct setting_row *r, char *out,
    size_t outsz)
{
	int v = *row_field((struct config *)cfg, r);

	if (r->type == ROW_INT)
		snprintf(out, outsz, "%d", v);
	else if (r->type == ROW_BOOL)
		snprintf(out, outsz, "%s", v ? "true" : "false");
	else
		snprintf(out, outsz, "%d:%d:%d", cfg->limits.startups_begin,
		    cfg->limits.startups_rate, cfg->limits.startups_full);
}

/* A group of setting_rows, in their order. */
void
dump_rows(const struct config *cfg, const char *gname, FILE *out)
{
	char v[64];
	size_t i;

	fprintf(out, "%s = {\n", gname);
	for (i = 0; i < NROWS; i++) {
		if (strcmp(setting_rows[i].group, gname) != 0)
			continue;
		row_text(cfg, &setting_rows[i], v, sizeof(v));
		fprintf(out, setting_rows[i].type == ROW_STARTUPS ?
		    "%*s%s = \"%s\";\n" : "%*s%s = %s;\n", INDENT, "",
		    setting_rows[i].name, v);
	}
	fputs("};\n", out);
}

void
config_changes(const struct config *a, const struct config *b,
    void (*say)(const char *group, const char *name, const char *from,
    const char *to))
{
	char va[64], vb[64];
	size_t i;

	for (i = 0; i < NROWS; i++) {
		row_text(a, &setting_rows[i], va, sizeof(va));
		row_text(b, &setting_rows[i], vb, sizeof(vb));
		if (strcmp(va, vb) != 0)
			say(setting_rows[i].group, setting_rows[i].name, va, vb);
	}
}
