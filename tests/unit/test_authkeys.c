/*
 * test_authkeys.c - authorized_keys lines and the SSH wire helpers under
 * them (strict base64, ssh-keygen fingerprints, blob parsing).
 *
 * The keys are real ones made with ssh-keygen for this test; each expected
 * fingerprint is what "ssh-keygen -lf" printed for it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "authkeys.h"
#include "buf.h"
#include "sshwire.h"
#include "runner.h"

#define BLOB_MAX	4096
#define TEXT_MAX	8192

static const char key_ed25519[] = "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIJL2caz85W7nHbvPdyt9RJm5dcvBCsH9ILDGjnNfd2mH "
    "alice@test";
static const char fp_ed25519[] =
    "SHA256:6AhPnsFrPj0MS65F0DBq4gk1c+HHf4eF6mhvOIM8Ud4";

static const char key_rsa[] = "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAABAQDbcg29LSvZzZYNRYUm+6JmmUe4eXP/EvFw4X4AOII"
    "bpKy0iOf+JfnQs3fX64Vn4cKx9qTY5oMZZMgMYGTi1u14qgiBRc3jbyKZHZI0V02dy8ouxs"
    "NyZ66n3FrgGtUem2DqYiWNmyo9zubRR4nFL6EI0dbNRIcj9dxph0+sxZSRRx5kr59JbgX7r"
    "LCwR3nPf863EBrMKb78fYI+7WB0gcFd6lkBqT4ap2IlxXsKfkRezuvCilZ/EsabUwuNvfsf"
    "+qjHb6ATDKx6VvWqY/083sgTjLoDUW3Myw9y1NayKDmIS3IqNeIaLlMO/LFgIbT8uSmwUkL"
    "cdvu4VG2CJ8Pi8jIv rsa@test";
static const char fp_rsa[] =
    "SHA256:zh5hZB6QhJxXZK1fKuybWWZx6HkgtS3nJADRFF3Df78";

static const char key_p256[] = "ecdsa-sha2-nistp256 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBA2rkki+6Yb+Y/s4e8v"
    "X1x/tXvQZiDpyDnj+g4ebLvvct0bM/bdRYbfYW5lPR45K0ppnhMNmcMQC0L6c1mnZ2c4= "
    "e256@test";
static const char fp_p256[] =
    "SHA256:FLEVJBjpnqn2/HkeqrzuzlbBpxTCHUatPYc6BEOUwZA";

static const char key_p384[] = "ecdsa-sha2-nistp384 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBDMNsaZCxX+3bQu0VTX"
    "1FSj1O8N+wFD9QZSJulWQdGfMFDtQbt53zOkj/em4iKmUvugGYp29KoBXwF20NaV2y6bNpR"
    "06OyGdH+i33VbjAdu7qcR+fplpaX48kkrtzzl1rA== e384@test";
static const char fp_p384[] =
    "SHA256:/I+QA5SsXZLR/B8qAFLIf3/kgTBT8aiUOnTBM6x05Mc";

static const char key_p521[] = "ecdsa-sha2-nistp521 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAHTg82pS2Ip8zWA10h"
    "zAB8oAE/w2xL1nAXQf0K750YxQV6QFAFlIoS/j6bM/onXO6caKyUulvQozjRLjn+EkcCGzQ"
    "GQ5b32jJ42I926ebcCpR1L1rhTWdHOOVWw5q8whdaSIr1vklVOJ6813WpfZNub/q4TMFynD"
    "TySZJ4GjpKf4atXyA== e521@test";
static const char fp_p521[] =
    "SHA256:Bg356CIZk4KieclcrbIyEtgVskdfwjoVWZeOT/GyGdw";

/* The base64 field of an ssh-ed25519 line, and that key's raw bytes. */
static const char b64_ed25519[] =
    "AAAAC3NzaC1lZDI1NTE5AAAAIJL2caz85W7nHbvPdyt9RJm5dcvBCsH9ILDGjnNfd2mH";

/* Parse line and expect success with type and fingerprint. */
static void
expect_key(const char *line, const char *type, const char *fp,
    const char *comment)
{
	struct authkey k;
	const char *why = NULL;
	int rc;

	rc = authkey_parse_line(line, &k, &why);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "\n    unexpected refusal: %s\n", why);
		return;
	}
	CU_ASSERT_PTR_NULL(why);
	CU_ASSERT_STRING_EQUAL(k.type, type);
	CU_ASSERT_STRING_EQUAL(k.fp, fp);
	if (comment == NULL) {
		CU_ASSERT_PTR_NULL(k.comment);
	} else if (k.comment != NULL) {
		CU_ASSERT_STRING_EQUAL(k.comment, comment);
	} else {
		CU_FAIL("comment missing");
	}
	CU_ASSERT(k.bloblen > 0);
	authkey_free(&k);
	CU_ASSERT_PTR_NULL(k.blob);
	CU_ASSERT_PTR_NULL(k.comment);
}

/* Parse line and expect a refusal whose reason holds want. */
static void
expect_refused(const char *line, const char *want)
{
	struct authkey k;
	const char *why = NULL;
	int rc;

	rc = authkey_parse_line(line, &k, &why);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_PTR_NOT_NULL(why);
	CU_ASSERT_PTR_NULL(k.blob);
	CU_ASSERT_PTR_NULL(k.comment);
	if (rc == 0)
		authkey_free(&k);
	if (why != NULL && strstr(why, want) == NULL) {
		fprintf(stderr, "\n    reason \"%s\" lacks \"%s\"\n", why,
		    want);
		CU_FAIL("wrong reason");
	}
}

/* "type <base64 of blob>" */
static void
line_for_blob(const char *type, const struct buf *blob, char *line,
    size_t linesz)
{
	char b64[TEXT_MAX / 2];
	int n;

	CU_ASSERT_FATAL(b64_encode(blob->data, blob->len, b64,
	    sizeof(b64)) > 0);
	n = snprintf(line, linesz, "%s %s", type, b64);
	CU_ASSERT_FATAL(n > 0 && (size_t)n < linesz);
}

static void
ed25519_raw(uint8_t pub[ED25519_PUB_LEN])
{
	uint8_t blob[BLOB_MAX];
	size_t n;

	CU_ASSERT_FATAL(b64_decode(b64_ed25519, strlen(b64_ed25519), blob,
	    sizeof(blob), &n) == 0);
	CU_ASSERT_FATAL(sshwire_ed25519_pub(blob, n, pub) == 0);
}

/* --- good keys -------------------------------------------------------- */

static void
test_good_keys(void)
{
	expect_key(key_ed25519, "ssh-ed25519", fp_ed25519, "alice@test");
	expect_key(key_rsa, "ssh-rsa", fp_rsa, "rsa@test");
	expect_key(key_p256, "ecdsa-sha2-nistp256", fp_p256, "e256@test");
	expect_key(key_p384, "ecdsa-sha2-nistp384", fp_p384, "e384@test");
	expect_key(key_p521, "ecdsa-sha2-nistp521", fp_p521, "e521@test");
}

static void
test_comment_and_spacing(void)
{
	char line[TEXT_MAX];

	snprintf(line, sizeof(line), "ssh-ed25519 %s", b64_ed25519);
	expect_key(line, "ssh-ed25519", fp_ed25519, NULL);
	snprintf(line, sizeof(line), "  \tssh-ed25519\t %s  my laptop key \r\n",
	    b64_ed25519);
	expect_key(line, "ssh-ed25519", fp_ed25519, "my laptop key");
	snprintf(line, sizeof(line), "ssh-ed25519 %s \n", b64_ed25519);
	expect_key(line, "ssh-ed25519", fp_ed25519, NULL);
}

static void
test_blank_and_comment_lines(void)
{
	static const char *const lines[] = {
		"", "   ", "\t\n", "\n", "# a comment", "   # indented comment",
		"#ssh-ed25519 AAAA",
	};
	struct authkey k;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		why = "unset";
		CU_ASSERT_EQUAL(authkey_parse_line(lines[i], &k, &why), 1);
		CU_ASSERT_PTR_NULL(k.blob);
		CU_ASSERT_PTR_NULL(why);
	}
}

/* --- refusals --------------------------------------------------------- */

static void
test_options_refused(void)
{
	char line[TEXT_MAX];
	static const char *const options[] = {
		"restrict", "no-pty", "from=\"10.0.0.0/8\"",
		"command=\"/bin/echo hello world\"",
		"no-agent-forwarding,no-pty",
		"environment=\"A=b c\",restrict",
	};
	size_t i;

	for (i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		snprintf(line, sizeof(line), "%s %s", options[i], key_ed25519);
		expect_refused(line,
		    "key options are not supported; remove them");
	}
	/* An option string alone, with no key type recognisable after it. */
	expect_refused("from=\"a\" AAAA", "key options are not supported");
}

static void
test_refused_types(void)
{
	expect_refused("ssh-dss AAAAB3NzaC1kc3MAAACBAP dsa", "DSA");
	expect_refused("sk-ssh-ed25519@openssh.com AAAA sk", "security key");
	expect_refused("sk-ecdsa-sha2-nistp256@openssh.com AAAA sk",
	    "security key");
	expect_refused("ssh-ed25519-cert-v01@openssh.com AAAA cert",
	    "certificates");
	expect_refused("ssh-rsa-cert-v01@openssh.com AAAA cert",
	    "certificates");
	expect_refused("restrict ssh-dss AAAA", "key options");
	expect_refused("ssh-foo AAAA", "unknown key type");
	expect_refused("AAAAC3NzaC1lZDI1NTE5", "unknown key type");
}

static void
test_type_mismatch(void)
{
	char line[TEXT_MAX];

	snprintf(line, sizeof(line), "ssh-rsa %s alice", b64_ed25519);
	expect_refused(line, "does not match");
	snprintf(line, sizeof(line), "ecdsa-sha2-nistp256 %s alice",
	    b64_ed25519);
	expect_refused(line, "does not match");
}

static void
test_bad_base64(void)
{
	char line[TEXT_MAX];

	expect_refused("ssh-ed25519", "missing key data");
	expect_refused("ssh-ed25519   ", "missing key data");
	expect_refused("ssh-ed25519 AAAA!!!! x", "base64");
	expect_refused("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5A", "base64");
	/* Non-zero bits after the last byte. */
	expect_refused("ssh-ed25519 AAB= x", "base64");
	/* Padding in the middle. */
	expect_refused("ssh-ed25519 AA==AAAA x", "base64");
	/* Too long to be any key we take. */
	memset(line, 'A', sizeof(line) - 1);
	memcpy(line, "ssh-rsa ", 8);
	line[sizeof(line) - 1] = '\0';
	expect_refused(line, "too long");
}

static void
test_truncated_blob(void)
{
	uint8_t pub[ED25519_PUB_LEN];
	char line[TEXT_MAX];
	struct buf b;

	ed25519_raw(pub);
	/* The key string says 32 bytes but 31 follow. */
	buf_init(&b, BLOB_MAX);
	buf_put_cstring(&b, "ssh-ed25519");
	buf_put_u32(&b, ED25519_PUB_LEN);
	buf_put(&b, pub, ED25519_PUB_LEN - 1);
	line_for_blob("ssh-ed25519", &b, line, sizeof(line));
	expect_refused(line, "malformed ssh-ed25519 key");
	buf_free(&b);

	/* A key string of 31 bytes. */
	buf_init(&b, BLOB_MAX);
	buf_put_cstring(&b, "ssh-ed25519");
	buf_put_string(&b, pub, ED25519_PUB_LEN - 1);
	line_for_blob("ssh-ed25519", &b, line, sizeof(line));
	expect_refused(line, "malformed ssh-ed25519 key");
	buf_free(&b);

	/* The type alone. */
	buf_init(&b, BLOB_MAX);
	buf_put_cstring(&b, "ssh-ed25519");
	line_for_blob("ssh-ed25519", &b, line, sizeof(line));
	expect_refused(line, "malformed");
	buf_free(&b);
}

static void
test_trailing_junk(void)
{
	uint8_t pub[ED25519_PUB_LEN];
	char line[TEXT_MAX];
	struct buf b;

	ed25519_raw(pub);
	buf_init(&b, BLOB_MAX);
	sshwire_put_ed25519_blob(&b, pub);
	buf_put_u8(&b, 0);
	line_for_blob("ssh-ed25519", &b, line, sizeof(line));
	expect_refused(line, "trailing");
	buf_free(&b);
}

/* An RSA blob from raw e and n bytes, as mpints exactly as given. */
static void
rsa_line(const uint8_t *e, size_t elen, const uint8_t *n, size_t nlen,
    char *line, size_t linesz)
{
	struct buf b;

	buf_init(&b, BLOB_MAX);
	buf_put_cstring(&b, "ssh-rsa");
	buf_put_string(&b, e, elen);
	buf_put_string(&b, n, nlen);
	line_for_blob("ssh-rsa", &b, line, linesz);
	buf_free(&b);
}

/* A minimal well-formed RSA blob built by hand is accepted. */
static void
test_rsa_structure(void)
{
	static const uint8_t e[] = { 0x01, 0x00, 0x01 };
	uint8_t n[1 + 256];
	char line[TEXT_MAX];
	struct authkey k;
	const char *why;

	memset(n, 0xc5, sizeof(n));
	n[0] = 0;	/* sign byte for a 2048-bit modulus */
	rsa_line(e, sizeof(e), n, sizeof(n), line, sizeof(line));
	CU_ASSERT_EQUAL_FATAL(authkey_parse_line(line, &k, &why), 0);
	CU_ASSERT_STRING_EQUAL(k.type, "ssh-rsa");
	CU_ASSERT_EQUAL(strlen(k.fp), AUTHKEY_FP_LEN - 1);
	CU_ASSERT(strncmp(k.fp, "SHA256:", 7) == 0);
	authkey_free(&k);
}

static void
test_rsa_bad(void)
{
	static const uint8_t e[] = { 0x01, 0x00, 0x01 };
	static const uint8_t e_neg[] = { 0x81 };
	static const uint8_t e_pad[] = { 0x00, 0x01 };
	uint8_t n[1 + 256], small[1 + 64];
	char line[TEXT_MAX];

	memset(n, 0xc5, sizeof(n));
	n[0] = 0;
	rsa_line(e_neg, sizeof(e_neg), n, sizeof(n), line, sizeof(line));
	expect_refused(line, "malformed ssh-rsa key");
	rsa_line(e_pad, sizeof(e_pad), n, sizeof(n), line, sizeof(line));
	expect_refused(line, "malformed ssh-rsa key");
	/* A modulus with its sign bit set reads as negative. */
	rsa_line(e, sizeof(e), n + 1, sizeof(n) - 1, line, sizeof(line));
	expect_refused(line, "malformed ssh-rsa key");
	rsa_line(e, sizeof(e), n, 0, line, sizeof(line));
	expect_refused(line, "malformed ssh-rsa key");
	memset(small, 0xc5, sizeof(small));
	small[0] = 0;
	rsa_line(e, sizeof(e), small, sizeof(small), line, sizeof(line));
	expect_refused(line, "too small");
}

/* "ssh-rsa" line of an odd modulus of bits bits (no key behind it) and
 * exponent e as an mpint. */
static void
rsa_bits_line(int bits, const uint8_t *e, size_t elen, char *line,
    size_t linesz)
{
	uint8_t n[1 + 2048 + 8];
	size_t nlen = (size_t)(bits + 7) / 8;

	CU_ASSERT_FATAL(nlen < sizeof(n));
	memset(n, 0xc5, sizeof(n));
	n[0] = 0;
	n[1] = (uint8_t)(bits % 8 == 0 ? 0xc5 : (1u << (bits % 8)) - 1);
	if (n[1] & 0x80)
		rsa_line(e, elen, n, nlen + 1, line, linesz);
	else
		rsa_line(e, elen, n + 1, nlen, line, linesz);
}

static const uint8_t e_65537[] = { 0x01, 0x00, 0x01 };

/* e odd, 3 <= e < 2^32: e = 1 lets anyone forge signatures. */
static void
test_rsa_exponent(void)
{
	static const struct {
		uint8_t e[5];
		size_t len;
		int ok;
	} cases[] = {
		{ { 0x01 }, 1, 0 },				/* 1 */
		{ { 0x02 }, 1, 0 },				/* 2 */
		{ { 0x01, 0x00, 0x00, 0x00, 0x00 }, 5, 0 },	/* 2^32 */
		{ { 0x01, 0x00, 0x00, 0x00, 0x01 }, 5, 0 },	/* 2^32 + 1 */
		{ { 0x01, 0x00, 0x00 }, 3, 0 },			/* even */
		{ { 0x03 }, 1, 1 },
		{ { 0x01, 0x00, 0x01 }, 3, 1 },
		{ { 0x00, 0xff, 0xff, 0xff, 0xff }, 5, 1 },	/* 2^32 - 1 */
	};
	char line[TEXT_MAX];
	struct authkey k;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rsa_bits_line(2048, cases[i].e, cases[i].len, line,
		    sizeof(line));
		if (!cases[i].ok) {
			expect_refused(line, "exponent must be odd, at least 3 "
			    "and under 2^32");
			continue;
		}
		CU_ASSERT_EQUAL(authkey_parse_line(line, &k, &why), 0);
		authkey_free(&k);
	}
	rsa_bits_line(2048, (const uint8_t *)"\x01", 1, line, sizeof(line));
	expect_refused(line, "ssh-rsa key with public exponent e = 1 is "
	    "refused");
}

/* 2048 bits by default; limits.rsa_min_bits lowers it, not under 1024. */
static void
test_rsa_min_bits(void)
{
	char line[TEXT_MAX];
	struct authkey k;
	const char *why;

	rsa_bits_line(1024, e_65537, sizeof(e_65537), line, sizeof(line));
	expect_refused(line, "ssh-rsa key of 1024 bits is too small: "
	    "limits.rsa_min_bits is 2048; use ssh-ed25519 or a 3072-bit RSA "
	    "key, or lower limits.rsa_min_bits to 1024");
	CU_ASSERT_EQUAL(authkey_parse_line_min(line, 1024, &k, &why), 0);
	CU_ASSERT_STRING_EQUAL(k.type, "ssh-rsa");
	authkey_free(&k);
	CU_ASSERT_EQUAL(authkey_parse_line_min(line, 1025, &k, &why), -1);

	rsa_bits_line(2047, e_65537, sizeof(e_65537), line, sizeof(line));
	expect_refused(line, "2047 bits is too small");
	rsa_bits_line(1023, e_65537, sizeof(e_65537), line, sizeof(line));
	CU_ASSERT_EQUAL(authkey_parse_line_min(line, 1024, &k, &why), -1);
	CU_ASSERT_PTR_NOT_NULL(why != NULL ? strstr(why,
	    "no setting allows under 1024 bits") : NULL);

	rsa_bits_line(4095, e_65537, sizeof(e_65537), line, sizeof(line));
	CU_ASSERT_EQUAL(authkey_parse_line(line, &k, &why), 0);
	authkey_free(&k);
	CU_ASSERT_EQUAL(authkey_parse_line_min(line, 4096, &k, &why), -1);
	CU_ASSERT_PTR_NOT_NULL(why != NULL ? strstr(why,
	    "limits.rsa_min_bits is 4096") : NULL);

	/* Ed25519 and ECDSA keys know no such bound. */
	CU_ASSERT_EQUAL(authkey_parse_line_min(key_ed25519, 8192, &k, &why),
	    0);
	authkey_free(&k);
	CU_ASSERT_EQUAL(authkey_parse_line_min(key_p521, 8192, &k, &why), 0);
	authkey_free(&k);
}

/* At most 8192 bits, whatever rsa_min_bits says; a 16384-bit key is
 * told it is too large (not that its text is too long). */
static void
test_rsa_max_bits(void)
{
	char line[TEXT_MAX];
	struct authkey k;
	const char *why;

	rsa_bits_line(8192, e_65537, sizeof(e_65537), line, sizeof(line));
	CU_ASSERT_EQUAL(authkey_parse_line(line, &k, &why), 0);
	authkey_free(&k);
	CU_ASSERT_EQUAL(authkey_parse_line_min(line, 8192, &k, &why), 0);
	authkey_free(&k);
	rsa_bits_line(8193, e_65537, sizeof(e_65537), line, sizeof(line));
	expect_refused(line, "ssh-rsa key of 8193 bits is too large: at most "
	    "8192 bits are accepted");
	rsa_bits_line(12000, e_65537, sizeof(e_65537), line, sizeof(line));
	expect_refused(line, "12000 bits is too large");
	rsa_bits_line(16384, e_65537, sizeof(e_65537), line, sizeof(line));
	expect_refused(line, "16384 bits is too large");
}

static void
test_ecdsa_bad(void)
{
	uint8_t point[1 + 2 * 32];
	char line[TEXT_MAX];
	struct buf b;

	memset(point, 0x11, sizeof(point));
	point[0] = 0x04;
	/* Curve named in the blob is not the type's. */
	buf_init(&b, BLOB_MAX);
	buf_put_cstring(&b, "ecdsa-sha2-nistp256");
	buf_put_cstring(&b, "nistp384");
	buf_put_string(&b, point, sizeof(point));
	line_for_blob("ecdsa-sha2-nistp256", &b, line, sizeof(line));
	expect_refused(line, "curve");
	buf_free(&b);
	/* A compressed point. */
	point[0] = 0x02;
	buf_init(&b, BLOB_MAX);
	buf_put_cstring(&b, "ecdsa-sha2-nistp256");
	buf_put_cstring(&b, "nistp256");
	buf_put_string(&b, point, sizeof(point));
	line_for_blob("ecdsa-sha2-nistp256", &b, line, sizeof(line));
	expect_refused(line, "point");
	buf_free(&b);
	/* A point of the wrong size. */
	point[0] = 0x04;
	buf_init(&b, BLOB_MAX);
	buf_put_cstring(&b, "ecdsa-sha2-nistp256");
	buf_put_cstring(&b, "nistp256");
	buf_put_string(&b, point, sizeof(point) - 1);
	line_for_blob("ecdsa-sha2-nistp256", &b, line, sizeof(line));
	expect_refused(line, "point");
	buf_free(&b);
}

/* --- sshwire ---------------------------------------------------------- */

static void
test_b64_strict(void)
{
	uint8_t out[16];
	size_t n;

	CU_ASSERT_EQUAL(b64_decode("Zm9v", 4, out, sizeof(out), &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT(memcmp(out, "foo", 3) == 0);
	CU_ASSERT_EQUAL(b64_decode("Zm8=", 4, out, sizeof(out), &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(b64_decode("Zm8", 3, out, sizeof(out), &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(b64_decode("Zg==", 4, out, sizeof(out), &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(b64_decode("Zg", 2, out, sizeof(out), &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(b64_decode("", 0, out, sizeof(out), &n), 0);
	CU_ASSERT_EQUAL(n, 0);

	CU_ASSERT_EQUAL(b64_decode("Zm9v ", 5, out, sizeof(out), &n), -1);
	CU_ASSERT_EQUAL(b64_decode("Zm\n9v", 5, out, sizeof(out), &n), -1);
	CU_ASSERT_EQUAL(b64_decode("Zm9-", 4, out, sizeof(out), &n), -1);
	CU_ASSERT_EQUAL(b64_decode("Z", 1, out, sizeof(out), &n), -1);
	CU_ASSERT_EQUAL(b64_decode("Zg=", 3, out, sizeof(out), &n), -1);
	CU_ASSERT_EQUAL(b64_decode("Zg===", 5, out, sizeof(out), &n), -1);
	CU_ASSERT_EQUAL(b64_decode("Z===", 4, out, sizeof(out), &n), -1);
	CU_ASSERT_EQUAL(b64_decode("Zg==Zg==", 8, out, sizeof(out), &n), -1);
	/* Non-zero bits past the last byte: a second spelling of "f". */
	CU_ASSERT_EQUAL(b64_decode("Zh==", 4, out, sizeof(out), &n), -1);
	/* Output too small. */
	CU_ASSERT_EQUAL(b64_decode("Zm9v", 4, out, 2, &n), -1);
}

static void
test_b64_encode(void)
{
	char out[16];

	CU_ASSERT_EQUAL(b64_encode((const uint8_t *)"foo", 3, out,
	    sizeof(out)), 4);
	CU_ASSERT_STRING_EQUAL(out, "Zm9v");
	CU_ASSERT_EQUAL(b64_encode((const uint8_t *)"fo", 2, out,
	    sizeof(out)), 4);
	CU_ASSERT_STRING_EQUAL(out, "Zm8=");
	CU_ASSERT_EQUAL(b64_encode((const uint8_t *)"f", 1, out,
	    sizeof(out)), 4);
	CU_ASSERT_STRING_EQUAL(out, "Zg==");
	/* Needs 5 bytes with the NUL. */
	CU_ASSERT_EQUAL(b64_encode((const uint8_t *)"foo", 3, out, 4), 0);
	CU_ASSERT_EQUAL(b64_encode((const uint8_t *)"foo", 3, out, 5), 4);
}

static void
test_fingerprint_and_blob(void)
{
	uint8_t blob[BLOB_MAX], pub[ED25519_PUB_LEN];
	char fp[SSHWIRE_FP_LEN], type[32];
	struct buf b;
	size_t n;

	CU_ASSERT_FATAL(b64_decode(b64_ed25519, strlen(b64_ed25519), blob,
	    sizeof(blob), &n) == 0);
	sshwire_fingerprint(blob, n, fp, sizeof(fp));
	CU_ASSERT_STRING_EQUAL(fp, fp_ed25519);
	authkey_fingerprint(blob, n, fp, sizeof(fp));
	CU_ASSERT_STRING_EQUAL(fp, fp_ed25519);
	/* Too small a buffer gives an empty string, never a cut one. */
	sshwire_fingerprint(blob, n, fp, 20);
	CU_ASSERT_STRING_EQUAL(fp, "");
	CU_ASSERT_EQUAL(sshwire_blob_type(blob, n, type, sizeof(type)), 0);
	CU_ASSERT_STRING_EQUAL(type, "ssh-ed25519");
	CU_ASSERT_EQUAL(sshwire_blob_type(blob, n, type, 5), -1);
	CU_ASSERT_EQUAL(sshwire_blob_type(blob, 3, type, sizeof(type)), -1);

	CU_ASSERT_EQUAL(sshwire_ed25519_pub(blob, n, pub), 0);
	buf_init(&b, BLOB_MAX);
	sshwire_put_ed25519_blob(&b, pub);
	CU_ASSERT_EQUAL(b.len, n);
	CU_ASSERT(memcmp(b.data, blob, n) == 0);
	buf_put_u8(&b, 0);
	CU_ASSERT_EQUAL(sshwire_ed25519_pub(b.data, b.len, pub), -1);
	CU_ASSERT_EQUAL(sshwire_ed25519_pub(b.data, n - 1, pub), -1);
	buf_free(&b);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "good keys of each type", test_good_keys },
		{ "comment and spacing", test_comment_and_spacing },
		{ "blank and comment lines", test_blank_and_comment_lines },
		{ "options refused", test_options_refused },
		{ "refused key types", test_refused_types },
		{ "type mismatch", test_type_mismatch },
		{ "bad base64", test_bad_base64 },
		{ "truncated blob", test_truncated_blob },
		{ "trailing junk in blob", test_trailing_junk },
		{ "rsa structure", test_rsa_structure },
		{ "rsa malformed", test_rsa_bad },
		{ "rsa exponent bounds", test_rsa_exponent },
		{ "rsa modulus minimum, limits.rsa_min_bits",
		    test_rsa_min_bits },
		{ "rsa modulus maximum", test_rsa_max_bits },
		{ "ecdsa malformed", test_ecdsa_bad },
		{ "strict base64 decode", test_b64_strict },
		{ "base64 encode", test_b64_encode },
		{ "fingerprint and blob helpers", test_fingerprint_and_blob },
		UNIT_END,
	};

	return unit_run(argc, argv, "authkeys", tests);
}
