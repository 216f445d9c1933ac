/*
 * facts.c - a login decision's registry answers: recorded in the lookup
 * process, checked and replayed in the monitor (facts.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "facts.h"

void
facts_clear(struct ipc_lookup_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->enabled = f->studio = f->workspace_allowed = IPC_FACT_UNASKED;
	f->user_exists = f->member = f->ca = f->claimed = IPC_FACT_UNASKED;
	f->workspace = -1;
}

/* ---- the lookup side: record what the registry answers ---- */

static int
copy_field(char *dst, size_t dstsz, const char *src)
{
	if (src == NULL) {
		dst[0] = '\0';
		return 0;
	}
	if (strlen(src) >= dstsz)
		return -1;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* The record into the facts; a record that does not fit the message is
 * a bad record (the registry's checks bound every field below this). */
static int
record_studio(struct ipc_lookup_facts *f, const struct policy_studio *s)
{
	size_t i;

	f->workspace = s->workspace;
	f->upstream_auth = (uint32_t)s->upstream_auth;
	f->users_set = s->users_set ? 1 : 0;
	if (s->nusers > IPC_LOOKUP_MAX_USERS)
		return -1;
	f->nusers = (uint32_t)s->nusers;
	for (i = 0; i < s->nusers; i++)
		if (copy_field(f->users[i], sizeof(f->users[i]),
		    s->users[i]) != 0)
			return -1;
	if (copy_field(f->upstream_host, sizeof(f->upstream_host),
	    s->upstream_host) != 0 ||
	    copy_field(f->upstream_port, sizeof(f->upstream_port),
	    s->upstream_port) != 0 ||
	    copy_field(f->upstream_user, sizeof(f->upstream_user),
	    s->upstream_user) != 0 ||
	    copy_field(f->host_key_pin, sizeof(f->host_key_pin),
	    s->host_key_fingerprint) != 0)
		return -1;
	return 0;
}

static int
rec_find_studio(void *ctx, const char *session, struct policy_studio *out)
{
	struct facts_recorder *r = ctx;
	int rc;

	rc = r->inner->find_studio(r->inner->ctx, session, out);
	if (rc == 0 && record_studio(r->f, out) != 0)
		rc = POLICY_BAD_RECORD;
	r->f->studio = rc;
	return rc;
}

static int
rec_ssh_enabled(void *ctx)
{
	struct facts_recorder *r = ctx;

	return r->f->enabled = r->inner->ssh_enabled(r->inner->ctx);
}

static int
rec_workspace_allowed(void *ctx, long long ws)
{
	struct facts_recorder *r = ctx;

	return r->f->workspace_allowed =
	    r->inner->workspace_allowed(r->inner->ctx, ws);
}

static int
rec_workspace_member(void *ctx, long long ws, const char *user)
{
	struct facts_recorder *r = ctx;

	return r->f->member =
	    r->inner->workspace_member(r->inner->ctx, ws, user);
}

static int
rec_user_key(void *ctx, const char *user, const uint8_t *blob, size_t len,
    int *has_key)
{
	struct facts_recorder *r = ctx;
	int rc;

	*has_key = 0;
	rc = r->inner->user_key(r->inner->ctx, user, blob, len, has_key);
	r->f->user_exists = rc;
	r->f->has_key = *has_key ? 1 : 0;
	return rc;
}

static int
rec_user_ca(void *ctx, const uint8_t *blob, size_t len)
{
	struct facts_recorder *r = ctx;

	if (r->inner->user_ca == NULL)
		return r->f->ca = 0;
	return r->f->ca = r->inner->user_ca(r->inner->ctx, blob, len);
}

void
facts_recording_backend(struct policy_backend *be,
    struct facts_recorder *rec, const struct policy_backend *inner,
    struct ipc_lookup_facts *f)
{
	rec->inner = inner;
	rec->f = f;
	memset(be, 0, sizeof(*be));
	be->name = inner->name;
	be->ctx = rec;
	be->find_studio = rec_find_studio;
	be->ssh_enabled = rec_ssh_enabled;
	be->workspace_allowed = rec_workspace_allowed;
	be->workspace_member = rec_workspace_member;
	be->user_key = rec_user_key;
	be->user_ca = rec_user_ca;
}

/* ---- the monitor side: check, then answer from the facts ---- */

/* A backend's answer: one of the values it may give, or unasked. */
static int
answer_ok(int32_t v, int lo, int hi)
{
	return v == IPC_FACT_UNASKED || v == POLICY_BAD_RECORD ||
	    (v >= lo && v <= hi);
}

static const char *
check_record(const struct ipc_lookup_facts *f)
{
	char hp[128], *host = NULL, *port = NULL;
	const char *why = NULL;
	uint32_t i;

	if (f->workspace < 0)
		return "a negative workspace id";
	snprintf(hp, sizeof(hp), strchr(f->upstream_host, ':') != NULL ?
	    "[%s]:%s" : "%s:%s", f->upstream_host, f->upstream_port);
	if (config_parse_hostport(hp, &host, &port, &why) != 0 ||
	    host[0] == '\0' || strcmp(host, f->upstream_host) != 0 ||
	    strcmp(port, f->upstream_port) != 0)
		why = "an upstream that is not a numeric address and port";
	free(host);
	free(port);
	if (why != NULL)
		return why;
	if (f->upstream_user[0] != '\0' &&
	    policy_valid_user(f->upstream_user) != 0)
		return "an invalid upstream_user";
	if (f->host_key_pin[0] != '\0' &&
	    config_valid_fingerprint(f->host_key_pin) != 0)
		return "a host_key_fingerprint that is no fingerprint";
	if (f->upstream_auth != CFG_UPSTREAM_UNSET &&
	    f->upstream_auth != CFG_UPSTREAM_CERTIFICATE &&
	    f->upstream_auth != CFG_UPSTREAM_KEY)
		return "an unknown upstream_auth";
	if (f->users_set > 1 || (!f->users_set && f->nusers != 0))
		return "a users list without its flag";
	for (i = 0; i < f->nusers; i++)
		if (policy_valid_user(f->users[i]) != 0)
			return "an invalid user in the users list";
	return NULL;
}

int
facts_check(const struct ipc_lookup_facts *f, const char **why)
{
	*why = NULL;
	if (!answer_ok(f->enabled, -1, 1) || !answer_ok(f->studio, -1, 1) ||
	    !answer_ok(f->workspace_allowed, -1, 1) ||
	    !answer_ok(f->user_exists, -1, 1) || f->has_key > 1 ||
	    !answer_ok(f->member, -1, 1) || !answer_ok(f->ca, -1, 1) ||
	    !(f->claimed == IPC_FACT_UNASKED ||
	    (f->claimed >= -1 && f->claimed <= 1)))
		*why = "an answer out of range";
	else if (f->studio == 0)
		*why = check_record(f);
	else if (f->upstream_host[0] != '\0' || f->nusers != 0)
		*why = "a studio record without a studio";
	return *why == NULL ? 0 : -1;
}

/* An answer the facts hold, or "could not answer" for one they do not. */
static int
replay(int32_t v)
{
	return v == IPC_FACT_UNASKED ? -1 : v;
}

static int
facts_find_studio(void *ctx, const char *session, struct policy_studio *out)
{
	struct facts_view *v = ctx;
	const struct ipc_lookup_facts *f = v->f;

	memset(out, 0, sizeof(*out));
	if (f->studio != 0)
		return replay(f->studio);
	out->session = session;
	out->workspace = f->workspace;
	out->upstream_host = f->upstream_host;
	out->upstream_port = f->upstream_port;
	out->upstream_user = f->upstream_user[0] ? f->upstream_user : NULL;
	out->host_key_fingerprint = f->host_key_pin[0] ? f->host_key_pin :
	    NULL;
	out->upstream_auth = (int)f->upstream_auth;
	out->users_set = (int)f->users_set;
	out->nusers = f->nusers;
	out->users = v->users;
	return 0;
}

static int
facts_ssh_enabled(void *ctx)
{
	return replay(((struct facts_view *)ctx)->f->enabled);
}

static int
facts_workspace_allowed(void *ctx, long long ws)
{
	const struct ipc_lookup_facts *f = ((struct facts_view *)ctx)->f;

	/* Asked about the record's workspace, and only that. */
	return ws == f->workspace ? replay(f->workspace_allowed) : -1;
}

static int
facts_workspace_member(void *ctx, long long ws, const char *user)
{
	const struct ipc_lookup_facts *f = ((struct facts_view *)ctx)->f;

	(void)user;
	return ws == f->workspace ? replay(f->member) : -1;
}

static int
facts_user_key(void *ctx, const char *user, const uint8_t *blob, size_t len,
    int *has_key)
{
	const struct ipc_lookup_facts *f = ((struct facts_view *)ctx)->f;

	(void)user;
	(void)len;
	*has_key = blob != NULL && f->has_key;
	return replay(f->user_exists);
}

static int
facts_user_ca(void *ctx, const uint8_t *blob, size_t len)
{
	(void)blob;
	(void)len;
	return replay(((struct facts_view *)ctx)->f->ca);
}

void
facts_backend(struct policy_backend *be, struct facts_view *view,
    const struct ipc_lookup_facts *f)
{
	uint32_t i;

	view->f = f;
	for (i = 0; i < f->nusers && i < IPC_LOOKUP_MAX_USERS; i++)
		view->users[i] = f->users[i];
	memset(be, 0, sizeof(*be));
	be->name = "redis";
	be->ctx = view;
	be->find_studio = facts_find_studio;
	be->ssh_enabled = facts_ssh_enabled;
	be->workspace_allowed = facts_workspace_allowed;
	be->workspace_member = facts_workspace_member;
	be->user_key = facts_user_key;
	be->user_ca = facts_user_ca;
}
