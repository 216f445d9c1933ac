/*
 * test_proxy.c - the PROXY protocol header parser: v1 and v2, every byte
 * of a valid header arriving one at a time, and the malformed forms.
 */
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "worker/proxy.h"
#include "runner.h"

static int
parse(const void *p, size_t len, struct proxy_result *r)
{
	const char *why = NULL;
	int rc = proxy_parse(p, len, r, &why);

	if (rc < 0)
		CU_ASSERT_PTR_NOT_NULL(why);
	return rc;
}

/* Every proper prefix of a good header asks for more. */
static void
assert_prefixes_wait(const void *p, size_t len)
{
	struct proxy_result r;
	size_t i;

	for (i = 0; i < len; i++)
		CU_ASSERT_EQUAL(parse(p, i, &r), 0);
}

static void
test_v1_tcp4(void)
{
	const char h[] = "PROXY TCP4 198.51.100.7 10.0.0.1 51234 2222\r\nSSH-2.0-x";
	size_t hl = strlen("PROXY TCP4 198.51.100.7 10.0.0.1 51234 2222\r\n");
	struct proxy_result r;
	struct sockaddr_in *sin = (struct sockaddr_in *)&r.src;
	char a[INET_ADDRSTRLEN];

	CU_ASSERT_EQUAL(parse(h, sizeof(h) - 1, &r), (int)hl);
	CU_ASSERT_EQUAL(r.version, 1);
	CU_ASSERT_EQUAL(r.local, 0);
	CU_ASSERT_EQUAL(sin->sin_family, AF_INET);
	CU_ASSERT_EQUAL(ntohs(sin->sin_port), 51234);
	inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "198.51.100.7");
	assert_prefixes_wait(h, hl);
}

static void
test_v1_tcp6_unknown(void)
{
	const char h6[] = "PROXY TCP6 2001:db8::7 2001:db8::1 1 65535\r\n";
	const char hu[] = "PROXY UNKNOWN\r\n";
	struct proxy_result r;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r.src;

	CU_ASSERT_EQUAL(parse(h6, sizeof(h6) - 1, &r), (int)sizeof(h6) - 1);
	CU_ASSERT_EQUAL(sin6->sin6_family, AF_INET6);
	CU_ASSERT_EQUAL(ntohs(sin6->sin6_port), 1);
	CU_ASSERT_EQUAL(parse(hu, sizeof(hu) - 1, &r), (int)sizeof(hu) - 1);
	CU_ASSERT_EQUAL(r.local, 1);
}

static void
test_v1_bad(void)
{
	static const char *const bad[] = {
		"PROXY TCP4 198.51.100.7 10.0.0.1 51234\r\n",	/* 5 fields */
		"PROXY TCP4 198.51.100.7 10.0.0.1 51234 2222 x\r\n",
		"PROXY TCP4  198.51.100.7 10.0.0.1 1 2\r\n",	/* empty field */
		"PROXY TCP4 198.51.100.7 10.0.0.1 1 2 \r\n",
		"PROXY TCP4 198.51.100.256 10.0.0.1 1 2\r\n",
		"PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n",	/* wrong family */
		"PROXY TCP6 198.51.100.7 2001:db8::1 1 2\r\n",
		"PROXY TCP4 198.51.100.7 10.0.0.1 65536 2\r\n",
		"PROXY TCP4 198.51.100.7 10.0.0.1 01 2\r\n",	/* leading 0 */
		"PROXY TCP4 198.51.100.7 10.0.0.1 -1 2\r\n",
		"PROXY UDP4 198.51.100.7 10.0.0.1 1 2\r\n",
		"PROXY TCP4 198.51.100.7 10.0.0.1 1 2\rX",	/* CR not CRLF */
		"PROXY TCP4 198.51.100.7\t10.0.0.1 1 2\r\n",
		"SSH-2.0-OpenSSH_9.2\r\n",			/* no header */
		"proxy TCP4 198.51.100.7 10.0.0.1 1 2\r\n",
	};
	struct proxy_result r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], strlen(bad[i]), &r) != -1)
			printf("\n  accepted: %s", bad[i]);
		CU_ASSERT_EQUAL(parse(bad[i], strlen(bad[i]), &r), -1);
	}
}

static void
test_v1_too_long(void)
{
	char h[200];
	struct proxy_result r;

	memset(h, 'A', sizeof(h));
	memcpy(h, "PROXY ", 6);
	CU_ASSERT_EQUAL(parse(h, 106, &r), 0);
	CU_ASSERT_EQUAL(parse(h, 107, &r), -1);
	CU_ASSERT_EQUAL(parse(h, sizeof(h), &r), -1);
	/* CR at the last byte: CRLF would make 108 bytes. */
	h[106] = '\r';
	h[107] = '\n';
	CU_ASSERT_EQUAL(parse(h, 108, &r), -1);
}

/* A v2 header: signature, version/command, family, length, body. */
static size_t
v2(uint8_t *out, uint8_t vc, uint8_t fam, const uint8_t *body, size_t len)
{
	static const uint8_t sig[12] = { '\r', '\n', '\r', '\n', 0, '\r',
	    '\n', 'Q', 'U', 'I', 'T', '\n' };

	memcpy(out, sig, 12);
	out[12] = vc;
	out[13] = fam;
	out[14] = (uint8_t)(len >> 8);
	out[15] = (uint8_t)len;
	memcpy(out + 16, body, len);
	return 16 + len;
}

static void
test_v2_tcp4_with_tlv(void)
{
	/* src 198.51.100.7, dst 10.0.0.1, sport 51234, dport 2222, a TLV */
	const uint8_t body[] = { 198, 51, 100, 7, 10, 0, 0, 1, 0xc8, 0x22,
	    0x08, 0xae, 0x04, 0x00, 0x01, 0x00 };
	uint8_t h[64];
	size_t n = v2(h, 0x21, 0x11, body, sizeof(body));
	struct proxy_result r;
	struct sockaddr_in *sin = (struct sockaddr_in *)&r.src;

	CU_ASSERT_EQUAL(parse(h, n, &r), (int)n);
	CU_ASSERT_EQUAL(r.version, 2);
	CU_ASSERT_EQUAL(sin->sin_family, AF_INET);
	CU_ASSERT_EQUAL(ntohs(sin->sin_port), 51234);
	CU_ASSERT_EQUAL(ntohl(sin->sin_addr.s_addr), 0xc6336407u);
	assert_prefixes_wait(h, n);
}

static void
test_v2_tcp6_local(void)
{
	uint8_t body[36], h[64];
	size_t n;
	struct proxy_result r;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r.src;

	memset(body, 0, sizeof(body));
	body[0] = 0x20; body[1] = 0x01; body[2] = 0x0d; body[3] = 0xb8;
	body[15] = 7;
	body[32] = 0x12; body[33] = 0x34;
	n = v2(h, 0x21, 0x21, body, sizeof(body));
	CU_ASSERT_EQUAL(parse(h, n, &r), (int)n);
	CU_ASSERT_EQUAL(sin6->sin6_family, AF_INET6);
	CU_ASSERT_EQUAL(ntohs(sin6->sin6_port), 0x1234);
	CU_ASSERT_EQUAL(sin6->sin6_addr.s6_addr[15], 7);
	n = v2(h, 0x20, 0x00, body, 0);		/* LOCAL: a health check */
	CU_ASSERT_EQUAL(parse(h, n, &r), 16);
	CU_ASSERT_EQUAL(r.local, 1);
}

static void
test_v2_bad(void)
{
	uint8_t body[600], h[700];
	struct proxy_result r;

	memset(body, 0, sizeof(body));
	CU_ASSERT_EQUAL(parse(h, v2(h, 0x11, 0x11, body, 12), &r), -1);	/* v1 */
	CU_ASSERT_EQUAL(parse(h, v2(h, 0x22, 0x11, body, 12), &r), -1);	/* cmd 2 */
	CU_ASSERT_EQUAL(parse(h, v2(h, 0x21, 0x12, body, 12), &r), -1);	/* UDP */
	CU_ASSERT_EQUAL(parse(h, v2(h, 0x21, 0x31, body, 216), &r), -1);	/* unix */
	CU_ASSERT_EQUAL(parse(h, v2(h, 0x21, 0x11, body, 11), &r), -1);	/* short */
	CU_ASSERT_EQUAL(parse(h, v2(h, 0x21, 0x21, body, 35), &r), -1);
	/* Longer than PROXY_MAX_HEADER: refused from its length alone. */
	CU_ASSERT_EQUAL(parse(h, 16, &r), 0);
	v2(h, 0x21, 0x11, body, 600);
	CU_ASSERT_EQUAL(parse(h, 16, &r), -1);
	h[5] = 'X';				/* broken signature */
	CU_ASSERT_EQUAL(parse(h, 16, &r), -1);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "v1 TCP4, byte by byte", test_v1_tcp4 },
		{ "v1 TCP6 and UNKNOWN", test_v1_tcp6_unknown },
		{ "v1 malformed", test_v1_bad },
		{ "v1 over 107 bytes", test_v1_too_long },
		{ "v2 TCP4 with a TLV, byte by byte", test_v2_tcp4_with_tlv },
		{ "v2 TCP6 and LOCAL", test_v2_tcp6_local },
		{ "v2 malformed", test_v2_bad },
		UNIT_END,
	};

	return unit_run(argc, argv, "proxy", tests);
}
