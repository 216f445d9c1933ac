/*
 * monitor.h - the privileged process: state shared by its modules.
 *
 * The monitor owns the gateway key, the listeners and the policy.  It keeps
 * one struct worker per child; w->state is the connection's place in the
 * privilege-separation state machine, and the dispatch table in dispatch.c
 * says which request each state permits.
 */
#ifndef CSSHD_MONITOR_H
#define CSSHD_MONITOR_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "ipc.h"
#include "policy.h"

enum wstate {
	WS_STARTING = 0,	/* exec'd, not yet sandboxed */
	WS_IDLE,		/* sandboxed, in the pool */
	WS_PROXY,		/* has a client from a balancer, whose PROXY
				 * header the worker is reading */
	WS_PREAUTH,		/* has a client, no key exchange yet */
	WS_KEYED,		/* session id known, authenticating */
	WS_AUTHED,		/* the monitor verified a permitted login */
	WS_ROUTING,		/* connecting to the Studio */
	WS_ROUTED,		/* relaying */
	WS_CLOSING,		/* route failed; only logs accepted */
	WS_NSTATES
};
#define WS_BIT(s)	(1u << (s))

/* Per-connection bounds a worker may not exceed (see connect-sshd-ipc(7)). */
/*
 * Host key signatures (the first key exchange and every rekey): a token
 * bucket, not a lifetime count, so that a connection may rekey for as long
 * as it lives.  MON_KEX_SIGN_BURST at once, then MON_KEX_SIGN_RATE per
 * second sustained.  Measured (2026-11-30, 2 cores, load 6): an OpenSSH
 * 9.2 client with RekeyLimit=16 (its minimum: a new key exchange after
 * every packet) uploading through the gateway drove about 25 key
 * exchanges a second with curve25519-sha256, 5 with sntrup761x25519; the
 * rate is bound by a key exchange's round trips.  400 is over ten times
 * that.  A connection that rekeys every second for an hour asks for 1 a
 * second.  An Ed25519 signature costs the monitor about 33 us (openssl
 * speed), so a compromised worker can take at most ~13 ms of monitor CPU
 * a second this way (connect-sshd-ipc(7), BOUNDS).
 */
#define MON_KEX_SIGN_BURST	64	/* signatures at once */
#define MON_KEX_SIGN_RATE	400	/* signatures per second, sustained */
#define MON_MAX_KEY_QUERIES	64	/* keys a client may offer */
#define MON_MAX_VERIFIES	16	/* signed userauth attempts */
#define MON_MAX_AGENT_SIGNS	4	/* upstream publickey signatures */
#define MON_MAX_AGENT_IDS	4	/* agent identity listings */
#define MON_AGENT_MAX_MSG	8192	/* one agent protocol message */
#define MON_LOG_BURST		200	/* worker log lines per second */
#define MON_MAX_LINGER		64	/* refused sockets held open briefly */
#define MON_LINGER_MS		2000
#define MON_GRACE_SLACK		2	/* s after a worker's own grace timer */
/* A worker's IPC socket closes as it exits, microseconds before it can be
 * reaped; one still running this many seconds later closed it itself. */
#define WORKER_CLOSED_GRACE_SEC	2
#define MON_MAX_ADMIT_WAIT	64	/* connections waiting for a count */

/* The ASan/UBSan test build (make SANITIZE=1) passes workers' stderr on. */
#ifdef CSSHD_SANITIZE
#define SANITIZER_BUILD		1
#else
#define SANITIZER_BUILD		0
#endif

struct hostkey;

/* Requests counted per connection (dispatch.c, agent.c). */
enum worker_counter { WC_KEYS, WC_VERIFIES, WC_KEX, WORKER_NCOUNTERS };
enum agent_counter { AC_IDS, AC_SIGNS, AGENT_NCOUNTERS };

struct worker {
	struct worker *next;
	pid_t pid;
	int sock;			/* IPC, monitor end */
	int client_fd;			/* accepted, waiting for W_READY */
	int upstream_fd;		/* connect in progress */
	int agent_fd;			/* monitor end of the agent socket */
	enum wstate state;
	uint32_t once_done;		/* bit per IPC type handled once */
	uint64_t conn_id;		/* 0 until a client is handed over */
	char peer[IPC_MAX_NAME];
	int proxied;			/* the client came with a PROXY header */
	char via[IPC_MAX_NAME];		/* then: the balancer */
	uint8_t src[16];		/* source for per-source limits: */
	size_t src_len;			/* IPv4 address, or IPv6 /64 */
	int shared_startup;		/* counted in the Redis registry */
	struct timespec t_connect;	/* client handed over */
	struct timespec t_deadline;	/* upstream connect deadline */
	int has_deadline;
	/* Until routed: the login must be done by then, whatever the
	 * worker does (its own timer fires first). */
	struct timespec t_grace;
	int has_grace;
	/* Its IPC socket read EOF: it must have ended by then. */
	struct timespec t_closed;
	int has_closed;

	uint8_t session_id[IPC_MAX_HASH];
	size_t session_id_len;
	int replay_claimed;		/* in the registry's replay keys */
	unsigned nreq[WORKER_NCOUNTERS];	/* dispatch.c's COUNT limits */
	unsigned nagent[AGENT_NCOUNTERS];	/* agent.c's limits */
	uint64_t nsign;			/* host key signatures made */
	uint64_t sign_credit;		/* W_SIGN token bucket, in signatures
					 * times 1000 (MON_KEX_SIGN_*) */
	struct timespec sign_t;		/* when it was last filled */
	unsigned nauthfail;		/* refused keys and signatures */
	unsigned max_auth_tries;	/* enforced from the hand-over */
	unsigned init_max_auth_tries;	/* as sent in M_INIT */
	/* The algorithm lists sent in M_INIT ("a,b,c"), and what each leg
	 * negotiated (W_KEX, checked against them; "" until reported). */
	char init_kex[IPC_MAX_TEXT];
	char init_ciphers[IPC_MAX_TEXT];
	char init_macs[IPC_MAX_TEXT];
	char kex[IPC_MAX_NAME], cipher[IPC_MAX_NAME], mac[IPC_MAX_NAME];
	char up_kex[IPC_MAX_NAME];
	size_t kex_hash_len;		/* the client leg's exchange hash */
	int opened_pending;		/* routed, upstream.opened not yet
					 * written (waits for W_KEX) */

	/* The login the monitor verified (WS_AUTHED onwards). */
	char user[POLICY_MAX_USER + 1];
	char session[POLICY_MAX_SESSION + 1];
	char upstream_user[POLICY_MAX_USER + 1];
	char upstream_host[64];
	char upstream_port[8];
	char host_key_pin[IPC_MAX_NAME];
	long long workspace;
	char key_fp[64];
	int upstream_auth;		/* enum cfg_upstream_auth, resolved */
	/* upstream_auth "certificate": the worker's login key (an Ed25519
	 * public key blob, from W_ROUTE) and the certificate issued. */
	uint8_t login_key[64];
	size_t login_key_len;
	uint64_t cert_serial;
	char cert_key_id[IPC_MAX_TEXT];
	unsigned extensions;		/* CERT_EXT_* granted */
	/* The client logged in with a user certificate (usercert.h): its
	 * USERCERT_EXT_* narrow the Studio certificate's extensions. */
	int client_cert;
	unsigned client_cert_ext;
	int upstream_refused;		/* IPC_AUDIT_UPSTREAM_REFUSED seen */

	struct wchan *chans;		/* channels reported open */
	size_t nchans;
	int reaped;			/* waited for: its pid may be reused */

	struct buf agent_in;		/* partial agent requests */
	uint64_t bytes_in, bytes_out;	/* as the worker reported them */
	int exit_status;		/* last the worker reported, -1 none */
	char exit_signal[IPC_MAX_NAME];

	unsigned drop_left;		/* W_LOG lines left this second */
	uint64_t drop_window;		/* that second (monotonic) */
	unsigned long long log_dropped;	/* W_LOG lines dropped in it */
	char kill_reason[160];		/* set when the monitor kills it */
	int retired;			/* idle, stopped by a reload or drain */

	/* A request parked for the lookup process (lookup.c): its
	 * question, the request to run again, and the answer meanwhile. */
	uint64_t lk_id;			/* the question outstanding; 0 none */
	uint8_t lk_digest[32];		/* what it asked (lookup_access) */
	unsigned lk_type;		/* the parked request: type, */
	uint8_t *lk_msg;		/* whole message, */
	size_t lk_len;			/* and length */
	int lk_resuming;		/* its handler runs with the answer */
	struct ipc_lookup_facts *lk_facts;	/* L_FACTS, or "unavailable" */
	int lk_counted;			/* L_COUNTED: 1, 0, -1 */
	int lk_counted_set;
};

struct monitor {
	struct config *cfg;
	struct hostkey *key;
	struct policy_backend backend;	/* the file's; with Redis, lookup.c */
	struct replay_set *replay;	/* session ids signed (replay.h) */
	char instance[17];		/* this replica, in shared counts */
	int *listen_fds;
	size_t nlisten;
	struct worker *workers;
	size_t nworkers;
	int sigpipe[2];
	uint64_t next_conn_id;
	int debug;
	uint32_t init_flags;		/* IPC_INIT_CHROOT | IPC_INIT_SETUID */
	uid_t worker_uid;
	gid_t worker_gid;
	uid_t lookup_uid;		/* workers.lookup_user, or the above */
	gid_t lookup_gid;
	volatile int quit;
	const char *default_worker;	/* the compiled-in worker path */
	int reload;			/* SIGHUP seen */
	int draining;			/* SIGTERM seen: no new connections */
	int drain_signalled;		/* remaining workers told to stop */
	int ready_sent;			/* READY=1 told to the service manager */
	int metrics_fd;			/* metrics_listen socket, or -1 */
	struct timespec drain_deadline;
	/* Refused connections, kept until the client has read why. */
	struct lingering {
		int fd;
		struct timespec until;
	} linger[MON_MAX_LINGER];
	size_t nlinger;
	/* Connections waiting for the replicas' shared per-source count
	 * (admission.c), before a worker is chosen. */
	struct admit_wait {
		int fd;				/* -1: slot free */
		size_t li;			/* its listener */
		uint64_t conn_id;
		char peer[IPC_MAX_NAME];
		uint8_t src[16];
		size_t srclen;
		char source[40], member[48];	/* its entry in Redis */
	} admit[MON_MAX_ADMIT_WAIT];
	uint64_t loop_max_us;		/* longest pass away from poll() */
};

/* metrics.c: Prometheus text, counted from the audit records */
#define METRICS_MAX_TEXT	16384	/* a whole response */
#define MON_LOOKUP_SCRAPE_BURST	64	/* L_SCRAPE a second, at most */
struct audit_field;
struct registry_stats;
struct metrics_gauges {
	unsigned long long idle, starting, serving;	/* workers, by state */
	unsigned long long routed;	/* connections relaying */
	unsigned long long unauth;	/* not yet authenticated */
};
/* The audit hook: counts the records that are metrics. */
void metrics_observe(const char *event, const struct audit_field *f,
    size_t n);
void metrics_reset(void);	/* every counter back to 0 */
void metrics_gauges(const struct monitor *m, struct metrics_gauges *g);
/* The metrics as Prometheus text, appended to b; reg NULL without a
 * Redis registry.  Check buf_ok(b) after. */
void metrics_render(struct buf *b, const struct metrics_gauges *g,
    const struct registry_stats *reg, uint64_t loop_max_us);

/* metrics_http.c: the metrics_listen socket */
int metrics_open(struct monitor *m);
void metrics_close(struct monitor *m);

/* notify.c: the sd_notify protocol, for systemd's Type=notify */
void notify_init(void);
void notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));


/* monitor.c: the event loop */
int monitor_run(struct monitor *m);

/* pool.c: the workers */
const char *wstate_name(enum wstate s);
int worker_set_state(struct monitor *m, struct worker *w, enum wstate to);
/* Has the worker's process ended (a zombie not yet reaped)?  Looks
 * without reaping it. */
int worker_exited(const struct worker *w);
void worker_closed(struct worker *w);
void worker_kill(struct monitor *m, struct worker *w, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int worker_send(struct monitor *m, struct worker *w, const struct buf *b,
    const int *fds, int nfds);
/* Start workers until workers.prefork spare ones are starting or idle. */
void refill_pool(struct monitor *m);
/* Stop the idle workers (a reload, a drain): new ones get the new
 * settings. */
void retire_idle(struct monitor *m);
/* Collect every worker that ended, and say how. */
void reap_workers(struct monitor *m);
/* Tell systemd the pool is ready, once. */
void notify_ready(struct monitor *m);
/* Start one worker (fork+exec); NULL if it cannot be started. */
struct worker *worker_spawn(struct monitor *m);
/* fork+exec of a worker or the lookup process; pool.c */
int spawn_unprivileged(const struct monitor *m, const char *path,
    char *argv0, int ipc_fd, int ipc_no, int extra_fd, int extra_no,
    pid_t *pid);
/* An idle worker for a new client, or NULL. */
struct worker *take_idle(struct monitor *m);
/* Workers not serving a client: starting or idle. */
size_t count_spare(const struct monitor *m);

/* admission.c: listeners, limits, the hand-over */
int monitor_listen_one(const struct cfg_listen *l, int *out);
int open_listeners(struct monitor *m);
int monitor_send_client(struct monitor *m, struct worker *w, int fd);
void monitor_linger(struct monitor *m, int fd);
/* per_source_max_startups across replicas, with a Redis registry: 1
 * when the shared count is asked about this source (its names, limit and
 * time to live filled), 0 when the local count alone decides.  Released
 * once authenticated or ended. */
int monitor_shared_question(const struct monitor *m, uint64_t conn_id,
    const uint8_t *src, size_t srclen, char source[40], char member[48],
    int *limit, int *ttl_ms);
void monitor_shared_release(struct monitor *m, struct worker *w);
void admission_close_waiting(struct monitor *m);
const char *monitor_source_refusal(const struct monitor *m,
    const struct worker *self, const uint8_t *src, size_t srclen);
size_t monitor_source_key(const struct sockaddr_storage *ss,
    uint8_t key[16]);
void monitor_format_peer(const struct sockaddr_storage *ss, char *out,
    size_t outsz);
/* The shared count for admission slot i: 1 counted, 0 refused, -1 no
 * answer (lookup.c). */
void admission_counted(struct monitor *m, int i, int result);
/* Accept on listener li: refuse, or hand to an idle worker. */
void accept_one(struct monitor *m, size_t li);
/* A refused client being told why: fd readable, or -1 to expire the
 * lingering ones. */
void service_linger(struct monitor *m, int fd);

/* lookup.c: the registry client process, connect-sshd-lookup */
struct lookup_question {
	const char *ssh_user;
	const uint8_t *key;		/* NULL: no key */
	size_t key_len;
	const uint8_t *ca;		/* NULL: no CA question */
	size_t ca_len;
	int claim;			/* claim w's session id across replicas */
	uint32_t claim_ttl_ms;
};
int lookup_enabled(const struct monitor *m);
int lookup_runs(const struct monitor *m);
int lookup_path(const struct config *cfg, char *out, size_t outsz);
int lookup_start(struct monitor *m);
int lookup_restart(struct monitor *m);
void lookup_stop(struct monitor *m);
void lookup_kill(struct monitor *m, const char *why);
/* 1 if pid was the lookup process (reap_workers). */
int lookup_reaped(struct monitor *m, pid_t pid, int status);
/*
 * The registry's answers to q for w's request: 0 with *facts (which may
 * say "could not answer" throughout), or 1: the question is sent and the
 * request parked; the handler returns 0 without answering and runs again
 * with the answer (dispatch_lookup_answer).
 */
int lookup_access(struct monitor *m, struct worker *w,
    const struct lookup_question *q, const struct ipc_lookup_facts **facts);
/* Count a startup across replicas for w's request (parked: 0 sent, -1
 * not) or for admission slot admit (w NULL). */
int lookup_startup(struct monitor *m, struct worker *w, int admit,
    const char *source, const char *member, int limit, int ttl_ms);
void lookup_release(struct monitor *m, const char *source,
    const char *member);
void lookup_forget(struct worker *w, int admit);
int lookup_fd(void);
void lookup_readable(struct monitor *m);
void lookup_tick(struct monitor *m);
long long lookup_next_ms(const struct monitor *m);
/* The registry client's counters as last reported, or NULL. */
const struct registry_stats *lookup_stats(void);

/* reload.c */
/* SIGHUP: 0 if the configuration was reloaded, -1 if it was refused and
 * nothing changed. */
int monitor_reload(struct monitor *m);
/* The policy backend cfg asks for, in m->backend; -1 if out of memory. */
int monitor_set_backend(struct monitor *m, struct config *cfg);
void monitor_free_backend(struct monitor *m);
void monitor_log_backend(const struct monitor *m);

/* channels.c: the channels a worker reported, for their audit records */
struct wchan;
int channels_report(struct monitor *m, struct worker *w,
    const struct ipc_audit *a);
/* Write the close records of the channels a dead worker left open. */
void channels_worker_ended(struct worker *w);

/* dispatch.c */
void dispatch_worker_msg(struct monitor *m, struct worker *w);
/* A worker that has ended: the audit and log records it sent before. */
void dispatch_drain(struct monitor *m, struct worker *w);
/* Log how many W_LOG lines were dropped, once their second is over
 * (NOW_S another second) or the worker ended (NOW_S 0). */
void dispatch_log_dropped(struct worker *w, uint64_t now_s);
void dispatch_route_done(struct monitor *m, struct worker *w, int err);
/* The lookup process answered w's parked request (f NULL: it could not):
 * the request runs again. */
void dispatch_lookup_answer(struct monitor *m, struct worker *w,
    const struct ipc_lookup_facts *f);
void dispatch_lookup_counted(struct monitor *m, struct worker *w,
    int result);
/* A worker that ended with a request parked. */
void dispatch_forget(struct worker *w);

/* hostkey.c: the gateway key */
struct hostkey *hostkey_load(const char *path, const char *pin, char *err,
    size_t errsz);
void hostkey_free(struct hostkey *k);
const uint8_t *hostkey_blob(const struct hostkey *k, size_t *len);
const char *hostkey_fingerprint(const struct hostkey *k);
const char *hostkey_comment(const struct hostkey *k);
/* Ed25519 signature over data: 0, or -1. */
int hostkey_sign(const struct hostkey *k, const uint8_t *data, size_t len,
    uint8_t sig[64]);

/* userauth.c: what a client signed */
struct userauth_req {
	const uint8_t *session_id;
	size_t session_id_len;
	char user[IPC_MAX_NAME];
	char algo[64];
	const uint8_t *key_blob;
	size_t key_blob_len;
	/* Method "publickey-hostbound-v00@openssh.com" (OpenSSH's
	 * PROTOCOL, 2.5; libssh >= 0.12 offers and uses it): the signed data
	 * ends with the blob of the host key the signer was talking to. */
	int hostbound;
	const uint8_t *server_key_blob;	/* hostbound only */
	size_t server_key_blob_len;
};
/* Parse the data of a publickey (or publickey-hostbound-v00) userauth
 * signature: 0, or -1 + *why. */
int userauth_parse(const uint8_t *data, size_t len, struct userauth_req *r,
    const char **why);
/* Is algo a signature algorithm we accept for this key blob: 0 or -1. */
int userauth_algo_ok(const char *algo, const uint8_t *blob, size_t len);
/* 1 valid, 0 invalid, -1 a key or algorithm the table of keytypes.h
 * refuses (rsa_min_bits: limits.rsa_min_bits), checked before any
 * arithmetic. */
int userauth_verify(const char *algo, const uint8_t *blob, size_t bloblen,
    const uint8_t *sig, size_t siglen, const uint8_t *data, size_t datalen,
    unsigned rsa_min_bits);

/* userauth.c: one ssh-agent request, parsed without acting on it */
#define AGENTC_REQUEST_IDENTITIES	11
#define AGENT_IDENTITIES_ANSWER		12
#define AGENTC_SIGN_REQUEST		13
#define AGENT_SIGN_RESPONSE		14
struct agent_req {
	uint8_t type;			/* AGENTC_* */
	const uint8_t *key_blob;	/* SIGN_REQUEST: the key to sign with */
	size_t key_blob_len;
	const uint8_t *data;		/* ... what to sign */
	size_t data_len;
	uint32_t flags;
	struct userauth_req ua;		/* ... data, parsed */
};
/* 0, or -1 and *why: not one of the two requests, malformed, or data
 * that is not a publickey userauth request. */
int agent_parse(const uint8_t *msg, size_t len, struct agent_req *r,
    const char **why);

/* agent.c: the monitor as the worker's ssh-agent */
void agent_readable(struct monitor *m, struct worker *w);

/* upstream.c */
int upstream_connect(const char *host, const char *port, int *fd);
int upstream_finish(int fd);

#endif
