/*
 * delayproxy - a TCP forwarder that delays every byte by a fixed one-way
 * time in each direction, for benchmarking over emulated latency.
 *
 *   delayproxy LISTEN_PORT TARGET_PORT DELAY_MS      forward 127.0.0.1
 *   delayproxy -c HOPS [MIB]                         measure own capacity
 *   delayproxy -r [MIB]                              the relay floor
 *
 * The kernel here has no sch_netem.  A forwarder that stamps each chunk
 * when it arrives and releases it DELAY_MS later, in order, never drops
 * and has no rate cap, gives SSH the round trips of a long link: channel
 * windows and request/response exchanges see the delay.  TCP's own windows
 * still see loopback, which is the optimistic case (no loss, no slow
 * start after idle).
 *
 * Each connection gets two threads, one per direction: the reader stamps
 * and queues, the writer sleeps until the head is due and writes it.  A
 * direction holds at most QUEUE_MAX bytes; beyond that the reader waits,
 * which is the TCP back-pressure a real path would apply, and it is far
 * above any bandwidth-delay product measured here (at 100 ms and 1 GiB/s,
 * 100 MiB: only an idle-window bound matters).
 *
 * "-c" measures the forwarder itself: HOPS forwarders in a chain with no
 * delay, MIB mebibytes from a source to a sink thread, MiB/s printed.  The
 * bench prints it beside its results, so nobody mistakes the forwarder's
 * limit for the gateway's.
 *
 * "-r" measures what any relay pays here to pass a byte through: a process
 * reads 256 KiB at a time from one loopback TCP connection and writes it to
 * another, as the gateway's worker does, without crypto, and prints the CPU
 * it used per GiB (which the kernel charges with the loopback delivery of
 * what it sends).  The bench adds the crypto floor to it: the least CPU
 * per GiB a relay that decrypts and re-encrypts can use.
 *
 * Benchmark tooling, not part of the gateway: loopback only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MAX	(256 * 1024)
#define QUEUE_MAX	(256u * 1024 * 1024)

struct chunk {
	struct chunk *next;
	uint64_t due_ns;	/* CLOCK_MONOTONIC time to release it */
	size_t len;		/* 0: the sender's EOF */
	unsigned char data[];
};

struct dir {
	int from, to;
	uint64_t delay_ns;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chunk *head, *tail;
	size_t queued;
	int dead;		/* the writer failed: the reader stops */
	struct pair *pair;
};

struct pair {
	struct dir d[2];
	pthread_mutex_t mu;
	int refs;		/* threads still running */
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000u),
	    (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

static void
pair_release(struct pair *p)
{
	struct chunk *c;
	int last, i;

	pthread_mutex_lock(&p->mu);
	last = --p->refs == 0;
	pthread_mutex_unlock(&p->mu);
	if (!last)
		return;
	for (i = 0; i < 2; i++)
		while ((c = p->d[i].head) != NULL) {
			p->d[i].head = c->next;
			free(c);
		}
	close(p->d[0].from);
	close(p->d[0].to);
	free(p);
}

static void
enqueue(struct dir *d, struct chunk *c)
{
	pthread_mutex_lock(&d->mu);
	while (d->queued >= QUEUE_MAX && !d->dead)
		pthread_cond_wait(&d->cv, &d->mu);
	c->next = NULL;
	if (d->tail != NULL)
		d->tail->next = c;
	else
		d->head = c;
	d->tail = c;
	d->queued += c->len;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

static void *
reader(void *arg)
{
	struct dir *d = arg;
	struct chunk *c;
	ssize_t n;

	for (;;) {
		if ((c = malloc(sizeof(*c) + CHUNK_MAX)) == NULL)
			break;
		n = read(d->from, c->data, CHUNK_MAX);
		if (n < 0 && errno == EINTR) {
			free(c);
			continue;
		}
		c->due_ns = now_ns() + d->delay_ns;
		c->len = n > 0 ? (size_t)n : 0;
		enqueue(d, c);
		if (n <= 0)
			break;
		pthread_mutex_lock(&d->mu);
		n = d->dead;
		pthread_mutex_unlock(&d->mu);
		if (n)
			break;
	}
	pair_release(d->pair);
	return NULL;
}

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *
writer(void *arg)
{
	struct dir *d = arg;
	struct chunk *c;
	int eof;

	for (;;) {
		pthread_mutex_lock(&d->mu);
		while (d->head == NULL)
			pthread_cond_wait(&d->cv, &d->mu);
		c = d->head;
		pthread_mutex_unlock(&d->mu);
		sleep_until(c->due_ns);
		eof = c->len == 0;
		if (!eof && write_all(d->to, c->data, c->len) != 0)
			eof = -1;
		pthread_mutex_lock(&d->mu);
		d->head = c->next;
		if (d->head == NULL)
			d->tail = NULL;
		d->queued -= c->len;
		if (eof < 0)
			d->dead = 1;
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
		free(c);
		if (eof)
			break;
	}
	/* Pass the EOF on (or, after a write error, end both ways). */
	if (eof > 0)
		shutdown(d->to, SHUT_WR);
	else {
		shutdown(d->to, SHUT_RDWR);
		shutdown(d->from, SHUT_RDWR);
	}
	pair_release(d->pair);
	return NULL;
}

/* A TCP socket and the address 127.0.0.1:port for it; -1 on failure. */
static int
loopback_socket(int port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static int
tcp_connect(int port)
{
	struct sockaddr_in sa;
	int s, one = 1;

	if ((s = loopback_socket(port, &sa)) == -1)
		return -1;
	(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(s);
		return -1;
	}
	return s;
}

static int
tcp_listen(int port)
{
	struct sockaddr_in sa;
	int s, one = 1;

	if ((s = loopback_socket(port, &sa)) == -1)
		return -1;
	(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(s, 1024) == -1) {
		close(s);
		return -1;
	}
	return s;
}

/* The port a listening socket got (for port 0). */
static int
bound_port(int s)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (getsockname(s, (struct sockaddr *)&sa, &len) == -1)
		return -1;
	return ntohs(sa.sin_port);
}

static void
dir_init(struct dir *d, struct pair *p, int from, int to, uint64_t delay)
{
	d->from = from;
	d->to = to;
	d->delay_ns = delay;
	d->pair = p;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
}

static void
start(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	pthread_attr_t a;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 256 * 1024);
	if (pthread_create(&t, &a, fn, arg) != 0) {
		perror("delayproxy: pthread_create");
		exit(1);
	}
	pthread_attr_destroy(&a);
}

static void
forward(int client, int target_port, uint64_t delay)
{
	struct pair *p;
	int up, one = 1;

	if ((up = tcp_connect(target_port)) == -1) {
		close(client);
		return;
	}
	(void)setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		close(client);
		close(up);
		return;
	}
	pthread_mutex_init(&p->mu, NULL);
	p->refs = 4;
	dir_init(&p->d[0], p, client, up, delay);
	dir_init(&p->d[1], p, up, client, delay);
	start(reader, &p->d[0]);
	start(writer, &p->d[0]);
	start(reader, &p->d[1]);
	start(writer, &p->d[1]);
}

struct server {
	int lfd, target;
	uint64_t delay;
};

static void *
serve(void *arg)
{
	struct server *sv = arg;
	int c;

	for (;;) {
		c = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			perror("delayproxy: accept");
			exit(1);
		}
		forward(c, sv->target, sv->delay);
	}
	return NULL;
}

/* ---- capacity self-test ---- */

static void *
sink(void *arg)
{
	int lfd = *(int *)arg, c;
	static unsigned char buf[CHUNK_MAX];

	if ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return NULL;
	while (read(c, buf, sizeof(buf)) > 0)
		;
	close(c);
	return NULL;
}

/* Write MIB mebibytes to 127.0.0.1:port, 256 KiB at a time, then EOF. */
static int
pump(int port, long mib)
{
	static unsigned char buf[CHUNK_MAX];
	long left;
	int s;

	if ((s = tcp_connect(port)) == -1) {
		perror("delayproxy: connect");
		return -1;
	}
	for (left = mib * 4; left > 0; left--)	/* 256 KiB writes */
		if (write_all(s, buf, sizeof(buf)) != 0) {
			perror("delayproxy: write");
			close(s);
			return -1;
		}
	shutdown(s, SHUT_WR);
	close(s);
	return 0;
}

static int
capacity(int hops, long mib)
{
	struct server *sv;
	pthread_t t;
	uint64_t t0, t1;
	int sinkfd, next, i;

	if ((sinkfd = tcp_listen(0)) == -1) {
		perror("delayproxy: listen");
		return 1;
	}
	pthread_create(&t, NULL, sink, &sinkfd);
	next = bound_port(sinkfd);
	for (i = 0; i < hops; i++) {
		if ((sv = calloc(1, sizeof(*sv))) == NULL ||
		    (sv->lfd = tcp_listen(0)) == -1) {
			perror("delayproxy: listen");
			return 1;
		}
		sv->target = next;
		next = bound_port(sv->lfd);
		start(serve, sv);
	}
	t0 = now_ns();
	if (pump(next, mib) != 0)
		return 1;
	pthread_join(t, NULL);
	t1 = now_ns();
	printf("%.0f\n", (double)mib / ((double)(t1 - t0) / 1e9));
	return 0;
}

/* ---- relay floor ---- */

static double
process_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Read and write on, nothing else: the I/O a relay cannot avoid.  Its own
 * process, as the worker is, between a source and a sink that are not
 * threads of it (switching between the threads of one process is cheaper
 * than between processes).  Writes its CPU seconds to report, or -1.
 */
static void
plain_relay(int lfd, int target, int report)
{
	static unsigned char buf[CHUNK_MAX];
	double t0, cpu = -1;
	ssize_t n;
	int in, out;

	if ((in = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1 &&
	    (out = tcp_connect(target)) != -1) {
		t0 = process_cpu_s();
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write_all(out, buf, (size_t)n) != 0)
				break;
		if (n == 0)
			cpu = process_cpu_s() - t0;
		shutdown(out, SHUT_WR);
	}
	_exit(write(report, &cpu, sizeof(cpu)) == (ssize_t)sizeof(cpu) ? 0 : 1);
}

static void
plain_sink(int lfd)
{
	sink(&lfd);
	_exit(0);
}

static int
relay_floor(long mib)
{
	int sinkfd, lfd, rep[2];
	double cpu = -1;
	pid_t ps, pr;

	if ((sinkfd = tcp_listen(0)) == -1 || (lfd = tcp_listen(0)) == -1 ||
	    pipe(rep) == -1) {
		perror("delayproxy: listen");
		return 1;
	}
	if ((ps = fork()) == 0)
		plain_sink(sinkfd);
	if ((pr = fork()) == 0)
		plain_relay(lfd, bound_port(sinkfd), rep[1]);
	if (ps == -1 || pr == -1) {
		perror("delayproxy: fork");
		return 1;
	}
	if (pump(bound_port(lfd), mib) != 0 ||
	    read(rep[0], &cpu, sizeof(cpu)) != (ssize_t)sizeof(cpu) || cpu < 0) {
		fprintf(stderr, "delayproxy: the relay failed\n");
		return 1;
	}
	waitpid(pr, NULL, 0);
	waitpid(ps, NULL, 0);
	printf("%.3f\n", cpu * 1024 / (double)mib);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: delayproxy LISTEN_PORT TARGET_PORT DELAY_MS\n"
	    "       delayproxy -c HOPS [MIB]\n"
	    "       delayproxy -r [MIB]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct server sv;
	char *end;
	long v[3];
	int i;

	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && strcmp(argv[1], "-c") == 0)
		return capacity(atoi(argv[2]), argc > 3 ? atol(argv[3]) : 1024);
	if (argc >= 2 && strcmp(argv[1], "-r") == 0)
		return relay_floor(argc > 2 ? atol(argv[2]) : 1024);
	if (argc != 4)
		usage();
	for (i = 0; i < 3; i++) {
		errno = 0;
		v[i] = strtol(argv[i + 1], &end, 10);
		if (errno != 0 || end == argv[i + 1] || *end != '\0' ||
		    v[i] < (i < 2 ? 1 : 0) || v[i] > (i < 2 ? 65535 : 10000))
			usage();
	}
	sv.target = (int)v[1];
	sv.delay = (uint64_t)v[2] * 1000000u;
	if ((sv.lfd = tcp_listen((int)v[0])) == -1) {
		fprintf(stderr, "delayproxy: cannot listen on 127.0.0.1:%ld: "
		    "%s\n", v[0], strerror(errno));
		return 1;
	}
	serve(&sv);
	return 0;
}
