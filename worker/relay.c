/*
 * relay.c - channels between the client and the Studio.
 *
 * Each client session channel is paired with a session channel opened on
 * the Studio; requests are forwarded as the client made them and answered
 * with the Studio's answer.  Data moves only as far as the receiving
 * channel's window allows: what the destination cannot take stays in the
 * source channel's libssh buffer, and libssh grows the source's window only
 * as we read from it, so a slow reader throttles the writer and the worker
 * buffers at most one window per direction (libssh: 1.28 MB) plus one
 * chunk.
 *
 * Order on the way out matches OpenSSH: data, EOF, exit-status or
 * exit-signal, close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "ipc.h"
#include "log.h"
#include "worker.h"

#define RELAY_CHUNK	65536
#define RELAY_MAX_PAIRS	64	/* concurrent channels per connection */

struct pair {
	struct relay *r;
	uint32_t id;
	ssh_channel down;	/* client side */
	ssh_channel up;		/* Studio side */
	struct ssh_channel_callbacks_struct down_cb, up_cb;
	int eof_to_up, eof_to_down;
	int closed_down, closed_up;
	int have_status, status_sent;
	int exit_status;
	char exit_signal[IPC_MAX_NAME];
	int core;
	char kind[IPC_MAX_NAME];
	uint64_t bytes_in, bytes_out;
	/* Read but not yet written, per direction (see pump()). */
	struct pending {
		uint8_t *data;
		size_t off, len;
	} pend[3];
};

enum { DIR_IN, DIR_OUT, DIR_ERR };	/* client->Studio, Studio->client x2 */

struct relay {
	ssh_session down, up;
	char studio[IPC_MAX_NAME];
	struct pair *pairs[RELAY_MAX_PAIRS];
	size_t npairs;
	uint32_t next_id;
	uint8_t chunk[RELAY_CHUNK];
};

struct relay *
relay_new(ssh_session down, ssh_session up, const char *studio)
{
	struct relay *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->down = down;
	r->up = up;
	snprintf(r->studio, sizeof(r->studio), "%s", studio);
	return r;
}

static void
pair_free(struct pair *p)
{
	size_t i;

	for (i = 0; i < sizeof(p->pend) / sizeof(p->pend[0]); i++)
		free(p->pend[i].data);
	if (p->up != NULL)
		ssh_channel_free(p->up);
	if (p->down != NULL)
		ssh_channel_free(p->down);
	free(p);
}

void
relay_free(struct relay *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->npairs; i++)
		pair_free(r->pairs[i]);
	free(r);
}

static void
audit(struct pair *p, uint32_t event, const char *kind, const char *detail)
{
	struct ipc_audit a;

	memset(&a, 0, sizeof(a));
	a.event = event;
	a.channel = p->id;
	snprintf(a.kind, sizeof(a.kind), "%s", kind);
	snprintf(a.detail, sizeof(a.detail), "%s", detail ? detail : "");
	a.bytes_in = p->bytes_in;
	a.bytes_out = p->bytes_out;
	a.exit_status = p->have_status && p->exit_signal[0] == '\0' ?
	    p->exit_status : -1;
	snprintf(a.exit_signal, sizeof(a.exit_signal), "%s", p->exit_signal);
	mm_audit(&a);
}

/* Run one request on the Studio's channel, waiting for its answer. */
#define UPSTREAM_CALL(p, call) ({ \
	int rc_; \
	ssh_set_blocking((p)->r->up, 1); \
	rc_ = (call); \
	ssh_set_blocking((p)->r->up, 0); \
	rc_; })

/* ---- requests from the client, forwarded ---- */

static int
on_exec(ssh_session s, ssh_channel ch, const char *command, void *ud)
{
	struct pair *p = ud;

	snprintf(p->kind, sizeof(p->kind), "exec");
	audit(p, IPC_AUDIT_REQUEST, "exec", command);
	return UPSTREAM_CALL(p, ssh_channel_request_exec(p->up, command)) ==
	    SSH_OK ? 0 : 1;
}

static int
on_shell(ssh_session s, ssh_channel ch, void *ud)
{
	struct pair *p = ud;

	snprintf(p->kind, sizeof(p->kind), "shell");
	audit(p, IPC_AUDIT_REQUEST, "shell", NULL);
	return UPSTREAM_CALL(p, ssh_channel_request_shell(p->up)) == SSH_OK ?
	    0 : 1;
}

static int
on_subsystem(ssh_session s, ssh_channel ch, const char *name, void *ud)
{
	struct pair *p = ud;

	snprintf(p->kind, sizeof(p->kind), "subsystem");
	audit(p, IPC_AUDIT_REQUEST, "subsystem", name);
	return UPSTREAM_CALL(p, ssh_channel_request_subsystem(p->up, name)) ==
	    SSH_OK ? 0 : 1;
}

static int
on_env(ssh_session s, ssh_channel ch, const char *name, const char *value,
    void *ud)
{
	struct pair *p = ud;

	/* The Studio's AcceptEnv decides; its refusal is passed on. */
	return UPSTREAM_CALL(p, ssh_channel_request_env(p->up, name, value)) ==
	    SSH_OK ? 0 : -1;
}

static int
on_pty(ssh_session s, ssh_channel ch, const char *term, int cols, int rows,
    int px, int py, void *ud)
{
	struct pair *p = ud;

	return UPSTREAM_CALL(p, ssh_channel_request_pty_size(p->up, term, cols,
	    rows)) == SSH_OK ? 0 : -1;
}

static int
on_window_change(ssh_session s, ssh_channel ch, int cols, int rows, int px,
    int py, void *ud)
{
	struct pair *p = ud;

	return ssh_channel_change_pty_size(p->up, cols, rows) == SSH_OK ?
	    0 : -1;
}

static void
on_signal(ssh_session s, ssh_channel ch, const char *sig, void *ud)
{
	struct pair *p = ud;

	(void)ssh_channel_request_send_signal(p->up, sig);
}

/* ---- what the Studio reports ---- */

static void
on_exit_status(ssh_session s, ssh_channel ch, int status, void *ud)
{
	struct pair *p = ud;

	p->exit_status = status;
	p->have_status = 1;
}

static void
on_exit_signal(ssh_session s, ssh_channel ch, const char *sig, int core,
    const char *errmsg, const char *lang, void *ud)
{
	struct pair *p = ud;

	snprintf(p->exit_signal, sizeof(p->exit_signal), "%s", sig);
	p->core = core;
	p->have_status = 1;
}

ssh_channel
relay_open_session(struct relay *r)
{
	struct pair *p;

	if (r->npairs == RELAY_MAX_PAIRS) {
		logit("channel refused: %d channels open", RELAY_MAX_PAIRS);
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->r = r;
	p->id = r->next_id++;
	snprintf(p->kind, sizeof(p->kind), "session");
	if ((p->up = ssh_channel_new(r->up)) == NULL ||
	    UPSTREAM_CALL(p, ssh_channel_open_session(p->up)) != SSH_OK ||
	    (p->down = ssh_channel_new(r->down)) == NULL) {
		error("cannot open a session channel on Studio %s: %s",
		    r->studio, ssh_get_error(r->up));
		pair_free(p);
		return NULL;
	}
	p->down_cb.userdata = p;
	p->down_cb.channel_exec_request_function = on_exec;
	p->down_cb.channel_shell_request_function = on_shell;
	p->down_cb.channel_subsystem_request_function = on_subsystem;
	p->down_cb.channel_env_request_function = on_env;
	p->down_cb.channel_pty_request_function = on_pty;
	p->down_cb.channel_pty_window_change_function = on_window_change;
	p->down_cb.channel_signal_function = on_signal;
	ssh_callbacks_init(&p->down_cb);
	p->up_cb.userdata = p;
	p->up_cb.channel_exit_status_function = on_exit_status;
	p->up_cb.channel_exit_signal_function = on_exit_signal;
	ssh_callbacks_init(&p->up_cb);
	if (ssh_set_channel_callbacks(p->down, &p->down_cb) != SSH_OK ||
	    ssh_set_channel_callbacks(p->up, &p->up_cb) != SSH_OK) {
		pair_free(p);
		return NULL;
	}
	r->pairs[r->npairs++] = p;
	audit(p, IPC_AUDIT_CHANNEL_OPEN, "session", NULL);
	return p->down;
}

/* ---- moving data ---- */

static int
write_to(ssh_channel dst, int is_stderr, const uint8_t *data, size_t len)
{
	return is_stderr ? ssh_channel_write_stderr(dst, data, (uint32_t)len) :
	    ssh_channel_write(dst, data, (uint32_t)len);
}

/* Write what an earlier step could not; 1 if it is all out, 0 if some is
 * still pending, -1 on error. */
static int
flush_pending(ssh_channel dst, int is_stderr, struct pending *pd)
{
	int w;

	if (pd->len == 0)
		return 1;
	if ((w = write_to(dst, is_stderr, pd->data + pd->off, pd->len)) < 0)
		return -1;
	pd->off += (size_t)w;
	pd->len -= (size_t)w;
	return pd->len == 0;
}

/*
 * Move what src has buffered to dst, as far as dst's window allows.  A
 * write can take less than it was given -- during a key re-exchange
 * libssh holds channel data back -- so what was read but not written is
 * kept in pd and written first next time; nothing more is read from src
 * until it is out.  Returns bytes delivered, or -1.
 */
static long
pump(struct relay *r, ssh_channel src, ssh_channel dst, int is_stderr,
    struct pending *pd)
{
	uint32_t win;
	long moved = 0;
	size_t before = pd->len;
	int n, w, rc;

	if ((rc = flush_pending(dst, is_stderr, pd)) <= 0)
		return rc < 0 ? -1 : (long)(before - pd->len);
	moved = (long)before;
	for (;;) {
		win = ssh_channel_window_size(dst);
		if (win == 0)
			break;
		n = ssh_channel_read_nonblocking(src, r->chunk,
		    win < RELAY_CHUNK ? win : RELAY_CHUNK, is_stderr);
		if (n == SSH_EOF || n == 0)
			break;
		if (n < 0)
			return -1;
		if ((w = write_to(dst, is_stderr, r->chunk, (size_t)n)) < 0)
			return -1;
		moved += w;
		if (w < n) {
			if (pd->data == NULL &&
			    (pd->data = malloc(RELAY_CHUNK)) == NULL)
				return -1;
			memcpy(pd->data, r->chunk + w, (size_t)(n - w));
			pd->off = 0;
			pd->len = (size_t)(n - w);
			break;
		}
	}
	return moved;
}

/* Clients do not send extended data; read and drop any, so that it cannot
 * hold the channel's window or its EOF back. */
static void
drop_client_stderr(struct relay *r, ssh_channel down)
{
	while (ssh_channel_read_nonblocking(down, r->chunk, RELAY_CHUNK, 1) > 0)
		continue;
}

static void
send_exit(struct pair *p)
{
	if (!p->have_status || p->status_sent)
		return;
	p->status_sent = 1;
	if (p->exit_signal[0] != '\0')
		(void)ssh_channel_request_send_exit_signal(p->down,
		    p->exit_signal, p->core, "", "");
	else
		(void)ssh_channel_request_send_exit_status(p->down,
		    p->exit_status);
}

/* Can we still write to this side? */
static int
writable(ssh_channel ch, int eof_sent, int closed)
{
	return !eof_sent && !closed && !ssh_channel_is_closed(ch);
}

/*
 * One step for one pair: move data, then pass on EOF, exit status and
 * close in OpenSSH's order.  ssh_channel_is_eof() is true only once the
 * peer sent EOF (or closed) and we have read everything it sent.
 * Returns progress (>0), 0, or -1 on error.
 */
static long
pair_step(struct pair *p)
{
	struct relay *r = p->r;
	long a = 0, b = 0, c = 0;

	drop_client_stderr(r, p->down);
	if (writable(p->up, p->eof_to_up, p->closed_up))
		a = pump(r, p->down, p->up, 0, &p->pend[DIR_IN]);
	if (writable(p->down, p->eof_to_down, p->closed_down)) {
		b = pump(r, p->up, p->down, 0, &p->pend[DIR_OUT]);
		c = pump(r, p->up, p->down, 1, &p->pend[DIR_ERR]);
	}
	if (a < 0 || b < 0 || c < 0)
		return -1;
	p->bytes_in += (uint64_t)a;
	p->bytes_out += (uint64_t)(b + c);
	if (writable(p->up, p->eof_to_up, p->closed_up) &&
	    p->pend[DIR_IN].len == 0 && ssh_channel_is_eof(p->down)) {
		(void)ssh_channel_send_eof(p->up);
		p->eof_to_up = 1;
	}
	if (writable(p->down, p->eof_to_down, p->closed_down) &&
	    p->pend[DIR_OUT].len == 0 && p->pend[DIR_ERR].len == 0 &&
	    ssh_channel_is_eof(p->up)) {
		(void)ssh_channel_send_eof(p->down);
		p->eof_to_down = 1;
	}
	if (p->eof_to_down && !p->closed_down)
		send_exit(p);
	/* The Studio closed and everything it sent is out, or the client
	 * closed: close the client's side (our reply to its close). */
	if (!p->closed_down && ((p->eof_to_down && ssh_channel_is_closed(p->up))
	    || ssh_channel_is_closed(p->down))) {
		(void)ssh_channel_close(p->down);
		p->closed_down = 1;
	}
	/* Then the Studio's side, likewise. */
	if (p->closed_down && !p->closed_up) {
		(void)ssh_channel_close(p->up);
		p->closed_up = 1;
	}
	return a + b + c;
}

static int
pair_done(const struct pair *p)
{
	return p->closed_down && p->closed_up;
}

/* Step every pair; drop finished ones.  Pairs may be added while we step
 * (a channel open arrives while we read), so re-read the count. */
static long
step_all(struct relay *r)
{
	long progress = 0, n;
	size_t i, j;

	for (i = 0; i < r->npairs; i++) {
		if ((n = pair_step(r->pairs[i])) < 0)
			return -1;
		progress += n;
	}
	for (i = j = 0; i < r->npairs; i++) {
		if (pair_done(r->pairs[i])) {
			audit(r->pairs[i], IPC_AUDIT_CHANNEL_CLOSE,
			    r->pairs[i]->kind, NULL);
			pair_free(r->pairs[i]);
		} else
			r->pairs[j++] = r->pairs[i];
	}
	r->npairs = j;
	return progress;
}

static void
close_all(struct relay *r)
{
	size_t i;

	for (i = 0; i < r->npairs; i++) {
		audit(r->pairs[i], IPC_AUDIT_CHANNEL_CLOSE, r->pairs[i]->kind,
		    NULL);
		pair_free(r->pairs[i]);
	}
	r->npairs = 0;
}

int
relay_run(struct relay *r)
{
	ssh_event ev;
	long progress;
	int rc = 0;
	char msg[IPC_MAX_TEXT];

	ssh_set_blocking(r->down, 0);
	ssh_set_blocking(r->up, 0);
	if ((ev = ssh_event_new()) == NULL ||
	    ssh_event_add_session(ev, r->down) != SSH_OK ||
	    ssh_event_add_session(ev, r->up) != SSH_OK)
		return -1;
	for (;;) {
		progress = step_all(r);
		if (progress < 0) {
			error("relay failed: client: %s; Studio: %s",
			    ssh_get_error(r->down), ssh_get_error(r->up));
			rc = -1;
			break;
		}
		if (!ssh_is_connected(r->down)) {
			debug("client disconnected");
			break;
		}
		if (!ssh_is_connected(r->up)) {
			logit("Studio %s closed the connection", r->studio);
			snprintf(msg, sizeof(msg), "Studio session %s closed "
			    "the connection", r->studio);
			ssh_session_set_disconnect_message(r->down, msg);
			rc = -1;
			break;
		}
		/* A failed poll shows as a disconnected session above. */
		(void)ssh_event_dopoll(ev, progress > 0 ? 0 : 1000);
	}
	close_all(r);
	ssh_event_remove_session(ev, r->down);
	ssh_event_remove_session(ev, r->up);
	ssh_event_free(ev);
	return rc;
}
