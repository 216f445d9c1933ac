/*
 * session.c - one client connection: key exchange, user authentication
 * decided by the monitor, the upstream connection to the Studio.
 *
 * The host key the worker's libssh holds is a stub: its private "seed" is
 * the public key, so nothing secret is here to steal.  Signatures with the
 * host key and checks of the client's signatures go through the provider
 * (provider.c) to the monitor (mm.c).
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "buf.h"
#include "clock.h"
#include "ipc.h"
#include "keytypes.h"
#include "log.h"
#include "provider.h"
#include "proxy.h"
#include "sshwire.h"
#include "worker.h"

#define STUB_MAX	1024
#define DISCONNECT_WAIT_MS	2000

/* The algorithm lists come from the monitor (config "algorithms", safe
 * names only).  No DH group exchange: its moduli file cannot be read in
 * the sandbox.  The gateway key is Ed25519 (its own key, not a choice
 * among the table's types); Studios may have any host key of the table
 * (keytype_hostkey_algorithms()). */
#define UP_HOSTKEYS_MAX	256

/*
 * The software version the client reads ("SSH-2.0-" and this): OpenSSH,
 * with no version number.  Clients key behaviour on this string: the
 * session, sftp and scp behind the gateway are the Studio's OpenSSH, so
 * they should see what they would see directly (asyncssh and Node ssh2
 * order SSH_FXP_SYMLINK's arguments as OpenSSH's sftp-server wants only
 * for "OpenSSH"; OpenSSH's ssh sends no-more-sessions@openssh.com only to
 * servers it recognises as OpenSSH).  OpenSSH's compat.c matches it with
 * "OpenSSH*" alone, which sets SSH_NEW_OPENSSH and no old-bug workaround
 * (those patterns all start "OpenSSH_<digit>").  libssh's default,
 * "libssh_0.12.2", would tell every scanner which library, and which
 * version of it, to look up.  See VERSION STRING in connect-sshd(8).
 */
#define SERVER_SOFTWARE	"OpenSSH"

/* "Studio s1 (127.0.0.1:2022)": the Studio as every upstream message
 * names it. */
#define STUDIO_LABEL_MAX	(IPC_MAX_NAME + 64)

struct conn {
	const struct wsettings *ws;
	ssh_session down;		/* the client */
	ssh_session up;			/* the Studio */
	struct relay *relay;
	char user[IPC_MAX_NAME];	/* the SSH user name, as sent */
	char studio[STUDIO_LABEL_MAX];	/* "s1 (127.0.0.1:2022)" */
	int authenticated;
	unsigned failures;		/* refused keys and signatures */
	char fatal_msg[IPC_MAX_TEXT];	/* disconnect the client with this */
	/* A certificate login whose answer is out (await_login()). */
	ssh_key login_key;
	int login_rc;			/* SSH_AUTH_AGAIN until answered */
};

static ssh_bind sshbind;
static ssh_session down_session, up_session;
static const struct wsettings *settings;

/*
 * An OpenSSH-format private key whose 32-byte seed is the public key.
 * libssh checks only the key's type and sizes, and every signature it
 * makes with it is made by the provider -- that is, by the monitor.
 */
static int
build_stub_key(const struct wsettings *ws, ssh_key *out)
{
	uint8_t pub[ED25519_PUB_LEN];
	char b64[STUB_MAX * 2], pem[STUB_MAX * 3];
	struct buf priv, key;
	uint32_t check = 0x43534844;	/* any value; both copies equal */
	uint8_t pad = 1;
	int rc = -1;

	if (sshwire_ed25519_pub(ws->hostkey_blob, ws->hostkey_blob_len,
	    pub) != 0)
		return -1;
	buf_init(&priv, STUB_MAX);
	buf_put_u32(&priv, check);
	buf_put_u32(&priv, check);
	buf_put_cstring(&priv, "ssh-ed25519");
	buf_put_string(&priv, pub, sizeof(pub));
	buf_put_u32(&priv, 64);
	buf_put(&priv, pub, sizeof(pub));	/* the "seed" */
	buf_put(&priv, pub, sizeof(pub));
	buf_put_cstring(&priv, "connect-sshd stub");
	while (priv.len % 8 != 0)
		buf_put_u8(&priv, pad++);
	buf_init(&key, STUB_MAX);
	buf_put(&key, "openssh-key-v1", 15);	/* with its NUL */
	buf_put_cstring(&key, "none");
	buf_put_cstring(&key, "none");
	buf_put_cstring(&key, "");
	buf_put_u32(&key, 1);
	buf_put_string(&key, ws->hostkey_blob, ws->hostkey_blob_len);
	buf_put_string(&key, priv.data, priv.len);
	if (buf_ok(&priv) == 0 && buf_ok(&key) == 0 &&
	    b64_encode(key.data, key.len, b64, sizeof(b64)) > 0) {
		snprintf(pem, sizeof(pem), "-----BEGIN OPENSSH PRIVATE KEY-----"
		    "\n%s\n-----END OPENSSH PRIVATE KEY-----\n", b64);
		if (ssh_pki_import_privkey_base64(pem, NULL, NULL, NULL,
		    out) == SSH_OK)
			rc = 0;
	}
	buf_free(&priv);
	buf_free(&key);
	return rc;
}

static void
libssh_log(int priority, const char *function, const char *buffer,
    void *userdata)
{
	(void)userdata;
	debug("libssh: %s: %s", function, buffer);
	(void)priority;
}

/* Everything that may touch the file system happens here, before the
 * sandbox: libssh and OpenSSL initialisation, the provider, both session
 * objects and their options. */
int
session_prepare(const struct wsettings *ws)
{
	bool no = false;
	ssh_key stub = NULL;
	char up_hostkeys[UP_HOSTKEYS_MAX];
	int verbosity = log_get_level() >= LOG_LVL_DEBUG ? SSH_LOG_PROTOCOL :
	    SSH_LOG_NOLOG;

	settings = ws;
	if (ssh_init() != SSH_OK || csshd_provider_init() != 0)
		return -1;
	csshd_provider_set_sign_hook(mm_sign);
	ssh_set_log_callback(libssh_log);
	ssh_set_log_level(verbosity);
	if (build_stub_key(ws, &stub) != 0 ||
	    keytype_hostkey_algorithms(up_hostkeys, sizeof(up_hostkeys)) != 0)
		return -1;
	if ((sshbind = ssh_bind_new()) == NULL ||
	    ssh_bind_options_set(sshbind, SSH_BIND_OPTIONS_PROCESS_CONFIG,
	    &no) != SSH_OK ||
	    ssh_bind_options_set(sshbind, SSH_BIND_OPTIONS_IMPORT_KEY,
	    stub) != SSH_OK ||
	    ssh_bind_options_set(sshbind, SSH_BIND_OPTIONS_KEY_EXCHANGE,
	    ws->init.kex) != SSH_OK ||
	    ssh_bind_options_set(sshbind, SSH_BIND_OPTIONS_CIPHERS_C_S,
	    ws->init.ciphers) != SSH_OK ||
	    ssh_bind_options_set(sshbind, SSH_BIND_OPTIONS_CIPHERS_S_C,
	    ws->init.ciphers) != SSH_OK ||
	    ssh_bind_options_set(sshbind, SSH_BIND_OPTIONS_HMAC_C_S,
	    ws->init.macs) != SSH_OK ||
	    ssh_bind_options_set(sshbind, SSH_BIND_OPTIONS_HMAC_S_C,
	    ws->init.macs) != SSH_OK ||
	    ssh_bind_options_set(sshbind, SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS,
	    "ssh-ed25519") != SSH_OK ||
	    ssh_bind_options_set(sshbind, SSH_BIND_OPTIONS_BANNER,
	    SERVER_SOFTWARE) != SSH_OK)
		return -1;
	if ((down_session = ssh_new()) == NULL ||
	    (up_session = ssh_new()) == NULL)
		return -1;
	/* Set every option whose default libssh would compute from the
	 * file system (home directory, config files).  No host name is set:
	 * without one libssh 0.10 skips reading known_hosts files when it
	 * orders host key algorithms, which the sandbox would punish; the
	 * Studio's key is checked against host_key_fingerprint instead. */
	if (ssh_options_set(up_session, SSH_OPTIONS_PROCESS_CONFIG, &no) ||
	    ssh_options_set(up_session, SSH_OPTIONS_SSH_DIR, "/nonexistent") ||
	    ssh_options_set(up_session, SSH_OPTIONS_USER, "nobody"))
		return -1;
	/* libssh >= 0.11 expands its default identity files as
	 * "%d/.ssh/id_*", %d being the home directory from getpwuid(getuid())
	 * (misc.c, ssh_get_user_home_dir()), and does so in
	 * ssh_options_apply(), which ssh_connect() calls -- inside the
	 * sandbox, where getuid and the passwd lookup are forbidden.  The
	 * session caches that directory once found.  No public call sets
	 * it; this one runs ssh_options_apply() while the known_hosts path
	 * is unset (knownhosts.c), then finds no file or no host name.  What
	 * it returns does not matter. */
	(void)ssh_session_has_known_hosts_entry(up_session);
	if (ssh_options_set(up_session, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") ||
	    ssh_options_set(up_session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
	    "/dev/null") ||
	    ssh_options_set(up_session, SSH_OPTIONS_KEY_EXCHANGE,
	    ws->init.kex) ||
	    ssh_options_set(up_session, SSH_OPTIONS_HOSTKEYS, up_hostkeys) ||
	    ssh_options_set(up_session, SSH_OPTIONS_CIPHERS_C_S,
	    ws->init.ciphers) ||
	    ssh_options_set(up_session, SSH_OPTIONS_CIPHERS_S_C,
	    ws->init.ciphers) ||
	    ssh_options_set(up_session, SSH_OPTIONS_HMAC_C_S, ws->init.macs) ||
	    ssh_options_set(up_session, SSH_OPTIONS_HMAC_S_C, ws->init.macs) ||
	    /* The Studio login key: the gateway's own, always Ed25519. */
	    ssh_options_set(up_session, SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES,
	    "ssh-ed25519-cert-v01@openssh.com,ssh-ed25519"))
		return -1;
#ifdef LIBSSH_CSSHD_KEX_AHEAD
	/* The Studio leg's sntrup761 key pair (tens of milliseconds of
	 * CPU), made now, while this worker waits in the pool, instead of
	 * on a client's login path (scripts/libssh-patches/0007).  A Studio
	 * that negotiates another exchange leaves it unused. */
	if (strstr(ws->init.kex, "sntrup761x25519") != NULL &&
	    ssh_sntrup761_keypair_ahead(up_session) != SSH_OK)
		return -1;
#endif
#ifdef LIBSSH_CSSHD_KEX_GUESS
	/* KEXINIT and the first key exchange packet go to the Studio right
	 * behind the banner, guessing that the Studio's first key exchange
	 * and host key algorithms are the first of ours (algorithms.kex,
	 * then ssh-ed25519): one Studio round trip less when they are, the
	 * same login when they are not (scripts/libssh-patches/0009). */
	if (ssh_kex_guess_ahead(up_session) != SSH_OK)
		return -1;
#endif
	/* The bind owns the stub key now (SSH_BIND_OPTIONS_IMPORT_KEY). */
	return 0;
}

/* ---- what failed, told for the operator ---- */

/*
 * libssh's reason for a failed algorithm negotiation is "kex error : no
 * match for method <what>: server [<names>], client [<names>]" (kex.c).
 * Retell it with the leg, what the peer offered, what the gateway allows
 * and the setting that says so.  up: the Studio leg, where the gateway
 * is libssh's client.  Returns 1 with out filled, or 0 for any other
 * error (out untouched).
 */
static int
explain_kex_error(const char *err, int up, char *out, size_t outsz)
{
	static const struct {
		const char *method, *what, *dir, *setting;
	} m[] = {
		{ "kex algos", "key exchange method", NULL, "algorithms.kex" },
		{ "server host key algo", "host key algorithm", NULL, NULL },
		{ "encryption client->server", "cipher", "c2s",
		    "algorithms.ciphers" },
		{ "encryption server->client", "cipher", "s2c",
		    "algorithms.ciphers" },
		{ "mac algo client->server", "MAC", "c2s", "algorithms.macs" },
		{ "mac algo server->client", "MAC", "s2c", "algorithms.macs" },
		{ "compression algo client->server", "compression", "c2s",
		    NULL },
		{ "compression algo server->client", "compression", "s2c",
		    NULL },
	};
	static const char pre[] = "kex error : no match for method ";
	const char *p, *srv, *srv_end, *cli, *cli_end, *peer, *ours, *dir;
	int ns, nc, npeer, nours;
	size_t i, n;

	if (err == NULL || strncmp(err, pre, sizeof(pre) - 1) != 0)
		return 0;
	p = err + sizeof(pre) - 1;
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		n = strlen(m[i].method);
		if (strncmp(p, m[i].method, n) == 0 &&
		    strncmp(p + n, ": server [", 10) == 0)
			break;
	}
	if (i == sizeof(m) / sizeof(m[0]))
		return 0;
	srv = p + strlen(m[i].method) + 10;
	if ((srv_end = strstr(srv, "], client [")) == NULL)
		return 0;
	cli = srv_end + 11;
	if ((cli_end = strrchr(cli, ']')) == NULL)
		return 0;
	ns = (int)(srv_end - srv);
	nc = (int)(cli_end - cli);
	/* On the client leg the gateway is the server; on the Studio leg,
	 * the client. */
	peer = up ? srv : cli;
	npeer = up ? ns : nc;
	ours = up ? cli : srv;
	nours = up ? nc : ns;
	if (m[i].dir == NULL)
		dir = "";
	else if (strcmp(m[i].dir, "c2s") == 0)
		dir = up ? " (gateway to Studio)" : " (client to gateway)";
	else
		dir = up ? " (Studio to gateway)" : " (gateway to client)";
	snprintf(out, outsz, "no common %s%s: the %s offers [%.*s], the "
	    "gateway allows [%.*s]", m[i].what, dir, up ? "Studio" : "client",
	    npeer, peer, nours, ours);
	n = strlen(out);
	if (m[i].setting != NULL)
		snprintf(out + n, outsz - n, "; to accept one the %s offers, "
		    "list it in %s (connect-sshd.conf(5))",
		    up ? "Studio" : "client", m[i].setting);
	else
		snprintf(out + n, outsz - n, " (not configurable)");
	return 1;
}

/* The Studio leg's error, with libssh's "(null)" host (no host name is
 * set on that session: see session_prepare()) replaced by the Studio's
 * address, and a failed negotiation retold. */
static const char *
up_error(const struct conn *c, char *buf, size_t bufsz)
{
	const char *err = ssh_get_error(c->up), *at;
	const char *addr = strrchr(c->studio, '(');

	if (explain_kex_error(err, 1, buf, bufsz))
		return buf;
	if ((at = strstr(err, "(null)")) != NULL && addr != NULL) {
		/* "s1 (127.0.0.1:2022)" -> "127.0.0.1:2022" */
		snprintf(buf, bufsz, "%.*s%.*s%s", (int)(at - err), err,
		    (int)strcspn(addr + 1, ")"), addr + 1, at + 6);
		return buf;
	}
	return err;
}

/* "s1 (127.0.0.1:2022)": the session id and the address the monitor
 * connected the Studio socket to (getpeername, allowed in the sandbox). */
static void
studio_label(struct conn *c, const char *session, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)&ss;

			inet_ntop(AF_INET, &sin->sin_addr, host,
			    sizeof(host));
			port = ntohs(sin->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const void *)&ss;

			inet_ntop(AF_INET6, &sin6->sin6_addr, host,
			    sizeof(host));
			port = ntohs(sin6->sin6_port);
		}
	}
	snprintf(c->studio, sizeof(c->studio), ss.ss_family == AF_INET6 ?
	    "%s ([%s]:%d)" : "%s (%s:%d)", session, host, port);
}

/* ---- the Studio leg ---- */

/*
 * A public key's blob (libssh's public API exports it only as base64): 0,
 * -1 if it cannot be had, or 1 if it is longer than blobsz.
 */
static int
key_blob(ssh_key key, uint8_t *blob, size_t blobsz, size_t *bloblen)
{
	char *b64 = NULL;
	size_t n, pad = 0;
	int rc;

	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return -1;
	/* Each 4 characters are 3 bytes, less one per '=' of padding. */
	n = strlen(b64);
	while (pad < 2 && pad < n && b64[n - 1 - pad] == '=')
		pad++;
	if ((n + 3) / 4 * 3 - pad > blobsz)
		rc = 1;
	else
		rc = b64_decode(b64, n, blob, blobsz, bloblen);
	ssh_string_free_char(b64);
	return rc;
}

/* The Studio's host key against the route's pin: any key within the
 * host key bounds, a 16384-bit RSA one too (its blob is over
 * IPC_MAX_BLOB, and never goes over the IPC). */
static int
check_pin(struct conn *c, const char *pin)
{
	ssh_key key = NULL;
	uint8_t blob[KEYTYPE_HOSTKEY_MAX_BLOB];
	size_t bloblen;
	char fp[SSHWIRE_FP_LEN];
	int rc = -1;

	if (pin[0] == '\0')
		return 0;
	if (ssh_get_server_publickey(c->up, &key) != SSH_OK ||
	    key_blob(key, blob, sizeof(blob), &bloblen) != 0) {
		error("Studio %s: its host key cannot be read to hold it to "
		    "the pinned %s", c->studio, pin);
		goto out;
	}
	sshwire_fingerprint(blob, bloblen, fp, sizeof(fp));
	if (strcmp(fp, pin) == 0)
		rc = 0;
	else
		error("Studio %s: host key %s does not match the pinned %s",
		    c->studio, fp, pin);
 out:
	ssh_key_free(key);
	return rc;
}

/*
 * The Studio login key: a fresh Ed25519 key pair, made by OpenSSL's
 * default provider (provider.h: csshd_provider_local), for this
 * connection only.  Its public blob goes with the route request; with
 * upstream_auth "certificate" the monitor certifies it for this Studio.
 */
static int
make_login_key(ssh_key *key, uint8_t *blob, size_t blobsz, size_t *bloblen)
{
	int rc = -1;

	*key = NULL;
	if (csshd_provider_local(1) != 0)
		return -1;
	if (ssh_pki_generate_key(SSH_KEYTYPE_ED25519, NULL, key) == SSH_OK &&
	    key_blob(*key, blob, blobsz, bloblen) == 0)
		rc = 0;
	if (csshd_provider_local(0) != 0)
		rc = -1;
	if (rc != 0) {
		ssh_key_free(*key);
		*key = NULL;
	}
	return rc;
}

/* A session channel opened on the Studio without waiting for its answer
 * (the session is non-blocking here), or NULL. */
static ssh_channel
open_spare(ssh_session up)
{
	ssh_channel ch;

	if ((ch = ssh_channel_new(up)) != NULL &&
	    ssh_channel_open_session(ch) == SSH_ERROR) {
		ssh_channel_free(ch);
		ch = NULL;
	}
	return ch;
}

/*
 * Send the certificate login (upstream_auth "certificate"), without
 * waiting for any answer: SSH_AUTH_AGAIN then, else libssh's failure.
 * Two round trips of the Studio leg are not waited for: libssh sends the
 * request right behind SERVICE_REQUEST (scripts/libssh-patches/0005), and
 * the open of a session channel (*spare) goes right behind the request;
 * the client's first session channel takes it.  sshd reads them in order,
 * and RFC 4252 section 5 passes what follows a successful request to the
 * service.  If the login fails, the connection ends and the open with it.
 */
static int
send_cert_login(struct conn *c, ssh_key key, const uint8_t *cert,
    size_t certlen, ssh_channel *spare)
{
	char b64[IPC_MAX_BLOB * 4 / 3 + 8];
	ssh_key certkey = NULL;
	int rc = SSH_AUTH_ERROR;

	if (b64_encode(cert, certlen, b64, sizeof(b64)) == 0 ||
	    ssh_pki_import_cert_base64(b64, SSH_KEYTYPE_ED25519_CERT01,
	    &certkey) != SSH_OK ||
	    ssh_pki_copy_cert_to_privkey(certkey, key) != SSH_OK) {
		error("the login certificate from the monitor does not load");
		goto out;
	}
	if (csshd_provider_local(1) != 0)
		goto out;
	ssh_set_blocking(c->up, 0);
	rc = ssh_userauth_publickey(c->up, NULL, key);
	if (rc == SSH_AUTH_AGAIN)
		*spare = open_spare(c->up);
	if (csshd_provider_local(0) != 0)
		rc = SSH_AUTH_ERROR;
 out:
	ssh_key_free(certkey);
	return rc;
}

/*
 * The wait for the certificate login's answer, blocking (upstream_timeout
 * seconds): the relay calls it before it asks the Studio anything while
 * await_login() runs.  0 if the Studio accepted the login.
 */
static int
login_answer(void *ctx)
{
	struct conn *c = ctx;

	if (c->login_rc == SSH_AUTH_AGAIN) {
		ssh_set_blocking(c->up, 1);
		c->login_rc = ssh_userauth_publickey(c->up, NULL,
		    c->login_key);
		ssh_set_blocking(c->up, 0);
		/* Still no answer after the timeout: a failure. */
		if (c->login_rc == SSH_AUTH_AGAIN)
			c->login_rc = SSH_AUTH_ERROR;
	}
	return c->login_rc == SSH_AUTH_SUCCESS ? 0 : -1;
}

/*
 * Wait for the Studio's answer to the certificate login while serving the
 * client: its first session channel is confirmed at once (it takes the
 * spare), so its requests are on their way while the Studio answers; a
 * callback that must ask the Studio something waits for the login first
 * (relay.c logged_in(), login_answer() above).  The Studio has
 * upstream_timeout seconds, as a blocking wait would give it.
 */
static int
await_login(struct conn *c)
{
	ssh_event ev;
	struct timespec since;
	uint64_t limit_ms = (uint64_t)settings->init.upstream_timeout * 1000;

	c->login_rc = SSH_AUTH_AGAIN;
	relay_set_login_wait(c->relay, login_answer, c);
	if ((ev = ssh_event_new()) != NULL &&
	    ssh_event_add_session(ev, c->down) == SSH_OK) {
		if (ssh_event_add_session(ev, c->up) == SSH_OK) {
			clock_now(&since);
			while (c->login_rc == SSH_AUTH_AGAIN &&
			    ssh_event_dopoll(ev, 100) != SSH_ERROR &&
			    c->login_rc == SSH_AUTH_AGAIN) {
				c->login_rc = ssh_userauth_publickey(c->up,
				    NULL, c->login_key);
				if (c->login_rc == SSH_AUTH_AGAIN &&
				    clock_ms_since(&since) >= limit_ms)
					c->login_rc = SSH_AUTH_ERROR;
			}
			ssh_event_remove_session(ev, c->up);
		}
		ssh_event_remove_session(ev, c->down);
	}
	if (ev != NULL)
		ssh_event_free(ev);
	/* A poll that failed (a side left) ends in the blocking wait. */
	(void)login_answer(c);
	relay_set_login_wait(c->relay, NULL, NULL);
	return c->login_rc;
}

/* Tell the monitor's audit log that the Studio refused the login. */
static void
report_refusal(struct conn *c, const char *mode)
{
	struct ipc_audit a;

	memset(&a, 0, sizeof(a));
	a.event = IPC_AUDIT_UPSTREAM_REFUSED;
	a.exit_status = -1;
	snprintf(a.kind, sizeof(a.kind), "%s", mode);
	snprintf(a.detail, sizeof(a.detail), "%s", ssh_get_error(c->up));
	mm_audit(&a);
}

/*
 * At log level debug, libssh logs the Studio login packet by packet (what
 * was sent before which answer came: the round trips it took), then
 * protocol events only again, as for the rest of the connection.
 */
static void
login_packet_log(int on)
{
	if (log_get_level() >= LOG_LVL_DEBUG)
		ssh_set_log_level(on ? SSH_LOG_DEBUG : SSH_LOG_PROTOCOL);
}

/*
 * Connect to the Studio over the socket the monitor opened, and log in:
 * with the certificate the monitor issued for this connection's login
 * key, or (upstream_auth "key") with the gateway key through the
 * monitor's agent.
 */
static int
open_upstream(struct conn *c)
{
	struct ipc_route r;
	int upfd = -1, agentfd = -1, rc, auth;
	uint8_t pub[IPC_MAX_BLOB], cert[IPC_MAX_BLOB];
	size_t publen, certlen = 0;
	ssh_key key = NULL;
	ssh_channel spare = NULL;
	long timeout;
	char why[IPC_MAX_TEXT];

	memset(&r, 0, sizeof(r));
	if (make_login_key(&key, pub, sizeof(pub), &publen) != 0) {
		error("cannot make the Studio login key");
		goto unreachable;
	}
	rc = mm_route(pub, publen, &r, &upfd, &agentfd, cert, sizeof(cert),
	    &certlen, c->fatal_msg, sizeof(c->fatal_msg));
	if (rc != 0)
		goto fail;
	studio_label(c, r.session, upfd);
	c->up = up_session;
	login_packet_log(1);
	timeout = (long)settings->init.upstream_timeout;
	if (ssh_options_set(c->up, SSH_OPTIONS_FD, &upfd) ||
	    ssh_options_set(c->up, SSH_OPTIONS_USER, r.upstream_user) ||
	    ssh_options_set(c->up, SSH_OPTIONS_TIMEOUT, &timeout)) {
		close(upfd);
		goto unreachable;
	}
	if (ssh_connect(c->up) != SSH_OK) {
		error("Studio %s: %s", c->studio, up_error(c, why,
		    sizeof(why)));
		goto unreachable;
	}
	/* For the audit log (upstream.opened): what this leg negotiated,
	 * client (us) to server. */
	mm_kex(IPC_KEX_STUDIO, ssh_get_kex_algo(c->up),
	    ssh_get_cipher_out(c->up), ssh_get_hmac_out(c->up));
	if (check_pin(c, r.host_key_pin) != 0)
		goto unreachable;
	if (certlen > 0) {
		auth = send_cert_login(c, key, cert, certlen, &spare);
		if (auth == SSH_AUTH_AGAIN) {
			/* From here the client may open channels. */
			if ((c->relay = relay_new(c->down, c->up, r.session,
			    c->studio, &settings->init)) == NULL)
				goto unreachable;
			relay_set_spare(c->relay, spare);
			spare = NULL;
			c->login_key = key;
			auth = await_login(c);
			c->login_key = NULL;
			/* A client that left meanwhile fails the wait too
			 * (libssh polls both sockets together in callbacks):
			 * that is no refusal by the Studio. */
			if (auth != SSH_AUTH_SUCCESS &&
			    relay_client_left(c->relay))
				goto fail;
		}
	} else {
		/* libssh owns the agent socket from here (ssh_free closes
		 * it). */
		auth = ssh_set_agent_socket(c->up, agentfd) != SSH_OK ?
		    SSH_AUTH_ERROR : ssh_userauth_agent(c->up, NULL);
		agentfd = -1;
	}
	if (auth != SSH_AUTH_SUCCESS) {
		report_refusal(c, certlen > 0 ? "certificate" : "key");
		error("Studio %s refused the gateway's %s for user %s: %s",
		    c->studio, certlen > 0 ? "certificate" : "key",
		    r.upstream_user, up_error(c, why, sizeof(why)));
		snprintf(c->fatal_msg, sizeof(c->fatal_msg), "Studio session "
		    "%s refused the gateway's login%s; check the Studio's SSH "
		    "settings", r.session, certlen > 0 ? " certificate (its "
		    "authorized_keys needs the cert-authority line for this "
		    "session)" : "");
		goto fail;
	}
	ssh_key_free(key);
	key = NULL;
	login_packet_log(0);
	logit("logged in to Studio %s as %s with the gateway's %s", c->studio,
	    r.upstream_user, certlen > 0 ? "certificate" : "key");
	/* From here the client may open channels: the relay takes them. */
	if (c->relay == NULL && (c->relay = relay_new(c->down, c->up,
	    r.session, c->studio, &settings->init)) == NULL)
		goto unreachable;
	return 0;
 unreachable:
	snprintf(c->fatal_msg, sizeof(c->fatal_msg), "Studio session %s is "
	    "not reachable; try again later or restart the Studio", r.session);
 fail:
	login_packet_log(0);
	if (agentfd != -1)
		close(agentfd);
	if (spare != NULL)
		ssh_channel_free(spare);
	ssh_key_free(key);
	return -1;
}

/* ---- the client leg ---- */

/*
 * Send the client a disconnect message it will see.  libssh's
 * ssh_disconnect() queues the packet and closes the socket at once; the
 * packet is written only if libssh believes the socket writable, which it
 * learns from its own poll loop -- and that loop would also run callbacks
 * for whatever the client sent meanwhile.  So wait for writability here,
 * tell libssh (ssh_set_fd_towrite), and drop what the client sent that we
 * will never answer: closing a socket with unread input resets the
 * connection, and the client could lose the message.
 */
static void
disconnect_with(struct conn *c, const char *msg)
{
	struct pollfd pfd;
	char sink[4096];
	int fd = ssh_get_fd(c->down);

	if (fd != -1) {
		while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			continue;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, DISCONNECT_WAIT_MS) == 1)
			ssh_set_fd_towrite(c->down);
	}
	ssh_session_set_disconnect_message(c->down, msg);
	ssh_disconnect(c->down);
}

/* limits.max_auth_tries, as OpenSSH's MaxAuthTries: the monitor counts
 * too, and kills a worker that asks once more. */
static void
auth_failed(struct conn *c)
{
	if (++c->failures >= c->ws->init.max_auth_tries &&
	    c->ws->init.max_auth_tries > 0) {
		logit("too many authentication failures (%u)", c->failures);
		snprintf(c->fatal_msg, sizeof(c->fatal_msg), "Too many "
		    "authentication failures");
	}
}

/* A signature refused by verify_signed(), never sent to the monitor. */
static int sig_refused;

/*
 * The algorithm and key blob of the signed userauth data (RFC 4252 section
 * 7: session id, byte, user, service, method, bool, algorithm, key), if
 * the monitor could not take them: a key blob over IPC_MAX_BLOB (a
 * 16384-bit RSA key, larger than any the gateway accepts) or an algorithm
 * the key's type may not sign with (keytypes.h: SHA-1 "ssh-rsa" is not
 * one) are what the monitor kills a worker for.  NULL, or why not, with
 * the refusal reported to the monitor for its audit log.
 */
static const char *
signed_key_refusal(const uint8_t *data, size_t len, char *why, size_t whysz)
{
	char algo[64], fp[SSHWIRE_FP_LEN];
	const uint8_t *p, *user, *key;
	size_t n, userlen, keylen;
	struct cursor c;
	unsigned reason;
	uint8_t u8;

	cursor_init(&c, data, len);
	cursor_get_string(&c, &p, &n, len);	/* session id */
	cursor_get_u8(&c, &u8);
	cursor_get_string(&c, &user, &userlen, len);
	cursor_get_string(&c, &p, &n, len);	/* service */
	cursor_get_string(&c, &p, &n, len);	/* method */
	cursor_get_u8(&c, &u8);
	if (cursor_get_cstring(&c, algo, sizeof(algo)) != 0)
		snprintf(algo, sizeof(algo), "(too long)");
	if (cursor_get_string(&c, &key, &keylen, len) != 0)
		return NULL;	/* libssh built it: the monitor decides */
	if (keylen > IPC_MAX_BLOB) {
		reason = IPC_REFUSED_KEY_TOO_LARGE;
		snprintf(why, whysz, "a key of %zu bytes is larger than any "
		    "the gateway accepts (RSA keys may have at most %d bits)",
		    keylen, KEYTYPE_RSA_MAX_BITS);
	} else if (keytype_plain_sigalg(key, keylen, algo) == NULL) {
		reason = IPC_REFUSED_SIG_ALGORITHM;
		snprintf(why, whysz, "signature algorithm %s is not accepted "
		    "for this key type", algo);
	} else
		return NULL;
	sshwire_fingerprint(key, keylen, fp, sizeof(fp));
	mm_refused((const char *)user, userlen, reason, fp);
	return why;
}

/*
 * The provider's verify hook: the monitor checks the client's signature
 * and decides (mm_verify), unless the request is one it could not take,
 * which is refused here as a failed login: libssh sends nothing for a
 * signature that fails, so authenticate() ends the attempt.
 */
static int
verify_signed(const uint8_t *sig, size_t siglen, const uint8_t *data,
    size_t len)
{
	char why[160];

	if (signed_key_refusal(data, len, why, sizeof(why)) != NULL) {
		logit("client signature refused: %s", why);
		sig_refused = 1;
		return 0;
	}
	return mm_verify(sig, siglen, data, len);
}

/* The SHA256 fingerprint of a key of any size (a key too large for the
 * IPC, which the monitor never sees): 0, or -1. */
static int
key_fingerprint(ssh_key key, char *fp, size_t fpsz)
{
	char *b64 = NULL;
	uint8_t *blob = NULL;
	size_t n, bloblen;
	int rc = -1;

	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return -1;
	n = strlen(b64);
	if ((blob = malloc(n / 4 * 3 + 3)) != NULL &&
	    b64_decode(b64, n, blob, n / 4 * 3 + 3, &bloblen) == 0) {
		sshwire_fingerprint(blob, bloblen, fp, fpsz);
		rc = 0;
	}
	free(blob);
	ssh_string_free_char(b64);
	return rc;
}

static int
auth_pubkey(ssh_session s, const char *user, struct ssh_key_struct *key,
    char state, void *userdata)
{
	struct conn *c = userdata;
	uint8_t blob[IPC_MAX_BLOB];
	size_t bloblen;
	int ok, rc;

	if (c->authenticated || c->fatal_msg[0] != '\0')
		return SSH_AUTH_DENIED;
#ifdef CSSHD_TEST_HOOKS
	testhook_user(user);
#endif
	if (state == SSH_PUBLICKEY_STATE_NONE) {
		/* A key too large for the IPC is larger than any the
		 * gateway accepts (keytypes.h): refused here, an ordinary
		 * failure, rather than sent to the monitor. */
		rc = key_blob(key, blob, sizeof(blob), &bloblen);
		if (rc == 1) {
			char fp[SSHWIRE_FP_LEN];

			logit("client key refused: a %s key larger than the "
			    "%d bytes the gateway passes on (RSA keys may have "
			    "at most %d bits)",
			    ssh_key_type_to_char(ssh_key_type(key)),
			    IPC_MAX_BLOB, KEYTYPE_RSA_MAX_BITS);
			if (key_fingerprint(key, fp, sizeof(fp)) == 0)
				mm_refused(user, strlen(user),
				    IPC_REFUSED_KEY_TOO_LARGE, fp);
		}
		ok = rc == 0 ? mm_key_query(user, blob, bloblen) : 0;
		if (ok == IPC_FLAG_YES)
			return SSH_AUTH_SUCCESS;
		if (ok == IPC_FLAG_UNAVAILABLE) {
			/* Now, before libssh answers "failure": a client with
			 * no other key would leave on that failure and never
			 * read why. */
			snprintf(c->fatal_msg, sizeof(c->fatal_msg), "%s",
			    REGISTRY_MSG);
			disconnect_with(c, c->fatal_msg);
		} else
			auth_failed(c);
		return SSH_AUTH_DENIED;
	}
	if (state != SSH_PUBLICKEY_STATE_VALID)
		return SSH_AUTH_DENIED;
	/* libssh found the signature valid; only the monitor's verdict
	 * counts.  A key type the provider does not route to the monitor
	 * leaves no verdict, and is refused. */
	if (mm_verify_result() != 1) {
		if (mm_verify_result() == -1)
			logit("key type %s is not supported",
			    ssh_key_type_to_char(ssh_key_type(key)));
		mm_verify_reset();
		return SSH_AUTH_DENIED;
	}
	mm_verify_reset();
	snprintf(c->user, sizeof(c->user), "%s", user);
	/* From here signatures are checked locally: the Studio's host key
	 * signature is the next one, and is no login for the monitor. */
	csshd_provider_set_verify_hook(NULL);
	c->authenticated = 1;
	return SSH_AUTH_SUCCESS;
}

static ssh_channel
open_session_channel(ssh_session s, void *userdata)
{
	struct conn *c = userdata;

	if (!c->authenticated || c->relay == NULL)
		return NULL;
	return relay_open_session(c->relay);
}

/* Run the client's key exchange and authentication until the monitor has
 * authenticated it and the Studio leg is up. */
static int
authenticate(struct conn *c)
{
	ssh_event ev;
	int rc = -1;

	if ((ev = ssh_event_new()) == NULL ||
	    ssh_event_add_session(ev, c->down) != SSH_OK)
		goto out;
	while (!c->authenticated) {
		if (ssh_event_dopoll(ev, 1000) == SSH_ERROR) {
			debug("client left: %s", ssh_get_error(c->down));
			goto out;
		}
		if (c->fatal_msg[0] != '\0') {
			disconnect_with(c, c->fatal_msg);
			goto out;
		}
		if (worker_stopping) {
			disconnect_with(c, STOPPING_MSG);
			goto out;
		}
		/* libssh sends no failure for a signature the monitor
		 * refused; end the attempt ourselves. */
		if (mm_verify_result() == IPC_FLAG_NO || sig_refused) {
			disconnect_with(c, "Permission denied (publickey)");
			goto out;
		}
		if (mm_verify_result() == IPC_FLAG_UNAVAILABLE) {
			disconnect_with(c, REGISTRY_MSG);
			goto out;
		}
	}
	rc = 0;
 out:
	if (ev != NULL) {
		ssh_event_remove_session(ev, c->down);
		ssh_event_free(ev);
	}
	return rc;
}

/*
 * Read the PROXY header a balancer put before the client's bytes: peek,
 * and consume exactly the header (the client's SSH version line that may
 * follow is libssh's), within timeout_s.  Fills p for the monitor.
 */
static void
read_proxy_header(int fd, unsigned timeout_s, struct ipc_proxy *p)
{
	uint8_t hdr[PROXY_MAX_HEADER];
	struct proxy_result r;
	struct timespec deadline;
	struct pollfd pfd = { fd, POLLIN, 0 };
	const char *why = NULL;
	size_t have = 0;
	long long left;
	ssize_t n;
	int hl = 0, rc;

	memset(p, 0, sizeof(*p));
	clock_now(&deadline);
	deadline.tv_sec += (time_t)timeout_s;
	for (;;) {
		left = clock_ms_until(&deadline);
		rc = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			why = "poll failed";
			break;
		}
		if (rc == 0) {
			p->status = IPC_PROXY_TIMEOUT;
			snprintf(p->why, sizeof(p->why), "no header within "
			    "%u s", timeout_s);
			return;
		}
		n = recv(fd, hdr + have, sizeof(hdr) - have, MSG_PEEK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			why = n == 0 ? "closed before the header" :
			    "read error";
			break;
		}
		hl = proxy_parse(hdr, have + (size_t)n, &r, &why);
		if (hl < 0)
			break;
		if (hl == 0 && have + (size_t)n == sizeof(hdr)) {
			why = "too long";
			break;
		}
		/* All of it is header while it is incomplete; else only up
		 * to its end. */
		n = hl == 0 ? n : (ssize_t)((size_t)hl - have);
		if (recv(fd, hdr + have, (size_t)n, 0) != n) {
			why = "short read";
			break;
		}
		have += (size_t)n;
		if (hl > 0)
			break;
	}
	if (hl <= 0) {
		p->status = IPC_PROXY_BAD;
		snprintf(p->why, sizeof(p->why), "%s", why);
		return;
	}
	if (r.local) {
		p->status = IPC_PROXY_LOCAL;
		return;
	}
	p->status = IPC_PROXY_CLIENT;
	if (r.src.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&r.src;

		p->family = 4;
		memcpy(p->addr, &sin->sin_addr, 4);
		p->port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)&r.src;

		p->family = 6;
		memcpy(p->addr, &sin6->sin6_addr, 16);
		p->port = ntohs(sin6->sin6_port);
	}
}

/* A client from a balancer: the header, then the monitor's word.  0 to go
 * on; -1 when the client is refused (and told why, if it is one). */
static int
serve_proxy_header(int fd, const struct ipc_client *cl)
{
	struct ipc_proxy p;
	struct buf pkt;
	int ok;

	read_proxy_header(fd, cl->proxy_timeout, &p);
	ok = mm_proxy(&p);
	if (ok == 1)
		return 0;
	if (p.status == IPC_PROXY_CLIENT || p.status == IPC_PROXY_LOCAL) {
		/* Refused by a limit: the client may read why. */
		buf_init(&pkt, 512);
		sshwire_refusal(&pkt, "Too many connections to the gateway; "
		    "try again later");
		if (buf_ok(&pkt) == 0)
			(void)send(fd, pkt.data, pkt.len, MSG_NOSIGNAL);
		buf_free(&pkt);
		shutdown(fd, SHUT_WR);
	}
	return -1;
}

int
session_serve(int fd, const struct ipc_client *cl)
{
	struct ssh_server_callbacks_struct cb;
	struct conn c;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	c.ws = settings;
	c.down = down_session;
	alarm(settings->init.login_grace_time);
	if ((cl->flags & IPC_CLIENT_PROXY) && serve_proxy_header(fd, cl) != 0) {
		close(fd);
		return -1;
	}
	if (ssh_bind_accept_fd(sshbind, c.down, fd) != SSH_OK) {
		error("accept: %s", ssh_get_error(sshbind));
		return -1;
	}
	memset(&cb, 0, sizeof(cb));
	cb.userdata = &c;
	cb.auth_pubkey_function = auth_pubkey;
	cb.channel_open_request_session_function = open_session_channel;
	ssh_callbacks_init(&cb);
	ssh_set_server_callbacks(c.down, &cb);
	ssh_set_auth_methods(c.down, SSH_AUTH_METHOD_PUBLICKEY);
	csshd_provider_set_verify_hook(verify_signed);
	if (ssh_handle_key_exchange(c.down) != SSH_OK) {
		char why[IPC_MAX_TEXT];

		if (explain_kex_error(ssh_get_error(c.down), 0, why,
		    sizeof(why)))
			logit("key exchange with client %s failed: %s",
			    cl->peer, why);
		else
			logit("key exchange with %s failed: %s", cl->peer,
			    ssh_get_error(c.down));
		goto out;
	}
	/* For the audit log (auth.accepted): what the client's leg
	 * negotiated, client to server. */
	mm_kex(IPC_KEX_CLIENT, ssh_get_kex_algo(c.down),
	    ssh_get_cipher_in(c.down), ssh_get_hmac_in(c.down));
	if (authenticate(&c) != 0)
		goto out;
	/* Reach the Studio before the client's first channel is served.  A
	 * Studio that is down is reported as such, with a disconnect message
	 * sent from here rather than from inside a libssh callback, where
	 * libssh cannot flush it. */
	if (open_upstream(&c) != 0) {
		disconnect_with(&c, c.fatal_msg);
		/* A channel the client opened while the login's answer was
		 * out went with the disconnect. */
		relay_client_disconnected(c.relay);
		goto out;
	}
	alarm(0);	/* the login grace timer */
	rc = relay_run(c.relay);
	if (relay_end_message(c.relay) != NULL) {
		disconnect_with(&c, relay_end_message(c.relay));
		relay_client_disconnected(c.relay);
	}
 out:
	relay_free(c.relay);
	ssh_disconnect(c.down);
	if (c.up != NULL)
		ssh_disconnect(c.up);
	return rc;
}
