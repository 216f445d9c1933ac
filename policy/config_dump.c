/*
 * config_dump.c - "connect-sshd -T": the effective configuration as
 * libconfig text that config_load() accepts again.
 *
 * The order and the text are fixed (tests/config/NAME.ok hold them), and a
 * dump loaded again dumps identically.  The number and bool settings
 * print through their rows (config_table.c), the rest here.
 *
 * libconfig 1.5 note: an integer literal past 32 bits without the "L"
 * suffix is silently truncated by the parser, and an array may not mix
 * plain and "L" integers; the dump writes every id of an array with "L"
 * as soon as one needs it.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "authkeys.h"
#include "config.h"
#include "config_int.h"
#include "sshwire.h"

/* --- dump ------------------------------------------------------------- */

/* A libconfig string literal: quotes, backslashes and controls escaped. */
static void
dump_string(FILE *out, const char *s)
{
	const unsigned char *p;

	fputc('"', out);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < ' ' || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void
dump_indent(FILE *out, int level)
{
	fprintf(out, "%*s", level * INDENT, "");
}

static void
dump_str(FILE *out, int level, const char *name, const char *v)
{
	dump_indent(out, level);
	fprintf(out, "%s = ", name);
	dump_string(out, v);
	fputs(";\n", out);
}

/* libconfig 1.5 truncates unsuffixed integers to 32 bits. */

static int
needs_int64(long long v)
{
	return v < INT_MIN || v > INT_MAX;
}

static void
dump_id(FILE *out, int level, const char *name, long long v)
{
	dump_indent(out, level);
	fprintf(out, "%s = %lld%s;\n", name, v, needs_int64(v) ? "L" : "");
}

static void
dump_str_array(FILE *out, int level, const char *name, char *const *v,
    size_t n)
{
	size_t i;

	dump_indent(out, level);
	fprintf(out, "%s = [", name);
	for (i = 0; i < n; i++) {
		fputs(i > 0 ? ", " : " ", out);
		dump_string(out, v[i]);
	}
	fputs(" ];\n", out);
}

static void
format_hostport(const char *host, const char *port, char *buf, size_t sz)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, sz, "[%s]:%s", host, port);
	else
		snprintf(buf, sz, "%s:%s", host, port);
}

static void
dump_net(FILE *out, const struct cfg_net *n)
{
	char a[INET6_ADDRSTRLEN], buf[INET6_ADDRSTRLEN + 8];

	inet_ntop(n->family, n->addr, a, sizeof(a));
	snprintf(buf, sizeof(buf), "%s/%d", a, n->prefix);
	dump_string(out, buf);
}

/* The array form when no listener has options, else the list form. */
static void
dump_listen(const struct config *cfg, FILE *out)
{
	char hp[NI_MAXHOST + NI_MAXSERV + 4];
	const struct cfg_listen *ls;
	size_t i, k;
	int groups = 0;

	for (i = 0; i < cfg->nlisten; i++)
		groups |= cfg->listen[i].proxy_protocol;
	fputs(groups ? "listen = (" : "listen = [", out);
	for (i = 0; i < cfg->nlisten; i++) {
		ls = &cfg->listen[i];
		fputs(i > 0 ? ", " : " ", out);
		format_hostport(ls->host, ls->port, hp, sizeof(hp));
		if (!ls->proxy_protocol) {
			dump_string(out, hp);
			continue;
		}
		fputs("{ address = ", out);
		dump_string(out, hp);
		fputs("; proxy_protocol = true; proxy_from = [", out);
		for (k = 0; k < ls->nproxy_from; k++) {
			fputs(k > 0 ? ", " : " ", out);
			dump_net(out, &ls->proxy_from[k]);
		}
		fputs(" ]; }", out);
	}
	fputs(groups ? " );\n" : " ];\n", out);
}

static void
dump_allowed(const struct config *cfg, FILE *out)
{
	size_t i;
	int wide = 0;

	/* libconfig arrays may not mix int and int64 elements. */
	for (i = 0; i < cfg->nallowed_workspaces; i++)
		wide |= needs_int64(cfg->allowed_workspaces[i]);
	fputs("allowed_workspaces = [", out);
	for (i = 0; i < cfg->nallowed_workspaces; i++)
		fprintf(out, "%s%lld%s", i > 0 ? ", " : " ",
		    cfg->allowed_workspaces[i], wide ? "L" : "");
	fputs(" ];\n", out);
}

/* "name = (", then each entry between braces, then ");". */
static void
dump_list_open(FILE *out, const char *name, size_t n)
{
	fprintf(out, "%s = (%s", name, n == 0 ? " );\n" : "\n");
}

static void
dump_entry_open(FILE *out, size_t i)
{
	fputs(i > 0 ? ",\n" : "", out);
	dump_indent(out, 1);
	fputs("{\n", out);
}

static void
dump_list_close(FILE *out, size_t n)
{
	if (n == 0)
		return;
	fputc('\n', out);
	fputs(");\n", out);
}

static void
dump_workspaces(const struct config *cfg, FILE *out)
{
	const struct cfg_workspace *ws;
	size_t i;

	dump_list_open(out, "workspaces", cfg->nworkspaces);
	for (i = 0; i < cfg->nworkspaces; i++) {
		ws = &cfg->workspaces[i];
		dump_entry_open(out, i);
		dump_id(out, 2, "id", ws->id);
		dump_str_array(out, 2, "members", ws->members, ws->nmembers);
		dump_indent(out, 1);
		fputs("}", out);
	}
	dump_list_close(out, cfg->nworkspaces);
}

/* A key as an authorized_keys line, "type base64 [comment]". */
static void
dump_key(FILE *out, const struct authkey *k)
{
	char b64[(AUTHKEY_MAX_BLOB + 2) / 3 * 4 + 1];
	char *line = NULL;

	if (b64_encode(k->blob, k->bloblen, b64, sizeof(b64)) == 0 ||
	    asprintf(&line, "%s %s%s%s", k->type, b64,
	    k->comment != NULL ? " " : "",
	    k->comment != NULL ? k->comment : "") == -1) {
		dump_string(out, "");
		return;
	}
	dump_string(out, line);
	free(line);
}

static void
dump_user(const struct cfg_user *u, FILE *out)
{
	size_t i;

	dump_str(out, 2, "name", u->name);
	dump_indent(out, 2);
	/* Keys are long: one a line. */
	fputs(u->ninline == 0 ? "keys = [ ];\n" : "keys = [\n", out);
	for (i = 0; i < u->ninline; i++) {
		dump_indent(out, 3);
		dump_key(out, &u->keys[i]);
		fputs(i + 1 < u->ninline ? ",\n" : "\n", out);
	}
	if (u->ninline > 0) {
		dump_indent(out, 2);
		fputs("];\n", out);
	}
	if (u->keys_file != NULL)
		dump_str(out, 2, "keys_file", u->keys_file);
}

static void
dump_users(const struct config *cfg, FILE *out)
{
	size_t i;

	dump_list_open(out, "users", cfg->nusers);
	for (i = 0; i < cfg->nusers; i++) {
		dump_entry_open(out, i);
		dump_user(&cfg->users[i], out);
		dump_indent(out, 1);
		fputs("}", out);
	}
	dump_list_close(out, cfg->nusers);
}

static void
dump_studio(const struct cfg_studio *s, FILE *out)
{
	char hp[NI_MAXHOST + NI_MAXSERV + 4];

	dump_str(out, 2, "session", s->session);
	dump_id(out, 2, "workspace", s->workspace);
	format_hostport(s->upstream_host, s->upstream_port, hp, sizeof(hp));
	dump_str(out, 2, "upstream", hp);
	if (s->upstream_user != NULL)
		dump_str(out, 2, "upstream_user", s->upstream_user);
	if (s->users_set)
		dump_str_array(out, 2, "users", s->users, s->nusers);
	if (s->host_key_fingerprint != NULL)
		dump_str(out, 2, "host_key_fingerprint",
		    s->host_key_fingerprint);
	if (s->upstream_auth != CFG_UPSTREAM_UNSET)
		dump_str(out, 2, "upstream_auth",
		    config_upstream_auth_name(s->upstream_auth));
}

static void
dump_studios(const struct config *cfg, FILE *out)
{
	size_t i;

	dump_list_open(out, "studios", cfg->nstudios);
	for (i = 0; i < cfg->nstudios; i++) {
		dump_entry_open(out, i);
		dump_studio(&cfg->studios[i], out);
		dump_indent(out, 1);
		fputs("}", out);
	}
	dump_list_close(out, cfg->nstudios);
}

/* Only a Redis registry has settings.  A password is never printed: the
 * dump names password_file, and one from CONNECT_REDIS_PASSWORD is left
 * to the environment the dump is loaded with. */
static void
dump_registry(const struct config *cfg, FILE *out)
{
	const struct cfg_registry *r = &cfg->registry;
	char hp[NI_MAXHOST + NI_MAXSERV + 4];

	if (r->backend != CFG_REGISTRY_REDIS)
		return;
	fputs("registry = {\n", out);
	dump_str(out, 1, "backend", value_name(registry_backends, r->backend));
	format_hostport(r->host, r->port, hp, sizeof(hp));
	dump_str(out, 1, "address", hp);
	dump_row(cfg, "registry", "db", 1, out);
	if (r->user != NULL)
		dump_str(out, 1, "user", r->user);
	if (r->password_file != NULL)
		dump_str(out, 1, "password_file", r->password_file);
	dump_str(out, 1, "prefix", r->prefix);
	dump_row(cfg, "registry", "timeout_ms", 1, out);
	dump_row(cfg, "registry", "cache_ttl", 1, out);
	fputs("};\n", out);
}

static void
dump_groups(const struct config *cfg, FILE *out)
{
	fputs("workers = {\n", out);
	dump_rows(cfg, "workers", 1, out);
	dump_str(out, 1, "user", cfg->workers.user);
	if (cfg->workers.lookup_user != NULL)
		dump_str(out, 1, "lookup_user", cfg->workers.lookup_user);
	dump_str(out, 1, "chroot", cfg->workers.chroot);
	dump_str(out, 1, "program", cfg->workers.program);
	fputs("};\n", out);
	fputs("log = {\n", out);
	dump_str(out, 1, "level", value_name(log_levels, cfg->log.level));
	dump_str(out, 1, "format", value_name(log_formats, cfg->log.format));
	fputs("};\n", out);
	fputs("limits = {\n", out);
	dump_rows(cfg, "limits", 1, out);
	fputs("};\n", out);
	fputs("forwarding = {\n", out);
	dump_rows(cfg, "forwarding", 1, out);
	fputs("};\n", out);
	fputs("algorithms = {\n", out);
	dump_str_array(out, 1, "kex", cfg->algorithms.kex,
	    cfg->algorithms.nkex);
	dump_str_array(out, 1, "ciphers", cfg->algorithms.ciphers,
	    cfg->algorithms.nciphers);
	dump_str_array(out, 1, "macs", cfg->algorithms.macs,
	    cfg->algorithms.nmacs);
	fputs("};\n", out);
	dump_registry(cfg, out);
}

void
config_dump(const struct config *cfg, FILE *out)
{
	dump_listen(cfg, out);
	if (cfg->metrics.host != NULL) {
		char hp[NI_MAXHOST + NI_MAXSERV + 4];

		format_hostport(cfg->metrics.host, cfg->metrics.port, hp,
		    sizeof(hp));
		dump_str(out, 0, "metrics_listen", hp);
	}
	dump_str(out, 0, "key", cfg->key_path);
	if (cfg->key_fingerprint != NULL)
		dump_str(out, 0, "key_fingerprint", cfg->key_fingerprint);
	dump_row(cfg, "", "enabled", 0, out);
	dump_str(out, 0, "upstream_auth",
	    config_upstream_auth_name(cfg->upstream_auth));
	if (cfg->user_ca_path != NULL)
		dump_str(out, 0, "trusted_user_ca_keys", cfg->user_ca_path);
	if (cfg->revoked_path != NULL)
		dump_str(out, 0, "revoked_keys", cfg->revoked_path);
	if (cfg->registry.backend == CFG_REGISTRY_FILE) {
		dump_allowed(cfg, out);
		dump_workspaces(cfg, out);
		dump_users(cfg, out);
		dump_studios(cfg, out);
	}
	dump_groups(cfg, out);
}
