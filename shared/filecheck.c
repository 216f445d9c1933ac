/*
 * filecheck.c - StrictModes for the files the daemon trusts (filecheck.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filecheck.h"

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static int
owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static const char *
fix_owner(void)
{
	static char who[32];

	if (geteuid() == 0)
		return "root";
	snprintf(who, sizeof(who), "%u", (unsigned)geteuid());
	return who;
}

static int
bad_owner(const char *what, const char *path, uid_t uid, char *err,
    size_t errsz)
{
	seterr(err, errsz, "%s%s%sowned by uid %u, not by root or the "
	    "running user (uid %u); chown %s%s %s", what,
	    what[0] != '\0' ? path : "", what[0] != '\0' ? ": " : "",
	    (unsigned)uid, (unsigned)geteuid(),
	    strcmp(what, "symbolic link ") == 0 ? "-h " : "", fix_owner(),
	    path);
	return -1;
}

/* A directory on the way to a trusted file. */
static int
check_dir(const char *dir, char *err, size_t errsz)
{
	struct stat st;

	if (stat(dir, &st) == -1) {
		seterr(err, errsz, "directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		seterr(err, errsz, "%s: not a directory", dir);
		return -1;
	}
	if (!owner_ok(st.st_uid))
		return bad_owner("directory ", dir, st.st_uid, err, errsz);
	/* Root's sticky directories (/tmp, Kubernetes volumes): nobody
	 * else can replace what is in them (filecheck.h). */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    !(st.st_uid == 0 && (st.st_mode & S_ISVTX) != 0)) {
		seterr(err, errsz, "directory %s: mode %04o is group/world-"
		    "writable; chmod go-w %s", dir,
		    (unsigned)(st.st_mode & 07777), dir);
		return -1;
	}
	return 0;
}

/* Every directory above p (absolute), up to and including "/". */
static int
check_parents(const char *p, char *err, size_t errsz)
{
	char dir[PATH_MAX], *slash;

	if (strlen(p) >= sizeof(dir)) {
		seterr(err, errsz, "path too long");
		return -1;
	}
	strcpy(dir, p);
	for (;;) {
		if ((slash = strrchr(dir, '/')) == NULL)
			return 0;
		if (slash == dir) {
			dir[1] = '\0';
			return check_dir(dir, err, errsz);
		}
		*slash = '\0';
		if (check_dir(dir, err, errsz) != 0)
			return -1;
	}
}

/* The path as given: each directory on it, and the owner of each symbolic
 * link on it.  Stops quietly where it cannot go on: realpath() and open()
 * then say why. */
static int
check_given(const char *abs, char *err, size_t errsz)
{
	char p[PATH_MAX];
	struct stat st;
	size_t i, n = strlen(abs);

	if (n >= sizeof(p)) {
		seterr(err, errsz, "path too long");
		return -1;
	}
	if (check_dir("/", err, errsz) != 0)
		return -1;
	for (i = 1; i <= n; i++) {
		if (i < n && abs[i] != '/')
			continue;
		if (abs[i - 1] == '/')
			continue;	/* "//" */
		memcpy(p, abs, i);
		p[i] = '\0';
		if (lstat(p, &st) == -1)
			return 0;
		if (S_ISLNK(st.st_mode)) {
			if (!owner_ok(st.st_uid))
				return bad_owner("symbolic link ", p, st.st_uid,
				    err, errsz);
			if (i == n)
				break;
			if (check_dir(p, err, errsz) != 0)
				return -1;
		} else if (i < n && check_dir(p, err, errsz) != 0)
			return -1;
	}
	return 0;
}

int
filecheck_open(const char *path, int flags, char *err, size_t errsz)
{
	char abs[PATH_MAX], real[PATH_MAX];
	struct stat st;
	int fd, e;

	err[0] = '\0';
	if (path[0] == '/') {
		if (strlen(path) >= sizeof(abs)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		strcpy(abs, path);
	} else {
		if (getcwd(abs, sizeof(abs)) == NULL)
			return -1;
		if (strlen(abs) + 1 + strlen(path) >= sizeof(abs)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		strcat(abs, strcmp(abs, "/") == 0 ? "" : "/");
		strcat(abs, path);
	}
	if (check_given(abs, err, errsz) != 0)
		goto unsafe;
	if (realpath(abs, real) == NULL)
		return -1;
	if (check_parents(real, err, errsz) != 0)
		goto unsafe;
	/* The resolved name, without following a link a second time. */
	if ((fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
	    O_NONBLOCK)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode))
		seterr(err, errsz, "not a regular file");
	else if (!owner_ok(st.st_uid))
		bad_owner("", path, st.st_uid, err, errsz);
	else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		seterr(err, errsz, "mode %04o is group/world-writable; "
		    "chmod go-w %s", (unsigned)(st.st_mode & 07777), path);
	else if ((flags & FILECHECK_PRIVATE) != 0 &&
	    (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		seterr(err, errsz, "mode %04o lets group or others read "
		    "the private key; chmod 600 %s",
		    (unsigned)(st.st_mode & 07777), path);
	if (err[0] != '\0') {
		close(fd);
		goto unsafe;
	}
	if (fcntl(fd, F_SETFL, 0) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
 unsafe:
	errno = EPERM;
	return -2;
}
