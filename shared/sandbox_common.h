/*
 * sandbox_common.h - what the worker's and the lookup process's sandboxes
 * share: the form of a seccomp rule and of an rlimit, and the two loops
 * that apply them (sandbox_common.c).  Each process keeps its own
 * static const tables, one comment a rule, in its own sandbox file.
 */
#ifndef CSSHD_SANDBOX_COMMON_H
#define CSSHD_SANDBOX_COMMON_H

#include <sys/resource.h>

#include <stddef.h>

#include <seccomp.h>

struct sc_rule {
	int nr;			/* < 0: not on this architecture */
	int errno_ret;		/* 0: allow; else fail with this errno */
	unsigned int nargs;	/* argument checks, all of which must hold */
	struct scmp_arg_cmp arg[2];
	const char *why;
};

#define ALLOW(name, why)	{ SCMP_SYS(name), 0, 0, { { 0 } }, why }
#define DENY(name, err, why)	{ SCMP_SYS(name), err, 0, { { 0 } }, why }
/* Allowed (or denied) only when one or two argument checks hold; the same
 * call may have several such entries, any one of which applies. */
#define ALLOW_IF(name, a, why)	{ SCMP_SYS(name), 0, 1, { a }, why }
#define ALLOW_IF2(name, a, b, why) { SCMP_SYS(name), 0, 2, { a, b }, why }
#define DENY_IF(name, err, a, why) { SCMP_SYS(name), err, 1, { a }, why }
/* Argument n equals v; (argument n & m) equals v.  All 64 bits are
 * compared: a value with stray high bits is refused, never let through. */
#define ARG_EQ(n, v)		{ (n), SCMP_CMP_EQ, (scmp_datum_t)(v), 0 }
#define ARG_MASKED(n, m, v)	{ (n), SCMP_CMP_MASKED_EQ, \
				  (scmp_datum_t)(m), (scmp_datum_t)(v) }

struct sc_limit {
	int res;
	rlim_t val;		/* soft and hard */
	const char *name;
};

/* Groups, group and user ids all to gid and uid, and root not regained;
 * fatal on failure. */
void sandbox_drop_to(uid_t uid, gid_t gid);
/* Each limit set, soft and hard; fatal on failure. */
void sandbox_set_limits(const struct sc_limit *lim, size_t n);
/* The rules loaded with kill-process as the default; fatal on failure. */
void sandbox_install_filter(const struct sc_rule *rules, size_t n);

#endif
