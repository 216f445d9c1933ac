/*
 * sandbox.c - the worker drops everything it can before it reads a byte
 * from the network.
 *
 * One straight line, each step fatal on failure: chroot into an empty
 * directory and drop to workers.user (when started as root), tight
 * rlimits, no_new_privs, then a seccomp filter whose default action kills
 * the process.  The allowlist below is flat, in one place, with the reason
 * for each entry; libseccomp adds the architecture check first and kills
 * on a foreign architecture.
 */
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
#include "worker.h"

#ifdef CSSHD_SANITIZE
#include <sanitizer/common_interface_defs.h>
#endif

/* Descriptors a worker can hold at once: stdio, IPC, client, Studio,
 * agent, and room for SCM_RIGHTS reception. */
#define WORKER_MAX_FDS	16

struct sc_rule {
	int nr;
	int errno_ret;		/* 0: allow; else fail with this errno */
	const char *why;
};

#define ALLOW(name, why)	{ SCMP_SYS(name), 0, why }
#define DENY(name, err, why)	{ SCMP_SYS(name), err, why }

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
	ALLOW(fcntl, "libssh toggles O_NONBLOCK on its sockets"),
	ALLOW(shutdown, "libssh shuts down a socket on disconnect"),
	ALLOW(getsockopt, "libssh checks socket errors"),
	ALLOW(setsockopt, "libssh sets TCP_NODELAY"),
	ALLOW(getpeername, "libssh looks up the peer for its logs"),
	ALLOW(getsockname, "libssh looks up the local address"),
	/* memory */
	ALLOW(brk, "malloc"),
	ALLOW(munmap, "free of large blocks"),
	ALLOW(mremap, "realloc of large blocks"),
	ALLOW(madvise, "malloc trims freed memory"),
	/* mmap and mprotect are allowed only without PROT_EXEC: below */
	/* threads' and OpenSSL's locks, time, randomness */
	ALLOW(futex, "glibc and OpenSSL locks"),
	ALLOW(getrandom, "OpenSSL's DRBG and libssh's nonces"),
	ALLOW(clock_gettime, "timeouts (when the vDSO is not used)"),
	ALLOW(gettimeofday, "timeouts (when the vDSO is not used)"),
	ALLOW(getpid, "OpenSSL fork detection, libssh logs"),
	ALLOW(gettid, "glibc"),
	/* signals and the login grace timer */
	ALLOW(rt_sigreturn, "return from the SIGALRM handler"),
	ALLOW(rt_sigprocmask, "glibc blocks signals around critical code"),
	ALLOW(alarm, "login grace timer, cancelled after authentication"),
	ALLOW(setitimer, "alarm() on some architectures"),
	/* leaving */
	ALLOW(exit, "thread exit"),
	ALLOW(exit_group, "process exit"),
	/* Harmless probes, denied with an error rather than killing. */
	DENY(newfstatat, EACCES, "glibc stdio probes a stream"),
	DENY(fstat, EACCES, "glibc stdio probes a stream"),
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
	if (in->flags & IPC_INIT_SETUID) {
		if (setgroups(1, &gid) == -1 ||
		    setresgid(gid, gid, gid) == -1 ||
		    setresuid(uid, uid, uid) == -1)
			fatal("drop to uid %u: %s", uid, strerror(errno));
		/* Make sure the drop cannot be undone. */
		if (setuid(0) != -1 || seteuid(0) != -1)
			fatal("regained root after dropping privileges");
	}
}

static void
set_limits(void)
{
	static const struct {
		int res;
		rlim_t val;
		const char *name;
	} lim[] = {
#ifndef CSSHD_SANITIZE
		{ RLIMIT_FSIZE, 0, "FSIZE" },		/* no file writes */
#else
		/* The sanitizer test build: reports go to stderr, which
		 * may be the monitor's log file.  (No file can be opened.) */
#endif
		{ RLIMIT_NPROC, 0, "NPROC" },		/* no new processes */
		{ RLIMIT_CORE, 0, "CORE" },		/* no core dumps */
		{ RLIMIT_NOFILE, WORKER_MAX_FDS, "NOFILE" },
	};
	struct rlimit rl;
	size_t i;

	for (i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		rl.rlim_cur = rl.rlim_max = lim[i].val;
		/* RLIMIT_NPROC=0 would fail a root worker's own clone
		 * checks only; it is harmless when not root. */
		if (setrlimit(lim[i].res, &rl) == -1)
			fatal("setrlimit %s: %s", lim[i].name, strerror(errno));
	}
}

static void
install_filter(void)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatal("seccomp_init failed");
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if (rules[i].nr < 0)
			continue;	/* not on this architecture */
		rc = seccomp_rule_add(ctx, rules[i].errno_ret ?
		    SCMP_ACT_ERRNO((uint32_t)rules[i].errno_ret) :
		    SCMP_ACT_ALLOW, rules[i].nr, 0);
		if (rc != 0)
			fatal("seccomp rule %zu (%s): %s", i, rules[i].why,
			    strerror(-rc));
	}
	/* Memory maps, never executable: a worker has no business making
	 * new code. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) != 0)
		fatal("seccomp mmap rules failed");
	if ((rc = seccomp_load(ctx)) != 0)
		fatal("seccomp_load: %s", strerror(-rc));
	seccomp_release(ctx);
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
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
/*
 * Test build only (connect-sshd-worker-test, never installed): a client
 * whose user name is "testhook-CLASS@..." makes the worker attempt one
 * forbidden system call after the sandbox is on, which the filter must
 * punish with death.  The integration tests run every class and check
 * that the monitor logs the kill.  Raw syscall(2), so that no libc
 * wrapper substitutes another call.
 */
static void
attempt(const char *class)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char *const argv[] = { "/bin/sh", NULL };

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
	else if (strcmp(class, "setuid") == 0)
		(void)syscall(SYS_setuid, 0);
	else if (strcmp(class, "mount") == 0)
		(void)syscall(SYS_mount, "none", "/", "tmpfs", 0, NULL);
	else if (strcmp(class, "chroot") == 0)
		(void)syscall(SYS_chroot, "/");
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
	attempt(class);
}
#endif
