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
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ipc.h"

#define SOCK	IPC_WORKER_FD

static int client = -1;

/* One line to the client: word, then the argument if any. */
static void
say(const char *word, const char *arg)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s%s%s\n", word,
	    arg[0] ? " " : "", arg);

	if (client != -1 && n > 0)
		(void)send(client, line, (size_t)n, MSG_NOSIGNAL);
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

/* Wait up to ms for the monitor's answer; report it. */
static int
await(int ms)
{
	struct pollfd p = { SOCK, POLLIN, 0 };
	uint8_t msg[IPC_MAX_MSG];
	unsigned type;
	int fds[IPC_MAX_FDS], nfds;
	long n;

	if (poll(&p, 1, ms) != 1)
		return 0;
	n = ipc_recv(SOCK, msg, &type, fds, &nfds);
	if (n <= 0) {
		say("closed", "");
		return -1;
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
	buf_put_string(d, blob, sizeof(blob));
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

static void
empty(unsigned type)
{
	struct buf b;

	buf_init(&b, IPC_MAX_MSG);
	(void)ipc_enc_empty(&b, type);
	send_msg(&b);
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
	} else if (strcmp(name, "sign-too-many") == 0) {
		for (i = 0; i < 100; i++) {
			if (i == 64)		/* the documented bound */
				say("attack", "");
			sign(32);
			if (await(3000) < 0)
				break;
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
	} else
		say("unknown attack", name);
}

int
main(void)
{
	uint8_t msg[IPC_MAX_MSG];
	unsigned type;
	int fds[IPC_MAX_FDS], nfds;
	char name[64];
	ssize_t n;
	size_t len = 0;

	if (ipc_recv(SOCK, msg, &type, fds, &nfds) <= 0 || type != IPC_M_INIT)
		return 2;
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
	attack(name);
	say("done", "");
	return 0;
}
