/*
 * config_table.c - the number and bool settings, one row each.
 *
 * setting_rows[] gives each its group, name, field, bounds, default and
 * what a SIGHUP does with it; the loader, the -T dump and reload's change
 * log (config_changes()) all read it, so that a new limit is one row here
 * and its entry in connect-sshd.conf(5).  The limits and forwarding groups
 * are wholly rows and are loaded here too; the rows of the groups that
 * also hold strings (the top level, workers, registry) are loaded and
 * dumped by their group's code, in their places among those strings.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "config.h"
#include "config_int.h"
#include "keytypes.h"

#define PREFORK_MIN		1
#define PREFORK_MAX		256
#define PREFORK_DEFAULT		4
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
#define REDIS_TIMEOUT_MIN	10
#define REDIS_TIMEOUT_MAX	10000
#define REDIS_TIMEOUT_DEFAULT	500
#define REDIS_TTL_MAX		300
#define REDIS_TTL_DEFAULT	5

/*
 * Every plain number and bool setting, one row each, by group in the order
 * -T prints them (group "" is the top level): the loader takes their
 * bounds and defaults from here, -T dumps them, check_group() accepts
 * their names, and a reload logs the ones that changed (config_changes()).
 * A new limit is its int field in struct config, one row, and its entry
 * in connect-sshd.conf(5).
 *
 * Not rows, kept in their own code because their values are not plain
 * numbers or bools: strings and paths (key, key_fingerprint,
 * trusted_user_ca_keys, metrics_listen, workers.user, chroot and program,
 * registry.address, user, password_file and prefix), names from a fixed
 * set (upstream_auth, log.level, log.format, registry.backend), lists
 * (listen, allowed_workspaces, workspaces, users, studios, algorithms.*),
 * the 64-bit workspace ids, and each listen entry's proxy_protocol, a bool
 * inside a list entry that is checked together with its proxy_from.  The
 * environment overrides CONNECT_SSH_ENABLED and CONNECT_REDIS_DB parse
 * environment text and keep their own messages.  max_startups is a row of
 * its own type: "start:rate:full" fills three fields.
 *
 * reload: what a SIGHUP does with the row (monitor/reload.c).
 */
enum row_type {
	ROW_INT,
	ROW_BOOL,
	ROW_STARTUPS,	/* max_startups: "start:rate:full" */
};

enum row_reload {
	/* The running value stays until a restart (keep_running() in
	 * monitor/reload.c logs the change as such). */
	RELOAD_RESTART,
	/* Applies from the reload on, without a "reload: GROUP.NAME" line:
	 * connect-sshd(8) promises that line for the limits and forwarding
	 * switches only (the registry's values are in the "registry: Redis
	 * at" line instead).  RELOAD_LOGGED would log them too. */
	RELOAD_QUIET,
	/* Applies to new connections, and a change is logged as
	 * "reload: GROUP.NAME: old -> new". */
	RELOAD_LOGGED,
};

struct setting_row {
	const char *group;	/* "" for the top level */
	const char *name;
	enum row_type type;
	size_t offset;		/* of its int in struct config */
	int min, max, def;
	int early;		/* read before the users (load_key_limits()) */
	enum row_reload reload;
};

#define ROW(g, f, t, lo, hi, d, rl) \
	{ g, #f, t, offsetof(struct config, f), lo, hi, d, 0, rl }
#define LIMIT(f, lo, hi, d) \
	{ "limits", #f, ROW_INT, offsetof(struct config, limits.f), lo, hi, \
	  d, 0, RELOAD_LOGGED }
#define SWITCH(f) \
	{ "forwarding", #f, ROW_BOOL, offsetof(struct config, forwarding.f), \
	  0, 1, 1, 0, RELOAD_LOGGED }
#define REGISTRY(f, lo, hi, d) \
	{ "registry", #f, ROW_INT, offsetof(struct config, registry.f), lo, \
	  hi, d, 0, RELOAD_QUIET }

static const struct setting_row setting_rows[] = {
	ROW("", enabled, ROW_BOOL, 0, 1, 1, RELOAD_RESTART),
	{ "workers", "prefork", ROW_INT,
	  offsetof(struct config, workers.prefork), PREFORK_MIN, PREFORK_MAX,
	  PREFORK_DEFAULT, 0, RELOAD_QUIET },
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
	{ "limits", "max_startups", ROW_STARTUPS, 0, 0, 0, 0, 0,
	  RELOAD_LOGGED },
	/* -1: half of max_startups' start (per_source_default()) */
	LIMIT(per_source_max_startups, 0, STARTUPS_MAX, -1),
	LIMIT(proxy_header_timeout, PROXY_TIMEOUT_MIN, PROXY_TIMEOUT_MAX,
	    PROXY_TIMEOUT_DEFAULT),
	{ "limits", "rsa_min_bits", ROW_INT,
	  offsetof(struct config, limits.rsa_min_bits),
	  KEYTYPE_RSA_MIN_BITS_LOWEST, KEYTYPE_RSA_MAX_BITS,
	  KEYTYPE_RSA_MIN_BITS_DEFAULT, 1, RELOAD_LOGGED },
	SWITCH(local),
	SWITCH(remote),
	SWITCH(agent),
	REGISTRY(db, 0, REDIS_DB_MAX, 0),
	REGISTRY(timeout_ms, REDIS_TIMEOUT_MIN, REDIS_TIMEOUT_MAX,
	    REDIS_TIMEOUT_DEFAULT),
	REGISTRY(cache_ttl, 0, REDIS_TTL_MAX, REDIS_TTL_DEFAULT),
};

#define NROWS	(sizeof(setting_rows) / sizeof(setting_rows[0]))
#define OWN_NAMES_MAX	32	/* names a group's own code takes */

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

/* The row group.name; they are named in code, so a miss is a bug. */
static const struct setting_row *
find_row(const char *group, const char *name)
{
	size_t i;

	for (i = 0; i < NROWS; i++)
		if (strcmp(setting_rows[i].group, group) == 0 &&
		    strcmp(setting_rows[i].name, name) == 0)
			return &setting_rows[i];
	abort();
}

/* Every row's default, before anything is read. */
void
rows_default(struct config *cfg)
{
	const struct setting_row *r;

	for (r = setting_rows; r < setting_rows + NROWS; r++) {
		if (r->type != ROW_STARTUPS) {
			*row_field(cfg, r) = r->def;
			continue;
		}
		cfg->limits.startups_begin = STARTUPS_BEGIN_DEFAULT;
		cfg->limits.startups_rate = STARTUPS_RATE_DEFAULT;
		cfg->limits.startups_full = STARTUPS_FULL_DEFAULT;
	}
}

/* Report settings of group that are neither rows of gname nor in own (the
 * names its own code takes; NULL if none). */
void
check_group(struct loader *l, const config_setting_t *group,
    const char *gname, const char *const *own)
{
	const char *names[NROWS + OWN_NAMES_MAX + 1];
	size_t i, n = 0;

	for (i = 0; i < NROWS; i++)
		if (strcmp(setting_rows[i].group, gname) == 0)
			names[n++] = setting_rows[i].name;
	for (i = 0; own != NULL && own[i] != NULL && i < OWN_NAMES_MAX; i++)
		names[n++] = own[i];
	names[n] = NULL;
	check_names(l, group, names, gname[0] != '\0' ? gname : NULL);
}

/* What g sets of row r (g may be NULL: nothing; the default stays). */
static void
load_one(struct loader *l, const config_setting_t *g,
    const struct setting_row *r)
{
	switch (r->type) {
	case ROW_INT:
		member_int(l, g, r->name, r->group, r->min, r->max,
		    row_field(l->cfg, r));
		break;
	case ROW_BOOL:
		member_bool(l, g, r->name, r->group, row_field(l->cfg, r));
		break;
	case ROW_STARTUPS:
		if (g != NULL)
			load_max_startups(l, g, &l->cfg->limits);
		break;
	}
}

/* The rows of group gname (early ones, or the others), in table order. */
void
load_rows(struct loader *l, const config_setting_t *g, const char *gname,
    int early)
{
	size_t i;

	for (i = 0; i < NROWS; i++)
		if (strcmp(setting_rows[i].group, gname) == 0 &&
		    setting_rows[i].early == early)
			load_one(l, g, &setting_rows[i]);
}

/* One row, where its group's own code reads it. */
void
load_row(struct loader *l, const config_setting_t *g, const char *gname,
    const char *name)
{
	load_one(l, g, find_row(gname, name));
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
		check_group(l, g, "limits", NULL);
	load_rows(l, g, "limits", 0);
	per_source_default(&l->cfg->limits);
}

/* Every kind is on unless switched off: editors' remote modes need all. */
void
load_forwarding(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *g;

	if ((g = root_group(l, root, "forwarding")) != NULL)
		check_group(l, g, "forwarding", NULL);
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

static void
dump_one(const struct config *cfg, const struct setting_row *r, int level,
    FILE *out)
{
	char v[64];

	row_text(cfg, r, v, sizeof(v));
	fprintf(out, r->type == ROW_STARTUPS ? "%*s%s = \"%s\";\n" :
	    "%*s%s = %s;\n", level * INDENT, "", r->name, v);
}

/* The rows of group gname, in their order, at level (no braces). */
void
dump_rows(const struct config *cfg, const char *gname, int level, FILE *out)
{
	size_t i;

	for (i = 0; i < NROWS; i++)
		if (strcmp(setting_rows[i].group, gname) == 0)
			dump_one(cfg, &setting_rows[i], level, out);
}

/* One row, where its group's own code prints it. */
void
dump_row(const struct config *cfg, const char *gname, const char *name,
    int level, FILE *out)
{
	dump_one(cfg, find_row(gname, name), level, out);
}

/* The RELOAD_LOGGED rows whose text differs, in table order. */
void
config_changes(const struct config *a, const struct config *b,
    void (*say)(const char *group, const char *name, const char *from,
    const char *to))
{
	char va[64], vb[64];
	size_t i;

	for (i = 0; i < NROWS; i++) {
		if (setting_rows[i].reload != RELOAD_LOGGED)
			continue;
		row_text(a, &setting_rows[i], va, sizeof(va));
		row_text(b, &setting_rows[i], vb, sizeof(vb));
		if (strcmp(va, vb) != 0)
			say(setting_rows[i].group, setting_rows[i].name, va, vb);
	}
}
