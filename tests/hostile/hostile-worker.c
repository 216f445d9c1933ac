/*
 * hostile-worker.c - a compromised worker, for tests/hostile/run.sh.
 *
 * Started by the real monitor in place of connect-sshd-worker
 * (workers.program), on the real IPC socket (fd 3).  It takes M_INIT,
 * reports W_READY and receives its client like a worker; then it reads one
 * line from the client -- the name of an attack -- and plays it against
 * the monitor, writing what happened back to the client:
 *   "answered TYPE"  the monitor replied (wrong, for an attack),
 *   "closed"         the monitor cut the IPC socket (it killed us),
 *   "refused"        the monitor answered with a refusal (flag 0).
 * The monitor is expected to kill us with SIGKILL, so a reply line may not
 * get out: the script reads the verdict from the gateway's log.
 *
 * Attacks after a genuine login ("agent-...", "route-...") take the user's
 * Ed25519 private key as 64 hex digits after the name: the harness then
 * logs in for real (a signature the monitor verifies), is routed to the
 * Studio, and attacks the monitor's ssh-agent socket or the route.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "buf.h"
#include "ipc.h"

#define SOCK	IPC_WORKER_FD

static int client = -1;
static EVP_PKEY *user_key;		/* from the attack line, if any */
static uint8_t user_pub[32];
static uint8_t gw_blob[IPC_MAX_BLOB];	/* the gateway's key, from M_INIT */
static size_t gw_blob_len;
static int agent_fd = -1;		/* from M_ROUTE */
static char routed_user[IPC_MAX_NAME];
/* upstream_auth "certificate": the session to log in to, the login key
 * (public half from the attack line, else random bytes) and the
 * certificate M_ROUTE_CERT brought. */
static char login_session[IPC_MAX_NAME] = "s1";
static uint8_t login_pub[32];
static int have_login_pub;
static uint8_t route_cert[IPC_MAX_BLOB];
static size_t route_cert_len;

/* One line to the client: word, then the argument if any. */
static void
say(const char *word, const char *arg)
{
	struct buf b;

	/* Whole or not at all: an attack name of any length never makes
	 * this send more than the line it formatted. */
	buf_init(&b, 4096);
	buf_printf(&b, "%s%s%s\n", word, arg[0] ? " " : "", arg);
	if (client != -1 && buf_ok(&b) == 0)
		(void)send(client, b.data, b.len, MSG_NOSIGNAL);
	buf_free(&b);
}

static void
send_raw(const void *p, size_t len, const int *fds, int nfds)
{
	struct msghdr mh;
	struct iovec iov = { (void *)p, len };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(&cm.h), fds, sizeof(int) * (size_t)nfds);
	}
	(void)sendmsg(SOCK, &mh, MSG_NOSIGNAL);
}

static void
send_msg(struct buf *b)
{
	send_raw(b->data, b->len, NULL, 0);
	buf_free(b);
}

/* Wait up to ms for the monitor's answer; report it.  An M_ROUTE's
 * fds and user are kept for the agent attacks. */
static int
await(int ms)
{
	struct pollfd p = { SOCK, POLLIN, 0 };
	uint8_t msg[IPC_MAX_MSG];
	unsigned type;
	int fds[IPC_MAX_FDS], nfds;
	struct ipc_route r;
	struct ipc_route_cert rc;
	struct cursor c;
	long n;

	if (poll(&p, 1, ms) != 1)
		return 0;
	n = ipc_recv(SOCK, msg, &type, fds, &nfds);
	if (n <= 0) {
		say("closed", "");
		return -1;
	}
	if (type == IPC_M_ROUTE) {
		cursor_init(&c, msg + 2, (size_t)n - 2);
		if (ipc_dec_route(&c, &r) == 0)
			snprintf(routed_user, sizeof(routed_user), "%s",
			    r.upstream_user);
		agent_fd = fds[1];
	}
	if (type == IPC_M_ROUTE_CERT) {
		cursor_init(&c, msg + 2, (size_t)n - 2);
		if (ipc_dec_route_cert(&c, &rc) == 0) {
			snprintf(routed_user, sizeof(routed_user), "%s",
			    rc.route.upstream_user);
			memcpy(route_cert, rc.cert, rc.cert_len);
			route_cert_len = rc.cert_len;
		}
	}
	if ((type == IPC_M_KEY_REPLY || type == IPC_M_VERIFY_REPLY) &&
	    n >= 6 && msg[5] == 0)
		say("refused", ipc_type_name(type));
	else
		say("answered", ipc_type_name(type));
	return 1;
}

/* The first exchange hash: unique per process unless the attack wants a
 * chosen one (session id replay). */
static uint8_t first_hash[IPC_MAX_HASH];

static void
sign(size_t len)
{
	uint8_t hash[IPC_MAX_HASH + 64];
	struct ipc_bytes in = { hash, len };
	struct buf b;

	memset(hash, 0x5a, sizeof(hash));
	memcpy(hash, first_hash, sizeof(first_hash));
	buf_init(&b, IPC_MAX_MSG);
	if (ipc_enc_bytes(&b, IPC_W_SIGN, &in, sizeof(hash)) != 0) {
		/* Over the encoder's bound: build it by hand. */
		buf_reset(&b);
		buf_put_u8(&b, IPC_W_SIGN >> 8);
		buf_put_u8(&b, IPC_W_SIGN & 0xff);
		buf_put_string(&b, hash, len);
	}
	send_msg(&b);
}

/* A publickey userauth request as a client would sign it. */
static void
userauth_data(struct buf *d, uint8_t sid_byte)
{
	uint8_t sid[32];
	static const uint8_t blob[] = {
		0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1',
		'9', 0, 0, 0, 32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
		14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
		30, 31, 32,
	};

	uint8_t own[sizeof(blob)];

	memcpy(sid, first_hash, sizeof(sid));
	if (sid_byte != 0)
		memset(sid, sid_byte, sizeof(sid));
	buf_put_string(d, sid, sizeof(sid));
	buf_put_u8(d, 50);
	buf_put_cstring(d, "alice@s1");
	buf_put_cstring(d, "ssh-connection");
	buf_put_cstring(d, "publickey");
	buf_put_u8(d, 1);
	buf_put_cstring(d, "ssh-ed25519");
	/* With alice's key given, her own key: the policy allows it, and
	 * only the signature is wrong. */
	memcpy(own, blob, sizeof(blob));
	if (user_key != NULL)
		memcpy(own + sizeof(blob) - 32, user_pub, 32);
	buf_put_string(d, own, sizeof(own));
}

static void
verify(uint8_t sid_byte)
{
	uint8_t sig[64];
	struct buf d, b;
	struct ipc_verify v;

	memset(sig, 0x11, sizeof(sig));
	buf_init(&d, IPC_MAX_SIGNED);
	userauth_data(&d, sid_byte);
	v.sig = sig;
	v.sig_len = sizeof(sig);
	v.data = d.data;
	v.data_len = d.len;
	buf_init(&b, IPC_MAX_MSG);
	(void)ipc_enc_verify(&b, &v);
	send_msg(&b);
	buf_free(&d);
}

/* An RSA key blob of 16384 bits (2071 bytes): over IPC_MAX_BLOB, and
 * larger than any key the gateway accepts. */
static void
rsa16384_blob(struct buf *b)
{
	static uint8_t n[1 + 2048];
	static const uint8_t e[] = { 1, 0, 1 };

	memset(n, 0xc5, sizeof(n));
	n[0] = 0;
	buf_put_cstring(b, "ssh-rsa");
	buf_put_string(b, e, sizeof(e));
	buf_put_string(b, n, sizeof(n));
}

/* A key query, or a signed request, holding that blob: an honest worker
 * refuses such a key itself and never sends it. */
static void
oversized_key(int signed_request)
{
	uint8_t sig[256], sid[32];
	struct buf k, d, b;

	buf_init(&k, IPC_MAX_SIGNED);
	rsa16384_blob(&k);
	buf_init(&b, IPC_MAX_MSG);
	buf_put_u8(&b, 0);
	if (!signed_request) {
		/* By hand: the encoder refuses a blob over its bound. */
		buf_put_u8(&b, IPC_W_KEY_QUERY);
		buf_put_cstring(&b, "alice@s1");
		buf_put_string(&b, k.data, k.len);
	} else {
		memcpy(sid, first_hash, sizeof(sid));
		buf_init(&d, IPC_MAX_SIGNED);
		buf_put_string(&d, sid, sizeof(sid));
		buf_put_u8(&d, 50);
		buf_put_cstring(&d, "alice@s1");
		buf_put_cstring(&d, "ssh-connection");
		buf_put_cstring(&d, "publickey");
		buf_put_u8(&d, 1);
		buf_put_cstring(&d, "rsa-sha2-256");
		buf_put_string(&d, k.data, k.len);
		memset(sig, 0x11, sizeof(sig));
		buf_put_u8(&b, IPC_W_VERIFY);
		buf_put_string(&b, sig, sizeof(sig));
		buf_put_string(&b, d.data, d.len);
		buf_free(&d);
	}
	send_msg(&b);
	buf_free(&k);
}

static void
empty(unsigned type)
{
	struct buf b;

	buf_init(&b, IPC_MAX_MSG);
	(void)ipc_enc_empty(&b, type);
	send_msg(&b);
}

/* The user's key from 64 hex digits (the Ed25519 seed). */
static int
load_user_key(const char *hex)
{
	uint8_t seed[32];
	size_t i, publen = sizeof(user_pub);
	unsigned v;

	if (strlen(hex) != 64)
		return -1;
	for (i = 0; i < sizeof(seed); i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		seed[i] = (uint8_t)v;
	}
	user_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    sizeof(seed));
	if (user_key == NULL || EVP_PKEY_get_raw_public_key(user_key,
	    user_pub, &publen) != 1)
		return -1;
	return 0;
}

/* An SSH key blob: string type, string raw public key. */
static void
ed25519_blob(struct buf *b, const uint8_t *pub)
{
	struct buf k;

	buf_init(&k, 128);
	buf_put_cstring(&k, "ssh-ed25519");
	buf_put_string(&k, pub, 32);
	buf_put_string(b, k.data, k.len);
	buf_free(&k);
}

/* When set, signed_request() makes the publickey-hostbound-v00@openssh.com
 * form, bound to this host key blob (what OpenSSH clients sign when the
 * server offers publickey-hostbound@openssh.com, as libssh 0.12 does). */
static const uint8_t *bound_key;
static size_t bound_key_len;

/* Host key blobs for the Studio leg's hostbound requests: run.sh pins the
 * first (SHA256 of "ssh-ed25519" and 32 x 0x42) as s1's
 * host_key_fingerprint; the second is any other key. */
static uint8_t studio_pinned[4 + 11 + 4 + 32], studio_other[4 + 11 + 4 + 32];

static void
fixed_ed25519_blob(uint8_t *out, uint8_t fill)
{
	static const uint8_t head[] = { 0, 0, 0, 11, 's', 's', 'h', '-', 'e',
	    'd', '2', '5', '5', '1', '9', 0, 0, 0, 32 };

	memcpy(out, head, sizeof(head));
	memset(out + sizeof(head), fill, 32);
}

/* The algorithm signed_request() names: a certificate login names the
 * certificate's. */
static const char *req_algo = "ssh-ed25519";

/* The publickey userauth request a client signs (RFC 4252, 7). */
static void
signed_request(struct buf *d, const uint8_t *sid, size_t sidlen,
    const char *user, const uint8_t *blob, size_t bloblen)
{
	buf_put_string(d, sid, sidlen);
	buf_put_u8(d, 50);
	buf_put_cstring(d, user);
	buf_put_cstring(d, "ssh-connection");
	buf_put_cstring(d, bound_key != NULL ?
	    "publickey-hostbound-v00@openssh.com" : "publickey");
	buf_put_u8(d, 1);
	buf_put_cstring(d, req_algo);
	buf_put_string(d, blob, bloblen);
	if (bound_key != NULL)
		buf_put_string(d, bound_key, bound_key_len);
}

/* W_ROUTE with a login key blob whose key is publen bytes (32: a
 * well-formed Ed25519 blob) of the attack line's key, or random. */
static void
route_with_key(size_t publen)
{
	struct ipc_route_req q;
	uint8_t pub[64];
	struct buf blob, b;

	if (have_login_pub)
		memcpy(pub, login_pub, 32);
	else
		(void)RAND_bytes(pub, sizeof(pub));
	buf_init(&blob, 256);
	buf_put_cstring(&blob, "ssh-ed25519");
	buf_put_string(&blob, pub, publen);
	q.key_blob = blob.data;
	q.key_blob_len = blob.len;
	buf_init(&b, IPC_MAX_MSG);
	(void)ipc_enc_route_req(&b, &q);
	send_msg(&b);
	buf_free(&blob);
}

/* Log in as alice@<login_session> for real and, if route, ask for the
 * route: returns 0 once authenticated and routed (M_ROUTE with the agent
 * socket, or M_ROUTE_CERT with a certificate).  With attack_verify, the
 * signed login itself is the attack: "attack" is said once the host-key
 * signature is answered. */
static int
genuine_login_as(int route, int attack_verify)
{
	uint8_t sig[64];
	size_t siglen = sizeof(sig);
	struct buf blob, d, b;
	struct ipc_verify v;
	EVP_MD_CTX *ctx;
	int ok;

	sign(32);
	if (await(3000) != 1)
		return -1;
	if (attack_verify)
		say("attack", "");
	buf_init(&blob, 256);
	ed25519_blob(&blob, user_pub);
	buf_init(&d, IPC_MAX_SIGNED);
	/* The blob inside the request is the key itself, without the outer
	 * length ed25519_blob() put in front. */
	{
		char login[IPC_MAX_NAME + 8];

		snprintf(login, sizeof(login), "alice@%s", login_session);
		signed_request(&d, first_hash, 32, login, blob.data + 4,
		    blob.len - 4);
	}
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL &&
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, user_key) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, d.data, d.len) == 1;
	EVP_MD_CTX_free(ctx);
	buf_free(&blob);
	if (!ok) {
		buf_free(&d);
		return -1;
	}
	v.sig = sig;
	v.sig_len = siglen;
	v.data = d.data;
	v.data_len = d.len;
	buf_init(&b, IPC_MAX_MSG);
	(void)ipc_enc_verify(&b, &v);
	send_msg(&b);
	buf_free(&d);
	if (await(3000) != 1)
		return -1;
	if (!route)
		return 0;
	route_with_key(32);
	if (await(5000) != 1 || (agent_fd == -1 && route_cert_len == 0))
		return -1;
	return 0;
}

/*
 * A user certificate for alice's key, naming principal, whose signature
 * key is run.sh's trusted CA (32 x 0x43 as its public key: nobody holds
 * the private half) and whose "signature" is 64 bytes of junk: what a
 * worker that wants in without the CA would forward.
 */
static void
forged_user_cert(struct buf *c, const char *principal)
{
	uint8_t ca[4 + 11 + 4 + 32], junk[64];
	struct buf p, sig;

	buf_put_cstring(c, "ssh-ed25519-cert-v01@openssh.com");
	memset(junk, 0x5c, sizeof(junk));
	buf_put_string(c, junk, 32);			/* nonce */
	buf_put_string(c, user_pub, 32);
	buf_put_u64(c, 7);				/* serial */
	buf_put_u32(c, 1);				/* user */
	buf_put_cstring(c, "hostile");
	buf_init(&p, 256);
	buf_put_cstring(&p, principal);
	buf_put_string(c, p.data, p.len);
	buf_free(&p);
	buf_put_u64(c, 0);
	buf_put_u64(c, UINT64_MAX);
	buf_put_string(c, junk, 0);			/* critical options */
	buf_put_string(c, junk, 0);			/* extensions */
	buf_put_string(c, junk, 0);			/* reserved */
	fixed_ed25519_blob(ca, 0x43);
	buf_put_string(c, ca, sizeof(ca));
	buf_init(&sig, 128);
	buf_put_cstring(&sig, "ssh-ed25519");
	memset(junk, 0x11, sizeof(junk));
	buf_put_string(&sig, junk, sizeof(junk));
	buf_put_string(c, sig.data, sig.len);
	buf_free(&sig);
}

/* A login as alice@s1 with that certificate, the userauth request truly
 * signed by alice's key: only the certificate is a lie. */
static void
forged_cert_login(const char *principal)
{
	uint8_t sig[64];
	size_t siglen = sizeof(sig);
	struct buf cert, d, b;
	struct ipc_verify v;
	EVP_MD_CTX *ctx;

	buf_init(&cert, IPC_MAX_BLOB);
	forged_user_cert(&cert, principal);
	buf_init(&d, IPC_MAX_SIGNED);
	req_algo = "ssh-ed25519-cert-v01@openssh.com";
	signed_request(&d, first_hash, 32, "alice@s1", cert.data, cert.len);
	req_algo = "ssh-ed25519";
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, user_key) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, d.data, d.len) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	v.sig = sig;
	v.sig_len = siglen;
	v.data = d.data;
	v.data_len = d.len;
	buf_init(&b, IPC_MAX_MSG);
	(void)ipc_enc_verify(&b, &v);
	send_msg(&b);
	buf_free(&d);
	buf_free(&cert);
}

static int
genuine_login(int route)
{
	return genuine_login_as(route, 0);
}

/* One agent protocol message (uint32 length, body) to the monitor. */
static void
agent_send(const struct buf *body)
{
	struct buf m;

	buf_init(&m, body->len + 4);
	buf_put_string(&m, body->data, body->len);
	(void)send(agent_fd, m.data, m.len, MSG_NOSIGNAL);
	buf_free(&m);
}

/* Report the agent's answer: "agent answered N" or "closed". */
static int
agent_await(int ms)
{
	struct pollfd p = { agent_fd, POLLIN, 0 };
	uint8_t reply[8192];
	char type[16];
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return 0;
	n = recv(agent_fd, reply, sizeof(reply), 0);
	if (n < 5) {
		say("closed", "");
		return -1;
	}
	snprintf(type, sizeof(type), "%u", reply[4]);
	say("agent answered", type);
	return 1;
}

/* An agent SIGN_REQUEST (type 13) for key, over data. */
static void
agent_sign(const uint8_t *key, size_t keylen, const struct buf *data)
{
	struct buf body;

	buf_init(&body, 8192);
	buf_put_u8(&body, 13);
	buf_put_string(&body, key, keylen);
	buf_put_string(&body, data->data, data->len);
	buf_put_u32(&body, 0);
	agent_send(&body);
	buf_free(&body);
}

/* The request libssh would have the agent sign for the Studio, for user
 * and a session id of the Studio connection (which the monitor cannot
 * know: it checks everything else). */
static void
agent_sign_userauth(const char *user)
{
	uint8_t sid[32];
	struct buf d;

	memset(sid, 0x33, sizeof(sid));
	buf_init(&d, IPC_MAX_SIGNED);
	signed_request(&d, sid, sizeof(sid), user, gw_blob, gw_blob_len);
	agent_sign(gw_blob, gw_blob_len, &d);
	buf_free(&d);
}

/* A channel record (W_AUDIT) as the relay sends it. */
static void
channel_event(uint32_t event, uint32_t id, const char *type, uint64_t bytes)
{
	struct ipc_audit a;
	struct buf b;

	memset(&a, 0, sizeof(a));
	a.event = event;
	a.channel = id;
	snprintf(a.kind, sizeof(a.kind), "%s", type);
	a.bytes_in = bytes;
	a.exit_status = -1;
	a.end = event == IPC_AUDIT_CHANNEL_CLOSE ? IPC_END_CLOSED :
	    IPC_END_NONE;
	buf_init(&b, IPC_MAX_MSG);
	(void)ipc_enc_audit(&b, &a);
	send_msg(&b);
}

/* Lies about the connection's channels, which the monitor records for
 * the audit log; 0 if name is not one of them. */
static int
attack_channels(const char *name)
{
	int i;

	if (strcmp(name, "channel-close-unknown") == 0)
		channel_event(IPC_AUDIT_CHANNEL_CLOSE, 7, "session", 0);
	else if (strcmp(name, "channel-open-twice") == 0) {
		channel_event(IPC_AUDIT_CHANNEL_OPEN, 0, "session", 0);
		channel_event(IPC_AUDIT_CHANNEL_OPEN, 0, "session", 0);
	} else if (strcmp(name, "channel-bad-type") == 0)
		channel_event(IPC_AUDIT_CHANNEL_OPEN, 0, "x11", 0);
	else if (strcmp(name, "channel-backwards") == 0) {
		channel_event(IPC_AUDIT_CHANNEL_OPEN, 0, "session", 0);
		channel_event(IPC_AUDIT_CHANNEL_PROGRESS, 0, "session", 100);
		channel_event(IPC_AUDIT_CHANNEL_PROGRESS, 0, "session", 50);
	} else if (strcmp(name, "channel-too-many") == 0) {
		for (i = 0; i <= IPC_MAX_CHANNELS; i++)
			channel_event(IPC_AUDIT_CHANNEL_OPEN, (uint32_t)i,
			    "direct-tcpip", 0);
	} else if (strcmp(name, "channel-then-die") == 0) {
		/* Not an attack: a worker that dies with a channel open.
		 * The monitor closes its record with the bytes last
		 * reported. */
		channel_event(IPC_AUDIT_CHANNEL_OPEN, 5, "session", 0);
		channel_event(IPC_AUDIT_CHANNEL_PROGRESS, 5, "session", 12345);
		usleep(200000);
		_exit(1);
	} else
		return 0;
	await(3000);
	return 1;
}

/*
 * bench/authcpu.sh: "bench-KIND" sends MON_MAX_VERIFIES signed login
 * attempts with a wrong signature of the right size, over this
 * connection's session id, waiting for each answer.  KIND:
 *   none        no attempt (the connection's own cost)
 *   ed-user     alice's Ed25519 key (registered: verified, bad-signature)
 *   ed-other    another Ed25519 key (key-not-registered)
 *   rsaB-user   user "rsa" with the B-bit key bench_rsa_blob() makes,
 *               which bench/authcpu.sh registers (verified)
 *   rsaB-other  alice with that key (key-not-registered)
 * B is 8192 or 16000 (over the table's bound: refused, bad-key).
 */
static void
bench_rsa_blob(struct buf *b, unsigned bits)
{
	static uint8_t n[1 + 2048];
	size_t nlen = bits / 8;
	struct buf k;

	/* 0x00 (positive mpint), 0xc0, 0x5a..., 0x5b: bits bits, odd.  The
	 * same in bench/authcpu.sh. */
	n[0] = 0;
	n[1] = 0xc0;
	memset(n + 2, 0x5a, nlen - 2);
	n[nlen] = 0x5b;
	buf_init(&k, 4096);
	buf_put_cstring(&k, "ssh-rsa");
	buf_put_string(&k, (const uint8_t *)"\x01\x00\x01", 3);
	buf_put_string(&k, n, nlen + 1);
	buf_put(b, k.data, k.len);
	buf_free(&k);
}

static void
bench(const char *kind)
{
	static uint8_t sig[2048];
	struct buf blob, d, b;
	struct ipc_verify v;
	const char *user = "alice@s1", *algo = "ssh-ed25519";
	size_t siglen = 64;
	unsigned bits = 0;
	int i;

	sign(32);
	if (await(3000) != 1 || strcmp(kind, "none") == 0)
		return;
	buf_init(&blob, 4096);
	if (strncmp(kind, "rsa", 3) == 0) {
		bits = (unsigned)atoi(kind + 3);
		if (bits != 8192 && bits != 16000) {
			say("bad kind", kind);
			return;
		}
		bench_rsa_blob(&blob, bits);
		algo = "rsa-sha2-256";
		siglen = bits / 8;
		if (strstr(kind, "-user") != NULL)
			user = "rsa@s1";
	} else {
		buf_put_cstring(&blob, "ssh-ed25519");
		if (strcmp(kind, "ed-user") == 0 && user_key != NULL)
			buf_put_string(&blob, user_pub, 32);
		else
			buf_put_string(&blob, (const uint8_t *)
			    "0123456789abcdef0123456789abcdef", 32);
	}
	/* Below the modulus, as a real signature is. */
	memset(sig, 0x3c, sizeof(sig));
	for (i = 0; i < 16; i++) {	/* MON_MAX_VERIFIES */
		buf_init(&d, IPC_MAX_SIGNED);
		buf_put_string(&d, first_hash, 32);
		buf_put_u8(&d, 50);
		buf_put_cstring(&d, user);
		buf_put_cstring(&d, "ssh-connection");
		buf_put_cstring(&d, "publickey");
		buf_put_u8(&d, 1);
		buf_put_cstring(&d, algo);
		buf_put_string(&d, blob.data, blob.len);
		v.sig = sig;
		v.sig_len = siglen;
		v.data = d.data;
		v.data_len = d.len;
		buf_init(&b, IPC_MAX_MSG);
		(void)ipc_enc_verify(&b, &v);
		send_msg(&b);
		buf_free(&d);
		if (await(3000) != 1)
			break;
	}
	buf_free(&blob);
}

/* Attacks on the route and the monitor's agent, after a genuine login. */
static void
attack_routed(const char *name)
{
	struct buf b;
	int i;

	if (strcmp(name, "route-other-studio") == 0) {
		/* W_ROUTE names no target: the monitor routes to what it
		 * verified.  A worker that names another Studio anyway sends
		 * a W_ROUTE with a body. */
		if (genuine_login(0) != 0) {
			say("genuine login failed", "");
			return;
		}
		say("attack", "");
		buf_init(&b, IPC_MAX_MSG);
		(void)ipc_enc_empty(&b, IPC_W_ROUTE);
		buf_put_cstring(&b, "s2");
		buf_put_cstring(&b, "bob");
		send_msg(&b);
		await(3000);
		return;
	}
	if (strcmp(name, "route-bad-key") == 0) {
		/* A login key that is not an Ed25519 public key: here a
		 * 31-byte "key" in an ssh-ed25519 blob. */
		if (genuine_login(0) != 0) {
			say("genuine login failed", "");
			return;
		}
		say("attack", "");
		route_with_key(31);
		await(3000);
		return;
	}
	if (strcmp(name, "route-hostbound-other-key") == 0) {
		/* A login signature bound to a host key that is not the
		 * gateway's: the client was talking to someone else. */
		fixed_ed25519_blob(studio_other, 0x43);
		bound_key = studio_other;
		bound_key_len = sizeof(studio_other);
		(void)genuine_login_as(1, 1);
		return;
	}
	if (strcmp(name, "route-hostbound-ok") == 0) {
		/* The legal use with libssh 0.12 on both legs: a hostbound
		 * login bound to the gateway key, and a hostbound upstream
		 * signature bound to the pinned Studio key. */
		bound_key = gw_blob;
		bound_key_len = gw_blob_len;
		if (genuine_login(1) != 0) {
			say("genuine login failed", "");
			return;
		}
		fixed_ed25519_blob(studio_pinned, 0x42);
		bound_key = studio_pinned;
		bound_key_len = sizeof(studio_pinned);
		agent_sign_userauth(routed_user);
		agent_await(3000);
		return;
	}
	if (strcmp(name, "route-then-close") == 0) {
		/* Ask for a route to a Studio that never answers the TCP
		 * handshake, close the IPC socket, and live on: the monitor
		 * must kill it for that, not take its closed socket for a
		 * death, nor its route's failure for its fault. */
		snprintf(login_session, sizeof(login_session), "bh");
		if (genuine_login(0) != 0) {
			say("genuine login failed", "");
			return;
		}
		route_with_key(32);
		say("attack", "");
		close(SOCK);
		sleep(30);
		return;
	}
	if (genuine_login(1) != 0) {
		say("genuine login failed", "");
		return;
	}
	if (strcmp(name, "route-done-then-close") == 0) {
		/* Routed, with nothing left to ask: close the IPC socket and
		 * go on holding the client.  The monitor can no longer stop
		 * it through the protocol, so it must kill it. */
		say("attack", "");
		close(SOCK);
		sleep(30);
		return;
	}
	if (strcmp(name, "route-cert-steal") == 0) {
		/* What a compromised worker holds after a certificate-mode
		 * route: the certificate (and its own key), no agent.  The
		 * harness tries them on another Studio. */
		char b64[IPC_MAX_BLOB * 2];

		say("agent", agent_fd == -1 ? "none" : "given");
		if (route_cert_len > 0 && EVP_EncodeBlock((unsigned char *)b64,
		    route_cert, (int)route_cert_len) > 0)
			say("cert", b64);
		return;
	}
	if (strcmp(name, "agent-ok") == 0) {
		/* The legal use: identities, then one upstream signature. */
		buf_init(&b, 16);
		buf_put_u8(&b, 11);
		agent_send(&b);
		buf_free(&b);
		agent_await(3000);
		agent_sign_userauth(routed_user);
		agent_await(3000);
		return;
	}
	say("attack", "");
	if (attack_channels(name))
		return;
	if (strcmp(name, "route-twice") == 0) {
		empty(IPC_W_ROUTE);
		await(3000);
	} else if (strcmp(name, "agent-arbitrary") == 0) {
		buf_init(&b, 256);
		buf_put(&b, "any data the attacker wants signed", 34);
		agent_sign(gw_blob, gw_blob_len, &b);
		buf_free(&b);
		agent_await(3000);
	} else if (strcmp(name, "agent-hostbound-unpinned") == 0) {
		fixed_ed25519_blob(studio_other, 0x43);
		bound_key = studio_other;
		bound_key_len = sizeof(studio_other);
		agent_sign_userauth(routed_user);
		agent_await(3000);
	} else if (strcmp(name, "agent-other-user") == 0) {
		agent_sign_userauth("root");
		agent_await(3000);
	} else if (strcmp(name, "agent-other-key") == 0) {
		struct buf blob, d;

		buf_init(&blob, 256);
		ed25519_blob(&blob, user_pub);
		buf_init(&d, IPC_MAX_SIGNED);
		signed_request(&d, first_hash, 32, routed_user,
		    blob.data + 4, blob.len - 4);
		agent_sign(blob.data + 4, blob.len - 4, &d);
		buf_free(&d);
		buf_free(&blob);
		agent_await(3000);
	} else if (strcmp(name, "agent-too-many") == 0) {
		for (i = 0; i < 10; i++) {
			agent_sign_userauth(routed_user);
			if (agent_await(3000) < 0)
				break;
		}
	} else if (strcmp(name, "agent-flood") == 0) {
		/* Thousands of identity requests, never reading an answer:
		 * once froze the monitor in write() on a blocking socket. */
		buf_init(&b, 5 * 5000);
		for (i = 0; i < 5000; i++) {
			buf_put_u32(&b, 1);
			buf_put_u8(&b, 11);
		}
		(void)send(agent_fd, b.data, b.len, MSG_NOSIGNAL);
		buf_free(&b);
		await(3000);
	} else if (strcmp(name, "agent-wrong-type") == 0) {
		buf_init(&b, 16);
		buf_put_u8(&b, 17);		/* ADD_IDENTITY */
		agent_send(&b);
		buf_free(&b);
		agent_await(3000);
	} else if (strcmp(name, "agent-oversized") == 0) {
		uint8_t hdr[4] = { 0, 1, 0x86, 0xa0 };	/* 100000 */

		(void)send(agent_fd, hdr, sizeof(hdr), MSG_NOSIGNAL);
		agent_await(3000);
	} else
		say("unknown attack", name);
}

static void
attack(const char *name)
{
	uint8_t raw[IPC_MAX_MSG + 512];
	struct buf b;
	int i, fd;

	if (strcmp(name, "sign-not-a-hash") == 0) {
		sign(20);			/* no exchange hash is 20 bytes */
		await(3000);
	} else if (strcmp(name, "sign-then-close") == 0) {
		/* A legal request, then the IPC socket closed before its
		 * answer, and the worker lives on: the answer finds the end
		 * closed (EPIPE), which is no reason of its own, and the
		 * grace for a closed socket kills the worker. */
		sign(32);
		close(SOCK);
		sleep(30);
	} else if (strcmp(name, "sign-too-fast") == 0) {
		/* 300 requests at once, answers read after: the monitor
		 * serves them back to back, far faster than
		 * MON_KEX_SIGN_RATE refills past MON_KEX_SIGN_BURST. */
		for (i = 0; i < 300; i++)
			sign(32);
		while (await(3000) > 0)
			;
	} else if (strncmp(name, "kex-", 4) == 0) {
		/* W_KEX lies, after a genuine first key exchange (a 32-byte
		 * session id). */
		struct ipc_kex k;

		memset(&k, 0, sizeof(k));
		k.leg = IPC_KEX_CLIENT;
		snprintf(k.kex, sizeof(k.kex), "curve25519-sha256");
		snprintf(k.cipher, sizeof(k.cipher), "aes128-ctr");
		snprintf(k.mac, sizeof(k.mac), "hmac-sha2-256-etm@openssh.com");
		if (strcmp(name, "kex-unlisted") == 0)
			snprintf(k.kex, sizeof(k.kex), "diffie-hellman-group1-sha1");
		else if (strcmp(name, "kex-hash-length") == 0)
			snprintf(k.kex, sizeof(k.kex), "sntrup761x25519-sha512");
		else if (strcmp(name, "kex-aead-mac") == 0)
			snprintf(k.cipher, sizeof(k.cipher),
			    "aes128-gcm@openssh.com");
		else if (strcmp(name, "kex-studio-leg") == 0)
			k.leg = IPC_KEX_STUDIO;
		sign(32);
		await(3000);
		buf_init(&b, IPC_MAX_MSG);
		if (ipc_enc_kex(&b, &k) == 0)
			send_msg(&b);
		buf_free(&b);
		if (strcmp(name, "kex-twice") == 0) {
			buf_init(&b, IPC_MAX_MSG);
			if (ipc_enc_kex(&b, &k) == 0)
				send_msg(&b);
			buf_free(&b);
		}
		/* A hash of another length than the method's. */
		if (strcmp(name, "kex-then-sign-64") == 0) {
			say("attack", "");
			sign(64);
		}
		await(3000);
	} else if (strcmp(name, "sign-steady") == 0) {
		/* 150 key exchanges, one every 10 ms (100 a second): a
		 * legitimate if eager rekeyer, past the old lifetime
		 * count of 64.  Every one must be answered. */
		for (i = 0; i < 150; i++) {
			sign(32);
			if (await(3000) != 1)
				break;
			usleep(10000);
		}
		{
			char n[16];

			snprintf(n, sizeof(n), "%d", i);
			say("signed", n);
		}
	} else if (strcmp(name, "route-before-auth") == 0) {
		sign(32);
		await(3000);
		say("attack", "");
		empty(IPC_W_ROUTE);
		await(3000);
	} else if (strcmp(name, "key-query-before-kex") == 0) {
		struct ipc_key_query q = { "alice@s1", (const uint8_t *)"x", 1 };
		buf_init(&b, IPC_MAX_MSG);
		(void)ipc_enc_key_query(&b, &q);
		send_msg(&b);
		await(3000);
	} else if (strcmp(name, "verify-unsigned-session") == 0) {
		sign(32);			/* session id: 32 x 0x5a */
		await(3000);
		say("attack", "");
		verify(0x77);			/* bound to another id */
		await(3000);
	} else if (strcmp(name, "key-query-oversized-key") == 0 ||
	    strcmp(name, "verify-oversized-key") == 0) {
		sign(32);
		await(3000);
		say("attack", "");
		oversized_key(name[0] == 'v');
		await(3000);
	} else if (strcmp(name, "drain-refused") == 0) {
		/* Not an attack: an honest worker's last messages, a refusal
		 * between two log lines, sent as it exits.  The harness
		 * stops the monitor meanwhile, so the monitor finds the
		 * worker ended with them unread: its drain must take them
		 * all in (the refusal is a denial the audit log must get). */
		struct ipc_refused r;
		struct ipc_log before = { 2, "drain: a line before the refusal" };
		struct ipc_log after = { 2, "drain: a line after the refusal" };
		char go[8];

		sign(32);
		await(3000);
		say("ready", "");
		if (recv(client, go, sizeof(go), 0) <= 0)
			return;
		memset(&r, 0, sizeof(r));
		snprintf(r.user, sizeof(r.user), "alice@s1");
		r.reason = IPC_REFUSED_KEY_TOO_LARGE;
		snprintf(r.key_fp, sizeof(r.key_fp), "SHA256:%s",
		    "DRAINDRAINDRAINDRAINDRAINDRAINDRAINDRAINDRA");
		buf_init(&b, IPC_MAX_MSG);
		(void)ipc_enc_log(&b, &before);
		send_msg(&b);
		buf_init(&b, IPC_MAX_MSG);
		(void)ipc_enc_refused(&b, &r);
		send_msg(&b);
		buf_init(&b, IPC_MAX_MSG);
		(void)ipc_enc_log(&b, &after);
		send_msg(&b);
		_exit(1);
	} else if (strncmp(name, "refused-", 8) == 0) {
		/* IPC_W_REFUSED: what an honest worker sends for a key too
		 * large for the IPC; here out of state, with a fingerprint
		 * that is not one, or without end. */
		struct ipc_refused r;

		memset(&r, 0, sizeof(r));
		snprintf(r.user, sizeof(r.user), "alice@s1");
		r.reason = IPC_REFUSED_KEY_TOO_LARGE;
		snprintf(r.key_fp, sizeof(r.key_fp), "SHA256:%s",
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
		if (strcmp(name, "refused-before-kex") != 0) {
			sign(32);
			await(3000);
		}
		say("attack", "");
		if (strcmp(name, "refused-bad-fp") == 0)
			snprintf(r.key_fp, sizeof(r.key_fp),
			    "SHA256:\x1b[2Jforged");
		for (i = 0; i < (strcmp(name, "refused-flood") == 0 ? 200 : 1);
		    i++) {
			buf_init(&b, IPC_MAX_MSG);
			(void)ipc_enc_refused(&b, &r);
			send_msg(&b);
		}
		await(3000);
	} else if (strcmp(name, "verify-unregistered") == 0) {
		/* A forged signature by a key alice does not have: refused
		 * by the policy before any signature check. */
		sign(32);
		await(3000);
		verify(0);
		await(3000);
	} else if (strncmp(name, "ucert-", 6) == 0) {
		/* A user certificate the CA never signed, for alice
		 * ("ucert-bad-ca-sig") or naming root ("ucert-principal"),
		 * then a claimed success. */
		if (user_key == NULL) {
			say("no key", "");
			return;
		}
		sign(32);
		await(3000);
		forged_cert_login(strcmp(name + 6, "principal") == 0 ?
		    "root" : "alice");
		await(3000);
		say("attack", "");
		empty(IPC_W_ROUTE);
		await(3000);
	} else if (strcmp(name, "claim-after-refused") == 0) {
		/* A refused signed attempt (a forged signature), then a
		 * genuine login on the same connection: with the registry,
		 * the first attempt claimed the session id already, for this
		 * connection, and the second must not find it taken. */
		sign(32);
		await(3000);
		verify(0);
		await(3000);
		if (genuine_login(0) != 0)
			say("login failed", "");
	} else if (strcmp(name, "verify-forged") == 0) {
		sign(32);
		await(3000);
		verify(0);			/* right id, forged signature */
		await(3000);
		say("attack", "");
		empty(IPC_W_ROUTE);		/* and claim success anyway */
		await(3000);
	} else if (strncmp(name, "replay-session-id", 17) == 0) {
		/* Two connections choose the same session id; the second
		 * is the replay. */
		memset(first_hash, 0x42, sizeof(first_hash));
		if (name[17] == '2')
			say("attack", "");
		sign(32);
		await(3000);
	} else if (strncmp(name, "bench-", 6) == 0) {
		bench(name + 6);
	} else if (strncmp(name, "replay-evict-", 13) == 0) {
		/*
		 * Evict, then replay: "login" logs in for real over session
		 * id X and so captures a login signature bound to X;
		 * "collide" uses an id Y with X's first two bytes (the old
		 * table kept one id per 16-bit prefix, so Y pushed X out);
		 * "replay" claims X again and re-sends the captured login
		 * (Ed25519 signs deterministically: the same signature).
		 */
		memset(first_hash, 0x61, sizeof(first_hash));
		if (strcmp(name + 13, "collide") == 0) {
			first_hash[2] = 0x62;
			sign(32);
			await(3000);
		} else if (user_key == NULL) {
			say("no key", "");
		} else {
			if (strcmp(name + 13, "replay") == 0)
				say("attack", "");
			if (genuine_login(0) != 0)
				say("login refused", "");
			else
				say("logged in", "");
		}
	} else if (strcmp(name, "truncated") == 0) {
		buf_init(&b, IPC_MAX_MSG);
		buf_put_u8(&b, IPC_W_SIGN >> 8);
		buf_put_u8(&b, IPC_W_SIGN & 0xff);
		buf_put_u32(&b, 32);		/* says 32 bytes, has 3 */
		buf_put(&b, "abc", 3);
		send_msg(&b);
		await(3000);
	} else if (strcmp(name, "oversized") == 0) {
		memset(raw, 0, sizeof(raw));
		raw[1] = IPC_W_LOG;
		send_raw(raw, sizeof(raw), NULL, 0);
		await(3000);
	} else if (strcmp(name, "wrong-type") == 0) {
		raw[0] = 0x03;
		raw[1] = 0xe7;			/* 999 */
		send_raw(raw, 2, NULL, 0);
		await(3000);
	} else if (strcmp(name, "monitor-type") == 0) {
		struct ipc_flag f = { 1 };	/* a monitor->worker type */
		buf_init(&b, IPC_MAX_MSG);
		(void)ipc_enc_flag(&b, IPC_M_KEY_REPLY, &f);
		send_msg(&b);
		await(3000);
	} else if (strcmp(name, "proxy-unasked") == 0) {
		/* Claim another client address on a direct connection. */
		struct ipc_proxy p;

		memset(&p, 0, sizeof(p));
		p.status = IPC_PROXY_CLIENT;
		p.family = 4;
		p.addr[0] = 198; p.addr[1] = 51; p.addr[2] = 100; p.addr[3] = 7;
		p.port = 22;
		buf_init(&b, IPC_MAX_MSG);
		(void)ipc_enc_proxy(&b, &p);
		send_msg(&b);
		await(3000);
	} else if (strcmp(name, "ready-twice") == 0) {
		empty(IPC_W_READY);
		await(3000);
	} else if (strcmp(name, "extra-fd") == 0) {
		struct ipc_log l = { 2, "with an fd" };
		fd = dup(0);
		buf_init(&b, IPC_MAX_MSG);
		(void)ipc_enc_log(&b, &l);
		send_raw(b.data, b.len, &fd, 1);
		buf_free(&b);
		await(3000);
	} else if (strcmp(name, "log-flood") == 0) {
		struct ipc_log l = { 2, "flood" };
		for (i = 0; i < 100000; i++) {
			buf_init(&b, IPC_MAX_MSG);
			(void)ipc_enc_log(&b, &l);
			send_msg(&b);
		}
		/* Still served after the flood: a legal request. */
		sign(32);
		await(10000);
	} else if (strcmp(name, "log-flood-malformed") == 0) {
		/* Past the rate, where lines are dropped: a malformed one is
		 * still decoded, and kills. */
		struct ipc_log l = { 2, "flood" };
		for (i = 0; i < 1000; i++) {
			buf_init(&b, IPC_MAX_MSG);
			(void)ipc_enc_log(&b, &l);
			send_msg(&b);
		}
		buf_init(&b, IPC_MAX_MSG);
		buf_put_u8(&b, IPC_W_LOG >> 8);
		buf_put_u8(&b, IPC_W_LOG & 0xff);
		buf_put_u32(&b, 9);		/* no such level */
		buf_put_u32(&b, 5);
		buf_put(&b, "flood", 5);
		send_msg(&b);
		await(3000);
	} else if (strcmp(name, "stall") == 0) {
		/* Never finish the login, and never time out by itself. */
		sleep(60);
	} else if (strcmp(name, "hold") == 0) {
		/* Stay connected; on "sign" from the client, make one legal
		 * request, to show the monitor still serves this worker. */
		char cmd[16];
		ssize_t n;

		while ((n = recv(client, cmd, sizeof(cmd) - 1, 0)) > 0) {
			cmd[n] = '\0';
			if (strncmp(cmd, "sign", 4) == 0) {
				sign(32);
				await(3000);
			}
		}
	} else if (strncmp(name, "agent-", 6) == 0 ||
	    strncmp(name, "route-", 6) == 0 ||
	    strncmp(name, "channel-", 8) == 0) {
		attack_routed(name);
	} else
		say("unknown attack", name);
}

int
main(void)
{
	uint8_t msg[IPC_MAX_MSG];
	unsigned type;
	int fds[IPC_MAX_FDS], nfds;
	char name[256], *key;
	struct ipc_init init;
	struct cursor c;
	long n;
	size_t len = 0;

	if ((n = ipc_recv(SOCK, msg, &type, fds, &nfds)) <= 0 ||
	    type != IPC_M_INIT)
		return 2;
	cursor_init(&c, msg + 2, (size_t)n - 2);
	if (ipc_dec_init(&c, &init) != 0 ||
	    init.hostkey_blob_len > sizeof(gw_blob))
		return 2;
	memcpy(gw_blob, init.hostkey_blob, init.hostkey_blob_len);
	gw_blob_len = init.hostkey_blob_len;
	empty(IPC_W_READY);
	if (ipc_recv(SOCK, msg, &type, fds, &nfds) <= 0 ||
	    type != IPC_M_CLIENT || nfds != 1)
		return 2;
	client = fds[0];
	/* A session id of our own, as a real exchange hash would be. */
	if (getentropy(first_hash, sizeof(first_hash)) != 0)
		return 2;
	while (len < sizeof(name) - 1 &&
	    (n = recv(client, name + len, 1, 0)) == 1 && name[len] != '\n')
		len++;
	name[len] = '\0';
	if ((key = strchr(name, ' ')) != NULL) {
		char *pub, *sess;
		unsigned v;
		size_t i;

		*key++ = '\0';
		/* "NAME SEED [LOGINPUB SESSION]": the login key's public half
		 * (64 hex digits) and the Studio session to log in to. */
		if ((pub = strchr(key, ' ')) != NULL) {
			*pub++ = '\0';
			if ((sess = strchr(pub, ' ')) == NULL ||
			    (size_t)(sess - pub) != 64) {
				say("bad login key", "");
				return 2;
			}
			*sess++ = '\0';
			for (i = 0; i < 32; i++) {
				if (sscanf(pub + 2 * i, "%2x", &v) != 1)
					return 2;
				login_pub[i] = (uint8_t)v;
			}
			have_login_pub = 1;
			snprintf(login_session, sizeof(login_session), "%s",
			    sess);
		}
		if (load_user_key(key) != 0) {
			say("bad key", "");
			return 2;
		}
	}
	attack(name);
	say("done", "");
	return 0;
}
