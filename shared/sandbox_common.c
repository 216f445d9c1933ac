/*
 * sandbox_common.c - the loops the worker's and the lookup process's
 * sandboxes share (sandbox_common.h).
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox_common.h"

void
sandbox_drop_to(uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("drop to uid %u: %s", (unsigned)uid, strerror(errno));
	/* Make sure the drop cannot be undone. */
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatal("regained root after dropping privileges");
}

void
sandbox_set_limits(const struct sc_limit *lim, size_t n)
{
	struct rlimit rl;
	size_t i;

	for (i = 0; i < n; i++) {
		rl.rlim_cur = rl.rlim_max = lim[i].val;
		if (setrlimit(lim[i].res, &rl) == -1)
			fatal("setrlimit %s: %s", lim[i].name, strerror(errno));
	}
}

void
sandbox_install_filter(const struct sc_rule *rules, size_t n)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatal("seccomp_init failed");
	for (i = 0; i < n; i++) {
		if (rules[i].nr < 0)
			continue;	/* not on this architecture */
		rc = seccomp_rule_add_array(ctx, rules[i].errno_ret ?
		    SCMP_ACT_ERRNO((uint32_t)rules[i].errno_ret) :
		    SCMP_ACT_ALLOW, rules[i].nr, rules[i].nargs, rules[i].arg);
		if (rc != 0)
			fatal("seccomp rule %zu (%s): %s", i, rules[i].why,
			    strerror(-rc));
	}
	if ((rc = seccomp_load(ctx)) != 0)
		fatal("seccomp_load: %s", strerror(-rc));
	seccomp_release(ctx);
}
