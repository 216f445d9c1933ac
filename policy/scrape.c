/*
 * scrape.c - metrics_listen, served by connect-sshd-lookup.
 *
 * The monitor opens metrics_listen and hands it to this process; it never
 * accepts on it.  Each scraper is accepted here, its metrics asked of the
 * monitor (L_SCRAPE) and sent, when they come (L_METRICS), as an HTTP/1.0
 * response whatever was asked.  Nothing a scraper sends is parsed: it is
 * read and dropped until the scraper closes, so that closing first does
 * not reset the response on its way.
 *
 * Bounds: SCRAPE_MAX scrapers at once, SCRAPE_PER_S accepted a second
 * (more wait in the listen backlog), each closed SCRAPE_TIMEOUT_MS after
 * it was accepted, answered or not.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "scrape.h"

#define SCRAPE_PER_S		20
#define SCRAPE_TIMEOUT_MS	5000

struct scraper {
	int fd;				/* -1: a free slot */
	uint64_t id;			/* what L_SCRAPE asked as */
	int answered;			/* response sent, draining */
	uint64_t deadline_ms;
};

static struct scraper sc[SCRAPE_MAX];
static int listen_fd = -1;
static uint64_t next_id;
static uint64_t window_s;		/* the second left counts for */
static unsigned left = SCRAPE_PER_S;

void
scrape_init(int fd)
{
	size_t i;
	int fl;

	for (i = 0; i < SCRAPE_MAX; i++)
		sc[i].fd = -1;
	listen_fd = fd;
	if (fd != -1 && (fl = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
drop(struct scraper *s)
{
	close(s->fd);
	s->fd = -1;
}

static struct scraper *
free_slot(void)
{
	size_t i;

	for (i = 0; i < SCRAPE_MAX; i++)
		if (sc[i].fd == -1)
			return &sc[i];
	return NULL;
}

/* Room and budget for another scraper now. */
static int
may_accept(void)
{
	uint64_t now = clock_ms() / 1000;

	if (now != window_s) {
		window_s = now;
		left = SCRAPE_PER_S;
	}
	return listen_fd != -1 && left > 0 && free_slot() != NULL;
}

size_t
scrape_pollfds(struct pollfd *p)
{
	size_t i, n = 0;

	if (may_accept()) {
		p[n].fd = listen_fd;
		p[n++].events = POLLIN;
	}
	for (i = 0; i < SCRAPE_MAX; i++)
		if (sc[i].fd != -1) {
			p[n].fd = sc[i].fd;
			p[n++].events = POLLIN;
		}
	return n;
}

int
scrape_timeout_ms(void)
{
	uint64_t now = clock_ms(), next = 0;
	size_t i;

	if (listen_fd == -1)
		return -1;
	/* Out of budget: look again in the next second. */
	if (left == 0)
		next = (now / 1000 + 1) * 1000;
	for (i = 0; i < SCRAPE_MAX; i++)
		if (sc[i].fd != -1 && (next == 0 || sc[i].deadline_ms < next))
			next = sc[i].deadline_ms;
	if (next == 0)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

static void
accept_one(void (*ask)(uint64_t id))
{
	struct scraper *s;
	int fd;

	if (!may_accept() || (s = free_slot()) == NULL)
		return;
	fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return;		/* gone before it was taken, or EAGAIN */
	left--;
	s->fd = fd;
	s->id = ++next_id;
	s->answered = 0;
	s->deadline_ms = clock_ms() + SCRAPE_TIMEOUT_MS;
	ask(s->id);
}

/* Read and drop what the scraper sent, a bounded amount a pass (one that
 * sends without end is closed at its deadline); 0 at its end. */
static int
drain(struct scraper *s)
{
	static char sink[4096];
	ssize_t n = -1;
	int k;

	for (k = 0; k < 16; k++)
		if ((n = recv(s->fd, sink, sizeof(sink), MSG_DONTWAIT)) <= 0)
			break;
	if (n > 0)
		return 1;
	return n < 0 && (errno == EAGAIN || errno == EINTR);
}

void
scrape_events(const struct pollfd *p, size_t n, void (*ask)(uint64_t id))
{
	uint64_t now = clock_ms();
	size_t i, j;

	for (j = 0; j < n; j++) {
		if (p[j].revents == 0)
			continue;
		if (p[j].fd == listen_fd) {
			accept_one(ask);
			continue;
		}
		for (i = 0; i < SCRAPE_MAX; i++)
			if (sc[i].fd == p[j].fd && !drain(&sc[i]))
				drop(&sc[i]);
	}
	for (i = 0; i < SCRAPE_MAX; i++)
		if (sc[i].fd != -1 && now >= sc[i].deadline_ms)
			drop(&sc[i]);
}

int
scrape_answer(uint64_t id, const uint8_t *text, size_t len)
{
	static const char head[] = "HTTP/1.0 200 OK\r\n"
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Connection: close\r\n\r\n";
	static uint8_t out[sizeof(head) + SCRAPE_MAX_TEXT];
	size_t i, total;
	int sndbuf;

	if (len > SCRAPE_MAX_TEXT)
		return -1;
	for (i = 0; i < SCRAPE_MAX; i++)
		if (sc[i].fd != -1 && sc[i].id == id && !sc[i].answered)
			break;
	if (i == SCRAPE_MAX)
		return 0;	/* the scraper left first */
	memcpy(out, head, sizeof(head) - 1);
	memcpy(out + sizeof(head) - 1, text, len);
	total = sizeof(head) - 1 + len;
	/* One send into a socket buffer made large enough for all of it:
	 * nobody waits for a scraper, nor sends half a response. */
	sndbuf = (int)total;
	(void)setsockopt(sc[i].fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf));
	if (send(sc[i].fd, out, total, MSG_DONTWAIT | MSG_NOSIGNAL) !=
	    (ssize_t)total) {
		drop(&sc[i]);
		return 0;
	}
	(void)shutdown(sc[i].fd, SHUT_WR);
	sc[i].answered = 1;
	return 0;
}
