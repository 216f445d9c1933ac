/*
 * test_keytypes.c - the table of accepted key types and its bounds
 * (shared/keytypes.c), and the monitor's signature check that relies on
 * them (userauth_verify in monitor/userauth.c).
 *
 * The RSA keys are made here with OpenSSL's BN API, as products of many
 * small primes, so that a key of any size (1024 to 16376 bits) and any
 * exponent (1, 2, 2^32 + 1) is made in milliseconds and signs with CRT.
 * Every RSA signature the monitor is handed below is a valid PKCS#1 v1.5
 * signature for its key: a key the monitor refuses is refused for what it
 * is, not because the signature was wrong.  With e = 1 the "signature" is
 * the padded message itself, which anyone can compute without any private
 * key (the forgery the bounds prevent); with e = 2 it is a square root
 * modulo each prime.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "buf.h"
#include "keytypes.h"
#include "monitor/monitor.h"
#include "sshwire.h"
#include "runner.h"

#define MAX_PRIMES	40
#define SMALL_PRIME	512
#define BLOB_MAX	4096
#define SIG_MAX		2048

static const uint8_t data[] = "the userauth request a client signed";

/* A public RSA key and what signs for it: n = product of p[i]. */
struct rsa {
	BIGNUM *n, *e;
	BIGNUM *p[MAX_PRIMES];
	size_t np;
};

static BN_CTX *bnctx;

static void
rsa_free(struct rsa *k)
{
	size_t i;

	BN_free(k->n);
	BN_free(k->e);
	for (i = 0; i < k->np; i++)
		BN_free(k->p[i]);
	memset(k, 0, sizeof(*k));
}

/* gcd(e, p - 1) == 1, or e is 1 or 2 (signed without an inverse). */
static int
prime_fits(const BIGNUM *p, const BIGNUM *e)
{
	BIGNUM *pm1 = BN_dup(p), *g = BN_new();
	int ok;

	CU_ASSERT_FATAL(pm1 != NULL && g != NULL);
	if (BN_is_one(e) || BN_is_word(e, 2)) {
		ok = 1;
	} else {
		CU_ASSERT_FATAL(BN_sub_word(pm1, 1) == 1);
		CU_ASSERT_FATAL(BN_gcd(g, pm1, e, bnctx) == 1);
		ok = BN_is_one(g);
	}
	BN_free(pm1);
	BN_free(g);
	return ok;
}

/* Multiply a fresh prime of pbits into k->n; the product in *out. */
static BIGNUM *
try_prime(struct rsa *k, int pbits, BIGNUM **prime)
{
	BIGNUM *p = BN_new(), *t = BN_new();

	CU_ASSERT_FATAL(p != NULL && t != NULL);
	do {
		CU_ASSERT_FATAL(BN_generate_prime_ex(p, pbits, 0, NULL, NULL,
		    NULL) == 1);
	} while (!prime_fits(p, k->e));
	CU_ASSERT_FATAL(BN_mul(t, k->n, p, bnctx) == 1);
	*prime = p;
	return t;
}

/* An RSA key of exactly bits bits with exponent e (decimal). */
static void
rsa_make(struct rsa *k, int bits, const char *e)
{
	BIGNUM *t, *p;
	int left, pbits;

	memset(k, 0, sizeof(*k));
	CU_ASSERT_FATAL((k->n = BN_new()) != NULL);
	CU_ASSERT_FATAL(BN_dec2bn(&k->e, e) != 0);
	CU_ASSERT_FATAL(BN_one(k->n) == 1);
	while (BN_num_bits(k->n) + SMALL_PRIME + 64 < bits) {
		CU_ASSERT_FATAL(k->np < MAX_PRIMES - 1);
		t = try_prime(k, SMALL_PRIME, &p);
		BN_free(k->n);
		k->n = t;
		k->p[k->np++] = p;
	}
	/* The last prime brings the product to exactly bits bits. */
	left = bits - BN_num_bits(k->n);
	for (pbits = left;; pbits = pbits == left ? left + 1 : left) {
		t = try_prime(k, pbits, &p);
		if (BN_num_bits(t) == bits)
			break;
		BN_free(t);
		BN_free(p);
	}
	BN_free(k->n);
	k->n = t;
	k->p[k->np++] = p;
}

/* EMSA-PKCS1-v1_5 of SHA-256(data), as an integer of len(n) bytes. */
static BIGNUM *
pkcs1_sha256(const struct rsa *k)
{
	static const uint8_t prefix[] = {
		0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
	};
	uint8_t em[SIG_MAX], h[32];
	size_t len = (size_t)BN_num_bytes(k->n), ps;
	unsigned hlen;
	BIGNUM *m;

	CU_ASSERT_FATAL(len <= sizeof(em) && len > sizeof(prefix) + 32 + 11);
	CU_ASSERT_FATAL(EVP_Digest(data, sizeof(data), h, &hlen, EVP_sha256(),
	    NULL) == 1);
	ps = len - 3 - sizeof(prefix) - sizeof(h);
	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xff, ps);
	em[2 + ps] = 0x00;
	memcpy(em + 3 + ps, prefix, sizeof(prefix));
	memcpy(em + 3 + ps + sizeof(prefix), h, sizeof(h));
	CU_ASSERT_FATAL((m = BN_bin2bn(em, (int)len, NULL)) != NULL);
	return m;
}

/* s with s^e = m (mod p): m^(e^-1 mod p-1), or a square root for e = 2;
 * NULL if m has no square root mod p. */
static BIGNUM *
root_mod_p(const BIGNUM *m, const BIGNUM *e, const BIGNUM *p)
{
	BIGNUM *mp = BN_new(), *pm1 = BN_dup(p), *d = NULL, *s = NULL;

	CU_ASSERT_FATAL(mp != NULL && pm1 != NULL);
	CU_ASSERT_FATAL(BN_mod(mp, m, p, bnctx) == 1);
	if (BN_is_word(e, 2)) {
		s = BN_mod_sqrt(NULL, mp, p, bnctx);
		/* BN_mod_sqrt answers something for a non-square too. */
		if (s != NULL) {
			BIGNUM *sq = BN_new();

			CU_ASSERT_FATAL(BN_mod_sqr(sq, s, p, bnctx) == 1);
			if (BN_cmp(sq, mp) != 0) {
				BN_free(s);
				s = NULL;
			}
			BN_free(sq);
		}
	} else {
		CU_ASSERT_FATAL(BN_sub_word(pm1, 1) == 1);
		CU_ASSERT_FATAL((d = BN_mod_inverse(NULL, e, pm1, bnctx)) !=
		    NULL);
		CU_ASSERT_FATAL((s = BN_new()) != NULL);
		CU_ASSERT_FATAL(BN_mod_exp(s, mp, d, p, bnctx) == 1);
	}
	BN_free(mp);
	BN_free(pm1);
	BN_free(d);
	return s;
}

/*
 * The rsa-sha2-256 signature of data, by the CRT over the primes: 0, or
 * -1 when e = 2 and the message is no square (never for other e).
 */
static int
rsa_sign(const struct rsa *k, uint8_t *sig, size_t *siglen)
{
	BIGNUM *m = pkcs1_sha256(k), *s = BN_new(), *t = BN_new();
	BIGNUM *mi = BN_new(), *inv, *si;
	size_t i;
	int rc = 0;

	CU_ASSERT_FATAL(s != NULL && t != NULL && mi != NULL);
	BN_zero(s);
	for (i = 0; i < k->np && rc == 0; i++) {
		if ((si = root_mod_p(m, k->e, k->p[i])) == NULL) {
			rc = -1;
			break;
		}
		/* s += si * M * (M^-1 mod p), M = n / p */
		CU_ASSERT_FATAL(BN_div(mi, NULL, k->n, k->p[i], bnctx) == 1);
		CU_ASSERT_FATAL((inv = BN_mod_inverse(NULL, mi, k->p[i],
		    bnctx)) != NULL);
		CU_ASSERT_FATAL(BN_mod_mul(t, si, inv, k->p[i], bnctx) == 1);
		CU_ASSERT_FATAL(BN_mul(t, t, mi, bnctx) == 1);
		CU_ASSERT_FATAL(BN_mod_add(s, s, t, k->n, bnctx) == 1);
		BN_free(inv);
		BN_free(si);
	}
	if (rc == 0) {
		*siglen = (size_t)BN_num_bytes(k->n);
		CU_ASSERT_FATAL(BN_bn2binpad(s, sig, (int)*siglen) ==
		    (int)*siglen);
	}
	BN_free(m);
	BN_free(s);
	BN_free(t);
	BN_free(mi);
	return rc;
}

static void
put_mpint(struct buf *b, const BIGNUM *v)
{
	uint8_t raw[SIG_MAX + 1];
	int n = BN_num_bytes(v);

	CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof(raw));
	raw[0] = 0;
	CU_ASSERT_FATAL(BN_bn2bin(v, raw + 1) == n);
	/* A leading zero only when the top bit is set. */
	if (raw[1] & 0x80)
		buf_put_string(b, raw, (size_t)n + 1);
	else
		buf_put_string(b, raw + 1, (size_t)n);
}

static void
rsa_blob(const struct rsa *k, struct buf *b)
{
	buf_init(b, BLOB_MAX);
	buf_put_cstring(b, "ssh-rsa");
	put_mpint(b, k->e);
	put_mpint(b, k->n);
	CU_ASSERT_FATAL(buf_ok(b) == 0);
}

/*
 * The monitor's verdict on a valid signature by an RSA key of bits bits
 * with exponent e, with rsa_min_bits as limits.rsa_min_bits: 1 accepted,
 * 0 bad signature, -1 refused key.  For e = 2 the data's padded digest
 * must be a square mod every prime: new keys until it is.
 */
static int
verify_rsa(int bits, const char *e, unsigned rsa_min_bits)
{
	uint8_t sig[SIG_MAX];
	size_t siglen;
	struct rsa k;
	struct buf b;
	int rc;

	for (;;) {
		rsa_make(&k, bits, e);
		if (rsa_sign(&k, sig, &siglen) == 0)
			break;
		rsa_free(&k);
	}
	rsa_blob(&k, &b);
	rc = userauth_verify("rsa-sha2-256", b.data, b.len, sig, siglen,
	    data, sizeof(data), rsa_min_bits);
	buf_free(&b);
	rsa_free(&k);
	return rc;
}

/* keytype_check_blob() on an RSA key of bits bits and exponent e. */
static enum keytype_verdict
check_rsa(int bits, const char *e, unsigned rsa_min_bits)
{
	struct keytype_key kk;
	enum keytype_verdict v;
	struct rsa k;
	struct buf b;

	rsa_make(&k, bits, e);
	rsa_blob(&k, &b);
	v = keytype_check_blob(b.data, b.len, rsa_min_bits, &kk);
	if (v != KEYTYPE_MALFORMED && v != KEYTYPE_UNKNOWN)
		CU_ASSERT_EQUAL(kk.rsa_bits, (unsigned)bits);
	buf_free(&b);
	rsa_free(&k);
	return v;
}

/* An RSA blob of an odd modulus of bits bits, no key behind it: enough
 * for the checks of a blob, at any size. */
static void
fake_rsa_blob(int bits, const uint8_t *e, size_t elen, struct buf *b)
{
	uint8_t n[SIG_MAX + 8];
	size_t nlen = (size_t)(bits + 7) / 8;

	CU_ASSERT_FATAL(nlen < sizeof(n));
	memset(n, 0xc5, sizeof(n));
	n[0] = 0;
	/* The top byte holds the top (bits % 8 or 8) bits. */
	n[1] = (uint8_t)(bits % 8 == 0 ? 0xc5 : (1u << (bits % 8)) - 1);
	buf_init(b, BLOB_MAX + 64);
	buf_put_cstring(b, "ssh-rsa");
	buf_put_string(b, e, elen);
	if (n[1] & 0x80)
		buf_put_string(b, n, nlen + 1);
	else
		buf_put_string(b, n + 1, nlen);
}

/* ------------------------------------------------------------------ */

static void
test_table(void)
{
	static const char *const names[] = {
		"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256",
		"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	};
	const struct keytype *kt;
	const struct keytype_sigalg *sa;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(kt = keytype_at(i));
		CU_ASSERT_STRING_EQUAL(kt->name, names[i]);
		CU_ASSERT_PTR_EQUAL(keytype_find(names[i], strlen(names[i])),
		    kt);
	}
	CU_ASSERT_PTR_NULL(keytype_at(i));
	CU_ASSERT_PTR_NULL(keytype_find("ssh-dss", 7));
	CU_ASSERT_PTR_NULL(keytype_find("ssh-rs", 6));
	CU_ASSERT_PTR_NULL(keytype_find("ssh-ed25519-cert-v01@openssh.com",
	    32));

	/* RSA signs with SHA-2 only; each other type with its own name. */
	kt = keytype_find("ssh-rsa", 7);
	CU_ASSERT_EQUAL(kt->kind, KEYTYPE_RSA);
	CU_ASSERT_PTR_NULL(keytype_sigalg(kt, "ssh-rsa"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(sa = keytype_sigalg(kt, "rsa-sha2-256"));
	CU_ASSERT_STRING_EQUAL(sa->digest, "SHA256");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sa = keytype_sigalg(kt, "rsa-sha2-512"));
	CU_ASSERT_STRING_EQUAL(sa->digest, "SHA512");
	kt = keytype_find("ssh-ed25519", 11);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sa = keytype_sigalg(kt, "ssh-ed25519"));
	CU_ASSERT_PTR_NULL(sa->digest);
	CU_ASSERT_PTR_NULL(keytype_sigalg(kt, "rsa-sha2-256"));
	kt = keytype_find("ecdsa-sha2-nistp384", 19);
	CU_ASSERT_STRING_EQUAL(kt->group, "P-384");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sa = keytype_sigalg(kt,
	    "ecdsa-sha2-nistp384"));
	CU_ASSERT_STRING_EQUAL(sa->digest, "SHA384");
	CU_ASSERT_PTR_NULL(keytype_sigalg(kt, "ecdsa-sha2-nistp256"));
	CU_ASSERT_PTR_NULL(keytype_sigalg(NULL, "ssh-ed25519"));

	CU_ASSERT_PTR_NULL(keytype_reason(KEYTYPE_OK));
	CU_ASSERT_STRING_EQUAL(keytype_reason(KEYTYPE_RSA_TOO_SMALL),
	    "key-too-weak");
	CU_ASSERT_STRING_EQUAL(keytype_reason(KEYTYPE_RSA_TOO_LARGE),
	    "bad-key");
	CU_ASSERT_STRING_EQUAL(keytype_reason(KEYTYPE_RSA_BAD_EXPONENT),
	    "bad-key");
	CU_ASSERT_STRING_EQUAL(keytype_reason(KEYTYPE_MALFORMED), "bad-key");
	CU_ASSERT_STRING_EQUAL(keytype_reason(KEYTYPE_UNKNOWN), "bad-key");
	/* The largest accepted blob fits the IPC with room to spare. */
	CU_ASSERT(KEYTYPE_MAX_BLOB <= 2048);
}

/* e: 1, 2 and 2^32 refused; 3, 65537 and 2^32 - 1 accepted. */
static void
test_exponent_bounds(void)
{
	static const struct {
		uint8_t e[6];
		size_t len;
		enum keytype_verdict want;
	} cases[] = {
		{ { 0x01 }, 1, KEYTYPE_RSA_BAD_EXPONENT },
		{ { 0x02 }, 1, KEYTYPE_RSA_BAD_EXPONENT },
		{ { 0x03 }, 1, KEYTYPE_OK },
		{ { 0x04 }, 1, KEYTYPE_RSA_BAD_EXPONENT },
		{ { 0x01, 0x00, 0x01 }, 3, KEYTYPE_OK },
		{ { 0x01, 0x00, 0x00 }, 3, KEYTYPE_RSA_BAD_EXPONENT },
		{ { 0x00, 0xff, 0xff, 0xff, 0xff }, 5, KEYTYPE_OK },
		{ { 0x01, 0x00, 0x00, 0x00, 0x00 }, 5,
		    KEYTYPE_RSA_BAD_EXPONENT },
		{ { 0x01, 0x00, 0x00, 0x00, 0x01 }, 5,
		    KEYTYPE_RSA_BAD_EXPONENT },
		{ { 0x01, 0x00, 0x00, 0x00, 0x00, 0x01 }, 6,
		    KEYTYPE_RSA_BAD_EXPONENT },
	};
	struct keytype_key k;
	char why[256];
	struct buf b;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_rsa_blob(2048, cases[i].e, cases[i].len, &b);
		CU_ASSERT_EQUAL(keytype_check_blob(b.data, b.len, 2048, &k),
		    cases[i].want);
		if (cases[i].want != KEYTYPE_OK)
			CU_ASSERT_PTR_NOT_NULL(strstr(keytype_explain(
			    cases[i].want, &k, 2048, why, sizeof(why)),
			    "exponent must be odd"));
		buf_free(&b);
	}
	fake_rsa_blob(2048, (const uint8_t *)"\x01", 1, &b);
	(void)keytype_check_blob(b.data, b.len, 2048, &k);
	CU_ASSERT_PTR_NOT_NULL(strstr(keytype_explain(
	    KEYTYPE_RSA_BAD_EXPONENT, &k, 2048, why, sizeof(why)), "e = 1 "));
	buf_free(&b);
}

/* The modulus: rsa_min_bits (default 2048, at least 1024) to 8192. */
static void
test_modulus_bounds(void)
{
	static const uint8_t e[] = { 0x01, 0x00, 0x01 };
	static const struct {
		int bits;
		unsigned min;
		enum keytype_verdict want;
	} cases[] = {
		{ 512, 1024, KEYTYPE_RSA_TOO_SMALL },
		{ 1023, 1024, KEYTYPE_RSA_TOO_SMALL },
		{ 1023, 0, KEYTYPE_RSA_TOO_SMALL },	/* 0 counts as 1024 */
		{ 1024, 2048, KEYTYPE_RSA_TOO_SMALL },
		{ 1024, 1024, KEYTYPE_OK },
		{ 1024, 0, KEYTYPE_OK },
		{ 2047, 2048, KEYTYPE_RSA_TOO_SMALL },
		{ 2048, 2048, KEYTYPE_OK },
		{ 3072, 4096, KEYTYPE_RSA_TOO_SMALL },
		{ 4096, 4096, KEYTYPE_OK },
		{ 8192, 2048, KEYTYPE_OK },
		{ 8192, 8192, KEYTYPE_OK },
		{ 8193, 2048, KEYTYPE_RSA_TOO_LARGE },
		{ 8193, 1024, KEYTYPE_RSA_TOO_LARGE },
		{ 12288, 2048, KEYTYPE_RSA_TOO_LARGE },
		{ 16376, 2048, KEYTYPE_RSA_TOO_LARGE },
		{ 16384, 2048, KEYTYPE_RSA_TOO_LARGE },
		{ 16385, 2048, KEYTYPE_RSA_TOO_LARGE },
	};
	struct keytype_key k;
	struct buf b;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_rsa_blob(cases[i].bits, e, sizeof(e), &b);
		CU_ASSERT_EQUAL(keytype_check_blob(b.data, b.len,
		    cases[i].min, &k), cases[i].want);
		CU_ASSERT_EQUAL(k.rsa_bits, (unsigned)cases[i].bits);
		if (keytype_check_blob(b.data, b.len, cases[i].min, &k) !=
		    cases[i].want)
			fprintf(stderr, "\n    %d bits, min %u: verdict %d\n",
			    cases[i].bits, cases[i].min,
			    keytype_check_blob(b.data, b.len, cases[i].min,
			    NULL));
		buf_free(&b);
	}
}

/* The messages name the bound and what to do. */
static void
test_explain(void)
{
	static const uint8_t e[] = { 0x01, 0x00, 0x01 };
	struct keytype_key k;
	char why[256];
	struct buf b;

	fake_rsa_blob(1024, e, sizeof(e), &b);
	CU_ASSERT_EQUAL(keytype_check_blob(b.data, b.len, 2048, &k),
	    KEYTYPE_RSA_TOO_SMALL);
	keytype_explain(KEYTYPE_RSA_TOO_SMALL, &k, 2048, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "1024 bits is too small"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "limits.rsa_min_bits is 2048"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why,
	    "lower limits.rsa_min_bits to 1024"));
	buf_free(&b);

	fake_rsa_blob(768, e, sizeof(e), &b);
	CU_ASSERT_EQUAL(keytype_check_blob(b.data, b.len, 2048, &k),
	    KEYTYPE_RSA_TOO_SMALL);
	keytype_explain(KEYTYPE_RSA_TOO_SMALL, &k, 2048, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "no setting allows under 1024"));
	buf_free(&b);

	fake_rsa_blob(16384, e, sizeof(e), &b);
	CU_ASSERT_EQUAL(keytype_check_blob(b.data, b.len, 2048, &k),
	    KEYTYPE_RSA_TOO_LARGE);
	keytype_explain(KEYTYPE_RSA_TOO_LARGE, &k, 2048, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "16384 bits is too large"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "at most 8192 bits"));
	buf_free(&b);
}

static void
test_malformed(void)
{
	static const uint8_t e[] = { 0x01, 0x00, 0x01 };
	uint8_t pub[ED25519_PUB_LEN];
	struct keytype_key k;
	struct buf b;

	memset(pub, 7, sizeof(pub));
	CU_ASSERT_EQUAL(keytype_check_blob(NULL, 0, 2048, &k),
	    KEYTYPE_MALFORMED);
	CU_ASSERT_EQUAL(keytype_check_blob((const uint8_t *)"", 0, 2048, &k),
	    KEYTYPE_UNKNOWN);

	buf_init(&b, BLOB_MAX);
	buf_put_cstring(&b, "ssh-dss");
	buf_put_string(&b, pub, sizeof(pub));
	CU_ASSERT_EQUAL(keytype_check_blob(b.data, b.len, 2048, &k),
	    KEYTYPE_UNKNOWN);
	CU_ASSERT_PTR_NULL(k.kt);
	buf_free(&b);

	/* An even modulus is no RSA key. */
	buf_init(&b, BLOB_MAX);
	buf_put_cstring(&b, "ssh-rsa");
	buf_put_string(&b, e, sizeof(e));
	{
		uint8_t n[257];

		memset(n, 0xc4, sizeof(n));
		n[0] = 0;
		buf_put_string(&b, n, sizeof(n));
	}
	CU_ASSERT_EQUAL(keytype_check_blob(b.data, b.len, 2048, &k),
	    KEYTYPE_MALFORMED);
	CU_ASSERT_PTR_NOT_NULL(strstr(k.detail, "even"));
	buf_free(&b);

	/* Ed25519: 32 bytes, nothing after. */
	buf_init(&b, BLOB_MAX);
	sshwire_put_ed25519_blob(&b, pub);
	CU_ASSERT_EQUAL(keytype_check_blob(b.data, b.len, 2048, &k),
	    KEYTYPE_OK);
	CU_ASSERT_EQUAL(k.kt->kind, KEYTYPE_ED25519);
	CU_ASSERT_EQUAL(k.publen, ED25519_PUB_LEN);
	buf_put_u8(&b, 0);
	CU_ASSERT_EQUAL(keytype_check_blob(b.data, b.len, 2048, &k),
	    KEYTYPE_MALFORMED);
	buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* The monitor's verifier (userauth_verify), with valid signatures.    */

/* Sanity of the key maker: a 2048-bit e = 65537 key verifies. */
static void
test_verify_rsa_good(void)
{
	CU_ASSERT_EQUAL(verify_rsa(2048, "65537", 2048), 1);
	CU_ASSERT_EQUAL(verify_rsa(2048, "3", 2048), 1);
	CU_ASSERT_EQUAL(verify_rsa(3072, "4294967295", 2048), 1);
}

/* e = 1: the padded message is its own signature, made without any
 * private key, for any modulus at all -- here one whose factors nobody
 * knows.  The old verifier accepted it. */
static void
test_verify_e1_forgery(void)
{
	uint8_t sig[SIG_MAX], nbytes[257];
	struct rsa k;
	struct buf b;
	BIGNUM *m;
	size_t siglen;

	memset(&k, 0, sizeof(k));
	memset(nbytes, 0xc5, sizeof(nbytes));
	nbytes[0] = 0;
	CU_ASSERT_FATAL((k.n = BN_bin2bn(nbytes, sizeof(nbytes), NULL)) !=
	    NULL);
	CU_ASSERT_FATAL(BN_dec2bn(&k.e, "1") != 0);
	m = pkcs1_sha256(&k);
	siglen = (size_t)BN_num_bytes(k.n);
	CU_ASSERT_FATAL(BN_bn2binpad(m, sig, (int)siglen) == (int)siglen);
	rsa_blob(&k, &b);
	CU_ASSERT_EQUAL(userauth_verify("rsa-sha2-256", b.data, b.len, sig,
	    siglen, data, sizeof(data), 2048), -1);
	CU_ASSERT_EQUAL(userauth_verify("rsa-sha2-256", b.data, b.len, sig,
	    siglen, data, sizeof(data), 1024), -1);
	buf_free(&b);
	BN_free(m);
	rsa_free(&k);
	/* The same with a real key's modulus. */
	CU_ASSERT_EQUAL(verify_rsa(4096, "1", 1024), -1);
}

static void
test_verify_even_and_large_e(void)
{
	uint8_t sig[SIG_MAX];
	struct rsa k;
	struct buf b;

	CU_ASSERT_EQUAL(verify_rsa(2048, "2", 2048), -1);
	CU_ASSERT_EQUAL(verify_rsa(2048, "4294967297", 2048), -1);
	/* e = 2^32 has no signature at all (even); still refused before
	 * any arithmetic, as a key, not as a bad signature. */
	rsa_make(&k, 2048, "1");
	BN_free(k.e);
	k.e = NULL;
	CU_ASSERT_FATAL(BN_dec2bn(&k.e, "4294967296") != 0);
	rsa_blob(&k, &b);
	memset(sig, 0x5a, 256);
	CU_ASSERT_EQUAL(userauth_verify("rsa-sha2-256", b.data, b.len, sig,
	    256, data, sizeof(data), 2048), -1);
	buf_free(&b);
	rsa_free(&k);
}

/* 1024 bits: refused by default, accepted with rsa_min_bits = 1024. */
static void
test_verify_1024(void)
{
	CU_ASSERT_EQUAL(verify_rsa(1024, "65537", 2048), -1);
	CU_ASSERT_EQUAL(verify_rsa(1024, "65537", 1024), 1);
	CU_ASSERT_EQUAL(verify_rsa(1023, "65537", 1024), -1);
	CU_ASSERT_EQUAL(check_rsa(2047, "65537", 2048),
	    KEYTYPE_RSA_TOO_SMALL);
}

/* 8192 bits accepted; 8193 and up, which the old verifier took up to
 * 16376 bits, refused before any arithmetic. */
static void
test_verify_large(void)
{
	CU_ASSERT_EQUAL(verify_rsa(8192, "65537", 2048), 1);
	CU_ASSERT_EQUAL(verify_rsa(8193, "65537", 2048), -1);
	CU_ASSERT_EQUAL(verify_rsa(16376, "65537", 2048), -1);
	CU_ASSERT_EQUAL(check_rsa(16384, "65537", 2048),
	    KEYTYPE_RSA_TOO_LARGE);
}

/* A signature algorithm the table does not give the type: refused. */
static void
test_verify_algorithms(void)
{
	uint8_t sig[SIG_MAX];
	size_t siglen;
	struct rsa k;
	struct buf b;

	rsa_make(&k, 2048, "65537");
	CU_ASSERT_FATAL(rsa_sign(&k, sig, &siglen) == 0);
	rsa_blob(&k, &b);
	CU_ASSERT_EQUAL(userauth_verify("rsa-sha2-256", b.data, b.len, sig,
	    siglen, data, sizeof(data), 2048), 1);
	CU_ASSERT_EQUAL(userauth_verify("rsa-sha2-512", b.data, b.len, sig,
	    siglen, data, sizeof(data), 2048), 0);
	CU_ASSERT_EQUAL(userauth_verify("ssh-rsa", b.data, b.len, sig,
	    siglen, data, sizeof(data), 2048), -1);
	CU_ASSERT_EQUAL(userauth_algo_ok("ssh-rsa", b.data, b.len), -1);
	CU_ASSERT_EQUAL(userauth_algo_ok("rsa-sha2-512", b.data, b.len), 0);
	CU_ASSERT_EQUAL(userauth_algo_ok("ssh-ed25519", b.data, b.len), -1);
	buf_free(&b);
	rsa_free(&k);
}

/* Ed25519 and ECDSA keys verify as before. */
static void
test_verify_curves(void)
{
	static const struct {
		const char *type, *group, *curve, *md;
	} ec[] = {
		{ "ecdsa-sha2-nistp256", "P-256", "nistp256", "SHA256" },
		{ "ecdsa-sha2-nistp384", "P-384", "nistp384", "SHA384" },
		{ "ecdsa-sha2-nistp521", "P-521", "nistp521", "SHA512" },
	};
	uint8_t sig[256], pub[256];
	size_t siglen, publen, i;
	EVP_PKEY *k;
	EVP_MD_CTX *m;
	struct buf b;

	/* Ed25519 */
	CU_ASSERT_FATAL((k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) !=
	    NULL);
	publen = ED25519_PUB_LEN;
	CU_ASSERT_FATAL(EVP_PKEY_get_raw_public_key(k, pub, &publen) == 1);
	CU_ASSERT_FATAL((m = EVP_MD_CTX_new()) != NULL);
	siglen = sizeof(sig);
	CU_ASSERT_FATAL(EVP_DigestSignInit(m, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestSign(m, sig, &siglen, data, sizeof(data)) == 1);
	EVP_MD_CTX_free(m);
	buf_init(&b, BLOB_MAX);
	sshwire_put_ed25519_blob(&b, pub);
	CU_ASSERT_EQUAL(keytype_check_blob(b.data, b.len, 8192, NULL),
	    KEYTYPE_OK);
	CU_ASSERT_EQUAL(userauth_verify("ssh-ed25519", b.data, b.len, sig,
	    siglen, data, sizeof(data), 8192), 1);
	sig[0] ^= 1;
	CU_ASSERT_EQUAL(userauth_verify("ssh-ed25519", b.data, b.len, sig,
	    siglen, data, sizeof(data), 2048), 0);
	buf_free(&b);
	EVP_PKEY_free(k);

	for (i = 0; i < sizeof(ec) / sizeof(ec[0]); i++) {
		CU_ASSERT_FATAL((k = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
		    ec[i].group)) != NULL);
		CU_ASSERT_FATAL(EVP_PKEY_get_octet_string_param(k,
		    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof(pub),
		    &publen) == 1);
		CU_ASSERT_FATAL((m = EVP_MD_CTX_new()) != NULL);
		siglen = sizeof(sig);
		CU_ASSERT_FATAL(EVP_DigestSignInit_ex(m, NULL, ec[i].md, NULL,
		    NULL, k, NULL) == 1 &&
		    EVP_DigestSign(m, sig, &siglen, data, sizeof(data)) == 1);
		EVP_MD_CTX_free(m);
		buf_init(&b, BLOB_MAX);
		buf_put_cstring(&b, ec[i].type);
		buf_put_cstring(&b, ec[i].curve);
		buf_put_string(&b, pub, publen);
		CU_ASSERT_EQUAL(userauth_verify(ec[i].type, b.data, b.len, sig,
		    siglen, data, sizeof(data), 2048), 1);
		CU_ASSERT_EQUAL(userauth_verify(ec[i].type, b.data, b.len, sig,
		    siglen, data, sizeof(data) - 1, 2048), 0);
		buf_free(&b);
		EVP_PKEY_free(k);
	}
}

/* Certificate types: which algorithm name stands for which plain one. */
static void
test_cert_sigalgs(void)
{
	uint8_t cert[128], plain[64];
	struct buf b;
	size_t clen, plen;

	buf_init(&b, sizeof(cert));
	buf_put_cstring(&b, "ssh-rsa-cert-v01@openssh.com");
	buf_put_string(&b, "nonce", 5);
	memcpy(cert, b.data, b.len);
	clen = b.len;
	buf_free(&b);
	buf_init(&b, sizeof(plain));
	buf_put_cstring(&b, "ssh-rsa");
	memcpy(plain, b.data, b.len);
	plen = b.len;
	buf_free(&b);
	CU_ASSERT_PTR_NOT_NULL(keytype_cert_of_blob(cert, clen));
	CU_ASSERT_PTR_NULL(keytype_of_blob(cert, clen));
	CU_ASSERT_PTR_NULL(keytype_cert_of_blob(plain, plen));
	CU_ASSERT_STRING_EQUAL(keytype_plain_sigalg(cert, clen,
	    "rsa-sha2-512-cert-v01@openssh.com"), "rsa-sha2-512");
	CU_ASSERT_STRING_EQUAL(keytype_plain_sigalg(cert, clen,
	    "rsa-sha2-256-cert-v01@openssh.com"), "rsa-sha2-256");
	/* No SHA-1, no plain name for a certificate, no certificate name
	 * for a plain key, no other type's name. */
	CU_ASSERT_PTR_NULL(keytype_plain_sigalg(cert, clen,
	    "ssh-rsa-cert-v01@openssh.com"));
	CU_ASSERT_PTR_NULL(keytype_plain_sigalg(cert, clen, "rsa-sha2-512"));
	CU_ASSERT_PTR_NULL(keytype_plain_sigalg(plain, plen,
	    "rsa-sha2-512-cert-v01@openssh.com"));
	CU_ASSERT_PTR_NULL(keytype_plain_sigalg(cert, clen,
	    "ssh-ed25519-cert-v01@openssh.com"));
	CU_ASSERT_STRING_EQUAL(keytype_plain_sigalg(plain, plen,
	    "rsa-sha2-256"), "rsa-sha2-256");
	CU_ASSERT_PTR_NULL(keytype_plain_sigalg(plain, plen, "ssh-rsa"));
	CU_ASSERT_PTR_NULL(keytype_cert_find("ssh-dss-cert-v01@openssh.com",
	    28));
}


/* ------------------------------------------------------------------ */
/* Bounds by use: client keys and Studio host keys                      */

static void
test_bounds_by_use(void)
{
	struct keytype_rsa_bounds b;

	b = keytype_rsa_bounds(KEYTYPE_USE_CLIENT, 3072);
	CU_ASSERT_EQUAL(b.min_bits, 3072);
	CU_ASSERT_EQUAL(b.max_bits, KEYTYPE_RSA_MAX_BITS);
	CU_ASSERT_EQUAL(b.max_bits, 8192);
	CU_ASSERT_EQUAL(b.e_max_bits, 32);
	b = keytype_rsa_bounds(KEYTYPE_USE_CLIENT, 0);	/* 0 counts as 1024 */
	CU_ASSERT_EQUAL(b.min_bits, KEYTYPE_RSA_MIN_BITS_LOWEST);
	/* A host key's minimum is its own, whatever rsa_min_bits says. */
	b = keytype_rsa_bounds(KEYTYPE_USE_HOSTKEY, 4096);
	CU_ASSERT_EQUAL(b.min_bits, KEYTYPE_HOSTKEY_RSA_MIN_BITS);
	CU_ASSERT_EQUAL(b.min_bits, 1024);
	CU_ASSERT_EQUAL(b.max_bits, KEYTYPE_HOSTKEY_RSA_MAX_BITS);
	CU_ASSERT_EQUAL(b.max_bits, 16384);
	CU_ASSERT_EQUAL(b.e_max_bits, 64);
	CU_ASSERT_EQUAL(KEYTYPE_RSA_SIG_MAX, 16384 / 8);
}

/* A 16384-bit key is a Studio host key's right, not a client's. */
static void
test_modulus_bounds_by_use(void)
{
	static const uint8_t e[] = { 0x01, 0x00, 0x01 };
	static const struct {
		int bits;
		unsigned min;
		enum keytype_verdict client, hostkey;
	} cases[] = {
		{ 1023, 0, KEYTYPE_RSA_TOO_SMALL, KEYTYPE_RSA_TOO_SMALL },
		{ 1024, 4096, KEYTYPE_RSA_TOO_SMALL, KEYTYPE_OK },
		{ 2048, 2048, KEYTYPE_OK, KEYTYPE_OK },
		{ 8192, 2048, KEYTYPE_OK, KEYTYPE_OK },
		{ 8193, 2048, KEYTYPE_RSA_TOO_LARGE, KEYTYPE_OK },
		{ 16376, 2048, KEYTYPE_RSA_TOO_LARGE, KEYTYPE_OK },
		{ 16383, 2048, KEYTYPE_RSA_TOO_LARGE, KEYTYPE_OK },
		{ 16384, 2048, KEYTYPE_RSA_TOO_LARGE, KEYTYPE_OK },
		{ 16385, 2048, KEYTYPE_RSA_TOO_LARGE, KEYTYPE_RSA_TOO_LARGE },
	};
	struct keytype_key k;
	struct buf b;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_rsa_blob(cases[i].bits, e, sizeof(e), &b);
		CU_ASSERT_EQUAL(keytype_check_blob_for(KEYTYPE_USE_CLIENT,
		    b.data, b.len, cases[i].min, &k), cases[i].client);
		CU_ASSERT_EQUAL(k.rsa_bits, (unsigned)cases[i].bits);
		/* keytype_check_blob() is the client check. */
		CU_ASSERT_EQUAL(keytype_check_blob(b.data, b.len,
		    cases[i].min, NULL), cases[i].client);
		CU_ASSERT_EQUAL(keytype_check_blob_for(KEYTYPE_USE_HOSTKEY,
		    b.data, b.len, cases[i].min, &k), cases[i].hostkey);
		buf_free(&b);
	}
}

/* keytype_rsa_check() directly: odd modulus, e by use, the edges. */
static void
test_rsa_check(void)
{
	static const struct {
		uint8_t e[10];
		size_t len;
		enum keytype_verdict client, hostkey;
	} cases[] = {
		{ { 0 }, 0, KEYTYPE_RSA_BAD_EXPONENT,
		    KEYTYPE_RSA_BAD_EXPONENT },
		{ { 0x00 }, 1, KEYTYPE_RSA_BAD_EXPONENT,
		    KEYTYPE_RSA_BAD_EXPONENT },
		{ { 0x01 }, 1, KEYTYPE_RSA_BAD_EXPONENT,
		    KEYTYPE_RSA_BAD_EXPONENT },
		{ { 0x02 }, 1, KEYTYPE_RSA_BAD_EXPONENT,
		    KEYTYPE_RSA_BAD_EXPONENT },
		{ { 0x03 }, 1, KEYTYPE_OK, KEYTYPE_OK },
		{ { 0x00, 0x00, 0x03 }, 3, KEYTYPE_OK, KEYTYPE_OK },
		{ { 0x01, 0x00, 0x01 }, 3, KEYTYPE_OK, KEYTYPE_OK },
		{ { 0x01, 0x00, 0x00 }, 3, KEYTYPE_RSA_BAD_EXPONENT,
		    KEYTYPE_RSA_BAD_EXPONENT },
		/* 2^32 - 1, 2^32 + 1 */
		{ { 0xff, 0xff, 0xff, 0xff }, 4, KEYTYPE_OK, KEYTYPE_OK },
		{ { 0x01, 0x00, 0x00, 0x00, 0x01 }, 5,
		    KEYTYPE_RSA_BAD_EXPONENT, KEYTYPE_OK },
		/* 2^64 - 1, 2^64 + 1, and 2^64 - 1 behind a zero byte */
		{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 8,
		    KEYTYPE_RSA_BAD_EXPONENT, KEYTYPE_OK },
		{ { 0x01, 0, 0, 0, 0, 0, 0, 0, 0x01 }, 9,
		    KEYTYPE_RSA_BAD_EXPONENT, KEYTYPE_RSA_BAD_EXPONENT },
		{ { 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9,
		    KEYTYPE_RSA_BAD_EXPONENT, KEYTYPE_OK },
	};
	static const uint8_t f4[] = { 0x01, 0x00, 0x01 };
	struct keytype_rsa_bounds cb, hb;
	size_t i;

	cb = keytype_rsa_bounds(KEYTYPE_USE_CLIENT, 2048);
	hb = keytype_rsa_bounds(KEYTYPE_USE_HOSTKEY, 2048);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CU_ASSERT_EQUAL(keytype_rsa_check(&cb, 2048, 1, cases[i].e,
		    cases[i].len), cases[i].client);
		CU_ASSERT_EQUAL(keytype_rsa_check(&hb, 2048, 1, cases[i].e,
		    cases[i].len), cases[i].hostkey);
	}
	/* An even modulus is no RSA key, for either use. */
	CU_ASSERT_EQUAL(keytype_rsa_check(&cb, 2048, 0, f4, sizeof(f4)),
	    KEYTYPE_MALFORMED);
	CU_ASSERT_EQUAL(keytype_rsa_check(&hb, 2048, 0, f4, sizeof(f4)),
	    KEYTYPE_MALFORMED);
	/* The modulus's edges, odd. */
	CU_ASSERT_EQUAL(keytype_rsa_check(&cb, 2047, 1, f4, sizeof(f4)),
	    KEYTYPE_RSA_TOO_SMALL);
	CU_ASSERT_EQUAL(keytype_rsa_check(&cb, 8192, 1, f4, sizeof(f4)),
	    KEYTYPE_OK);
	CU_ASSERT_EQUAL(keytype_rsa_check(&cb, 8193, 1, f4, sizeof(f4)),
	    KEYTYPE_RSA_TOO_LARGE);
	CU_ASSERT_EQUAL(keytype_rsa_check(&hb, 1023, 1, f4, sizeof(f4)),
	    KEYTYPE_RSA_TOO_SMALL);
	CU_ASSERT_EQUAL(keytype_rsa_check(&hb, 1024, 1, f4, sizeof(f4)),
	    KEYTYPE_OK);
	CU_ASSERT_EQUAL(keytype_rsa_check(&hb, 16384, 1, f4, sizeof(f4)),
	    KEYTYPE_OK);
	CU_ASSERT_EQUAL(keytype_rsa_check(&hb, 16385, 1, f4, sizeof(f4)),
	    KEYTYPE_RSA_TOO_LARGE);
	/* NIST SP 800-57 strengths. */
	CU_ASSERT_EQUAL(keytype_rsa_security_bits(1023), 0);
	CU_ASSERT_EQUAL(keytype_rsa_security_bits(1024), 80);
	CU_ASSERT_EQUAL(keytype_rsa_security_bits(2048), 112);
	CU_ASSERT_EQUAL(keytype_rsa_security_bits(3072), 128);
	CU_ASSERT_EQUAL(keytype_rsa_security_bits(7680), 192);
	CU_ASSERT_EQUAL(keytype_rsa_security_bits(16384), 256);
}

/* Each curve's sizes, and Ed25519's, against OpenSSL's; the maxima
 * keytypes.h names are the table's. */
static void
test_sizes(void)
{
	const struct keytype *kt;
	EVP_PKEY_CTX *c = NULL;
	EVP_PKEY *k;
	size_t i, pub_max = 0, sig_max = 0, order = 0;
	int necdsa = 0;

	for (i = 0; (kt = keytype_at(i)) != NULL; i++) {
		if (kt->kind == KEYTYPE_RSA) {
			CU_ASSERT_EQUAL(kt->publen, 0);
			CU_ASSERT_EQUAL(kt->sig_max, 0);
			continue;
		}
		if (kt->publen > pub_max)
			pub_max = kt->publen;
		if (kt->sig_max > sig_max)
			sig_max = kt->sig_max;
		if (kt->kind == KEYTYPE_ED25519) {
			CU_ASSERT_PTR_NULL(kt->group);
			CU_ASSERT_EQUAL(kt->publen, 32);
			k = NULL;
			c = EVP_PKEY_CTX_new_from_name(NULL, "ED25519", NULL);
			CU_ASSERT_FATAL(c != NULL && EVP_PKEY_keygen_init(c) ==
			    1 && EVP_PKEY_keygen(c, &k) == 1);
		} else {
			necdsa++;
			CU_ASSERT_PTR_EQUAL(keytype_of_group(kt->group), kt);
			/* The point: 0x04 and two coordinates of the
			 * field's size. */
			order = (kt->bits + 7) / 8;
			CU_ASSERT_EQUAL(kt->publen, 1 + 2 * order);
			/* "ecdsa-sha2-" and the curve. */
			CU_ASSERT_STRING_EQUAL(kt->name + 11, kt->curve);
			k = EVP_EC_gen(kt->group);
			CU_ASSERT_PTR_NOT_NULL_FATAL(k);
		}
		CU_ASSERT_EQUAL(EVP_PKEY_get_security_bits(k),
		    (int)kt->security_bits);
		/* Room for any signature OpenSSL makes. */
		CU_ASSERT(EVP_PKEY_get_size(k) <= (int)kt->sig_max);
		if (kt->kind == KEYTYPE_ED25519) {
			/* The group order's size; OpenSSL says 256. */
			CU_ASSERT_EQUAL(kt->bits, 253);
			CU_ASSERT_EQUAL(kt->sig_max, 64);
		} else {
			uint8_t pt[KEYTYPE_PUB_MAX + 8];
			size_t ptlen = 0, ints;

			CU_ASSERT_EQUAL(EVP_PKEY_get_bits(k), (int)kt->bits);
			/* SEQUENCE { INTEGER r, INTEGER s }, each of the
			 * order's size and a sign byte. */
			ints = 2 * (2 + order + 1);
			CU_ASSERT_EQUAL(kt->sig_max, ints + (ints < 128 ? 2 : 3));
			CU_ASSERT(EVP_PKEY_get_octet_string_param(k,
			    OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt),
			    &ptlen) == 1);
			CU_ASSERT_EQUAL(ptlen, kt->publen);
			CU_ASSERT_EQUAL(pt[0], 0x04);
		}
		EVP_PKEY_free(k);
		EVP_PKEY_CTX_free(c);
		c = NULL;
	}
	CU_ASSERT_EQUAL(necdsa, 3);
	CU_ASSERT_EQUAL(pub_max, KEYTYPE_PUB_MAX);
	CU_ASSERT_EQUAL(sig_max, KEYTYPE_ECDSA_SIG_MAX);
	CU_ASSERT_PTR_NULL(keytype_of_group("P-224"));
	CU_ASSERT_PTR_NULL(keytype_of_group("prime256v1"));	/* NIST names */
	CU_ASSERT_PTR_NULL(keytype_of_group(NULL));
	CU_ASSERT_STRING_EQUAL(keytype_of_kind(KEYTYPE_ED25519)->name,
	    "ssh-ed25519");
	CU_ASSERT_STRING_EQUAL(keytype_of_kind(KEYTYPE_RSA)->name, "ssh-rsa");
	CU_ASSERT_STRING_EQUAL(keytype_of_kind(KEYTYPE_ECDSA)->name,
	    "ecdsa-sha2-nistp256");
}

/* The digests each kind hashes with, from its signature algorithms. */
static void
test_kind_digests(void)
{
	CU_ASSERT_STRING_EQUAL(keytype_kind_digest(KEYTYPE_RSA, "SHA256"),
	    "SHA256");
	CU_ASSERT_STRING_EQUAL(keytype_kind_digest(KEYTYPE_RSA, "SHA512"),
	    "SHA512");
	CU_ASSERT_PTR_NULL(keytype_kind_digest(KEYTYPE_RSA, "SHA384"));
	CU_ASSERT_PTR_NULL(keytype_kind_digest(KEYTYPE_RSA, "SHA1"));
	CU_ASSERT_STRING_EQUAL(keytype_kind_digest(KEYTYPE_ECDSA, "SHA256"),
	    "SHA256");
	CU_ASSERT_STRING_EQUAL(keytype_kind_digest(KEYTYPE_ECDSA, "SHA384"),
	    "SHA384");
	CU_ASSERT_STRING_EQUAL(keytype_kind_digest(KEYTYPE_ECDSA, "SHA512"),
	    "SHA512");
	CU_ASSERT_PTR_NULL(keytype_kind_digest(KEYTYPE_ECDSA, "SHA1"));
	CU_ASSERT_PTR_NULL(keytype_kind_digest(KEYTYPE_ED25519, "SHA512"));
	CU_ASSERT_PTR_NULL(keytype_kind_digest(KEYTYPE_ED25519, NULL));
	CU_ASSERT_PTR_NULL(keytype_kind_digest(KEYTYPE_RSA, "sha256"));
}

/* What the worker offers a Studio, in its order, and nothing that does
 * not fit. */
static void
test_hostkey_algorithms(void)
{
	static const char want[] = "ssh-ed25519,ecdsa-sha2-nistp256,"
	    "ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,"
	    "rsa-sha2-256";
	char buf[256];

	CU_ASSERT_EQUAL(keytype_hostkey_algorithms(buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, want);
	CU_ASSERT_EQUAL(keytype_hostkey_algorithms(buf, sizeof(want)), 0);
	CU_ASSERT_STRING_EQUAL(buf, want);
	CU_ASSERT_EQUAL(keytype_hostkey_algorithms(buf, sizeof(want) - 1),
	    -1);
	CU_ASSERT_EQUAL(keytype_hostkey_algorithms(buf, 0), -1);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "the table", test_table },
		{ "rsa exponent bounds", test_exponent_bounds },
		{ "rsa modulus bounds", test_modulus_bounds },
		{ "messages name the bound", test_explain },
		{ "malformed and unknown blobs", test_malformed },
		{ "verify: rsa keys within bounds", test_verify_rsa_good },
		{ "verify: e = 1 forgery refused", test_verify_e1_forgery },
		{ "verify: e = 2, 2^32, 2^32 + 1 refused",
		    test_verify_even_and_large_e },
		{ "verify: 1024 bits and rsa_min_bits", test_verify_1024 },
		{ "verify: 8192 bits, and over", test_verify_large },
		{ "verify: algorithms from the table",
		    test_verify_algorithms },
		{ "verify: ed25519 and ecdsa unaffected", test_verify_curves },
		{ "certificate types and their algorithms", test_cert_sigalgs },
		{ "rsa bounds by use", test_bounds_by_use },
		{ "rsa modulus bounds: client and host key",
		    test_modulus_bounds_by_use },
		{ "rsa check: modulus and exponent by use", test_rsa_check },
		{ "sizes of each type, as OpenSSL has them", test_sizes },
		{ "digests of each kind", test_kind_digests },
		{ "studio host key algorithms", test_hostkey_algorithms },
		UNIT_END,
	};
	int rc;

	if ((bnctx = BN_CTX_new()) == NULL)
		return 1;
	rc = unit_run(argc, argv, "keytypes", tests);
	BN_CTX_free(bnctx);
	return rc;
}
