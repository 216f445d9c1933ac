/*
 * lookup.h - connect-sshd-lookup, the registry client process (lookup.c).
 */
#ifndef CSSHD_LOOKUP_H
#define CSSHD_LOOKUP_H

#include "ipc.h"

/* Drop to the lookup's user, rlimits, no_new_privs, then the seccomp
 * allowlist of lookup_sandbox.c; each step fatal. */
void lookup_sandbox_enter(const struct ipc_lookup_init *in);

#endif
