/*
 * sandbox.c - the worker drops everything it can before it reads a byte
 * from the network.
 *
 * One straight line, each step fatal on failure: chroot into an empty
 * directory and drop to workers.user (when started as root), tight
 * rlimits, no_new_privs, then a seccomp filter whose default action kills
 * the process.  The allowlist below is flat, in one place, with the reason
 * for each entry; libseccomp adds the architecture check first and kills
 * on a foreign architecture.  Where a call is harmful with some arguments
 * and the worker needs only a few values (fcntl, getsockopt, setsockopt,
 * mmap, mprotect, futex), an entry allows only those values and anything
 * else kills, like a call that is not listed.
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
#include "worker.h"

#ifdef CSSHD_SANITIZE
#include <sanitizer/common_interface_defs.h>
#endif

/* Descriptors a worker can hold at once: stdio, IPC, client, Studio,
 * agent, and room for SCM_RIGHTS reception. */
#define WORKER_MAX_FDS	16

/*
 * RLIMIT_DATA: the heap (brk) and private writable mappings, which is
 * every byte a worker allocates.  Not RLIMIT_AS, which also counts the
 * libraries' text and address space reserved and never used.
 *
 * Measured on Debian 12 (libssh 0.10.6, OpenSSL 3.0), the production
 * build, peak over a whole connection, KiB (VmData is what RLIMIT_DATA
 * counts; VmPeak the address space; VmHWM the resident peak):
 *
 *                                        VmData  VmPeak   VmHWM
 *   spare worker, sandboxed, no client      460    9628    6260
 *   idle session                            720    9888    7092
 *   interactive shell on a pty              720    9888    7116
 *   256 MiB Studio -> client (exec, sftp) 17552   26720   23736
 *   256 MiB client -> Studio (exec)        9392   18560   15632
 *   256 MiB client -> Studio (sftp)       17552   26720   23608
 *   128 direct-tcpip channels never read  45196       -   45340
 *     by the client (before relay.c refused new channels past 16 MiB
 *     held: 276 MiB resident)
 *   the same, libssh 0.12, 64 MiB budget  80124       -   85724
 *
 * The relay refuses new channels once its channels hold 64 MiB
 * undelivered and writes at most 1 MiB per pass towards each side
 * (relay.c), but it does not stop reading a socket (that would stop the
 * other direction's window adjustments and deadlock an echoing channel),
 * and each channel already open takes in up to its 2 MiB window from a
 * sender whose destination does not read, in buffers libssh never
 * shrinks: 128 of them whose data the Studio side never reads reach any
 * limit in seconds (tested in limits.sh).  256 MiB is three times the
 * worst legitimate case measured and fourteen times a bulk transfer; a
 * worker that needs more is misbehaving or under attack: its allocations
 * fail and only its own connection ends.
 */
#define WORKER_MAX_DATA	(((rlim_t)256 << 20) / WORKER_MEM_SCALE)

/* futex operations, with or without the private and realtime flags */
#define FUTEX_FLAGS		(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
#define FUTEX_CMD(op)		ARG_MASKED(1, ~(scmp_datum_t)FUTEX_FLAGS, op)

static const struct sc_rule rules[] = {
	/* I/O on the client socket, the Studio socket, the agent socket
	 * and the IPC socket */
	ALLOW(read, "libssh reads sockets"),
	ALLOW(write, "libssh and the agent client write sockets"),
	ALLOW(readv, "glibc may gather reads"),
	ALLOW(writev, "glibc may scatter writes"),
	ALLOW(recvfrom, "libssh recv() on sockets"),
	ALLOW(sendto, "libssh send() on sockets"),
	ALLOW(recvmsg, "IPC messages and fds from the monitor"),
	ALLOW(sendmsg, "IPC messages to the monitor"),
	ALLOW(poll, "libssh event loop"),
	ALLOW(ppoll, "poll() on some architectures"),
	ALLOW(close, "closing channels' and sessions' sockets"),
	/* fcntl: flags of the worker's own descriptors only.  F_SETOWN,
	 * F_SETOWN_EX, F_SETSIG and O_ASYNC (which F_SETFL must not set)
	 * would make the kernel signal another process -- another worker,
	 * or the monitor when it does not run as root; leases, F_NOTIFY,
	 * locks, F_DUPFD and the rest are never used, and kill. */
	ALLOW_IF(fcntl, ARG_EQ(1, F_GETFL), "file status flags, read"),
	ALLOW_IF2(fcntl, ARG_EQ(1, F_SETFL), ARG_MASKED(2, O_ASYNC, 0),
	    "libssh sets or clears O_NONBLOCK on the Studio socket; "
	    "never O_ASYNC"),
	ALLOW_IF(fcntl, ARG_EQ(1, F_GETFD), "close-on-exec flag, read"),
	ALLOW_IF(fcntl, ARG_EQ(1, F_SETFD),
	    "libssh marks sockets close-on-exec"),
	ALLOW(shutdown, "libssh shuts down a socket on disconnect"),
	/* Socket options: only these; others (TCP_ULP, SO_ATTACH_FILTER,
	 * TCP_ZEROCOPY_RECEIVE, SO_PEERCRED, ...) are kernel attack surface
	 * or information the worker does not need, and kill. */
	ALLOW_IF2(getsockopt, ARG_EQ(1, SOL_SOCKET), ARG_EQ(2, SO_ERROR),
	    "libssh reads the error of the Studio socket it waits on"),
	ALLOW_IF2(getsockopt, ARG_EQ(1, IPPROTO_TCP), ARG_EQ(2, TCP_INFO),
	    "the relay asks when the client last sent anything"),
	ALLOW_IF2(setsockopt, ARG_EQ(1, IPPROTO_TCP), ARG_EQ(2, TCP_NODELAY),
	    "the one option libssh sets (on a socket it connects itself; "
	    "the monitor sets it on the Studio socket)"),
	ALLOW(getpeername, "libssh looks up the peer for its logs"),
	ALLOW(getsockname, "libssh looks up the local address"),
	/* memory */
	ALLOW(brk, "malloc"),
	ALLOW(munmap, "free of large blocks"),
	ALLOW(mremap, "realloc of large blocks"),
	ALLOW(madvise, "malloc trims freed memory"),
	/* Anonymous memory only, never executable: a worker has no business
	 * making new code, nor mapping a socket (TCP zero-copy receive) or
	 * any other descriptor. */
	ALLOW_IF2(mmap, ARG_MASKED(2, PROT_EXEC, 0),
	    ARG_MASKED(3, MAP_ANONYMOUS, MAP_ANONYMOUS),
	    "malloc of large blocks; anonymous, not executable"),
	ALLOW_IF(mprotect, ARG_MASKED(2, PROT_EXEC, 0),
	    "glibc's malloc and the sanitizer runtime; never executable"),
	/* threads' and OpenSSL's locks, time, randomness.  futex: the
	 * operations of glibc's and OpenSSL's locks, the set OpenSSH's
	 * sandbox allows; the priority-inheritance ones, with their history
	 * of kernel flaws, and the rest kill. */
	ALLOW_IF(futex, FUTEX_CMD(FUTEX_WAIT), "glibc locks and once"),
	ALLOW_IF(futex, FUTEX_CMD(FUTEX_WAIT_BITSET), "glibc locks, timed"),
	ALLOW_IF(futex, FUTEX_CMD(FUTEX_WAKE), "glibc locks and once"),
	ALLOW_IF(futex, FUTEX_CMD(FUTEX_WAKE_BITSET), "glibc locks"),
	ALLOW_IF(futex, FUTEX_CMD(FUTEX_REQUEUE), "glibc condition variables"),
	ALLOW_IF(futex, FUTEX_CMD(FUTEX_CMP_REQUEUE),
	    "glibc condition variables"),
	ALLOW(getrandom, "OpenSSL's DRBG and libssh's nonces"),
	ALLOW(clock_gettime, "timeouts (when the vDSO is not used)"),
	ALLOW(gettimeofday, "timeouts (when the vDSO is not used)"),
	ALLOW(getpid, "OpenSSL fork detection, libssh logs"),
	ALLOW(gettid, "glibc"),
	/* signals and the login grace timer */
	ALLOW(rt_sigreturn, "return from the SIGALRM handler"),
	ALLOW(restart_syscall, "the kernel resumes a poll() that a stop "
	    "(SIGSTOP, a cgroup freeze, a debugger attaching) interrupted"),
	ALLOW(rt_sigprocmask, "glibc blocks signals around critical code"),
	ALLOW(alarm, "login grace timer, cancelled after authentication"),
	ALLOW(setitimer, "alarm() on some architectures"),
	/* leaving */
	ALLOW(exit, "thread exit"),
	ALLOW(exit_group, "process exit"),
	/* Harmless probes, denied with an error rather than killing. */
	DENY(newfstatat, EACCES, "glibc stdio probes a stream"),
	DENY(fstat, EACCES, "glibc stdio probes a stream"),
	/* Every request fails without reaching a driver: FIOASYNC,
	 * FIOSETOWN and SIOCSPGRP (the ioctl way to O_ASYNC and F_SETOWN)
	 * included. */
	DENY(ioctl, ENOTTY, "glibc isatty() probes"),
	DENY(readlink, EACCES, "the sanitizer runtime names the binary in a report"),
#ifndef CSSHD_SANITIZE
	DENY(sigaltstack, EPERM, "the sanitizer runtime asks while reporting"),
#else
	/* ASan calls sigaltstack(NULL, &old) before every noreturn call,
	 * _exit() included, and aborts the process when it fails: a
	 * denial would turn every clean worker exit into status 1.  It only
	 * reads or sets this process's own signal stack. */
	ALLOW(sigaltstack, "ASan's no-return hook, sanitizer build only"),
	/* The sanitizer test build only: its runtime opens files with the
	 * raw open(2) while reporting; glibc (and the sandbox test) use
	 * openat(2), which stays fatal. */
	DENY(open, EACCES, "the sanitizer runtime, while reporting"),
#endif
};

#ifdef CSSHD_TEST_HOOKS
/* The monitor, as a target for the test hooks' signal attempts. */
static pid_t testhook_monitor;
#endif

static void
drop_identity(const struct ipc_init *in)
{
	gid_t gid = (gid_t)in->gid;
	uid_t uid = (uid_t)in->uid;

	if (in->flags & IPC_INIT_CHROOT) {
		if (chroot(in->chroot_dir) == -1 || chdir("/") == -1)
			fatal("chroot %s: %s", in->chroot_dir,
			    strerror(errno));
	}
	if (in->flags & IPC_INIT_SETUID)
		sandbox_drop_to(uid, gid);
}

static void
set_limits(void)
{
	static const struct sc_limit lim[] = {
#ifndef CSSHD_SANITIZE
		{ RLIMIT_FSIZE, 0, "FSIZE" },		/* no file writes */
#else
		/* The sanitizer test build: reports go to stderr, which
		 * may be the monitor's log file.  (No file can be opened.) */
#endif
		/* RLIMIT_NPROC=0 fails a root worker's own clone checks
		 * only; it is harmless when not root. */
		{ RLIMIT_NPROC, 0, "NPROC" },		/* no new processes */
		{ RLIMIT_CORE, 0, "CORE" },		/* no core dumps */
		{ RLIMIT_NOFILE, WORKER_MAX_FDS, "NOFILE" },
#ifndef CSSHD_SANITIZE
		/* Its memory: a worker that needs more is a worker under
		 * attack, and only its own connection ends. */
		{ RLIMIT_DATA, WORKER_MAX_DATA, "DATA" },
#else
		/* Not in the sanitizer test build: ASan's shadow memory is
		 * terabytes of private writable mappings, which RLIMIT_DATA
		 * counts, reserved before main(). */
#endif
	};
	sandbox_set_limits(lim, sizeof(lim) / sizeof(lim[0]));
}

static void
install_filter(void)
{
	sandbox_install_filter(rules, sizeof(rules) / sizeof(rules[0]));
}

void
sandbox_enter(const struct ipc_init *in)
{
#ifdef CSSHD_SANITIZE
	/* The ASan/UBSan test build: let the runtime read what it needs for
	 * a report (its memory map) while it still can. */
	__sanitizer_sandbox_on_notify(NULL);
#endif
	pid_t monitor = getppid();

#ifdef CSSHD_TEST_HOOKS
	testhook_monitor = monitor;
#endif
	drop_identity(in);
	/* A worker outlives no monitor: without it nothing audits, limits
	 * or drains its session.  Set after the uid change, which clears
	 * it; a monitor gone before that shows as a new parent. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal("PR_SET_PDEATHSIG: %s", strerror(errno));
	if (getppid() != monitor)
		fatal("the monitor is gone");
	set_limits();
	/* Nobody else of our uid may read our memory or attach. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("PR_SET_DUMPABLE: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	install_filter();
}

#ifdef CSSHD_TEST_HOOKS
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdlib.h>
/*
 * Test build only (connect-sshd-worker-test, never installed): a client
 * whose user name is "testhook-CLASS@..." makes the worker attempt one
 * forbidden system call after the sandbox is on, which the filter must
 * punish with death.  The integration tests run every class and check
 * that the monitor logs the kill.  Raw syscall(2), so that no libc
 * wrapper substitutes another call.  The argument classes aim at the IPC
 * socket (always descriptor 3) and at the monitor, as an attacker would;
 * without the filter each call would return, and the worker say so.
 */
static void
attempt(const char *class)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char *const argv[] = { "/bin/sh", NULL };
	struct f_owner_ex owner = { F_OWNER_PID, testhook_monitor };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	static uint32_t futex_word;
	static char page[8192] __attribute__((aligned(4096)));

	if (strcmp(class, "open") == 0)
		(void)syscall(SYS_openat, AT_FDCWD, "/tmp/csshd-escape",
		    O_CREAT | O_WRONLY, 0600);
	else if (strcmp(class, "socket") == 0)
		(void)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	else if (strcmp(class, "connect") == 0)
		(void)syscall(SYS_connect, 0, &sin, sizeof(sin));
	else if (strcmp(class, "bind") == 0)
		(void)syscall(SYS_bind, 0, &sin, sizeof(sin));
	else if (strcmp(class, "execve") == 0)
		(void)syscall(SYS_execve, argv[0], argv, NULL);
	else if (strcmp(class, "fork") == 0)
		(void)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	else if (strcmp(class, "ptrace") == 0)
		(void)syscall(SYS_ptrace, PTRACE_ATTACH, 1, 0, 0);
	else if (strcmp(class, "kill") == 0)
		(void)syscall(SYS_kill, 1, 0);
	else if (strcmp(class, "tgkill") == 0)
		(void)syscall(SYS_tgkill, testhook_monitor, testhook_monitor,
		    0);
	else if (strcmp(class, "setuid") == 0)
		(void)syscall(SYS_setuid, 0);
	else if (strcmp(class, "mount") == 0)
		(void)syscall(SYS_mount, "none", "/", "tmpfs", 0, NULL);
	else if (strcmp(class, "chroot") == 0)
		(void)syscall(SYS_chroot, "/");
	else if (strcmp(class, "prctl") == 0)
		(void)syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0);
	/* fcntl: the ways to have the kernel signal another process, and
	 * commands the worker never uses. */
	else if (strcmp(class, "fcntl-setown") == 0)
		(void)syscall(SYS_fcntl, IPC_WORKER_FD, F_SETOWN,
		    testhook_monitor);
	else if (strcmp(class, "fcntl-setown-ex") == 0)
		(void)syscall(SYS_fcntl, IPC_WORKER_FD, F_SETOWN_EX, &owner);
	else if (strcmp(class, "fcntl-setsig") == 0)
		(void)syscall(SYS_fcntl, IPC_WORKER_FD, F_SETSIG, SIGKILL);
	else if (strcmp(class, "fcntl-async") == 0)
		(void)syscall(SYS_fcntl, IPC_WORKER_FD, F_SETFL,
		    O_ASYNC | O_NONBLOCK);
	else if (strcmp(class, "fcntl-setlease") == 0)
		(void)syscall(SYS_fcntl, IPC_WORKER_FD, F_SETLEASE, F_RDLCK);
	else if (strcmp(class, "fcntl-notify") == 0)
		(void)syscall(SYS_fcntl, IPC_WORKER_FD, F_NOTIFY, DN_MODIFY);
	else if (strcmp(class, "fcntl-dupfd") == 0)
		(void)syscall(SYS_fcntl, IPC_WORKER_FD, F_DUPFD_CLOEXEC, 0);
	/* socket options the worker never uses */
	else if (strcmp(class, "setsockopt-other") == 0)
		(void)syscall(SYS_setsockopt, IPC_WORKER_FD, IPPROTO_TCP,
		    TCP_ULP, "tls", 4);
	else if (strcmp(class, "getsockopt-other") == 0)
		(void)syscall(SYS_getsockopt, IPC_WORKER_FD, SOL_SOCKET,
		    SO_PEERCRED, &cred, &len);
	/* memory: executable, or backed by a descriptor */
	else if (strcmp(class, "mmap-exec") == 0)
		(void)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else if (strcmp(class, "mprotect-exec") == 0)
		(void)syscall(SYS_mprotect, page, 4096, PROT_READ | PROT_EXEC);
	else if (strcmp(class, "mmap-fd") == 0)
		(void)syscall(SYS_mmap, NULL, 4096, PROT_READ, MAP_SHARED,
		    IPC_WORKER_FD, 0);
	/* futex: a priority-inheritance lock */
	else if (strcmp(class, "futex-pi") == 0)
		(void)syscall(SYS_futex, &futex_word, FUTEX_LOCK_PI_PRIVATE,
		    0, NULL, NULL, 0);
#ifdef CSSHD_SANITIZE
	else if (strcmp(class, "asan") == 0) {
		/* Not a syscall: a use after free, to show that a sanitizer
		 * report gets out of the sandbox into the monitor's log. */
		static char *volatile stale;

		stale = malloc(16);
		free(stale);
		error("sandbox test hook: read %d after free", stale[1]);
	}
#endif
	else
		return;
	/* Still alive: the filter let it through.  Say so and leave. */
	error("sandbox test hook: %s was not stopped", class);
	_exit(7);
}

void
testhook_user(const char *user)
{
	char class[32];
	const char *at;

	if (strncmp(user, "testhook-", 9) != 0 ||
	    (at = strchr(user, '@')) == NULL ||
	    (size_t)(at - user - 9) >= sizeof(class))
		return;
	memcpy(class, user + 9, (size_t)(at - user - 9));
	class[at - user - 9] = '\0';
	if (strcmp(class, "unbounded") == 0)
		testhook_unbounded = 1;
	else if (strcmp(class, "unanswered") == 0)
		testhook_unanswered = 1;
	else
		attempt(class);
}
#endif
