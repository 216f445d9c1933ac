/*
 * notify.c - tell a service manager where the monitor is (sd_notify).
 *
 * systemd (Type=notify) puts a datagram socket's address in NOTIFY_SOCKET
 * and waits for "READY=1"; "RELOADING=1", "STOPPING=1" and "STATUS=..."
 * report the rest of the life cycle.  The protocol is one sendto() of a
 * few lines, so it is written here instead of linking libsystemd into the
 * privileged monitor: a large library with compression dependencies of
 * its own, for one datagram (the way into sshd of CVE-2024-3094).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "monitor.h"

static struct sockaddr_un notify_addr;
static socklen_t notify_len;

/* Read NOTIFY_SOCKET once, and take it out of the environment: nothing
 * the monitor starts may speak for it. */
void
notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	notify_len = 0;
	if (path == NULL || path[0] == '\0')
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof(notify_addr.sun_path)) {
		error("NOTIFY_SOCKET=%s is not a socket path or abstract "
		    "name: not notifying the service manager", path);
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, len);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';	/* abstract namespace */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	unsetenv("NOTIFY_SOCKET");
}

/* Send one state message ("READY=1\nSTATUS=..."); failures are logged and
 * otherwise ignored: the gateway works without a service manager. */
void
notify_send(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int fd, n;

	if (notify_len == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		error("notify: socket: %s", strerror(errno));
		return;
	}
	if (sendto(fd, msg, (size_t)n, MSG_NOSIGNAL,
	    (const struct sockaddr *)&notify_addr, notify_len) != n)
		error("notify: cannot reach the service manager: %s",
		    strerror(errno));
	close(fd);
}
