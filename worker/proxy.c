/*
 * proxy.c - parse a PROXY protocol header, v1 (text) or v2 (binary).
 *
 * A worker reads this header first on a connection from a proxy_protocol
 * listener, in its sandbox, and reports the client's address to the
 * monitor (W_PROXY), which believes it only for a connection from a
 * proxy_from network.  The parser is strict (one form per field, no
 * slack), bounded (PROXY_MAX_HEADER) and has no state beyond its input; it
 * is fuzzed on its own (tests/fuzz/fuzz_proxy.c).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "proxy.h"

static const uint8_t v2_sig[12] = {
	'\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n',
};

#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_AF_UNSPEC	0x00
#define V2_TCP4		0x11
#define V2_TCP6		0x21

/* Is p[0..len) a prefix of want[0..wantlen)? */
static int
is_prefix(const uint8_t *p, size_t len, const void *want, size_t wantlen)
{
	return memcmp(p, want, len < wantlen ? len : wantlen) == 0;
}

/* A decimal port: 1 to 5 digits, no leading zero, at most 65535. */
static int
v1_port(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* "PROXY TCP4|TCP6 src dst sport dport" or "PROXY UNKNOWN ..." */
static int
v1_line(char *line, struct proxy_result *r, const char **why)
{
	char *tok[7], *save = NULL, *t;
	int n = 0;
	uint16_t sport, dport;
	struct sockaddr_in *sin = (struct sockaddr_in *)&r->src;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r->src;
	struct in6_addr dst6;

	/* Single spaces only: an empty field means two spaces. */
	if (strstr(line, "  ") != NULL || line[strlen(line) - 1] == ' ') {
		*why = "v1 header with empty fields";
		return -1;
	}
	for (t = strtok_r(line, " ", &save); t != NULL && n < 7;
	    t = strtok_r(NULL, " ", &save))
		tok[n++] = t;
	if (n >= 2 && strcmp(tok[1], "UNKNOWN") == 0) {
		r->local = 1;
		return 0;
	}
	if (n != 6) {
		*why = "v1 header without 6 fields";
		return -1;
	}
	if (v1_port(tok[4], &sport) != 0 || v1_port(tok[5], &dport) != 0) {
		*why = "v1 header with a bad port";
		return -1;
	}
	if (strcmp(tok[1], "TCP4") == 0) {
		struct in_addr dst;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(sport);
		if (inet_pton(AF_INET, tok[2], &sin->sin_addr) != 1 ||
		    inet_pton(AF_INET, tok[3], &dst) != 1) {
			*why = "v1 header with a bad IPv4 address";
			return -1;
		}
		return 0;
	}
	if (strcmp(tok[1], "TCP6") == 0) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(sport);
		if (inet_pton(AF_INET6, tok[2], &sin6->sin6_addr) != 1 ||
		    inet_pton(AF_INET6, tok[3], &dst6) != 1) {
			*why = "v1 header with a bad IPv6 address";
			return -1;
		}
		return 0;
	}
	*why = "v1 header with an unknown protocol";
	return -1;
}

static int
parse_v1(const uint8_t *p, size_t len, struct proxy_result *r,
    const char **why)
{
	char line[PROXY_V1_MAX + 1];
	size_t i, n = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r')
			break;
		if (p[i] < 0x20 || p[i] > 0x7e) {
			*why = "v1 header with a control or non-ASCII byte";
			return -1;
		}
	}
	if (i == n) {
		if (len >= PROXY_V1_MAX) {
			*why = "v1 header longer than 107 bytes";
			return -1;
		}
		return 0;
	}
	if (i + 2 > PROXY_V1_MAX) {
		*why = "v1 header longer than 107 bytes";
		return -1;
	}
	if (i + 1 >= len)
		return 0;		/* the '\n' is still to come */
	if (p[i + 1] != '\n') {
		*why = "v1 header not ended by CRLF";
		return -1;
	}
	memcpy(line, p, i);
	line[i] = '\0';
	r->version = 1;
	if (v1_line(line, r, why) != 0)
		return -1;
	return (int)(i + 2);
}

static int
parse_v2(const uint8_t *p, size_t len, struct proxy_result *r,
    const char **why)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&r->src;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r->src;
	size_t body, total;
	unsigned cmd;

	if (len < 16)
		return 0;
	if ((p[12] >> 4) != 2) {
		*why = "v2 header of another version";
		return -1;
	}
	cmd = p[12] & 0x0f;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY) {
		*why = "v2 header with an unknown command";
		return -1;
	}
	body = (size_t)p[14] << 8 | p[15];
	total = 16 + body;
	if (total > PROXY_MAX_HEADER) {
		*why = "v2 header longer than 536 bytes";
		return -1;
	}
	if (len < total)
		return 0;
	r->version = 2;
	if (cmd == V2_CMD_LOCAL || p[13] == V2_AF_UNSPEC) {
		/* The balancer's own connection (a health check). */
		r->local = 1;
		return (int)total;
	}
	if (p[13] == V2_TCP4 && body >= 12) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, p + 16, 4);
		memcpy(&sin->sin_port, p + 24, 2);
		return (int)total;
	}
	if (p[13] == V2_TCP6 && body >= 36) {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, p + 16, 16);
		memcpy(&sin6->sin6_port, p + 48, 2);
		return (int)total;
	}
	*why = "v2 header for something other than TCP over IPv4 or IPv6";
	return -1;
}

int
proxy_parse(const uint8_t *p, size_t len, struct proxy_result *r,
    const char **why)
{
	memset(r, 0, sizeof(*r));
	if (len == 0)
		return 0;
	if (is_prefix(p, len, "PROXY ", 6))
		return len < 6 ? 0 : parse_v1(p, len, r, why);
	if (is_prefix(p, len, v2_sig, sizeof(v2_sig)))
		return parse_v2(p, len, r, why);
	*why = "no PROXY protocol header";
	return -1;
}
