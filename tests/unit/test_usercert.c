/*
 * test_usercert.c - the monitor's parser and checker of client user
 * certificates (monitor/usercert.c), fed certificates that the real
 * ssh-keygen -s makes at test time, and blobs broken on purpose:
 * truncated at every length, a changed byte, bytes after the end, a huge
 * length, a plain key, a host certificate.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "buf.h"
#include "monitor/usercert.h"
#include "sshwire.h"
#include "keyfiles.h"
#include "runner.h"

#define MAXBLOB	8192
#define MIN_BITS	2048
/* -V 20200101:20200102 in UTC, as ssh-keygen writes it with TZ=UTC */
#define T_2020_01_01	1577836800ULL
#define T_2020_01_02	1577923200ULL

static char dir[] = "/tmp/test_usercert.XXXXXX";

/* Certify key (a name in dir) with ca as name-cert.pub: opts are
 * ssh-keygen's. */
static size_t
make_cert(const char *name, const char *ca, const char *key,
    const char *opts, uint8_t *out)
{
	char file[128];

	kf_run("cd %s && cp %s %s.pub.tmp && mv %s.pub.tmp %s.pub && "
	    "TZ=UTC ssh-keygen -q -s %s -I id-%s -z 42 %s %s.pub",
	    dir, key, name, name, name, ca, name, opts, name);
	snprintf(file, sizeof(file), "%s-cert.pub", name);
	return kf_read_blob(dir, file, out, MAXBLOB);
}

static uint8_t ca_blob[MAXBLOB], ca2_blob[MAXBLOB], ca3_blob[MAXBLOB];
static size_t ca_len, ca2_len, ca3_len;

/* ca, ca2 (ECDSA P-256) and ca_rsa; ncas says how many are trusted */
static struct usercert_ca cas[3];
static size_t ncas = 2;

static enum usercert_verdict
check(const uint8_t *blob, size_t len, const char *user, const char *ip,
    uint64_t now)
{
	struct usercert uc;
	const char *why;
	char whybuf[320];

	if (usercert_parse(blob, len, MIN_BITS, &uc, &why) != 0)
		return USERCERT_MALFORMED;
	return usercert_check(&uc, user, ip, now, cas, ncas, MIN_BITS, whybuf,
	    sizeof(whybuf));
}

static uint64_t
now(void)
{
	return (uint64_t)time(NULL);
}

static void
test_good(void)
{
	uint8_t blob[MAXBLOB], key[MAXBLOB];
	size_t len, klen;
	struct usercert uc;
	const char *why;
	char fp[SSHWIRE_FP_LEN], whybuf[320];

	len = make_cert("good", "ca", "user.pub", "-n frank,bob", blob);
	CU_ASSERT_EQUAL_FATAL(usercert_parse(blob, len, MIN_BITS, &uc, &why),
	    0);
	CU_ASSERT_EQUAL(uc.type, USERCERT_TYPE_USER);
	CU_ASSERT_EQUAL(uc.serial, 42);
	CU_ASSERT_STRING_EQUAL(uc.key_id, "id-good");
	/* The certified key's own fingerprint, not the blob's. */
	klen = kf_read_blob(dir, "user.pub", key, MAXBLOB);
	CU_ASSERT_EQUAL(uc.key_blob_len, klen);
	CU_ASSERT(memcmp(uc.key_blob, key, klen) == 0);
	sshwire_fingerprint(key, klen, fp, sizeof(fp));
	CU_ASSERT_STRING_EQUAL(uc.key_fp, fp);
	sshwire_fingerprint(ca_blob, ca_len, fp, sizeof(fp));
	CU_ASSERT_STRING_EQUAL(uc.ca_fp, fp);
	/* ssh-keygen's default extensions, all of them. */
	CU_ASSERT_EQUAL(uc.ext, USERCERT_EXT_PTY | USERCERT_EXT_PORT_FWD |
	    USERCERT_EXT_AGENT_FWD | USERCERT_EXT_X11_FWD |
	    USERCERT_EXT_USER_RC);
	CU_ASSERT_EQUAL(usercert_check(&uc, "frank", "127.0.0.1", now(), cas,
	    2, MIN_BITS, whybuf, sizeof(whybuf)), USERCERT_OK);
	CU_ASSERT_EQUAL(usercert_check(&uc, "bob", "::1", now(), cas, 2,
	    MIN_BITS, whybuf, sizeof(whybuf)), USERCERT_OK);
	CU_ASSERT_EQUAL(usercert_check(&uc, "fran", "127.0.0.1", now(), cas,
	    2, MIN_BITS, whybuf, sizeof(whybuf)), USERCERT_PRINCIPAL);
	CU_ASSERT_EQUAL(usercert_check(&uc, "frank", "127.0.0.1", now(), cas,
	    0, MIN_BITS, whybuf, sizeof(whybuf)), USERCERT_UNTRUSTED_CA);
}

static void
test_rsa_ecdsa(void)
{
	uint8_t blob[MAXBLOB];
	size_t len;

	/* An RSA user key under an ECDSA CA, an ECDSA key under the RSA CA
	 * (rsa-sha2-512, ssh-keygen's default for an RSA CA). */
	len = make_cert("rsa", "ca2", "user_rsa.pub", "-n frank", blob);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1", now()),
	    USERCERT_OK);
	len = make_cert("ec", "ca_rsa", "user_ec.pub", "-n frank", blob);
	/* ca_rsa is not trusted, then it is */
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1", now()),
	    USERCERT_UNTRUSTED_CA);
	ncas = 3;
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1", now()),
	    USERCERT_OK);
	blob[len - 1] ^= 1;
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1", now()),
	    USERCERT_BAD_SIGNATURE);
	/* A SHA-1 "ssh-rsa" CA signature is refused. */
	len = make_cert("ecsha1", "ca_rsa", "user_ec.pub",
	    "-t ssh-rsa -n frank", blob);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1", now()),
	    USERCERT_BAD_SIGNATURE);
	ncas = 2;
}

static void
test_validity(void)
{
	uint8_t blob[MAXBLOB];
	size_t len;

	len = make_cert("dated", "ca", "user.pub",
	    "-n frank -V 20200101:20200102", blob);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1",
	    T_2020_01_01 - 1), USERCERT_NOT_YET_VALID);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1",
	    T_2020_01_01), USERCERT_OK);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1",
	    T_2020_01_02 - 1), USERCERT_OK);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1",
	    T_2020_01_02), USERCERT_EXPIRED);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1", now()),
	    USERCERT_EXPIRED);
}

static void
test_options(void)
{
	uint8_t blob[MAXBLOB];
	size_t len;
	struct usercert uc;
	const char *why;

	len = make_cert("src", "ca", "user.pub",
	    "-n frank -O source-address=10.0.0.0/8,127.0.0.1/32,::1", blob);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1", now()),
	    USERCERT_OK);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "10.200.1.2", now()),
	    USERCERT_OK);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "::1", now()),
	    USERCERT_OK);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.2", now()),
	    USERCERT_SOURCE_ADDRESS);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "::2", now()),
	    USERCERT_SOURCE_ADDRESS);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "", now()),
	    USERCERT_SOURCE_ADDRESS);
	len = make_cert("src2", "ca", "user.pub",
	    "-n frank -O source-address=127.0.0.2/32", blob);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1", now()),
	    USERCERT_SOURCE_ADDRESS);
	len = make_cert("force", "ca", "user.pub",
	    "-n frank -O force-command=/bin/true", blob);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1", now()),
	    USERCERT_CRITICAL_OPTION);
	len = make_cert("nopty", "ca", "user.pub",
	    "-n frank -O clear -O permit-agent-forwarding", blob);
	CU_ASSERT_EQUAL_FATAL(usercert_parse(blob, len, MIN_BITS, &uc, &why),
	    0);
	CU_ASSERT_EQUAL(uc.ext, USERCERT_EXT_AGENT_FWD);
	/* No principals names nobody; a host certificate is no user's. */
	len = make_cert("noprinc", "ca", "user.pub", "", blob);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1", now()),
	    USERCERT_PRINCIPAL);
	len = make_cert("host", "ca", "user.pub", "-h -n frank", blob);
	CU_ASSERT_EQUAL(check(blob, len, "frank", "127.0.0.1", now()),
	    USERCERT_NOT_USER);
}

static void
test_broken(void)
{
	uint8_t blob[MAXBLOB], bad[MAXBLOB + 16];
	size_t len, i, n;
	struct usercert uc;
	const char *why;
	struct buf b;

	len = make_cert("broken", "ca", "user.pub", "-n frank", blob);
	/* Truncated at every length. */
	for (i = 0; i < len; i++)
		CU_ASSERT_NOT_EQUAL(usercert_parse(blob, i, MIN_BITS, &uc,
		    &why), 0);
	/* Bytes after the end. */
	memcpy(bad, blob, len);
	bad[len] = 0;
	CU_ASSERT_NOT_EQUAL(usercert_parse(bad, len + 1, MIN_BITS, &uc, &why),
	    0);
	/* A changed byte in the signed part (the key id's last byte) or in
	 * the signature: the CA signature fails. */
	memcpy(bad, blob, len);
	n = 4 + strlen("ssh-ed25519-cert-v01@openssh.com") + 4 + 32 + 4 + 32 +
	    8 + 4 + 4 + strlen("id-broken") - 1;
	CU_ASSERT_EQUAL(bad[n], 'n');
	bad[n] = 'm';
	CU_ASSERT_EQUAL(check(bad, len, "frank", "127.0.0.1", now()),
	    USERCERT_BAD_SIGNATURE);
	memcpy(bad, blob, len);
	bad[len - 1] ^= 1;
	CU_ASSERT_EQUAL(check(bad, len, "frank", "127.0.0.1", now()),
	    USERCERT_BAD_SIGNATURE);
	/* A huge length. */
	buf_init(&b, MAXBLOB);
	buf_put_cstring(&b, "ssh-ed25519-cert-v01@openssh.com");
	buf_put_u32(&b, 0xffffffffu);
	buf_put(&b, "nonce", 5);
	CU_ASSERT_NOT_EQUAL(usercert_parse(b.data, b.len, MIN_BITS, &uc,
	    &why), 0);
	buf_free(&b);
	/* A plain key, a type the gateway does not take. */
	n = kf_read_blob(dir, "user.pub", bad, MAXBLOB);
	CU_ASSERT_NOT_EQUAL(usercert_parse(bad, n, MIN_BITS, &uc, &why), 0);
	buf_init(&b, MAXBLOB);
	buf_put_cstring(&b, "ssh-dss-cert-v01@openssh.com");
	buf_put(&b, blob + 4 + 32, len - 4 - 32);
	CU_ASSERT_NOT_EQUAL(usercert_parse(b.data, b.len, MIN_BITS, &uc,
	    &why), 0);
	buf_free(&b);
	/* Every single changed byte: parse fails or the check refuses it. */
	for (i = 0; i < len; i++) {
		memcpy(bad, blob, len);
		bad[i] ^= 0x01;
		CU_ASSERT_NOT_EQUAL(check(bad, len, "frank", "127.0.0.1",
		    now()), USERCERT_OK);
	}
}

static void
test_peer_ip(void)
{
	char ip[64];

	CU_ASSERT_EQUAL(usercert_peer_ip("127.0.0.1:2222", ip, sizeof(ip)),
	    0);
	CU_ASSERT_STRING_EQUAL(ip, "127.0.0.1");
	CU_ASSERT_EQUAL(usercert_peer_ip("[::1]:22", ip, sizeof(ip)), 0);
	CU_ASSERT_STRING_EQUAL(ip, "::1");
	CU_ASSERT_NOT_EQUAL(usercert_peer_ip("[::1", ip, sizeof(ip)), 0);
	CU_ASSERT_NOT_EQUAL(usercert_peer_ip(":22", ip, sizeof(ip)), 0);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "a good Ed25519 certificate, fields, principal, CA list",
		    test_good },
		{ "RSA key, ECDSA CA; ECDSA key, RSA CA; SHA-1 refused",
		    test_rsa_ecdsa },
		{ "valid_after <= now < valid_before", test_validity },
		{ "source-address, force-command, extensions, host cert",
		    test_options },
		{ "truncated, trailing, tampered, huge, wrong type",
		    test_broken },
		{ "the peer's address", test_peer_ip },
		UNIT_END,
	};
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	kf_run("cd %s && ssh-keygen -q -t ed25519 -N '' -f ca -C ca && "
	    "ssh-keygen -q -t ecdsa -b 256 -N '' -f ca2 -C ca2 && "
	    "ssh-keygen -q -t rsa -b 2048 -N '' -f ca_rsa -C ca_rsa && "
	    "ssh-keygen -q -t ed25519 -N '' -f user -C user && "
	    "ssh-keygen -q -t rsa -b 2048 -N '' -f user_rsa -C user_rsa && "
	    "ssh-keygen -q -t ecdsa -b 521 -N '' -f user_ec -C user_ec", dir);
	ca_len = kf_read_blob(dir, "ca.pub", ca_blob, MAXBLOB);
	ca2_len = kf_read_blob(dir, "ca2.pub", ca2_blob, MAXBLOB);
	cas[0].blob = ca_blob;
	cas[0].len = ca_len;
	cas[1].blob = ca2_blob;
	cas[1].len = ca2_len;
	ca3_len = kf_read_blob(dir, "ca_rsa.pub", ca3_blob, MAXBLOB);
	cas[2].blob = ca3_blob;
	cas[2].len = ca3_len;
	rc = unit_run(argc, argv, "usercert", tests);
	kf_run("rm -r %s", dir);
	return rc;
}
