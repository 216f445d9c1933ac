/*
 * relay.c - channels between the client and the Studio.
 *
 * Every channel the client opens is paired with one opened on the Studio
 * (session, direct-tcpip), and every channel the Studio opens towards the
 * client is paired with one opened on the client (forwarded-tcpip for
 * ssh -R, auth-agent for ssh -A).  Requests are forwarded as made and
 * answered with the other side's answer; a direct-tcpip destination is
 * connected by the Studio, never by the gateway.
 *
 * Data moves only as far as the receiving channel's window allows, and
 * only while the receiving connection's socket keeps up: what the
 * destination cannot take stays in the source channel's libssh buffer, and
 * libssh grows the source's window only as we read from it, so a slow
 * reader throttles the writer.  Per channel and direction the worker holds
 * at most what libssh granted the source (its 2 MiB window); per
 * connection and direction, at most RELAY_STEP_BUDGET of written data
 * waits in libssh for a socket the peer does not read (see pump()).
 *
 * Order on the way out matches OpenSSH: data, EOF, exit-status or
 * exit-signal, close.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "clock.h"
#include "ipc.h"
#include "log.h"
#include "worker.h"

#define RELAY_CHUNK	65536
#define RELAY_MAX_PAIRS	IPC_MAX_CHANNELS	/* open at once, per connection */
#define RELAY_MAX_FWDS	16	/* remote forwardings per connection */
/*
 * Session requests (pty, env, exec, ...) asked of the Studio whose answers
 * are still out, per channel.  OpenSSH's client sends a login's requests
 * back to back (pty, one env per variable its SendEnv names, the command)
 * and each waited a Studio round trip here; they now go on at once and
 * the answers come back in turn (libssh patch 0013).  The same bound as
 * libssh's queue of owed answers (SSH_CHANNEL_REPLIES_MAX): can_ask()
 * refuses the 129th request awaiting the Studio, and libssh, with no room
 * left to queue that refusal in its turn, ends the connection.
 */
#define RELAY_MAX_ASKED	128
/*
 * What one pass over the channels may write towards one side.  libssh
 * queues whatever a socket does not take at once, without bound, and a
 * peer that grants large windows but never reads its socket (128 channels
 * with 2 MiB windows: 256 MiB) would grow that queue as far as its windows
 * go.  So each pass writes at most this much towards a side, and nothing
 * while libssh still has output waiting for that side's socket.
 */
#define RELAY_STEP_BUDGET	(1024 * 1024)
/*
 * libssh grants a channel's window back as the relay reads from it: a
 * channel holds up to 2 MiB (its WINDOW_DEFAULT) per direction that its
 * destination has not taken, and 128 channels whose destinations do not
 * read could hold 512 MiB.  So no channel is added while the open ones
 * hold RELAY_HOLD_BUDGET undelivered.  Held data is not always stuck:
 * while the Studio sends faster than the client's connection takes it,
 * every busy channel holds its window, so the budget leaves room for 32
 * of them (24 parallel downloads through ssh -D hold up to 49 MiB; with
 * 16 MiB, the last of them were refused their channels).  Channels
 * already open can still come to hold more, up to RELAY_HOLD_MAX.  The
 * worker does not
 * stop reading a side's socket to bound what one channel holds: the
 * window adjustments and keepalives of the other direction arrive on
 * that socket, and a channel echoing its input (cat) would never drain.
 */
#define RELAY_HOLD_BUDGET	(64 * 1024 * 1024 / WORKER_MEM_SCALE)
/*
 * What the channels of one connection may hold, both ways together, and
 * what the worker's heap may come to, before the worker ends that
 * connection itself (check_hold()).  Channels opened before any data can
 * each still take in their window: 128 of them that the Studio side never
 * reads reached RLIMIT_DATA (256 MiB, sandbox.c), where an allocation
 * fails somewhere inside libssh and not every such path ends cleanly.
 * The heap, not the bytes held, is what RLIMIT_DATA counts: libssh grows
 * a channel's buffer to a power of two, so 162 MiB held took 246 MiB of
 * VmData.  RLIMIT_DATA stays the backstop, 64 MiB above RELAY_HEAP_MAX
 * for the libraries' own data and what one step takes in: the check runs
 * after every pass, and the heap's after every channel's step when many
 * are open (step_pair()).  It ran at most every 10 ms, and under load
 * (128 channels filling in step, each crossing a power of two at about
 * the same time) the heap grew past RLIMIT_DATA between two checks, one
 * run in five; once per pass, it still did on a loaded machine (make
 * check).  (An allocation that fails then ends the connection:
 * scripts/libssh-patches/0004; it was a SIGSEGV.)  The bytes held are
 * checked too: under the sanitizer, mallinfo2() does not see the heap.
 */
#define RELAY_HOLD_MAX		(160 * 1024 * 1024 / WORKER_MEM_SCALE)
#define RELAY_HEAP_MAX		((size_t)192 * 1024 * 1024 / WORKER_MEM_SCALE)
#define RELAY_HEAP_CHECK_PAIRS	16	/* step_pair() */

/*
 * While fewer than RELAY_HEAP_CHECK_PAIRS channels are open, libssh reads
 * up to RELAY_READ_SIZE per socket event (patch 0014), where a bulk
 * transfer cost a poll() and a recv() per 4 KiB of each leg.  256 KiB, the
 * most patch 0014 allows, is what a pass sends in one batch
 * (RELAY_WRITE_BATCH); with 64 KiB the worker made twice the reads.  With
 * more channels, libssh reads its default 4 KiB: every poll of an empty
 * channel reads the socket, and 128 channels reading 256 KiB each would
 * take in 64 times what the heap checks between them allow for.
 */
#define RELAY_READ_SIZE		(256 * 1024)
#define LIBSSH_READ_SIZE	4096

/*
 * How many pairs at once hold their channels' data in two buffers
 * (patch 0022, pair_two_buffers()).  A channel whose destination is
 * slower than its source holds most of its window all the time, and
 * libssh moved those bytes to the front of its buffer every time an
 * append reached the end: in an upload, 6-7% of the worker's CPU per GiB.
 * A second buffer takes what arrives then, but a flow can come to keep
 * two buffers' storage, up to 4 MiB each for a 2 MiB window.  Bulk
 * transfers run over one or a few channels; the rest keep one buffer, so
 * 24 parallel downloads do not come near RELAY_HEAP_MAX.
 */
#define RELAY_TWO_BUFFER_PAIRS	4
#ifndef LIBSSH_CSSHD_TWO_BUFFERS
#error "the worker needs libssh with connect-sshd's patch 0022 (scripts/libssh.sh)"
#endif

#ifdef CSSHD_TEST_HOOKS
int testhook_unbounded;
int testhook_unanswered;
#endif

/* Whether the relay's own bounds on what it holds apply: always, except
 * in the test build for a user "testhook-unbounded" (testhook_user()),
 * whose worker must reach RLIMIT_DATA. */
static int
hold_bounded(void)
{
#ifdef CSSHD_TEST_HOOKS
	return !testhook_unbounded;
#else
	return 1;
#endif
}

enum chan_kind { CH_SESSION, CH_DIRECT, CH_FORWARDED, CH_AGENT };

/* What a request asked of the Studio was, for its answer. */
enum asked_kind { ASKED_PTY, ASKED_OTHER };

static const char *const kind_names[] = {
	[CH_SESSION] = "session",
	[CH_DIRECT] = "direct-tcpip",
	[CH_FORWARDED] = "forwarded-tcpip",
	[CH_AGENT] = "agent",
};

struct pair {
	struct relay *r;
	uint32_t id;
	enum chan_kind kind;
	ssh_channel down;	/* client side */
	ssh_channel up;		/* Studio side */
	struct ssh_channel_callbacks_struct down_cb, up_cb;
	/* A channel the Studio opened: its client side is still opening,
	 * to (host, port) from (orig, orig_port). */
	int opening;
	/* The Studio's side, adopted before the Studio answered its open
	 * (the spare, or one opened by relay_open_session()); up_open()
	 * waits for the answer, and up_settled() does, from up_since, at
	 * most upstream_timeout. */
	int up_opening;
	int up_clock;			/* up_since is set */
	struct timespec up_since;
	/* A direct-tcpip open the client waits on while the Studio's answer
	 * to ours is out (open_direct(), direct_settled()); kept from
	 * libssh (scripts/libssh-patches/0010), answered and freed here. */
	ssh_message client_open;
	int audited;			/* its channel.open is in the log */
	int stored;			/* in r->pairs (pair_store()) */
	int two_buffers;		/* pair_two_buffers() */
	/* The Studio's answer to that open, when it came: 1 confirmed,
	 * -1 refused (on_open_response()). */
	int up_answer;
	int told_refused;		/* tell_refused() wrote its message */
	char host[IPC_MAX_NAME], orig[IPC_MAX_NAME];
	int port, orig_port;
	int eof_to_up, eof_to_down;
	int closed_down, closed_up;
	int have_status, status_sent;
	int exit_status;
	char exit_signal[IPC_MAX_NAME];
	int core;
	int pty;
	/* Requests asked of the Studio, answers still out, oldest first
	 * (asked(), on_request_reply()). */
	uint8_t asked[RELAY_MAX_ASKED];
	unsigned asked_head, asked_n;
	char request[16];		/* "shell", "exec", "subsystem" */
	char detail[IPC_MAX_TEXT];	/* command, subsystem, target */
	struct timespec started;
	uint64_t bytes_in, bytes_out;
	uint64_t reported_in, reported_out;	/* in the last progress report */
};

/* A remote forwarding (ssh -R) the Studio listens for. */
struct rfwd {
	char addr[IPC_MAX_NAME];	/* as the client asked */
	int port;			/* as the client asked; 0: any */
	int bound;			/* the port the Studio bound */
};

struct relay {
	ssh_session down, up;
	char studio[IPC_MAX_NAME];	/* the session id, for the client */
	char name[IPC_MAX_NAME + 64];	/* "s1 (127.0.0.1:2022)", for logs */
	uint32_t flags;			/* IPC_INIT_FWD_* */
	uint32_t idle_timeout;		/* seconds; 0 off */
	uint32_t upstream_timeout;	/* seconds, per Studio exchange */
	uint32_t keepalive_interval;	/* seconds; 0 off */
	uint32_t keepalive_count_max;
	struct timespec last_data;	/* channel data moved either way */
	struct timespec last_keepalive;
	struct timespec last_progress;	/* channel byte counts reported */
	int agent_requested;		/* the client asked for ssh -A */
	struct rfwd fwds[RELAY_MAX_FWDS];
	size_t nfwds;
	struct pair *pairs[RELAY_MAX_PAIRS];
	size_t npairs;
	size_t reserved;		/* made by new_pair(), not yet stored */
	size_t two_buffer_pairs;	/* pair_two_buffers() */
	int answered;			/* an open answered since the pass began */
	ssh_channel spare;		/* opened with the login, not yet used */
	/* While the Studio login's answer is awaited (session.c), the wait
	 * for it, run before anything is asked of the Studio. */
	int (*login_wait)(void *ctx);
	void *login_ctx;
	int login_failed;
	uint32_t next_id;
	char end_msg[IPC_MAX_TEXT];	/* why the relay ended, for the client */
	/* Per direction, towards the client and towards the Studio: what
	 * this pass may still write that way (step_all(), pump()). */
	struct flow {
		long budget;
	} to_down, to_up;
	size_t rr;			/* the pair the next pass starts at */
	int client_lost;		/* gone with channels still open */
	char down_why[IPC_MAX_TEXT];	/* libssh's error when it ended */
	/* Bytes read from each socket (libssh's counters), for
	 * drain_sockets(). */
	struct ssh_counter_struct down_io, up_io;
	/* Payload bytes of the packets read from each socket, decompressed
	 * (libssh's raw counters), and at most what the channels held when
	 * payload_read() was held_in, for check_hold(). */
	struct ssh_counter_struct down_raw, up_raw;
	size_t held_bound;
	uint64_t held_in;
	uint8_t chunk[RELAY_CHUNK];
};

static int down_message(ssh_session s, ssh_message msg, void *ud);
static int up_message(ssh_session s, ssh_message msg, void *ud);

struct relay *
relay_new(ssh_session down, ssh_session up, const char *studio,
    const char *name, const struct ipc_init *in)
{
	struct relay *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->down = down;
	r->up = up;
	r->flags = in->flags;
	r->idle_timeout = in->idle_timeout;
	r->upstream_timeout = in->upstream_timeout;
	r->keepalive_interval = in->keepalive_interval;
	r->keepalive_count_max = in->keepalive_count_max;
	clock_now(&r->last_data);
	r->last_keepalive = r->last_data;
	r->last_progress = r->last_data;
	snprintf(r->studio, sizeof(r->studio), "%s", studio);
	snprintf(r->name, sizeof(r->name), "%s", name);
	/* What the channel and server callbacks do not take -- channel
	 * opens other than "session", global requests -- arrives here. */
	ssh_set_message_callback(down, down_message, r);
	ssh_set_message_callback(up, up_message, r);
	return r;
}

/*
 * Give a channel back to libssh.  libssh does not free a channel whose
 * peer has not yet sent its CLOSE: it keeps it until that CLOSE comes and
 * runs the channel's callbacks for whatever arrives meanwhile (EOF, a
 * request, the CLOSE itself).  Those callbacks live in the pair, which is
 * about to be freed, so they are taken off the channel first.  (Without
 * this, a freed pair reused by another channel's allocation made libssh
 * call through garbage: the multi-channel worker crash.)
 */
static void
channel_release(ssh_channel ch, ssh_channel_callbacks cb)
{
	if (ch == NULL)
		return;
	if (cb->size != 0)
		(void)ssh_remove_channel_callbacks(ch, cb);
	ssh_channel_free(ch);
}

static void
pair_free(struct pair *p)
{
	if (p->client_open != NULL)
		ssh_message_free(p->client_open);
	if (!p->stored)
		p->r->reserved--;
	if (p->two_buffers)
		p->r->two_buffer_pairs--;
	channel_release(p->up, &p->up_cb);
	channel_release(p->down, &p->down_cb);
	free(p);
}

static void close_all(struct relay *r);

/* Channels still open here are audited as closed and freed. */
void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	close_all(r);
	if (r->spare != NULL)
		ssh_channel_free(r->spare);
	free(r);
}

void
relay_set_spare(struct relay *r, ssh_channel spare)
{
	r->spare = spare;
}

void
relay_set_login_wait(struct relay *r, int (*wait)(void *), void *ctx)
{
	r->login_wait = wait;
	r->login_ctx = ctx;
}

/* Before a request to the Studio: the login's answer, waited for if it is
 * still out.  0 once logged in; -1 if the login failed. */
static int
logged_in(struct relay *r)
{
	if (r->login_wait == NULL)
		return 0;
	if (r->login_wait(r->login_ctx) != 0) {
		r->login_failed = 1;
		return -1;
	}
	r->login_wait = NULL;
	return 0;
}

/* end: how a closed channel ended (IPC_END_*), IPC_END_NONE otherwise. */
static void
audit(struct pair *p, uint32_t event, const char *kind, const char *detail,
    uint32_t end)
{
	struct ipc_audit a;

	memset(&a, 0, sizeof(a));
	a.event = event;
	a.end = end;
	a.channel = p->id;
	snprintf(a.kind, sizeof(a.kind), "%s", kind);
	snprintf(a.detail, sizeof(a.detail), "%s", detail ? detail : "");
	if (event == IPC_AUDIT_CHANNEL_CLOSE) {
		snprintf(a.request, sizeof(a.request), "%s%s",
		    p->pty ? "pty " : "", p->request);
		a.duration_ms = clock_ms_since(&p->started);
	}
	a.bytes_in = p->bytes_in;
	a.bytes_out = p->bytes_out;
	a.exit_status = p->have_status && p->exit_signal[0] == '\0' ?
	    p->exit_status : -1;
	snprintf(a.exit_signal, sizeof(a.exit_signal), "%s", p->exit_signal);
	mm_audit(&a);
}

/* Run one request on the Studio's session, first waiting for the login's
 * answer if it is still out.  A session request on a pipelined channel
 * (patch 0013) returns once sent; any other call waits for its answer. */
#define UP_CALL(r, call) ({ \
	int rc_ = SSH_ERROR; \
	if (logged_in(r) == 0) { \
		ssh_set_blocking((r)->up, 1); \
		rc_ = (call); \
		ssh_set_blocking((r)->up, 0); \
	} \
	rc_; })
#define UPSTREAM_CALL(p, call)	UP_CALL((p)->r, call)

/* A request callback's refusal when up_open() failed.  After a failed
 * login the request is "accepted" instead: the client is disconnected with
 * the login's refusal right after, and a refused request would make it
 * exit first, without reading why. */
#define REFUSED(p, no)	((p)->r->login_failed ? 0 : (no))

/*
 * The Studio's answer so far to the open of a session channel's Studio
 * side (ssh_channel_open_session() on a channel whose open is out).  In
 * the test build, for a user "testhook-unanswered", none until 2 s past
 * upstream_timeout after the relay began to wait for it (up_since): a
 * Studio that answers only after the client's channel was closed for
 * want of an answer.
 */
static int
spare_answer(struct pair *p)
{
#ifdef CSSHD_TEST_HOOKS
	if (testhook_unanswered && (!p->up_clock ||
	    clock_ms_since(&p->up_since) <
	    ((uint64_t)p->r->upstream_timeout + 2) * 1000))
		return SSH_AGAIN;
#endif
	return ssh_channel_open_session(p->up);
}

/*
 * The client's session channel was confirmed before the Studio refused
 * ours (relay_open_session()): without a word, its command would just
 * end.  Say so on its stderr, as the client itself says it when sshd
 * refuses its open, with exit status 255; the Studio's reason is in the
 * log only.
 */
static void
tell_refused(struct pair *p)
{
	static const char msg[] = "connect-sshd: the Studio refused to open "
	    "another session on this connection (it may allow no more); "
	    "close one, or connect again\r\n";

	if (p->told_refused || p->closed_down ||
	    ssh_channel_is_closed(p->down))
		return;
	p->told_refused = 1;
	(void)ssh_channel_write_stderr(p->down, msg, sizeof(msg) - 1);
	(void)ssh_channel_request_send_exit_status(p->down, 255);
	(void)ssh_channel_send_eof(p->down);
}

/*
 * Before a request on a session channel whose Studio side is still
 * opening: wait for the Studio's answer to its open (and the login's, if
 * that is still out).  0 once it is open, -1 if the Studio refused it.
 * (If the login failed, session.c disconnects the client with the reason
 * as soon as this callback returns; see REFUSED.)
 */
static int
up_open(struct pair *p)
{
	if (!p->up_opening)
		return 0;
	/* A refusal is logged once, by up_settled() in the relay's loop;
	 * a failed login by session.c.  The client is told before its
	 * request is refused: its ssh closes the session on that. */
	if (UPSTREAM_CALL(p, spare_answer(p)) != SSH_OK) {
		if (!p->r->login_failed)
			tell_refused(p);
		return -1;
	}
	p->up_opening = 0;
	return 0;
}

/* Remember what a session channel runs, for its audit record. */
static void
note_request(struct pair *p, const char *request, const char *detail)
{
	snprintf(p->request, sizeof(p->request), "%s", request);
	snprintf(p->detail, sizeof(p->detail), "%s", detail ? detail : "");
	audit(p, IPC_AUDIT_REQUEST, request, detail, IPC_END_NONE);
}

/* ---- requests from the client, forwarded ---- */

/* Room for one more request in flight? */
static int
can_ask(struct pair *p)
{
	if (p->asked_n < RELAY_MAX_ASKED)
		return 1;
	logit("session request refused: %d requests on one channel await "
	    "the Studio's answers", RELAY_MAX_ASKED);
	return 0;
}

#ifdef LIBSSH_CSSHD_PIPELINED_REQUESTS
/*
 * The Studio's side of a session pair sends its requests without waiting
 * for their answers (libssh patch 0013): each answer reaches
 * on_request_reply(), in the order the requests went out.
 */
static int
pipeline_up(struct pair *p)
{
	if (ssh_channel_set_pipelined_requests(p->up) != SSH_OK) {
		error("cannot pipeline requests on a channel of Studio %s",
		    p->r->name);
		return -1;
	}
	return 0;
}

/* A request went to the Studio: the client's answer waits for its
 * answer (SSH_CHANNEL_REQUEST_LATER, on_request_reply()). */
static int
asked(struct pair *p, enum asked_kind kind)
{
	p->asked[(p->asked_head + p->asked_n) % RELAY_MAX_ASKED] =
	    (uint8_t)kind;
	p->asked_n++;
	return SSH_CHANNEL_REQUEST_LATER;
}

/* libssh: the Studio's answer to the oldest request still out; the
 * client's request gets it, in its turn. */
static void
on_request_reply(ssh_session s, ssh_channel ch, bool ok, void *ud)
{
	struct pair *p = ud;
	enum asked_kind kind;

	if (p->asked_n == 0)
		return;	/* libssh counts only what we asked */
	kind = (enum asked_kind)p->asked[p->asked_head];
	p->asked_head = (p->asked_head + 1) % RELAY_MAX_ASKED;
	p->asked_n--;
	if (kind == ASKED_PTY && ok)
		p->pty = 1;
	/* A closed channel's owed answers went out as refusals with its
	 * close (patch 0013). */
	if (!p->closed_down && !ssh_channel_is_closed(p->down))
		(void)ssh_channel_request_reply(p->down, ok);
}
#else
/* A libssh without patch 0013: each request waits for the Studio's
 * answer (UPSTREAM_CALL()), and the callback answers the client. */
static int
pipeline_up(struct pair *p)
{
	return 0;
}

/* The call returned SSH_OK once the Studio had accepted the request. */
static int
asked(struct pair *p, enum asked_kind kind)
{
	if (kind == ASKED_PTY)
		p->pty = 1;
	return 0;
}
#endif

/*
 * Each request callback: once the Studio's side is open (up_open()), the
 * request goes to the Studio and the client's answer waits for the
 * Studio's; a request that cannot go is refused at once.
 */
static int
on_exec(ssh_session s, ssh_channel ch, const char *command, void *ud)
{
	struct pair *p = ud;

	note_request(p, "exec", command);
	if (up_open(p) != 0)
		return REFUSED(p, 1);
	if (!can_ask(p) ||
	    UPSTREAM_CALL(p, ssh_channel_request_exec(p->up, command)) != SSH_OK)
		return 1;
	return asked(p, ASKED_OTHER);
}

static int
on_shell(ssh_session s, ssh_channel ch, void *ud)
{
	struct pair *p = ud;

	note_request(p, "shell", NULL);
	if (up_open(p) != 0)
		return REFUSED(p, 1);
	if (!can_ask(p) ||
	    UPSTREAM_CALL(p, ssh_channel_request_shell(p->up)) != SSH_OK)
		return 1;
	return asked(p, ASKED_OTHER);
}

static int
on_subsystem(ssh_session s, ssh_channel ch, const char *name, void *ud)
{
	struct pair *p = ud;

	note_request(p, "subsystem", name);
	if (up_open(p) != 0)
		return REFUSED(p, 1);
	if (!can_ask(p) ||
	    UPSTREAM_CALL(p, ssh_channel_request_subsystem(p->up, name)) !=
	    SSH_OK)
		return 1;
	return asked(p, ASKED_OTHER);
}

static int
on_env(ssh_session s, ssh_channel ch, const char *name, const char *value,
    void *ud)
{
	struct pair *p = ud;

	/* The Studio's AcceptEnv decides; its refusal is passed on. */
	if (up_open(p) != 0)
		return REFUSED(p, -1);
	if (!can_ask(p) ||
	    UPSTREAM_CALL(p, ssh_channel_request_env(p->up, name, value)) !=
	    SSH_OK)
		return -1;
	return asked(p, ASKED_OTHER);
}

static int
on_pty(ssh_session s, ssh_channel ch, const char *term, int cols, int rows,
    int px, int py, void *ud)
{
	struct pair *p = ud;
	/* Encoded terminal modes: none, only TTY_OP_END (RFC 4254, 8). */
	static const unsigned char no_modes[] = { 0 };

	/* libssh passes the client's terminal modes to no callback, so the
	 * Studio's pty starts with its defaults (see connect-sshd(8)).
	 * libssh 0.12's ssh_channel_request_pty_size() would send the modes
	 * of the worker's own stdin if it were a terminal, else libssh's
	 * "sane" set (channels.c, ttyopts.c encode_current_tty_opts()); send
	 * none, as libssh 0.10 did. */
	if (up_open(p) != 0)
		return REFUSED(p, -1);
	if (!can_ask(p) ||
	    UPSTREAM_CALL(p, ssh_channel_request_pty_size_modes(p->up, term,
	    cols, rows, no_modes, sizeof(no_modes))) != SSH_OK)
		return -1;
	return asked(p, ASKED_PTY);
}

static int
on_window_change(ssh_session s, ssh_channel ch, int cols, int rows, int px,
    int py, void *ud)
{
	struct pair *p = ud;

	return up_open(p) == 0 &&
	    ssh_channel_change_pty_size(p->up, cols, rows) == SSH_OK ? 0 : -1;
}

static void
on_signal(ssh_session s, ssh_channel ch, const char *sig, void *ud)
{
	struct pair *p = ud;

	if (up_open(p) == 0)
		(void)ssh_channel_request_send_signal(p->up, sig);
}

/* ssh -A.  libssh answers the client "success" for us, and only if this
 * callback is set: it is set only when agent forwarding is on. */
static void
on_auth_agent_req(ssh_session s, ssh_channel ch, void *ud)
{
	struct pair *p = ud;

	if (up_open(p) == 0 &&
	    UPSTREAM_CALL(p, ssh_channel_request_auth_agent(p->up)) == SSH_OK)
		p->r->agent_requested = 1;
	else
		logit("Studio %s refused agent forwarding", p->r->name);
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

static void
set_read_size(struct relay *r, uint32_t size)
{
#ifdef LIBSSH_CSSHD_READ_SIZE
	(void)ssh_set_socket_read_size(r->down, size);
	(void)ssh_set_socket_read_size(r->up, size);
#else
	(void)r;
	(void)size;
#endif
}

/*
 * During a pass over the channels, what is written towards each side is held
 * back and sent in batches of up to RELAY_WRITE_BATCH (patch 0018): each
 * channel write otherwise cost a poll() and a send() of its own.  The batch
 * ends with the pass.  What is held then goes out at once if libssh knows
 * the socket writable, else with the loop's next poll (POLLOUT is watched,
 * so that poll does not wait), as any output libssh could not send at once;
 * the next pass writes nothing towards that side until it is out
 * (flow_start()).  A send that fails marks the session as gone, which the
 * loop checks next.
 */
#define RELAY_WRITE_BATCH	(256 * 1024)

static void
batch_writes(struct relay *r, uint32_t size)
{
#ifdef LIBSSH_CSSHD_WRITE_BATCH
	(void)ssh_set_socket_write_batch(r->down, size);
	(void)ssh_set_socket_write_batch(r->up, size);
#else
	(void)r;
	(void)size;
#endif
}

/* Bytes libssh holds, read from the peer and not yet read by us. */
static size_t
buffered(ssh_channel ch, int is_stderr)
{
	int n;

	if (ch == NULL || ssh_channel_is_closed(ch))
		return 0;
	n = ssh_channel_poll(ch, is_stderr);
	return n > 0 ? (size_t)n : 0;
}

/*
 * Everything the channels hold, both ways, now: a Studio-opened channel's
 * while the client has yet to accept it (the Studio can fill its window
 * meanwhile), and the spare's, included.  check_hold() relies on it:
 * every payload read lands in a channel counted here.
 */
static size_t
held_now(struct relay *r)
{
	size_t i, sum = buffered(r->spare, 0) + buffered(r->spare, 1);

	for (i = 0; i < r->npairs; i++)
		sum += buffered(r->pairs[i]->down, 0) +
		    buffered(r->pairs[i]->up, 0) +
		    buffered(r->pairs[i]->up, 1);
	return sum;
}

static struct pair *
new_pair(struct relay *r, enum chan_kind kind)
{
	struct pair *p;
	size_t h;

	/* Counted with the pairs not yet stored: until it is, libssh can
	 * run the other side's callbacks (held_now() reads, a channel
	 * opens), which may add pairs of their own. */
	if (r->npairs + r->reserved >= RELAY_MAX_PAIRS) {
		logit("%s channel refused: %d channels open", kind_names[kind],
		    RELAY_MAX_PAIRS);
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->r = r;
	p->kind = kind;
	r->reserved++;
	/* Channels can open many at once, within one pass: the reads go
	 * back to 4 KiB at once, not at the next pass. */
	if (r->npairs + r->reserved >= RELAY_HEAP_CHECK_PAIRS)
		set_read_size(r, LIBSSH_READ_SIZE);
	/* Every channel can come to hold a libssh window: none is added
	 * while the others already hold RELAY_HOLD_BUDGET undelivered.  (A
	 * reading side is read while a channel opens, so the check in
	 * step_all() alone would come too late.) */
	if ((h = held_now(r)) >= RELAY_HOLD_BUDGET) {
		logit("%s channel refused: the open channels hold %zu bytes "
		    "that their destinations have not read", kind_names[kind],
		    h);
		pair_free(p);
		return NULL;
	}
	clock_now(&p->started);
	return p;
}

/* The pair takes the place new_pair() reserved for it in the relay. */
static void
pair_store(struct relay *r, struct pair *p)
{
	r->reserved--;
	p->stored = 1;
	r->pairs[r->npairs++] = p;
}

/* The first RELAY_TWO_BUFFER_PAIRS pairs open at once take data in while
 * their buffers are read down without moving what the buffers hold. */
static void
pair_two_buffers(struct relay *r, struct pair *p)
{
	if (p->two_buffers || r->two_buffer_pairs >= RELAY_TWO_BUFFER_PAIRS)
		return;
	if (ssh_channel_set_two_buffers(p->down) != SSH_OK ||
	    ssh_channel_set_two_buffers(p->up) != SSH_OK)
		return;
	p->two_buffers = 1;
	r->two_buffer_pairs++;
}

/* Both of the pair's channels are open (or opening): its channel.open
 * record, with the number its records go by. */
static void
pair_opened(struct relay *r, struct pair *p)
{
	pair_two_buffers(r, p);
	p->id = r->next_id++;
	p->audited = 1;
	audit(p, IPC_AUDIT_CHANNEL_OPEN, kind_names[p->kind], p->detail,
	    IPC_END_NONE);
}

/* The pair is complete (both channels exist): relay it from now on. */
static void
add_pair(struct relay *r, struct pair *p)
{
	pair_store(r, p);
	pair_opened(r, p);
}

/* A pair leaves the relay: its channel.close record (none for a
 * direct-tcpip open the Studio refused: it never opened), then freed. */
static void
pair_drop(struct pair *p, uint32_t why)
{
	if (p->audited)
		audit(p, IPC_AUDIT_CHANNEL_CLOSE, kind_names[p->kind],
		    p->detail, why);
	pair_free(p);
}

ssh_channel
relay_open_session(struct relay *r)
{
	struct pair *p;
	int rc;

	if ((p = new_pair(r, CH_SESSION)) == NULL)
		return NULL;
	/* The spare's open went out with the login; any other session
	 * channel's goes out now, without waiting for the Studio's answer
	 * (the session is non-blocking here).  Either way the client's
	 * channel is confirmed at once and its requests come while the
	 * Studio answers: up_open() and up_settled() wait for that, and a
	 * Studio that refuses closes the client's channel.  Waiting here
	 * cost the client's open a Studio round trip of its own, with
	 * every other channel of the connection stalled meanwhile. */
	if (r->spare != NULL) {
		p->up = r->spare;
		r->spare = NULL;
		p->up_opening = 1;
	} else if (logged_in(r) != 0 ||
	    (p->up = ssh_channel_new(r->up)) == NULL ||
	    (rc = ssh_channel_open_session(p->up)) == SSH_ERROR) {
		error("cannot open a session channel on Studio %s: %s",
		    r->name, ssh_get_error(r->up));
		pair_free(p);
		return NULL;
	} else
		p->up_opening = rc == SSH_AGAIN;
	if ((p->down = ssh_channel_new(r->down)) == NULL) {
		error("cannot open a session channel on Studio %s: %s",
		    r->name, ssh_get_error(r->up));
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
	if (r->flags & IPC_INIT_FWD_AGENT)
		p->down_cb.channel_auth_agent_req_function = on_auth_agent_req;
	ssh_callbacks_init(&p->down_cb);
	p->up_cb.userdata = p;
	p->up_cb.channel_exit_status_function = on_exit_status;
	p->up_cb.channel_exit_signal_function = on_exit_signal;
#ifdef LIBSSH_CSSHD_PIPELINED_REQUESTS
	p->up_cb.channel_request_reply_function = on_request_reply;
#endif
	ssh_callbacks_init(&p->up_cb);
	if (pipeline_up(p) != 0 ||
	    ssh_set_channel_callbacks(p->down, &p->down_cb) != SSH_OK ||
	    ssh_set_channel_callbacks(p->up, &p->up_cb) != SSH_OK) {
		pair_free(p);
		return NULL;
	}
	add_pair(r, p);
	return p->down;
}

/* ---- channels and forwardings the client asks for ---- */

/*
 * libssh: the Studio's answer to a direct-tcpip open (open_direct()),
 * kept for direct_answer().  libssh reads it wherever it reads the
 * Studio's packets, and the Studio may close the channel right behind its
 * confirmation (a destination that sends a line and closes): the
 * channel's state then no longer says that it was confirmed.
 */
static void
on_open_response(ssh_session s, ssh_channel ch, bool ok, void *ud)
{
	struct pair *p = ud;

	(void)ch;
	p->up_answer = ok ? 1 : -1;
	p->r->answered = 1;
	/* libssh's error is this refusal's now, not later. */
	if (!ok)
		logit("Studio %s could not connect to %s: %s", p->r->name,
		    p->detail, ssh_get_error(s));
}

/*
 * Open (or see how far) the Studio's side of a direct-tcpip channel, to
 * what the client's open (msg) asks for: SSH_OK, SSH_AGAIN while the
 * Studio's answer is out, SSH_ERROR otherwise.
 */
static int
open_direct_up(struct pair *p, ssh_message msg)
{
	const char *orig = ssh_message_channel_request_open_originator(msg);

	return ssh_channel_open_forward(p->up,
	    ssh_message_channel_request_open_destination(msg),
	    ssh_message_channel_request_open_destination_port(msg),
	    orig != NULL ? orig : "127.0.0.1",
	    ssh_message_channel_request_open_originator_port(msg));
}

/*
 * The Studio's answer (p->up_answer) passed on to the client's open: 0
 * once both sides are open, 1 if the client is to be refused (by the
 * caller).
 */
static int
direct_answer(struct relay *r, struct pair *p, ssh_message msg)
{
	if (p->up_answer == 0)
		logit("Studio %s could not connect to %s: %s", r->name,
		    p->detail, ssh_get_error(r->up));
	if (p->up_answer <= 0 ||
	    (p->down = ssh_message_channel_request_open_reply_accept(msg)) ==
	    NULL)
		return 1;
	pair_opened(r, p);
	return 0;
}

/*
 * ssh -L, ssh -D, ssh -W: the Studio connects to the destination.  The
 * client's open is answered only once the Studio has answered ours, so a
 * refused destination is refused to the client too.  The Studio answers
 * once its connect() is done: for a destination that drops SYNs, minutes
 * later.  So the open goes out without waiting, libssh leaves the
 * client's open to us (scripts/libssh-patches/0010), and the relay's loop
 * answers it (direct_settled()); meanwhile the connection's other
 * channels go on.  Waiting here, inside libssh's callback, stopped them
 * all.  The gateway sets no bound of its own on the answer: OpenSSH's
 * ssh and sshd set none.  (libssh sends only its generic open-failure
 * reason.)
 */
static int
open_direct(struct relay *r, ssh_message msg)
{
	const char *host = ssh_message_channel_request_open_destination(msg);
	int port = ssh_message_channel_request_open_destination_port(msg);
	struct pair *p;
	int rc;

	if (host == NULL)
		return 1;
	if (!(r->flags & IPC_INIT_FWD_LOCAL)) {
		logit("refused forwarding to %s:%d: local forwarding is off",
		    host, port);
		return 1;
	}
	if ((p = new_pair(r, CH_DIRECT)) == NULL)
		return 1;
	snprintf(p->detail, sizeof(p->detail), "%s:%d", host, port);
	snprintf(p->request, sizeof(p->request), "connect");
	p->up_cb.userdata = p;
	p->up_cb.channel_open_response_function = on_open_response;
	ssh_callbacks_init(&p->up_cb);
	if (logged_in(r) != 0 || (p->up = ssh_channel_new(r->up)) == NULL ||
	    ssh_set_channel_callbacks(p->up, &p->up_cb) != SSH_OK) {
		logit("Studio %s could not connect to %s: %s", r->name,
		    p->detail, ssh_get_error(r->up));
		pair_free(p);
		return 1;
	}
	rc = open_direct_up(p, msg);
#ifdef LIBSSH_CSSHD_MESSAGE_KEEP
	if (rc == SSH_AGAIN && p->up_answer == 0) {
		p->client_open = msg;
		pair_store(r, p);
		return SSH_MESSAGE_KEEP;
	}
#else
	/* A libssh without patch 0010 frees msg when we return: the
	 * answer is awaited here, blocking, at most upstream_timeout. */
	if (rc == SSH_AGAIN && p->up_answer == 0)
		(void)UP_CALL(r, open_direct_up(p, msg));
#endif
	if (direct_answer(r, p, msg) != 0) {
		pair_free(p);
		return 1;
	}
	pair_store(r, p);
	return 0;
}

/*
 * A direct-tcpip pair whose client waits on its open (open_direct()): 1
 * once the Studio has confirmed and the client's open is accepted, 0
 * while the answer is out, -1 once the client has been refused (the pair
 * is done).
 */
static int
direct_settled(struct pair *p)
{
	ssh_message msg = p->client_open;
	int rc = 1;

	if (p->up_answer == 0)
		return 0;
	p->client_open = NULL;
	if (direct_answer(p->r, p, msg) != 0) {
		(void)ssh_message_reply_default(msg);
		p->closed_down = p->closed_up = 1;
		rc = -1;
	}
	ssh_message_free(msg);
	return rc;
}

static struct rfwd *
find_fwd(struct relay *r, const char *addr, int port)
{
	size_t i;

	for (i = 0; i < r->nfwds; i++)
		if (strcmp(r->fwds[i].addr, addr) == 0 &&
		    (r->fwds[i].port == port || r->fwds[i].bound == port))
			return &r->fwds[i];
	return NULL;
}

/* ssh -R: the Studio listens; its connections come back as channels. */
static int
remote_forward(struct relay *r, ssh_message msg)
{
	const char *addr = ssh_message_global_request_address(msg);
	int port = ssh_message_global_request_port(msg), bound = port;
	struct rfwd *f;

	if (addr == NULL)
		addr = "";
	if (!(r->flags & IPC_INIT_FWD_REMOTE)) {
		logit("refused remote forwarding of %s:%d: remote forwarding "
		    "is off", addr, port);
		return 1;
	}
	if (r->nfwds == RELAY_MAX_FWDS || strlen(addr) >= IPC_MAX_NAME) {
		logit("refused remote forwarding of %s:%d: limit reached",
		    addr, port);
		return 1;
	}
	if (UP_CALL(r, ssh_channel_listen_forward(r->up, addr, port,
	    &bound)) != SSH_OK) {
		logit("Studio %s refused to listen on %s:%d: %s", r->name,
		    addr, port, ssh_get_error(r->up));
		return 1;
	}
	if (port != 0)
		bound = port;
	f = &r->fwds[r->nfwds++];
	snprintf(f->addr, sizeof(f->addr), "%s", addr);
	f->port = port;
	f->bound = bound;
	logit("Studio %s listens on %s:%d for the client", r->name, addr,
	    bound);
	(void)ssh_message_global_request_reply_success(msg, (uint16_t)bound);
	return 0;
}

static int
cancel_forward(struct relay *r, ssh_message msg)
{
	const char *addr = ssh_message_global_request_address(msg);
	int port = ssh_message_global_request_port(msg);
	struct rfwd *f;

	if (addr == NULL)
		addr = "";
	if ((f = find_fwd(r, addr, port)) == NULL ||
	    UP_CALL(r, ssh_channel_cancel_forward(r->up, addr, f->bound)) !=
	    SSH_OK)
		return 1;
	*f = r->fwds[--r->nfwds];
	(void)ssh_message_global_request_reply_success(msg, 0);
	return 0;
}

/* The pair one of whose channels is ch: the client's if from_client,
 * else the Studio's. */
static struct pair *
pair_of(struct relay *r, ssh_channel ch, int from_client)
{
	size_t i;

	for (i = 0; i < r->npairs; i++)
		if (ch != NULL && (from_client ? r->pairs[i]->down :
		    r->pairs[i]->up) == ch)
			return r->pairs[i];
	return NULL;
}

/*
 * A channel request libssh does not know.  eow@openssh.com (OpenSSH's
 * PROTOCOL, 2.1) says its sender will not read the channel's data any
 * more: the client's stdout went away (ssh gw yes | head -1), or the
 * Studio's command closed its input.  Passed on to the other side, so
 * that the Studio's sshd closes the command's output (it dies of SIGPIPE
 * and the session ends, as without the gateway).  A client's break (RFC
 * 4335; OpenSSH's ~B escape) goes to the Studio with its length, where
 * sshd sends it to the session's pty (libssh patch 0024 keeps the
 * length).  Any other is refused.
 */
#ifdef LIBSSH_CSSHD_EOW
static int
unknown_request(struct relay *r, ssh_message msg, int from_client)
{
	const char *name = ssh_message_channel_request_name(msg);
	struct pair *p;
	ssh_channel to;
	int eow, brk = 0;

	p = pair_of(r, ssh_message_channel_request_channel(msg), from_client);
	eow = name != NULL && strcmp(name, "eow@openssh.com") == 0;
#ifdef LIBSSH_CSSHD_BREAK
	brk = from_client && name != NULL && strcmp(name, "break") == 0;
#endif
	if (p == NULL || p->opening || (!eow && !brk)) {
		debug("refused %s channel request %s",
		    from_client ? "client" : "Studio", name ? name : "?");
		return 1;
	}
	to = from_client ? p->up : p->down;
	if (to == NULL || ssh_channel_is_closed(to))
		return 1;
	if (eow)
		(void)ssh_channel_request_send_eow(to);
#ifdef LIBSSH_CSSHD_BREAK
	else if (ssh_channel_request_send_break(to,
	    ssh_message_channel_request_break_length(msg)) != SSH_OK)
		return 1;
#endif
	/* Neither asks for a reply (OpenSSH's client does not); one that
	 * does gets success once the request is passed on. */
	(void)ssh_message_channel_request_reply_success(msg);
	return 0;
}
#else
/* A system libssh without scripts/libssh-patches/0003: the request's name
 * is not known, so every unknown request is refused, eow included (the
 * Studio's command then runs until it ends by itself). */
static int
unknown_request(struct relay *r, ssh_message msg, int from_client)
{
	(void)r;
	(void)msg;
	debug("refused a %s channel request (libssh without patch 0003)",
	    from_client ? "client" : "Studio");
	return 1;
}
#endif

/* libssh: return 0 when the message was answered, 1 for its default
 * answer (a refusal), SSH_MESSAGE_KEEP when we answer it later
 * (open_direct()). */
static int
down_message(ssh_session s, ssh_message msg, void *ud)
{
	struct relay *r = ud;
	int type = ssh_message_type(msg), sub = ssh_message_subtype(msg);

	(void)s;
	if (type == SSH_REQUEST_CHANNEL && sub == SSH_CHANNEL_REQUEST_UNKNOWN)
		return unknown_request(r, msg, 1);
	if (type == SSH_REQUEST_CHANNEL_OPEN && sub == SSH_CHANNEL_DIRECT_TCPIP)
		return open_direct(r, msg);
	if (type == SSH_REQUEST_GLOBAL &&
	    sub == SSH_GLOBAL_REQUEST_TCPIP_FORWARD)
		return remote_forward(r, msg);
	if (type == SSH_REQUEST_GLOBAL &&
	    sub == SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD)
		return cancel_forward(r, msg);
	debug("refused client request type %d/%d", type, sub);
	return 1;
}

/* ---- channels the Studio opens towards the client ---- */

/*
 * A connection to a remote forwarding, or an agent request, on the Studio.
 * The Studio has already accepted the connection on its side, so its
 * channel is confirmed at once and the client's side is opened without
 * blocking (pair_open_down()); if the client refuses, the Studio's channel
 * is closed, which closes that connection -- what the client's refusal
 * does without a gateway.
 */
static int
accept_from_studio(struct relay *r, ssh_message msg, enum chan_kind kind)
{
	struct pair *p;
	const char *host = "", *orig = "";

	if (kind == CH_FORWARDED) {
		host = ssh_message_channel_request_open_destination(msg);
		orig = ssh_message_channel_request_open_originator(msg);
	}
	if ((p = new_pair(r, kind)) == NULL)
		return 1;
	snprintf(p->host, sizeof(p->host), "%s", host ? host : "");
	snprintf(p->orig, sizeof(p->orig), "%s", orig ? orig : "");
	if (kind == CH_FORWARDED) {
		p->port = ssh_message_channel_request_open_destination_port(msg);
		p->orig_port =
		    ssh_message_channel_request_open_originator_port(msg);
		snprintf(p->detail, sizeof(p->detail), "%s:%d from %s:%d",
		    p->host, p->port, p->orig, p->orig_port);
	}
	if ((p->down = ssh_channel_new(r->down)) == NULL ||
	    (p->up = ssh_message_channel_request_open_reply_accept(msg)) ==
	    NULL) {
		pair_free(p);
		return 1;
	}
	p->opening = 1;
	add_pair(r, p);
	return 0;
}

static int
up_message(ssh_session s, ssh_message msg, void *ud)
{
	struct relay *r = ud;
	int type = ssh_message_type(msg), sub = ssh_message_subtype(msg);
	const char *host;

	(void)s;
	if (type == SSH_REQUEST_CHANNEL && sub == SSH_CHANNEL_REQUEST_UNKNOWN)
		return unknown_request(r, msg, 0);
	if (type != SSH_REQUEST_CHANNEL_OPEN) {
		debug("refused Studio request type %d/%d", type, sub);
		return 1;
	}
	if (sub == SSH_CHANNEL_FORWARDED_TCPIP) {
		host = ssh_message_channel_request_open_destination(msg);
		if (!(r->flags & IPC_INIT_FWD_REMOTE) || host == NULL ||
		    find_fwd(r, host,
		    ssh_message_channel_request_open_destination_port(msg)) ==
		    NULL) {
			logit("refused a forwarded connection the client did "
			    "not ask for");
			return 1;
		}
		return accept_from_studio(r, msg, CH_FORWARDED);
	}
	if (sub == SSH_CHANNEL_AUTH_AGENT) {
		/* Only the client's own agent, and only if it offered it:
		 * the monitor's agent never leaves the worker. */
		if (!(r->flags & IPC_INIT_FWD_AGENT) || !r->agent_requested) {
			logit("refused an agent channel the client did not "
			    "offer");
			return 1;
		}
		return accept_from_studio(r, msg, CH_AGENT);
	}
	logit("refused a channel of type %d from Studio %s", sub, r->name);
	return 1;
}

/* Push the client side of a Studio-opened channel along: 1 open, 0 not
 * yet, -1 refused by the client. */
static int
pair_open_down(struct pair *p)
{
	int rc;

	if (p->kind == CH_FORWARDED)
		rc = ssh_channel_open_reverse_forward(p->down, p->host, p->port,
		    p->orig, p->orig_port);
	else
		rc = ssh_channel_open_auth_agent(p->down);
	if (rc == SSH_AGAIN)
		return 0;
	if (rc != SSH_OK)
		return -1;
	p->opening = 0;
	return 1;
}

/* ---- moving data ---- */

#ifndef LIBSSH_CSSHD_WRITE_FROM
#error "the worker needs libssh with connect-sshd's patch 0019 (scripts/libssh.sh)"
#endif

/*
 * What one ssh_channel_write_from() may move.  libssh grants src's window
 * back after each call, so a backlog drained at once still goes back to
 * the peer in adjusts under half the window, as OpenSSH sends them
 * (tests/integration/window.sh); a whole 2 MiB backlog moved in one call
 * went back as one adjust of the whole window.  256 KiB: as much as a
 * socket read brings in (RELAY_READ_SIZE).
 */
#define RELAY_MOVE_MAX	(256 * 1024)

/*
 * Move what src has buffered to dst, as far as dst's window and f's budget
 * (what this pass may still write towards dst's side) allow.  libssh packs
 * dst's packets straight from src's buffer and consumes what it wrote
 * (ssh_channel_write_from(), patch 0019): reading the data out first
 * copied every byte once more.  What dst cannot take yet -- its window is
 * closed, or a key re-exchange holds its session -- stays in src, whose
 * window libssh grows back only as it is consumed.  src's socket is read
 * only when src holds nothing (ssh_channel_poll_timeout()).  Returns bytes
 * delivered, or -1.
 */
static long
pump(ssh_channel src, ssh_channel dst, int is_stderr, struct flow *f)
{
	long moved = 0;
	int n, w;

	while (f->budget > 0 && ssh_channel_window_size(dst) > 0) {
		n = ssh_channel_poll_timeout(src, 0, is_stderr);
		if (n == SSH_EOF || n == 0)
			break;
		if (n < 0)
			return -1;
		w = ssh_channel_write_from(dst, src, f->budget > RELAY_MOVE_MAX ?
		    RELAY_MOVE_MAX : (uint32_t)f->budget, is_stderr);
		if (w < 0)
			return -1;
		if (w == 0)
			break;
		moved += w;
		f->budget -= w;
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

/*
 * May EOF go to the client yet?  For a session, only once the Studio's
 * exit status (or signal) is here, or the Studio closed without one: a
 * client whose input is done answers EOF with its CLOSE at once, after
 * which no status can be delivered.  sshd sends its EOF and the status
 * close together, but the gateway can read them apart: a ControlMaster
 * client then reported exit 255 for a command that exited 7.  The status
 * follows the EOF in the same step (send_exit()).
 */
static int
status_known(const struct pair *p)
{
	return p->kind != CH_SESSION || p->have_status ||
	    ssh_channel_is_closed(p->up);
}

/* Has this side's connection ended (closed, reset, or errored)?  (Not
 * ssh_get_error_code(): libssh leaves "fatal" codes behind on requests
 * that merely failed.) */
static int
gone(ssh_session s)
{
	return !ssh_is_connected(s) ||
	    (ssh_get_status(s) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0;
}

/*
 * A session channel whose Studio side is opening, in the relay's loop: 1
 * once the Studio has confirmed it, 0 while its answer is out (nothing
 * moves, and nothing is closed: its Studio-side number is not known yet),
 * -1 once the pair is being closed.  If the Studio refuses it, both sides
 * are done.  If it has not answered upstream_timeout after the relay
 * began to wait for it (up_since), the client's channel is closed
 * (unbounded, a client whose request failed meanwhile waited for that
 * close for ever); the Studio's stays in the pair until the Studio
 * answers, and is closed then: freed before, a late confirmation would
 * find no channel and leave one open on the Studio.
 */
static int
up_settled(struct pair *p)
{
	int rc;

	if (p->r->login_wait != NULL)
		return 0;
	if (!p->up_clock) {
		clock_now(&p->up_since);
		p->up_clock = 1;
	}
	rc = spare_answer(p);
	if (rc == SSH_AGAIN) {
		if (p->closed_down || clock_ms_since(&p->up_since) <
		    (uint64_t)p->r->upstream_timeout * 1000)
			return 0;
		logit("Studio %s did not answer the open of a session channel "
		    "within %u s", p->r->name, p->r->upstream_timeout);
		(void)ssh_channel_close(p->down);
		p->closed_down = 1;
		return -1;
	}
	p->up_opening = 0;
	if (rc == SSH_OK && !p->closed_down)
		return 1;
	if (rc == SSH_OK) {
		logit("Studio %s answered the open of a session channel after "
		    "the client's side was closed: closing it", p->r->name);
		(void)ssh_channel_close(p->up);
	} else {
		logit("Studio %s refused a session channel: %s", p->r->name,
		    ssh_get_error(p->r->up));
		tell_refused(p);
	}
	if (!p->closed_down)
		(void)ssh_channel_close(p->down);
	p->closed_down = p->closed_up = 1;
	return -1;
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
	int rc;

	/* The client's connection ended under an open channel: not the
	 * orderly close of a finished session.  (An open still waiting for
	 * the Studio's answer is no channel yet.) */
	if (p->audited && !p->closed_down && gone(r->down))
		r->client_lost = 1;
	if (p->up_opening && up_settled(p) <= 0)
		return 0;
	if (p->client_open != NULL && direct_settled(p) <= 0)
		return 0;
	if (p->opening) {
		if ((rc = pair_open_down(p)) == 0)
			return 0;
		if (rc < 0) {
			logit("the client refused a %s channel (%s)",
			    kind_names[p->kind], p->detail);
			(void)ssh_channel_close(p->up);
			p->closed_down = p->closed_up = 1;
			return 0;
		}
	}
	drop_client_stderr(r, p->down);
	if (writable(p->up, p->eof_to_up, p->closed_up))
		a = pump(p->down, p->up, 0, &r->to_up);
	if (writable(p->down, p->eof_to_down, p->closed_down)) {
		b = pump(p->up, p->down, 0, &r->to_down);
		c = pump(p->up, p->down, 1, &r->to_down);
	}
	if (a < 0 || b < 0 || c < 0)
		return -1;
	p->bytes_in += (uint64_t)a;
	p->bytes_out += (uint64_t)(b + c);
	/* Not EOF while the channel still holds data (ssh_channel_is_eof()). */
	if (writable(p->up, p->eof_to_up, p->closed_up) &&
	    ssh_channel_is_eof(p->down)) {
		(void)ssh_channel_send_eof(p->up);
		p->eof_to_up = 1;
	}
	if (writable(p->down, p->eof_to_down, p->closed_down) &&
	    ssh_channel_is_eof(p->up) && status_known(p)) {
		(void)ssh_channel_send_eof(p->down);
		p->eof_to_down = 1;
	}
	if (p->eof_to_down && !p->closed_down)
		send_exit(p);
	/* The Studio closed and everything it sent is out, or the client
	 * closed: close the client's side (our reply to its close). */
	if (!p->closed_down && ((p->eof_to_down && ssh_channel_is_closed(p->up))
	    || ssh_channel_is_closed(p->down))) {
		/* Closed because the client's connection ended, not by
		 * the client: the session was cut short. */
		if (gone(r->down))
			r->client_lost = 1;
		(void)ssh_channel_close(p->down);
		p->closed_down = 1;
	}
	/* Then the Studio's side, likewise.  What the client sent before
	 * its close has reached the Studio by now: libssh keeps a channel
	 * the peer closed open while it still holds data (its delayed
	 * close), and pump() leaves data there until the Studio takes it.
	 * No EOF unless the client sent one: a close without EOF aborts the
	 * command on the Studio, as it would without a gateway. */
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

/*
 * The start of a pass, for one direction: what it may write towards dst:
 * nothing while libssh still holds output that dst's socket did not take
 * (libssh watches for POLLOUT exactly then), else RELAY_STEP_BUDGET.
 */
static void
flow_start(struct flow *f, ssh_session dst)
{
	f->budget = (ssh_get_poll_flags(dst) & SSH_WRITE_PENDING) ? 0 :
	    RELAY_STEP_BUDGET;
}

/* The worker's heap as RLIMIT_DATA sees it: from brk, and mmap()ed
 * chunks. */
static size_t
heap_now(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.arena + mi.hblkhd;
}

/* Log why the connection ends for what its channels hold; returns -1
 * with end_msg set. */
static int
end_for_hold(struct relay *r, size_t held, size_t heap)
{
	logit("closing the connection: its %zu channels hold %zu bytes that "
	    "their destinations have not read, in a heap of %zu MiB (at most "
	    "%d MiB held, %zu MiB of heap)", r->npairs, held, heap >> 20,
	    RELAY_HOLD_MAX >> 20, RELAY_HEAP_MAX >> 20);
	snprintf(r->end_msg, sizeof(r->end_msg), "The channels of this "
	    "connection hold more data than their destinations take: "
	    "disconnected by the gateway");
	return -1;
}

/*
 * One channel's step, then, with RELAY_HEAP_CHECK_PAIRS channels open or
 * more, the heap's bound: reading one channel can take in the next
 * packets of the others, and 128 channels filling in step cross a power
 * of two together.  Checked once per pass, under load the heap grew past
 * RLIMIT_DATA (64 MiB above RELAY_HEAP_MAX) within one pass, where an
 * allocation failed instead.  With fewer channels (4 MiB of buffer each
 * at most) the heap cannot come near the bound, and mallinfo2() is not
 * paid per channel.
 */
static long
step_pair(struct relay *r, size_t i)
{
	long n;
	size_t heap;

	if ((n = pair_step(r->pairs[i])) < 0)
		return -1;
	if (r->npairs >= RELAY_HEAP_CHECK_PAIRS && hold_bounded() &&
	    (heap = heap_now()) >= RELAY_HEAP_MAX)
		return end_for_hold(r, held_now(r), heap);
	return n;
}

/* Step every pair; drop finished ones.  Pairs may be added while we step
 * (a channel open arrives while we read), so re-read the count.  Each pass
 * starts one pair further on, so that with the budget spent early the
 * same channels do not always go first. */
static long
step_all(struct relay *r)
{
	long progress = 0, n;
	size_t i, j, start;

	r->answered = 0;
	flow_start(&r->to_down, r->down);
	flow_start(&r->to_up, r->up);
	start = r->npairs > 0 ? r->rr++ % r->npairs : 0;
	for (i = start; i < r->npairs; i++) {
		if ((n = step_pair(r, i)) < 0)
			return -1;
		progress += n;
	}
	for (i = 0; i < start && i < r->npairs; i++) {
		if ((n = step_pair(r, i)) < 0)
			return -1;
		progress += n;
	}
	for (i = j = 0; i < r->npairs; i++) {
		if (pair_done(r->pairs[i]))
			pair_drop(r->pairs[i], IPC_END_CLOSED);
		else
			r->pairs[j++] = r->pairs[i];
	}
	r->npairs = j;
	return progress;
}

static void
close_all(struct relay *r)
{
	size_t i;

	for (i = 0; i < r->npairs; i++)
		pair_drop(r->pairs[i], IPC_END_CONNECTION);
	r->npairs = 0;
}

/*
 * About once a second, the byte counts of the channels that moved data,
 * to the monitor: if this worker dies, the monitor closes their audit
 * records with these counts.
 */
static void
report_progress(struct relay *r)
{
	struct pair *p;
	size_t i;

	if (clock_ms_since(&r->last_progress) < 1000)
		return;
	clock_now(&r->last_progress);
	for (i = 0; i < r->npairs; i++) {
		p = r->pairs[i];
		if (p->bytes_in == p->reported_in &&
		    p->bytes_out == p->reported_out)
			continue;
		audit(p, IPC_AUDIT_CHANNEL_PROGRESS, kind_names[p->kind], "",
		    IPC_END_NONE);
		p->reported_in = p->bytes_in;
		p->reported_out = p->bytes_out;
	}
}

/*
 * How long the loop may wait for an event while nothing moves: a second,
 * or until the next progress report is due while bytes moved are not yet
 * reported.  A transfer that ends just short of a report is then reported
 * on time, not a second late: if the worker is killed meanwhile, the
 * monitor's channel.close carries the bytes last reported.
 */
static int
idle_wait_ms(const struct relay *r)
{
	uint64_t since = clock_ms_since(&r->last_progress);
	size_t i;

	for (i = 0; i < r->npairs; i++)
		if (r->pairs[i]->bytes_in != r->pairs[i]->reported_in ||
		    r->pairs[i]->bytes_out != r->pairs[i]->reported_out)
			return since >= 1000 ? 0 : (int)(1000 - since);
	return 1000;
}

/*
 * How long ago the client last sent anything at all, in ms, from the
 * kernel's TCP state (libssh does not say when a keepalive was answered).
 * -1 if unknown.
 */
static long
client_silent_ms(struct relay *r)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int fd = ssh_get_fd(r->down);

	if (fd == -1 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return -1;
	return (long)ti.tcpi_last_data_recv;
}

/*
 * Idle and keepalive checks, about once a second.  Returns 0 to go on,
 * or -1 with end_msg set to close the connection.
 */
static int
check_liveness(struct relay *r, long progress)
{
	struct timespec now;
	long silent;
	uint64_t limit_ms;

	clock_now(&now);
	if (progress > 0)
		r->last_data = now;
	if (r->idle_timeout > 0 &&
	    clock_ms_since(&r->last_data) >= (uint64_t)r->idle_timeout * 1000) {
		logit("closing idle connection: no data for %u s",
		    r->idle_timeout);
		snprintf(r->end_msg, sizeof(r->end_msg), "Idle for %u "
		    "seconds: disconnected by the gateway", r->idle_timeout);
		return -1;
	}
	if (r->keepalive_interval == 0 ||
	    clock_ms_since(&r->last_keepalive) < (uint64_t)r->keepalive_interval *
	    1000)
		return 0;
	limit_ms = (uint64_t)r->keepalive_interval * r->keepalive_count_max *
	    1000;
	silent = client_silent_ms(r);
	if (silent >= 0 && (uint64_t)silent >= limit_ms) {
		logit("client did not answer %u keepalives in %u s: closing",
		    r->keepalive_count_max, r->keepalive_interval *
		    r->keepalive_count_max);
		snprintf(r->end_msg, sizeof(r->end_msg), "No answer to "
		    "keepalives: disconnected by the gateway");
		return -1;
	}
	r->last_keepalive = now;
	if (silent < 0 || (uint64_t)silent >= (uint64_t)r->keepalive_interval *
	    1000) {
		/* libssh sends a new request only once the last one's
		 * answer has been collected; the first call collects it. */
		(void)ssh_send_keepalive(r->down);
		(void)ssh_send_keepalive(r->down);
	}
	return 0;
}

static uint64_t
payload_read(const struct relay *r)
{
	return r->down_raw.in_bytes + r->up_raw.in_bytes;
}

/*
 * The bound on what the channels hold (RELAY_HOLD_MAX).  Returns 0 to go
 * on, or -1 with end_msg set to close the connection.
 *
 * What the channels hold grows only by the payloads of the packets read,
 * as libssh counts them after decompression.  So while the last measure
 * plus every payload read since stays under the bound, there is nothing to
 * measure: held_now() polls the sockets once per channel and direction,
 * and doing that every pass cost more system calls than the data itself.
 * held_now() reads as it polls, so what it read while measuring is added
 * to the bound.
 */
static int
check_hold(struct relay *r)
{
	size_t heap = heap_now();
	uint64_t before;

	if (!hold_bounded())
		return 0;
	if (r->held_bound + (payload_read(r) - r->held_in) < RELAY_HOLD_MAX &&
	    heap < RELAY_HEAP_MAX)
		return 0;
	before = payload_read(r);
	r->held_bound = held_now(r);
	r->held_in = payload_read(r);
	if (r->held_bound < RELAY_HOLD_MAX && heap < RELAY_HEAP_MAX) {
		r->held_bound += (size_t)(r->held_in - before);
		return 0;
	}
	return end_for_hold(r, r->held_bound, heap);
}

/*
 * While data flows, take in what the sockets have before the next pass over
 * the channels, rather than one pass per read: the pass costs more than the
 * read.  But no more than RELAY_DRAIN_BYTES: a pass that takes in megabytes
 * before it writes any leaves the peers idle meanwhile.
 */
#define RELAY_DRAIN_POLLS	64
#define RELAY_DRAIN_BYTES	(256 * 1024)

static uint64_t
bytes_read(const struct relay *r)
{
	return r->down_io.in_bytes + r->up_io.in_bytes;
}

static void
drain_sockets(struct relay *r, ssh_event ev)
{
	uint64_t start = bytes_read(r);
	int i;

	for (i = 0; i < RELAY_DRAIN_POLLS; i++)
		if (ssh_event_dopoll(ev, 0) != SSH_OK ||
		    bytes_read(r) - start >= RELAY_DRAIN_BYTES)
			break;
}

int
relay_run(struct relay *r)
{
	ssh_event ev;
	long progress;
	int rc = 0;

	ssh_set_blocking(r->down, 0);
	ssh_set_blocking(r->up, 0);
	if ((ev = ssh_event_new()) == NULL ||
	    ssh_event_add_session(ev, r->down) != SSH_OK ||
	    ssh_event_add_session(ev, r->up) != SSH_OK)
		return -1;
	ssh_set_counters(r->down, &r->down_io, &r->down_raw);
	ssh_set_counters(r->up, &r->up_io, &r->up_raw);
	/* What the channels took in before now is not counted: the first
	 * check measures. */
	r->held_bound = RELAY_HOLD_MAX;
	for (;;) {
		/* Why the client's connection ended, read before the pass
		 * below touches its channels: a write to a closed session
		 * leaves another error in its place. */
		if (r->down_why[0] == '\0' && gone(r->down))
			snprintf(r->down_why, sizeof(r->down_why), "%s",
			    ssh_get_error(r->down));
		set_read_size(r, r->npairs < RELAY_HEAP_CHECK_PAIRS ?
		    RELAY_READ_SIZE : LIBSSH_READ_SIZE);
		batch_writes(r, RELAY_WRITE_BATCH);
		progress = step_all(r);
		batch_writes(r, 0);
		/* A side that went away is the cause, whatever else failed. */
		if (relay_client_left(r))
			break;
		if (gone(r->up)) {
			logit("Studio %s closed the connection: %s", r->name,
			    ssh_get_error(r->up));
			snprintf(r->end_msg, sizeof(r->end_msg), "Studio "
			    "session %s closed the connection", r->studio);
			rc = -1;
			break;
		}
		if (progress < 0 && r->end_msg[0] != '\0') {
			rc = -1;
			break;
		}
		if (progress < 0) {
			error("relay failed: client: %s; Studio %s: %s",
			    ssh_get_error(r->down), r->name,
			    ssh_get_error(r->up));
			rc = -1;
			break;
		}
		report_progress(r);
		if (check_liveness(r, progress) != 0 || check_hold(r) != 0) {
			rc = -1;
			break;
		}
		if (worker_stopping) {
			logit("gateway shutting down: disconnecting the client");
			snprintf(r->end_msg, sizeof(r->end_msg), "%s",
			    STOPPING_MSG);
			rc = -1;
			break;
		}
		/* A failed poll shows as a disconnected session above.  An
		 * open the Studio answered since the pass began (read with
		 * another channel's packets) is passed on without waiting. */
		if (progress > 0)
			drain_sockets(r, ev);
		else if (!r->answered)
			(void)ssh_event_dopoll(ev, idle_wait_ms(r));
	}
	/* With a message for the client, leave the channels open: a client
	 * whose last channel closes leaves before it reads the message.
	 * relay_free() closes them after the disconnect. */
	if (r->end_msg[0] == '\0')
		close_all(r);
	ssh_event_remove_session(ev, r->down);
	ssh_event_remove_session(ev, r->up);
	ssh_event_free(ev);
	ssh_set_counters(r->down, NULL, NULL);
	ssh_set_counters(r->up, NULL, NULL);
	set_read_size(r, LIBSSH_READ_SIZE);
	return rc;
}

/*
 * ssh_disconnect() frees every channel of the session it ends, so after
 * the client's session is disconnected (with channels left open for the
 * message's sake), the pairs must forget their client-side channels
 * before relay_free() gives the rest back.
 */
void
relay_client_disconnected(struct relay *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->npairs; i++)
		r->pairs[i]->down = NULL;
}

/* The channels open now (not opens still waiting for an answer). */
static size_t
open_pairs(const struct relay *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->npairs; i++)
		n += r->pairs[i]->audited;
	return n;
}

/* The client's connection ended: say how, once.  0 while it is up. */
int
relay_client_left(struct relay *r)
{
	if (!gone(r->down))
		return 0;
	if (r->down_why[0] == '\0')
		snprintf(r->down_why, sizeof(r->down_why), "%s",
		    ssh_get_error(r->down));
	/* libssh 0.12 enforces no-more-sessions@openssh.com as OpenSSH's
	 * sshd does: a session channel opened after it ends the connection
	 * (messages.c). */
	if (strstr(r->down_why, "No more sessions") != NULL)
		logit("client opened a session channel after its "
		    "no-more-sessions@openssh.com: disconnected");
	else if (r->client_lost || open_pairs(r) > 0)
		logit("client disconnected with channels open: %s",
		    r->down_why);
	else
		debug("client disconnected");
	return 1;
}

const char *
relay_end_message(const struct relay *r)
{
	return r != NULL && r->end_msg[0] != '\0' ? r->end_msg : NULL;
}
