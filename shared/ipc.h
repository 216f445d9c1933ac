/*
 * ipc.h - the monitor <-> worker protocol.
 *
 * Transport: one AF_UNIX SOCK_SEQPACKET socketpair per worker.  One datagram
 * is one message: a u16 type followed by the body; file descriptors ride
 * along with SCM_RIGHTS.  IPC_MAX_MSG bounds a message on both ends; a
 * receiver that sees a truncated datagram (MSG_TRUNC/MSG_CTRUNC), more fds
 * than the type carries, or a body that does not decode exactly (short, or
 * bytes left over) treats the peer as hostile.
 *
 * Every type has a struct, and an encoder and decoder side by side in
 * ipc.c.  Strings inside decoded structs are copied into fixed arrays (C
 * strings, NUL-free) or point into the received datagram (byte strings);
 * those pointers live as long as the receive buffer.
 *
 * Who may send what, and when, is in man/connect-sshd-ipc.7 and, for the
 * monitor side, in the dispatch table in monitor/dispatch.c.
 */
#ifndef CSSHD_IPC_H
#define CSSHD_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define IPC_PROTO_VERSION	1
#define IPC_MAX_MSG		16384	/* one datagram, header included */
#define IPC_MAX_FDS		2
#define IPC_WORKER_FD		3	/* where a worker finds its IPC socket */

/* Field bounds, shared by encoder and decoder. */
#define IPC_MAX_NAME		128	/* user names, session ids, algorithms */
#define IPC_MAX_TEXT		1024	/* log lines, commands, messages */
#define IPC_MAX_FP		64	/* a key fingerprint, "SHA256:..." */
#define IPC_MAX_PATH		256
#define IPC_MAX_BLOB		2048	/* key blobs, signatures */
#define IPC_MAX_HASH		64	/* exchange hashes */
#define IPC_MAX_SIGNED		4096	/* userauth data a client signed */

enum ipc_type {
	IPC_NONE = 0,
	/* monitor -> worker */
	IPC_M_INIT,		/* start-up settings, host public key */
	IPC_M_CLIENT,		/* fd: the accepted client socket */
	IPC_M_SIGN_REPLY,	/* host-key signature of an exchange hash */
	IPC_M_KEY_REPLY,	/* is this key acceptable for this login */
	IPC_M_VERIFY_REPLY,	/* was this userauth signature good */
	IPC_M_ROUTE,		/* fds: upstream TCP socket, agent socket
				 * (upstream_auth "key") */
	IPC_M_ROUTE_FAIL,	/* no route: a message for the client */
	/* worker -> monitor */
	IPC_W_READY,		/* sandboxed, waiting for a client */
	IPC_W_LOG,		/* a log line */
	IPC_W_SIGN,		/* sign this exchange hash with the host key */
	IPC_W_KEY_QUERY,	/* may <user> log in with <key>? */
	IPC_W_VERIFY,		/* check this userauth signature */
	IPC_W_ROUTE,		/* connect me to my Studio; my login key */
	IPC_W_AUDIT,		/* a channel event for the audit log */
	/* (added later; kept last so that the numbers above stay) */
	IPC_M_PROXY_REPLY,	/* go on with this proxied client, or refuse */
	IPC_W_PROXY,		/* the PROXY header named this client */
	IPC_M_ROUTE_CERT,	/* fd: upstream TCP socket; the certificate */
	IPC_W_REFUSED,		/* I refused a key or signature myself */
	IPC_W_KEX,		/* what a leg's key exchange negotiated */
	/* monitor <-> lookup process (connect-sshd-lookup(8)) */
	IPC_L_INIT,		/* M->L: the registry's settings */
	IPC_L_READY,		/* L->M: sandboxed, answering */
	IPC_L_ACCESS,		/* M->L: the facts for one login decision */
	IPC_L_FACTS,		/* L->M: ... those facts */
	IPC_L_STARTUP,		/* M->L: count (or release) a startup */
	IPC_L_COUNTED,		/* L->M: ... counted, refused, or no answer */
	IPC_L_LOG,		/* L->M: a log line (struct ipc_log) */
	IPC_L_SCRAPE,		/* L->M: a scraper connected to metrics_listen */
	IPC_L_METRICS,		/* M->L: ... the metrics for it */
	IPC_TYPE_MAX
};

const char *ipc_type_name(unsigned type);

/* IPC_M_INIT flags */
#define IPC_INIT_CHROOT		0x1	/* chroot into chroot_dir */
#define IPC_INIT_SETUID		0x2	/* drop to uid/gid */
#define IPC_INIT_FWD_LOCAL	0x4	/* relay direct-tcpip (ssh -L, -D) */
#define IPC_INIT_FWD_REMOTE	0x8	/* relay tcpip-forward (ssh -R) */
#define IPC_INIT_FWD_AGENT	0x10	/* relay agent forwarding (ssh -A) */

struct ipc_init {
	uint32_t version;
	uint32_t log_level;
	uint32_t flags;
	uint32_t uid;
	uint32_t gid;
	uint32_t login_grace_time;	/* seconds */
	uint32_t upstream_timeout;	/* seconds */
	uint32_t idle_timeout;		/* seconds; 0 off */
	uint32_t keepalive_interval;	/* seconds; 0 off */
	uint32_t keepalive_count_max;
	uint32_t max_auth_tries;	/* failed attempts before disconnect */
	char chroot_dir[IPC_MAX_PATH];
	char kex[IPC_MAX_TEXT];		/* algorithm lists, "a,b,c" */
	char ciphers[IPC_MAX_TEXT];
	char macs[IPC_MAX_TEXT];
	const uint8_t *hostkey_blob;	/* SSH public key blob */
	size_t hostkey_blob_len;
};

/* IPC_M_CLIENT flags */
#define IPC_CLIENT_PROXY	0x1	/* a PROXY header comes first */

struct ipc_client {
	uint64_t conn_id;
	char peer[IPC_MAX_NAME];	/* "addr:port", for the worker's logs */
	uint32_t flags;
	uint32_t proxy_timeout;		/* seconds, with IPC_CLIENT_PROXY */
};

/* IPC_W_PROXY status */
enum ipc_proxy_status {
	IPC_PROXY_CLIENT = 1,	/* src is the client */
	IPC_PROXY_LOCAL,	/* the balancer's own connection (LOCAL/UNKNOWN) */
	IPC_PROXY_BAD,		/* no valid header: why says what was wrong */
	IPC_PROXY_TIMEOUT,	/* no header within proxy_timeout */
	IPC_PROXY_MAX
};

struct ipc_proxy {
	uint32_t status;
	uint32_t family;		/* 4 or 6, with IPC_PROXY_CLIENT */
	uint8_t addr[16];		/* 4 or 16 bytes */
	uint16_t port;
	char why[IPC_MAX_NAME];		/* with IPC_PROXY_BAD */
};

struct ipc_bytes {		/* IPC_M_SIGN_REPLY, IPC_W_SIGN */
	const uint8_t *data;
	size_t len;
};

struct ipc_flag {		/* IPC_M_KEY_REPLY, IPC_M_VERIFY_REPLY */
	uint32_t ok;		/* IPC_FLAG_* */
};
#define IPC_FLAG_NO		0
#define IPC_FLAG_YES		1
#define IPC_FLAG_UNAVAILABLE	2	/* the registry could not answer */

struct ipc_route {
	char upstream_user[IPC_MAX_NAME];
	char host_key_pin[IPC_MAX_NAME];	/* "" for none */
	char session[IPC_MAX_NAME];
};

/* IPC_W_ROUTE: the public half of the key the worker made for its Studio
 * login (an Ed25519 public key blob; its meaning is checked by the
 * monitor, which certifies it when the Studio uses certificates). */
struct ipc_route_req {
	const uint8_t *key_blob;
	size_t key_blob_len;
};

/* IPC_M_ROUTE_CERT (upstream_auth "certificate"): the route, and an
 * OpenSSH user certificate (ssh-ed25519-cert-v01@openssh.com blob) for
 * the worker's key; no agent socket. */
struct ipc_route_cert {
	struct ipc_route route;
	const uint8_t *cert;		/* 1..IPC_MAX_BLOB bytes */
	size_t cert_len;
};

struct ipc_text {		/* IPC_M_ROUTE_FAIL */
	char text[IPC_MAX_TEXT];
};

struct ipc_log {
	uint32_t level;
	char text[IPC_MAX_TEXT];
};

struct ipc_key_query {
	char user[IPC_MAX_NAME];	/* the SSH user name as sent */
	const uint8_t *key_blob;
	size_t key_blob_len;
};

/*
 * IPC_W_REFUSED: what the worker refused itself because the monitor could
 * not take it (a key blob over IPC_MAX_BLOB) or must not (a signature
 * algorithm the key's type does not sign with), so that the refusal is
 * audited.  No answer.  The fingerprint is the worker's word: the monitor
 * checks only its form.
 */
enum ipc_refusal {
	IPC_REFUSED_KEY_TOO_LARGE = 1,
	IPC_REFUSED_SIG_ALGORITHM,
	IPC_REFUSED_MAX
};

struct ipc_refused {
	char user[IPC_MAX_NAME];	/* the SSH user name as sent */
	uint32_t reason;		/* enum ipc_refusal */
	char key_fp[IPC_MAX_FP];	/* "SHA256:" and 43 base64 characters */
};

/*
 * IPC_W_KEX: the algorithms a leg's first key exchange negotiated, as
 * libssh names them, for the audit log.  No answer.  The monitor accepts
 * only names from its configured lists.  mac is "" with an AEAD cipher.
 */
enum ipc_kex_leg {
	IPC_KEX_CLIENT = 1,		/* the client's leg (keyed) */
	IPC_KEX_STUDIO,			/* the Studio's leg (routed) */
	IPC_KEX_MAX
};

struct ipc_kex {
	uint32_t leg;			/* enum ipc_kex_leg */
	char kex[IPC_MAX_NAME];
	char cipher[IPC_MAX_NAME];	/* client to server */
	char mac[IPC_MAX_NAME];		/* client to server; "" for AEAD */
};

struct ipc_verify {
	const uint8_t *sig;		/* as OpenSSL verifies it */
	size_t sig_len;
	const uint8_t *data;		/* exactly what the client signed */
	size_t data_len;
};

enum ipc_audit_event {
	IPC_AUDIT_CHANNEL_OPEN = 1,
	IPC_AUDIT_REQUEST,		/* exec, shell, subsystem, ... */
	IPC_AUDIT_CHANNEL_CLOSE,
	/* Bytes so far on an open channel, about once a second while
	 * they change: not logged; what the monitor reports for a channel
	 * whose worker dies before closing it. */
	IPC_AUDIT_CHANNEL_PROGRESS,
	/* The Studio refused the gateway's login (kind: "certificate" or
	 * "key", detail: libssh's error); once, then the worker exits. */
	IPC_AUDIT_UPSTREAM_REFUSED,
	IPC_AUDIT_MAX
};

/* How a channel ended (IPC_AUDIT_CHANNEL_CLOSE only; 0 otherwise). */
enum ipc_channel_end {
	IPC_END_NONE = 0,
	IPC_END_CLOSED,			/* closed by the client or the Studio */
	IPC_END_CONNECTION,		/* its connection ended with it open */
	IPC_END_MAX
};

/* Channels one connection may have open at once (worker and monitor). */
#define IPC_MAX_CHANNELS	128

struct ipc_audit {
	uint32_t event;
	uint32_t channel;
	char kind[IPC_MAX_NAME];	/* channel type or request name */
	char request[IPC_MAX_NAME];	/* close: "pty shell", "exec", ... */
	char detail[IPC_MAX_TEXT];	/* command, subsystem, target */
	uint64_t duration_ms;		/* close: how long the channel lived */
	uint64_t bytes_in;		/* client -> Studio */
	uint64_t bytes_out;		/* Studio -> client */
	int32_t exit_status;		/* -1: none */
	char exit_signal[IPC_MAX_NAME];
	uint32_t end;			/* enum ipc_channel_end */
};

/* ---- the lookup process (connect-sshd-lookup(8)) ---- */

/* Where the lookup process finds its IPC socket, as a worker does. */
#define IPC_LOOKUP_FD		IPC_WORKER_FD
#define IPC_LOOKUP_METRICS_FD	(IPC_LOOKUP_FD + 1)	/* the listener */
#define IPC_LOOKUP_MAX_USERS	128	/* a Studio's "users" list */
#define IPC_LOOKUP_USER		65	/* POLICY_MAX_USER + 1 */
#define IPC_LOOKUP_HOST		256	/* a Redis address or DNS name */
#define IPC_LOOKUP_SECRET	512	/* CFG_REDIS_MAX_SECRET */

/* IPC_L_INIT flags */
#define IPC_LOOKUP_SETUID	0x1	/* drop to uid/gid */
#define IPC_LOOKUP_ENABLED	0x2	/* the config's enabled switch */
#define IPC_LOOKUP_REDIS	0x4	/* the Redis registry: answer L_ACCESS */
#define IPC_LOOKUP_METRICS	0x8	/* metrics_listen on IPC_LOOKUP_METRICS_FD */

struct ipc_lookup_init {
	uint32_t version;
	uint32_t log_level;
	uint32_t log_format;
	uint32_t flags;
	uint32_t uid;
	uint32_t gid;
	char host[IPC_LOOKUP_HOST];
	char port[8];
	uint32_t db;
	char user[IPC_MAX_NAME];	/* "" : Redis's default user */
	char password[IPC_LOOKUP_SECRET];	/* "" : none */
	char prefix[IPC_MAX_NAME];
	uint32_t timeout_ms;
	uint32_t cache_ttl;		/* seconds */
	uint32_t rsa_min_bits;
};

/*
 * IPC_L_ACCESS: one login decision's questions.  The lookup process runs
 * the policy's fixed order (policy_check) over the registry for ssh_user
 * and key (none: everything but the key), then, with a CA blob, asks
 * whether that CA's certificates log users in, then, with a session id,
 * claims it across replicas.  It answers with what the registry said
 * (IPC_L_FACTS); the monitor runs the decision itself over those answers.
 */
struct ipc_lookup_access {
	uint64_t id;			/* echoed in the answer */
	char ssh_user[IPC_MAX_NAME];
	const uint8_t *key_blob;	/* 0 bytes: no key */
	size_t key_blob_len;
	const uint8_t *ca_blob;		/* 0 bytes: no CA question */
	size_t ca_blob_len;
	const uint8_t *claim_id;	/* 0 bytes: no claim */
	size_t claim_id_len;
	uint32_t claim_ttl_ms;
};

/* An answer the registry did not give: the question was not asked. */
#define IPC_FACT_UNASKED	(-3)

/* What the registry answered (policy_backend's conventions: 1/0 yes/no,
 * -1 could not answer, -2 POLICY_BAD_RECORD; find_studio 0 found, 1 not),
 * and the registry client's counters for the metrics. */
struct ipc_lookup_facts {
	uint64_t id;
	int32_t enabled;
	int32_t studio;			/* find_studio's answer */
	/* with studio == 0: the record */
	int64_t workspace;
	char upstream_host[64];
	char upstream_port[8];
	char upstream_user[IPC_MAX_NAME];	/* "": the client's name */
	char host_key_pin[IPC_MAX_NAME];	/* "": not pinned */
	uint32_t upstream_auth;
	uint32_t users_set;
	uint32_t nusers;
	char users[IPC_LOOKUP_MAX_USERS][IPC_LOOKUP_USER];
	int32_t workspace_allowed;
	int32_t user_exists;		/* user_key's answer */
	uint32_t has_key;
	int32_t member;
	int32_t ca;			/* user_ca's answer */
	int32_t claimed;		/* 1 claimed, 0 taken, -1 no answer */
	/* registry_stats */
	uint64_t st_requests, st_errors, st_cache_hits, st_bad_records;
	uint64_t st_latency_us;
	uint64_t st_latency_le[8];
	uint32_t st_up;
};

/* IPC_L_STARTUP: per_source_max_startups across replicas. */
struct ipc_lookup_startup {
	uint64_t id;
	uint32_t release;		/* 1: stop counting member */
	char source[IPC_MAX_NAME];
	char member[IPC_MAX_NAME];
	uint32_t limit;
	uint32_t ttl_ms;
};

/* IPC_L_COUNTED: 1 counted, 0 refused, -1 no answer. */
struct ipc_lookup_counted {
	uint64_t id;
	int32_t result;
};

/* IPC_L_SCRAPE: a scraper is waiting; IPC_L_METRICS: its metrics, the
 * body of the HTTP response (the lookup process adds the head). */
#define IPC_MAX_METRICS		(IPC_MAX_MSG - 16)
struct ipc_lookup_scrape {
	uint64_t id;
};

struct ipc_lookup_metrics {
	uint64_t id;
	const uint8_t *text;		/* points into the message */
	size_t text_len;
};

/*
 * Encoders fill a caller-owned struct buf (initialised with IPC_MAX_MSG)
 * with a complete message; they return 0, or -1 when a field is over its
 * bound.  Decoders take the body after the type and return 0, or -1 on any
 * malformation.
 */
int ipc_enc_init(struct buf *b, const struct ipc_init *m);
int ipc_dec_init(struct cursor *c, struct ipc_init *m);
int ipc_enc_client(struct buf *b, const struct ipc_client *m);
int ipc_dec_client(struct cursor *c, struct ipc_client *m);
int ipc_enc_bytes(struct buf *b, unsigned type, const struct ipc_bytes *m,
    size_t max);
int ipc_dec_bytes(struct cursor *c, struct ipc_bytes *m, size_t max);
int ipc_enc_flag(struct buf *b, unsigned type, const struct ipc_flag *m);
int ipc_dec_flag(struct cursor *c, struct ipc_flag *m);
int ipc_enc_route(struct buf *b, const struct ipc_route *m);
int ipc_dec_route(struct cursor *c, struct ipc_route *m);
int ipc_enc_route_req(struct buf *b, const struct ipc_route_req *m);
int ipc_dec_route_req(struct cursor *c, struct ipc_route_req *m);
int ipc_enc_route_cert(struct buf *b, const struct ipc_route_cert *m);
int ipc_dec_route_cert(struct cursor *c, struct ipc_route_cert *m);
int ipc_enc_text(struct buf *b, unsigned type, const struct ipc_text *m);
int ipc_dec_text(struct cursor *c, struct ipc_text *m);
int ipc_enc_log(struct buf *b, const struct ipc_log *m);
int ipc_dec_log(struct cursor *c, struct ipc_log *m);
int ipc_enc_lookup_log(struct buf *b, const struct ipc_log *m);
int ipc_enc_key_query(struct buf *b, const struct ipc_key_query *m);
int ipc_dec_key_query(struct cursor *c, struct ipc_key_query *m);
int ipc_enc_verify(struct buf *b, const struct ipc_verify *m);
int ipc_dec_verify(struct cursor *c, struct ipc_verify *m);
int ipc_enc_refused(struct buf *b, const struct ipc_refused *m);
int ipc_dec_refused(struct cursor *c, struct ipc_refused *m);
int ipc_enc_kex(struct buf *b, const struct ipc_kex *m);
int ipc_dec_kex(struct cursor *c, struct ipc_kex *m);
int ipc_enc_audit(struct buf *b, const struct ipc_audit *m);
int ipc_dec_audit(struct cursor *c, struct ipc_audit *m);
int ipc_enc_proxy(struct buf *b, const struct ipc_proxy *m);
int ipc_dec_proxy(struct cursor *c, struct ipc_proxy *m);
int ipc_dec_audit(struct cursor *c, struct ipc_audit *m);
int ipc_enc_lookup_init(struct buf *b, const struct ipc_lookup_init *m);
int ipc_dec_lookup_init(struct cursor *c, struct ipc_lookup_init *m);
int ipc_enc_lookup_access(struct buf *b, const struct ipc_lookup_access *m);
int ipc_dec_lookup_access(struct cursor *c, struct ipc_lookup_access *m);
int ipc_enc_lookup_facts(struct buf *b, const struct ipc_lookup_facts *m);
int ipc_dec_lookup_facts(struct cursor *c, struct ipc_lookup_facts *m);
int ipc_enc_lookup_startup(struct buf *b, const struct ipc_lookup_startup *m);
int ipc_dec_lookup_startup(struct cursor *c, struct ipc_lookup_startup *m);
int ipc_enc_lookup_counted(struct buf *b, const struct ipc_lookup_counted *m);
int ipc_dec_lookup_counted(struct cursor *c, struct ipc_lookup_counted *m);
int ipc_enc_lookup_scrape(struct buf *b, const struct ipc_lookup_scrape *m);
int ipc_dec_lookup_scrape(struct cursor *c, struct ipc_lookup_scrape *m);
int ipc_enc_lookup_metrics(struct buf *b, const struct ipc_lookup_metrics *m);
int ipc_dec_lookup_metrics(struct cursor *c, struct ipc_lookup_metrics *m);
/* A message with no body (IPC_W_READY, IPC_L_READY). */
int ipc_enc_empty(struct buf *b, unsigned type);

/* How many fds each type must carry (exactly). */
int ipc_type_nfds(unsigned type);

/*
 * Transport.  ipc_send sends one encoded message with nfds fds (which the
 * caller still owns).  ipc_recv receives one datagram into msg (of
 * IPC_MAX_MSG bytes).  It returns the datagram's length (>= 2: the body is
 * msg + 2, of length - 2 bytes), sets *type, and stores received fds in
 * fds[] (count in *nfds; unused slots -1).  Returns 0 on EOF, and -1 on a
 * transport error or, with errno EPROTO, a malformed datagram: truncated,
 * too short, unknown type, or fds the type does not carry exactly -- in
 * which case any fds received have already been closed.
 */
int ipc_send(int sock, const struct buf *b, const int *fds, int nfds);
long ipc_recv(int sock, uint8_t *msg, unsigned *type, int *fds, int *nfds);

#endif
