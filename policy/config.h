/*
 * config.h - connect-sshd.conf(5): load, validate, dump.
 *
 * The file is libconfig syntax.  config_load() reads it, applies the
 * CONNECT_* environment overrides, validates every field and resolves
 * dependent files (keys_file), and returns a fully checked struct or a list
 * of "file:line: message" errors.  Nothing downstream re-validates.
 * The implementation is policy/config.c and the other policy/config_*.c,
 * listed in config_int.h.
 */
#ifndef CSSHD_CONFIG_H
#define CSSHD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "authkeys.h"

struct krl;		/* krl.h */

#define CFG_DEFAULT_PATH	"/etc/connect-sshd/connect-sshd.conf"
#define CFG_MAX_ERRORS		64

/* A network: address and prefix length ("10.0.0.0/8", "2001:db8::/32"). */
struct cfg_net {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network byte order; host bits zero */
	int prefix;
};

#define CFG_MAX_PROXY_FROM	64

struct cfg_listen {
	char *host;		/* numeric address; "" for any (dual stack) */
	char *port;		/* numeric port */
	int line;		/* 0 when it came from CONNECT_SSH_ADDR */
	int proxy_protocol;	/* a PROXY v1/v2 header comes first */
	struct cfg_net *proxy_from;	/* who may send it */
	size_t nproxy_from;
};

struct cfg_workspace {
	long long id;
	char **members;
	size_t nmembers;
};

struct cfg_user {
	char *name;
	struct authkey *keys;	/* inline keys first, then keys_file's */
	size_t nkeys;
	size_t ninline;		/* keys[0..ninline) came from "keys" */
	char *keys_file;	/* NULL if none */
};

/*
 * upstream_auth: how the gateway logs in to a Studio.  CERTIFICATE: a
 * short-lived user certificate for a key the worker made, signed by the
 * gateway key as CA, with the Studio's session as the only principal.
 * KEY: the gateway key itself through the monitor's agent (the older,
 * weaker mode).  A studio's UNSET takes the global setting.
 */
enum cfg_upstream_auth {
	CFG_UPSTREAM_UNSET = 0,
	CFG_UPSTREAM_CERTIFICATE,
	CFG_UPSTREAM_KEY,
};
/* Parse "certificate" / "key": the value, or CFG_UPSTREAM_UNSET. */
int config_upstream_auth_parse(const char *s);
const char *config_upstream_auth_name(int v);

struct cfg_studio {
	char *session;
	long long workspace;
	char *upstream_host;	/* numeric address */
	char *upstream_port;	/* numeric port */
	char *upstream_user;	/* NULL: the client's user name */
	char **users;		/* NULL and 0: no further restriction */
	size_t nusers;
	int users_set;		/* "users" present (even if empty) */
	char *host_key_fingerprint;	/* NULL if not pinned */
	int upstream_auth;	/* enum cfg_upstream_auth; UNSET: global */
};

struct cfg_workers {
	int prefork;
	char *user;		/* used only when started as root */
	char *lookup_user;	/* connect-sshd-lookup's; NULL: user's */
	char *chroot;		/* likewise */
	char *program;		/* the worker executable */
};

struct cfg_log {
	int level;		/* enum log_level */
	int format;		/* enum log_format */
};

struct cfg_limits {
	int login_grace_time;		/* seconds */
	int upstream_connect_timeout;	/* seconds */
	int max_auth_tries;
	int max_sessions;
	int max_sessions_per_user;	/* connections of one user; 0 off */
	int idle_timeout;		/* seconds without channel data; 0 off */
	int keepalive_interval;		/* seconds; 0 off */
	int keepalive_count_max;	/* unanswered intervals before closing */
	int drain_timeout;		/* seconds sessions get on SIGTERM */
	/* max_startups "start:rate:full": unauthenticated connections */
	int startups_begin, startups_rate, startups_full;
	int per_source_max_startups;	/* 0 off; IPv6 counted per /64 */
	int proxy_header_timeout;	/* seconds for a PROXY header */
	int rsa_min_bits;		/* least modulus of a client RSA key */
};

struct cfg_forwarding {		/* what the gateway relays; 1 on */
	int local;		/* direct-tcpip: ssh -L, -D */
	int remote;		/* tcpip-forward: ssh -R */
	int agent;		/* auth-agent-req: ssh -A */
};

/*
 * Where studios, workspaces and user keys come from: this file (the
 * default) or a Redis registry the platform writes while gateways run
 * (connect-sshd.conf(5), REGISTRY).
 */
enum cfg_registry_backend {
	CFG_REGISTRY_FILE = 0,
	CFG_REGISTRY_REDIS,
};

#define CFG_REDIS_MAX_SECRET	512	/* bytes of a Redis password */

struct cfg_registry {
	int backend;		/* enum cfg_registry_backend */
	char *host;		/* address or DNS name; NULL with "file" */
	char *port;
	int db;
	char *user;		/* NULL: Redis's default user */
	char *password_file;	/* NULL if none */
	char *password;		/* the secret (file or environment), or NULL */
	char *prefix;		/* of every key the gateway reads */
	int timeout_ms;		/* per connect and per command */
	int cache_ttl;		/* seconds an answer may be reused; 0 never */
};

/* Algorithm lists offered to clients and Studios, in order of preference;
 * only names from the safe sets in config_algorithms.c are accepted. */
struct cfg_algorithms {
	char **kex;
	size_t nkex;
	char **ciphers;
	size_t nciphers;
	char **macs;
	size_t nmacs;
};

#define CFG_MAX_USER_CAS	64	/* keys in trusted_user_ca_keys */

struct config {
	char *path;
	struct cfg_listen *listen;
	size_t nlisten;
	char *key_path;
	char *key_fingerprint;	/* NULL if not pinned */
	struct cfg_listen metrics;	/* metrics_listen; host NULL if unset */
	int enabled;
	int upstream_auth;	/* enum cfg_upstream_auth, never UNSET */
	/* trusted_user_ca_keys: the file (NULL if unset) and its keys, the
	 * CAs whose user certificates may log in (monitor/usercert.h) */
	char *user_ca_path;
	struct authkey *user_cas;
	size_t nuser_cas;
	/* revoked_keys: the file (NULL if unset) and what it revokes
	 * (krl.h), asked about every key and certificate a client offers */
	char *revoked_path;
	struct krl *revoked;	/* krl.h */
	long long *allowed_workspaces;
	size_t nallowed_workspaces;
	struct cfg_workspace *workspaces;
	size_t nworkspaces;
	struct cfg_user *users;
	size_t nusers;
	struct cfg_studio *studios;
	size_t nstudios;
	struct cfg_workers workers;
	struct cfg_log log;
	struct cfg_limits limits;
	struct cfg_forwarding forwarding;
	struct cfg_algorithms algorithms;
	struct cfg_registry registry;
};

/* A list as libssh takes it: "a,b,c" into buf; -1 if it does not fit. */
int config_join(char *const *v, size_t n, char *buf, size_t bufsz);

struct config_errors {
	char *msg[CFG_MAX_ERRORS];	/* "file:line: message" */
	size_t n;
	size_t dropped;			/* errors past CFG_MAX_ERRORS */
};

/*
 * Load and validate path.  env is the environment to read CONNECT_*
 * overrides from (NULL: none), as "NAME=value" strings.  On success
 * returns a config and leaves errs empty; on failure returns NULL and fills
 * errs.  default_worker is the compiled-in worker path.
 */
struct config *config_load(const char *path, char *const *env,
    const char *default_worker, struct config_errors *errs);
/* Only the registry section and CONNECT_REDIS_* (connect-sshctl); path
 * may be NULL.  Fails unless the registry is Redis. */
struct config *config_load_registry(const char *path, char *const *env,
    struct config_errors *errs);
void config_free(struct config *cfg);
void config_errors_free(struct config_errors *errs);

/* Print the effective config as libconfig text that config_load accepts. */
void config_dump(const struct config *cfg, FILE *out);
/* Calls say for each setting whose value differs between a and b and whose
 * change a reload logs (config_table.c: the limits and forwarding rows),
 * with both values as the file writes them (without quotes). */
void config_changes(const struct config *a, const struct config *b,
    void (*say)(const char *group, const char *name, const char *from,
    const char *to));

/* "host:port", "[v6]:port" or ":port" into numeric host ("" any) and port. */
int config_parse_hostport(const char *s, char **host, char **port,
    const char **why);

/* "SHA256:" and 43 base64 characters, as ssh-keygen -l prints: 0 or -1. */
int config_valid_fingerprint(const char *s);

/* "addr/prefix" or "addr" into a network; host bits must be zero. */
int config_parse_net(const char *s, struct cfg_net *n, const char **why);
/* Is the address (4 or 16 bytes of family) in one of the networks?  A
 * v4-mapped IPv6 address counts as its IPv4 address. */
int config_net_match(const struct cfg_net *nets, size_t n, int family,
    const uint8_t *addr);

#endif
