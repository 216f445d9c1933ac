/*
 * test_cert.c - the Studio login certificate of monitor/cert.c: every
 * field parsed back as PROTOCOL.certkeys lays it out, the CA signature
 * verified with OpenSSL (and broken by any changed byte), the extensions
 * following the switches, refusals of a bad subject or validity, and
 * OpenSSH's own parser (ssh-keygen -L, which also checks the signature)
 * accepting it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/evp.h>

#include "buf.h"
#include "monitor/cert.h"
#include "sshwire.h"
#include "runner.h"

static EVP_PKEY *ca_key, *subject_key;
static uint8_t ca_blob[64], subject_blob[64];
static size_t ca_blob_len, subject_blob_len;

static EVP_PKEY *
new_ed25519(uint8_t *blob, size_t *bloblen)
{
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	uint8_t pub[32];
	size_t publen = sizeof(pub);
	struct buf b;

	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_keygen(ctx, &k) != 1 ||
	    EVP_PKEY_get_raw_public_key(k, pub, &publen) != 1)
		abort();
	EVP_PKEY_CTX_free(ctx);
	buf_init(&b, 64);
	sshwire_put_ed25519_blob(&b, pub);
	memcpy(blob, b.data, b.len);
	*bloblen = b.len;
	buf_free(&b);
	return k;
}

static int
sign_with(void *ctx, const uint8_t *data, size_t len, uint8_t sig[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t siglen = 64;
	int rc = -1;

	if (EVP_DigestSignInit(md, NULL, NULL, NULL, ctx) == 1 &&
	    EVP_DigestSign(md, sig, &siglen, data, len) == 1 && siglen == 64)
		rc = 0;
	EVP_MD_CTX_free(md);
	return rc;
}

static void
default_req(struct cert_req *r)
{
	memset(r, 0, sizeof(*r));
	r->key_blob = subject_blob;
	r->key_blob_len = subject_blob_len;
	r->serial = 0x1122334455667788ULL;
	r->key_id = "connect-sshd conn=7 user=alice studio=s1";
	r->principal = "s1";
	r->valid_after = 1700000000;
	r->valid_before = 1700000000 + 360;
	r->extensions = CERT_EXT_PTY | CERT_EXT_PORT_FWD | CERT_EXT_AGENT_FWD;
}

static int
verify_sig(const uint8_t *cert, size_t len)
{
	struct cursor c;
	const uint8_t *p, *sig;
	size_t n, siglen, signed_len;
	char type[32];
	EVP_MD_CTX *md;
	int ok;

	/* The signature is the last string; it covers everything before. */
	cursor_init(&c, cert, len);
	/* skip to the signature: parse the fixed layout again */
	cursor_get_string(&c, &p, &n, 64);		/* type */
	cursor_get_string(&c, &p, &n, 64);		/* nonce */
	cursor_get_string(&c, &p, &n, 64);		/* pk */
	cursor_get(&c, NULL, 8 + 4);			/* serial, type */
	cursor_get_string(&c, &p, &n, 1024);		/* key id */
	cursor_get_string(&c, &p, &n, 1024);		/* principals */
	cursor_get(&c, NULL, 16);			/* validity */
	cursor_get_string(&c, &p, &n, 1024);		/* critical */
	cursor_get_string(&c, &p, &n, 1024);		/* extensions */
	cursor_get_string(&c, &p, &n, 1024);		/* reserved */
	cursor_get_string(&c, &p, &n, 1024);		/* signature key */
	signed_len = len - c.left;
	cursor_get_string(&c, &p, &n, 1024);		/* signature */
	if (cursor_end(&c) != 0)
		return -1;
	cursor_init(&c, p, n);
	if (cursor_get_cstring(&c, type, sizeof(type)) != 0 ||
	    strcmp(type, "ssh-ed25519") != 0 ||
	    cursor_get_string(&c, &sig, &siglen, 64) != 0 || siglen != 64 ||
	    cursor_end(&c) != 0)
		return -1;
	md = EVP_MD_CTX_new();
	ok = EVP_DigestVerifyInit(md, NULL, NULL, NULL, ca_key) == 1 &&
	    EVP_DigestVerify(md, sig, siglen, cert, signed_len) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static void
test_fields(void)
{
	struct cert_req r;
	uint8_t cert[CERT_MAX_BLOB], pub[32];
	const uint8_t *p, *q;
	size_t len, n, m;
	struct cursor c, sub;
	uint64_t u64;
	uint32_t u32;
	char s[256];

	default_req(&r);
	CU_ASSERT_EQUAL_FATAL(cert_build(&r, ca_blob, ca_blob_len, sign_with,
	    ca_key, cert, sizeof(cert), &len), 0);
	CU_ASSERT(len < 600);
	cursor_init(&c, cert, len);
	CU_ASSERT_EQUAL(cursor_get_cstring(&c, s, sizeof(s)), 0);
	CU_ASSERT_STRING_EQUAL(s, "ssh-ed25519-cert-v01@openssh.com");
	CU_ASSERT_EQUAL(cursor_get_string(&c, &p, &n, 64), 0);
	CU_ASSERT_EQUAL(n, 32);				/* nonce */
	CU_ASSERT_EQUAL(cursor_get_string(&c, &p, &n, 64), 0);
	CU_ASSERT_EQUAL_FATAL(n, 32);
	CU_ASSERT_EQUAL(sshwire_ed25519_pub(subject_blob, subject_blob_len,
	    pub), 0);
	CU_ASSERT_EQUAL(memcmp(p, pub, 32), 0);		/* the subject */
	CU_ASSERT_EQUAL(cursor_get_u64(&c, &u64), 0);
	CU_ASSERT_EQUAL(u64, 0x1122334455667788ULL);
	CU_ASSERT_EQUAL(cursor_get_u32(&c, &u32), 0);
	CU_ASSERT_EQUAL(u32, 1);			/* user */
	CU_ASSERT_EQUAL(cursor_get_cstring(&c, s, sizeof(s)), 0);
	CU_ASSERT_STRING_EQUAL(s, r.key_id);
	CU_ASSERT_EQUAL(cursor_get_string(&c, &p, &n, 1024), 0);
	cursor_init(&sub, p, n);			/* one principal */
	CU_ASSERT_EQUAL(cursor_get_cstring(&sub, s, sizeof(s)), 0);
	CU_ASSERT_STRING_EQUAL(s, "s1");
	CU_ASSERT_EQUAL(cursor_end(&sub), 0);
	CU_ASSERT_EQUAL(cursor_get_u64(&c, &u64), 0);
	CU_ASSERT_EQUAL(u64, 1700000000);
	CU_ASSERT_EQUAL(cursor_get_u64(&c, &u64), 0);
	CU_ASSERT_EQUAL(u64, 1700000360);
	CU_ASSERT_EQUAL(cursor_get_string(&c, &p, &n, 1024), 0);
	CU_ASSERT_EQUAL(n, 0);				/* no critical options */
	CU_ASSERT_EQUAL(cursor_get_string(&c, &p, &n, 1024), 0);
	cursor_init(&sub, p, n);			/* sorted, empty data */
	CU_ASSERT_EQUAL(cursor_get_cstring(&sub, s, sizeof(s)), 0);
	CU_ASSERT_STRING_EQUAL(s, "permit-agent-forwarding");
	CU_ASSERT_EQUAL(cursor_get_string(&sub, &q, &m, 0), 0);
	CU_ASSERT_EQUAL(cursor_get_cstring(&sub, s, sizeof(s)), 0);
	CU_ASSERT_STRING_EQUAL(s, "permit-port-forwarding");
	CU_ASSERT_EQUAL(cursor_get_string(&sub, &q, &m, 0), 0);
	CU_ASSERT_EQUAL(cursor_get_cstring(&sub, s, sizeof(s)), 0);
	CU_ASSERT_STRING_EQUAL(s, "permit-pty");
	CU_ASSERT_EQUAL(cursor_get_string(&sub, &q, &m, 0), 0);
	CU_ASSERT_EQUAL(cursor_end(&sub), 0);
	CU_ASSERT_EQUAL(cursor_get_string(&c, &p, &n, 1024), 0);
	CU_ASSERT_EQUAL(n, 0);				/* reserved */
	CU_ASSERT_EQUAL(cursor_get_string(&c, &p, &n, 1024), 0);
	CU_ASSERT_EQUAL(n, ca_blob_len);		/* signature key */
	CU_ASSERT_EQUAL(memcmp(p, ca_blob, n), 0);
	CU_ASSERT_EQUAL(verify_sig(cert, len), 0);
}

static void
test_signature_breaks(void)
{
	struct cert_req r;
	uint8_t cert[CERT_MAX_BLOB];
	size_t len, i;

	default_req(&r);
	CU_ASSERT_EQUAL_FATAL(cert_build(&r, ca_blob, ca_blob_len, sign_with,
	    ca_key, cert, sizeof(cert), &len), 0);
	/* Any changed byte of the signed part (length fields aside, which
	 * only break the parse) fails the check. */
	for (i = 0; i < len - 64; i += 7) {
		cert[i] ^= 0x01;
		CU_ASSERT_NOT_EQUAL(verify_sig(cert, len), 0);
		cert[i] ^= 0x01;
	}
	CU_ASSERT_EQUAL(verify_sig(cert, len), 0);
	/* Signed by another key: not by the CA. */
	CU_ASSERT_EQUAL_FATAL(cert_build(&r, ca_blob, ca_blob_len, sign_with,
	    subject_key, cert, sizeof(cert), &len), 0);
	CU_ASSERT_NOT_EQUAL(verify_sig(cert, len), 0);
}

static void
test_extensions_follow_switches(void)
{
	struct cert_req r;
	uint8_t cert[CERT_MAX_BLOB];
	size_t len;

	default_req(&r);
	r.extensions = CERT_EXT_PTY;
	CU_ASSERT_EQUAL_FATAL(cert_build(&r, ca_blob, ca_blob_len, sign_with,
	    ca_key, cert, sizeof(cert), &len), 0);
	CU_ASSERT_PTR_NULL(memmem(cert, len, "permit-port-forwarding", 22));
	CU_ASSERT_PTR_NULL(memmem(cert, len, "permit-agent-forwarding", 23));
	CU_ASSERT_PTR_NOT_NULL(memmem(cert, len, "permit-pty", 10));
	CU_ASSERT_PTR_NULL(memmem(cert, len, "X11", 3));
	CU_ASSERT_PTR_NULL(memmem(cert, len, "user-rc", 7));
	CU_ASSERT_EQUAL(verify_sig(cert, len), 0);
}

static void
test_refusals(void)
{
	struct cert_req r;
	uint8_t cert[CERT_MAX_BLOB], bad[64];
	size_t len;

	default_req(&r);
	/* A subject blob one byte short, one long, or of another type. */
	r.key_blob_len = subject_blob_len - 1;
	CU_ASSERT_EQUAL(cert_build(&r, ca_blob, ca_blob_len, sign_with,
	    ca_key, cert, sizeof(cert), &len), -1);
	memcpy(bad, subject_blob, subject_blob_len);
	bad[subject_blob_len] = 0;
	r.key_blob = bad;
	r.key_blob_len = subject_blob_len + 1;
	CU_ASSERT_EQUAL(cert_build(&r, ca_blob, ca_blob_len, sign_with,
	    ca_key, cert, sizeof(cert), &len), -1);
	bad[7] = 'x';				/* "ssh-xd25519" */
	r.key_blob_len = subject_blob_len;
	CU_ASSERT_EQUAL(cert_build(&r, ca_blob, ca_blob_len, sign_with,
	    ca_key, cert, sizeof(cert), &len), -1);
	default_req(&r);
	r.principal = "";
	CU_ASSERT_EQUAL(cert_build(&r, ca_blob, ca_blob_len, sign_with,
	    ca_key, cert, sizeof(cert), &len), -1);
	default_req(&r);
	r.key_id = "";
	CU_ASSERT_EQUAL(cert_build(&r, ca_blob, ca_blob_len, sign_with,
	    ca_key, cert, sizeof(cert), &len), -1);
	default_req(&r);
	r.valid_before = r.valid_after;
	CU_ASSERT_EQUAL(cert_build(&r, ca_blob, ca_blob_len, sign_with,
	    ca_key, cert, sizeof(cert), &len), -1);
	default_req(&r);				/* no room */
	CU_ASSERT_EQUAL(cert_build(&r, ca_blob, ca_blob_len, sign_with,
	    ca_key, cert, 100, &len), -1);
}

/* Write "TYPE BASE64" to a file and run ssh-keygen -L on it; its output
 * (or NULL if it refused the certificate). */
static char *
keygen_list(const uint8_t *cert, size_t len)
{
	char path[] = "/tmp/test_cert.XXXXXX", cmd[128], b64[4096];
	static char out[8192];
	size_t n;
	FILE *f;
	int fd, rc;

	if ((fd = mkstemp(path)) == -1 ||
	    b64_encode(cert, len, b64, sizeof(b64)) == 0 ||
	    (f = fdopen(fd, "w")) == NULL)
		return NULL;
	fprintf(f, "%s %s\n", CERT_TYPE_NAME, b64);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -L -f %s 2>&1", path);
	if ((f = popen(cmd, "r")) == NULL) {
		unlink(path);
		return NULL;
	}
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	rc = pclose(f);
	unlink(path);
	return rc == 0 ? out : NULL;
}

static void
test_ssh_keygen_accepts(void)
{
	struct cert_req r;
	uint8_t cert[CERT_MAX_BLOB];
	size_t len;
	char *out;

	default_req(&r);
	r.extensions = CERT_EXT_PTY | CERT_EXT_PORT_FWD;
	CU_ASSERT_EQUAL_FATAL(cert_build(&r, ca_blob, ca_blob_len, sign_with,
	    ca_key, cert, sizeof(cert), &len), 0);
	out = keygen_list(cert, len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Type: ssh-ed25519-cert-v01@"
	    "openssh.com user certificate"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Serial: 1234605616436508552"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out,
	    "Key ID: \"connect-sshd conn=7 user=alice studio=s1\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Principals: \n                s1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Critical Options: (none)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "permit-port-forwarding"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "permit-pty"));
	CU_ASSERT_PTR_NULL(strstr(out, "permit-agent-forwarding"));
	/* ssh-keygen checks the CA signature: a changed key id is refused. */
	cert[len - 200] ^= 0x20;
	CU_ASSERT_PTR_NULL(keygen_list(cert, len));
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "every field, CA signature verifies", test_fields },
		{ "a changed byte or another signer fails",
		    test_signature_breaks },
		{ "extensions follow the switches", test_extensions_follow_switches },
		{ "bad subject, principal, key id, validity refused",
		    test_refusals },
		{ "ssh-keygen -L accepts it, and refuses a forgery",
		    test_ssh_keygen_accepts },
		UNIT_END,
	};
	int rc;

	ca_key = new_ed25519(ca_blob, &ca_blob_len);
	subject_key = new_ed25519(subject_blob, &subject_blob_len);
	rc = unit_run(argc, argv, "cert", tests);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(subject_key);
	return rc;
}
