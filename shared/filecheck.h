/*
 * filecheck.h - open a file the daemon trusts (the configuration, a
 * keys_file, registry.password_file, the gateway key) only if nobody but
 * root and the running user can have written it, as OpenSSH's StrictModes
 * (misc.c, safe_path) demands of authorized_keys:
 *
 *  - the file is a regular file owned by root or the effective uid, and
 *    neither group- nor world-writable (FILECHECK_PRIVATE: not accessible
 *    by group or others at all, for the private key);
 *  - every directory from the file up to / is owned by root or the
 *    effective uid and not group- or world-writable, both along the path
 *    as given and along the path it resolves to.  One difference from
 *    OpenSSH: a directory owned by root with the sticky bit (/tmp,
 *    /dev/shm, Kubernetes' Secret and ConfigMap volumes, all 1777) is
 *    accepted, since nobody else can rename or remove the entries in it
 *    that are not theirs, and those entries are themselves checked;
 *  - a symbolic link on the way must be owned by root or the effective uid
 *    (in a sticky directory anyone may add one); the file is opened by its
 *    resolved name with O_NOFOLLOW, never by following a link at open time.
 *
 * The error says what is wrong and the fix; it names the directory or
 * link at fault, not the file itself, which the caller names first:
 * "mode 0666 is group/world-writable; chmod go-w /etc/x/key",
 * "directory /etc/x: mode 0777 is group/world-writable; chmod go-w /etc/x".
 */
#ifndef CSSHD_FILECHECK_H
#define CSSHD_FILECHECK_H

#include <stddef.h>

#define FILECHECK_PRIVATE	0x1	/* no group/other access at all */

#define FILECHECK_ERR		(2 * 4096 + 160)	/* room for err */

/* Open path read-only (O_CLOEXEC) after the checks above: the descriptor;
 * -1 if the system says no (errno set, err empty: the file is missing,
 * ...); -2 if the file is unsafe (err set). */
int filecheck_open(const char *path, int flags, char *err, size_t errsz);

#endif
