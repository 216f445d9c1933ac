/*
 * main.c - connect-sshd-worker: serves one client connection, sandboxed.
 *
 * Started by the monitor with fork+exec, with its IPC socket on fd 3.  The
 * start-up is one straight line, each step fatal: fixed descriptors,
 * settings from the monitor, everything that needs the file system
 * (libssh, OpenSSL, the provider), the sandbox, then "ready".  Only after
 * that does the worker receive a client socket and read network data.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "worker.h"

volatile sig_atomic_t worker_stopping;

#ifdef CSSHD_SANITIZE
/*
 * The ASan/UBSan test build (make SANITIZE=1) only.  Reports go to stderr,
 * which the monitor of that build passes through to its own.  Inside the
 * sandbox the runtime cannot run its leak checker (ptrace), a symbolizer
 * (execve) or read /proc, so those are off; a SIGSEGV is left to the
 * kernel so that tests see the same deaths as with the normal build.
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0:handle_segv=0:handle_abort=0:symbolize=0";
}

const char *__ubsan_default_options(void);
const char *
__ubsan_default_options(void)
{
	return "print_stacktrace=0:symbolize=0";
}
#endif

/* The monitor's "stop now" at the end of a drain: the loops notice the
 * flag (poll returns EINTR) and say goodbye to the client. */
static void
on_sigterm(int sig)
{
	(void)sig;
	worker_stopping = 1;
}

static void
fixed_fds(void)
{
	int fl;

	/* The IPC socket must be there, and nothing else may leak in. */
	if ((fl = fcntl(IPC_WORKER_FD, F_GETFD)) == -1)
		_exit(3);
	(void)fcntl(IPC_WORKER_FD, F_SETFD, fl | FD_CLOEXEC);
	closefrom(IPC_WORKER_FD + 1);
}

int
main(int argc, char **argv)
{
	static struct wsettings ws;
	struct ipc_client cl;
	int fd, rc;

	(void)argc;
	(void)argv;
	fixed_fds();
#ifdef CSSHD_TEST_HOOKS
	/* Test build: freed memory is overwritten at once, so that a use
	 * after free -- by our code or by libssh through a pointer we gave
	 * it -- fails every time instead of when the allocator happens to
	 * reuse the block (the relay's multi-channel crash was such a case). */
	(void)mallopt(M_PERTURB, 0xa5);
#endif
	/* libssh writes with send(); a vanished peer must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigterm;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		if (sigaction(SIGTERM, &sa, NULL) == -1)
			_exit(3);
	}
	mm_set_socket(IPC_WORKER_FD);
	log_init("connect-sshd-worker", LOG_LVL_INFO, LOG_FMT_TEXT);
	log_set_sink(mm_log_sink);
	if (mm_recv_init(&ws) != 0)
		fatal("bad start-up settings from the monitor");
	log_set_level((enum log_level)ws.init.log_level);
	if (session_prepare(&ws) != 0)
		fatal("libssh/OpenSSL set-up failed");
	sandbox_enter(&ws.init);
	mm_ready();
	if (mm_recv_client(&cl, &fd) != 0)
		fatal("bad client hand-over from the monitor");
	debug("serving %s", cl.peer);
	rc = session_serve(fd, &cl);
	/* _exit: no atexit handlers run under the sandbox. */
	_exit(rc == 0 ? 0 : 1);
}
