/*
 * policy.h - who may reach which Studio.
 *
 * The decision is a plain function of a request and a backend.  A backend
 * answers four narrow questions (struct policy_backend); the "file" backend
 * answers them from the loaded config, a later "redis" backend from a
 * registry.  policy_check() composes them in one fixed order, so every
 * backend gets the same semantics and the same denial reasons.
 */
#ifndef CSSHD_POLICY_H
#define CSSHD_POLICY_H

#include <stddef.h>
#include <stdint.h>

struct config;

#define POLICY_MAX_USER		64
#define POLICY_MAX_SESSION	64

enum policy_verdict {
	POLICY_ALLOW = 0,
	POLICY_DENY_SSH_DISABLED,	/* allowed_workspaces is empty */
	POLICY_DENY_BAD_USERNAME,	/* not "<user>@<session>" */
	POLICY_DENY_UNKNOWN_STUDIO,
	POLICY_DENY_WORKSPACE_NOT_ALLOWED,
	POLICY_DENY_UNKNOWN_USER,
	POLICY_DENY_KEY_NOT_REGISTERED,
	POLICY_DENY_NOT_MEMBER,		/* of the Studio's workspace */
	POLICY_DENY_NOT_LISTED,		/* not in the Studio's users */
	POLICY_DENY_BACKEND,		/* the backend could not answer */
	POLICY_DENY_BAD_RECORD,		/* the backend's data failed checks */
	POLICY_VERDICT_MAX
};

/* A short, stable reason string for logs ("unknown-studio", ...). */
const char *policy_reason(enum policy_verdict v);

/* What a Studio needs to be routed to. */
struct policy_studio {
	const char *session;
	long long workspace;
	const char *upstream_host;
	const char *upstream_port;
	const char *upstream_user;	/* NULL: the client's user name */
	const char *host_key_fingerprint;	/* NULL: not pinned */
	int upstream_auth;	/* enum cfg_upstream_auth; 0: the global one */
	const char *const *users;	/* NULL: no further restriction */
	size_t nusers;
	int users_set;
};

/*
 * A backend's answers: -1 means it could not answer (a registry that is
 * down), POLICY_BAD_RECORD that it answered with data that failed the
 * checks (logged by the backend, with where the data is).
 */
#define POLICY_BAD_RECORD	(-2)

struct policy_backend {
	const char *name;
	void *ctx;
	/* 0 found (*out filled, valid until the next call), 1 not found,
	 * -1 or POLICY_BAD_RECORD */
	int (*find_studio)(void *ctx, const char *session,
	    struct policy_studio *out);
	/* 1 yes, 0 no, -1 error; a backend with no allowed workspace at all
	 * answers ssh_enabled() with 0 */
	int (*ssh_enabled)(void *ctx);
	int (*workspace_allowed)(void *ctx, long long workspace);
	int (*workspace_member)(void *ctx, long long workspace,
	    const char *user);
	/* 1 user exists, 0 unknown user, -1 or POLICY_BAD_RECORD; *has_key
	 * says whether blob
	 * is one of the user's keys; fp (optional) gets its fingerprint */
	int (*user_key)(void *ctx, const char *user, const uint8_t *blob,
	    size_t len, int *has_key);
	/* 1 if blob is a CA key of the backend's own whose user
	 * certificates log users in, 0 not, -1 or POLICY_BAD_RECORD; NULL:
	 * the backend holds none (the config's trusted_user_ca_keys is
	 * asked first in any case) */
	int (*user_ca)(void *ctx, const uint8_t *blob, size_t len);
};

/* The backend over a loaded config (kept as ctx; not copied). */
void policy_file_backend(struct policy_backend *be, const struct config *cfg);

struct policy_request {
	const char *ssh_user;		/* the SSH user name, "<user>@<session>" */
	const uint8_t *key_blob;	/* NULL: check everything but the key */
	size_t key_len;
};

struct policy_decision {
	enum policy_verdict verdict;
	char user[POLICY_MAX_USER + 1];		/* filled when parsed */
	char session[POLICY_MAX_SESSION + 1];
	long long workspace;			/* -1 if unknown */
	struct policy_studio studio;		/* valid if verdict == ALLOW */
	char upstream_user[POLICY_MAX_USER + 1];	/* resolved */
};

enum policy_verdict policy_check(const struct policy_backend *be,
    const struct policy_request *req, struct policy_decision *out);

/*
 * Split "<user>@<session>" at the last '@' (user names may hold '@', as
 * e-mail addresses do; session ids never).  Checks both parts' length and
 * character set: user [A-Za-z0-9._+@-], not starting with '-';
 * session [A-Za-z0-9_-].  Returns 0 or -1.
 */
int policy_split_username(const char *ssh_user, char *user, size_t usersz,
    char *session, size_t sessionsz);

/* Validity of each part alone (used by the config loader too): 0 if
 * valid, -1 if not. */
int policy_valid_user(const char *s);
int policy_valid_session(const char *s);

#endif
