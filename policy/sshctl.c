/*
 * sshctl.c - connect-sshctl(8): edit the Redis registry the gateways read.
 *
 * Every value is checked with the same functions the daemon uses on what
 * it reads back (policy_valid_*, config_parse_hostport, authkey_parse_line,
 * config_valid_fingerprint), so what this tool writes is what the daemon
 * accepts.  Key names come from registry.h, the one description of the
 * schema.  A studio is written in one MULTI/EXEC, so a gateway never sees
 * half of it.  What it prints from Redis or an argument is escaped
 * (put_safe), so that no value can drive the admin's terminal.
 */
#include <sys/time.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "authkeys.h"
#include "config.h"
#include "log.h"
#include "policy.h"
#include "registry.h"

#define CTL_LINE_MAX	8192	/* an authorized_keys line on stdin */
#define CTL_MAX_USERS	128	/* as the daemon's studio users */
#define CTL_MAX_KEYS	1024	/* keys per "key add -" */

extern char **environ;

static const char *progname = "connect-sshctl";
static const char *prefix;
static redisContext *rc;
/* limits.rsa_min_bits of the configuration: keys under it are refused
 * here as the daemon would. */
static unsigned rsa_min_bits;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
    noreturn));

/*
 * Print len bytes of s (NUL-terminated after them, as hiredis's strings
 * and C strings are) for a terminal: a value in Redis may hold anything,
 * and no escape sequence may reach the admin's terminal.  Well-formed UTF-8
 * is printed as it is, but for the controls: C0, DEL and C1 (U+0080 to
 * U+009F) are written \xHH a byte, and so is every byte that is part of
 * no well-formed UTF-8 character, a NUL included; a backslash is written
 * \\, so that what is printed is never ambiguous.
 */
static void
put_safe(FILE *f, const char *s, size_t len)
{
	const unsigned char *u;
	size_t i, j, n;

	for (i = 0; i < len; i += n) {
		u = (const unsigned char *)s + i;
		n = utf8_char_len(s + i);
		if (n == 0 || (n == 1 && (u[0] < 0x20 || u[0] == 0x7f)) ||
		    (n == 2 && u[0] == 0xc2 && u[1] < 0xa0)) {
			if (n == 0)
				n = 1;
			for (j = 0; j < n; j++)
				fprintf(f, "\\x%02x", u[j]);
		} else if (u[0] == '\\')
			fputs("\\\\", f);
		else
			fwrite(u, 1, n, f);
	}
}

static void
put_str(FILE *f, const char *s)
{
	put_safe(f, s, strlen(s));
}

/* A string reply, escaped. */
static void
put_reply(FILE *f, const redisReply *r)
{
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
	    r->type == REDIS_REPLY_ERROR)
		put_safe(f, r->str, r->len);
}

/* Its messages quote arguments and Redis's errors: escaped too. */
static void
die(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: ", progname);
	put_str(stderr, msg);
	fputc('\n', stderr);
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: %s [-f config] command [argument ...]\n"
	    "  studio add SESSION WORKSPACE HOST:PORT [upstream_user=USER]\n"
	    "      [host_key_fingerprint=SHA256:...] [users=USER,...]\n"
	    "      [upstream_auth=certificate|key]\n"
	    "  studio remove SESSION | studio show SESSION | studio list\n"
	    "  workspace allow ID | workspace disallow ID | workspace list\n"
	    "  member add ID USER | member remove ID USER | member list ID\n"
	    "  key add USER 'TYPE BASE64 [COMMENT]' | key add USER -\n"
	    "  key remove USER SHA256:... | key list USER\n"
	    "  ca add 'TYPE BASE64 [COMMENT]' | ca add - | ca remove SHA256:...\n"
	    "  ca list\n", progname);
	exit(2);
}

/* --- Redis ------------------------------------------------------------- */

static void
open_registry(const char *path)
{
	struct config_errors errs;
	struct config *cfg;
	struct timeval tv;
	redisReply *rep;
	size_t i;

	if ((cfg = config_load_registry(path, environ, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++) {
			fprintf(stderr, "%s: ", progname);
			put_str(stderr, errs.msg[i]);
			fputc('\n', stderr);
		}
		exit(1);
	}
	tv.tv_sec = cfg->registry.timeout_ms / 1000;
	tv.tv_usec = (cfg->registry.timeout_ms % 1000) * 1000;
	rc = redisConnectWithTimeout(cfg->registry.host,
	    atoi(cfg->registry.port), tv);
	if (rc == NULL || rc->err)
		die("Redis at %s:%s: %s", cfg->registry.host,
		    cfg->registry.port, rc != NULL ? rc->errstr : "no memory");
	redisSetTimeout(rc, tv);
	rep = NULL;
	if (cfg->registry.password != NULL)
		rep = cfg->registry.user != NULL ?
		    redisCommand(rc, "AUTH %s %s", cfg->registry.user,
		    cfg->registry.password) :
		    redisCommand(rc, "AUTH %s", cfg->registry.password);
	if (cfg->registry.password != NULL &&
	    (rep == NULL || rep->type == REDIS_REPLY_ERROR))
		die("Redis at %s:%s refused the login: %s", cfg->registry.host,
		    cfg->registry.port, rep != NULL ? rep->str : rc->errstr);
	freeReplyObject(rep);
	rep = redisCommand(rc, "SELECT %d", cfg->registry.db);
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
		die("Redis: SELECT %d: %s", cfg->registry.db,
		    rep != NULL ? rep->str : rc->errstr);
	freeReplyObject(rep);
	if ((prefix = strdup(cfg->registry.prefix)) == NULL)
		die("out of memory");
	rsa_min_bits = (unsigned)cfg->limits.rsa_min_bits;
	config_free(cfg);
}

/* A command whose failure ends the program; the reply is the caller's. */
static redisReply *
must(redisReply *rep)
{
	if (rep == NULL)
		die("Redis: %s", rc->errstr);
	if (rep->type == REDIS_REPLY_ERROR)
		die("Redis: %s", rep->str);
	return rep;
}

static void
done(redisReply *rep)
{
	freeReplyObject(must(rep));
}

/* Print the members of a set, or the keys found by SCAN, one a line. */
static void
print_strings(const redisReply *rep)
{
	size_t i;

	for (i = 0; i < rep->elements; i++)
		if (rep->element[i]->type == REDIS_REPLY_STRING) {
			put_reply(stdout, rep->element[i]);
			putchar('\n');
		}
}

/* --- checked values ----------------------------------------------------- */

static long long
arg_workspace(const char *s)
{
	long long v;
	char *end;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0)
		die("\"%s\" is not a workspace id: use a number from 0", s);
	return v;
}

static const char *
arg_user(const char *s)
{
	if (policy_valid_user(s) != 0)
		die("\"%s\" is not a valid user name: use 1 to 64 of A-Z a-z "
		    "0-9 . _ + @ -, not starting with - or @", s);
	return s;
}

static const char *
arg_session(const char *s)
{
	if (policy_valid_session(s) != 0)
		die("\"%s\" is not a valid session id: use 1 to 64 of A-Z a-z "
		    "0-9 _ -", s);
	return s;
}

static void
key_or_die(int rcode)
{
	if (rcode != 0)
		die("key name too long");
}

/* --- studio -------------------------------------------------------------- */

/* "alice,bob" or "alice bob" into "alice bob", each name checked. */
static void
studio_users(const char *v, char *out, size_t outsz)
{
	char *copy, *tok, *save = NULL;
	size_t n = 0, len = 0;
	int w;

	if ((copy = strdup(v)) == NULL)
		die("out of memory");
	out[0] = '\0';
	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		arg_user(tok);
		if (++n > CTL_MAX_USERS)
			die("users: more than %d names", CTL_MAX_USERS);
		w = snprintf(out + len, outsz - len, "%s%s", n > 1 ? " " : "",
		    tok);
		if (w < 0 || (size_t)w >= outsz - len)
			die("users: too long");
		len += (size_t)w;
	}
	free(copy);
}

static void
studio_add(int argc, char **argv)
{
	char key[REGISTRY_MAX_KEY], users[CTL_MAX_USERS * (POLICY_MAX_USER + 1)];
	const char *ustr = NULL, *fp = NULL, *uu = NULL, *ua = NULL, *why;
	const char *eq;
	char *host, *port;
	int i;

	if (argc < 3)
		usage();
	arg_session(argv[0]);
	arg_workspace(argv[1]);
	if (config_parse_hostport(argv[2], &host, &port, &why) != 0 ||
	    host[0] == '\0')
		die("upstream \"%s\": %s (use \"10.1.2.3:22\" or "
		    "\"[fd00::5]:22\")", argv[2], host == NULL ? why :
		    "the host is missing");
	free(host);
	free(port);
	for (i = 3; i < argc; i++) {
		if ((eq = strchr(argv[i], '=')) == NULL)
			usage();
		if (strncmp(argv[i], "upstream_user=", 14) == 0)
			uu = arg_user(eq + 1);
		else if (strncmp(argv[i], "host_key_fingerprint=", 21) == 0) {
			fp = eq + 1;
			if (config_valid_fingerprint(fp) != 0)
				die("\"%s\" is not a SHA256 fingerprint, as "
				    "ssh-keygen -lf prints", fp);
		} else if (strncmp(argv[i], "users=", 6) == 0) {
			studio_users(eq + 1, users, sizeof(users));
			ustr = users;
		} else if (strncmp(argv[i], "upstream_auth=", 14) == 0) {
			ua = eq + 1;
			if (config_upstream_auth_parse(ua) ==
			    CFG_UPSTREAM_UNSET)
				die("upstream_auth \"%s\" is not one of "
				    "certificate, key", ua);
		} else
			die("unknown studio setting \"%.*s\": use "
			    "upstream_user, host_key_fingerprint, users or "
			    "upstream_auth",
			    (int)(eq - argv[i]), argv[i]);
	}
	key_or_die(registry_key_studio(key, sizeof(key), prefix, argv[0]));
	/* Replace the whole record at once: no field of an old one stays. */
	redisAppendCommand(rc, "MULTI");
	redisAppendCommand(rc, "DEL %s", key);
	redisAppendCommand(rc, "HSET %s " REGISTRY_F_WORKSPACE " %s "
	    REGISTRY_F_UPSTREAM " %s", key, argv[1], argv[2]);
	if (uu != NULL)
		redisAppendCommand(rc, "HSET %s " REGISTRY_F_UPSTREAM_USER
		    " %s", key, uu);
	if (fp != NULL)
		redisAppendCommand(rc, "HSET %s " REGISTRY_F_FINGERPRINT " %s",
		    key, fp);
	if (ustr != NULL)
		redisAppendCommand(rc, "HSET %s " REGISTRY_F_USERS " %s", key,
		    ustr);
	if (ua != NULL)
		redisAppendCommand(rc, "HSET %s " REGISTRY_F_UPSTREAM_AUTH
		    " %s", key, ua);
	redisAppendCommand(rc, "EXEC");
	for (i = 0; i < 4 + (uu != NULL) + (fp != NULL) + (ustr != NULL);
	    i++) {
		redisReply *rep = NULL;

		if (redisGetReply(rc, (void **)&rep) != REDIS_OK)
			die("Redis: %s", rc->errstr);
		done(rep);
	}
}

static void
studio_show(const char *session)
{
	char key[REGISTRY_MAX_KEY];
	redisReply *rep;
	size_t i;

	key_or_die(registry_key_studio(key, sizeof(key), prefix,
	    arg_session(session)));
	rep = must(redisCommand(rc, "HGETALL %s", key));
	if (rep->elements == 0)
		die("no studio %s", session);
	for (i = 0; i + 1 < rep->elements; i += 2) {
		put_reply(stdout, rep->element[i]);
		putchar('=');
		put_reply(stdout, rep->element[i + 1]);
		putchar('\n');
	}
	freeReplyObject(rep);
}

/* The names after "<prefix>studio:" of every key SCAN finds. */
static void
studio_list(void)
{
	char pattern[REGISTRY_MAX_KEY], cursor[32] = "0";
	redisReply *rep;
	size_t i, skip;

	key_or_die(registry_key_studio(pattern, sizeof(pattern), prefix,
	    "*"));
	skip = strlen(pattern) - 1;
	do {
		rep = must(redisCommand(rc, "SCAN %s MATCH %s COUNT 1000",
		    cursor, pattern));
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
			die("Redis: unexpected SCAN reply");
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		for (i = 0; i < rep->element[1]->elements; i++) {
			const redisReply *k = rep->element[1]->element[i];

			if (k->type == REDIS_REPLY_STRING && k->len >= skip)
				put_safe(stdout, k->str + skip, k->len - skip);
			putchar('\n');
		}
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
}

static void
cmd_studio(int argc, char **argv)
{
	char key[REGISTRY_MAX_KEY];

	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		studio_add(argc - 1, argv + 1);
	else if (argc == 2 && strcmp(argv[0], "remove") == 0) {
		key_or_die(registry_key_studio(key, sizeof(key), prefix,
		    arg_session(argv[1])));
		done(redisCommand(rc, "DEL %s", key));
	} else if (argc == 2 && strcmp(argv[0], "show") == 0)
		studio_show(argv[1]);
	else if (argc == 1 && strcmp(argv[0], "list") == 0)
		studio_list();
	else
		usage();
}

/* --- workspaces and members ---------------------------------------------- */

static void
cmd_workspace(int argc, char **argv)
{
	char key[REGISTRY_MAX_KEY];
	redisReply *rep;

	key_or_die(registry_key_allowed(key, sizeof(key), prefix));
	if (argc == 2 && strcmp(argv[0], "allow") == 0) {
		arg_workspace(argv[1]);
		done(redisCommand(rc, "SADD %s %s", key, argv[1]));
	} else if (argc == 2 && strcmp(argv[0], "disallow") == 0) {
		arg_workspace(argv[1]);
		done(redisCommand(rc, "SREM %s %s", key, argv[1]));
	} else if (argc == 1 && strcmp(argv[0], "list") == 0) {
		rep = must(redisCommand(rc, "SMEMBERS %s", key));
		print_strings(rep);
		freeReplyObject(rep);
	} else
		usage();
}

static void
cmd_member(int argc, char **argv)
{
	char key[REGISTRY_MAX_KEY];
	redisReply *rep;

	if (argc < 2)
		usage();
	key_or_die(registry_key_members(key, sizeof(key), prefix,
	    arg_workspace(argv[1])));
	if (argc == 3 && strcmp(argv[0], "add") == 0)
		done(redisCommand(rc, "SADD %s %s", key, arg_user(argv[2])));
	else if (argc == 3 && strcmp(argv[0], "remove") == 0)
		done(redisCommand(rc, "SREM %s %s", key, arg_user(argv[2])));
	else if (argc == 2 && strcmp(argv[0], "list") == 0) {
		rep = must(redisCommand(rc, "SMEMBERS %s", key));
		print_strings(rep);
		freeReplyObject(rep);
	} else
		usage();
}

/* --- user keys ------------------------------------------------------------ */

/* One checked line: its fingerprint and the line less surrounding blanks. */
struct key_line {
	char fp[AUTHKEY_FP_LEN + 8];
	char *line;
};

/* Returns 1 with *out filled, 0 for a blank or comment line; dies on a
 * line the daemon would refuse. */
static int
check_key_line(const char *line, const char *where, struct key_line *out)
{
	struct authkey k;
	const char *why;
	char *end;
	int rcode;

	memset(&k, 0, sizeof(k));
	if ((rcode = authkey_parse_line_min(line, rsa_min_bits, &k,
	    &why)) == 1)
		return 0;
	if (rcode != 0)
		die("%s: %s", where, why);
	snprintf(out->fp, sizeof(out->fp), "%s", k.fp);
	authkey_free(&k);
	while (*line == ' ' || *line == '\t')
		line++;
	if ((out->line = strdup(line)) == NULL)
		die("out of memory");
	end = out->line + strlen(out->line);
	while (end > out->line && (end[-1] == '\n' || end[-1] == '\r' ||
	    end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return 1;
}

/* Every line is checked before any is written: all or nothing. */
static size_t
read_key_lines(struct key_line *keys, size_t max)
{
	char line[CTL_LINE_MAX], where[64];
	unsigned lineno = 0;
	size_t n = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(stdin))
			die("stdin line %u: longer than %d bytes", lineno,
			    CTL_LINE_MAX - 2);
		snprintf(where, sizeof(where), "stdin line %u", lineno);
		if (n == max)
			die("%s: more than %zu keys", where, max);
		n += (size_t)check_key_line(line, where, &keys[n]);
	}
	return n;
}

/* Add the key line arg (or stdin's, with "-") to the hash key. */
static void
hash_add_keys(const char *key, const char *arg)
{
	static struct key_line keys[CTL_MAX_KEYS];
	size_t i, n;

	if (strcmp(arg, "-") == 0)
		n = read_key_lines(keys, CTL_MAX_KEYS);
	else
		n = (size_t)check_key_line(arg, "the key", &keys[0]);
	if (n == 0)
		die("no key given");
	for (i = 0; i < n; i++) {
		done(redisCommand(rc, "HSET %s %s %s", key, keys[i].fp,
		    keys[i].line));
		printf("%s\n", keys[i].fp);
		free(keys[i].line);
	}
}

static void
key_add(const char *user, const char *arg)
{
	char key[REGISTRY_MAX_KEY];

	key_or_die(registry_key_user_keys(key, sizeof(key), prefix,
	    arg_user(user)));
	hash_add_keys(key, arg);
}

/* The registry's user CA keys: checked as users' keys are. */
/* Print a hash of keys, "fingerprint line" per entry (key list, ca list). */
static void
hash_list(const char *key)
{
	redisReply *rep;
	size_t i;

	rep = must(redisCommand(rc, "HGETALL %s", key));
	for (i = 0; i + 1 < rep->elements; i += 2) {
		put_reply(stdout, rep->element[i]);
		putchar(' ');
		put_reply(stdout, rep->element[i + 1]);
		putchar('\n');
	}
	freeReplyObject(rep);
}

/* Remove entry fp of a hash of keys: 1, or 0 if it had none.  lister is
 * the command that prints the fingerprints, for the error. */
static int
hash_remove(const char *key, const char *fp, const char *lister)
{
	redisReply *rep;
	int removed;

	if (config_valid_fingerprint(fp) != 0)
		die("\"%s\" is not a SHA256 fingerprint, as %s prints", fp,
		    lister);
	rep = must(redisCommand(rc, "HDEL %s %s", key, fp));
	removed = rep->integer != 0;
	freeReplyObject(rep);
	return removed;
}

static void
cmd_ca(int argc, char **argv)
{
	char key[REGISTRY_MAX_KEY];

	if (argc < 1)
		usage();
	key_or_die(registry_key_user_cas(key, sizeof(key), prefix));
	if (argc == 2 && strcmp(argv[0], "add") == 0)
		hash_add_keys(key, argv[1]);
	else if (argc == 2 && strcmp(argv[0], "remove") == 0) {
		if (hash_remove(key, argv[1], "ca list") == 0)
			die("no CA key %s", argv[1]);
	} else if (argc == 1 && strcmp(argv[0], "list") == 0)
		hash_list(key);
	else
		usage();
}

static void
cmd_key(int argc, char **argv)
{
	char key[REGISTRY_MAX_KEY];

	if (argc < 2)
		usage();
	if (argc == 3 && strcmp(argv[0], "add") == 0) {
		key_add(argv[1], argv[2]);
		return;
	}
	key_or_die(registry_key_user_keys(key, sizeof(key), prefix,
	    arg_user(argv[1])));
	if (argc == 3 && strcmp(argv[0], "remove") == 0) {
		if (hash_remove(key, argv[2], "key list") == 0)
			die("%s has no key %s", argv[1], argv[2]);
	} else if (argc == 2 && strcmp(argv[0], "list") == 0)
		hash_list(key);
	else
		usage();
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "f:h")) != -1) {
		switch (ch) {
		case 'f':
			path = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "studio") != 0 &&
	    strcmp(argv[0], "workspace") != 0 &&
	    strcmp(argv[0], "member") != 0 && strcmp(argv[0], "key") != 0 &&
	    strcmp(argv[0], "ca") != 0)
		usage();
	open_registry(path);
	if (strcmp(argv[0], "studio") == 0)
		cmd_studio(argc - 1, argv + 1);
	else if (strcmp(argv[0], "workspace") == 0)
		cmd_workspace(argc - 1, argv + 1);
	else if (strcmp(argv[0], "member") == 0)
		cmd_member(argc - 1, argv + 1);
	else if (strcmp(argv[0], "ca") == 0)
		cmd_ca(argc - 1, argv + 1);
	else
		cmd_key(argc - 1, argv + 1);
	redisFree(rc);
	return 0;
}
