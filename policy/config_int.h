/*
 * config_int.h - what the parts of the configuration loader share; not
 * for use outside policy/config*.c (the API is config.h).
 *
 * The loader is split by concern:
 *   config.c            the core: errors, typed access, reading the file,
 *                       the top-level settings, config_load(), config_free()
 *   config_table.c      the number and bool settings, one row each
 *   config_access.c     allowed_workspaces, workspaces, users, keys,
 *                       trusted_user_ca_keys, studios
 *   config_net.c        host:port, networks, listen, metrics_listen
 *   config_registry.c   the registry group and CONNECT_REDIS_*
 *   config_algorithms.c the algorithms group and its safe sets
 *   config_dump.c       the -T dump
 */
#ifndef CSSHD_CONFIG_INT_H
#define CSSHD_CONFIG_INT_H

#include <stddef.h>
#include <stdio.h>

#include <libconfig.h>

#include "config.h"

#define SHOW_MAX		80	/* longest value echoed in a message */
#define LABEL_MAX		96	/* "studio <session>", "users entry 9" */
#define WHAT_MAX		160	/* a label, ": ", a setting name */
#define INDENT			2	/* spaces per dump level */

#define UPSTREAM_AUTH_CHOICES	"certificate, key"
#define ENV_ADDR		"CONNECT_SSH_ADDR"
#define ENV_REDIS_ADDRESS	"CONNECT_REDIS_ADDRESS"
#define REDIS_ADDRESS_DEFAULT	"127.0.0.1:6379"
/* registry.db's bound: its row (config_table.c) and CONNECT_REDIS_DB */
#define REDIS_DB_MAX		65535

/* One load: the file, the environment, and where the result and the
 * errors go. */
struct loader {
	const char *path;	/* the file as given */
	char *dir;		/* its directory, NULL if none in path */
	char *const *env;
	const char *default_worker;
	struct config *cfg;
	struct config_errors *errs;
};

/* A setting's names and their values: log.level, registry.backend, ... */
struct name_value {
	const char *name;
	int value;
};

/* config.c: errors; each is collected, none stops the load */
void serr(struct loader *l, const config_setting_t *s,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ferr(struct loader *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void kerr(struct loader *l, const char *file, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* config.c: files, memory */
FILE *open_trusted(const char *path, char *why, size_t whysz, int *unsafe);
char *resolve_path(struct loader *l, const char *file);
void *lcalloc(struct loader *l, size_t n, size_t size);
char *lstrdup(struct loader *l, const char *s);
void free_strings(char **v, size_t n);
const char *env_get(char *const *env, const char *name);

/* config.c: typed access to settings; each reports what is wrong */
int is_int_type(int type);
int want_type(struct loader *l, const config_setting_t *s, const char *what,
    int type);
int get_string(struct loader *l, const config_setting_t *s, const char *what,
    const char **out);
int get_id(struct loader *l, const config_setting_t *s, const char *what,
    long long *out);
int get_string_array(struct loader *l, const config_setting_t *s,
    const char *what, int (*valid)(const char *), const char *rule,
    char ***out, size_t *nout);
int get_fingerprint(struct loader *l, const config_setting_t *s,
    const char *what, char **out);
void member_int(struct loader *l, const config_setting_t *group,
    const char *name, const char *where, long long lo, long long hi,
    int *out);
void member_bool(struct loader *l, const config_setting_t *group,
    const char *name, const char *where, int *out);
void member_name_value(struct loader *l, const config_setting_t *group,
    const char *name, const char *where, const struct name_value *t,
    const char *choices, int *out);
void check_names(struct loader *l, const config_setting_t *group,
    const char *const *names, const char *where);
const config_setting_t *root_group(struct loader *l,
    const config_setting_t *root, const char *name);
const char *value_name(const struct name_value *t, int value);
extern const struct name_value log_levels[];
extern const struct name_value log_formats[];

/* config_table.c: the number and bool settings */
void rows_default(struct config *cfg);
void check_group(struct loader *l, const config_setting_t *group,
    const char *gname, const char *const *own);
void load_rows(struct loader *l, const config_setting_t *g,
    const char *gname, int early);
void load_row(struct loader *l, const config_setting_t *g,
    const char *gname, const char *name);
void load_key_limits(struct loader *l, const config_setting_t *root);
void load_limits(struct loader *l, const config_setting_t *root);
void load_forwarding(struct loader *l, const config_setting_t *root);
void dump_rows(const struct config *cfg, const char *gname, int level,
    FILE *out);
void dump_row(const struct config *cfg, const char *gname, const char *name,
    int level, FILE *out);

/* config_access.c */
void load_allowed(struct loader *l, const config_setting_t *root);
void load_workspaces(struct loader *l, const config_setting_t *root);
void load_user_cas(struct loader *l, const config_setting_t *root);
void load_revoked_keys(struct loader *l, const config_setting_t *root);
void load_users(struct loader *l, const config_setting_t *root);
void load_studios(struct loader *l, const config_setting_t *root);

/* config_net.c */
int valid_port(const char *p);
int valid_numeric(const char *host, const char *port, int family);
const char *split_hostport(const char *s, const char **h, size_t *hlen,
    const char **p, int *family);
void load_listen(struct loader *l, const config_setting_t *root);
void load_metrics(struct loader *l, const config_setting_t *root);
void env_addr(struct loader *l);
void free_listen(struct config *cfg);

/* config_registry.c */
extern const struct name_value registry_backends[];
int set_redis_address(struct loader *l, const char *v, const char **why);
void load_registry(struct loader *l, const config_setting_t *root);
void env_registry(struct loader *l);
void check_registry(struct loader *l, const config_setting_t *root);

/* config_algorithms.c */
void load_algorithms(struct loader *l, const config_setting_t *root);

#endif
