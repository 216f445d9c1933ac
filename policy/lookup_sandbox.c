/*
 * lookup_sandbox.c - connect-sshd-lookup drops everything it can before it
 * speaks to Redis.
 *
 * As the worker's sandbox (worker/sandbox.c), one straight line, each
 * step fatal: drop to workers.user (when started as root), rlimits,
 * no_new_privs, then a seccomp filter that kills by default.  No chroot:
 * a registry named by a DNS name is resolved on every reconnect, which
 * reads /etc/hosts, /etc/resolv.conf and /etc/nsswitch.conf; opening
 * files is therefore allowed read-only.  The process holds no key and
 * makes no decision (lookup.c); the filter keeps a compromise of its
 * Redis parser from reaching the kernel's wider surface, other processes
 * or the file system.
 */
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "ipc.h"
#include "log.h"
#include "sandbox_common.h"
#include "lookup.h"

/* stdio, IPC, metrics_listen, the Redis connection, a DNS socket, a
 * resolver file, and SCRAPE_MAX (8) scrapers. */
#define LOOKUP_MAX_FDS	24
/* The cache (REDIS_CACHE_MAX answers) and hiredis's reply buffers. */
#define LOOKUP_MAX_DATA	((rlim_t)64 << 20)

#define FUTEX_FLAGS		(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
#define FUTEX_CMD(op)		ARG_MASKED(1, ~(scmp_datum_t)FUTEX_FLAGS, op)
/* open flags that write, create or truncate */
#define O_WRITING		(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND)

static const struct sc_rule rules[] = {
	/* the IPC socket and the Redis connection */
	ALLOW(read, "hiredis reads its socket"),
	ALLOW(write, "hiredis writes its socket; sanitizer reports"),
	ALLOW(recvfrom, "hiredis recv(); the resolver's answers"),
	ALLOW(sendto, "hiredis send(); the resolver's questions"),
	ALLOW(recvmsg, "IPC messages from the monitor"),
	ALLOW(sendmsg, "IPC answers to the monitor"),
	ALLOW(sendmmsg, "the resolver sends A and AAAA questions at once"),
	ALLOW(poll, "hiredis waits for a connect and a reply, bounded"),
	ALLOW(ppoll, "poll() on some architectures"),
	ALLOW(close, "closing a Redis connection to reconnect"),
	/* Sockets: IPv4 and IPv6 only (Redis, DNS); AF_UNIX is the
	 * resolver's nscd probe, denied without harm. */
	ALLOW_IF(socket, ARG_EQ(0, AF_INET), "the Redis connection, DNS"),
	ALLOW_IF(socket, ARG_EQ(0, AF_INET6), "the Redis connection, DNS"),
	DENY_IF(socket, EACCES, ARG_EQ(0, AF_UNIX),
	    "glibc's resolver tries nscd first"),
	ALLOW(connect, "to Redis, and the resolver's UDP socket"),
	ALLOW(bind, "the resolver binds its UDP socket"),
	ALLOW(getsockname, "the resolver"),
	ALLOW(getpeername, "hiredis"),
	/* metrics_listen (scrape.c): accepted on descriptor 4 only; a
	 * response is one send, then the write side is shut. */
	ALLOW_IF(accept4, ARG_EQ(0, IPC_LOOKUP_METRICS_FD),
	    "a scraper on metrics_listen"),
	ALLOW_IF(shutdown, ARG_EQ(1, SHUT_WR), "a scraper's response is whole"),
	ALLOW_IF2(setsockopt, ARG_EQ(1, SOL_SOCKET), ARG_EQ(2, SO_SNDBUF),
	    "room for a whole metrics response"),
	ALLOW_IF2(getsockopt, ARG_EQ(1, SOL_SOCKET), ARG_EQ(2, SO_ERROR),
	    "hiredis reads a non-blocking connect's result"),
	ALLOW_IF2(setsockopt, ARG_EQ(1, IPPROTO_TCP), ARG_EQ(2, TCP_NODELAY),
	    "hiredis sets TCP_NODELAY"),
	ALLOW_IF2(setsockopt, ARG_EQ(1, SOL_SOCKET), ARG_EQ(2, SO_KEEPALIVE),
	    "hiredis keepalive"),
	ALLOW_IF2(setsockopt, ARG_EQ(1, SOL_SOCKET), ARG_EQ(2, SO_REUSEADDR),
	    "hiredis sets it before connect"),
	ALLOW_IF2(setsockopt, ARG_EQ(1, SOL_SOCKET), ARG_EQ(2, SO_RCVTIMEO),
	    "hiredis's command timeout"),
	ALLOW_IF2(setsockopt, ARG_EQ(1, SOL_SOCKET), ARG_EQ(2, SO_SNDTIMEO),
	    "hiredis's command timeout"),
	ALLOW_IF2(setsockopt, ARG_EQ(1, IPPROTO_TCP), ARG_EQ(2, TCP_KEEPIDLE),
	    "hiredis keepalive"),
	ALLOW_IF2(setsockopt, ARG_EQ(1, IPPROTO_TCP), ARG_EQ(2, TCP_KEEPINTVL),
	    "hiredis keepalive"),
	ALLOW_IF2(setsockopt, ARG_EQ(1, IPPROTO_TCP), ARG_EQ(2, TCP_KEEPCNT),
	    "hiredis keepalive"),
	ALLOW_IF2(setsockopt, ARG_EQ(1, SOL_IP), ARG_EQ(2, IP_RECVERR),
	    "the resolver"),
	ALLOW_IF2(setsockopt, ARG_EQ(1, SOL_IPV6), ARG_EQ(2, IPV6_RECVERR),
	    "the resolver"),
	ALLOW_IF(fcntl, ARG_EQ(1, F_GETFL), "file status flags, read"),
	ALLOW_IF2(fcntl, ARG_EQ(1, F_SETFL), ARG_MASKED(2, O_ASYNC, 0),
	    "hiredis sets O_NONBLOCK to connect; never O_ASYNC"),
	ALLOW_IF(fcntl, ARG_EQ(1, F_GETFD), "close-on-exec flag, read"),
	ALLOW_IF(fcntl, ARG_EQ(1, F_SETFD), "close-on-exec flag"),
	/* The resolver's files, read only: never write, create or
	 * truncate. */
	ALLOW_IF(openat, ARG_MASKED(2, O_WRITING, O_RDONLY),
	    "/etc/hosts, /etc/resolv.conf, /etc/nsswitch.conf"),
	ALLOW(newfstatat, "the resolver checks its files"),
	ALLOW(fstat, "stdio on the resolver's files"),
	ALLOW(lseek, "stdio on the resolver's files"),
	/* memory */
	ALLOW(brk, "malloc"),
	ALLOW(munmap, "free of large blocks"),
	ALLOW(mremap, "realloc of large blocks"),
	ALLOW(madvise, "malloc trims freed memory"),
	ALLOW_IF2(mmap, ARG_MASKED(2, PROT_EXEC, 0),
	    ARG_MASKED(3, MAP_ANONYMOUS, MAP_ANONYMOUS),
	    "malloc of large blocks; anonymous, not executable"),
	ALLOW_IF(mprotect, ARG_MASKED(2, PROT_EXEC, 0),
	    "glibc's malloc; never executable"),
	ALLOW_IF(futex, FUTEX_CMD(FUTEX_WAIT), "glibc locks"),
	ALLOW_IF(futex, FUTEX_CMD(FUTEX_WAKE), "glibc locks"),
	ALLOW(getrandom, "the resolver's query ids"),
	ALLOW(clock_gettime, "timeouts, the cache (without the vDSO)"),
	ALLOW(gettimeofday, "timeouts (without the vDSO)"),
	ALLOW(getpid, "the resolver, logs"),
	ALLOW(rt_sigreturn, "signal return"),
	ALLOW(restart_syscall, "poll() resumed after SIGSTOP/SIGCONT"),
	ALLOW(rt_sigprocmask, "glibc blocks signals around critical code"),
	ALLOW(exit, "thread exit"),
	ALLOW(exit_group, "process exit"),
	/* Harmless probes, denied with an error. */
	DENY(ioctl, ENOTTY, "glibc isatty() probes"),
	DENY(readlink, EACCES, "the sanitizer runtime names the binary"),
	DENY(uname, EPERM, "res_init: a default search domain from the "
	    "host name, done without (the kernel's version stays unknown)"),
#ifdef CSSHD_SANITIZE
	ALLOW(sigaltstack, "ASan's no-return hook, sanitizer build only"),
	DENY(open, EACCES, "the sanitizer runtime, while reporting"),
#else
	DENY(sigaltstack, EPERM, "the sanitizer runtime asks while reporting"),
#endif
};

static void
drop_identity(const struct ipc_lookup_init *in)
{
	gid_t gid = (gid_t)in->gid;
	uid_t uid = (uid_t)in->uid;

	if (in->flags & IPC_LOOKUP_SETUID)
		sandbox_drop_to(uid, gid);
}

static void
set_limits(void)
{
	static const struct sc_limit lim[] = {
		/* Its log lines go to the monitor (L_LOG): it writes no
		 * file.  The sanitizer build writes its reports to the
		 * monitor's stderr, which may be a file. */
#ifndef CSSHD_SANITIZE
		{ RLIMIT_DATA, LOOKUP_MAX_DATA, "DATA" },
		{ RLIMIT_FSIZE, 0, "FSIZE" },
#endif
		{ RLIMIT_NPROC, 0, "NPROC" },		/* no new processes */
		{ RLIMIT_CORE, 0, "CORE" },		/* no core dumps */
		{ RLIMIT_NOFILE, LOOKUP_MAX_FDS, "NOFILE" },
	};
	sandbox_set_limits(lim, sizeof(lim) / sizeof(lim[0]));
}

static void
install_filter(void)
{
	sandbox_install_filter(rules, sizeof(rules) / sizeof(rules[0]));
}

void
lookup_sandbox_enter(const struct ipc_lookup_init *in)
{
	pid_t monitor = getppid();

	drop_identity(in);
	/* Set after the uid change, which clears it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal("PR_SET_PDEATHSIG: %s", strerror(errno));
	if (getppid() != monitor)
		fatal("the monitor is gone");
	set_limits();
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("PR_SET_DUMPABLE: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	install_filter();
}
