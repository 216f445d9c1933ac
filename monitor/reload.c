/*
 * reload.c - SIGHUP: read the configuration again.
 *
 * A configuration that does not load changes nothing: its errors are
 * logged, file:line each, the running one stays, and monitor_reload()
 * returns -1, so that the workers are left alone too.  One that loads
 * replaces the policy, the limits, the forwarding switches and the
 * algorithms for new connections; the caller then retires the idle and
 * starting workers, which were started with the old settings.  Established
 * connections keep what they were given: their workers hold copies, never
 * pointers into a configuration.
 *
 * What is bound to resources opened at start-up -- the listeners, the key,
 * the worker identity and chroot -- keeps its running value; a change to
 * it is logged as needing a restart.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "monitor.h"
#include "policy.h"
#include "registry.h"

extern char **environ;

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
same_listen(const struct config *a, const struct config *b)
{
	size_t i;

	if (a->nlisten != b->nlisten)
		return 0;
	for (i = 0; i < a->nlisten; i++)
		if (!same_str(a->listen[i].host, b->listen[i].host) ||
		    !same_str(a->listen[i].port, b->listen[i].port) ||
		    a->listen[i].proxy_protocol != b->listen[i].proxy_protocol ||
		    a->listen[i].nproxy_from != b->listen[i].nproxy_from ||
		    (a->listen[i].nproxy_from > 0 &&
		    memcmp(a->listen[i].proxy_from, b->listen[i].proxy_from,
		    a->listen[i].nproxy_from * sizeof(struct cfg_net)) != 0))
			return 0;
	return 1;
}

/* A log line, unless keep_running() is undoing itself. */
#define SAY(...) do { if (say) logit(__VA_ARGS__); } while (0)

#define SWAP(a, b) do { __typeof__(a) t_ = (a); (a) = (b); (b) = t_; } \
	while (0)

/* Give loaded the running value of each setting that needs a restart;
 * loaded's own values move to running, which is freed.  Called again on
 * the same pair, quietly (say 0), it swaps them back. */
static void
keep_running(struct config *loaded, struct config *running, int say)
{
	const char *path = loaded->path;

	if (!same_listen(loaded, running)) {
		SAY("%s: listen changed: takes effect at restart", path);
		SWAP(loaded->listen, running->listen);
		SWAP(loaded->nlisten, running->nlisten);
	}
	if (!same_str(loaded->metrics.host, running->metrics.host) ||
	    !same_str(loaded->metrics.port, running->metrics.port)) {
		SAY("%s: metrics_listen changed: takes effect at restart",
		    path);
		SWAP(loaded->metrics, running->metrics);
	}
	if (!same_str(loaded->key_path, running->key_path) ||
	    !same_str(loaded->key_fingerprint, running->key_fingerprint)) {
		SAY("%s: key or key_fingerprint changed: takes effect at "
		    "restart", path);
		SWAP(loaded->key_path, running->key_path);
		SWAP(loaded->key_fingerprint, running->key_fingerprint);
	}
	if (!same_str(loaded->workers.user, running->workers.user) ||
	    !same_str(loaded->workers.lookup_user,
	    running->workers.lookup_user) ||
	    !same_str(loaded->workers.chroot, running->workers.chroot) ||
	    !same_str(loaded->workers.program, running->workers.program)) {
		SAY("%s: workers.user, lookup_user, chroot or program "
		    "changed: takes effect at restart", path);
		SWAP(loaded->workers.user, running->workers.user);
		SWAP(loaded->workers.lookup_user,
		    running->workers.lookup_user);
		SWAP(loaded->workers.chroot, running->workers.chroot);
		SWAP(loaded->workers.program, running->workers.program);
	}
	if (loaded->enabled != running->enabled) {
		SAY("%s: enabled changed: takes effect at restart", path);
		loaded->enabled = running->enabled;
	}
	if (loaded->log.format != running->log.format) {
		SAY("%s: log.format changed: takes effect at restart", path);
		loaded->log.format = running->log.format;
	}
}

/*
 * The file's backend answers from cfg; with the Redis registry, the
 * lookup process answers (lookup.c), started by monitor_run() and, on a
 * reload, started again (monitor_reload): the registry settings may have
 * changed, and its cache must not outlive the old configuration.
 */
int
monitor_set_backend(struct monitor *m, struct config *cfg)
{
	policy_file_backend(&m->backend, cfg);
	return 0;
}

void
monitor_free_backend(struct monitor *m)
{
	memset(&m->backend, 0, sizeof(m->backend));
}

/* Where logins will be looked up, said once at start and each reload. */
void
monitor_log_backend(const struct monitor *m)
{
	const struct cfg_registry *r = &m->cfg->registry;

	if (r->backend == CFG_REGISTRY_REDIS)
		logit("registry: Redis at %s:%s, db %d, key prefix %s, "
		    "answers cached up to %d s", r->host, r->port, r->db,
		    r->prefix, r->cache_ttl);
	else if (m->cfg->nallowed_workspaces == 0)
		logit("allowed_workspaces is empty: SSH is off, every login "
		    "will be refused");
}

static void
say_changed(const char *group, const char *name, const char *from,
    const char *to)
{
	logit("reload: %s.%s: %s -> %s", group, name, from, to);
}

int
monitor_reload(struct monitor *m)
{
	struct config_errors errs;
	struct config *new, *old = m->cfg;
	size_t i;

	logit("SIGHUP: reloading %s", old->path);
	memset(&errs, 0, sizeof(errs));
	new = config_load(old->path, environ, m->default_worker, &errs);
	if (new == NULL) {
		for (i = 0; i < errs.n; i++)
			error("%s", errs.msg[i]);
		if (errs.dropped)
			error("%s: %zu more errors not shown", old->path,
			    errs.dropped);
		error("reload failed: keeping the running configuration");
		config_errors_free(&errs);
		return -1;
	}
	keep_running(new, old, 1);
	if (monitor_set_backend(m, new) != 0) {
		error("reload failed: out of memory: keeping the running "
		    "configuration");
		/* Give the running configuration back what keep_running()
		 * moved out of it. */
		keep_running(new, old, 0);
		config_free(new);
		return -1;
	}
	config_changes(old, new, say_changed);
	m->cfg = new;
	/* Before the lookup process's settings, which carry the level. */
	if (!m->debug)
		log_set_level((enum log_level)m->cfg->log.level);
	if (old->registry.backend == CFG_REGISTRY_REDIS ||
	    new->registry.backend == CFG_REGISTRY_REDIS ||
	    m->metrics_fd != -1) {
		if (lookup_restart(m) != 0)
			error("lookup: not started; logins that need the "
			    "registry are refused until it is");
	}
	config_free(old);
	monitor_log_backend(m);
	logit("configuration reloaded: applies to new connections");
	return 0;
}
