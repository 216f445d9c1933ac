/*
 * ipc.c - the monitor <-> worker codec and transport.
 *
 * Encoders and decoders stand side by side, one pair per message body, so a
 * field added to one is seen missing from the other.  Decoders read every
 * field and then require the cursor to be exhausted: a short body and a
 * body with bytes left over are both malformed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"

static const char *const type_names[IPC_TYPE_MAX] = {
	[IPC_NONE] = "NONE",
	[IPC_M_INIT] = "M_INIT",
	[IPC_M_CLIENT] = "M_CLIENT",
	[IPC_M_SIGN_REPLY] = "M_SIGN_REPLY",
	[IPC_M_KEY_REPLY] = "M_KEY_REPLY",
	[IPC_M_VERIFY_REPLY] = "M_VERIFY_REPLY",
	[IPC_M_ROUTE] = "M_ROUTE",
	[IPC_M_ROUTE_FAIL] = "M_ROUTE_FAIL",
	[IPC_W_READY] = "W_READY",
	[IPC_W_LOG] = "W_LOG",
	[IPC_W_SIGN] = "W_SIGN",
	[IPC_W_KEY_QUERY] = "W_KEY_QUERY",
	[IPC_W_VERIFY] = "W_VERIFY",
	[IPC_W_ROUTE] = "W_ROUTE",
	[IPC_W_AUDIT] = "W_AUDIT",
	[IPC_M_PROXY_REPLY] = "M_PROXY_REPLY",
	[IPC_W_PROXY] = "W_PROXY",
	[IPC_M_ROUTE_CERT] = "M_ROUTE_CERT",
	[IPC_W_REFUSED] = "W_REFUSED",
	[IPC_W_KEX] = "W_KEX",
	[IPC_L_INIT] = "L_INIT",
	[IPC_L_READY] = "L_READY",
	[IPC_L_ACCESS] = "L_ACCESS",
	[IPC_L_FACTS] = "L_FACTS",
	[IPC_L_STARTUP] = "L_STARTUP",
	[IPC_L_COUNTED] = "L_COUNTED",
	[IPC_L_LOG] = "L_LOG",
	[IPC_L_SCRAPE] = "L_SCRAPE",
	[IPC_L_METRICS] = "L_METRICS",
};

const char *
ipc_type_name(unsigned type)
{
	if (type >= IPC_TYPE_MAX || type_names[type] == NULL)
		return "UNKNOWN";
	return type_names[type];
}

int
ipc_type_nfds(unsigned type)
{
	switch (type) {
	case IPC_M_CLIENT:
		return 1;	/* the client's socket */
	case IPC_M_ROUTE:
		return 2;	/* upstream socket, agent socket */
	case IPC_M_ROUTE_CERT:
		return 1;	/* upstream socket */
	default:
		return 0;
	}
}

static void
put_header(struct buf *b, unsigned type)
{
	buf_reset(b);
	buf_put_u16(b, (uint16_t)type);
}

/* A C string field: refused (encoder fails) if over its decoder's bound. */
static void
put_cstr(struct buf *b, const char *s, size_t bound)
{
	size_t n = strnlen(s, bound);

	if (n >= bound) {
		b->failed = 1;
		return;
	}
	buf_put_string(b, s, n);
}

static void
put_bytes(struct buf *b, const uint8_t *p, size_t n, size_t bound)
{
	if (n > bound) {
		b->failed = 1;
		return;
	}
	buf_put_string(b, p, n);
}

/* ---- IPC_M_INIT ---- */

int
ipc_enc_init(struct buf *b, const struct ipc_init *m)
{
	put_header(b, IPC_M_INIT);
	buf_put_u32(b, m->version);
	buf_put_u32(b, m->log_level);
	buf_put_u32(b, m->flags);
	buf_put_u32(b, m->uid);
	buf_put_u32(b, m->gid);
	buf_put_u32(b, m->login_grace_time);
	buf_put_u32(b, m->upstream_timeout);
	buf_put_u32(b, m->idle_timeout);
	buf_put_u32(b, m->keepalive_interval);
	buf_put_u32(b, m->keepalive_count_max);
	buf_put_u32(b, m->max_auth_tries);
	put_cstr(b, m->chroot_dir, sizeof(m->chroot_dir));
	put_cstr(b, m->kex, sizeof(m->kex));
	put_cstr(b, m->ciphers, sizeof(m->ciphers));
	put_cstr(b, m->macs, sizeof(m->macs));
	put_bytes(b, m->hostkey_blob, m->hostkey_blob_len, IPC_MAX_BLOB);
	return buf_ok(b);
}

int
ipc_dec_init(struct cursor *c, struct ipc_init *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_u32(c, &m->version);
	cursor_get_u32(c, &m->log_level);
	cursor_get_u32(c, &m->flags);
	cursor_get_u32(c, &m->uid);
	cursor_get_u32(c, &m->gid);
	cursor_get_u32(c, &m->login_grace_time);
	cursor_get_u32(c, &m->upstream_timeout);
	cursor_get_u32(c, &m->idle_timeout);
	cursor_get_u32(c, &m->keepalive_interval);
	cursor_get_u32(c, &m->keepalive_count_max);
	cursor_get_u32(c, &m->max_auth_tries);
	cursor_get_cstring(c, m->chroot_dir, sizeof(m->chroot_dir));
	cursor_get_cstring(c, m->kex, sizeof(m->kex));
	cursor_get_cstring(c, m->ciphers, sizeof(m->ciphers));
	cursor_get_cstring(c, m->macs, sizeof(m->macs));
	cursor_get_string(c, &m->hostkey_blob, &m->hostkey_blob_len,
	    IPC_MAX_BLOB);
	return cursor_end(c);
}

/* ---- IPC_M_CLIENT ---- */

int
ipc_enc_client(struct buf *b, const struct ipc_client *m)
{
	put_header(b, IPC_M_CLIENT);
	buf_put_u64(b, m->conn_id);
	put_cstr(b, m->peer, sizeof(m->peer));
	buf_put_u32(b, m->flags);
	buf_put_u32(b, m->proxy_timeout);
	return buf_ok(b);
}

int
ipc_dec_client(struct cursor *c, struct ipc_client *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_u64(c, &m->conn_id);
	cursor_get_cstring(c, m->peer, sizeof(m->peer));
	cursor_get_u32(c, &m->flags);
	cursor_get_u32(c, &m->proxy_timeout);
	if (cursor_end(c) != 0 || (m->flags & ~(uint32_t)IPC_CLIENT_PROXY) ||
	    ((m->flags & IPC_CLIENT_PROXY) &&
	    (m->proxy_timeout == 0 || m->proxy_timeout > 3600)))
		return -1;
	return 0;
}

/* ---- IPC_W_PROXY ---- */

int
ipc_enc_proxy(struct buf *b, const struct ipc_proxy *m)
{
	put_header(b, IPC_W_PROXY);
	buf_put_u32(b, m->status);
	buf_put_u32(b, m->family);
	if (m->status == IPC_PROXY_CLIENT)
		put_bytes(b, m->addr, m->family == 4 ? 4 : 16, 16);
	else
		put_bytes(b, m->addr, 0, 16);
	buf_put_u32(b, m->port);
	put_cstr(b, m->why, sizeof(m->why));
	return buf_ok(b);
}

int
ipc_dec_proxy(struct cursor *c, struct ipc_proxy *m)
{
	const uint8_t *a = NULL;
	size_t alen = 0;
	uint32_t port = 0;

	memset(m, 0, sizeof(*m));
	cursor_get_u32(c, &m->status);
	cursor_get_u32(c, &m->family);
	cursor_get_string(c, &a, &alen, 16);
	cursor_get_u32(c, &port);
	cursor_get_cstring(c, m->why, sizeof(m->why));
	if (cursor_end(c) != 0 || m->status == 0 ||
	    m->status >= IPC_PROXY_MAX || port > 65535)
		return -1;
	m->port = (uint16_t)port;
	if (m->status == IPC_PROXY_CLIENT) {
		/* The address must be what the family says. */
		if (!((m->family == 4 && alen == 4) ||
		    (m->family == 6 && alen == 16)))
			return -1;
		memcpy(m->addr, a, alen);
	} else if (alen != 0 || m->family != 0 || m->port != 0) {
		return -1;
	}
	return 0;
}

/* ---- IPC_M_SIGN_REPLY, IPC_W_SIGN: one byte string ---- */

int
ipc_enc_bytes(struct buf *b, unsigned type, const struct ipc_bytes *m,
    size_t max)
{
	put_header(b, type);
	put_bytes(b, m->data, m->len, max);
	return buf_ok(b);
}

int
ipc_dec_bytes(struct cursor *c, struct ipc_bytes *m, size_t max)
{
	memset(m, 0, sizeof(*m));
	cursor_get_string(c, &m->data, &m->len, max);
	return cursor_end(c);
}

/* ---- IPC_M_KEY_REPLY, IPC_M_VERIFY_REPLY: a yes/no ---- */

int
ipc_enc_flag(struct buf *b, unsigned type, const struct ipc_flag *m)
{
	/* Sent as it is: squashing it to 0/1 would turn "the registry
	 * could not answer" into "yes". */
	if (m->ok > IPC_FLAG_UNAVAILABLE)
		return -1;
	put_header(b, type);
	buf_put_u32(b, m->ok);
	return buf_ok(b);
}

int
ipc_dec_flag(struct cursor *c, struct ipc_flag *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_u32(c, &m->ok);
	if (m->ok > IPC_FLAG_UNAVAILABLE)
		return -1;
	return cursor_end(c);
}

/* ---- IPC_M_ROUTE ---- */

int
ipc_enc_route(struct buf *b, const struct ipc_route *m)
{
	put_header(b, IPC_M_ROUTE);
	put_cstr(b, m->upstream_user, sizeof(m->upstream_user));
	put_cstr(b, m->host_key_pin, sizeof(m->host_key_pin));
	put_cstr(b, m->session, sizeof(m->session));
	return buf_ok(b);
}

int
ipc_dec_route(struct cursor *c, struct ipc_route *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_cstring(c, m->upstream_user, sizeof(m->upstream_user));
	cursor_get_cstring(c, m->host_key_pin, sizeof(m->host_key_pin));
	cursor_get_cstring(c, m->session, sizeof(m->session));
	return cursor_end(c);
}

/* ---- IPC_W_ROUTE: the worker's login key ---- */

int
ipc_enc_route_req(struct buf *b, const struct ipc_route_req *m)
{
	put_header(b, IPC_W_ROUTE);
	put_bytes(b, m->key_blob, m->key_blob_len, IPC_MAX_BLOB);
	return buf_ok(b);
}

int
ipc_dec_route_req(struct cursor *c, struct ipc_route_req *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_string(c, &m->key_blob, &m->key_blob_len, IPC_MAX_BLOB);
	return cursor_end(c);
}

/* ---- IPC_M_ROUTE_CERT: the route and the login certificate ---- */

int
ipc_enc_route_cert(struct buf *b, const struct ipc_route_cert *m)
{
	const struct ipc_route *r = &m->route;

	put_header(b, IPC_M_ROUTE_CERT);
	put_cstr(b, r->upstream_user, sizeof(r->upstream_user));
	put_cstr(b, r->host_key_pin, sizeof(r->host_key_pin));
	put_cstr(b, r->session, sizeof(r->session));
	if (m->cert_len == 0)
		b->failed = 1;
	put_bytes(b, m->cert, m->cert_len, IPC_MAX_BLOB);
	return buf_ok(b);
}

int
ipc_dec_route_cert(struct cursor *c, struct ipc_route_cert *m)
{
	struct ipc_route *r = &m->route;

	memset(m, 0, sizeof(*m));
	cursor_get_cstring(c, r->upstream_user, sizeof(r->upstream_user));
	cursor_get_cstring(c, r->host_key_pin, sizeof(r->host_key_pin));
	cursor_get_cstring(c, r->session, sizeof(r->session));
	cursor_get_string(c, &m->cert, &m->cert_len, IPC_MAX_BLOB);
	if (m->cert_len == 0)
		return -1;
	return cursor_end(c);
}

/* ---- IPC_M_ROUTE_FAIL: a message for the client ---- */

int
ipc_enc_text(struct buf *b, unsigned type, const struct ipc_text *m)
{
	put_header(b, type);
	put_cstr(b, m->text, sizeof(m->text));
	return buf_ok(b);
}

int
ipc_dec_text(struct cursor *c, struct ipc_text *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_cstring(c, m->text, sizeof(m->text));
	return cursor_end(c);
}

/* ---- IPC_W_LOG ---- */

/* A worker's and the lookup process's log lines share one body
 * (ipc_dec_log() reads both). */
static int
enc_log_as(struct buf *b, unsigned type, const struct ipc_log *m)
{
	put_header(b, type);
	buf_put_u32(b, m->level);
	put_cstr(b, m->text, sizeof(m->text));
	return buf_ok(b);
}

int
ipc_enc_log(struct buf *b, const struct ipc_log *m)
{
	return enc_log_as(b, IPC_W_LOG, m);
}

int
ipc_enc_lookup_log(struct buf *b, const struct ipc_log *m)
{
	return enc_log_as(b, IPC_L_LOG, m);
}

int
ipc_dec_log(struct cursor *c, struct ipc_log *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_u32(c, &m->level);
	cursor_get_cstring(c, m->text, sizeof(m->text));
	return cursor_end(c);
}

/* ---- IPC_W_KEY_QUERY ---- */

int
ipc_enc_key_query(struct buf *b, const struct ipc_key_query *m)
{
	put_header(b, IPC_W_KEY_QUERY);
	put_cstr(b, m->user, sizeof(m->user));
	put_bytes(b, m->key_blob, m->key_blob_len, IPC_MAX_BLOB);
	return buf_ok(b);
}

int
ipc_dec_key_query(struct cursor *c, struct ipc_key_query *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_cstring(c, m->user, sizeof(m->user));
	cursor_get_string(c, &m->key_blob, &m->key_blob_len, IPC_MAX_BLOB);
	return cursor_end(c);
}

/* ---- IPC_W_REFUSED ---- */

int
ipc_enc_refused(struct buf *b, const struct ipc_refused *m)
{
	put_header(b, IPC_W_REFUSED);
	put_cstr(b, m->user, sizeof(m->user));
	buf_put_u32(b, m->reason);
	put_cstr(b, m->key_fp, sizeof(m->key_fp));
	return buf_ok(b);
}

int
ipc_dec_refused(struct cursor *c, struct ipc_refused *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_cstring(c, m->user, sizeof(m->user));
	cursor_get_u32(c, &m->reason);
	cursor_get_cstring(c, m->key_fp, sizeof(m->key_fp));
	if (m->reason == 0 || m->reason >= IPC_REFUSED_MAX)
		return -1;
	return cursor_end(c);
}

/* ---- IPC_W_KEX ---- */

int
ipc_enc_kex(struct buf *b, const struct ipc_kex *m)
{
	put_header(b, IPC_W_KEX);
	buf_put_u32(b, m->leg);
	put_cstr(b, m->kex, sizeof(m->kex));
	put_cstr(b, m->cipher, sizeof(m->cipher));
	put_cstr(b, m->mac, sizeof(m->mac));
	return buf_ok(b);
}

int
ipc_dec_kex(struct cursor *c, struct ipc_kex *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_u32(c, &m->leg);
	cursor_get_cstring(c, m->kex, sizeof(m->kex));
	cursor_get_cstring(c, m->cipher, sizeof(m->cipher));
	cursor_get_cstring(c, m->mac, sizeof(m->mac));
	if (m->leg == 0 || m->leg >= IPC_KEX_MAX)
		return -1;
	return cursor_end(c);
}

/* ---- IPC_W_VERIFY ---- */

int
ipc_enc_verify(struct buf *b, const struct ipc_verify *m)
{
	put_header(b, IPC_W_VERIFY);
	put_bytes(b, m->sig, m->sig_len, IPC_MAX_BLOB);
	put_bytes(b, m->data, m->data_len, IPC_MAX_SIGNED);
	return buf_ok(b);
}

int
ipc_dec_verify(struct cursor *c, struct ipc_verify *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_string(c, &m->sig, &m->sig_len, IPC_MAX_BLOB);
	cursor_get_string(c, &m->data, &m->data_len, IPC_MAX_SIGNED);
	return cursor_end(c);
}

/* ---- IPC_W_AUDIT ---- */

int
ipc_enc_audit(struct buf *b, const struct ipc_audit *m)
{
	put_header(b, IPC_W_AUDIT);
	buf_put_u32(b, m->event);
	buf_put_u32(b, m->channel);
	put_cstr(b, m->kind, sizeof(m->kind));
	put_cstr(b, m->request, sizeof(m->request));
	put_cstr(b, m->detail, sizeof(m->detail));
	buf_put_u64(b, m->duration_ms);
	buf_put_u64(b, m->bytes_in);
	buf_put_u64(b, m->bytes_out);
	buf_put_u32(b, (uint32_t)m->exit_status);
	put_cstr(b, m->exit_signal, sizeof(m->exit_signal));
	buf_put_u32(b, m->end);
	return buf_ok(b);
}

int
ipc_dec_audit(struct cursor *c, struct ipc_audit *m)
{
	uint32_t status;

	memset(m, 0, sizeof(*m));
	cursor_get_u32(c, &m->event);
	cursor_get_u32(c, &m->channel);
	cursor_get_cstring(c, m->kind, sizeof(m->kind));
	cursor_get_cstring(c, m->request, sizeof(m->request));
	cursor_get_cstring(c, m->detail, sizeof(m->detail));
	cursor_get_u64(c, &m->duration_ms);
	cursor_get_u64(c, &m->bytes_in);
	cursor_get_u64(c, &m->bytes_out);
	cursor_get_u32(c, &status);
	cursor_get_cstring(c, m->exit_signal, sizeof(m->exit_signal));
	cursor_get_u32(c, &m->end);
	m->exit_status = (int32_t)status;
	if (m->event == 0 || m->event >= IPC_AUDIT_MAX ||
	    m->end >= IPC_END_MAX ||
	    (m->event == IPC_AUDIT_CHANNEL_CLOSE && m->end == IPC_END_NONE))
		return -1;
	return cursor_end(c);
}

/* ---- bodiless messages ---- */

int
ipc_enc_empty(struct buf *b, unsigned type)
{
	put_header(b, type);
	return buf_ok(b);
}

/* ---- the lookup process: IPC_L_* ---- */

static void
put_i32(struct buf *b, int32_t v)
{
	buf_put_u32(b, (uint32_t)v);
}

static void
get_i32(struct cursor *c, int32_t *v)
{
	uint32_t u = 0;

	cursor_get_u32(c, &u);
	*v = (int32_t)u;
}

int
ipc_enc_lookup_init(struct buf *b, const struct ipc_lookup_init *m)
{
	put_header(b, IPC_L_INIT);
	buf_put_u32(b, m->version);
	buf_put_u32(b, m->log_level);
	buf_put_u32(b, m->log_format);
	buf_put_u32(b, m->flags);
	buf_put_u32(b, m->uid);
	buf_put_u32(b, m->gid);
	put_cstr(b, m->host, sizeof(m->host));
	put_cstr(b, m->port, sizeof(m->port));
	buf_put_u32(b, m->db);
	put_cstr(b, m->user, sizeof(m->user));
	put_cstr(b, m->password, sizeof(m->password));
	put_cstr(b, m->prefix, sizeof(m->prefix));
	buf_put_u32(b, m->timeout_ms);
	buf_put_u32(b, m->cache_ttl);
	buf_put_u32(b, m->rsa_min_bits);
	return buf_ok(b);
}

int
ipc_dec_lookup_init(struct cursor *c, struct ipc_lookup_init *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_u32(c, &m->version);
	cursor_get_u32(c, &m->log_level);
	cursor_get_u32(c, &m->log_format);
	cursor_get_u32(c, &m->flags);
	cursor_get_u32(c, &m->uid);
	cursor_get_u32(c, &m->gid);
	cursor_get_cstring(c, m->host, sizeof(m->host));
	cursor_get_cstring(c, m->port, sizeof(m->port));
	cursor_get_u32(c, &m->db);
	cursor_get_cstring(c, m->user, sizeof(m->user));
	cursor_get_cstring(c, m->password, sizeof(m->password));
	cursor_get_cstring(c, m->prefix, sizeof(m->prefix));
	cursor_get_u32(c, &m->timeout_ms);
	cursor_get_u32(c, &m->cache_ttl);
	cursor_get_u32(c, &m->rsa_min_bits);
	return cursor_end(c);
}

int
ipc_enc_lookup_access(struct buf *b, const struct ipc_lookup_access *m)
{
	put_header(b, IPC_L_ACCESS);
	buf_put_u64(b, m->id);
	put_cstr(b, m->ssh_user, sizeof(m->ssh_user));
	put_bytes(b, m->key_blob, m->key_blob_len, IPC_MAX_BLOB);
	put_bytes(b, m->ca_blob, m->ca_blob_len, IPC_MAX_BLOB);
	put_bytes(b, m->claim_id, m->claim_id_len, IPC_MAX_HASH);
	buf_put_u32(b, m->claim_ttl_ms);
	return buf_ok(b);
}

int
ipc_dec_lookup_access(struct cursor *c, struct ipc_lookup_access *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_u64(c, &m->id);
	cursor_get_cstring(c, m->ssh_user, sizeof(m->ssh_user));
	cursor_get_string(c, &m->key_blob, &m->key_blob_len, IPC_MAX_BLOB);
	cursor_get_string(c, &m->ca_blob, &m->ca_blob_len, IPC_MAX_BLOB);
	cursor_get_string(c, &m->claim_id, &m->claim_id_len, IPC_MAX_HASH);
	cursor_get_u32(c, &m->claim_ttl_ms);
	return cursor_end(c);
}

int
ipc_enc_lookup_facts(struct buf *b, const struct ipc_lookup_facts *m)
{
	uint32_t i;

	put_header(b, IPC_L_FACTS);
	buf_put_u64(b, m->id);
	put_i32(b, m->enabled);
	put_i32(b, m->studio);
	buf_put_u64(b, (uint64_t)m->workspace);
	put_cstr(b, m->upstream_host, sizeof(m->upstream_host));
	put_cstr(b, m->upstream_port, sizeof(m->upstream_port));
	put_cstr(b, m->upstream_user, sizeof(m->upstream_user));
	put_cstr(b, m->host_key_pin, sizeof(m->host_key_pin));
	buf_put_u32(b, m->upstream_auth);
	buf_put_u32(b, m->users_set);
	if (m->nusers > IPC_LOOKUP_MAX_USERS)
		b->failed = 1;
	buf_put_u32(b, m->nusers);
	for (i = 0; i < m->nusers && i < IPC_LOOKUP_MAX_USERS; i++)
		put_cstr(b, m->users[i], sizeof(m->users[i]));
	put_i32(b, m->workspace_allowed);
	put_i32(b, m->user_exists);
	buf_put_u32(b, m->has_key);
	put_i32(b, m->member);
	put_i32(b, m->ca);
	put_i32(b, m->claimed);
	buf_put_u64(b, m->st_requests);
	buf_put_u64(b, m->st_errors);
	buf_put_u64(b, m->st_cache_hits);
	buf_put_u64(b, m->st_bad_records);
	buf_put_u64(b, m->st_latency_us);
	for (i = 0; i < 8; i++)
		buf_put_u64(b, m->st_latency_le[i]);
	buf_put_u32(b, m->st_up);
	return buf_ok(b);
}

int
ipc_dec_lookup_facts(struct cursor *c, struct ipc_lookup_facts *m)
{
	uint64_t ws = 0;
	uint32_t i;

	memset(m, 0, sizeof(*m));
	cursor_get_u64(c, &m->id);
	get_i32(c, &m->enabled);
	get_i32(c, &m->studio);
	cursor_get_u64(c, &ws);
	m->workspace = (int64_t)ws;
	cursor_get_cstring(c, m->upstream_host, sizeof(m->upstream_host));
	cursor_get_cstring(c, m->upstream_port, sizeof(m->upstream_port));
	cursor_get_cstring(c, m->upstream_user, sizeof(m->upstream_user));
	cursor_get_cstring(c, m->host_key_pin, sizeof(m->host_key_pin));
	cursor_get_u32(c, &m->upstream_auth);
	cursor_get_u32(c, &m->users_set);
	cursor_get_u32(c, &m->nusers);
	if (m->nusers > IPC_LOOKUP_MAX_USERS)
		return -1;
	for (i = 0; i < m->nusers; i++)
		cursor_get_cstring(c, m->users[i], sizeof(m->users[i]));
	get_i32(c, &m->workspace_allowed);
	get_i32(c, &m->user_exists);
	cursor_get_u32(c, &m->has_key);
	get_i32(c, &m->member);
	get_i32(c, &m->ca);
	get_i32(c, &m->claimed);
	cursor_get_u64(c, &m->st_requests);
	cursor_get_u64(c, &m->st_errors);
	cursor_get_u64(c, &m->st_cache_hits);
	cursor_get_u64(c, &m->st_bad_records);
	cursor_get_u64(c, &m->st_latency_us);
	for (i = 0; i < 8; i++)
		cursor_get_u64(c, &m->st_latency_le[i]);
	cursor_get_u32(c, &m->st_up);
	return cursor_end(c);
}

int
ipc_enc_lookup_startup(struct buf *b, const struct ipc_lookup_startup *m)
{
	put_header(b, IPC_L_STARTUP);
	buf_put_u64(b, m->id);
	buf_put_u32(b, m->release);
	put_cstr(b, m->source, sizeof(m->source));
	put_cstr(b, m->member, sizeof(m->member));
	buf_put_u32(b, m->limit);
	buf_put_u32(b, m->ttl_ms);
	return buf_ok(b);
}

int
ipc_dec_lookup_startup(struct cursor *c, struct ipc_lookup_startup *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_u64(c, &m->id);
	cursor_get_u32(c, &m->release);
	cursor_get_cstring(c, m->source, sizeof(m->source));
	cursor_get_cstring(c, m->member, sizeof(m->member));
	cursor_get_u32(c, &m->limit);
	cursor_get_u32(c, &m->ttl_ms);
	return cursor_end(c);
}

int
ipc_enc_lookup_counted(struct buf *b, const struct ipc_lookup_counted *m)
{
	put_header(b, IPC_L_COUNTED);
	buf_put_u64(b, m->id);
	put_i32(b, m->result);
	return buf_ok(b);
}

int
ipc_dec_lookup_counted(struct cursor *c, struct ipc_lookup_counted *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_u64(c, &m->id);
	get_i32(c, &m->result);
	return cursor_end(c);
}

int
ipc_enc_lookup_scrape(struct buf *b, const struct ipc_lookup_scrape *m)
{
	put_header(b, IPC_L_SCRAPE);
	buf_put_u64(b, m->id);
	return buf_ok(b);
}

int
ipc_dec_lookup_scrape(struct cursor *c, struct ipc_lookup_scrape *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_u64(c, &m->id);
	return cursor_end(c);
}

int
ipc_enc_lookup_metrics(struct buf *b, const struct ipc_lookup_metrics *m)
{
	put_header(b, IPC_L_METRICS);
	buf_put_u64(b, m->id);
	put_bytes(b, m->text, m->text_len, IPC_MAX_METRICS);
	return buf_ok(b);
}

int
ipc_dec_lookup_metrics(struct cursor *c, struct ipc_lookup_metrics *m)
{
	memset(m, 0, sizeof(*m));
	cursor_get_u64(c, &m->id);
	cursor_get_string(c, &m->text, &m->text_len, IPC_MAX_METRICS);
	return cursor_end(c);
}

/* ---- transport ---- */

int
ipc_send(int sock, const struct buf *b, const int *fds, int nfds)
{
	struct msghdr mh;
	struct iovec iov;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
	} cmsgbuf;
	struct cmsghdr *cm;
	ssize_t n;

	if (b->failed || b->len < 2 || b->len > IPC_MAX_MSG ||
	    nfds < 0 || nfds > IPC_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = b->data;
	iov.iov_len = b->len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		mh.msg_control = cmsgbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != b->len) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

static void
close_fds(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (fds[i] != -1)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Collect SCM_RIGHTS fds; returns the count, or -1 if anything else came. */
static int
take_fds(struct msghdr *mh, int *fds)
{
	struct cmsghdr *cm;
	int n = 0, bad = 0;
	size_t k, cnt;
	int fd;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0)) {
			bad = 1;
			continue;
		}
		cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < cnt; k++) {
			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int),
			    sizeof(int));
			if (n < IPC_MAX_FDS)
				fds[n++] = fd;
			else {
				close(fd);	/* more than any type carries */
				bad = 1;
			}
		}
	}
	if (bad) {
		close_fds(fds, n);
		return -1;
	}
	return n;
}

long
ipc_recv(int sock, uint8_t *msg, unsigned *type, int *fds, int *nfds)
{
	struct msghdr mh;
	struct iovec iov;
	union {
		struct cmsghdr hdr;
		/* room for one fd more than allowed, to see an excess */
		char buf[CMSG_SPACE(sizeof(int) * (IPC_MAX_FDS + 1))];
	} cmsgbuf;
	ssize_t n;
	int i, got;

	for (i = 0; i < IPC_MAX_FDS; i++)
		fds[i] = -1;
	*nfds = 0;
	*type = IPC_NONE;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = msg;
	iov.iov_len = IPC_MAX_MSG;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cmsgbuf.buf;
	mh.msg_controllen = sizeof(cmsgbuf.buf);
	/* A peer that died with our messages unread makes Linux report
	 * ECONNRESET once, ahead of what the peer queued for us; the next
	 * read delivers that, then EOF.  The peer ending is not a malformed
	 * message, and what it sent last (close records, log lines) counts. */
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n == -1 && (errno == EINTR || errno == ECONNRESET));
	if (n < 0)
		return -1;
	got = take_fds(&mh, fds);
	/* A zero-length datagram is EOF only if it carries nothing: fds
	 * sent with an empty datagram must be closed, not leaked. */
	if (n == 0 && got == 0 && !(mh.msg_flags & MSG_CTRUNC))
		return 0;
	if (got < 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n < 2)
		goto bad;
	*nfds = got;
	*type = ((unsigned)msg[0] << 8) | msg[1];
	if (*type == IPC_NONE || *type >= IPC_TYPE_MAX ||
	    got != ipc_type_nfds(*type))
		goto bad;
	return (long)n;
 bad:
	if (got > 0)
		close_fds(fds, got);
	*nfds = 0;
	errno = EPROTO;
	return -1;
}
