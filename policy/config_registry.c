/*
 * config_registry.c - where studios, workspaces and user keys come from:
 * the registry section of connect-sshd.conf(5) and CONNECT_REDIS_*.
 *
 * The file itself is the default registry; "redis" names a Redis server
 * the platform writes while gateways run.  Here: the registry group (the
 * backend, the Redis address, which may be a DNS name, user, password
 * file and key prefix; its numbers are rows of config_table.c), the
 * CONNECT_REDIS_* environment overrides, and the check that a Redis
 * registry leaves the file's own access lists unset.  connect-sshctl
 * loads only this part (config_load_registry()).
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "config.h"
#include "config_int.h"
#include "filecheck.h"

#define ENV_REDIS_USER		"CONNECT_REDIS_USER"
#define ENV_REDIS_PASSWORD	"CONNECT_REDIS_PASSWORD"
#define ENV_REDIS_DB		"CONNECT_REDIS_DB"
#define REDIS_PREFIX_DEFAULT	"connect-sshd:"
#define REDIS_PREFIX_MAX	64
#define REDIS_USER_MAX		128
#define REDIS_HOSTNAME_MAX	253

/* The registry settings that are not rows of config_table.c. */
static const char *const registry_names[] = {
	"backend", "address", "user", "password_file", "prefix", NULL,
};

const struct name_value registry_backends[] = {
	{ "file", CFG_REGISTRY_FILE },
	{ "redis", CFG_REGISTRY_REDIS },
	{ NULL, 0 },
};

/* What the file holds only while the registry is the file. */
static const char *const file_registry_settings[] = {
	"allowed_workspaces", "workspaces", "users", "studios", NULL,
};

/* --- registry ---------------------------------------------------------- */

/* A DNS name: labels of A-Z a-z 0-9 and '-', dot-separated. */
static int
valid_hostname(const char *h, size_t n)
{
	size_t i;

	if (n == 0 || n > REDIS_HOSTNAME_MAX || h[0] == '-' || h[0] == '.')
		return -1;
	for (i = 0; i < n; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') ||
		    (h[i] >= 'A' && h[i] <= 'Z') ||
		    (h[i] >= '0' && h[i] <= '9') || h[i] == '-' ||
		    h[i] == '.'))
			return -1;
	return 0;
}

/*
 * The Redis address: "host:port" or "[v6]:port", where host may be a DNS
 * name (a Kubernetes Service, say); the monitor resolves it when it
 * connects.  Unlike a listener, the host may not be empty.
 */
static int
redis_hostport(const char *s, char **host, char **port, const char **why)
{
	const char *h = NULL, *p = NULL;
	size_t hlen = 0;
	int family = AF_UNSPEC;

	*host = *port = NULL;
	if ((*why = split_hostport(s, &h, &hlen, &p, &family)) != NULL)
		return -1;
	if (hlen == 0) {
		*why = "the host is missing";
		return -1;
	}
	if (valid_port(p) != 0) {
		*why = "the port must be a number from 1 to 65535";
		return -1;
	}
	if ((*host = strndup(h, hlen)) == NULL || (*port = strdup(p)) == NULL) {
		*why = "out of memory";
		goto fail;
	}
	if (family == AF_INET6 ? valid_numeric(*host, *port, AF_INET6) != 0 :
	    valid_hostname(*host, hlen) != 0) {
		*why = family == AF_INET6 ? "not a numeric IPv6 address" :
		    "not an IPv4 address or a host name";
		goto fail;
	}
	return 0;
 fail:
	free(*host);
	free(*port);
	*host = *port = NULL;
	return -1;
}

int
set_redis_address(struct loader *l, const char *v, const char **why)
{
	struct cfg_registry *r = &l->cfg->registry;
	char *host, *port;

	if (redis_hostport(v, &host, &port, why) != 0)
		return -1;
	free(r->host);
	free(r->port);
	r->host = host;
	r->port = port;
	return 0;
}

/* Key prefix: 1..64 of A-Z a-z 0-9 : _ . - { } (hash tags). */
static int
valid_prefix(const char *v)
{
	size_t n = strlen(v), i;

	if (n == 0 || n > REDIS_PREFIX_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') ||
		    (v[i] >= 'A' && v[i] <= 'Z') ||
		    (v[i] >= '0' && v[i] <= '9') ||
		    strchr(":_.-{}", v[i]) != NULL))
			return -1;
	return 0;
}

/* A Redis ACL user name: printable, no space, 1..128 bytes. */
static int
valid_redis_user(const char *v)
{
	size_t n = strlen(v), i;

	if (n == 0 || n > REDIS_USER_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (v[i] <= ' ' || v[i] > '~')
			return -1;
	return 0;
}

/* A secret: 1..512 bytes, no control characters (it goes into AUTH). */
static const char *
check_secret(const char *v, size_t n)
{
	size_t i;

	if (n == 0)
		return "it is empty";
	if (n > CFG_REDIS_MAX_SECRET)
		return "it is longer than 512 bytes";
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < ' ' || v[i] == 0x7f)
			return "it holds a control character";
	return NULL;
}

/* The password is the file's content less one trailing newline. */
static void
read_password_file(struct loader *l, const config_setting_t *s,
    const char *path)
{
	char buf[CFG_REDIS_MAX_SECRET + 3], *full, reason[FILECHECK_ERR];
	const char *why;
	int unsafe;
	size_t n;
	FILE *f;

	/* Relative to the config file's directory, as keys_file. */
	if ((full = resolve_path(l, path)) == NULL)
		return;
	f = open_trusted(full, reason, sizeof(reason), &unsafe);
	free(full);
	if (f == NULL) {
		serr(l, s, "registry.password_file \"%.*s\": %s%s", SHOW_MAX,
		    path, unsafe ? "" : "cannot read: ", reason);
		return;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if ((why = check_secret(buf, n)) != NULL) {
		serr(l, s, "registry.password_file \"%.*s\": %s: put the Redis "
		    "password alone on one line", SHOW_MAX, path, why);
		explicit_bzero(buf, sizeof(buf));
		return;
	}
	buf[n] = '\0';
	l->cfg->registry.password = lstrdup(l, buf);
	explicit_bzero(buf, sizeof(buf));
}

static void
registry_string(struct loader *l, const config_setting_t *g, const char *name,
    int (*valid)(const char *), const char *rule, char **out)
{
	const config_setting_t *s;
	char what[WHAT_MAX];
	const char *v;

	if ((s = config_setting_get_member(g, name)) == NULL)
		return;
	snprintf(what, sizeof(what), "registry.%s", name);
	if (get_string(l, s, what, &v) != 0)
		return;
	if (valid(v) != 0) {
		serr(l, s, "%s \"%.*s\" is not valid: %s", what, SHOW_MAX, v,
		    rule);
		return;
	}
	free(*out);
	*out = lstrdup(l, v);
}

static void
load_registry_redis(struct loader *l, const config_setting_t *g)
{
	struct cfg_registry *r = &l->cfg->registry;
	const config_setting_t *s;
	const char *v, *why;

	if ((s = config_setting_get_member(g, "address")) != NULL &&
	    get_string(l, s, "registry.address", &v) == 0 &&
	    set_redis_address(l, v, &why) != 0)
		serr(l, s, "registry.address \"%.*s\": %s (use \"host:port\" "
		    "or \"[v6]:port\", such as \"127.0.0.1:6379\")", SHOW_MAX,
		    v, why);
	load_row(l, g, "registry", "db");
	registry_string(l, g, "user", valid_redis_user,
	    "use 1 to 128 printable characters without spaces", &r->user);
	registry_string(l, g, "prefix", valid_prefix,
	    "use 1 to 64 of A-Z a-z 0-9 : _ . - { }", &r->prefix);
	load_row(l, g, "registry", "timeout_ms");
	load_row(l, g, "registry", "cache_ttl");
	if ((s = config_setting_get_member(g, "password_file")) != NULL &&
	    get_string(l, s, "registry.password_file", &v) == 0 &&
	    (r->password_file = lstrdup(l, v)) != NULL)
		read_password_file(l, s, r->password_file);
}

void
load_registry(struct loader *l, const config_setting_t *root)
{
	struct cfg_registry *r = &l->cfg->registry;
	const config_setting_t *g;

	r->backend = CFG_REGISTRY_FILE;
	r->prefix = lstrdup(l, REDIS_PREFIX_DEFAULT);
	if (root == NULL || (g = root_group(l, root, "registry")) == NULL)
		return;
	check_group(l, g, "registry", registry_names);
	member_name_value(l, g, "backend", "registry", registry_backends,
	    "file, redis", &r->backend);
	load_registry_redis(l, g);
}

/*
 * CONNECT_REDIS_ADDRESS picks the Redis registry, as in connect-proxy;
 * CONNECT_REDIS_USER, _PASSWORD and _DB override the file's settings and
 * mean nothing without it.
 */
void
env_registry(struct loader *l)
{
	static const char *const needs_redis[] = {
		ENV_REDIS_USER, ENV_REDIS_PASSWORD, ENV_REDIS_DB, NULL,
	};
	struct cfg_registry *r = &l->cfg->registry;
	const char *v, *why;
	size_t i;
	char *end;
	long db;

	if ((v = env_get(l->env, ENV_REDIS_ADDRESS)) != NULL) {
		if (set_redis_address(l, v, &why) != 0)
			ferr(l, "%s: \"%.*s\": %s (use \"host:port\", such as "
			    "\"redis:6379\")", ENV_REDIS_ADDRESS, SHOW_MAX, v,
			    why);
		r->backend = CFG_REGISTRY_REDIS;
	}
	for (i = 0; r->backend != CFG_REGISTRY_REDIS && needs_redis[i] != NULL;
	    i++)
		if (env_get(l->env, needs_redis[i]) != NULL)
			ferr(l, "%s is set but the registry is this file: set "
			    "%s or registry.backend = \"redis\", or unset it",
			    needs_redis[i], ENV_REDIS_ADDRESS);
	if ((v = env_get(l->env, ENV_REDIS_USER)) != NULL) {
		if (valid_redis_user(v) != 0)
			ferr(l, "%s: \"%.*s\" is not valid: use 1 to 128 "
			    "printable characters without spaces",
			    ENV_REDIS_USER, SHOW_MAX, v);
		free(r->user);
		r->user = lstrdup(l, v);
	}
	if ((v = env_get(l->env, ENV_REDIS_PASSWORD)) != NULL) {
		if ((why = check_secret(v, strlen(v))) != NULL)
			ferr(l, "%s: %s", ENV_REDIS_PASSWORD, why);
		if (r->password != NULL)
			explicit_bzero(r->password, strlen(r->password));
		free(r->password);
		r->password = lstrdup(l, v);
	}
	if ((v = env_get(l->env, ENV_REDIS_DB)) != NULL) {
		errno = 0;
		db = strtol(v, &end, 10);
		if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 ||
		    db > REDIS_DB_MAX)
			ferr(l, "%s: \"%.*s\" is not a database number from 0 "
			    "to %d", ENV_REDIS_DB, SHOW_MAX, v, REDIS_DB_MAX);
		else
			r->db = (int)db;
	}
}

/* With Redis, the registry alone says who reaches what. */
void
check_registry(struct loader *l, const config_setting_t *root)
{
	struct cfg_registry *r = &l->cfg->registry;
	const config_setting_t *s;
	size_t i;

	if (r->backend != CFG_REGISTRY_REDIS)
		return;
	if (r->host == NULL && set_redis_address(l, REDIS_ADDRESS_DEFAULT,
	    &(const char *){ NULL }) != 0)
		ferr(l, "out of memory");
	for (i = 0; file_registry_settings[i] != NULL; i++)
		if ((s = config_setting_get_member(root,
		    file_registry_settings[i])) != NULL)
			serr(l, s, "%s is set, but the registry is Redis, "
			    "which holds it: remove %s from this file, or use "
			    "registry.backend = \"file\"",
			    file_registry_settings[i],
			    file_registry_settings[i]);
}
