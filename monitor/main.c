/*
 * main.c - connect-sshd: command line, start-up checks, then the monitor.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "monitor.h"
#include "policy.h"
#include "sshwire.h"

extern char **environ;

static void
usage(void)
{
	fprintf(stderr, "usage: connect-sshd [-dFTtV] [-f config_file] "
	    "[-S session]\n");
	exit(1);
}

static struct config *
load_config(const char *path)
{
	struct config_errors errs;
	struct config *cfg;
	size_t i;

	memset(&errs, 0, sizeof(errs));
	cfg = config_load(path, environ, CSSHD_WORKER_PATH, &errs);
	if (cfg == NULL) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		if (errs.dropped)
			fprintf(stderr, "%s: %zu more errors not shown\n",
			    path, errs.dropped);
		config_errors_free(&errs);
	}
	return cfg;
}

/* A user that exists and is not root, for setting (named in errors). */
static struct passwd *
unprivileged_user(const struct monitor *m, const char *setting,
    const char *name)
{
	struct passwd *pw;

	if ((pw = getpwnam(name)) == NULL) {
		error("%s: %s \"%s\" does not exist: create it or set %s",
		    m->cfg->path, setting, name, setting);
		return NULL;
	}
	if (pw->pw_uid == 0) {
		error("%s: %s \"%s\" is root: choose an unprivileged user",
		    m->cfg->path, setting, name);
		return NULL;
	}
	return pw;
}

/*
 * Who the workers run as.  As root: chroot into workers.chroot (which must
 * be a root-owned directory nobody else can write, as OpenSSH demands of
 * its privsep directory) and setuid to workers.user; the lookup
 * process setuids to workers.lookup_user, by default the same.  Otherwise
 * both keep our uid and rely on seccomp alone.
 */
static int
worker_identity(struct monitor *m)
{
	const struct cfg_workers *wc = &m->cfg->workers;
	struct passwd *pw;
	struct stat st;

	if (geteuid() != 0) {
		logit("not running as root: workers are sandboxed by seccomp "
		    "and rlimits, without chroot or a separate user");
		return 0;
	}
	/* The lookup process's user first: pw is then the workers'. */
	if ((pw = wc->lookup_user != NULL ?
	    unprivileged_user(m, "workers.lookup_user", wc->lookup_user) :
	    unprivileged_user(m, "workers.user", wc->user)) == NULL)
		return -1;
	m->lookup_uid = pw->pw_uid;
	m->lookup_gid = pw->pw_gid;
	if ((pw = unprivileged_user(m, "workers.user", wc->user)) == NULL)
		return -1;
	if (stat(wc->chroot, &st) == -1 || !S_ISDIR(st.st_mode)) {
		error("%s: workers.chroot %s is not a directory: create it "
		    "(mkdir -m 755 %s)", m->cfg->path, wc->chroot, wc->chroot);
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		error("%s: workers.chroot %s must be owned by root and not "
		    "writable by group or others", m->cfg->path, wc->chroot);
		return -1;
	}
	m->worker_uid = pw->pw_uid;
	m->worker_gid = pw->pw_gid;
	m->init_flags = IPC_INIT_CHROOT | IPC_INIT_SETUID;
	return 0;
}

/*
 * -S session: what a Studio needs to accept the gateway's certificates
 * for that session (upstream_auth "certificate"), from the loaded key: the
 * authorized_keys line, and the sshd_config settings as comments, so that
 * the whole output may be appended to authorized_keys.
 */
static int
print_studio_setup(const struct monitor *m, const char *session)
{
	const uint8_t *blob;
	size_t bloblen;
	char b64[256];

	if (policy_valid_session(session) != 0) {
		fprintf(stderr, "connect-sshd: -S \"%s\": not a session id "
		    "([A-Za-z0-9_-])\n", session);
		return -1;
	}
	blob = hostkey_blob(m->key, &bloblen);
	if (b64_encode(blob, bloblen, b64, sizeof(b64)) == 0)
		return -1;
	printf("# Studio session %s: the gateway key %s as a certificate\n"
	    "# authority for this session only (upstream_auth "
	    "\"certificate\").\n"
	    "# Append to the authorized_keys of the Studio's login user:\n",
	    session, hostkey_fingerprint(m->key));
	printf("cert-authority,principals=\"%s\" ssh-ed25519 %s%s%s\n",
	    session, b64, hostkey_comment(m->key)[0] ? " " : "",
	    hostkey_comment(m->key));
	printf("# sshd_config on the Studio (OpenSSH 8.2 or later; these are "
	    "its defaults\n"
	    "# except LogLevel, which makes sshd log each certificate's key "
	    "id and serial):\n"
	    "#   PubkeyAuthentication yes\n"
	    "#   PubkeyAcceptedAlgorithms "
	    "+ssh-ed25519-cert-v01@openssh.com\n"
	    "#   CASignatureAlgorithms +ssh-ed25519\n"
	    "#   LogLevel VERBOSE\n");
	return 0;
}

static int
check_worker_program(const struct config *cfg)
{
	char path[IPC_MAX_PATH + 32];

	if (access(cfg->workers.program, X_OK) != 0) {
		error("%s: worker program %s: %s (install connect-sshd-worker "
		    "or set workers.program)", cfg->path, cfg->workers.program,
		    strerror(errno));
		return -1;
	}
	if (cfg->registry.backend != CFG_REGISTRY_REDIS)
		return 0;
	if (lookup_path(cfg, path, sizeof(path)) != 0)
		errno = ENAMETOOLONG;
	else if (access(path, X_OK) == 0)
		return 0;
	error("%s: the Redis registry needs connect-sshd-lookup beside "
	    "workers.program (%s): %s", cfg->path, cfg->workers.program,
	    strerror(errno));
	return -1;
}

/*
 * Keep no descriptor inherited from whoever started the monitor (a
 * shell's, a supervisor's): the key holder runs with what it opened
 * itself.  Its children close theirs too (worker/main.c, policy/
 * lookup.c), but the monitor kept them for its whole life.  0-2 stay,
 * opened on /dev/null if missing, so that no socket or key file the
 * monitor opens later becomes someone's standard output.
 */
static void
sanitise_fds(void)
{
	int fd;

	for (fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF &&
		    open("/dev/null", O_RDWR) != fd)
			_exit(1);
	closefrom(STDERR_FILENO + 1);
}

int
main(int argc, char **argv)
{
	const char *path = CSSHD_CONFIG_PATH;
	int opt, test = 0, dump = 0, fingerprint = 0, debug_mode = 0, rc = 0;
	const char *setup = NULL;
	struct monitor m;
	char err[512];

	sanitise_fds();
	while ((opt = getopt(argc, argv, "dFf:S:TtV")) != -1) {
		switch (opt) {
		case 'd':
			debug_mode = 1;
			break;
		case 'F':
			fingerprint = 1;
			break;
		case 'f':
			path = optarg;
			break;
		case 'S':
			setup = optarg;
			break;
		case 'T':
			dump = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("connect-sshd %s\n", CSSHD_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	memset(&m, 0, sizeof(m));
	m.default_worker = CSSHD_WORKER_PATH;
	/* This replica's name in the counts replicas share in Redis. */
	snprintf(m.instance, sizeof(m.instance), "%08x%08x", arc4random(),
	    arc4random());
	if ((m.cfg = load_config(path)) == NULL)
		return 1;
	if (dump) {
		config_dump(m.cfg, stdout);
		goto out;
	}
	log_init("connect-sshd", debug_mode ? LOG_LVL_DEBUG :
	    (enum log_level)m.cfg->log.level, (enum log_format)m.cfg->log.format);
	m.debug = debug_mode;
	if (setup != NULL)
		fingerprint = 1;	/* like -F: needs the key only */
	if (!m.cfg->enabled && !test && !fingerprint) {
		/* Off means off: no key, listener or worker is needed. */
		warnx_("SSH access is disabled (enabled = false or "
		    "CONNECT_SSH_ENABLED=false in %s): exiting", path);
		goto out;
	}
	m.key = hostkey_load(m.cfg->key_path, m.cfg->key_fingerprint, err,
	    sizeof(err));
	if (m.key == NULL) {
		fprintf(stderr, "connect-sshd: %s\n", err);
		rc = 1;
		goto out;
	}
	if (test)
		goto out;	/* the configuration and the key are good */
	if (setup != NULL) {
		rc = print_studio_setup(&m, setup) == 0 ? 0 : 1;
		goto out;
	}
	if (fingerprint) {
		printf("256 %s %s (ED25519)\n", hostkey_fingerprint(m.key),
		    hostkey_comment(m.key)[0] ? hostkey_comment(m.key) :
		    "no comment");
		goto out;
	}
	if (check_worker_program(m.cfg) != 0 || worker_identity(&m) != 0) {
		rc = 1;
		goto out;
	}
	monitor_log_backend(&m);
	if (monitor_set_backend(&m, m.cfg) != 0)
		fatal("out of memory");
	if (monitor_run(&m) != 0)
		rc = 1;
 out:
	monitor_free_backend(&m);
	/* Freed on every exit, so a leak checker sees only real leaks. */
	if (m.key != NULL)
		hostkey_free(m.key);
	config_free(m.cfg);
	return rc;
}
