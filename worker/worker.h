/*
 * worker.h - the sandboxed per-connection process: shared declarations.
 */
#ifndef CSSHD_WORKER_H
#define CSSHD_WORKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <libssh/libssh.h>

#include "ipc.h"
#include "log.h"

/* main.c: set by SIGTERM, the monitor's "stop" at the end of a drain. */
extern volatile sig_atomic_t worker_stopping;

/*
 * The worker's memory bounds -- RLIMIT_DATA (sandbox.c) and the relay's
 * own (relay.c) -- are divided by this.  The test build
 * (connect-sshd-worker-test, never installed) has them at a quarter, so
 * that limits.sh reaches them with a quarter of the channels and data
 * (the Studio's sshd, serving every flooded channel per packet, spent
 * 12 s of CPU on the full-size upward flood), with the same margins.
 */
#ifdef CSSHD_TEST_HOOKS
#define WORKER_MEM_SCALE	4
#else
#define WORKER_MEM_SCALE	1
#endif

#define STOPPING_MSG	"The gateway is shutting down; reconnect to continue"
#define REGISTRY_MSG	"Registry unavailable: the gateway cannot check " \
			"logins right now; try again shortly"

/* Start-up settings from the monitor, kept for the connection's life. */
struct wsettings {
	struct ipc_init init;
	uint8_t hostkey_blob[IPC_MAX_BLOB];
	size_t hostkey_blob_len;
};

/* mm.c: stubs that stand in for what only the monitor may do */
void mm_set_socket(int sock);
int mm_recv_init(struct wsettings *ws);
int mm_ready(void);
int mm_recv_client(struct ipc_client *cl, int *fd);
int mm_proxy(const struct ipc_proxy *p);
void mm_log_sink(enum log_level level, const char *line);
int mm_sign(const uint8_t *hash, size_t len, uint8_t *sig, size_t *siglen);
int mm_key_query(const char *user, const uint8_t *blob, size_t len);
void mm_refused(const char *user, size_t userlen, unsigned reason,
    const char *key_fp);
int mm_verify(const uint8_t *sig, size_t siglen, const uint8_t *data,
    size_t len);
/* Was the last signature the monitor checked accepted (1), refused (0),
 * or none checked yet (-1)?  Reset by mm_verify_reset(). */
int mm_verify_result(void);
void mm_verify_reset(void);
/*
 * Ask for the route, sending the public key blob of the Studio login key.
 * 0 routed: *upstream_fd set, and either *agent_fd (upstream_auth "key";
 * *cert_len 0) or the certificate in cert (*agent_fd -1); 1 refused (msg
 * set).
 */
int mm_route(const uint8_t *key_blob, size_t key_blob_len,
    struct ipc_route *r, int *upstream_fd, int *agent_fd, uint8_t *cert,
    size_t certsz, size_t *cert_len, char *msg, size_t msgsz);
void mm_audit(const struct ipc_audit *a);
void mm_kex(unsigned leg, const char *kex, const char *cipher,
    const char *mac);

/* sandbox.c */
void sandbox_enter(const struct ipc_init *in);

/* session.c */
int session_prepare(const struct wsettings *ws);
int session_serve(int fd, const struct ipc_client *cl);

/* relay.c */
struct relay;
/* studio: the session id, told to the client; name: "s1 (addr:port)",
 * for logs; in: the forwarding flags, idle and keepalive settings. */
struct relay *relay_new(ssh_session down, ssh_session up,
    const char *studio, const char *name, const struct ipc_init *in);
void relay_free(struct relay *r);
/* A session channel already being opened on the Studio, sent with the
 * login (session.c): the client's first session channel takes it. */
void relay_set_spare(struct relay *r, ssh_channel spare);
/* While the Studio login's answer is out: wait(ctx) waits for it, 0 if
 * it is a success; the relay calls it before asking the Studio anything. */
void relay_set_login_wait(struct relay *r, int (*wait)(void *), void *ctx);
/* The client asked for a session channel: open one on the Studio. */
ssh_channel relay_open_session(struct relay *r);
/* Run until the client or the Studio goes away; 0 or -1. */
int relay_run(struct relay *r);
/* What to tell the client about why the relay ended, or NULL. */
const char *relay_end_message(const struct relay *r);
/* The client's connection ended (logged as such): 1, else 0. */
int relay_client_left(struct relay *r);
/* ssh_disconnect() freed the client side's channels: forget them. */
void relay_client_disconnected(struct relay *r);

#ifdef CSSHD_TEST_HOOKS
/* Test build only: misbehave on request (see tests/integration). */
void testhook_user(const char *user);
/* Set for a user "testhook-unbounded": the relay ignores its own bounds
 * on what it holds (relay.c), so that RLIMIT_DATA is reached. */
extern int testhook_unbounded;
/* Set for a user "testhook-unanswered": the Studio's answer to the open
 * of the channel sent with the login is seen only 2 s after the relay
 * gave up waiting for it (relay.c, spare_answer()). */
extern int testhook_unanswered;
#endif

#endif
