/*
 * upstream.c - the monitor opens TCP connections to Studios.
 *
 * Only the monitor may connect(): a worker's sandbox forbids it, so a
 * worker reaches exactly the Studio the monitor routed it to.  Addresses
 * are numeric (checked at config load), so no DNS lookup stalls the
 * monitor's event loop; the connect itself is non-blocking and finished by
 * the event loop (see dispatch_route_done).
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"

/* Start connecting: 0 (connected or in progress, *fd set) or an errno. */
int
upstream_connect(const char *host, const char *port, int *fd)
{
	struct addrinfo hints, *ai = NULL;
	int s, one = 1, err;

	*fd = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		return EINVAL;
	s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (s == -1) {
		err = errno;
		freeaddrinfo(ai);
		return err;
	}
	/* Interactive traffic: do not delay small packets. */
	(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s, ai->ai_addr, ai->ai_addrlen) == -1 &&
	    errno != EINPROGRESS) {
		err = errno;
		close(s);
		freeaddrinfo(ai);
		return err;
	}
	freeaddrinfo(ai);
	*fd = s;
	return 0;
}

/* The connect finished (the socket polled writable): 0 or its errno. */
int
upstream_finish(int fd)
{
	int err = 0, fl;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	if (err != 0)
		return err;
	/* The worker's libssh expects to set its own modes. */
	if ((fl = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return 0;
}
