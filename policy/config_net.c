/*
 * config_net.c - addresses in connect-sshd.conf(5): "host:port" and
 * networks, and the settings made of them.
 *
 * Here: the numeric host:port parser (config_parse_hostport(), also used
 * for a Studio's upstream and, with DNS names allowed, by the registry's
 * address), the network parser and matcher of proxy_from, the listen and
 * metrics_listen settings and the CONNECT_SSH_ADDR override.  Nothing
 * here resolves a name: getaddrinfo() is called with AI_NUMERICHOST.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "config.h"
#include "config_int.h"

#define PORT_MAX		65535
#define PORT_DIGITS_MAX		5

static const char *const listen_names[] = {
	"address", "proxy_protocol", "proxy_from", NULL,
};

/* --- values ----------------------------------------------------------- */

int
valid_port(const char *p)
{
	size_t n = strlen(p), i;
	long v;

	if (n == 0 || n > PORT_DIGITS_MAX || p[0] == '0')
		return -1;
	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	v = strtol(p, NULL, 10);
	return (v >= 1 && v <= PORT_MAX) ? 0 : -1;
}

/*
 * Check host (numeric, of family) and port with getaddrinfo(), which never
 * resolves anything with these flags.  IPv4 must also be dotted-quad:
 * getaddrinfo would take "127.1" too.
 */
int
valid_numeric(const char *host, const char *port, int family)
{
	struct addrinfo hints, *res = NULL;
	struct in_addr a4;

	if (family == AF_INET && host != NULL &&
	    inet_pton(AF_INET, host, &a4) != 1)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
	    (host == NULL ? AI_PASSIVE : 0);
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	freeaddrinfo(res);
	return 0;
}

/* Split s into host text and port text, by its form. */
const char *
split_hostport(const char *s, const char **h, size_t *hlen,
    const char **p, int *family)
{
	const char *close, *colon;

	if (s[0] == '[') {
		if ((close = strchr(s, ']')) == NULL)
			return "missing ']' after the IPv6 address";
		if (close[1] != ':')
			return "missing \":port\" after ']'";
		if (close == s + 1)
			return "empty IPv6 address in brackets";
		*h = s + 1;
		*hlen = (size_t)(close - *h);
		*p = close + 2;
		*family = AF_INET6;
		return NULL;
	}
	if ((colon = strchr(s, ':')) == NULL)
		return "missing \":port\"";
	if (strchr(colon + 1, ':') != NULL)
		return "an IPv6 address must be in brackets, as in "
		    "\"[::1]:22\"";
	*h = s;
	*hlen = (size_t)(colon - s);
	*p = colon + 1;
	*family = AF_INET;
	return NULL;
}

int
config_parse_hostport(const char *s, char **host, char **port,
    const char **why)
{
	const char *h = NULL, *p = NULL;
	size_t hlen = 0;
	int family = AF_UNSPEC;

	*host = *port = NULL;
	if ((*why = split_hostport(s, &h, &hlen, &p, &family)) != NULL)
		return -1;
	if (valid_port(p) != 0) {
		*why = "the port must be a number from 1 to 65535";
		return -1;
	}
	if ((*host = strndup(h, hlen)) == NULL ||
	    (*port = strdup(p)) == NULL) {
		*why = "out of memory";
		goto fail;
	}
	/* ":port" is the wildcard of both families. */
	if (valid_numeric(hlen > 0 ? *host : NULL, *port,
	    hlen > 0 ? family : AF_UNSPEC) != 0) {
		*why = family == AF_INET6 ? "not a numeric IPv6 address" :
		    "not a numeric IPv4 address; host names are not resolved";
		goto fail;
	}
	return 0;
 fail:
	free(*host);
	free(*port);
	*host = *port = NULL;
	return -1;
}

/* --- top-level settings ----------------------------------------------- */

int
config_parse_net(const char *s, struct cfg_net *n, const char **why)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	int bits, i, max;
	char *end;
	long v;

	memset(n, 0, sizeof(*n));
	if (alen == 0 || alen >= sizeof(addr)) {
		*why = "not an address";
		return -1;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, n->addr) == 1) {
		n->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, n->addr) == 1) {
		n->family = AF_INET6;
		max = 128;
	} else {
		*why = "not a numeric IPv4 or IPv6 address";
		return -1;
	}
	n->prefix = max;
	if (slash != NULL) {
		errno = 0;
		v = strtol(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' ||
		    errno != 0 || v > max) {
			*why = "prefix length out of range";
			return -1;
		}
		n->prefix = (int)v;
	}
	for (i = 0, bits = n->prefix; i < max / 8; i++, bits -= 8) {
		uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 :
		    (uint8_t)(0xff << (8 - bits));
		if (n->addr[i] & (uint8_t)~mask) {
			*why = "host bits set after the prefix";
			return -1;
		}
	}
	return 0;
}

int
config_net_match(const struct cfg_net *nets, size_t n, int family,
    const uint8_t *addr)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	size_t k;
	int i, bits;

	if (family == AF_INET6 && memcmp(addr, mapped, 12) == 0) {
		family = AF_INET;
		addr += 12;
	}
	for (k = 0; k < n; k++) {
		if (nets[k].family != family)
			continue;
		for (i = 0, bits = nets[k].prefix; bits > 0; i++, bits -= 8) {
			uint8_t mask = bits >= 8 ? 0xff :
			    (uint8_t)(0xff << (8 - bits));
			if ((addr[i] & mask) != nets[k].addr[i])
				break;
		}
		if (bits <= 0)
			return 1;
	}
	return 0;
}

/* { address = "..."; proxy_protocol = true; proxy_from = [ ... ]; } */
static int
load_listen_group(struct loader *l, const config_setting_t *e,
    const char *what, struct cfg_listen *ls)
{
	const config_setting_t *a, *f, *x;
	char w[WHAT_MAX + 16];
	const char *v, *why;
	int i, n;

	check_names(l, e, listen_names, what);
	if ((a = config_setting_get_member(e, "address")) == NULL) {
		serr(l, e, "%s has no address: add address = \":2222\"", what);
		return -1;
	}
	snprintf(w, sizeof(w), "%s.address", what);
	if (get_string(l, a, w, &v) != 0)
		return -1;
	if (config_parse_hostport(v, &ls->host, &ls->port, &why) != 0) {
		serr(l, a, "listen \"%.*s\": %s (use \"host:port\", "
		    "\"[v6]:port\" or \":port\")", SHOW_MAX, v, why);
		return -1;
	}
	member_bool(l, e, "proxy_protocol", what, &ls->proxy_protocol);
	f = config_setting_get_member(e, "proxy_from");
	snprintf(w, sizeof(w), "%s.proxy_from", what);
	if (f != NULL && want_type(l, f, w, CONFIG_TYPE_ARRAY) == 0) {
		n = config_setting_length(f);
		if (n > CFG_MAX_PROXY_FROM) {
			serr(l, f, "%s has %d networks; at most %d", w, n,
			    CFG_MAX_PROXY_FROM);
			n = CFG_MAX_PROXY_FROM;
		}
		ls->proxy_from = lcalloc(l, (size_t)n + 1,
		    sizeof(*ls->proxy_from));
		for (i = 0; ls->proxy_from != NULL && i < n; i++) {
			x = config_setting_get_elem(f, (unsigned)i);
			if (get_string(l, x, w, &v) != 0)
				continue;
			if (config_parse_net(v, &ls->proxy_from[
			    ls->nproxy_from], &why) != 0) {
				serr(l, x, "%s \"%.*s\": %s (use a network "
				    "such as \"10.0.0.0/8\")", w, SHOW_MAX,
				    v, why);
				continue;
			}
			ls->nproxy_from++;
		}
	}
	if (ls->proxy_protocol && (f == NULL || config_setting_length(f) == 0))
		serr(l, e, "%s: proxy_protocol needs proxy_from, the balancers' "
		    "networks (a PROXY header is believed only from them)", what);
	if (!ls->proxy_protocol && f != NULL)
		serr(l, f, "%s: proxy_from without proxy_protocol = true", what);
	return 0;
}

/* listen = [ "host:port", ... ] or ( "host:port" or { ... }, ... ) */
void
load_listen(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *s, *e;
	struct cfg_listen *ls;
	const char *v, *why;
	char what[WHAT_MAX];
	int i, n;

	if ((s = config_setting_get_member(root, "listen")) == NULL)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_LIST &&
	    want_type(l, s, "listen", CONFIG_TYPE_ARRAY) != 0)
		return;
	n = config_setting_length(s);
	if ((l->cfg->listen = lcalloc(l, (size_t)n + 1, sizeof(*ls))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		snprintf(what, sizeof(what), "listen[%d]", i);
		ls = &l->cfg->listen[l->cfg->nlisten];
		ls->line = (int)config_setting_source_line(e);
		if (config_setting_type(e) == CONFIG_TYPE_GROUP) {
			if (load_listen_group(l, e, what, ls) == 0)
				l->cfg->nlisten++;
			continue;
		}
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			serr(l, e, "%s must be a string or a group { address "
			    "= ...; }", what);
			continue;
		}
		v = config_setting_get_string(e);
		if (config_parse_hostport(v, &ls->host, &ls->port, &why) != 0) {
			serr(l, e, "listen \"%.*s\": %s (use \"host:port\", "
			    "\"[v6]:port\" or \":port\")", SHOW_MAX, v, why);
			continue;
		}
		l->cfg->nlisten++;
	}
}

/* metrics_listen = "host:port": optional, the Prometheus endpoint */
void
load_metrics(struct loader *l, const config_setting_t *root)
{
	const config_setting_t *s;
	const char *v, *why;

	if ((s = config_setting_get_member(root, "metrics_listen")) == NULL ||
	    get_string(l, s, "metrics_listen", &v) != 0)
		return;
	if (config_parse_hostport(v, &l->cfg->metrics.host,
	    &l->cfg->metrics.port, &why) != 0) {
		serr(l, s, "metrics_listen \"%.*s\": %s (use \"host:port\", "
		    "such as \"127.0.0.1:9122\")", SHOW_MAX, v, why);
		return;
	}
	l->cfg->metrics.line = (int)config_setting_source_line(s);
}

/* --- environment overrides -------------------------------------------- */

void
free_listen(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nlisten; i++) {
		free(cfg->listen[i].host);
		free(cfg->listen[i].port);
		free(cfg->listen[i].proxy_from);
	}
	/* An entry that failed to load may hold a partial allocation. */
	if (cfg->listen != NULL) {
		free(cfg->listen[cfg->nlisten].host);
		free(cfg->listen[cfg->nlisten].port);
		free(cfg->listen[cfg->nlisten].proxy_from);
	}
	free(cfg->listen);
	cfg->listen = NULL;
	cfg->nlisten = 0;
}

void
env_addr(struct loader *l)
{
	struct config *cfg = l->cfg;
	struct cfg_listen ls;
	const char *v, *why;

	if ((v = env_get(l->env, ENV_ADDR)) == NULL)
		return;
	memset(&ls, 0, sizeof(ls));
	if (config_parse_hostport(v, &ls.host, &ls.port, &why) != 0) {
		ferr(l, "%s: \"%.*s\": %s (use \"host:port\", \"[v6]:port\" "
		    "or \":port\")", ENV_ADDR, SHOW_MAX, v, why);
		return;
	}
	free_listen(cfg);
	if ((cfg->listen = lcalloc(l, 2, sizeof(*cfg->listen))) == NULL) {
		free(ls.host);
		free(ls.port);
		return;
	}
	cfg->listen[0] = ls;
	cfg->nlisten = 1;
}
