/*
 * config.c - connect-sshd.conf(5): the loader's core.
 *
 * The loader reads the whole file even after an error, so that one run of
 * "connect-sshd -t" lists every mistake, each as "file:line: what to fix".
 * Settings are taken in a fixed order (workspaces before the studios that
 * name them), whatever their order in the file: load_root() below is that
 * order.  Nothing is half-loaded: on any error the caller gets the list
 * and no config.
 *
 * Here: the errors (serr, ferr, kerr), the typed access to settings every
 * other config_*.c uses (get_string, get_int, member_int, ...), reading
 * and checking the file, the gateway's own top-level settings (key,
 * enabled, upstream_auth, workers, log) and CONNECT_SSH_KEY_PATH /
 * CONNECT_SSH_ENABLED, config_load(), config_load_registry() and
 * config_free().  The rest is split by concern (config_int.h lists the
 * files); what they share is declared in config_int.h.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libconfig.h>

#include "authkeys.h"
#include "config.h"
#include "config_int.h"
#include "filecheck.h"
#include "krl.h"
#include "log.h"
#include "sshwire.h"

#define FP_PREFIX		"SHA256:"
#define FP_B64_LEN		43	/* 32 bytes, unpadded */
#define FP_RAW_LEN		32

#define WORKERS_USER_DEFAULT	"nobody"
#define WORKERS_CHROOT_DEFAULT	"/var/empty"

#define ENV_KEY_PATH		"CONNECT_SSH_KEY_PATH"
#define ENV_ENABLED		"CONNECT_SSH_ENABLED"

const struct name_value log_levels[] = {
	{ "error", LOG_LVL_ERROR },
	{ "warn", LOG_LVL_WARN },
	{ "info", LOG_LVL_INFO },
	{ "debug", LOG_LVL_DEBUG },
	{ NULL, 0 },
};

static const struct name_value upstream_auths[] = {
	{ "certificate", CFG_UPSTREAM_CERTIFICATE },
	{ "key", CFG_UPSTREAM_KEY },
	{ NULL, 0 },
};

int
config_upstream_auth_parse(const char *s)
{
	const struct name_value *t;

	for (t = upstream_auths; t->name != NULL; t++)
		if (strcmp(t->name, s) == 0)
			return t->value;
	return CFG_UPSTREAM_UNSET;
}

const char *
config_upstream_auth_name(int v)
{
	const struct name_value *t;

	for (t = upstream_auths; t->name != NULL; t++)
		if (t->value == v)
			return t->name;
	return "?";
}

const struct name_value log_formats[] = {
	{ "text", LOG_FMT_TEXT },
	{ "json", LOG_FMT_JSON },
	{ NULL, 0 },
};

/* The names of the top level and of workers that are not rows of
 * config_table.c (check_group() adds those). */
static const char *const root_names[] = {
	"listen", "key", "key_fingerprint", "allowed_workspaces",
	"workspaces", "users", "studios", "workers", "log", "limits",
	"forwarding", "algorithms", "metrics_listen", "registry",
	"upstream_auth", "trusted_user_ca_keys", "revoked_keys", NULL,
};

static const char *const workers_names[] = {
	"user", "lookup_user", "chroot", "program", NULL,
};

static const char *const log_names[] = { "level", "format", NULL };

static void add_error(struct config_errors *e, const char *file,
    unsigned line, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* --- errors ----------------------------------------------------------- */

/* "file:line: message", or "file: message" when there is no line. */
static void
add_error(struct config_errors *e, const char *file, unsigned line,
    const char *fmt, va_list ap)
{
	char *msg = NULL, *full = NULL;
	int rc;

	if (e->n >= CFG_MAX_ERRORS) {
		e->dropped++;
		return;
	}
	if (vasprintf(&msg, fmt, ap) == -1) {
		e->dropped++;
		return;
	}
	if (line > 0)
		rc = asprintf(&full, "%s:%u: %s", file, line, msg);
	else
		rc = asprintf(&full, "%s: %s", file, msg);
	free(msg);
	if (rc == -1) {
		e->dropped++;
		return;
	}
	e->msg[e->n++] = full;
}

/* An error about setting s, at its own file and line. */
void
serr(struct loader *l, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = config_setting_source_file(s);
	va_list ap;

	va_start(ap, fmt);
	add_error(l->errs, file != NULL ? file : l->path,
	    config_setting_source_line(s), fmt, ap);
	va_end(ap);
}

/* An error with no line: a missing setting, an environment override. */
void
ferr(struct loader *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_error(l->errs, l->path, 0, fmt, ap);
	va_end(ap);
}

/* An error in another file (a keys_file), at its own line. */
void
kerr(struct loader *l, const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_error(l->errs, file, line, fmt, ap);
	va_end(ap);
}

/*
 * Open a file the configuration trusts (the file itself, a keys_file,
 * registry.password_file) after the StrictModes checks of filecheck.h.
 * On failure why says what is wrong: the unsafe file and its fix, or the
 * system's reason ("No such file or directory").
 */
FILE *
open_trusted(const char *path, char *why, size_t whysz, int *unsafe)
{
	FILE *f;
	int fd;

	*unsafe = 0;
	if ((fd = filecheck_open(path, 0, why, whysz)) < 0) {
		if (fd == -1)
			snprintf(why, whysz, "%s", strerror(errno));
		*unsafe = fd == -2;
		return NULL;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		snprintf(why, whysz, "%s", strerror(errno));
		close(fd);
	}
	return f;
}

void *
lcalloc(struct loader *l, size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n > 0 ? n : 1, size)) == NULL)
		ferr(l, "out of memory");
	return p;
}

char *
lstrdup(struct loader *l, const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		ferr(l, "out of memory");
	return p;
}

/* --- typed access to settings ----------------------------------------- */

static const char *
type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a floating-point number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	default:
		return "of unknown type";
	}
}

int
is_int_type(int type)
{
	return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
}

/* 0 if s has the wanted type (any integer for CONFIG_TYPE_INT). */
int
want_type(struct loader *l, const config_setting_t *s, const char *what,
    int type)
{
	int have = config_setting_type(s);

	if (have == type || (type == CONFIG_TYPE_INT && is_int_type(have)))
		return 0;
	serr(l, s, "%s must be %s, not %s", what, type_name(type),
	    type_name(have));
	return -1;
}

/* A non-empty string; *out points into the libconfig tree. */
int
get_string(struct loader *l, const config_setting_t *s, const char *what,
    const char **out)
{
	if (want_type(l, s, what, CONFIG_TYPE_STRING) != 0)
		return -1;
	*out = config_setting_get_string(s);
	if ((*out)[0] == '\0') {
		serr(l, s, "%s is empty", what);
		return -1;
	}
	return 0;
}

/* A workspace id: any integer but a negative one (-1 means "none"). */
int
get_id(struct loader *l, const config_setting_t *s, const char *what,
    long long *out)
{
	long long v;

	if (want_type(l, s, what, CONFIG_TYPE_INT) != 0)
		return -1;
	if ((v = config_setting_get_int64(s)) < 0) {
		serr(l, s, "%s = %lld is negative: workspace ids are 0 or more",
		    what, v);
		return -1;
	}
	*out = v;
	return 0;
}

static int
get_int(struct loader *l, const config_setting_t *s, const char *what,
    long long lo, long long hi, long long *out)
{
	long long v;

	if (want_type(l, s, what, CONFIG_TYPE_INT) != 0)
		return -1;
	v = config_setting_get_int64(s);
	if (v < lo || v > hi) {
		serr(l, s, "%s = %lld is out of range: use %lld to %lld", what,
		    v, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* An int setting of a group ("" the top level), or its default when
 * absent. */
void
member_int(struct loader *l, const config_setting_t *group, const char *name,
    const char *where, long long lo, long long hi, int *out)
{
	const config_setting_t *s;
	char what[WHAT_MAX];
	long long v;

	if (group == NULL ||
	    (s = config_setting_get_member(group, name)) == NULL)
		return;
	snprintf(what, sizeof(what), "%s%s%s", where,
	    where[0] != '\0' ? "." : "", name);
	if (get_int(l, s, what, lo, hi, &v) == 0)
		*out = (int)v;
}

/* Report settings of group that are not in names. */
void
check_names(struct loader *l, const config_setting_t *group,
    const char *const *names, const char *where)
{
	const config_setting_t *s;
	const char *name;
	size_t j;
	int i, n = config_setting_length(group);

	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(group, (unsigned)i);
		if ((name = config_setting_name(s)) == NULL)
			continue;
		for (j = 0; names[j] != NULL; j++)
			if (strcmp(names[j], name) == 0)
				break;
		if (names[j] != NULL)
			continue;
		if (where != NULL)
			serr(l, s, "unknown setting '%s' in %s", name, where);
		else
			serr(l, s, "unknown setting '%s'", name);
	}
}

/* A group setting of the root (NULL if absent or not a group). */
const config_setting_t *
root_group(struct loader *l, const config_setting_t *root, const char *name)
{
	const config_setting_t *g;

	if ((g = config_setting_get_member(root, name)) == NULL ||
	    want_type(l, g, name, CONFIG_TYPE_GROUP) != 0)
		return NULL;
	return g;
}

/*
 * An array of strings, each checked by valid() (0 if good); the good ones
 * are copied into *out.
 */
int
get_string_array(struct loader *l, const config_setting_t *s,
    const char *what, int (*valid)(const char *), const char *rule,
    char ***out, size_t *nout)
{
	const config_setting_t *e;
	char elem[WHAT_MAX + 16];
	const char *v;
	int i, n, rc = 0;

	*out = NULL;
	*nout = 0;
	if (want_type(l, s, what, CONFIG_TYPE_ARRAY) != 0)
		return -1;
	n = config_setting_length(s);
	if ((*out = lcalloc(l, (size_t)n, sizeof(**out))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		snprintf(elem, sizeof(elem), "%s[%d]", what, i);
		if (want_type(l, e, elem, CONFIG_TYPE_STRING) != 0) {
			rc = -1;
			break;
		}
		v = config_setting_get_string(e);
		if (valid != NULL && valid(v) != 0) {
			serr(l, e, "%s: \"%.*s\" is not valid: %s", what,
			    SHOW_MAX, v, rule);
			rc = -1;
			continue;
		}
		if (((*out)[(*nout)] = lstrdup(l, v)) == NULL)
			return -1;
		(*nout)++;
	}
	return rc;
}

/* "SHA256:" and 43 base64 characters that decode to 32 bytes. */
static int
valid_fingerprint(const char *s)
{
	uint8_t raw[FP_RAW_LEN];
	size_t n, plen = strlen(FP_PREFIX);

	if (strncmp(s, FP_PREFIX, plen) != 0 || strlen(s + plen) != FP_B64_LEN)
		return -1;
	if (b64_decode(s + plen, FP_B64_LEN, raw, sizeof(raw), &n) != 0 ||
	    n != FP_RAW_LEN)
		return -1;
	return 0;
}

int
config_valid_fingerprint(const char *s)
{
	return valid_fingerprint(s);
}

int
get_fingerprint(struct loader *l, const config_setting_t *s,
    const char *what, char **out)
{
	const char *v;

	if (get_string(l, s, what, &v) != 0)
		return -1;
	if (valid_fingerprint(v) != 0) {
		serr(l, s, "%s \"%.*s\" is not a SHA256 fingerprint: expected "
		    "\"SHA256:\" and 43 base64 characters, as ssh-keygen -lf "
		    "prints", what, SHOW_MAX, v);
		return -1;
	}
	return (*out = lstrdup(l, v)) != NULL ? 0 : -1;
}

static int
get_absolute_path(struct loader *l, const config_setting_t *s,
    const char *what, char **out)
{
	const char *v;

	if (get_string(l, s, what, &v) != 0)
		return -1;
	if (v[0] != '/') {
		serr(l, s, "%s \"%.*s\" must be an absolute path", what,
		    SHOW_MAX, v);
		return -1;
	}
	free(*out);
	return (*out = lstrdup(l, v)) != NULL ? 0 : -1;
}

const char *
env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (; env != NULL && *env != NULL; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

const char *
value_name(const struct name_value *t, int value)
{
	for (; t->name != NULL; t++)
		if (t->value == value)
			return t->name;
	return "?";
}

void
member_name_value(struct loader *l, const config_setting_t *group,
    const char *name, const char *where, const struct name_value *t,
    const char *choices, int *out)
{
	const config_setting_t *s;
	char what[WHAT_MAX];
	const char *v;

	if (group == NULL ||
	    (s = config_setting_get_member(group, name)) == NULL)
		return;
	snprintf(what, sizeof(what), "%s.%s", where, name);
	if (get_string(l, s, what, &v) != 0)
		return;
	for (; t->name != NULL; t++) {
		if (strcmp(t->name, v) == 0) {
			*out = t->value;
			return;
		}
	}
	serr(l, s, "%s \"%.*s\" is not one of %s", what, SHOW_MAX, v, choices);
}

static void
load_keys_settings(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *s;
	const char *v;

	if ((s = config_setting_get_member(root, "key")) != NULL &&
	    get_string(l, s, "key", &v) == 0)
		l->cfg->key_path = lstrdup(l, v);
	if ((s = config_setting_get_member(root, "key_fingerprint")) != NULL)
		get_fingerprint(l, s, "key_fingerprint",
		    &l->cfg->key_fingerprint);
}

/* upstream_auth: certificate (the default) or key. */
static void
load_upstream_auth(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *s;
	const char *v;

	l->cfg->upstream_auth = CFG_UPSTREAM_CERTIFICATE;
	if ((s = config_setting_get_member(root, "upstream_auth")) == NULL ||
	    get_string(l, s, "upstream_auth", &v) != 0)
		return;
	if ((l->cfg->upstream_auth = config_upstream_auth_parse(v)) ==
	    CFG_UPSTREAM_UNSET) {
		l->cfg->upstream_auth = CFG_UPSTREAM_CERTIFICATE;
		serr(l, s, "upstream_auth \"%.*s\" is not one of %s", SHOW_MAX,
		    v, UPSTREAM_AUTH_CHOICES);
	}
}

/* keys_file relative to the config file's directory. */
char *
resolve_path(struct loader *l, const char *file)
{
	char *p;

	if (file[0] == '/' || l->dir == NULL)
		return lstrdup(l, file);
	if (asprintf(&p, "%s%s%s", l->dir,
	    l->dir[strlen(l->dir) - 1] == '/' ? "" : "/", file) == -1) {
		ferr(l, "out of memory");
		return NULL;
	}
	return p;
}

/* --- workers, log, limits --------------------------------------------- */

static void
load_workers(struct loader *l, const config_setting_t *root)
{
	struct cfg_workers *w = &l->cfg->workers;
	const config_setting_t *g, *s;
	const char *v;

	w->user = lstrdup(l, WORKERS_USER_DEFAULT);
	w->chroot = lstrdup(l, WORKERS_CHROOT_DEFAULT);
	if ((g = root_group(l, root, "workers")) != NULL)
		check_group(l, g, "workers", workers_names);
	if (g == NULL || config_setting_get_member(g, "program") == NULL) {
		w->program = lstrdup(l, l->default_worker);
		if (w->program != NULL && w->program[0] != '/')
			ferr(l, "the built-in workers.program \"%s\" is not "
			    "an absolute path: set workers.program",
			    w->program);
	}
	if (g == NULL)
		return;
	load_rows(l, g, "workers", 0);
	if ((s = config_setting_get_member(g, "user")) != NULL &&
	    get_string(l, s, "workers.user", &v) == 0) {
		free(w->user);
		w->user = lstrdup(l, v);
	}
	if ((s = config_setting_get_member(g, "lookup_user")) != NULL &&
	    get_string(l, s, "workers.lookup_user", &v) == 0)
		w->lookup_user = lstrdup(l, v);
	if ((s = config_setting_get_member(g, "chroot")) != NULL)
		get_absolute_path(l, s, "workers.chroot", &w->chroot);
	if ((s = config_setting_get_member(g, "program")) != NULL)
		get_absolute_path(l, s, "workers.program", &w->program);
}

static void
load_log(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *g;

	l->cfg->log.level = LOG_LVL_INFO;
	l->cfg->log.format = LOG_FMT_TEXT;
	if ((g = root_group(l, root, "log")) == NULL)
		return;
	check_names(l, g, log_names, "log");
	member_name_value(l, g, "level", "log", log_levels,
	    "error, warn, info, debug", &l->cfg->log.level);
	member_name_value(l, g, "format", "log", log_formats, "text, json",
	    &l->cfg->log.format);
}

/* A bool setting of a group ("" the top level), or its default when
 * absent. */
void
member_bool(struct loader *l, const config_setting_t *group, const char *name,
    const char *where, int *out)
{
	const config_setting_t *s;
	char what[WHAT_MAX];

	if (group == NULL ||
	    (s = config_setting_get_member(group, name)) == NULL)
		return;
	snprintf(what, sizeof(what), "%s%s%s", where,
	    where[0] != '\0' ? "." : "", name);
	if (want_type(l, s, what, CONFIG_TYPE_BOOL) == 0)
		*out = config_setting_get_bool(s) ? 1 : 0;
}

static void
env_key_path(struct loader *l)
{
	const char *v;

	if ((v = env_get(l->env, ENV_KEY_PATH)) == NULL)
		return;
	if (v[0] == '\0') {
		ferr(l, "%s is empty: unset it or give the key's path",
		    ENV_KEY_PATH);
		return;
	}
	free(l->cfg->key_path);
	l->cfg->key_path = lstrdup(l, v);
}

static void
env_enabled(struct loader *l)
{
	static const struct name_value bools[] = {
		{ "true", 1 }, { "false", 0 }, { "1", 1 }, { "0", 0 },
		{ "yes", 1 }, { "no", 0 }, { NULL, 0 },
	};
	const struct name_value *b;
	const char *v;

	if ((v = env_get(l->env, ENV_ENABLED)) == NULL)
		return;
	for (b = bools; b->name != NULL; b++) {
		if (strcasecmp(b->name, v) == 0) {
			l->cfg->enabled = b->value;
			return;
		}
	}
	ferr(l, "%s: \"%.*s\" is not a boolean: use true, false, 1, 0, yes or "
	    "no", ENV_ENABLED, SHOW_MAX, v);
}

/* --- load ------------------------------------------------------------- */

/* What must be set once the file and the environment are both read. */
static void
check_required(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *s;

	if (l->cfg->key_path == NULL &&
	    config_setting_get_member(root, "key") == NULL &&
	    env_get(l->env, ENV_KEY_PATH) == NULL)
		ferr(l, "key is not set: set key = \"/path\" or %s",
		    ENV_KEY_PATH);
	/* An empty listen is fine while SSH is off; a listen whose entries
	 * were all bad has been reported already. */
	if (!l->cfg->enabled || l->cfg->nlisten > 0 ||
	    env_get(l->env, ENV_ADDR) != NULL)
		return;
	if ((s = config_setting_get_member(root, "listen")) == NULL)
		ferr(l, "listen is not set: set listen = [ \":2222\" ] or %s",
		    ENV_ADDR);
	else if (config_setting_type(s) == CONFIG_TYPE_ARRAY &&
	    config_setting_length(s) == 0)
		serr(l, s, "listen is empty: add an address such as "
		    "\":2222\", or set enabled = false");
}

static void
load_root(struct loader *l, const config_setting_t *root)
{
	check_group(l, root, "", root_names);
	load_listen(l, root);
	load_metrics(l, root);
	load_keys_settings(l, root);
	load_row(l, root, "", "enabled");
	load_upstream_auth(l, root);
	load_allowed(l, root);
	load_workspaces(l, root);
	load_key_limits(l, root);
	load_user_cas(l, root);
	load_revoked_keys(l, root);
	load_users(l, root);
	load_studios(l, root);
	load_workers(l, root);
	load_log(l, root);
	load_limits(l, root);
	load_forwarding(l, root);
	load_algorithms(l, root);
	load_registry(l, root);
	env_addr(l);
	env_key_path(l);
	env_enabled(l);
	env_registry(l);
	check_required(l, root);
	check_registry(l, root);
}

static void
syntax_error(struct loader *l, const config_t *lc)
{
	const char *file = config_error_file(lc), *text = config_error_text(lc);
	unsigned line = (unsigned)config_error_line(lc);
	static const char plain[] = "syntax error";

	if (file == NULL)
		file = l->path;
	if (text == NULL || strcmp(text, plain) == 0)
		kerr(l, file, line, "%s", plain);
	else
		kerr(l, file, line, "%s: %s", plain, text);
}

/* Read path into lc, reporting why not. */
static int
read_file(struct loader *l, config_t *lc)
{
	char why[FILECHECK_ERR];
	FILE *f;
	int rc, unsafe;

	/* StrictModes (filecheck.h); libconfig reads the checked file. */
	if ((f = open_trusted(l->path, why, sizeof(why), &unsafe)) == NULL) {
		ferr(l, "%s%s", unsafe ? "" : "cannot read: ", why);
		return -1;
	}
	if (l->dir != NULL)
		config_set_include_dir(lc, l->dir);
	rc = config_read(lc, f);
	fclose(f);
	if (rc == CONFIG_TRUE)
		return 0;
	if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
		ferr(l, "cannot read: %s", config_error_text(lc));
	else
		syntax_error(l, lc);
	return -1;
}

static int
init_loader(struct loader *l, const char *path, char *const *env,
    const char *default_worker, struct config_errors *errs)
{
	const char *slash;

	memset(l, 0, sizeof(*l));
	l->path = path;
	l->env = env;
	l->default_worker = default_worker != NULL ? default_worker : "";
	l->errs = errs;
	if ((slash = strrchr(path, '/')) != NULL &&
	    (l->dir = strndup(path, slash == path ? 1 :
	    (size_t)(slash - path))) == NULL)
		goto oom;
	if ((l->cfg = calloc(1, sizeof(*l->cfg))) == NULL ||
	    (l->cfg->path = strdup(path)) == NULL)
		goto oom;
	rows_default(l->cfg);
	return 0;
 oom:
	ferr(l, "out of memory");
	return -1;
}

struct config *
config_load(const char *path, char *const *env, const char *default_worker,
    struct config_errors *errs)
{
	struct loader l;
	struct config *cfg = NULL;
	config_t lc;

	memset(errs, 0, sizeof(*errs));
	config_init(&lc);
	if (init_loader(&l, path, env, default_worker, errs) == 0 &&
	    read_file(&l, &lc) == 0)
		load_root(&l, config_root_setting(&lc));
	config_destroy(&lc);
	free(l.dir);
	if (errs->n == 0 && errs->dropped == 0)
		cfg = l.cfg;
	else
		config_free(l.cfg);
	return cfg;
}

/*
 * Only the registry settings, for connect-sshctl: path's registry section
 * (NULL: none, the defaults) and the CONNECT_REDIS_* variables.  The
 * result must name a Redis registry.  Returns a config whose only
 * meaningful part is registry, or NULL with errs filled.
 */
struct config *
config_load_registry(const char *path, char *const *env,
    struct config_errors *errs)
{
	struct loader l;
	struct config *cfg = NULL;
	config_t lc;

	memset(errs, 0, sizeof(*errs));
	config_init(&lc);
	if (init_loader(&l, path != NULL ? path : "(environment)", env, NULL,
	    errs) == 0 && (path == NULL || read_file(&l, &lc) == 0)) {
		load_key_limits(&l, path != NULL ? config_root_setting(&lc) :
		    NULL);
		load_registry(&l, path != NULL ? config_root_setting(&lc) :
		    NULL);
		env_registry(&l);
		if (l.cfg->registry.backend != CFG_REGISTRY_REDIS)
			ferr(&l, "the registry is not Redis: set registry.backend "
			    "= \"redis\" in the file, or %s",
			    ENV_REDIS_ADDRESS);
		else if (l.cfg->registry.host == NULL &&
		    set_redis_address(&l, REDIS_ADDRESS_DEFAULT,
		    &(const char *){ NULL }) != 0)
			ferr(&l, "out of memory");
	}
	config_destroy(&lc);
	free(l.dir);
	if (errs->n == 0 && errs->dropped == 0)
		cfg = l.cfg;
	else
		config_free(l.cfg);
	return cfg;
}

/* --- free ------------------------------------------------------------- */

void
free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

static void
free_user(struct cfg_user *u)
{
	size_t i;

	for (i = 0; i < u->nkeys; i++)
		authkey_free(&u->keys[i]);
	free(u->keys);
	free(u->name);
	free(u->keys_file);
}

static void
free_studio(struct cfg_studio *s)
{
	free(s->session);
	free(s->upstream_host);
	free(s->upstream_port);
	free(s->upstream_user);
	free_strings(s->users, s->nusers);
	free(s->host_key_fingerprint);
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free_listen(cfg);
	for (i = 0; i < cfg->nworkspaces; i++)
		free_strings(cfg->workspaces[i].members,
		    cfg->workspaces[i].nmembers);
	free(cfg->workspaces);
	for (i = 0; i < cfg->nusers; i++)
		free_user(&cfg->users[i]);
	free(cfg->users);
	for (i = 0; i < cfg->nstudios; i++)
		free_studio(&cfg->studios[i]);
	free(cfg->studios);
	free(cfg->allowed_workspaces);
	free(cfg->path);
	free(cfg->key_path);
	free(cfg->key_fingerprint);
	for (i = 0; i < cfg->nuser_cas; i++)
		authkey_free(&cfg->user_cas[i]);
	free(cfg->user_cas);
	free(cfg->user_ca_path);
	krl_free(cfg->revoked);
	free(cfg->revoked_path);
	free(cfg->metrics.host);
	free(cfg->metrics.port);
	free_strings(cfg->algorithms.kex, cfg->algorithms.nkex);
	free_strings(cfg->algorithms.ciphers, cfg->algorithms.nciphers);
	free_strings(cfg->algorithms.macs, cfg->algorithms.nmacs);
	free(cfg->workers.user);
	free(cfg->workers.lookup_user);
	free(cfg->workers.chroot);
	free(cfg->workers.program);
	free(cfg->registry.host);
	free(cfg->registry.port);
	free(cfg->registry.user);
	free(cfg->registry.password_file);
	if (cfg->registry.password != NULL)
		explicit_bzero(cfg->registry.password,
		    strlen(cfg->registry.password));
	free(cfg->registry.password);
	free(cfg->registry.prefix);
	free(cfg);
}

void
config_errors_free(struct config_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		free(errs->msg[i]);
	memset(errs, 0, sizeof(*errs));
}
