/*
 * agent.c - the monitor answers the worker's ssh-agent socket.
 *
 * The worker authenticates to its Studio with libssh's agent support
 * (ssh_set_agent_socket): the other end of that socket is here.  Two
 * requests exist (draft-miller-ssh-agent): REQUEST_IDENTITIES, answered
 * with the gateway's public key, and SIGN_REQUEST, answered only for a
 * well-formed publickey userauth request by the routed upstream user with
 * the gateway key, a bounded number of times.  Anything else kills the
 * worker: an agent that signs what it is sent would be a signing oracle.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "monitor.h"
#include "sshwire.h"

static int
agent_reply(struct monitor *m, struct worker *w, const struct buf *body)
{
	struct buf out;
	ssize_t n;
	int rc = 0;

	buf_init(&out, MON_AGENT_MAX_MSG);
	buf_put_string(&out, body->data, body->len);
	/* Replies are small and the worker waits for each: a full socket
	 * (the socket is non-blocking, so the monitor never waits on it)
	 * means the worker is not reading its answers. */
	n = buf_ok(&out) == 0 ? write(w->agent_fd, out.data, out.len) : -1;
	if (n < 0 || (size_t)n != out.len) {
		worker_kill(m, w, "agent reply failed: %s",
		    n < 0 ? strerror(errno) : "short write");
		rc = -1;
	}
	buf_free(&out);
	return rc;
}

static int
agent_identities(struct monitor *m, struct worker *w,
    const struct agent_req *r)
{
	const uint8_t *blob;
	size_t bloblen;
	struct buf b;
	int rc;

	(void)r;
	blob = hostkey_blob(m->key, &bloblen);
	buf_init(&b, MON_AGENT_MAX_MSG);
	buf_put_u8(&b, AGENT_IDENTITIES_ANSWER);
	buf_put_u32(&b, 1);
	buf_put_string(&b, blob, bloblen);
	buf_put_cstring(&b, "connect-sshd");
	rc = agent_reply(m, w, &b);
	buf_free(&b);
	return rc;
}

/*
 * The data libssh asks us to sign for the Studio (parsed by agent_parse()):
 * string session id, byte 50, string user, "ssh-connection",
 * "publickey", TRUE, algorithm, key blob; or "publickey-hostbound-v00@
 * openssh.com" and the same followed by the Studio's host key blob.
 * Everything is checked against the route.
 */
static const char *
check_sign_data(struct monitor *m, struct worker *w,
    const struct userauth_req *r)
{
	const uint8_t *blob;
	size_t bloblen;
	char fp[SSHWIRE_FP_LEN];

	if (r->session_id_len != 32 && r->session_id_len != 48 &&
	    r->session_id_len != 64)
		return "session id is not exchange-hash sized";
	if (strcmp(r->user, w->upstream_user) != 0)
		return "user is not the routed upstream user";
	if (strcmp(r->algo, "ssh-ed25519") != 0)
		return "algorithm is not ssh-ed25519";
	blob = hostkey_blob(m->key, &bloblen);
	if (r->key_blob_len != bloblen ||
	    memcmp(r->key_blob, blob, bloblen) != 0)
		return "key in signed data is not the gateway key";
	/* publickey-hostbound-v00 (libssh >= 0.12 uses it when the Studio's
	 * sshd offers it): the Studio's host key is in the signed data, so
	 * the monitor can hold it to the route's pin itself. */
	if (r->hostbound && w->host_key_pin[0] != '\0') {
		sshwire_fingerprint(r->server_key_blob, r->server_key_blob_len,
		    fp, sizeof(fp));
		if (strcmp(fp, w->host_key_pin) != 0)
			return "Studio host key in signed data is not the "
			    "pinned one";
	}
	return NULL;
}

static int
agent_sign(struct monitor *m, struct worker *w, const struct agent_req *r)
{
	const uint8_t *gw;
	size_t gwlen;
	uint8_t sig[ED25519_SIG_LEN];
	const char *why;
	struct buf b, sigblob;
	int rc;

	gw = hostkey_blob(m->key, &gwlen);
	if (r->key_blob_len != gwlen || memcmp(r->key_blob, gw, gwlen) != 0)
		why = "sign request for a key that is not the gateway key";
	else
		why = check_sign_data(m, w, &r->ua);
	if (why != NULL) {
		worker_kill(m, w, "agent sign refused: %s", why);
		return -1;
	}
	if (hostkey_sign(m->key, r->data, r->data_len, sig) != 0) {
		worker_kill(m, w, "agent sign failed");
		return -1;
	}
	buf_init(&sigblob, 256);
	buf_put_cstring(&sigblob, "ssh-ed25519");
	buf_put_string(&sigblob, sig, sizeof(sig));
	buf_init(&b, MON_AGENT_MAX_MSG);
	buf_put_u8(&b, AGENT_SIGN_RESPONSE);
	buf_put_string(&b, sigblob.data, sigblob.len);
	rc = agent_reply(m, w, &b);
	buf_free(&b);
	buf_free(&sigblob);
	debug("conn %llu: signed upstream userauth for %s",
	    (unsigned long long)w->conn_id, w->upstream_user);
	return rc;
}

/*
 * The agent's whole contract, like the dispatch table's: the requests it
 * answers, and how many of each per connection (libssh lists the
 * identities once per login attempt and signs once per attempt).
 * connect-sshd-ipc(7), AGENT PROTOCOL, lists the same table.
 */
static const struct agent_handler {
	uint8_t type;
	enum agent_counter counter;
	unsigned max;			/* per connection */
	const char *what;		/* for the kill reason */
	int (*fn)(struct monitor *, struct worker *, const struct agent_req *);
} agent_handlers[] = {
	{ AGENTC_REQUEST_IDENTITIES, AC_IDS, MON_MAX_AGENT_IDS,	"identity listings", agent_identities },
	{ AGENTC_SIGN_REQUEST,	AC_SIGNS, MON_MAX_AGENT_SIGNS,	"upstream signatures", agent_sign },
};

/* One complete request: parse, count, then act; anything else kills. */
static int
agent_request(struct monitor *m, struct worker *w, const uint8_t *msg,
    size_t len)
{
	const struct agent_handler *h = NULL;
	struct agent_req r;
	const char *why = NULL;
	size_t i;

	if (agent_parse(msg, len, &r, &why) != 0) {
		worker_kill(m, w, "agent request refused: %s", why);
		return -1;
	}
	for (i = 0; i < sizeof(agent_handlers) / sizeof(agent_handlers[0]);
	    i++)
		if (agent_handlers[i].type == r.type)
			h = &agent_handlers[i];
	if (h == NULL) {
		worker_kill(m, w, "agent request refused: request type not "
		    "permitted");
		return -1;
	}
	if (++w->nagent[h->counter] > h->max) {
		worker_kill(m, w, "agent request refused: more than %u %s",
		    h->max, h->what);
		return -1;
	}
	return h->fn(m, w, &r);
}

void
agent_readable(struct monitor *m, struct worker *w)
{
	uint8_t tmp[MON_AGENT_MAX_MSG];
	struct cursor c;
	uint32_t len;
	ssize_t n;
	size_t used;

	n = read(w->agent_fd, tmp, sizeof(tmp));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		/* The worker is done with the agent: normal. */
		close(w->agent_fd);
		w->agent_fd = -1;
		return;
	}
	if (n < 0)
		return;
	buf_put(&w->agent_in, tmp, (size_t)n);
	if (buf_ok(&w->agent_in) != 0) {
		worker_kill(m, w, "agent request over %d bytes",
		    MON_AGENT_MAX_MSG);
		return;
	}
	/* Handle every complete message; keep a partial one. */
	for (;;) {
		cursor_init(&c, w->agent_in.data, w->agent_in.len);
		if (cursor_get_u32(&c, &len) != 0)
			return;
		if (len > MON_AGENT_MAX_MSG) {
			worker_kill(m, w, "agent request of %u bytes", len);
			return;
		}
		if (len > c.left)
			return;
		if (agent_request(m, w, c.p, len) != 0)
			return;
		used = 4 + (size_t)len;
		memmove(w->agent_in.data, w->agent_in.data + used,
		    w->agent_in.len - used);
		w->agent_in.len -= used;
	}
}
