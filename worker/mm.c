/*
 * mm.c - the worker's side of the monitor protocol.
 *
 * Each function stands in for an operation the worker is not allowed to do
 * itself (mm_sign() instead of signing with the host key, mm_route()
 * instead of connect()), sends one request and waits for its one answer.
 * An IPC failure ends the worker: without the monitor it can do nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ipc.h"
#include "log.h"
#include "sshwire.h"
#include "worker.h"

static int mm_sock = -1;
static int verify_result = -1;

void
mm_set_socket(int sock)
{
	mm_sock = sock;
}

static void
mm_die(const char *what)
{
	/* No logging here: the log goes through the socket that failed. */
	(void)what;
	_exit(2);
}

static void
mm_send(struct buf *b, int encoded)
{
	if (encoded != 0 || ipc_send(mm_sock, b, NULL, 0) != 0)
		mm_die("send");
}

/* Receive the one answer to a request; it must be of type want. */
static size_t
mm_recv(uint8_t *msg, unsigned want, int *fds)
{
	unsigned type;
	int nfds, lfds[IPC_MAX_FDS];
	long n;

	n = ipc_recv(mm_sock, msg, &type, fds ? fds : lfds, &nfds);
	if (n <= 0 || type != want)
		mm_die("recv");
	return (size_t)n - 2;
}

int
mm_recv_init(struct wsettings *ws)
{
	uint8_t msg[IPC_MAX_MSG];
	struct cursor c;
	size_t n;

	n = mm_recv(msg, IPC_M_INIT, NULL);
	cursor_init(&c, msg + 2, n);
	if (ipc_dec_init(&c, &ws->init) != 0 ||
	    ws->init.version != IPC_PROTO_VERSION)
		return -1;
	memcpy(ws->hostkey_blob, ws->init.hostkey_blob,
	    ws->init.hostkey_blob_len);
	ws->hostkey_blob_len = ws->init.hostkey_blob_len;
	ws->init.hostkey_blob = ws->hostkey_blob;
	return 0;
}

int
mm_ready(void)
{
	struct buf b;

	buf_init(&b, IPC_MAX_MSG);
	mm_send(&b, ipc_enc_empty(&b, IPC_W_READY));
	buf_free(&b);
	return 0;
}

int
mm_recv_client(struct ipc_client *cl, int *fd)
{
	uint8_t msg[IPC_MAX_MSG];
	struct cursor c;
	int fds[IPC_MAX_FDS];
	size_t n;

	n = mm_recv(msg, IPC_M_CLIENT, fds);
	cursor_init(&c, msg + 2, n);
	if (ipc_dec_client(&c, cl) != 0)
		return -1;
	*fd = fds[0];
	return 0;
}

/* Report the PROXY header read from the client (or what was wrong with
 * it); the monitor answers 1 to go on, 0 to refuse the client. */
int
mm_proxy(const struct ipc_proxy *p)
{
	uint8_t msg[IPC_MAX_MSG];
	struct ipc_flag f;
	struct cursor c;
	struct buf b;
	size_t n;

	buf_init(&b, IPC_MAX_MSG);
	mm_send(&b, ipc_enc_proxy(&b, p));
	buf_free(&b);
	n = mm_recv(msg, IPC_M_PROXY_REPLY, NULL);
	cursor_init(&c, msg + 2, n);
	if (ipc_dec_flag(&c, &f) != 0)
		return -1;
	return (int)f.ok;
}

void
mm_log_sink(enum log_level level, const char *line)
{
	struct ipc_log l;
	struct buf b;

	if (mm_sock == -1)
		return;
	memset(&l, 0, sizeof(l));
	l.level = (uint32_t)level;
	snprintf(l.text, sizeof(l.text), "%s", line);
	buf_init(&b, IPC_MAX_MSG);
	mm_send(&b, ipc_enc_log(&b, &l));
	buf_free(&b);
}

/* The provider's sign hook: the monitor signs the exchange hash. */
int
mm_sign(const uint8_t *hash, size_t len, uint8_t *sig, size_t *siglen)
{
	uint8_t msg[IPC_MAX_MSG];
	struct ipc_bytes in = { hash, len }, out;
	struct cursor c;
	struct buf b;
	size_t n;

	if (*siglen < ED25519_SIG_LEN)
		return -1;
	buf_init(&b, IPC_MAX_MSG);
	mm_send(&b, ipc_enc_bytes(&b, IPC_W_SIGN, &in, IPC_MAX_HASH));
	buf_free(&b);
	n = mm_recv(msg, IPC_M_SIGN_REPLY, NULL);
	cursor_init(&c, msg + 2, n);
	if (ipc_dec_bytes(&c, &out, ED25519_SIG_LEN) != 0 ||
	    out.len != ED25519_SIG_LEN)
		return -1;
	memcpy(sig, out.data, out.len);
	*siglen = out.len;
	return 0;
}

/*
 * A user name of IPC_MAX_NAME bytes or more does not fit the IPC.  It is
 * asked about as a stand-in: its first bytes, cut between two UTF-8
 * characters, and "...".  A stand-in is never a valid login name (the
 * session id after the last '@' holds no '.'), so the monitor refuses it
 * as bad-username and its auth.denied event shows the name, cut.
 */
static void
stand_in_name(const char *user, size_t len, char *out, size_t outsz)
{
	size_t n = outsz - sizeof("..."), i;

	if (n > len)
		n = len;
	for (i = 0; i < 3 && n > 0 && ((unsigned char)user[n] & 0xc0) == 0x80;
	    i++)
		n--;
	memcpy(out, user, n);
	memcpy(out + n, "...", sizeof("..."));
}

/* The monitor's verdict on a user name (userlen bytes, no NUL) and key:
 * IPC_FLAG_*, or -1 for a malformed answer. */
static int
key_query(const char *user, size_t userlen, const uint8_t *blob, size_t len)
{
	uint8_t msg[IPC_MAX_MSG];
	struct ipc_key_query q;
	struct ipc_flag f;
	struct cursor c;
	struct buf b;
	size_t n;

	memset(&q, 0, sizeof(q));
	if (len > IPC_MAX_BLOB)
		return 0;	/* cannot be a permitted login */
	if (userlen >= sizeof(q.user))
		stand_in_name(user, userlen, q.user, sizeof(q.user));
	else
		memcpy(q.user, user, userlen);
	q.key_blob = blob;
	q.key_blob_len = len;
	buf_init(&b, IPC_MAX_MSG);
	mm_send(&b, ipc_enc_key_query(&b, &q));
	buf_free(&b);
	n = mm_recv(msg, IPC_M_KEY_REPLY, NULL);
	cursor_init(&c, msg + 2, n);
	if (ipc_dec_flag(&c, &f) != 0)
		return -1;
	return (int)f.ok;
}

int
mm_key_query(const char *user, const uint8_t *blob, size_t len)
{
	return key_query(user, strlen(user), blob, len);
}

/* A key or signature refused here (ipc.h: IPC_W_REFUSED), for the
 * monitor's audit log; user is userlen bytes, not NUL-terminated. */
void
mm_refused(const char *user, size_t userlen, unsigned reason,
    const char *key_fp)
{
	struct ipc_refused r;
	struct buf b;

	memset(&r, 0, sizeof(r));
	if (userlen >= sizeof(r.user))
		stand_in_name(user, userlen, r.user, sizeof(r.user));
	else
		memcpy(r.user, user, userlen);
	r.reason = reason;
	snprintf(r.key_fp, sizeof(r.key_fp), "%s", key_fp);
	buf_init(&b, IPC_MAX_MSG);
	mm_send(&b, ipc_enc_refused(&b, &r));
	buf_free(&b);
}

void
mm_kex(unsigned leg, const char *kex, const char *cipher, const char *mac)
{
	struct ipc_kex k;
	struct buf b;

	memset(&k, 0, sizeof(k));
	k.leg = leg;
	snprintf(k.kex, sizeof(k.kex), "%s", kex != NULL ? kex : "");
	snprintf(k.cipher, sizeof(k.cipher), "%s",
	    cipher != NULL ? cipher : "");
	/* libssh names an AEAD cipher's integrity "aead-gcm" or
	 * "aead-poly1305": no MAC was negotiated. */
	if (mac != NULL && strncmp(mac, "aead-", 5) != 0)
		snprintf(k.mac, sizeof(k.mac), "%s", mac);
	buf_init(&b, IPC_MAX_MSG);
	mm_send(&b, ipc_enc_kex(&b, &k));
	buf_free(&b);
}

/* The user name and key blob of signed userauth data (RFC 4252, section
 * 7), as pointers into it; 0, or -1 if it does not parse. */
static int
signed_user(const uint8_t *data, size_t len, const uint8_t **user,
    size_t *userlen, const uint8_t **blob, size_t *bloblen)
{
	const uint8_t *p;
	struct cursor c;
	uint8_t u8;
	size_t n;

	cursor_init(&c, data, len);
	cursor_get_string(&c, &p, &n, len);		/* session id */
	cursor_get_u8(&c, &u8);
	cursor_get_string(&c, user, userlen, len);
	cursor_get_string(&c, &p, &n, len);		/* service */
	cursor_get_string(&c, &p, &n, len);		/* method */
	cursor_get_u8(&c, &u8);
	cursor_get_string(&c, &p, &n, len);		/* algorithm */
	cursor_get_string(&c, blob, bloblen, len);
	return cursor_end(&c);
}

/* The provider's verify hook: the monitor checks the client's signature
 * and decides the login. */
int
mm_verify(const uint8_t *sig, size_t siglen, const uint8_t *data, size_t len)
{
	uint8_t msg[IPC_MAX_MSG];
	struct ipc_verify v = { sig, siglen, data, len };
	const uint8_t *user, *blob;
	size_t userlen, bloblen;
	struct ipc_flag f;
	struct cursor c;
	struct buf b;
	size_t n;

	/* A user name too long for the monitor's parser, which would take
	 * the request for a malformed one: ask about its stand-in instead,
	 * which the monitor refuses and audits, and refuse. */
	if (signed_user(data, len, &user, &userlen, &blob, &bloblen) == 0 &&
	    userlen >= IPC_MAX_NAME) {
		(void)key_query((const char *)user, userlen, blob, bloblen);
		verify_result = 0;
		return 0;
	}
	if (siglen > IPC_MAX_BLOB || len > IPC_MAX_SIGNED) {
		verify_result = 0;
		return 0;
	}
	buf_init(&b, IPC_MAX_MSG);
	mm_send(&b, ipc_enc_verify(&b, &v));
	buf_free(&b);
	n = mm_recv(msg, IPC_M_VERIFY_REPLY, NULL);
	cursor_init(&c, msg + 2, n);
	if (ipc_dec_flag(&c, &f) != 0)
		mm_die("verify reply");
	verify_result = (int)f.ok;
	return (int)f.ok;
}

int
mm_verify_result(void)
{
	return verify_result;
}

void
mm_verify_reset(void)
{
	verify_result = -1;
}

int
mm_route(const uint8_t *key_blob, size_t key_blob_len, struct ipc_route *r,
    int *upstream_fd, int *agent_fd, uint8_t *cert, size_t certsz,
    size_t *cert_len, char *text, size_t textsz)
{
	uint8_t msg[IPC_MAX_MSG];
	struct ipc_route_req req;
	struct ipc_route_cert rc;
	struct ipc_text t;
	struct cursor c;
	struct buf b;
	unsigned type;
	int fds[IPC_MAX_FDS], nfds;
	long n;

	req.key_blob = key_blob;
	req.key_blob_len = key_blob_len;
	buf_init(&b, IPC_MAX_MSG);
	mm_send(&b, ipc_enc_route_req(&b, &req));
	buf_free(&b);
	n = ipc_recv(mm_sock, msg, &type, fds, &nfds);
	if (n <= 0)
		mm_die("route");
	cursor_init(&c, msg + 2, (size_t)n - 2);
	*cert_len = 0;
	*agent_fd = -1;
	if (type == IPC_M_ROUTE_FAIL) {
		if (ipc_dec_text(&c, &t) != 0)
			return -1;
		snprintf(text, textsz, "%s", t.text);
		return 1;
	}
	if (type == IPC_M_ROUTE_CERT) {
		if (ipc_dec_route_cert(&c, &rc) != 0 || rc.cert_len > certsz)
			mm_die("route reply");
		*r = rc.route;
		memcpy(cert, rc.cert, rc.cert_len);
		*cert_len = rc.cert_len;
		*upstream_fd = fds[0];
		return 0;
	}
	if (type != IPC_M_ROUTE || ipc_dec_route(&c, r) != 0)
		mm_die("route reply");
	*upstream_fd = fds[0];
	*agent_fd = fds[1];
	return 0;
}

void
mm_audit(const struct ipc_audit *a)
{
	struct buf b;

	buf_init(&b, IPC_MAX_MSG);
	mm_send(&b, ipc_enc_audit(&b, a));
	buf_free(&b);
}
