/*
 * test_ipc.c - the monitor <-> worker protocol: every message through its
 * encoder and decoder (typical, empty and maximal fields), encoders that
 * refuse a field over its bound, decoders fed every truncation, a trailing
 * byte and each kind of bad string, and the transport over a real
 * SOCK_SEQPACKET socketpair, fds included, with a count of the process's
 * open fds to show that nothing a hostile peer sends is leaked.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "buf.h"
#include "ipc.h"
#include "runner.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Room for any body the tests build by hand, over-bound fields included. */
#define RAW_MAX		(2 * IPC_MAX_MSG)

/* Byte pattern for blobs; it holds NUL bytes, as real key blobs do. */
static uint8_t pat[RAW_MAX];

/*
 * An assertion with a formatted message, for checks inside loops where the
 * bare expression would not say which case failed.  The message is only
 * formatted on failure (CUnit copies it).
 */
static void check(int cond, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
check(int cond, unsigned line, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	if (cond) {
		CU_assertImplementation(CU_TRUE, line, "", __FILE__, "",
		    CU_FALSE);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	CU_assertImplementation(CU_FALSE, line, msg, __FILE__, "", CU_FALSE);
}

#define CHECK(cond, ...)	check(!!(cond), __LINE__, __VA_ARGS__)

static int
same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Does [p, p+n) lie inside [base, base+len)?  (Decoded byte strings point
 * into the received message.) */
static int
inside(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
	uintptr_t x = (uintptr_t)p, lo = (uintptr_t)base;

	return n == 0 || (x >= lo && x + n <= lo + len);
}

/*
 * Check an encoded message: encoder succeeded, length sane, the 2-byte
 * header is the type; point c at the body.
 */
static void
open_msg(int rc, const struct buf *b, unsigned type, struct cursor *c)
{
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(buf_ok(b), 0);
	CU_ASSERT_FATAL(b->len >= 2 && b->len <= IPC_MAX_MSG);
	CU_ASSERT_EQUAL(b->data[0], (type >> 8) & 0xff);
	CU_ASSERT_EQUAL(b->data[1], type & 0xff);
	cursor_init(c, b->data + 2, b->len - 2);
}

/* ------------------------------------------------------------------ */
/* Sample messages, by variant                                        */
/* ------------------------------------------------------------------ */

enum { V_TYPICAL, V_EMPTY, V_MAX, NVARIANTS };
static const char *const vname[NVARIANTS] = { "typical", "empty", "max" };

/* A C string field: a typical value, "", or size-1 copies of ch. */
static void
fill_str(char *dst, size_t size, int v, const char *typical, char ch)
{
	memset(dst, 0, size);
	if (v == V_TYPICAL)
		snprintf(dst, size, "%s", typical);
	else if (v == V_MAX)
		memset(dst, ch, size - 1);
}

/* A byte string field: a typical length, none, or max bytes. */
static void
fill_blob(const uint8_t **p, size_t *n, int v, size_t typical, size_t max,
    size_t off)
{
	*n = v == V_TYPICAL ? typical : v == V_MAX ? max : 0;
	*p = v == V_EMPTY ? NULL : pat + off;
}

static uint32_t
fill_u32(int v, uint32_t typical)
{
	return v == V_TYPICAL ? typical : v == V_MAX ? UINT32_MAX : 0;
}

/* A flag's largest value is IPC_FLAG_UNAVAILABLE, not UINT32_MAX. */
static uint32_t
fill_flag(int v)
{
	return v == V_TYPICAL ? IPC_FLAG_YES : v == V_MAX ?
	    IPC_FLAG_UNAVAILABLE : IPC_FLAG_NO;
}

static void
fill_init(struct ipc_init *m, int v)
{
	memset(m, 0, sizeof(*m));
	m->version = fill_u32(v, IPC_PROTO_VERSION);
	m->log_level = fill_u32(v, 3);
	m->flags = fill_u32(v, IPC_INIT_CHROOT | IPC_INIT_SETUID);
	m->uid = fill_u32(v, 65534);
	m->gid = fill_u32(v, 65533);
	m->login_grace_time = fill_u32(v, 120);
	m->upstream_timeout = fill_u32(v, 30);
	m->idle_timeout = fill_u32(v, 600);
	m->keepalive_interval = fill_u32(v, 60);
	m->keepalive_count_max = fill_u32(v, 3);
	m->max_auth_tries = fill_u32(v, 6);
	fill_str(m->chroot_dir, sizeof(m->chroot_dir), v, "/var/empty", 'c');
	fill_str(m->kex, sizeof(m->kex), v, "curve25519-sha256", 'x');
	fill_str(m->ciphers, sizeof(m->ciphers), v,
	    "aes128-gcm@openssh.com,aes128-ctr", 'y');
	fill_str(m->macs, sizeof(m->macs), v, "hmac-sha2-256-etm@openssh.com",
	    'z');
	fill_blob(&m->hostkey_blob, &m->hostkey_blob_len, v, 51,
	    IPC_MAX_BLOB, 0);
}

static void
fill_client(struct ipc_client *m, int v)
{
	memset(m, 0, sizeof(*m));
	m->conn_id = v == V_TYPICAL ? 0x0123456789abcdefULL :
	    v == V_MAX ? UINT64_MAX : 0;
	fill_str(m->peer, sizeof(m->peer), v, "[2001:db8::1]:52044", 'p');
	if (v != V_EMPTY) {
		m->flags = IPC_CLIENT_PROXY;
		m->proxy_timeout = v == V_MAX ? 3600 : 5;
	}
}

static void
fill_route(struct ipc_route *m, int v)
{
	memset(m, 0, sizeof(*m));
	fill_str(m->upstream_user, sizeof(m->upstream_user), v, "studio",
	    'u');
	fill_str(m->host_key_pin, sizeof(m->host_key_pin), v,
	    "SHA256:Cv5Jn0tlB/2h+DXihN3gSH4hk3nt1Hu1wlSmaZRPm6Q", 'h');
	fill_str(m->session, sizeof(m->session), v, "s-42", 's');
}

static void
fill_text(struct ipc_text *m, int v)
{
	fill_str(m->text, sizeof(m->text), v, "no route to workspace 200",
	    't');
}

static void
fill_log(struct ipc_log *m, int v)
{
	memset(m, 0, sizeof(*m));
	m->level = fill_u32(v, 2);
	fill_str(m->text, sizeof(m->text), v, "kex done: curve25519-sha256",
	    'l');
}

static void
fill_key_query(struct ipc_key_query *m, int v)
{
	memset(m, 0, sizeof(*m));
	fill_str(m->user, sizeof(m->user), v, "alice+100", 'a');
	fill_blob(&m->key_blob, &m->key_blob_len, v, 51, IPC_MAX_BLOB, 7);
}

static void
fill_verify(struct ipc_verify *m, int v)
{
	memset(m, 0, sizeof(*m));
	fill_blob(&m->sig, &m->sig_len, v, 83, IPC_MAX_BLOB, 1);
	fill_blob(&m->data, &m->data_len, v, 300, IPC_MAX_SIGNED, 0);
}

/* Audit variants: "empty" keeps a valid event (0 is refused). */
static void
fill_audit(struct ipc_audit *m, int v)
{
	memset(m, 0, sizeof(*m));
	m->event = v == V_TYPICAL ? IPC_AUDIT_REQUEST :
	    v == V_MAX ? IPC_AUDIT_CHANNEL_CLOSE : IPC_AUDIT_CHANNEL_OPEN;
	m->channel = fill_u32(v, 7);
	fill_str(m->kind, sizeof(m->kind), v, "exec", 'k');
	fill_str(m->request, sizeof(m->request), v, "pty exec", 'r');
	fill_str(m->detail, sizeof(m->detail), v, "ls -l /tmp", 'd');
	m->duration_ms = v == V_TYPICAL ? 1500 : v == V_MAX ? UINT64_MAX : 0;
	m->bytes_in = v == V_TYPICAL ? 1234 : v == V_MAX ? UINT64_MAX : 0;
	m->bytes_out = v == V_TYPICAL ? 0x100000000ULL :
	    v == V_MAX ? UINT64_MAX - 1 : 0;
	m->exit_status = v == V_TYPICAL ? 0 : v == V_MAX ? INT32_MIN : -1;
	fill_str(m->exit_signal, sizeof(m->exit_signal), v, "TERM", 'g');
	m->end = m->event == IPC_AUDIT_CHANNEL_CLOSE ? IPC_END_MAX - 1 :
	    IPC_END_NONE;
}

/* ---- encoders of the samples, and decoders, for the generic tables ---- */

static int
enc_init(struct buf *b, int v)
{
	struct ipc_init m;

	fill_init(&m, v);
	return ipc_enc_init(b, &m);
}

static int
enc_client(struct buf *b, int v)
{
	struct ipc_client m;

	fill_client(&m, v);
	return ipc_enc_client(b, &m);
}

static int
enc_sign_reply(struct buf *b, int v)
{
	struct ipc_bytes m;

	fill_blob(&m.data, &m.len, v, 64, IPC_MAX_BLOB, 3);
	return ipc_enc_bytes(b, IPC_M_SIGN_REPLY, &m, IPC_MAX_BLOB);
}

static int
enc_w_sign(struct buf *b, int v)
{
	struct ipc_bytes m;

	fill_blob(&m.data, &m.len, v, 32, IPC_MAX_HASH, 5);
	return ipc_enc_bytes(b, IPC_W_SIGN, &m, IPC_MAX_HASH);
}

static int
enc_key_reply(struct buf *b, int v)
{
	struct ipc_flag m = { .ok = fill_flag(v) };

	return ipc_enc_flag(b, IPC_M_KEY_REPLY, &m);
}

static int
enc_verify_reply(struct buf *b, int v)
{
	struct ipc_flag m = { .ok = fill_flag(v) };

	return ipc_enc_flag(b, IPC_M_VERIFY_REPLY, &m);
}

static int
enc_route(struct buf *b, int v)
{
	struct ipc_route m;

	fill_route(&m, v);
	return ipc_enc_route(b, &m);
}

static int
enc_route_req(struct buf *b, int v)
{
	struct ipc_route_req m;

	fill_blob(&m.key_blob, &m.key_blob_len, v, 51, IPC_MAX_BLOB, 9);
	return ipc_enc_route_req(b, &m);
}

/* A certificate is never empty: the empty variant has one byte. */
static int
enc_route_cert(struct buf *b, int v)
{
	struct ipc_route_cert m;

	fill_route(&m.route, v);
	fill_blob(&m.cert, &m.cert_len, v, 400, IPC_MAX_BLOB, 11);
	if (m.cert_len == 0) {
		m.cert = pat;
		m.cert_len = 1;
	}
	return ipc_enc_route_cert(b, &m);
}

static int
enc_route_fail(struct buf *b, int v)
{
	struct ipc_text m;

	fill_text(&m, v);
	return ipc_enc_text(b, IPC_M_ROUTE_FAIL, &m);
}

static int
enc_log(struct buf *b, int v)
{
	struct ipc_log m;

	fill_log(&m, v);
	return ipc_enc_log(b, &m);
}

static int
enc_key_query(struct buf *b, int v)
{
	struct ipc_key_query m;

	fill_key_query(&m, v);
	return ipc_enc_key_query(b, &m);
}

static int
enc_verify(struct buf *b, int v)
{
	struct ipc_verify m;

	fill_verify(&m, v);
	return ipc_enc_verify(b, &m);
}

static int
enc_audit(struct buf *b, int v)
{
	struct ipc_audit m;

	fill_audit(&m, v);
	return ipc_enc_audit(b, &m);
}

/* A refusal's reason is never 0; its largest is IPC_REFUSED_MAX - 1. */
static int
enc_refused(struct buf *b, int v)
{
	struct ipc_refused m;

	memset(&m, 0, sizeof(m));
	fill_str(m.user, sizeof(m.user), v, "alice@s1", 'a');
	m.reason = v == V_MAX ? IPC_REFUSED_MAX - 1 :
	    IPC_REFUSED_KEY_TOO_LARGE;
	fill_str(m.key_fp, sizeof(m.key_fp), v,
	    "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 'f');
	return ipc_enc_refused(b, &m);
}

static int
dec_refused(struct cursor *c)
{
	struct ipc_refused m;

	return ipc_dec_refused(c, &m);
}

/* A leg is never 0; the largest is IPC_KEX_MAX - 1. */
static int
enc_kex(struct buf *b, int v)
{
	struct ipc_kex m;

	memset(&m, 0, sizeof(m));
	m.leg = v == V_MAX ? IPC_KEX_MAX - 1 : IPC_KEX_CLIENT;
	fill_str(m.kex, sizeof(m.kex), v, "mlkem768x25519-sha256", 'k');
	fill_str(m.cipher, sizeof(m.cipher), v, "aes256-ctr", 'c');
	fill_str(m.mac, sizeof(m.mac), v, "hmac-sha2-256-etm@openssh.com",
	    'm');
	return ipc_enc_kex(b, &m);
}

static int
dec_kex(struct cursor *c)
{
	struct ipc_kex m;

	return ipc_dec_kex(c, &m);
}

static int
dec_init(struct cursor *c)
{
	struct ipc_init m;

	return ipc_dec_init(c, &m);
}

static int
dec_client(struct cursor *c)
{
	struct ipc_client m;

	return ipc_dec_client(c, &m);
}

static int
dec_sign_reply(struct cursor *c)
{
	struct ipc_bytes m;

	return ipc_dec_bytes(c, &m, IPC_MAX_BLOB);
}

static int
dec_w_sign(struct cursor *c)
{
	struct ipc_bytes m;

	return ipc_dec_bytes(c, &m, IPC_MAX_HASH);
}

static int
dec_flag(struct cursor *c)
{
	struct ipc_flag m;

	return ipc_dec_flag(c, &m);
}

static int
dec_route(struct cursor *c)
{
	struct ipc_route m;

	return ipc_dec_route(c, &m);
}

static int
dec_route_req(struct cursor *c)
{
	struct ipc_route_req m;

	return ipc_dec_route_req(c, &m);
}

static int
dec_route_cert(struct cursor *c)
{
	struct ipc_route_cert m;

	return ipc_dec_route_cert(c, &m);
}

static int
dec_text(struct cursor *c)
{
	struct ipc_text m;

	return ipc_dec_text(c, &m);
}

static int
dec_log(struct cursor *c)
{
	struct ipc_log m;

	return ipc_dec_log(c, &m);
}

static int
dec_key_query(struct cursor *c)
{
	struct ipc_key_query m;

	return ipc_dec_key_query(c, &m);
}

static int
dec_verify(struct cursor *c)
{
	struct ipc_verify m;

	return ipc_dec_verify(c, &m);
}

static int
dec_audit(struct cursor *c)
{
	struct ipc_audit m;

	return ipc_dec_audit(c, &m);
}

/*
 * The wire layout of every body, field by field, so that malformed bodies
 * can be built by hand.  A C string's bound is its array size (it holds at
 * most bound-1 bytes); a byte string's bound is its maximum length.
 */
enum fkind { F_U32, F_U64, F_CSTR, F_BYTES };

struct field {
	enum fkind kind;
	size_t bound;
};

#define U32		{ F_U32, 0 }
#define U64		{ F_U64, 0 }
#define CSTR(n)		{ F_CSTR, (n) }
#define BYTES(n)	{ F_BYTES, (n) }

static const struct layout {
	const char *name;
	unsigned type;
	int (*enc)(struct buf *, int);	/* a valid sample, by variant */
	int (*dec)(struct cursor *);
	size_t nf;
	struct field f[16];
} layouts[] = {
	{ "M_INIT", IPC_M_INIT, enc_init, dec_init, 16,
	    { U32, U32, U32, U32, U32, U32, U32, U32, U32, U32, U32,
	    CSTR(IPC_MAX_PATH),
	    CSTR(IPC_MAX_TEXT), CSTR(IPC_MAX_TEXT), CSTR(IPC_MAX_TEXT),
	    BYTES(IPC_MAX_BLOB) } },
	{ "M_CLIENT", IPC_M_CLIENT, enc_client, dec_client, 4,
	    { U64, CSTR(IPC_MAX_NAME), U32, U32 } },
	{ "M_SIGN_REPLY", IPC_M_SIGN_REPLY, enc_sign_reply, dec_sign_reply,
	    1, { BYTES(IPC_MAX_BLOB) } },
	{ "M_KEY_REPLY", IPC_M_KEY_REPLY, enc_key_reply, dec_flag, 1,
	    { U32 } },
	{ "M_VERIFY_REPLY", IPC_M_VERIFY_REPLY, enc_verify_reply, dec_flag,
	    1, { U32 } },
	{ "M_ROUTE", IPC_M_ROUTE, enc_route, dec_route, 3,
	    { CSTR(IPC_MAX_NAME), CSTR(IPC_MAX_NAME), CSTR(IPC_MAX_NAME) } },
	{ "M_ROUTE_CERT", IPC_M_ROUTE_CERT, enc_route_cert, dec_route_cert,
	    4, { CSTR(IPC_MAX_NAME), CSTR(IPC_MAX_NAME), CSTR(IPC_MAX_NAME),
	    BYTES(IPC_MAX_BLOB) } },
	{ "M_ROUTE_FAIL", IPC_M_ROUTE_FAIL, enc_route_fail, dec_text, 1,
	    { CSTR(IPC_MAX_TEXT) } },
	{ "W_ROUTE", IPC_W_ROUTE, enc_route_req, dec_route_req, 1,
	    { BYTES(IPC_MAX_BLOB) } },
	{ "W_LOG", IPC_W_LOG, enc_log, dec_log, 2,
	    { U32, CSTR(IPC_MAX_TEXT) } },
	{ "W_SIGN", IPC_W_SIGN, enc_w_sign, dec_w_sign, 1,
	    { BYTES(IPC_MAX_HASH) } },
	{ "W_KEY_QUERY", IPC_W_KEY_QUERY, enc_key_query, dec_key_query, 2,
	    { CSTR(IPC_MAX_NAME), BYTES(IPC_MAX_BLOB) } },
	{ "W_REFUSED", IPC_W_REFUSED, enc_refused, dec_refused, 3,
	    { CSTR(IPC_MAX_NAME), U32, CSTR(IPC_MAX_FP) } },
	{ "W_KEX", IPC_W_KEX, enc_kex, dec_kex, 4,
	    { U32, CSTR(IPC_MAX_NAME), CSTR(IPC_MAX_NAME),
	    CSTR(IPC_MAX_NAME) } },
	{ "W_VERIFY", IPC_W_VERIFY, enc_verify, dec_verify, 2,
	    { BYTES(IPC_MAX_BLOB), BYTES(IPC_MAX_SIGNED) } },
	{ "W_AUDIT", IPC_W_AUDIT, enc_audit, dec_audit, 11,
	    { U32, U32, CSTR(IPC_MAX_NAME), CSTR(IPC_MAX_NAME),
	    CSTR(IPC_MAX_TEXT), U64, U64, U64, U32, CSTR(IPC_MAX_NAME),
	    U32 } },
};

/* ------------------------------------------------------------------ */
/* 1. Round trips                                                     */
/* ------------------------------------------------------------------ */

static void
test_rt_init(void)
{
	struct ipc_init in, out;
	struct buf b;
	struct cursor c;
	int v;

	buf_init(&b, IPC_MAX_MSG);
	for (v = 0; v < NVARIANTS; v++) {
		fill_init(&in, v);
		open_msg(ipc_enc_init(&b, &in), &b, IPC_M_INIT, &c);
		CHECK(ipc_dec_init(&c, &out) == 0, "M_INIT %s", vname[v]);
		CU_ASSERT_EQUAL(out.version, in.version);
		CU_ASSERT_EQUAL(out.log_level, in.log_level);
		CU_ASSERT_EQUAL(out.flags, in.flags);
		CU_ASSERT_EQUAL(out.uid, in.uid);
		CU_ASSERT_EQUAL(out.gid, in.gid);
		CU_ASSERT_EQUAL(out.login_grace_time, in.login_grace_time);
		CU_ASSERT_EQUAL(out.upstream_timeout, in.upstream_timeout);
		CU_ASSERT_EQUAL(out.idle_timeout, in.idle_timeout);
		CU_ASSERT_EQUAL(out.keepalive_interval, in.keepalive_interval);
		CU_ASSERT_EQUAL(out.keepalive_count_max,
		    in.keepalive_count_max);
		CU_ASSERT_EQUAL(out.max_auth_tries, in.max_auth_tries);
		CU_ASSERT_STRING_EQUAL(out.chroot_dir, in.chroot_dir);
		CU_ASSERT_STRING_EQUAL(out.kex, in.kex);
		CU_ASSERT_STRING_EQUAL(out.ciphers, in.ciphers);
		CU_ASSERT_STRING_EQUAL(out.macs, in.macs);
		CU_ASSERT(same_bytes(out.hostkey_blob, out.hostkey_blob_len,
		    in.hostkey_blob, in.hostkey_blob_len));
		CU_ASSERT(inside(out.hostkey_blob, out.hostkey_blob_len,
		    b.data, b.len));
	}
	/* The maximal variant really is at the bounds. */
	CU_ASSERT_EQUAL(strlen(in.chroot_dir), sizeof(in.chroot_dir) - 1);
	CU_ASSERT_EQUAL(out.hostkey_blob_len, IPC_MAX_BLOB);
	buf_free(&b);
}

static void
test_rt_client(void)
{
	struct ipc_client in, out;
	struct buf b;
	struct cursor c;
	int v;

	buf_init(&b, IPC_MAX_MSG);
	for (v = 0; v < NVARIANTS; v++) {
		fill_client(&in, v);
		open_msg(ipc_enc_client(&b, &in), &b, IPC_M_CLIENT, &c);
		CHECK(ipc_dec_client(&c, &out) == 0, "M_CLIENT %s", vname[v]);
		CU_ASSERT(out.conn_id == in.conn_id);
		CU_ASSERT_STRING_EQUAL(out.peer, in.peer);
		CU_ASSERT_EQUAL(out.flags, in.flags);
		CU_ASSERT_EQUAL(out.proxy_timeout, in.proxy_timeout);
	}
	CU_ASSERT_EQUAL(strlen(out.peer), IPC_MAX_NAME - 1);
	buf_free(&b);
}

static void
test_rt_bytes(void)
{
	static const struct {
		unsigned type;
		size_t max;
	} kinds[] = {
		{ IPC_M_SIGN_REPLY, IPC_MAX_BLOB },
		{ IPC_W_SIGN, IPC_MAX_HASH },
	};
	static const size_t lens[] = { 0, 1, 32, IPC_MAX_HASH };
	struct ipc_bytes in, out;
	struct buf b;
	struct cursor c;
	size_t k, i;

	buf_init(&b, IPC_MAX_MSG);
	for (k = 0; k < NELEM(kinds); k++) {
		for (i = 0; i <= NELEM(lens); i++) {
			/* every length in lens[], then exactly max */
			in.len = i < NELEM(lens) ? lens[i] : kinds[k].max;
			in.data = in.len ? pat + 9 : NULL;
			open_msg(ipc_enc_bytes(&b, kinds[k].type, &in,
			    kinds[k].max), &b, kinds[k].type, &c);
			CHECK(ipc_dec_bytes(&c, &out, kinds[k].max) == 0,
			    "%s len %zu", ipc_type_name(kinds[k].type),
			    in.len);
			CU_ASSERT(same_bytes(out.data, out.len, in.data,
			    in.len));
			CU_ASSERT(inside(out.data, out.len, b.data, b.len));
		}
	}
	buf_free(&b);
}

static void
test_rt_flag(void)
{
	static const struct {
		uint32_t in, wire;
	} vals[] = {
		{ IPC_FLAG_NO, 0 }, { IPC_FLAG_YES, 1 },
		{ IPC_FLAG_UNAVAILABLE, 2 },
	};
	static const unsigned types[] = { IPC_M_KEY_REPLY, IPC_M_VERIFY_REPLY };
	struct ipc_flag in, out;
	struct buf b;
	struct cursor c;
	size_t t, i;

	buf_init(&b, IPC_MAX_MSG);
	for (t = 0; t < NELEM(types); t++) {
		for (i = 0; i < NELEM(vals); i++) {
			in.ok = vals[i].in;
			open_msg(ipc_enc_flag(&b, types[t], &in), &b,
			    types[t], &c);
			/* Each verdict goes out as itself (values past
			 * IPC_FLAG_UNAVAILABLE: test_flag_encoding). */
			CU_ASSERT_EQUAL(b.len, 2 + 4);
			CHECK(ipc_dec_flag(&c, &out) == 0, "%s ok=%u",
			    ipc_type_name(types[t]), (unsigned)vals[i].in);
			CU_ASSERT_EQUAL(out.ok, vals[i].wire);
		}
	}
	buf_free(&b);
}

static void
test_rt_route(void)
{
	struct ipc_route in, out;
	struct buf b;
	struct cursor c;
	int v;

	buf_init(&b, IPC_MAX_MSG);
	for (v = 0; v < NVARIANTS; v++) {
		fill_route(&in, v);
		open_msg(ipc_enc_route(&b, &in), &b, IPC_M_ROUTE, &c);
		CHECK(ipc_dec_route(&c, &out) == 0, "M_ROUTE %s", vname[v]);
		CU_ASSERT_STRING_EQUAL(out.upstream_user, in.upstream_user);
		CU_ASSERT_STRING_EQUAL(out.host_key_pin, in.host_key_pin);
		CU_ASSERT_STRING_EQUAL(out.session, in.session);
	}
	CU_ASSERT_EQUAL(strlen(out.session), IPC_MAX_NAME - 1);
	buf_free(&b);
}

static void
test_rt_route_cert(void)
{
	struct ipc_route_cert in, out;
	struct ipc_route_req rin, rout;
	struct buf b;
	struct cursor c;
	int v;

	buf_init(&b, IPC_MAX_MSG);
	for (v = 0; v < NVARIANTS; v++) {
		fill_route(&in.route, v);
		fill_blob(&in.cert, &in.cert_len, v, 400, IPC_MAX_BLOB, 11);
		if (v == V_EMPTY) {
			/* No certificate is no certificate message. */
			CU_ASSERT_EQUAL(ipc_enc_route_cert(&b, &in), -1);
			continue;
		}
		open_msg(ipc_enc_route_cert(&b, &in), &b, IPC_M_ROUTE_CERT,
		    &c);
		CHECK(ipc_dec_route_cert(&c, &out) == 0, "M_ROUTE_CERT %s",
		    vname[v]);
		CU_ASSERT_STRING_EQUAL(out.route.upstream_user,
		    in.route.upstream_user);
		CU_ASSERT_STRING_EQUAL(out.route.host_key_pin,
		    in.route.host_key_pin);
		CU_ASSERT_STRING_EQUAL(out.route.session, in.route.session);
		CU_ASSERT(same_bytes(out.cert, out.cert_len, in.cert,
		    in.cert_len));
		CU_ASSERT(inside(out.cert, out.cert_len, b.data, b.len));
	}
	CU_ASSERT_EQUAL(out.cert_len, IPC_MAX_BLOB);
	/* An empty certificate on the wire is refused by the decoder. */
	buf_reset(&b);
	buf_put_string(&b, "u", 1);
	buf_put_string(&b, "", 0);
	buf_put_string(&b, "s", 1);
	buf_put_string(&b, "", 0);
	cursor_init(&c, b.data, b.len);
	CU_ASSERT_EQUAL(ipc_dec_route_cert(&c, &out), -1);
	for (v = 0; v < NVARIANTS; v++) {
		fill_blob(&rin.key_blob, &rin.key_blob_len, v, 51,
		    IPC_MAX_BLOB, 9);
		open_msg(ipc_enc_route_req(&b, &rin), &b, IPC_W_ROUTE, &c);
		CHECK(ipc_dec_route_req(&c, &rout) == 0, "W_ROUTE %s",
		    vname[v]);
		CU_ASSERT(same_bytes(rout.key_blob, rout.key_blob_len,
		    rin.key_blob, rin.key_blob_len));
	}
	buf_free(&b);
}

static void
test_rt_text(void)
{
	struct ipc_text in, out;
	struct buf b;
	struct cursor c;
	int v;

	buf_init(&b, IPC_MAX_MSG);
	for (v = 0; v < NVARIANTS; v++) {
		fill_text(&in, v);
		open_msg(ipc_enc_text(&b, IPC_M_ROUTE_FAIL, &in), &b,
		    IPC_M_ROUTE_FAIL, &c);
		CHECK(ipc_dec_text(&c, &out) == 0, "M_ROUTE_FAIL %s",
		    vname[v]);
		CU_ASSERT_STRING_EQUAL(out.text, in.text);
	}
	CU_ASSERT_EQUAL(strlen(out.text), IPC_MAX_TEXT - 1);
	buf_free(&b);
}

static void
test_rt_log(void)
{
	struct ipc_log in, out;
	struct buf b;
	struct cursor c;
	int v;

	buf_init(&b, IPC_MAX_MSG);
	for (v = 0; v < NVARIANTS; v++) {
		fill_log(&in, v);
		open_msg(ipc_enc_log(&b, &in), &b, IPC_W_LOG, &c);
		CHECK(ipc_dec_log(&c, &out) == 0, "W_LOG %s", vname[v]);
		CU_ASSERT_EQUAL(out.level, in.level);
		CU_ASSERT_STRING_EQUAL(out.text, in.text);
		/* The lookup process's L_LOG: the same body, its own type. */
		open_msg(ipc_enc_lookup_log(&b, &in), &b, IPC_L_LOG, &c);
		CHECK(ipc_dec_log(&c, &out) == 0, "L_LOG %s", vname[v]);
		CU_ASSERT_EQUAL(out.level, in.level);
		CU_ASSERT_STRING_EQUAL(out.text, in.text);
	}
	CU_ASSERT_EQUAL(strlen(out.text), IPC_MAX_TEXT - 1);
	buf_free(&b);
}

static void
test_rt_key_query(void)
{
	struct ipc_key_query in, out;
	struct buf b;
	struct cursor c;
	int v;

	buf_init(&b, IPC_MAX_MSG);
	for (v = 0; v < NVARIANTS; v++) {
		fill_key_query(&in, v);
		open_msg(ipc_enc_key_query(&b, &in), &b, IPC_W_KEY_QUERY, &c);
		CHECK(ipc_dec_key_query(&c, &out) == 0, "W_KEY_QUERY %s",
		    vname[v]);
		CU_ASSERT_STRING_EQUAL(out.user, in.user);
		CU_ASSERT(same_bytes(out.key_blob, out.key_blob_len,
		    in.key_blob, in.key_blob_len));
		CU_ASSERT(inside(out.key_blob, out.key_blob_len, b.data,
		    b.len));
	}
	CU_ASSERT_EQUAL(strlen(out.user), IPC_MAX_NAME - 1);
	CU_ASSERT_EQUAL(out.key_blob_len, IPC_MAX_BLOB);
	buf_free(&b);
}

static void
test_rt_verify(void)
{
	struct ipc_verify in, out;
	struct buf b;
	struct cursor c;
	int v;

	buf_init(&b, IPC_MAX_MSG);
	for (v = 0; v < NVARIANTS; v++) {
		fill_verify(&in, v);
		open_msg(ipc_enc_verify(&b, &in), &b, IPC_W_VERIFY, &c);
		CHECK(ipc_dec_verify(&c, &out) == 0, "W_VERIFY %s", vname[v]);
		CU_ASSERT(same_bytes(out.sig, out.sig_len, in.sig,
		    in.sig_len));
		CU_ASSERT(same_bytes(out.data, out.data_len, in.data,
		    in.data_len));
		CU_ASSERT(inside(out.sig, out.sig_len, b.data, b.len));
		CU_ASSERT(inside(out.data, out.data_len, b.data, b.len));
	}
	CU_ASSERT_EQUAL(out.sig_len, IPC_MAX_BLOB);
	CU_ASSERT_EQUAL(out.data_len, IPC_MAX_SIGNED);
	buf_free(&b);
}

static void
test_rt_audit(void)
{
	struct ipc_audit in, out;
	struct buf b;
	struct cursor c;
	int v;

	buf_init(&b, IPC_MAX_MSG);
	for (v = 0; v < NVARIANTS; v++) {
		fill_audit(&in, v);
		open_msg(ipc_enc_audit(&b, &in), &b, IPC_W_AUDIT, &c);
		CHECK(ipc_dec_audit(&c, &out) == 0, "W_AUDIT %s", vname[v]);
		CU_ASSERT_EQUAL(out.event, in.event);
		CU_ASSERT_EQUAL(out.channel, in.channel);
		CU_ASSERT_STRING_EQUAL(out.kind, in.kind);
		CU_ASSERT_STRING_EQUAL(out.request, in.request);
		CU_ASSERT_STRING_EQUAL(out.detail, in.detail);
		CU_ASSERT(out.duration_ms == in.duration_ms);
		CU_ASSERT(out.bytes_in == in.bytes_in);
		CU_ASSERT(out.bytes_out == in.bytes_out);
		/* signed through an unsigned wire field: -1, INT32_MIN */
		CU_ASSERT_EQUAL(out.exit_status, in.exit_status);
		CU_ASSERT_STRING_EQUAL(out.exit_signal, in.exit_signal);
		CU_ASSERT_EQUAL(out.end, in.end);
	}
	CU_ASSERT_EQUAL(strlen(out.kind), IPC_MAX_NAME - 1);
	CU_ASSERT_EQUAL(strlen(out.detail), IPC_MAX_TEXT - 1);
	CU_ASSERT_EQUAL(strlen(out.exit_signal), IPC_MAX_NAME - 1);

	/* Every valid event, and the largest exit status. */
	for (in.event = IPC_AUDIT_CHANNEL_OPEN; in.event < IPC_AUDIT_MAX;
	    in.event++) {
		in.exit_status = INT32_MAX;
		in.end = in.event == IPC_AUDIT_CHANNEL_CLOSE ? IPC_END_CLOSED :
		    IPC_END_NONE;
		open_msg(ipc_enc_audit(&b, &in), &b, IPC_W_AUDIT, &c);
		CHECK(ipc_dec_audit(&c, &out) == 0, "W_AUDIT event %u",
		    (unsigned)in.event);
		CU_ASSERT_EQUAL(out.event, in.event);
		CU_ASSERT_EQUAL(out.exit_status, INT32_MAX);
	}
	buf_free(&b);
}

static void
test_rt_empty(void)
{
	static const unsigned types[] = { IPC_W_READY };
	struct buf b;
	struct cursor c;
	size_t i;

	buf_init(&b, IPC_MAX_MSG);
	for (i = 0; i < NELEM(types); i++) {
		open_msg(ipc_enc_empty(&b, types[i]), &b, types[i], &c);
		CU_ASSERT_EQUAL(b.len, 2);
		CU_ASSERT_EQUAL(cursor_end(&c), 0);
	}
	buf_free(&b);
}

/* An encoder starts afresh: it resets a buffer holding an old message. */
static void
test_enc_resets_buf(void)
{
	struct ipc_log l;
	struct buf b;
	struct cursor c;

	buf_init(&b, IPC_MAX_MSG);
	fill_log(&l, V_MAX);
	CU_ASSERT_EQUAL(ipc_enc_log(&b, &l), 0);
	open_msg(ipc_enc_empty(&b, IPC_W_READY), &b, IPC_W_READY, &c);
	CU_ASSERT_EQUAL(b.len, 2);
	buf_free(&b);
}

/* The largest message of all fits in IPC_MAX_MSG. */
static void
test_max_messages_fit(void)
{
	struct buf b;
	size_t i;

	buf_init(&b, IPC_MAX_MSG);
	for (i = 0; i < NELEM(layouts); i++) {
		CHECK(layouts[i].enc(&b, V_MAX) == 0, "%s max",
		    layouts[i].name);
		CHECK(b.len <= IPC_MAX_MSG, "%s max: %zu bytes",
		    layouts[i].name, b.len);
	}
	buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* 2. Encoder refusals                                                */
/* ------------------------------------------------------------------ */

/*
 * A refused message must also be refused by ipc_send, and the buffer must
 * be usable for the next message.
 */
static void
refused(int rc, struct buf *b, const char *what)
{
	int sv[2] = { -1, -1 };

	CHECK(rc == -1, "%s: encoder accepted a field over its bound", what);
	CHECK(buf_ok(b) == -1, "%s: buffer not marked failed", what);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
		errno = 0;
		CHECK(ipc_send(sv[0], b, NULL, 0) == -1 && errno == EINVAL,
		    "%s: ipc_send sent a refused message", what);
		close(sv[0]);
		close(sv[1]);
	}
	CHECK(ipc_enc_empty(b, IPC_W_READY) == 0 && b->len == 2,
	    "%s: buffer not reusable after a refusal", what);
}

static void
test_refuse_init(void)
{
	struct ipc_init m;
	struct buf b;

	buf_init(&b, IPC_MAX_MSG);
	fill_init(&m, V_MAX);
	memset(m.chroot_dir, 'c', sizeof(m.chroot_dir));	/* no NUL */
	refused(ipc_enc_init(&b, &m), &b, "M_INIT chroot_dir");

	fill_init(&m, V_MAX);
	m.hostkey_blob_len = IPC_MAX_BLOB + 1;
	refused(ipc_enc_init(&b, &m), &b, "M_INIT hostkey_blob");
	buf_free(&b);
}

static void
test_refuse_client(void)
{
	struct ipc_client m;
	struct buf b;

	buf_init(&b, IPC_MAX_MSG);
	fill_client(&m, V_MAX);
	memset(m.peer, 'p', sizeof(m.peer));
	refused(ipc_enc_client(&b, &m), &b, "M_CLIENT peer");
	buf_free(&b);
}

static void
test_refuse_bytes(void)
{
	struct ipc_bytes m = { pat, IPC_MAX_HASH + 1 };
	struct buf b;

	buf_init(&b, IPC_MAX_MSG);
	refused(ipc_enc_bytes(&b, IPC_W_SIGN, &m, IPC_MAX_HASH), &b,
	    "W_SIGN hash over IPC_MAX_HASH");
	m.len = IPC_MAX_BLOB + 1;
	refused(ipc_enc_bytes(&b, IPC_M_SIGN_REPLY, &m, IPC_MAX_BLOB), &b,
	    "M_SIGN_REPLY over IPC_MAX_BLOB");
	/* A max past what a message holds is still bounded by the buf. */
	m.len = IPC_MAX_MSG;
	refused(ipc_enc_bytes(&b, IPC_M_SIGN_REPLY, &m, SIZE_MAX), &b,
	    "M_SIGN_REPLY over IPC_MAX_MSG");
	buf_free(&b);
}

static void
test_refuse_route(void)
{
	struct ipc_route m;
	struct buf b;
	char *fields[3];
	size_t i;

	buf_init(&b, IPC_MAX_MSG);
	for (i = 0; i < NELEM(fields); i++) {
		fill_route(&m, V_MAX);
		fields[0] = m.upstream_user;
		fields[1] = m.host_key_pin;
		fields[2] = m.session;
		memset(fields[i], 'x', IPC_MAX_NAME);
		refused(ipc_enc_route(&b, &m), &b, i == 0 ?
		    "M_ROUTE upstream_user" : i == 1 ?
		    "M_ROUTE host_key_pin" : "M_ROUTE session");
	}
	buf_free(&b);
}

static void
test_refuse_text_log(void)
{
	struct ipc_text t;
	struct ipc_log l;
	struct buf b;

	buf_init(&b, IPC_MAX_MSG);
	memset(t.text, 't', sizeof(t.text));
	refused(ipc_enc_text(&b, IPC_M_ROUTE_FAIL, &t), &b,
	    "M_ROUTE_FAIL text");
	fill_log(&l, V_MAX);
	memset(l.text, 'l', sizeof(l.text));
	refused(ipc_enc_log(&b, &l), &b, "W_LOG text");
	buf_free(&b);
}

static void
test_refuse_key_query(void)
{
	struct ipc_key_query m;
	struct buf b;

	buf_init(&b, IPC_MAX_MSG);
	fill_key_query(&m, V_MAX);
	memset(m.user, 'a', sizeof(m.user));
	refused(ipc_enc_key_query(&b, &m), &b, "W_KEY_QUERY user");
	fill_key_query(&m, V_MAX);
	m.key_blob_len = IPC_MAX_BLOB + 1;
	refused(ipc_enc_key_query(&b, &m), &b, "W_KEY_QUERY key_blob");
	buf_free(&b);
}

static void
test_refuse_verify(void)
{
	struct ipc_verify m;
	struct buf b;

	buf_init(&b, IPC_MAX_MSG);
	fill_verify(&m, V_MAX);
	m.sig_len = IPC_MAX_BLOB + 1;
	refused(ipc_enc_verify(&b, &m), &b, "W_VERIFY sig");
	fill_verify(&m, V_MAX);
	m.data_len = IPC_MAX_SIGNED + 1;
	refused(ipc_enc_verify(&b, &m), &b, "W_VERIFY data");
	buf_free(&b);
}

/* The decoder refuses a close without a cause, and a cause past the
 * last. */
static void
test_refuse_audit_end(void)
{
	struct ipc_audit m, out;
	struct buf b;
	struct cursor c;

	buf_init(&b, IPC_MAX_MSG);
	fill_audit(&m, V_TYPICAL);
	m.event = IPC_AUDIT_CHANNEL_CLOSE;
	m.end = IPC_END_NONE;
	open_msg(ipc_enc_audit(&b, &m), &b, IPC_W_AUDIT, &c);
	CU_ASSERT_EQUAL(ipc_dec_audit(&c, &out), -1);
	m.end = IPC_END_MAX;
	open_msg(ipc_enc_audit(&b, &m), &b, IPC_W_AUDIT, &c);
	CU_ASSERT_EQUAL(ipc_dec_audit(&c, &out), -1);
	m.end = IPC_END_CONNECTION;
	open_msg(ipc_enc_audit(&b, &m), &b, IPC_W_AUDIT, &c);
	CU_ASSERT_EQUAL(ipc_dec_audit(&c, &out), 0);
	buf_free(&b);
}

static void
test_refuse_audit(void)
{
	struct ipc_audit m;
	struct buf b;

	buf_init(&b, IPC_MAX_MSG);
	fill_audit(&m, V_MAX);
	memset(m.kind, 'k', sizeof(m.kind));
	refused(ipc_enc_audit(&b, &m), &b, "W_AUDIT kind");
	fill_audit(&m, V_MAX);
	memset(m.detail, 'd', sizeof(m.detail));
	refused(ipc_enc_audit(&b, &m), &b, "W_AUDIT detail");
	fill_audit(&m, V_MAX);
	memset(m.request, 'r', sizeof(m.request));
	refused(ipc_enc_audit(&b, &m), &b, "W_AUDIT request");
	fill_audit(&m, V_MAX);
	memset(m.exit_signal, 'g', sizeof(m.exit_signal));
	refused(ipc_enc_audit(&b, &m), &b, "W_AUDIT exit_signal");
	buf_free(&b);
	test_refuse_audit_end();
}

/* ------------------------------------------------------------------ */
/* 3. Malformed bodies                                                */
/* ------------------------------------------------------------------ */

/* Every proper prefix of every sample body fails to decode. */
static void
test_truncations(void)
{
	struct buf b;
	struct cursor c;
	size_t i, k, body;
	int v;

	buf_init(&b, IPC_MAX_MSG);
	for (i = 0; i < NELEM(layouts); i++) {
		for (v = 0; v < NVARIANTS; v++) {
			open_msg(layouts[i].enc(&b, v), &b, layouts[i].type,
			    &c);
			CHECK(layouts[i].dec(&c) == 0, "%s %s: whole body",
			    layouts[i].name, vname[v]);
			body = b.len - 2;
			for (k = 0; k < body; k++) {
				cursor_init(&c, b.data + 2, k);
				CHECK(layouts[i].dec(&c) == -1,
				    "%s %s: %zu of %zu bytes decoded",
				    layouts[i].name, vname[v], k, body);
			}
		}
	}
	buf_free(&b);
}

/* One byte more than the body fails to decode, whatever its value. */
static void
test_trailing_byte(void)
{
	static const uint8_t extra[] = { 0x00, 0x01, 0xff };
	static uint8_t tmp[IPC_MAX_MSG + 1];
	struct buf b;
	struct cursor c;
	size_t i, e, body;
	int v;

	buf_init(&b, IPC_MAX_MSG);
	for (i = 0; i < NELEM(layouts); i++) {
		for (v = 0; v < NVARIANTS; v++) {
			open_msg(layouts[i].enc(&b, v), &b, layouts[i].type,
			    &c);
			body = b.len - 2;
			memcpy(tmp, b.data + 2, body);
			for (e = 0; e < NELEM(extra); e++) {
				tmp[body] = extra[e];
				cursor_init(&c, tmp, body + 1);
				CHECK(layouts[i].dec(&c) == -1,
				    "%s %s: trailing 0x%02x accepted",
				    layouts[i].name, vname[v], extra[e]);
			}
		}
	}
	buf_free(&b);
}

/* What to do to one string field of a hand-built body. */
enum mut {
	MUT_NONE,	/* "a" */
	MUT_AT_BOUND,	/* as long as allowed */
	MUT_OVER_BOUND,	/* one byte too long, all of it present */
	MUT_PAST_END,	/* length = the bytes left + 1 (within the bound) */
	MUT_HUGE_LEN,	/* length 0xffffffff */
	MUT_NUL,	/* "a\0b" */
	NMUT
};
static const char *const mut_name[NMUT] = {
	"none", "at bound", "over bound", "length past end",
	"length 0xffffffff", "embedded NUL",
};

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Build a body of layout l by hand, every integer 1 (a valid flag and
 * audit event) and every string "a", except field target, which gets mut.
 * Returns the length written into the target's length field.
 */
static uint32_t
build_body(struct buf *b, const struct layout *l, size_t target,
    enum mut mut)
{
	static uint8_t fill[IPC_MAX_SIGNED + 2];
	size_t i, n, off = 0;
	uint32_t len;

	memset(fill, 'x', sizeof(fill));
	buf_reset(b);
	for (i = 0; i < l->nf; i++) {
		const struct field *f = &l->f[i];

		if (f->kind == F_U32) {
			buf_put_u32(b, 1);
			continue;
		}
		if (f->kind == F_U64) {
			buf_put_u64(b, 1);
			continue;
		}
		if (i != target) {
			buf_put_string(b, "a", 1);
			continue;
		}
		off = b->len;
		switch (mut) {
		case MUT_AT_BOUND:
		case MUT_OVER_BOUND:
			n = f->kind == F_CSTR ? f->bound - 1 : f->bound;
			if (mut == MUT_OVER_BOUND)
				n++;
			buf_put_string(b, fill, n);
			break;
		case MUT_NUL:
			buf_put_string(b, "a\0b", 3);
			break;
		default:
			buf_put_string(b, "a", 1);
			break;
		}
	}
	CU_ASSERT_FATAL(buf_ok(b) == 0);
	len = 0;
	if (target < l->nf) {
		if (mut == MUT_PAST_END)
			put_be32(b->data + off,
			    (uint32_t)(b->len - (off + 4) + 1));
		else if (mut == MUT_HUGE_LEN)
			put_be32(b->data + off, UINT32_MAX);
		len = ((uint32_t)b->data[off] << 24) |
		    ((uint32_t)b->data[off + 1] << 16) |
		    ((uint32_t)b->data[off + 2] << 8) | b->data[off + 3];
	}
	return len;
}

/*
 * For every string field of every message: a field at its bound decodes;
 * over its bound, with a length past the end of the body, with a huge
 * length, or (C strings) with an embedded NUL, the message does not.
 */
static void
test_bad_strings(void)
{
	const struct layout *l;
	const struct field *f;
	struct buf b;
	struct cursor c;
	size_t i, t, max;
	uint32_t len;
	int m, want;

	buf_init(&b, RAW_MAX);
	for (i = 0; i < NELEM(layouts); i++) {
		l = &layouts[i];
		/* The hand-built body with no mutation is valid. */
		build_body(&b, l, l->nf, MUT_NONE);
		cursor_init(&c, b.data, b.len);
		CHECK(l->dec(&c) == 0, "%s: plain hand-built body refused",
		    l->name);
		for (t = 0; t < l->nf; t++) {
			f = &l->f[t];
			if (f->kind != F_CSTR && f->kind != F_BYTES)
				continue;
			max = f->kind == F_CSTR ? f->bound - 1 : f->bound;
			for (m = 0; m < NMUT; m++) {
				len = build_body(&b, l, t, (enum mut)m);
				if (m == MUT_PAST_END)
					CHECK(len <= max, "%s field %zu: "
					    "test body too long", l->name, t);
				want = m == MUT_NONE || m == MUT_AT_BOUND ||
				    (m == MUT_NUL && f->kind == F_BYTES) ?
				    0 : -1;
				cursor_init(&c, b.data, b.len);
				CHECK(l->dec(&c) == want,
				    "%s field %zu (%s, bound %zu), %s: "
				    "expected %s", l->name, t,
				    f->kind == F_CSTR ? "cstring" : "bytes",
				    f->bound, mut_name[m],
				    want ? "refusal" : "success");
			}
		}
	}
	buf_free(&b);
}

static void
test_flag_values(void)
{
	static const struct {
		uint32_t wire;
		int want;
	} cases[] = {
		{ 0, 0 }, { 1, 0 }, { 2, 0 }, { 3, -1 }, { 0x100, -1 },
		{ 0x80000000u, -1 }, { UINT32_MAX, -1 },
	};
	struct ipc_flag f;
	struct cursor c;
	uint8_t body[4];
	size_t i;

	for (i = 0; i < NELEM(cases); i++) {
		put_be32(body, cases[i].wire);
		cursor_init(&c, body, sizeof(body));
		CHECK(ipc_dec_flag(&c, &f) == cases[i].want,
		    "ipc_dec_flag ok=%#x", (unsigned)cases[i].wire);
	}
}

/* Each verdict goes over the wire as itself: a "registry unavailable"
 * that arrived as "yes" would let a login through. */
static void
test_flag_encoding(void)
{
	static const uint32_t good[] = {
		IPC_FLAG_NO, IPC_FLAG_YES, IPC_FLAG_UNAVAILABLE,
	};
	struct ipc_flag in, out;
	struct cursor c;
	struct buf b;
	size_t i;

	for (i = 0; i < NELEM(good); i++) {
		in.ok = good[i];
		buf_init(&b, IPC_MAX_MSG);
		CU_ASSERT_EQUAL_FATAL(ipc_enc_flag(&b, IPC_M_KEY_REPLY, &in), 0);
		cursor_init(&c, b.data + 2, b.len - 2);
		CU_ASSERT_EQUAL(ipc_dec_flag(&c, &out), 0);
		CU_ASSERT_EQUAL(out.ok, good[i]);
		buf_free(&b);
	}
	in.ok = IPC_FLAG_UNAVAILABLE + 1;
	buf_init(&b, IPC_MAX_MSG);
	CU_ASSERT_EQUAL(ipc_enc_flag(&b, IPC_M_VERIFY_REPLY, &in), -1);
	buf_free(&b);
}

/* W_KEX: a leg is 1 or 2; 0 and IPC_KEX_MAX are refused, names round trip. */
static void
test_kex_legs(void)
{
	struct ipc_kex in, out;
	struct buf b;
	struct cursor c;
	uint32_t leg;

	buf_init(&b, IPC_MAX_MSG);
	for (leg = 0; leg <= IPC_KEX_MAX; leg++) {
		memset(&in, 0, sizeof(in));
		in.leg = leg;
		snprintf(in.kex, sizeof(in.kex), "sntrup761x25519-sha512");
		snprintf(in.cipher, sizeof(in.cipher), "aes128-gcm@openssh.com");
		open_msg(ipc_enc_kex(&b, &in), &b, IPC_W_KEX, &c);
		if (leg == 0 || leg == IPC_KEX_MAX) {
			CU_ASSERT_EQUAL(ipc_dec_kex(&c, &out), -1);
			continue;
		}
		CU_ASSERT_EQUAL_FATAL(ipc_dec_kex(&c, &out), 0);
		CU_ASSERT_EQUAL(out.leg, leg);
		CU_ASSERT_STRING_EQUAL(out.kex, "sntrup761x25519-sha512");
		CU_ASSERT_STRING_EQUAL(out.cipher, "aes128-gcm@openssh.com");
		CU_ASSERT_STRING_EQUAL(out.mac, "");
	}
	buf_free(&b);
}

static void
test_audit_events(void)
{
	static const struct {
		uint32_t event;
		int want;
	} cases[] = {
		{ 0, -1 },
		{ IPC_AUDIT_CHANNEL_OPEN, 0 },
		{ IPC_AUDIT_REQUEST, 0 },
		{ IPC_AUDIT_CHANNEL_CLOSE, 0 },
		{ IPC_AUDIT_CHANNEL_PROGRESS, 0 },
		{ IPC_AUDIT_UPSTREAM_REFUSED, 0 },
		{ IPC_AUDIT_MAX, -1 },
		{ IPC_AUDIT_MAX + 1, -1 },
		{ UINT32_MAX, -1 },
	};
	struct ipc_audit in, out;
	struct buf b;
	struct cursor c;
	size_t i;

	buf_init(&b, IPC_MAX_MSG);
	for (i = 0; i < NELEM(cases); i++) {
		fill_audit(&in, V_TYPICAL);
		in.event = cases[i].event;
		in.end = in.event == IPC_AUDIT_CHANNEL_CLOSE ? IPC_END_CLOSED :
		    IPC_END_NONE;
		/* The encoder does not judge events; the monitor's decoder
		 * does. */
		open_msg(ipc_enc_audit(&b, &in), &b, IPC_W_AUDIT, &c);
		CHECK(ipc_dec_audit(&c, &out) == cases[i].want,
		    "ipc_dec_audit event=%u", (unsigned)cases[i].event);
	}
	buf_free(&b);
}

/* Decoders must not read a cursor that has already failed. */
static void
test_failed_cursor(void)
{
	struct buf b;
	struct cursor c;
	size_t i;

	buf_init(&b, IPC_MAX_MSG);
	for (i = 0; i < NELEM(layouts); i++) {
		open_msg(layouts[i].enc(&b, V_TYPICAL), &b, layouts[i].type,
		    &c);
		c.failed = 1;
		CHECK(layouts[i].dec(&c) == -1, "%s: decoded from a failed "
		    "cursor", layouts[i].name);
	}
	buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* 4. Transport                                                       */
/* ------------------------------------------------------------------ */

#define RAW_MAX_FDS	8

/* Open fds in this process (the directory stream's own fd excluded). */
static int
fd_count(void)
{
	DIR *d;
	struct dirent *e;
	int n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static int
is_open(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

/* A socketpair as the daemon makes one; a receive that would hang fails
 * after 5 s instead. */
static void
make_pair(int sv[2])
{
	struct timeval tv = { 5, 0 };

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv) == 0);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static void
close_pair(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/* Is nothing waiting on sock? */
static int
nothing_queued(int sock)
{
	uint8_t x;

	return recv(sock, &x, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN;
}

/* sendmsg of any bytes with any number of fds, bypassing ipc_send. */
static ssize_t
raw_send(int sock, const void *p, size_t n, const int *fds, int nfds)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * RAW_MAX_FDS)];
	} cmsgbuf;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *cm;

	memset(&mh, 0, sizeof(mh));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = (void *)p;
	iov.iov_len = n;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		mh.msg_control = cmsgbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

static int
open_devnull(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static uint8_t rxmsg[IPC_MAX_MSG];

/* ipc_recv into rxmsg, the fd slots first poisoned. */
static long
recv_msg(int sock, unsigned *type, int fds[IPC_MAX_FDS], int *nfds)
{
	int i;

	for (i = 0; i < IPC_MAX_FDS; i++)
		fds[i] = 12345;
	*nfds = 77;
	*type = 0xdead;
	return ipc_recv(sock, rxmsg, type, fds, nfds);
}

static void
test_send_recv(void)
{
	struct ipc_log in, out;
	struct buf b;
	struct cursor c;
	unsigned type;
	int sv[2], fds[IPC_MAX_FDS], nfds;
	long n;

	make_pair(sv);
	buf_init(&b, IPC_MAX_MSG);
	fill_log(&in, V_TYPICAL);
	CU_ASSERT_EQUAL(ipc_enc_log(&b, &in), 0);
	CU_ASSERT_EQUAL(ipc_send(sv[0], &b, NULL, 0), 0);
	n = recv_msg(sv[1], &type, fds, &nfds);
	CU_ASSERT_EQUAL(n, (long)b.len);
	CU_ASSERT_EQUAL(type, IPC_W_LOG);
	CU_ASSERT_EQUAL(nfds, 0);
	CU_ASSERT_EQUAL(fds[0], -1);
	CU_ASSERT_EQUAL(fds[1], -1);
	CU_ASSERT(n > 0 && memcmp(rxmsg, b.data, (size_t)n) == 0);
	if (n >= 2) {
		cursor_init(&c, rxmsg + 2, (size_t)n - 2);
		CU_ASSERT_EQUAL(ipc_dec_log(&c, &out), 0);
		CU_ASSERT_EQUAL(out.level, in.level);
		CU_ASSERT_STRING_EQUAL(out.text, in.text);
	}

	/* Both directions; message boundaries kept. */
	CU_ASSERT_EQUAL(ipc_enc_empty(&b, IPC_W_READY), 0);
	CU_ASSERT_EQUAL(ipc_send(sv[1], &b, NULL, 0), 0);
	CU_ASSERT_EQUAL(ipc_enc_log(&b, &in), 0);
	CU_ASSERT_EQUAL(ipc_send(sv[1], &b, NULL, 0), 0);
	CU_ASSERT_EQUAL(recv_msg(sv[0], &type, fds, &nfds), 2);
	CU_ASSERT_EQUAL(type, IPC_W_READY);
	CU_ASSERT_EQUAL(recv_msg(sv[0], &type, fds, &nfds), (long)b.len);
	CU_ASSERT_EQUAL(type, IPC_W_LOG);
	CU_ASSERT(nothing_queued(sv[0]));
	buf_free(&b);
	close_pair(sv);
}

/* Every type goes through with exactly the fds it carries. */
static void
test_send_recv_every_type(void)
{
	struct buf b;
	unsigned t, type;
	int sv[2], fds[IPC_MAX_FDS], nfds, send_fds[IPC_MAX_FDS], want, i;
	int base;
	long n;

	make_pair(sv);
	buf_init(&b, IPC_MAX_MSG);
	base = fd_count();
	for (t = IPC_NONE + 1; t < IPC_TYPE_MAX; t++) {
		want = ipc_type_nfds(t);
		for (i = 0; i < want; i++)
			send_fds[i] = open_devnull();
		CU_ASSERT_EQUAL(ipc_enc_empty(&b, t), 0);
		buf_put_u32(&b, t);	/* a body; ipc_recv does not decode */
		CU_ASSERT_EQUAL(ipc_send(sv[0], &b, send_fds, want), 0);
		/* The sender keeps its fds. */
		for (i = 0; i < want; i++) {
			CU_ASSERT(is_open(send_fds[i]));
			close(send_fds[i]);
		}
		n = recv_msg(sv[1], &type, fds, &nfds);
		CHECK(n == 6, "%s: ipc_recv returned %ld", ipc_type_name(t),
		    n);
		CU_ASSERT_EQUAL(type, t);
		CU_ASSERT_EQUAL(nfds, want);
		for (i = 0; i < IPC_MAX_FDS; i++) {
			if (i < want) {
				CU_ASSERT(is_open(fds[i]));
				/* received close-on-exec */
				CU_ASSERT(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
				close(fds[i]);
			} else
				CU_ASSERT_EQUAL(fds[i], -1);
		}
	}
	CU_ASSERT_EQUAL(fd_count(), base);
	buf_free(&b);
	close_pair(sv);
}

static void
test_client_fd(void)
{
	struct ipc_client cl;
	struct buf b;
	unsigned type;
	int sv[2], p[2], fds[IPC_MAX_FDS], nfds, base;
	char got[8] = "";

	base = fd_count();
	make_pair(sv);
	CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0);
	buf_init(&b, IPC_MAX_MSG);
	fill_client(&cl, V_TYPICAL);
	CU_ASSERT_EQUAL(ipc_enc_client(&b, &cl), 0);
	CU_ASSERT_EQUAL(ipc_send(sv[0], &b, &p[1], 1), 0);
	close(p[1]);	/* only the received copy is left */

	CU_ASSERT_EQUAL(recv_msg(sv[1], &type, fds, &nfds), (long)b.len);
	CU_ASSERT_EQUAL(type, IPC_M_CLIENT);
	CU_ASSERT_EQUAL(nfds, 1);
	CU_ASSERT_EQUAL(fds[1], -1);
	CU_ASSERT_FATAL(is_open(fds[0]));
	CU_ASSERT_EQUAL(write(fds[0], "hello", 5), 5);
	CU_ASSERT_EQUAL(read(p[0], got, sizeof(got)), 5);
	CU_ASSERT(memcmp(got, "hello", 5) == 0);
	close(fds[0]);
	/* That was the last write end: the pipe reads EOF. */
	CU_ASSERT_EQUAL(read(p[0], got, sizeof(got)), 0);
	close(p[0]);
	buf_free(&b);
	close_pair(sv);
	CU_ASSERT_EQUAL(fd_count(), base);
}

static void
test_route_fds(void)
{
	struct ipc_route r;
	struct buf b;
	unsigned type;
	int sv[2], up[2], agent[2], out[2], fds[IPC_MAX_FDS], nfds, base;
	char got[4] = "";

	base = fd_count();
	make_pair(sv);
	CU_ASSERT_FATAL(pipe2(up, O_CLOEXEC) == 0);
	CU_ASSERT_FATAL(pipe2(agent, O_CLOEXEC) == 0);
	buf_init(&b, IPC_MAX_MSG);
	fill_route(&r, V_TYPICAL);
	CU_ASSERT_EQUAL(ipc_enc_route(&b, &r), 0);
	out[0] = up[1];
	out[1] = agent[1];
	CU_ASSERT_EQUAL(ipc_send(sv[0], &b, out, 2), 0);
	close(up[1]);
	close(agent[1]);

	CU_ASSERT_EQUAL(recv_msg(sv[1], &type, fds, &nfds), (long)b.len);
	CU_ASSERT_EQUAL(type, IPC_M_ROUTE);
	CU_ASSERT_EQUAL(nfds, 2);
	CU_ASSERT_FATAL(is_open(fds[0]) && is_open(fds[1]));
	/* In order: fds[0] is the upstream socket, fds[1] the agent's. */
	CU_ASSERT_EQUAL(write(fds[0], "U", 1), 1);
	CU_ASSERT_EQUAL(write(fds[1], "A", 1), 1);
	CU_ASSERT_EQUAL(read(up[0], got, sizeof(got)), 1);
	CU_ASSERT_EQUAL(got[0], 'U');
	CU_ASSERT_EQUAL(read(agent[0], got, sizeof(got)), 1);
	CU_ASSERT_EQUAL(got[0], 'A');
	close(fds[0]);
	close(fds[1]);
	close(up[0]);
	close(agent[0]);
	buf_free(&b);
	close_pair(sv);
	CU_ASSERT_EQUAL(fd_count(), base);
}

/*
 * Datagrams a hostile peer may send: each must be refused with EPROTO,
 * every fd it carried closed, and the next good message still received.
 */
static void
test_bad_datagrams(void)
{
	static const struct {
		const char *name;
		unsigned type;		/* the first two bytes */
		size_t len;
		int nfds;
	} cases[] = {
		{ "W_LOG with 1 fd", IPC_W_LOG, 10, 1 },
		{ "M_INIT with 1 fd", IPC_M_INIT, 2, 1 },
		{ "W_READY with 2 fds", IPC_W_READY, 2, 2 },
		{ "W_AUDIT with 3 fds", IPC_W_AUDIT, 2, 3 },
		{ "M_CLIENT with no fd", IPC_M_CLIENT, 2, 0 },
		{ "M_CLIENT with 2 fds", IPC_M_CLIENT, 2, 2 },
		{ "M_CLIENT with 3 fds", IPC_M_CLIENT, 2, 3 },
		{ "M_ROUTE with no fd", IPC_M_ROUTE, 2, 0 },
		{ "M_ROUTE with 1 fd", IPC_M_ROUTE, 2, 1 },
		{ "M_ROUTE with 3 fds", IPC_M_ROUTE, 2, 3 },
		{ "M_ROUTE with 4 fds", IPC_M_ROUTE, 2, 4 },
		{ "M_ROUTE with 5 fds", IPC_M_ROUTE, 2, 5 },
		{ "M_ROUTE with 8 fds", IPC_M_ROUTE, 2, RAW_MAX_FDS },
		{ "M_ROUTE_CERT with no fd", IPC_M_ROUTE_CERT, 2, 0 },
		{ "M_ROUTE_CERT with 2 fds", IPC_M_ROUTE_CERT, 2, 2 },
		{ "1-byte datagram", IPC_W_READY, 1, 0 },
		{ "1-byte datagram with 1 fd", IPC_M_CLIENT, 1, 1 },
		{ "type 0", IPC_NONE, 2, 0 },
		{ "type 0 with 2 fds", IPC_NONE, 2, 2 },
		{ "type IPC_TYPE_MAX", IPC_TYPE_MAX, 2, 0 },
		{ "type IPC_TYPE_MAX with 1 fd", IPC_TYPE_MAX, 2, 1 },
		{ "type 0xffff", 0xffff, 2, 0 },
		{ "type 0x0100|M_CLIENT with 1 fd", 0x100 | IPC_M_CLIENT, 2,
		    1 },
		{ "IPC_MAX_MSG+1 bytes", IPC_W_LOG, IPC_MAX_MSG + 1, 0 },
		{ "IPC_MAX_MSG+1 bytes, M_CLIENT with its fd", IPC_M_CLIENT,
		    IPC_MAX_MSG + 1, 1 },
		{ "2*IPC_MAX_MSG bytes", IPC_W_LOG, 2 * IPC_MAX_MSG, 0 },
	};
	static uint8_t dgram[2 * IPC_MAX_MSG];
	struct buf ready;
	unsigned type;
	int sv[2], sfds[RAW_MAX_FDS], fds[IPC_MAX_FDS], nfds, base, i;
	size_t k;
	long n;

	buf_init(&ready, IPC_MAX_MSG);
	CU_ASSERT_EQUAL(ipc_enc_empty(&ready, IPC_W_READY), 0);
	for (k = 0; k < NELEM(cases); k++) {
		make_pair(sv);
		base = fd_count();
		memset(dgram, 0, sizeof(dgram));
		dgram[0] = (uint8_t)(cases[k].type >> 8);
		dgram[1] = (uint8_t)cases[k].type;
		for (i = 0; i < cases[k].nfds; i++)
			sfds[i] = open_devnull();
		CHECK(raw_send(sv[0], dgram, cases[k].len, sfds,
		    cases[k].nfds) == (ssize_t)cases[k].len,
		    "%s: raw send failed", cases[k].name);
		for (i = 0; i < cases[k].nfds; i++)
			close(sfds[i]);
		CU_ASSERT_EQUAL(ipc_send(sv[0], &ready, NULL, 0), 0);

		errno = 0;
		n = recv_msg(sv[1], &type, fds, &nfds);
		CHECK(n == -1 && errno == EPROTO,
		    "%s: ipc_recv returned %ld, errno %d", cases[k].name, n,
		    errno);
		CHECK(nfds == 0 && fds[0] == -1 && fds[1] == -1,
		    "%s: fds handed out of a refused message", cases[k].name);
		CHECK(fd_count() == base, "%s: %d fds leaked", cases[k].name,
		    fd_count() - base);

		/* The stream is still in step. */
		n = recv_msg(sv[1], &type, fds, &nfds);
		CHECK(n == 2 && type == IPC_W_READY && nfds == 0,
		    "%s: next message lost", cases[k].name);
		close_pair(sv);
	}
	buf_free(&ready);
}

/* Exactly IPC_MAX_MSG bytes is still a message. */
static void
test_max_datagram(void)
{
	static uint8_t dgram[IPC_MAX_MSG];
	unsigned type;
	int sv[2], fds[IPC_MAX_FDS], nfds;
	struct buf b;

	make_pair(sv);
	dgram[1] = IPC_W_LOG;
	CU_ASSERT_EQUAL(raw_send(sv[0], dgram, sizeof(dgram), NULL, 0),
	    (ssize_t)sizeof(dgram));
	CU_ASSERT_EQUAL(recv_msg(sv[1], &type, fds, &nfds), IPC_MAX_MSG);
	CU_ASSERT_EQUAL(type, IPC_W_LOG);

	/* And ipc_send sends one. */
	buf_init(&b, IPC_MAX_MSG);
	CU_ASSERT_EQUAL(ipc_enc_empty(&b, IPC_W_LOG), 0);
	buf_put(&b, dgram, IPC_MAX_MSG - 2);
	CU_ASSERT_EQUAL(buf_ok(&b), 0);
	CU_ASSERT_EQUAL(ipc_send(sv[0], &b, NULL, 0), 0);
	CU_ASSERT_EQUAL(recv_msg(sv[1], &type, fds, &nfds), IPC_MAX_MSG);
	buf_free(&b);
	close_pair(sv);
}

static void
test_peer_closed(void)
{
	struct buf b;
	unsigned type;
	int sv[2], fds[IPC_MAX_FDS], nfds;

	/* A message queued before the close is still delivered, then 0. */
	make_pair(sv);
	buf_init(&b, IPC_MAX_MSG);
	CU_ASSERT_EQUAL(ipc_enc_empty(&b, IPC_W_ROUTE), 0);
	CU_ASSERT_EQUAL(ipc_send(sv[0], &b, NULL, 0), 0);
	close(sv[0]);
	CU_ASSERT_EQUAL(recv_msg(sv[1], &type, fds, &nfds), 2);
	CU_ASSERT_EQUAL(type, IPC_W_ROUTE);
	CU_ASSERT_EQUAL(recv_msg(sv[1], &type, fds, &nfds), 0);
	CU_ASSERT_EQUAL(nfds, 0);
	CU_ASSERT_EQUAL(fds[0], -1);
	CU_ASSERT_EQUAL(fds[1], -1);
	CU_ASSERT_EQUAL(recv_msg(sv[1], &type, fds, &nfds), 0);

	/* Sending to a closed peer fails, without SIGPIPE. */
	errno = 0;
	CU_ASSERT_EQUAL(ipc_send(sv[1], &b, NULL, 0), -1);
	CU_ASSERT_EQUAL(errno, EPIPE);
	close(sv[1]);
	buf_free(&b);
}

/*
 * A peer that dies with our messages unread (a lookup process or worker
 * killed by SIGKILL or the OOM killer) makes Linux report ECONNRESET once,
 * before what it queued for us.  That is the peer's end, not a malformed
 * message: ipc_recv must still deliver the queued message, then EOF.
 */
static void
test_peer_died_unread(void)
{
	struct buf b;
	unsigned type;
	int sv[2], fds[IPC_MAX_FDS], nfds;

	make_pair(sv);
	buf_init(&b, IPC_MAX_MSG);
	CU_ASSERT_EQUAL(ipc_enc_empty(&b, IPC_W_ROUTE), 0);
	CU_ASSERT_EQUAL(ipc_send(sv[1], &b, NULL, 0), 0);	/* never read */
	CU_ASSERT_EQUAL(ipc_send(sv[0], &b, NULL, 0), 0);
	close(sv[0]);
	errno = 0;
	CU_ASSERT_EQUAL(recv_msg(sv[1], &type, fds, &nfds), 2);
	CU_ASSERT_EQUAL(type, IPC_W_ROUTE);
	CU_ASSERT_EQUAL(recv_msg(sv[1], &type, fds, &nfds), 0);
	CU_ASSERT_EQUAL(nfds, 0);
	close(sv[1]);
	buf_free(&b);
}

/*
 * On SOCK_SEQPACKET an empty datagram reads as 0, like EOF.  A peer may
 * send one with fds attached; ipc_recv must not leave them open.
 * (Found by this test: ipc_recv once returned before it looked at the
 * control data, leaving the fds open in the monitor.)
 */
static void
test_empty_datagram_with_fds(void)
{
	unsigned type;
	int sv[2], sfds[IPC_MAX_FDS], fds[IPC_MAX_FDS], nfds, base, i;
	long n;

	make_pair(sv);
	base = fd_count();
	for (i = 0; i < IPC_MAX_FDS; i++)
		sfds[i] = open_devnull();
	CU_ASSERT_EQUAL(raw_send(sv[0], NULL, 0, sfds, IPC_MAX_FDS), 0);
	for (i = 0; i < IPC_MAX_FDS; i++)
		close(sfds[i]);
	n = recv_msg(sv[1], &type, fds, &nfds);
	CU_ASSERT(n <= 0);
	CU_ASSERT_EQUAL(nfds, 0);
	CHECK(fd_count() == base, "0-byte datagram with %d fds: ipc_recv "
	    "returned %ld and leaked %d fds", IPC_MAX_FDS, n,
	    fd_count() - base);
	close_pair(sv);
}

static void
test_send_refusals(void)
{
	struct buf b, big;
	int sv[2], fds[IPC_MAX_FDS + 1], i;

	make_pair(sv);
	buf_init(&b, IPC_MAX_MSG);
	for (i = 0; i <= IPC_MAX_FDS; i++)
		fds[i] = open_devnull();

	/* An empty and a 1-byte buffer are no message. */
	errno = 0;
	CU_ASSERT_EQUAL(ipc_send(sv[0], &b, NULL, 0), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	buf_put_u8(&b, IPC_W_READY);
	errno = 0;
	CU_ASSERT_EQUAL(ipc_send(sv[0], &b, NULL, 0), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);

	/* A failed buffer. */
	CU_ASSERT_EQUAL(ipc_enc_empty(&b, IPC_M_CLIENT), 0);
	buf_put(&b, pat, IPC_MAX_MSG);		/* over the max: fails */
	CU_ASSERT_EQUAL(buf_ok(&b), -1);
	errno = 0;
	CU_ASSERT_EQUAL(ipc_send(sv[0], &b, fds, 1), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);

	/* Too many fds, or a negative count. */
	CU_ASSERT_EQUAL(ipc_enc_empty(&b, IPC_M_ROUTE), 0);
	errno = 0;
	CU_ASSERT_EQUAL(ipc_send(sv[0], &b, fds, IPC_MAX_FDS + 1), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_EQUAL(ipc_send(sv[0], &b, fds, -1), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);

	/* A buffer longer than IPC_MAX_MSG (one not made for IPC). */
	buf_init(&big, RAW_MAX);
	buf_put_u16(&big, IPC_W_LOG);
	buf_put(&big, pat, IPC_MAX_MSG - 1);
	CU_ASSERT_EQUAL(big.len, IPC_MAX_MSG + 1);
	errno = 0;
	CU_ASSERT_EQUAL(ipc_send(sv[0], &big, NULL, 0), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	buf_free(&big);

	/* Nothing went out, and the caller's fds are untouched. */
	CU_ASSERT(nothing_queued(sv[1]));
	for (i = 0; i <= IPC_MAX_FDS; i++) {
		CU_ASSERT(is_open(fds[i]));
		close(fds[i]);
	}
	buf_free(&b);
	close_pair(sv);
}

/* ------------------------------------------------------------------ */
/* 5. Names and fd counts                                             */
/* ------------------------------------------------------------------ */

static void
test_type_names(void)
{
	static const struct {
		unsigned type;
		const char *name;
		int nfds;
	} types[] = {
		{ IPC_NONE, "NONE", 0 },
		{ IPC_M_INIT, "M_INIT", 0 },
		{ IPC_M_CLIENT, "M_CLIENT", 1 },
		{ IPC_M_SIGN_REPLY, "M_SIGN_REPLY", 0 },
		{ IPC_M_KEY_REPLY, "M_KEY_REPLY", 0 },
		{ IPC_M_VERIFY_REPLY, "M_VERIFY_REPLY", 0 },
		{ IPC_M_ROUTE, "M_ROUTE", 2 },
		{ IPC_M_ROUTE_FAIL, "M_ROUTE_FAIL", 0 },
		{ IPC_W_READY, "W_READY", 0 },
		{ IPC_W_LOG, "W_LOG", 0 },
		{ IPC_W_SIGN, "W_SIGN", 0 },
		{ IPC_W_KEY_QUERY, "W_KEY_QUERY", 0 },
		{ IPC_W_VERIFY, "W_VERIFY", 0 },
		{ IPC_W_ROUTE, "W_ROUTE", 0 },
		{ IPC_W_AUDIT, "W_AUDIT", 0 },
		{ IPC_M_PROXY_REPLY, "M_PROXY_REPLY", 0 },
		{ IPC_W_PROXY, "W_PROXY", 0 },
		{ IPC_M_ROUTE_CERT, "M_ROUTE_CERT", 1 },
		{ IPC_W_REFUSED, "W_REFUSED", 0 },
		{ IPC_W_KEX, "W_KEX", 0 },
		{ IPC_L_INIT, "L_INIT", 0 },
		{ IPC_L_READY, "L_READY", 0 },
		{ IPC_L_ACCESS, "L_ACCESS", 0 },
		{ IPC_L_FACTS, "L_FACTS", 0 },
		{ IPC_L_STARTUP, "L_STARTUP", 0 },
		{ IPC_L_COUNTED, "L_COUNTED", 0 },
		{ IPC_L_LOG, "L_LOG", 0 },
		{ IPC_L_SCRAPE, "L_SCRAPE", 0 },
		{ IPC_L_METRICS, "L_METRICS", 0 },
		{ IPC_TYPE_MAX, "UNKNOWN", 0 },
		{ IPC_TYPE_MAX + 1, "UNKNOWN", 0 },
		{ 0xffff, "UNKNOWN", 0 },
		{ UINT_MAX, "UNKNOWN", 0 },
	};
	size_t i;

	/* The table above lists every type. */
	CU_ASSERT_EQUAL(IPC_TYPE_MAX, 29);
	for (i = 0; i < NELEM(types); i++) {
		CHECK(strcmp(ipc_type_name(types[i].type), types[i].name) == 0,
		    "ipc_type_name(%u) = \"%s\", want \"%s\"", types[i].type,
		    ipc_type_name(types[i].type), types[i].name);
		CHECK(ipc_type_nfds(types[i].type) == types[i].nfds,
		    "ipc_type_nfds(%u) = %d, want %d", types[i].type,
		    ipc_type_nfds(types[i].type), types[i].nfds);
		CU_ASSERT(ipc_type_nfds(types[i].type) <= IPC_MAX_FDS);
	}
}

/* W_PROXY: each status round trips; what does not fit its status, and
 * M_CLIENT flags the monitor never sends, are refused. */
static void
test_proxy_msgs(void)
{
	struct ipc_proxy in, out;
	struct ipc_client cl;
	struct buf b;
	struct cursor c;
	uint32_t st;

	buf_init(&b, IPC_MAX_MSG);
	memset(&in, 0, sizeof(in));
	in.status = IPC_PROXY_CLIENT;
	in.family = 6;
	memset(in.addr, 0x20, 16);
	in.port = 65535;
	open_msg(ipc_enc_proxy(&b, &in), &b, IPC_W_PROXY, &c);
	CU_ASSERT_EQUAL(ipc_dec_proxy(&c, &out), 0);
	CU_ASSERT_EQUAL(out.family, 6);
	CU_ASSERT_EQUAL(out.port, 65535);
	CU_ASSERT_EQUAL(memcmp(out.addr, in.addr, 16), 0);
	in.family = 4;
	open_msg(ipc_enc_proxy(&b, &in), &b, IPC_W_PROXY, &c);
	CU_ASSERT_EQUAL(ipc_dec_proxy(&c, &out), 0);
	for (st = IPC_PROXY_LOCAL; st < IPC_PROXY_MAX; st++) {
		memset(&in, 0, sizeof(in));
		in.status = st;
		snprintf(in.why, sizeof(in.why), "v1 header without 6 fields");
		open_msg(ipc_enc_proxy(&b, &in), &b, IPC_W_PROXY, &c);
		CU_ASSERT_EQUAL(ipc_dec_proxy(&c, &out), 0);
		CU_ASSERT_STRING_EQUAL(out.why, in.why);
	}
	/* Hand-built: status, family, address, port, why. */
#define PROXY_BODY(st, fam, alen, port) do { \
		buf_reset(&b); buf_put_u32(&b, (st)); buf_put_u32(&b, (fam)); \
		buf_put_string(&b, "0123456789abcdef", (alen)); \
		buf_put_u32(&b, (port)); buf_put_cstring(&b, ""); \
		cursor_init(&c, b.data, b.len); } while (0)
	PROXY_BODY(IPC_PROXY_CLIENT, 4, 4, 22);
	CU_ASSERT_EQUAL(ipc_dec_proxy(&c, &out), 0);
	PROXY_BODY(IPC_PROXY_CLIENT, 4, 16, 22);	/* length vs family */
	CU_ASSERT_EQUAL(ipc_dec_proxy(&c, &out), -1);
	PROXY_BODY(IPC_PROXY_CLIENT, 6, 4, 22);
	CU_ASSERT_EQUAL(ipc_dec_proxy(&c, &out), -1);
	PROXY_BODY(IPC_PROXY_CLIENT, 5, 16, 22);
	CU_ASSERT_EQUAL(ipc_dec_proxy(&c, &out), -1);
	PROXY_BODY(IPC_PROXY_CLIENT, 4, 4, 65536);	/* port */
	CU_ASSERT_EQUAL(ipc_dec_proxy(&c, &out), -1);
	PROXY_BODY(0, 0, 0, 0);				/* status */
	CU_ASSERT_EQUAL(ipc_dec_proxy(&c, &out), -1);
	PROXY_BODY(IPC_PROXY_MAX, 0, 0, 0);
	CU_ASSERT_EQUAL(ipc_dec_proxy(&c, &out), -1);
	PROXY_BODY(IPC_PROXY_LOCAL, 4, 4, 22);	/* LOCAL names nobody */
	CU_ASSERT_EQUAL(ipc_dec_proxy(&c, &out), -1);
	PROXY_BODY(IPC_PROXY_LOCAL, 0, 0, 0);
	buf_put_u8(&b, 0);				/* leftover */
	cursor_init(&c, b.data, b.len);
	CU_ASSERT_EQUAL(ipc_dec_proxy(&c, &out), -1);
#undef PROXY_BODY
	/* M_CLIENT: unknown flags, or a PROXY timeout out of range. */
	memset(&cl, 0, sizeof(cl));
	cl.flags = 2;
	open_msg(ipc_enc_client(&b, &cl), &b, IPC_M_CLIENT, &c);
	CU_ASSERT_EQUAL(ipc_dec_client(&c, &cl), -1);
	memset(&cl, 0, sizeof(cl));
	cl.flags = IPC_CLIENT_PROXY;
	open_msg(ipc_enc_client(&b, &cl), &b, IPC_M_CLIENT, &c);
	CU_ASSERT_EQUAL(ipc_dec_client(&c, &cl), -1);
	buf_free(&b);
}

/* ------------------------------------------------------------------ */


static const struct unit_test rt_tests[] = {
	{ "M_INIT", test_rt_init },
	{ "M_CLIENT", test_rt_client },
	{ "W_PROXY and M_CLIENT's PROXY flag", test_proxy_msgs },
	{ "M_SIGN_REPLY, W_SIGN", test_rt_bytes },
	{ "M_KEY_REPLY, M_VERIFY_REPLY", test_rt_flag },
	{ "M_ROUTE", test_rt_route },
	{ "M_ROUTE_CERT, W_ROUTE", test_rt_route_cert },
	{ "M_ROUTE_FAIL", test_rt_text },
	{ "W_LOG", test_rt_log },
	{ "W_KEY_QUERY", test_rt_key_query },
	{ "W_VERIFY", test_rt_verify },
	{ "W_AUDIT", test_rt_audit },
	{ "W_READY", test_rt_empty },
	{ "encoder resets the buffer", test_enc_resets_buf },
	{ "maximal messages fit IPC_MAX_MSG", test_max_messages_fit },
	{ NULL, NULL },
};

static const struct unit_test refuse_tests[] = {
	{ "M_INIT", test_refuse_init },
	{ "M_CLIENT", test_refuse_client },
	{ "byte strings", test_refuse_bytes },
	{ "M_ROUTE", test_refuse_route },
	{ "M_ROUTE_FAIL, W_LOG", test_refuse_text_log },
	{ "W_KEY_QUERY", test_refuse_key_query },
	{ "W_VERIFY", test_refuse_verify },
	{ "W_AUDIT", test_refuse_audit },
	{ NULL, NULL },
};

static const struct unit_test malformed_tests[] = {
	{ "every truncation", test_truncations },
	{ "a trailing byte", test_trailing_byte },
	{ "bad strings", test_bad_strings },
	{ "flag values", test_flag_values },
	{ "flag encoding", test_flag_encoding },
	{ "audit events", test_audit_events },
	{ "W_KEX legs", test_kex_legs },
	{ "failed cursor", test_failed_cursor },
	{ NULL, NULL },
};

static const struct unit_test transport_tests[] = {
	{ "send and receive", test_send_recv },
	{ "every type with its fds", test_send_recv_every_type },
	{ "M_CLIENT fd works", test_client_fd },
	{ "M_ROUTE fds work, in order", test_route_fds },
	{ "hostile datagrams refused, fds closed", test_bad_datagrams },
	{ "IPC_MAX_MSG datagram", test_max_datagram },
	{ "peer closed", test_peer_closed },
	{ "peer died with our messages unread", test_peer_died_unread },
	{ "empty datagram with fds", test_empty_datagram_with_fds },
	{ "ipc_send refusals", test_send_refusals },
	{ NULL, NULL },
};

static const struct unit_test name_tests[] = {
	{ "ipc_type_name, ipc_type_nfds", test_type_names },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	static const struct unit_suite suites[] = {
		{ "ipc round trip", rt_tests },
		{ "ipc encoder refusals", refuse_tests },
		{ "ipc malformed bodies", malformed_tests },
		{ "ipc transport", transport_tests },
		{ "ipc names", name_tests },
		UNIT_SUITES_END,
	};
	size_t i;

	for (i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + 3);	/* 0x00 at i = 219, ... */
	return unit_run_suites(argc, argv, suites);
}
