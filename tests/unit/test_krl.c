/*
 * test_krl.c - revoked_keys files (policy/krl.h): KRLs made by the real
 * ssh-keygen -k (explicit keys, hashes, serials, serial ranges and
 * bitmaps, key ids, a revoked CA), text lists of public keys, and KRLs
 * built by hand that a gateway must refuse: cut short at every byte,
 * critical extensions, signatures, unknown sections, impossible serials,
 * more entries than the bounds.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "buf.h"
#include "krl.h"
#include "sshwire.h"
#include "keyfiles.h"
#include "runner.h"

#define MAXBLOB	4096

static char dir[] = "/tmp/test_krl.XXXXXX";
static uint8_t a_blob[MAXBLOB], b_blob[MAXBLOB], ca_blob[MAXBLOB],
    ca2_blob[MAXBLOB];
static size_t a_len, b_len, ca_len, ca2_len;

/* A file of dir, whole: malloc'ed, its length in *len. */
static uint8_t *
slurp(const char *file, size_t *len)
{
	char path[512];
	uint8_t *data;
	long n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (data = malloc((size_t)n + 1)) == NULL ||
	    fread(data, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	*len = (size_t)n;
	return data;
}

/* Parse file of dir: the list, or NULL with why. */
static struct krl *
load(const char *file, char *why, size_t whysz)
{
	struct krl *k;
	uint8_t *data;
	size_t len;

	data = slurp(file, &len);
	if (krl_parse(data, len, &k, why, whysz) != 0)
		k = NULL;
	free(data);
	return k;
}

static void
test_text(void)
{
	char why[256];
	struct krl *k;
	size_t nkeys, ncas;

	kf_run("cd %s && { echo '# revoked'; echo; cat a.pub; } > text", dir);
	k = load("text", why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(krl_key_revoked(k, a_blob, a_len), 1);
	CU_ASSERT_EQUAL(krl_key_revoked(k, b_blob, b_len), 0);
	krl_counts(k, &nkeys, &ncas);
	CU_ASSERT_EQUAL(nkeys, 1);
	CU_ASSERT_EQUAL(ncas, 0);
	krl_free(k);

	/* An empty file revokes nothing. */
	kf_run("cd %s && : > empty", dir);
	k = load("empty", why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(krl_key_revoked(k, a_blob, a_len), 0);
	krl_free(k);

	/* A bad line is named. */
	kf_run("cd %s && { cat b.pub; echo 'ssh-ed25519 !!!notbase64'; } > "
	    "badtext", dir);
	CU_ASSERT_PTR_NULL(load("badtext", why, sizeof(why)));
	CU_ASSERT_STRING_EQUAL(why, "line 2: the key's base64 does not decode");
	kf_run("cd %s && echo ssh-ed25519 > onlytype", dir);
	CU_ASSERT_PTR_NULL(load("onlytype", why, sizeof(why)));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "line 1: a key type without"));
	/* A certificate is revoked by serial or key id, not listed. */
	kf_run("cd %s && cat a-cert.pub > certtext", dir);
	CU_ASSERT_PTR_NULL(load("certtext", why, sizeof(why)));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "line 1: a revoked key that is "
	    "a certificate"));
}

static void
test_explicit_and_hash(void)
{
	char why[256];
	struct krl *k;

	kf_run("cd %s && ssh-keygen -q -k -f krl_keys a.pub", dir);
	k = load("krl_keys", why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(krl_key_revoked(k, a_blob, a_len), 1);
	CU_ASSERT_EQUAL(krl_key_revoked(k, b_blob, b_len), 0);
	/* Its certificate is revoked through the certified key, which
	 * the monitor asks about separately: not by the CA. */
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, 1, "id-a"), 0);
	krl_free(k);

	/* By SHA256 hash (ssh-keygen -l's form). */
	kf_run("cd %s && echo \"hash: $(ssh-keygen -l -f b.pub | cut -d' ' -f2)\" "
	    "> spec_hash && ssh-keygen -q -k -f krl_hash spec_hash", dir);
	k = load("krl_hash", why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(krl_key_revoked(k, b_blob, b_len), 1);
	CU_ASSERT_EQUAL(krl_key_revoked(k, a_blob, a_len), 0);
	krl_free(k);
}

static void
test_serials_and_ids(void)
{
	char why[256];
	struct krl *k;
	uint64_t s;
	int bad = 0;

	k = load("krl_ca", why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, 5, "x"), 1);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, 4, "x"), 0);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, 6, "x"), 0);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, 10, "x"), 1);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, 20, "x"), 1);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, 21, "x"), 0);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, 0, "x"), 0);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, UINT64_MAX,
	    "x"), 0);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, 7,
	    "bob@example"), 1);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, 7,
	    "bob@example2"), 0);
	/* Another CA's certificates are not touched. */
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca2_blob, ca2_len, 5,
	    "bob@example"), 0);
	/* Nor plain keys. */
	CU_ASSERT_EQUAL(krl_key_revoked(k, ca_blob, ca_len), 0);
	krl_free(k);

	/* Every other serial from 100 to 198: ssh-keygen writes a bitmap
	 * where it is the smaller form. */
	kf_run("cd %s && for i in $(seq 100 2 198); do echo \"serial: $i\"; "
	    "done > spec_bits && ssh-keygen -q -k -f krl_bits -s ca.pub "
	    "spec_bits", dir);
	k = load("krl_bits", why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	for (s = 90; s <= 210; s++)
		if (krl_cert_revoked(k, ca_blob, ca_len, s, "") !=
		    (s >= 100 && s <= 198 && s % 2 == 0))
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
	krl_free(k);

	/* A revoked CA key revokes every certificate it signed. */
	kf_run("cd %s && ssh-keygen -q -k -f krl_caKey ca.pub", dir);
	k = load("krl_caKey", why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, 12345, "a"), 1);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca2_blob, ca2_len, 12345, "a"),
	    0);
	krl_free(k);
}

/* ---- built by hand ---- */

static void
header(struct buf *b)
{
	buf_put_u64(b, 0x5353484b524c0a00ULL);
	buf_put_u32(b, 1);
	buf_put_u64(b, 1);		/* krl_version */
	buf_put_u64(b, 0);		/* generated_date */
	buf_put_u64(b, 0);		/* flags */
	buf_put_string(b, "", 0);	/* reserved */
	buf_put_string(b, "", 0);	/* comment */
}

/* Parse b: 0 with the list freed, or -1 with why. */
static int
parse_buf(const struct buf *b, char *why, size_t whysz)
{
	struct krl *k;

	CU_ASSERT_FATAL(buf_ok(b) == 0);
	if (krl_parse(b->data, b->len, &k, why, whysz) != 0)
		return -1;
	krl_free(k);
	return 0;
}

/* A certificate section for any CA with one subsection. */
static void
cert_sub(struct buf *b, uint8_t type, const struct buf *data)
{
	struct buf sec;

	buf_init(&sec, KRL_MAX_FILE);
	buf_put_string(&sec, "", 0);		/* any CA */
	buf_put_string(&sec, "", 0);		/* reserved */
	buf_put_u8(&sec, type);
	buf_put_string(&sec, data->data, data->len);
	buf_put_u8(b, 1);
	buf_put_string(b, sec.data, sec.len);
	buf_free(&sec);
}

static void
test_hostile(void)
{
	char why[256];
	struct buf b, d;
	uint8_t *data;
	size_t len, i;
	struct krl *k;
	int refused = 0;

	/* Every prefix of a real KRL: refused or read, never past its
	 * end (ASan in make check SANITIZE=1 would say). */
	data = slurp("krl_ca", &len);
	for (i = 0; i < len; i++)
		if (krl_parse(data, i, &k, why, sizeof(why)) == 0)
			krl_free(k);
		else
			refused++;
	CU_ASSERT(refused > 0);
	/* Cut at a section's end, it is a shorter valid KRL; cut inside
	 * the header, it is refused (and text cannot hold the NUL). */
	CU_ASSERT_EQUAL(krl_parse(data, 20, &k, why, sizeof(why)), -1);
	free(data);

	buf_init(&b, KRL_MAX_FILE);
	header(&b);
	CU_ASSERT_EQUAL(parse_buf(&b, why, sizeof(why)), 0);

	/* A critical extension cannot be honoured: refused. */
	buf_init(&d, 1024);
	buf_put_cstring(&d, "future@example.org");
	buf_put_u8(&d, 1);
	buf_put_string(&d, "x", 1);
	buf_put_u8(&b, 255);
	buf_put_string(&b, d.data, d.len);
	CU_ASSERT_EQUAL(parse_buf(&b, why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "a critical extension this gateway does "
	    "not know (future@example.org)");
	/* A non-critical one is skipped. */
	buf_reset(&b);
	header(&b);
	d.data[d.len - 6] = 0;		/* the boolean: 4 + 1 bytes of data */
	buf_put_u8(&b, 255);
	buf_put_string(&b, d.data, d.len);
	CU_ASSERT_EQUAL(parse_buf(&b, why, sizeof(why)), 0);

	/* A signature section, an unknown section, a wrong version. */
	buf_reset(&b);
	header(&b);
	buf_put_u8(&b, 4);
	buf_put_string(&b, "", 0);
	CU_ASSERT_EQUAL(parse_buf(&b, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "signature section"));
	buf_reset(&b);
	header(&b);
	buf_put_u8(&b, 9);
	buf_put_string(&b, "", 0);
	CU_ASSERT_EQUAL(parse_buf(&b, why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "an unknown section");
	buf_reset(&b);
	header(&b);
	b.data[11] = 2;			/* format version 2 */
	CU_ASSERT_EQUAL(parse_buf(&b, why, sizeof(why)), -1);

	/* A range that ends before it starts; a bitmap past the last
	 * serial; a negative bitmap. */
	buf_reset(&b);
	header(&b);
	buf_reset(&d);
	buf_put_u64(&d, 9);
	buf_put_u64(&d, 3);
	cert_sub(&b, 0x21, &d);
	CU_ASSERT_EQUAL(parse_buf(&b, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "end is before its start"));
	buf_reset(&b);
	header(&b);
	buf_reset(&d);
	buf_put_u64(&d, UINT64_MAX - 3);
	buf_put_string(&d, "\x01\x01", 2);
	cert_sub(&b, 0x22, &d);
	CU_ASSERT_EQUAL(parse_buf(&b, why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "a serial bitmap past the last serial");
	buf_reset(&b);
	header(&b);
	buf_reset(&d);
	buf_put_u64(&d, 0);
	buf_put_string(&d, "\x80", 1);
	cert_sub(&b, 0x22, &d);
	CU_ASSERT_EQUAL(parse_buf(&b, why, sizeof(why)), -1);

	/* A serial bitmap at the top of the range: its last bit is the
	 * last serial, and its padding byte is no serial. */
	buf_reset(&b);
	header(&b);
	buf_reset(&d);
	buf_put_u64(&d, UINT64_MAX - 7);
	/* Bits 0 and 7, with the zero byte an mpint needs in front. */
	buf_put_string(&d, "\x00\x81", 2);
	cert_sub(&b, 0x22, &d);
	CU_ASSERT_FATAL(krl_parse(b.data, b.len, &k, why, sizeof(why)) == 0);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, UINT64_MAX, ""),
	    1);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, UINT64_MAX - 7,
	    ""), 1);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, UINT64_MAX - 1,
	    ""), 0);
	krl_free(k);

	/* A key id for any CA (an empty ca_key: ssh-keygen 9.2 does not
	 * write one, the format has it). */
	buf_reset(&b);
	header(&b);
	buf_reset(&d);
	buf_put_cstring(&d, "eve");
	cert_sub(&b, 0x23, &d);
	CU_ASSERT_FATAL(krl_parse(b.data, b.len, &k, why, sizeof(why)) == 0);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca_blob, ca_len, 1, "eve"), 1);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca2_blob, ca2_len, 1, "eve"), 1);
	CU_ASSERT_EQUAL(krl_cert_revoked(k, ca2_blob, ca2_len, 1, "bob"), 0);
	krl_free(k);

	/* More serials than the bound: refused, not allocated without
	 * end. */
	buf_reset(&b);
	header(&b);
	buf_free(&d);
	buf_init(&d, KRL_MAX_FILE);
	for (i = 0; i <= KRL_MAX_RANGES; i++)
		buf_put_u64(&d, i * 2);
	CU_ASSERT_FATAL(buf_ok(&d) == 0);
	cert_sub(&b, 0x20, &d);
	CU_ASSERT_EQUAL(parse_buf(&b, why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "more than 1000000 revoked serial ranges");

	/* An explicit key that is no key blob. */
	buf_reset(&b);
	header(&b);
	buf_reset(&d);
	buf_put_string(&d, "junk", 4);
	buf_put_u8(&b, 2);
	buf_put_string(&b, d.data, d.len);
	CU_ASSERT_EQUAL(parse_buf(&b, why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "a revoked key that is no key blob");
	/* A fingerprint of the wrong length. */
	buf_reset(&b);
	header(&b);
	buf_reset(&d);
	buf_put_string(&d, "0123456789", 10);
	buf_put_u8(&b, 5);
	buf_put_string(&b, d.data, d.len);
	CU_ASSERT_EQUAL(parse_buf(&b, why, sizeof(why)), -1);
	buf_free(&d);
	buf_free(&b);

	/* Over the size bound, and text with a NUL byte. */
	CU_ASSERT_EQUAL(krl_parse((const uint8_t *)"", KRL_MAX_FILE + 1, &k,
	    why, sizeof(why)), -1);
	CU_ASSERT_EQUAL(krl_parse((const uint8_t *)"ssh\0", 4, &k, why,
	    sizeof(why)), -1);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "text: public keys, comments, a bad line named",
		    test_text },
		{ "ssh-keygen -k: explicit keys and hashes",
		    test_explicit_and_hash },
		{ "ssh-keygen -k -s: serials, ranges, bitmaps, key ids, a "
		    "revoked CA", test_serials_and_ids },
		{ "hostile: cut short, critical, signed, unknown, impossible, "
		    "over the bounds", test_hostile },
		UNIT_END,
	};
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	kf_run("cd %s && ssh-keygen -q -t ed25519 -N '' -f a -C a && "
	    "ssh-keygen -q -t ecdsa -b 256 -N '' -f b -C b && "
	    "ssh-keygen -q -t ed25519 -N '' -f ca -C ca && "
	    "ssh-keygen -q -t ed25519 -N '' -f ca2 -C ca2 && "
	    "ssh-keygen -q -s ca -I id-a -z 1 a.pub && "
	    "printf 'serial: 5\\nserial: 10-20\\nid: bob@example\\n' > spec_ca "
	    "&& ssh-keygen -q -k -f krl_ca -s ca.pub spec_ca", dir);
	a_len = kf_read_blob(dir, "a.pub", a_blob, MAXBLOB);
	b_len = kf_read_blob(dir, "b.pub", b_blob, MAXBLOB);
	ca_len = kf_read_blob(dir, "ca.pub", ca_blob, MAXBLOB);
	ca2_len = kf_read_blob(dir, "ca2.pub", ca2_blob, MAXBLOB);
	rc = unit_run(argc, argv, "krl", tests);
	kf_run("rm -r %s", dir);
	return rc;
}
