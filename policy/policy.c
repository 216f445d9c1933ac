/*
 * policy.c - the access decision, and the "file" backend over a config.
 *
 * policy_check() asks the backend its questions in one fixed order and
 * stops at the first "no", so the reason logged is always the most basic
 * one that applies and never depends on the backend.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "policy.h"

static const char *const reasons[POLICY_VERDICT_MAX] = {
	[POLICY_ALLOW] = "allowed",
	[POLICY_DENY_SSH_DISABLED] = "ssh-disabled",
	[POLICY_DENY_BAD_USERNAME] = "bad-username",
	[POLICY_DENY_UNKNOWN_STUDIO] = "unknown-studio",
	[POLICY_DENY_WORKSPACE_NOT_ALLOWED] = "workspace-not-allowed",
	[POLICY_DENY_UNKNOWN_USER] = "unknown-user",
	[POLICY_DENY_KEY_NOT_REGISTERED] = "key-not-registered",
	[POLICY_DENY_NOT_MEMBER] = "not-a-member",
	[POLICY_DENY_NOT_LISTED] = "not-listed-for-studio",
	[POLICY_DENY_BACKEND] = "registry-unavailable",
	[POLICY_DENY_BAD_RECORD] = "bad-registry-record",
};

const char *
policy_reason(enum policy_verdict v)
{
	if ((unsigned)v >= POLICY_VERDICT_MAX || reasons[v] == NULL)
		return "unknown";
	return reasons[v];
}

static int
is_alnum(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9');
}

/* s[0..n) is 1..max characters, each alnum or in extra. */
static int
valid_chars(const char *s, size_t n, size_t max, const char *extra)
{
	size_t i;

	if (n == 0 || n > max)
		return -1;
	for (i = 0; i < n; i++)
		if (!is_alnum(s[i]) && (s[i] == '\0' ||
		    strchr(extra, s[i]) == NULL))
			return -1;
	return 0;
}

/* A user name may not start with '-' (it could pass for an option where
 * it is handed on) nor with '@' (it would read as an empty name). */
static int
valid_user_n(const char *s, size_t n)
{
	if (n > 0 && (s[0] == '-' || s[0] == '@'))
		return -1;
	return valid_chars(s, n, POLICY_MAX_USER, "._+@-");
}

static int
valid_session_n(const char *s, size_t n)
{
	return valid_chars(s, n, POLICY_MAX_SESSION, "_-");
}

int
policy_valid_user(const char *s)
{
	return valid_user_n(s, strnlen(s, POLICY_MAX_USER + 1));
}

int
policy_valid_session(const char *s)
{
	return valid_session_n(s, strnlen(s, POLICY_MAX_SESSION + 1));
}

int
policy_split_username(const char *ssh_user, char *user, size_t usersz,
    char *session, size_t sessionsz)
{
	const char *at;
	size_t ulen, slen;

	if (usersz > 0)
		user[0] = '\0';
	if (sessionsz > 0)
		session[0] = '\0';
	if (ssh_user == NULL || (at = strrchr(ssh_user, '@')) == NULL)
		return -1;
	ulen = (size_t)(at - ssh_user);
	slen = strlen(at + 1);
	if (valid_user_n(ssh_user, ulen) != 0 ||
	    valid_session_n(at + 1, slen) != 0 ||
	    ulen >= usersz || slen >= sessionsz)
		return -1;
	memcpy(user, ssh_user, ulen);
	user[ulen] = '\0';
	memcpy(session, at + 1, slen + 1);
	return 0;
}

/* --- the decision ----------------------------------------------------- */

/* Is the presented key one of the user's?  Sets *verdict when not ALLOW. */
static int
check_user_key(const struct policy_backend *be,
    const struct policy_request *req, const char *user,
    enum policy_verdict *verdict)
{
	int rc, has_key = 0;

	rc = be->user_key(be->ctx, user, req->key_blob, req->key_len,
	    &has_key);
	if (rc == POLICY_BAD_RECORD)
		*verdict = POLICY_DENY_BAD_RECORD;
	else if (rc < 0)
		*verdict = POLICY_DENY_BACKEND;
	else if (rc == 0)
		*verdict = POLICY_DENY_UNKNOWN_USER;
	else if (req->key_blob != NULL && !has_key)
		*verdict = POLICY_DENY_KEY_NOT_REGISTERED;
	else
		return 0;
	return -1;
}

/* Is the user listed in the Studio's own users, if it has such a list? */
static int
listed_for_studio(const struct policy_studio *s, const char *user)
{
	size_t i;

	if (!s->users_set)
		return 1;
	for (i = 0; i < s->nusers; i++)
		if (strcmp(s->users[i], user) == 0)
			return 1;
	return 0;
}

/* The checks after the name is parsed, in their fixed order. */
static enum policy_verdict
decide(const struct policy_backend *be, const struct policy_request *req,
    struct policy_decision *d)
{
	enum policy_verdict v;
	int rc;

	if ((rc = be->ssh_enabled(be->ctx)) <= 0)
		return rc < 0 ? POLICY_DENY_BACKEND : POLICY_DENY_SSH_DISABLED;
	if ((rc = be->find_studio(be->ctx, d->session, &d->studio)) != 0) {
		memset(&d->studio, 0, sizeof(d->studio));
		return rc == POLICY_BAD_RECORD ? POLICY_DENY_BAD_RECORD :
		    rc < 0 ? POLICY_DENY_BACKEND : POLICY_DENY_UNKNOWN_STUDIO;
	}
	d->workspace = d->studio.workspace;
	if ((rc = be->workspace_allowed(be->ctx, d->workspace)) <= 0)
		return rc < 0 ? POLICY_DENY_BACKEND :
		    POLICY_DENY_WORKSPACE_NOT_ALLOWED;
	if (check_user_key(be, req, d->user, &v) != 0)
		return v;
	if ((rc = be->workspace_member(be->ctx, d->workspace, d->user)) <= 0)
		return rc < 0 ? POLICY_DENY_BACKEND : POLICY_DENY_NOT_MEMBER;
	if (!listed_for_studio(&d->studio, d->user))
		return POLICY_DENY_NOT_LISTED;
	return POLICY_ALLOW;
}

enum policy_verdict
policy_check(const struct policy_backend *be,
    const struct policy_request *req, struct policy_decision *out)
{
	const char *up;

	memset(out, 0, sizeof(*out));
	out->workspace = -1;
	if (policy_split_username(req->ssh_user, out->user, sizeof(out->user),
	    out->session, sizeof(out->session)) != 0) {
		out->verdict = POLICY_DENY_BAD_USERNAME;
		return out->verdict;
	}
	out->verdict = decide(be, req, out);
	if (out->verdict == POLICY_ALLOW) {
		up = out->studio.upstream_user != NULL ?
		    out->studio.upstream_user : out->user;
		snprintf(out->upstream_user, sizeof(out->upstream_user), "%s",
		    up);
	}
	return out->verdict;
}

/* --- the file backend ------------------------------------------------- */

static const struct cfg_workspace *
file_workspace(const struct config *cfg, long long id)
{
	size_t i;

	for (i = 0; i < cfg->nworkspaces; i++)
		if (cfg->workspaces[i].id == id)
			return &cfg->workspaces[i];
	return NULL;
}

static int
file_find_studio(void *ctx, const char *session, struct policy_studio *out)
{
	const struct config *cfg = ctx;
	const struct cfg_studio *s;
	size_t i;

	for (i = 0; i < cfg->nstudios; i++) {
		s = &cfg->studios[i];
		if (strcmp(s->session, session) != 0)
			continue;
		memset(out, 0, sizeof(*out));
		out->session = s->session;
		out->workspace = s->workspace;
		out->upstream_host = s->upstream_host;
		out->upstream_port = s->upstream_port;
		out->upstream_user = s->upstream_user;
		out->host_key_fingerprint = s->host_key_fingerprint;
		out->upstream_auth = s->upstream_auth;
		out->users = (const char *const *)s->users;
		out->nusers = s->nusers;
		out->users_set = s->users_set;
		return 0;
	}
	return 1;
}

/* "enabled = false" turns SSH off as surely as an empty allow list. */
static int
file_ssh_enabled(void *ctx)
{
	const struct config *cfg = ctx;

	return cfg->enabled && cfg->nallowed_workspaces > 0;
}

static int
file_workspace_allowed(void *ctx, long long workspace)
{
	const struct config *cfg = ctx;
	size_t i;

	for (i = 0; i < cfg->nallowed_workspaces; i++)
		if (cfg->allowed_workspaces[i] == workspace)
			return 1;
	return 0;
}

static int
file_workspace_member(void *ctx, long long workspace, const char *user)
{
	const struct cfg_workspace *ws;
	size_t i;

	if ((ws = file_workspace(ctx, workspace)) == NULL)
		return 0;
	for (i = 0; i < ws->nmembers; i++)
		if (strcmp(ws->members[i], user) == 0)
			return 1;
	return 0;
}

static int
file_user_key(void *ctx, const char *user, const uint8_t *blob, size_t len,
    int *has_key)
{
	const struct config *cfg = ctx;
	const struct cfg_user *u = NULL;
	size_t i;

	*has_key = 0;
	for (i = 0; i < cfg->nusers && u == NULL; i++)
		if (strcmp(cfg->users[i].name, user) == 0)
			u = &cfg->users[i];
	if (u == NULL)
		return 0;
	if (blob == NULL)
		return 1;
	/* Every key is compared, so the time taken does not tell which
	 * key, if any, matched. */
	for (i = 0; i < u->nkeys; i++)
		if (u->keys[i].bloblen == len &&
		    bytes_equal(u->keys[i].blob, blob, len))
			*has_key = 1;
	return 1;
}

void
policy_file_backend(struct policy_backend *be, const struct config *cfg)
{
	memset(be, 0, sizeof(*be));
	be->name = "file";
	/* The callbacks take a void *, but none of them writes through it. */
	be->ctx = (void *)(uintptr_t)cfg;
	be->find_studio = file_find_studio;
	be->ssh_enabled = file_ssh_enabled;
	be->workspace_allowed = file_workspace_allowed;
	be->workspace_member = file_workspace_member;
	be->user_key = file_user_key;
}
