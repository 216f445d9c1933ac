/*
 * config_access.c - who may reach what, as the file registry says it:
 * allowed_workspaces, workspaces, users and their keys (inline and
 * keys_file), trusted_user_ca_keys and studios.
 *
 * These are the settings of lists of groups; each entry is named in
 * messages by its key field ("studio a1b2c3", "user alice") once that is
 * known, else by its position ("users entry 2").  policy.c decides from
 * what is loaded here; with a Redis registry these settings must be
 * absent (config_registry.c).
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "authkeys.h"
#include "config.h"
#include "config_int.h"
#include "filecheck.h"
#include "krl.h"
#include "policy.h"

static const char *const workspace_names[] = { "id", "members", NULL };

static const char *const user_names[] = { "name", "keys", "keys_file", NULL };

static const char *const studio_names[] = {
	"session", "workspace", "upstream", "upstream_user", "users",
	"host_key_fingerprint", "upstream_auth", NULL,
};

static const char user_rule[] = "use 1 to 64 of A-Z a-z 0-9 . _ + @ -, "
    "not starting with - or @";

static const char session_rule[] = "use 1 to 64 of A-Z a-z 0-9 _ -";

/* Line of the earlier array element equal to e[i], or 0. */
static unsigned
earlier_id(const config_setting_t *arr, int i, long long v)
{
	const config_setting_t *e;
	int j;

	for (j = 0; j < i; j++) {
		e = config_setting_get_elem(arr, (unsigned)j);
		if (is_int_type(config_setting_type(e)) &&
		    config_setting_get_int64(e) == v)
			return config_setting_source_line(e);
	}
	return 0;
}

void
load_allowed(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *s, *e;
	char what[WHAT_MAX];
	long long v;
	unsigned first;
	int i, n;

	if ((s = config_setting_get_member(root,
	    "allowed_workspaces")) == NULL ||
	    want_type(l, s, "allowed_workspaces", CONFIG_TYPE_ARRAY) != 0)
		return;
	n = config_setting_length(s);
	if ((l->cfg->allowed_workspaces = lcalloc(l, (size_t)n,
	    sizeof(long long))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		snprintf(what, sizeof(what), "allowed_workspaces[%d]", i);
		if (get_id(l, e, what, &v) != 0)
			continue;
		if ((first = earlier_id(s, i, v)) != 0) {
			serr(l, e, "allowed_workspaces: workspace %lld is "
			    "listed twice (first on line %u)", v, first);
			continue;
		}
		l->cfg->allowed_workspaces[l->cfg->nallowed_workspaces++] = v;
	}
}

/*
 * Entries of a list of groups share a shape: each must be a group, is
 * named in messages by its key field ("studio a1b2c3") or else by its
 * position, and a key value may appear only once.
 */
static const config_setting_t *
list_setting(struct loader *l, const config_setting_t *root,
    const char *name, int *n)
{
	const config_setting_t *s;

	*n = 0;
	if ((s = config_setting_get_member(root, name)) == NULL ||
	    want_type(l, s, name, CONFIG_TYPE_LIST) != 0)
		return NULL;
	*n = config_setting_length(s);
	return s;
}

static const config_setting_t *
list_entry(struct loader *l, const config_setting_t *list, int i,
    const char *name)
{
	const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
	char what[WHAT_MAX];

	snprintf(what, sizeof(what), "%s entry %d", name, i + 1);
	return want_type(l, e, what, CONFIG_TYPE_GROUP) == 0 ? e : NULL;
}

/* Line of an earlier entry whose string member key equals v, or 0. */
static unsigned
earlier_string(const config_setting_t *list, int i, const char *key,
    const char *v)
{
	const config_setting_t *e, *m;
	int j;

	for (j = 0; j < i; j++) {
		e = config_setting_get_elem(list, (unsigned)j);
		if (config_setting_is_group(e) &&
		    (m = config_setting_get_member(e, key)) != NULL &&
		    config_setting_type(m) == CONFIG_TYPE_STRING &&
		    strcmp(config_setting_get_string(m), v) == 0)
			return config_setting_source_line(e);
	}
	return 0;
}

static unsigned
earlier_int(const config_setting_t *list, int i, const char *key,
    long long v)
{
	const config_setting_t *e, *m;
	int j;

	for (j = 0; j < i; j++) {
		e = config_setting_get_elem(list, (unsigned)j);
		if (config_setting_is_group(e) &&
		    (m = config_setting_get_member(e, key)) != NULL &&
		    is_int_type(config_setting_type(m)) &&
		    config_setting_get_int64(m) == v)
			return config_setting_source_line(e);
	}
	return 0;
}

/* A required member of an entry; reports its absence. */
static const config_setting_t *
required(struct loader *l, const config_setting_t *e, const char *label,
    const char *name, const char *example)
{
	const config_setting_t *m;

	if ((m = config_setting_get_member(e, name)) == NULL)
		serr(l, e, "%s: %s is not set: add %s = %s;", label, name,
		    name, example);
	return m;
}

/* --- workspaces ------------------------------------------------------- */

static void
load_workspace(struct loader *l, const config_setting_t *list, int i,
    const config_setting_t *e, struct cfg_workspace *ws)
{
	const config_setting_t *m;
	char label[LABEL_MAX], what[WHAT_MAX];
	unsigned first;

	ws->id = -1;
	snprintf(label, sizeof(label), "workspaces entry %d", i + 1);
	if ((m = required(l, e, label, "id", "12345")) != NULL &&
	    get_id(l, m, "workspaces: id", &ws->id) == 0) {
		snprintf(label, sizeof(label), "workspace %lld", ws->id);
		if ((first = earlier_int(list, i, "id", ws->id)) != 0)
			serr(l, m, "workspace %lld is defined twice (first on "
			    "line %u)", ws->id, first);
	}
	check_names(l, e, workspace_names, label);
	snprintf(what, sizeof(what), "%s: members", label);
	if ((m = config_setting_get_member(e, "members")) != NULL)
		get_string_array(l, m, what, policy_valid_user, user_rule,
		    &ws->members, &ws->nmembers);
}

void
load_workspaces(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *list, *e;
	struct config *cfg = l->cfg;
	int i, n;

	if ((list = list_setting(l, root, "workspaces", &n)) == NULL ||
	    (cfg->workspaces = lcalloc(l, (size_t)n,
	    sizeof(*cfg->workspaces))) == NULL)
		return;
	for (i = 0; i < n; i++)
		if ((e = list_entry(l, list, i, "workspaces")) != NULL)
			load_workspace(l, list, i, e,
			    &cfg->workspaces[cfg->nworkspaces++]);
}

static const struct cfg_workspace *
find_workspace(const struct config *cfg, long long id)
{
	size_t i;

	for (i = 0; i < cfg->nworkspaces; i++)
		if (cfg->workspaces[i].id == id)
			return &cfg->workspaces[i];
	return NULL;
}

/* --- users and their keys --------------------------------------------- */

static int
add_key(struct loader *l, struct cfg_user *u, struct authkey *k)
{
	struct authkey *nk;

	if ((nk = reallocarray(u->keys, u->nkeys + 1, sizeof(*nk))) == NULL) {
		ferr(l, "out of memory");
		authkey_free(k);
		return -1;
	}
	u->keys = nk;
	u->keys[u->nkeys++] = *k;
	return 0;
}

/* Inline keys; returns how many were bad. */
static int
load_inline_keys(struct loader *l, const config_setting_t *s,
    const char *label, struct cfg_user *u)
{
	const config_setting_t *e;
	struct authkey k;
	const char *why;
	char what[WHAT_MAX], elem[WHAT_MAX + 16];
	int i, n, rc, bad = 0;

	snprintf(what, sizeof(what), "%s: keys", label);
	if (want_type(l, s, what, CONFIG_TYPE_ARRAY) != 0)
		return 1;
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		snprintf(elem, sizeof(elem), "%s[%d]", what, i);
		if (want_type(l, e, elem, CONFIG_TYPE_STRING) != 0)
			return bad + 1;
		rc = authkey_parse_line_min(config_setting_get_string(e),
		    (unsigned)l->cfg->limits.rsa_min_bits, &k, &why);
		if (rc == 1)
			serr(l, e, "%s[%d] holds no key", what, i);
		else if (rc != 0)
			serr(l, e, "%s[%d]: %s", what, i, why);
		if (rc != 0 || add_key(l, u, &k) != 0)
			bad++;
	}
	u->ninline = u->nkeys;
	return bad;
}

/* One line of a keys file; returns 1 if it was bad. */
static int
keys_file_line(struct loader *l, const char *path, unsigned lineno,
    const char *line, size_t len, struct cfg_user *u)
{
	struct authkey k;
	const char *why;
	int rc;

	if (strlen(line) != len) {
		kerr(l, path, lineno, "line holds a NUL byte");
		return 1;
	}
	if ((rc = authkey_parse_line_min(line,
	    (unsigned)l->cfg->limits.rsa_min_bits, &k, &why)) == 1)
		return 0;
	if (rc != 0) {
		kerr(l, path, lineno, "%s", why);
		return 1;
	}
	return add_key(l, u, &k) != 0;
}

/* The keys of a keys_file; returns how many lines were bad. */
static int
load_keys_file(struct loader *l, const config_setting_t *s,
    const char *label, struct cfg_user *u)
{
	FILE *f;
	char *path, *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	int bad = 0;
	char why[FILECHECK_ERR];
	int unsafe;

	if ((path = resolve_path(l, u->keys_file)) == NULL)
		return 1;
	if ((f = open_trusted(path, why, sizeof(why), &unsafe)) == NULL) {
		serr(l, s, "%s: keys_file %s: %s", label, path, why);
		free(path);
		return 1;
	}
	while ((len = getline(&line, &cap, f)) != -1)
		bad += keys_file_line(l, path, ++lineno, line, (size_t)len, u);
	if (ferror(f)) {
		serr(l, s, "%s: keys_file %s: read error", label, path);
		bad++;
	}
	free(line);
	fclose(f);
	free(path);
	return bad;
}

/*
 * A top-level setting that names a file (trusted_user_ca_keys,
 * revoked_keys): the setting in *s, its text kept in *saved (for -T), the
 * file opened with the StrictModes checks of a keys_file.  NULL when the
 * setting is absent or an error was reported; else the caller frees *path.
 */
static FILE *
open_setting_file(struct loader *l, const config_setting_t *root,
    const char *name, const config_setting_t **s, char **saved, char **path)
{
	char err[FILECHECK_ERR];
	const char *v;
	FILE *f;
	int unsafe;

	if ((*s = config_setting_get_member(root, name)) == NULL ||
	    get_string(l, *s, name, &v) != 0)
		return NULL;
	if ((*saved = lstrdup(l, v)) == NULL ||
	    (*path = resolve_path(l, v)) == NULL)
		return NULL;
	if ((f = open_trusted(*path, err, sizeof(err), &unsafe)) == NULL) {
		serr(l, *s, "%s %s: %s", name, *path, err);
		free(*path);
		return NULL;
	}
	return f;
}

/*
 * trusted_user_ca_keys = "path": the CA keys, one authorized_keys-like
 * line each ("type base64 [comment]", no options, no certificates), with
 * the StrictModes checks of a keys_file.  A file without a key is an
 * error: the setting would trust nobody, which leaving it out says.
 */
void
load_user_cas(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *s;
	const char *why;
	char *path, *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	struct authkey k, *nk;
	FILE *f;
	int rc, bad = 0;

	if ((f = open_setting_file(l, root, "trusted_user_ca_keys", &s,
	    &l->cfg->user_ca_path, &path)) == NULL)
		return;
	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (strlen(line) != (size_t)len) {
			kerr(l, path, lineno, "line holds a NUL byte");
			bad++;
			continue;
		}
		rc = authkey_parse_line_min(line,
		    (unsigned)l->cfg->limits.rsa_min_bits, &k, &why);
		if (rc == 1)
			continue;
		if (rc != 0) {
			kerr(l, path, lineno, "CA key: %s", why);
			bad++;
			continue;
		}
		if (l->cfg->nuser_cas >= CFG_MAX_USER_CAS) {
			kerr(l, path, lineno, "more than %d CA keys: keep "
			    "only the CAs in use", CFG_MAX_USER_CAS);
			authkey_free(&k);
			bad++;
			break;
		}
		if ((nk = reallocarray(l->cfg->user_cas, l->cfg->nuser_cas + 1,
		    sizeof(*nk))) == NULL) {
			ferr(l, "out of memory");
			authkey_free(&k);
			break;
		}
		l->cfg->user_cas = nk;
		l->cfg->user_cas[l->cfg->nuser_cas++] = k;
	}
	if (ferror(f)) {
		serr(l, s, "trusted_user_ca_keys %s: read error", path);
		bad++;
	}
	if (bad == 0 && l->cfg->nuser_cas == 0)
		serr(l, s, "trusted_user_ca_keys %s holds no key: add a CA "
		    "public key (\"ssh-ed25519 AAAA... ca\") or remove the "
		    "setting", path);
	free(line);
	fclose(f);
	free(path);
}

/*
 * revoked_keys = "path": keys and certificates no client may log in with,
 * as sshd's RevokedKeys reads them (krl.h): a KRL from ssh-keygen -k, or
 * public keys one per line.  The StrictModes checks of a keys_file; a
 * file that cannot be read in full fails the load (a reload keeps the
 * running configuration), so that no revocation is half applied.  An
 * empty file revokes nothing.
 */
void
load_revoked_keys(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *s;
	char *path, *data = NULL;
	char why[320];
	size_t len = 0, cap = 0, n;
	FILE *f;

	if ((f = open_setting_file(l, root, "revoked_keys", &s,
	    &l->cfg->revoked_path, &path)) == NULL)
		return;
	for (;;) {
		if (len == cap) {
			char *nd;

			cap = cap == 0 ? 65536 : cap * 2;
			if (cap > KRL_MAX_FILE + 1)
				cap = KRL_MAX_FILE + 1;
			if ((nd = realloc(data, cap)) == NULL) {
				ferr(l, "out of memory");
				goto out;
			}
			data = nd;
		}
		if ((n = fread(data + len, 1, cap - len, f)) == 0)
			break;
		len += n;
		if (len > KRL_MAX_FILE) {
			serr(l, s, "revoked_keys %s: over %u bytes: remove keys "
			    "that no longer exist, or revoke certificates by "
			    "serial range", path, KRL_MAX_FILE);
			goto out;
		}
	}
	if (ferror(f)) {
		serr(l, s, "revoked_keys %s: read error", path);
		goto out;
	}
	if (krl_parse((const uint8_t *)data, len, &l->cfg->revoked, why,
	    sizeof(why)) != 0)
		serr(l, s, "revoked_keys %s: %s; fix or regenerate it "
		    "(ssh-keygen -k)", path, why);
 out:
	free(data);
	fclose(f);
	free(path);
}

static void
load_user(struct loader *l, const config_setting_t *list, int i,
    const config_setting_t *e, struct cfg_user *u)
{
	const config_setting_t *m, *kf = NULL;
	char label[LABEL_MAX];
	const char *v;
	unsigned first;
	char what[WHAT_MAX];
	int bad = 0;

	snprintf(label, sizeof(label), "users entry %d", i + 1);
	if ((m = required(l, e, label, "name", "\"alice\"")) != NULL &&
	    get_string(l, m, "users: name", &v) == 0) {
		if (policy_valid_user(v) != 0) {
			serr(l, m, "users: name \"%.*s\" is not valid: %s",
			    SHOW_MAX, v, user_rule);
		} else {
			snprintf(label, sizeof(label), "user %s", v);
			if ((first = earlier_string(list, i, "name", v)) != 0)
				serr(l, m, "user %s is defined twice (first "
				    "on line %u)", v, first);
		}
		u->name = lstrdup(l, v);
	}
	check_names(l, e, user_names, label);
	if ((m = config_setting_get_member(e, "keys")) != NULL)
		bad += load_inline_keys(l, m, label, u);
	if ((kf = config_setting_get_member(e, "keys_file")) != NULL) {
		snprintf(what, sizeof(what), "%s: keys_file", label);
		if (get_string(l, kf, what, &v) != 0)
			bad++;
		else if ((u->keys_file = lstrdup(l, v)) != NULL)
			bad += load_keys_file(l, kf, label, u);
	}
	/* A user whose keys were all bad has been told why already.  An
	 * empty keys_file is allowed: every key revoked, no login; so is an
	 * empty keys = [ ]: a user who logs in with certificates only
	 * (trusted_user_ca_keys).  Neither setting is a mistake. */
	if (u->nkeys == 0 && bad == 0 && u->keys_file == NULL &&
	    config_setting_get_member(e, "keys") == NULL)
		serr(l, e, "%s has no keys: add keys = [ \"ssh-ed25519 ...\" ] "
		    "or keys_file = \"/path\" (keys = [ ] for certificates "
		    "only)", label);
}

void
load_users(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *list, *e;
	struct config *cfg = l->cfg;
	int i, n;

	if ((list = list_setting(l, root, "users", &n)) == NULL ||
	    (cfg->users = lcalloc(l, (size_t)n, sizeof(*cfg->users))) == NULL)
		return;
	for (i = 0; i < n; i++)
		if ((e = list_entry(l, list, i, "users")) != NULL)
			load_user(l, list, i, e, &cfg->users[cfg->nusers++]);
}

/* --- studios ---------------------------------------------------------- */

/* The session names the studio in every later message. */
static void
studio_session(struct loader *l, const config_setting_t *list, int i,
    const config_setting_t *e, struct cfg_studio *st, char *label,
    size_t labelsz)
{
	const config_setting_t *m;
	const char *v;
	unsigned first;

	snprintf(label, labelsz, "studios entry %d", i + 1);
	if ((m = required(l, e, label, "session", "\"a1b2c3\"")) == NULL ||
	    get_string(l, m, "studios: session", &v) != 0)
		return;
	if (policy_valid_session(v) != 0) {
		serr(l, m, "studios: session \"%.*s\" is not valid: %s",
		    SHOW_MAX, v, session_rule);
		return;
	}
	snprintf(label, labelsz, "studio %s", v);
	if ((first = earlier_string(list, i, "session", v)) != 0)
		serr(l, m, "studio %s is defined twice (first on line %u)", v,
		    first);
	st->session = lstrdup(l, v);
}

static void
studio_workspace(struct loader *l, const config_setting_t *e,
    const char *label, struct cfg_studio *st)
{
	const config_setting_t *m;
	char what[WHAT_MAX];

	st->workspace = -1;
	snprintf(what, sizeof(what), "%s: workspace", label);
	if ((m = required(l, e, label, "workspace", "12345")) == NULL ||
	    get_id(l, m, what, &st->workspace) != 0)
		return;
	if (find_workspace(l->cfg, st->workspace) == NULL)
		serr(l, m, "%s: workspace %lld is not defined in workspaces",
		    label, st->workspace);
}

static void
studio_upstream(struct loader *l, const config_setting_t *e,
    const char *label, struct cfg_studio *st)
{
	const config_setting_t *m;
	const char *v, *why;
	char what[WHAT_MAX];

	snprintf(what, sizeof(what), "%s: upstream", label);
	m = required(l, e, label, "upstream", "\"10.0.0.5:22\"");
	if (m == NULL || get_string(l, m, what, &v) != 0)
		return;
	if (config_parse_hostport(v, &st->upstream_host, &st->upstream_port,
	    &why) != 0)
		serr(l, m, "%s \"%.*s\": %s (use \"IPv4:port\" or "
		    "\"[IPv6]:port\")", what, SHOW_MAX, v, why);
	else if (st->upstream_host[0] == '\0')
		serr(l, m, "%s \"%.*s\" has no address (use \"IPv4:port\" or "
		    "\"[IPv6]:port\")", what, SHOW_MAX, v);
}

static void
studio_optional(struct loader *l, const config_setting_t *e,
    const char *label, struct cfg_studio *st)
{
	const config_setting_t *m;
	const char *v;
	char what[WHAT_MAX];

	snprintf(what, sizeof(what), "%s: upstream_user", label);
	if ((m = config_setting_get_member(e, "upstream_user")) != NULL &&
	    get_string(l, m, what, &v) == 0) {
		if (policy_valid_user(v) != 0)
			serr(l, m, "%s \"%.*s\" is not valid: %s", what,
			    SHOW_MAX, v, user_rule);
		else
			st->upstream_user = lstrdup(l, v);
	}
	snprintf(what, sizeof(what), "%s: users", label);
	if ((m = config_setting_get_member(e, "users")) != NULL) {
		st->users_set = 1;
		get_string_array(l, m, what, policy_valid_user, user_rule,
		    &st->users, &st->nusers);
	}
	snprintf(what, sizeof(what), "%s: host_key_fingerprint", label);
	if ((m = config_setting_get_member(e, "host_key_fingerprint")) != NULL)
		get_fingerprint(l, m, what, &st->host_key_fingerprint);
	snprintf(what, sizeof(what), "%s: upstream_auth", label);
	if ((m = config_setting_get_member(e, "upstream_auth")) != NULL &&
	    get_string(l, m, what, &v) == 0 &&
	    (st->upstream_auth = config_upstream_auth_parse(v)) ==
	    CFG_UPSTREAM_UNSET)
		serr(l, m, "%s \"%.*s\" is not one of %s", what, SHOW_MAX, v,
		    UPSTREAM_AUTH_CHOICES);
}

void
load_studios(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *list, *e;
	struct config *cfg = l->cfg;
	struct cfg_studio *st;
	char label[LABEL_MAX];
	int i, n;

	if ((list = list_setting(l, root, "studios", &n)) == NULL ||
	    (cfg->studios = lcalloc(l, (size_t)n,
	    sizeof(*cfg->studios))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		if ((e = list_entry(l, list, i, "studios")) == NULL)
			continue;
		st = &cfg->studios[cfg->nstudios++];
		studio_session(l, list, i, e, st, label, sizeof(label));
		check_names(l, e, studio_names, label);
		studio_workspace(l, e, label, st);
		studio_upstream(l, e, label, st);
		studio_optional(l, e, label, st);
	}
}
