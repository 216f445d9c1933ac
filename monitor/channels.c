/*
 * channels.c - the channels each worker reported open, for the audit log.
 *
 * A worker reports every channel it relays (W_AUDIT: open, request,
 * progress about once a second, close).  The monitor keeps what it was
 * told of the channels still open, so that every channel gets exactly one
 * channel.close record whatever ends it: the worker's own record when the
 * worker closes it, or, when the worker dies first (killed, crashed), one
 * the monitor writes from what the worker last reported ("end" says
 * which).  The worker's reports are believed only as its own account of
 * its own connection: they can change the audit log of that connection and
 * nothing else; a report that contradicts the earlier ones (an unknown or
 * repeated channel id, a count going backwards, more channels than any
 * worker may hold) kills the worker.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ipc.h"
#include "clock.h"
#include "log.h"
#include "monitor.h"

struct wchan {
	struct wchan *next;
	uint32_t id;
	const char *type;		/* one of chan_types[] */
	char request[IPC_MAX_NAME];	/* exec, shell, subsystem, connect */
	char *detail;			/* command, subsystem or target */
	struct timespec started;
	uint64_t bytes_in, bytes_out;	/* as last reported */
};

/* The channel types a worker relays; anything else is a lie. */
static const char *const chan_types[] = {
	"session", "direct-tcpip", "forwarded-tcpip", "agent",
};

static const char *
end_name(uint32_t end)
{
	switch (end) {
	case IPC_END_CLOSED:
		return "closed";
	case IPC_END_CONNECTION:
		return "connection-ended";
	default:
		return "worker-ended";
	}
}

static struct wchan *
find_chan(struct worker *w, uint32_t id)
{
	struct wchan *ch;

	for (ch = w->chans; ch != NULL; ch = ch->next)
		if (ch->id == id)
			return ch;
	return NULL;
}

static const char *
known_type(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof(chan_types) / sizeof(chan_types[0]); i++)
		if (strcmp(type, chan_types[i]) == 0)
			return chan_types[i];
	return NULL;
}

static int
chan_opened(struct monitor *m, struct worker *w, const struct ipc_audit *a)
{
	struct wchan *ch;
	const char *type;

	if ((type = known_type(a->kind)) == NULL) {
		worker_kill(m, w, "channel %u of unknown type", a->channel);
		return -1;
	}
	if (find_chan(w, a->channel) != NULL) {
		worker_kill(m, w, "channel %u opened twice", a->channel);
		return -1;
	}
	if (w->nchans == IPC_MAX_CHANNELS) {
		worker_kill(m, w, "more than %d channels open",
		    IPC_MAX_CHANNELS);
		return -1;
	}
	if ((ch = calloc(1, sizeof(*ch))) == NULL ||
	    (ch->detail = strdup(a->detail)) == NULL) {
		free(ch);
		worker_kill(m, w, "out of memory for channel records");
		return -1;
	}
	ch->id = a->channel;
	ch->type = type;
	clock_now(&ch->started);
	ch->next = w->chans;
	w->chans = ch;
	w->nchans++;
	AUDIT("channel.open", AF_N("conn", w->conn_id),
	    AF_S("user", w->user), AF_S("session", w->session),
	    AF_N("channel", a->channel), AF_S("type", a->kind));
	return 0;
}

static int
chan_request(struct monitor *m, struct worker *w, const struct ipc_audit *a)
{
	struct wchan *ch;
	char *detail;

	if ((ch = find_chan(w, a->channel)) == NULL) {
		worker_kill(m, w, "request on unknown channel %u", a->channel);
		return -1;
	}
	if ((detail = strdup(a->detail)) == NULL) {
		worker_kill(m, w, "out of memory for channel records");
		return -1;
	}
	free(ch->detail);
	ch->detail = detail;
	snprintf(ch->request, sizeof(ch->request), "%s", a->kind);
	AUDIT("command", AF_N("conn", w->conn_id),
	    AF_S("user", w->user), AF_S("session", w->session),
	    AF_N("channel", a->channel), AF_S("request", a->kind),
	    AF_S("command", a->detail));
	return 0;
}

static int
chan_progress(struct monitor *m, struct worker *w, const struct ipc_audit *a)
{
	struct wchan *ch;

	if ((ch = find_chan(w, a->channel)) == NULL) {
		worker_kill(m, w, "progress on unknown channel %u",
		    a->channel);
		return -1;
	}
	if (a->bytes_in < ch->bytes_in || a->bytes_out < ch->bytes_out) {
		worker_kill(m, w, "channel %u byte counts went backwards",
		    a->channel);
		return -1;
	}
	ch->bytes_in = a->bytes_in;
	ch->bytes_out = a->bytes_out;
	return 0;
}

static void
chan_remove(struct worker *w, struct wchan *ch)
{
	struct wchan **pp;

	for (pp = &w->chans; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ch) {
			*pp = ch->next;
			w->nchans--;
			break;
		}
	free(ch->detail);
	free(ch);
}

/* The one place a channel.close record is written. */
static void
audit_close(struct worker *w, const struct wchan *ch, const char *request,
    const char *detail, uint64_t duration_ms, uint64_t bytes_in,
    uint64_t bytes_out, int32_t exit_status, const char *exit_signal,
    uint32_t end)
{
	AUDIT("channel.close", AF_N("conn", w->conn_id),
	    AF_S("user", w->user), AF_S("session", w->session),
	    AF_N("channel", ch->id), AF_S("type", ch->type),
	    AF_S("request", request), AF_S("detail", detail),
	    AF_N("duration_ms", duration_ms), AF_N("bytes_in", bytes_in),
	    AF_N("bytes_out", bytes_out), AF_N("exit_status", exit_status),
	    AF_S("exit_signal", exit_signal), AF_S("end", end_name(end)));
}

static int
chan_closed(struct monitor *m, struct worker *w, const struct ipc_audit *a)
{
	struct wchan *ch;

	if ((ch = find_chan(w, a->channel)) == NULL) {
		worker_kill(m, w, "close of unknown channel %u", a->channel);
		return -1;
	}
	if (a->bytes_in < ch->bytes_in || a->bytes_out < ch->bytes_out) {
		worker_kill(m, w, "channel %u byte counts went backwards",
		    a->channel);
		return -1;
	}
	w->bytes_in += a->bytes_in;
	w->bytes_out += a->bytes_out;
	/* The connection's status is its last session's, not that of a
	 * forwarded connection that closed after it. */
	if (strcmp(ch->type, "session") == 0) {
		w->exit_status = a->exit_status;
		snprintf(w->exit_signal, sizeof(w->exit_signal), "%s",
		    a->exit_signal);
	}
	audit_close(w, ch, a->request, a->detail, a->duration_ms, a->bytes_in,
	    a->bytes_out, a->exit_status, a->exit_signal, a->end);
	chan_remove(w, ch);
	return 0;
}

/* W_AUDIT: one channel event.  0, or -1 with the worker killed. */
/*
 * The worker says the Studio refused its login: once, with the mode the
 * monitor chose (the worker's own word is only the detail).  As
 * trustworthy as the worker; the Studio's sshd log has the truth.
 */
static int
upstream_refused(struct monitor *m, struct worker *w, const struct ipc_audit *a)
{
	const char *mode = w->upstream_auth == CFG_UPSTREAM_CERTIFICATE ?
	    "certificate" : "key";

	if (w->upstream_refused || strcmp(a->kind, mode) != 0) {
		worker_kill(m, w, "bad upstream refusal report");
		return -1;
	}
	w->upstream_refused = 1;
	AUDIT("upstream.refused", AF_N("conn", w->conn_id),
	    AF_S("user", w->user), AF_S("session", w->session),
	    AF_S("upstream", w->upstream_host),
	    AF_S("port", w->upstream_port),
	    AF_S("upstream_user", w->upstream_user), AF_S("auth", mode),
	    AF_S("reason", w->upstream_auth == CFG_UPSTREAM_CERTIFICATE ?
	    "studio-refused-certificate" : "studio-refused-key"),
	    AF_S("detail", a->detail));
	return 0;
}

int
channels_report(struct monitor *m, struct worker *w, const struct ipc_audit *a)
{
	if (a->event != IPC_AUDIT_CHANNEL_CLOSE && a->end != IPC_END_NONE) {
		worker_kill(m, w, "channel end given for a channel not closed");
		return -1;
	}
	switch (a->event) {
	case IPC_AUDIT_CHANNEL_OPEN:
		return chan_opened(m, w, a);
	case IPC_AUDIT_REQUEST:
		return chan_request(m, w, a);
	case IPC_AUDIT_CHANNEL_PROGRESS:
		return chan_progress(m, w, a);
	case IPC_AUDIT_CHANNEL_CLOSE:
		return chan_closed(m, w, a);
	case IPC_AUDIT_UPSTREAM_REFUSED:
		return upstream_refused(m, w, a);
	}
	return -1;
}

/*
 * The worker is gone: the channels it did not close get their record
 * from what it last reported.  Their bytes count in the connection's
 * totals and in the metrics like any other.
 */
void
channels_worker_ended(struct worker *w)
{
	struct wchan *ch;

	while ((ch = w->chans) != NULL) {
		w->bytes_in += ch->bytes_in;
		w->bytes_out += ch->bytes_out;
		audit_close(w, ch, ch->request, ch->detail,
		    clock_ms_since(&ch->started), ch->bytes_in, ch->bytes_out, -1, "",
		    IPC_END_NONE);
		chan_remove(w, ch);
	}
}
