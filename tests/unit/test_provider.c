/*
 * test_provider.c - the worker's OpenSSL provider (worker/provider.c).
 *
 * Keys are built and used the way libssh 0.10.6 and 0.12 (OpenSSL backend)
 * build and use them, through the default library context with no property
 * query, so that the provider is reached exactly as in the worker:
 *
 *  - Ed25519: EVP_PKEY_new_raw_private_key() of the "seed" (the stub, whose
 *    seed is the public key) or EVP_PKEY_new_raw_public_key(), then
 *    EVP_DigestSign/VerifyInit() with no digest and one-shot calls;
 *  - RSA: EVP_PKEY_fromdata() of n and e with OSSL_PARAM_BLD;
 *  - ECDSA: a legacy EC_KEY wrapped with EVP_PKEY_set1_EC_KEY() (0.10),
 *    or EVP_PKEY_fromdata() of group name and point (0.12:
 *    fromdata_ec_pub());
 *  - ECDH: legacy EC_KEY_generate_key() and ECDH_compute_key();
 *  - X25519: EVP_PKEY_CTX_new_id() keygen and EVP_PKEY_derive().
 *
 * The real keys (the "monitor's") live in the default provider and are
 * always used with the property query "provider=default"; without it the
 * preference for csshd would route them through the provider under test.
 */
/* libssh 0.10.6 uses the deprecated EC_KEY API for ECDSA and ECDH; so
 * must these tests, to exercise the same paths. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdh.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "worker/provider.h"
#include "runner.h"

#define DEFLT	"provider=default"
#define SIGMAX	1024
#define TBSMAX	(64 * 1024)

/* The monitor's Ed25519 key, and its public half. */
static EVP_PKEY *ed_real;
static uint8_t ed_pub[32];

/* What the hooks saw, and what they answer. */
static struct {
	int calls;
	uint8_t tbs[TBSMAX + 16];
	size_t tbslen;
	int mode;		/* 0 sign, 1 fail, 2 short signature */
} sh;

static struct {
	int calls;
	uint8_t sig[SIGMAX];
	size_t siglen;
	uint8_t tbs[TBSMAX + 16];
	size_t tbslen;
	int verdict;
} vh;

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static EVP_PKEY *
gen_default(const char *type, const char *group, unsigned bits)
{
	EVP_PKEY_CTX *c;
	EVP_PKEY *k = NULL;
	OSSL_PARAM p[2];

	if ((c = EVP_PKEY_CTX_new_from_name(NULL, type, DEFLT)) == NULL)
		return NULL;
	if (EVP_PKEY_keygen_init(c) != 1)
		goto out;
	p[1] = OSSL_PARAM_construct_end();
	if (group != NULL)
		p[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	else if (bits != 0)
		p[0] = OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_BITS,
		    &bits);
	else
		p[0] = p[1];
	if (EVP_PKEY_CTX_set_params(c, p) != 1 || EVP_PKEY_generate(c, &k) != 1)
		k = NULL;
 out:
	EVP_PKEY_CTX_free(c);
	return k;
}

/* The monitor's side: sign with a real key in the default provider. */
static int
sign_default(EVP_PKEY *k, const char *md, const uint8_t *tbs, size_t tbslen,
    uint8_t *sig, size_t *siglen)
{
	EVP_MD_CTX *m;
	int ok;

	if ((m = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestSignInit_ex(m, NULL, md, NULL, DEFLT, k, NULL) == 1 &&
	    EVP_DigestSign(m, sig, siglen, tbs, tbslen) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

static int
verify_default(EVP_PKEY *k, const char *md, const uint8_t *sig,
    size_t siglen, const uint8_t *tbs, size_t tbslen)
{
	EVP_MD_CTX *m;
	int ok;

	if ((m = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit_ex(m, NULL, md, NULL, DEFLT, k, NULL) == 1 &&
	    EVP_DigestVerify(m, sig, siglen, tbs, tbslen) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

/* libssh's pki_sign_data(): buffer of EVP_PKEY_size(), one shot. */
static int
libssh_sign(EVP_PKEY *k, const uint8_t *tbs, size_t tbslen, uint8_t *sig,
    size_t *siglen)
{
	EVP_MD_CTX *m;
	int ok;

	*siglen = (size_t)EVP_PKEY_size(k);
	if ((m = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestSignInit(m, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestSign(m, sig, siglen, tbs, tbslen) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

/* libssh's pki_verify_data_signature(): 1 only for a valid signature. */
static int
libssh_verify(EVP_PKEY *k, const EVP_MD *md, const uint8_t *sig,
    size_t siglen, const uint8_t *tbs, size_t tbslen)
{
	EVP_MD_CTX *m;
	int ok;

	if ((m = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(m, NULL, md, NULL, k) == 1 &&
	    EVP_DigestVerify(m, sig, siglen, tbs, tbslen) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

/* The same, through EVP_DigestVerifyUpdate/Final, in two pieces. */
static int
stream_verify(EVP_PKEY *k, const EVP_MD *md, const uint8_t *sig,
    size_t siglen, const uint8_t *tbs, size_t tbslen)
{
	EVP_MD_CTX *m;
	int ok;

	if ((m = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(m, NULL, md, NULL, k) == 1 &&
	    EVP_DigestVerifyUpdate(m, tbs, tbslen / 2) == 1 &&
	    EVP_DigestVerifyUpdate(m, tbs + tbslen / 2,
	    tbslen - tbslen / 2) == 1 &&
	    EVP_DigestVerifyFinal(m, sig, siglen) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

static const char *
prov_of(const EVP_PKEY *k)
{
	const OSSL_PROVIDER *p = EVP_PKEY_get0_provider(k);

	return p != NULL ? OSSL_PROVIDER_get0_name(p) : "(legacy)";
}

/* libssh's pki_pubkey_build_rsa(). */
static EVP_PKEY *
libssh_rsa_pub(const BIGNUM *n, const BIGNUM *e)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *p = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *k = NULL;

	if (bld != NULL && c != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1 &&
	    (p = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
	    EVP_PKEY_fromdata_init(c) == 1 &&
	    EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p) != 1)
		k = NULL;
	OSSL_PARAM_free(p);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* libssh's pki_pubkey_build_ecdsa() and pki_key_to_pkey() for ECDSA. */
static EVP_PKEY *
libssh_ec_pub(int nid, const uint8_t *pt, size_t ptlen)
{
	EC_KEY *ec = EC_KEY_new_by_curve_name(nid);
	const EC_GROUP *g = ec != NULL ? EC_KEY_get0_group(ec) : NULL;
	EC_POINT *p = NULL;
	EVP_PKEY *k = NULL;

	if (ec == NULL || (p = EC_POINT_new(g)) == NULL ||
	    EC_POINT_oct2point(g, p, pt, ptlen, NULL) != 1 ||
	    EC_KEY_set_public_key(ec, p) != 1 || (k = EVP_PKEY_new()) == NULL ||
	    EVP_PKEY_set1_EC_KEY(k, ec) != 1) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	EC_POINT_free(p);
	EC_KEY_free(ec);
	return k;
}

/* An EC public key through EVP_PKEY_fromdata(), as libssh 0.12 builds one
 * with OpenSSL 3 (pki_pubkey_build_ecdsa(); 0.10 kept that code disabled),
 * which lands in the provider's EC key manager. */
static EVP_PKEY *
fromdata_ec_pub(const char *group, const uint8_t *pt, size_t ptlen)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;
	OSSL_PARAM p[3];

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    (char *)group, 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    (void *)pt, ptlen);
	p[2] = OSSL_PARAM_construct_end();
	if (c == NULL || EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(c);
	return k;
}

static int
test_sign_hook(const uint8_t *tbs, size_t tbslen, uint8_t *sig,
    size_t *siglen)
{
	sh.calls++;
	if (tbslen <= sizeof(sh.tbs)) {
		memcpy(sh.tbs, tbs, tbslen);
		sh.tbslen = tbslen;
	}
	if (sh.mode == 1)
		return -1;
	if (!sign_default(ed_real, NULL, tbs, tbslen, sig, siglen))
		return -1;
	if (sh.mode == 2)
		*siglen = 63;
	return 0;
}

static int
test_verify_hook(const uint8_t *sig, size_t siglen, const uint8_t *tbs,
    size_t tbslen)
{
	vh.calls++;
	if (siglen <= sizeof(vh.sig) && tbslen <= sizeof(vh.tbs)) {
		memcpy(vh.sig, sig, siglen);
		vh.siglen = siglen;
		memcpy(vh.tbs, tbs, tbslen);
		vh.tbslen = tbslen;
	}
	return vh.verdict;
}

static void
hooks_reset(void)
{
	memset(&sh, 0, sizeof(sh));
	memset(&vh, 0, sizeof(vh));
	csshd_provider_set_sign_hook(NULL);
	csshd_provider_set_verify_hook(NULL);
}

static const uint8_t msg[] = "exchange hash, or string(session id) || "
    "userauth request: the data signed";

/* ------------------------------------------------------------------ */
/* Set-up and routing                                                  */

static const char *
keymgmt_prov(const char *alg)
{
	EVP_KEYMGMT *km = EVP_KEYMGMT_fetch(NULL, alg, NULL);
	const char *name;

	if (km == NULL)
		return "(none)";
	name = OSSL_PROVIDER_get0_name(EVP_KEYMGMT_get0_provider(km));
	EVP_KEYMGMT_free(km);
	return name;
}

static void
test_init_and_routing(void)
{
	EVP_MD *md;
	EVP_CIPHER *ci;
	EVP_SIGNATURE *sg;
	uint8_t rnd[32];

	CU_ASSERT_EQUAL(csshd_provider_init(), 0);	/* second call */
	CU_ASSERT(OSSL_PROVIDER_available(NULL, "csshd"));
	CU_ASSERT(OSSL_PROVIDER_available(NULL, "default"));
	/* Ours where we implement the algorithm... */
	CU_ASSERT_STRING_EQUAL(keymgmt_prov("ED25519"), "csshd");
	CU_ASSERT_STRING_EQUAL(keymgmt_prov("RSA"), "csshd");
	CU_ASSERT_STRING_EQUAL(keymgmt_prov("EC"), "csshd");
	CU_ASSERT_STRING_EQUAL(keymgmt_prov("id-ecPublicKey"), "csshd");
	sg = EVP_SIGNATURE_fetch(NULL, "ECDSA", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sg);
	CU_ASSERT_STRING_EQUAL(OSSL_PROVIDER_get0_name(
	    EVP_SIGNATURE_get0_provider(sg)), "csshd");
	EVP_SIGNATURE_free(sg);
	/* ...the default provider everywhere else. */
	CU_ASSERT_STRING_EQUAL(keymgmt_prov("X25519"), "default");
	CU_ASSERT_STRING_EQUAL(keymgmt_prov("DHX"), "default");
	CU_ASSERT_STRING_EQUAL(keymgmt_prov("DH"), "default");
	md = EVP_MD_fetch(NULL, "SHA256", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(md);
	CU_ASSERT_STRING_EQUAL(OSSL_PROVIDER_get0_name(
	    EVP_MD_get0_provider(md)), "default");
	EVP_MD_free(md);
	ci = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	CU_ASSERT_PTR_NOT_NULL(ci);
	EVP_CIPHER_free(ci);
	CU_ASSERT_EQUAL(RAND_bytes(rnd, sizeof(rnd)), 1);
}

/* ------------------------------------------------------------------ */
/* Ed25519                                                             */

static void
test_ed25519_stub_key(void)
{
	EVP_PKEY *stub;
	uint8_t buf[64];
	size_t len = sizeof(buf);
	int bits = 0;

	/* pki_key_to_pkey() for a private key: the seed, which in the
	 * worker's stub is the public key. */
	stub = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, ed_pub,
	    sizeof(ed_pub));
	CU_ASSERT_PTR_NOT_NULL_FATAL(stub);
	CU_ASSERT_STRING_EQUAL(prov_of(stub), "csshd");
	CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(stub), EVP_PKEY_ED25519);
	CU_ASSERT_EQUAL(EVP_PKEY_size(stub), 64);
	CU_ASSERT_EQUAL(EVP_PKEY_bits(stub), 253);
	CU_ASSERT_EQUAL(EVP_PKEY_security_bits(stub), 128);
	CU_ASSERT_EQUAL(EVP_PKEY_get_int_param(stub, OSSL_PKEY_PARAM_BITS,
	    &bits), 1);
	CU_ASSERT_EQUAL(bits, 253);
	CU_ASSERT_EQUAL(EVP_PKEY_get_raw_public_key(stub, buf, &len), 1);
	CU_ASSERT_EQUAL(len, 32);
	CU_ASSERT(memcmp(buf, ed_pub, 32) == 0);
	/* There is no private key to give out. */
	len = sizeof(buf);
	CU_ASSERT_NOT_EQUAL(EVP_PKEY_get_raw_private_key(stub, buf, &len), 1);
	/* Bad sizes are refused. */
	CU_ASSERT_PTR_NULL(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519,
	    NULL, ed_pub, 31));
	CU_ASSERT_PTR_NULL(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519,
	    NULL, ed_pub, 33));
	EVP_PKEY_free(stub);
}

static void
test_ed25519_sign_hook(void)
{
	EVP_PKEY *stub;
	uint8_t sig[128], want[64];
	size_t siglen, wantlen = sizeof(want);

	hooks_reset();
	csshd_provider_set_sign_hook(test_sign_hook);
	stub = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, ed_pub,
	    sizeof(ed_pub));
	CU_ASSERT_PTR_NOT_NULL_FATAL(stub);
	CU_ASSERT_FATAL(libssh_sign(stub, msg, sizeof(msg), sig, &siglen));
	CU_ASSERT_EQUAL(siglen, 64);
	/* The hook got exactly the data, once. */
	CU_ASSERT_EQUAL(sh.calls, 1);
	CU_ASSERT_EQUAL(sh.tbslen, sizeof(msg));
	CU_ASSERT(memcmp(sh.tbs, msg, sizeof(msg)) == 0);
	/* It is the real key's signature: valid under the real public key,
	 * and (Ed25519 being deterministic) the very same bytes. */
	CU_ASSERT(verify_default(ed_real, NULL, sig, siglen, msg,
	    sizeof(msg)));
	CU_ASSERT_FATAL(sign_default(ed_real, NULL, msg, sizeof(msg), want,
	    &wantlen));
	CU_ASSERT(memcmp(sig, want, 64) == 0);
	/* The size query (sig == NULL) answers 64 without signing. */
	{
		EVP_MD_CTX *m = EVP_MD_CTX_new();

		siglen = 0;
		CU_ASSERT(EVP_DigestSignInit(m, NULL, NULL, NULL, stub) == 1);
		CU_ASSERT(EVP_DigestSign(m, NULL, &siglen, msg,
		    sizeof(msg)) == 1);
		CU_ASSERT_EQUAL(siglen, 64);
		CU_ASSERT_EQUAL(sh.calls, 1);
		EVP_MD_CTX_free(m);
	}
	EVP_PKEY_free(stub);
	hooks_reset();
}

static void
test_ed25519_sign_refused(void)
{
	EVP_PKEY *stub, *pub;
	EVP_MD_CTX *m;
	uint8_t sig[128];
	size_t siglen;

	hooks_reset();
	stub = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, ed_pub,
	    sizeof(ed_pub));
	pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, ed_pub,
	    sizeof(ed_pub));
	CU_ASSERT_PTR_NOT_NULL_FATAL(stub);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	/* No hook: no signature, never a local one. */
	CU_ASSERT_FALSE(libssh_sign(stub, msg, sizeof(msg), sig, &siglen));
	/* A failing hook, or one returning a short signature. */
	csshd_provider_set_sign_hook(test_sign_hook);
	sh.mode = 1;
	CU_ASSERT_FALSE(libssh_sign(stub, msg, sizeof(msg), sig, &siglen));
	sh.mode = 2;
	CU_ASSERT_FALSE(libssh_sign(stub, msg, sizeof(msg), sig, &siglen));
	CU_ASSERT_EQUAL(sh.calls, 2);
	/* A buffer too small for the signature. */
	sh.mode = 0;
	m = EVP_MD_CTX_new();
	siglen = 10;
	CU_ASSERT(EVP_DigestSignInit(m, NULL, NULL, NULL, stub) == 1);
	CU_ASSERT(EVP_DigestSign(m, sig, &siglen, msg, sizeof(msg)) != 1);
	EVP_MD_CTX_free(m);
	/* A key imported as public cannot sign, hook or not. */
	CU_ASSERT_FALSE(libssh_sign(pub, msg, sizeof(msg), sig, &siglen));
	/* Ed25519 takes no digest. */
	m = EVP_MD_CTX_new();
	CU_ASSERT(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, stub) != 1);
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(stub);
	EVP_PKEY_free(pub);
	hooks_reset();
}

static void
test_ed25519_verify_hook(void)
{
	EVP_PKEY *pub;
	uint8_t sig[64];

	hooks_reset();
	pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, ed_pub,
	    sizeof(ed_pub));
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	CU_ASSERT_STRING_EQUAL(prov_of(pub), "csshd");
	memset(sig, 0xa5, sizeof(sig));	/* not a signature: the hook
					 * alone decides */
	csshd_provider_set_verify_hook(test_verify_hook);
	vh.verdict = 1;
	CU_ASSERT_TRUE(libssh_verify(pub, NULL, sig, sizeof(sig), msg,
	    sizeof(msg)));
	CU_ASSERT_EQUAL(vh.calls, 1);
	CU_ASSERT_EQUAL(vh.siglen, sizeof(sig));
	CU_ASSERT(memcmp(vh.sig, sig, sizeof(sig)) == 0);
	CU_ASSERT_EQUAL(vh.tbslen, sizeof(msg));
	CU_ASSERT(memcmp(vh.tbs, msg, sizeof(msg)) == 0);
	vh.verdict = 0;
	CU_ASSERT_FALSE(libssh_verify(pub, NULL, sig, sizeof(sig), msg,
	    sizeof(msg)));
	vh.verdict = -1;
	CU_ASSERT_FALSE(libssh_verify(pub, NULL, sig, sizeof(sig), msg,
	    sizeof(msg)));
	CU_ASSERT_EQUAL(vh.calls, 3);
	EVP_PKEY_free(pub);
	hooks_reset();
}

static void
test_ed25519_verify_local(void)
{
	EVP_PKEY *pub, *other;
	uint8_t sig[64], bad[sizeof(msg)];
	size_t siglen = sizeof(sig);

	hooks_reset();
	CU_ASSERT_FATAL(sign_default(ed_real, NULL, msg, sizeof(msg), sig,
	    &siglen));
	pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, ed_pub,
	    sizeof(ed_pub));
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	CU_ASSERT_TRUE(libssh_verify(pub, NULL, sig, siglen, msg,
	    sizeof(msg)));
	/* A changed message, a changed signature, a short signature. */
	memcpy(bad, msg, sizeof(msg));
	bad[3] ^= 1;
	CU_ASSERT_FALSE(libssh_verify(pub, NULL, sig, siglen, bad,
	    sizeof(bad)));
	sig[10] ^= 0x40;
	CU_ASSERT_FALSE(libssh_verify(pub, NULL, sig, siglen, msg,
	    sizeof(msg)));
	sig[10] ^= 0x40;
	CU_ASSERT_FALSE(libssh_verify(pub, NULL, sig, siglen - 1, msg,
	    sizeof(msg)));
	/* Another key. */
	other = gen_default("ED25519", NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	siglen = sizeof(sig);
	CU_ASSERT_FATAL(sign_default(other, NULL, msg, sizeof(msg), sig,
	    &siglen));
	CU_ASSERT_FALSE(libssh_verify(pub, NULL, sig, siglen, msg,
	    sizeof(msg)));
	/* A verify hook never sees a local verification. */
	CU_ASSERT_EQUAL(vh.calls, 0);
	EVP_PKEY_free(other);
	EVP_PKEY_free(pub);
	hooks_reset();
}

/* ------------------------------------------------------------------ */
/* RSA                                                                 */

static void
test_rsa(void)
{
	static const struct {
		const char *name;
		const EVP_MD *(*md)(void);
	} mds[] = {
		{ "SHA1", EVP_sha1 },		/* ssh-rsa */
		{ "SHA256", EVP_sha256 },	/* rsa-sha2-256 */
		{ "SHA512", EVP_sha512 },	/* rsa-sha2-512 */
	};
	EVP_PKEY *real, *pub;
	BIGNUM *n = NULL, *e = NULL, *n2 = NULL, *e2 = NULL;
	OSSL_PARAM *params = NULL;
	const OSSL_PARAM *p;
	uint8_t sig[SIGMAX], big[TBSMAX + 1];
	size_t siglen, i;
	EVP_MD_CTX *m;
	EVP_PKEY_CTX *pctx;

	hooks_reset();
	real = gen_default("RSA", NULL, 2048);
	CU_ASSERT_PTR_NOT_NULL_FATAL(real);
	CU_ASSERT_FATAL(EVP_PKEY_get_bn_param(real, OSSL_PKEY_PARAM_RSA_N,
	    &n) == 1);
	CU_ASSERT_FATAL(EVP_PKEY_get_bn_param(real, OSSL_PKEY_PARAM_RSA_E,
	    &e) == 1);
	pub = libssh_rsa_pub(n, e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	CU_ASSERT_STRING_EQUAL(prov_of(pub), "csshd");
	CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(pub), EVP_PKEY_RSA);
	CU_ASSERT_EQUAL(EVP_PKEY_bits(pub), 2048);
	CU_ASSERT_EQUAL(EVP_PKEY_size(pub), 256);
	/* pki_publickey_to_blob() reads n and e back with todata. */
	CU_ASSERT_FATAL(EVP_PKEY_todata(pub, EVP_PKEY_PUBLIC_KEY,
	    &params) == 1);
	p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_N);
	CU_ASSERT(p != NULL && OSSL_PARAM_get_BN(p, &n2) == 1 &&
	    BN_cmp(n, n2) == 0);
	p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E);
	CU_ASSERT(p != NULL && OSSL_PARAM_get_BN(p, &e2) == 1 &&
	    BN_cmp(e, e2) == 0);
	OSSL_PARAM_free(params);

	for (i = 0; i < sizeof(mds) / sizeof(mds[0]); i++) {
		siglen = sizeof(sig);
		CU_ASSERT_FATAL(sign_default(real, mds[i].name, msg,
		    sizeof(msg), sig, &siglen));
		CU_ASSERT_EQUAL(siglen, 256);
		/* Local: good, through both EVP paths. */
		CU_ASSERT_TRUE(libssh_verify(pub, mds[i].md(), sig, siglen,
		    msg, sizeof(msg)));
		CU_ASSERT_TRUE(stream_verify(pub, mds[i].md(), sig, siglen,
		    msg, sizeof(msg)));
		/* Local: the wrong digest, the wrong data, a bad signature. */
		CU_ASSERT_FALSE(libssh_verify(pub, i == 1 ? EVP_sha512() :
		    EVP_sha256(), sig, siglen, msg, sizeof(msg)));
		CU_ASSERT_FALSE(libssh_verify(pub, mds[i].md(), sig, siglen,
		    msg, sizeof(msg) - 1));
		sig[100] ^= 1;
		CU_ASSERT_FALSE(libssh_verify(pub, mds[i].md(), sig, siglen,
		    msg, sizeof(msg)));
		CU_ASSERT_FALSE(stream_verify(pub, mds[i].md(), sig, siglen,
		    msg, sizeof(msg)));
		sig[100] ^= 1;
		/* Hook: it sees sig and data, and decides. */
		csshd_provider_set_verify_hook(test_verify_hook);
		vh.calls = 0;
		vh.verdict = 1;
		CU_ASSERT_TRUE(libssh_verify(pub, mds[i].md(), sig, siglen,
		    msg, sizeof(msg)));
		CU_ASSERT(vh.siglen == siglen &&
		    memcmp(vh.sig, sig, siglen) == 0);
		CU_ASSERT(vh.tbslen == sizeof(msg) &&
		    memcmp(vh.tbs, msg, sizeof(msg)) == 0);
		vh.tbslen = 0;
		CU_ASSERT_TRUE(stream_verify(pub, mds[i].md(), sig, siglen,
		    msg, sizeof(msg)));
		CU_ASSERT(vh.tbslen == sizeof(msg) &&
		    memcmp(vh.tbs, msg, sizeof(msg)) == 0);
		vh.verdict = 0;
		CU_ASSERT_FALSE(libssh_verify(pub, mds[i].md(), sig, siglen,
		    msg, sizeof(msg)));
		CU_ASSERT_FALSE(stream_verify(pub, mds[i].md(), sig, siglen,
		    msg, sizeof(msg)));
		CU_ASSERT_EQUAL(vh.calls, 4);
		csshd_provider_set_verify_hook(NULL);
	}

	/* PKCS#1 v1.5 may be asked for; PSS is refused. */
	siglen = sizeof(sig);
	CU_ASSERT_FATAL(sign_default(real, "SHA256", msg, sizeof(msg), sig,
	    &siglen));
	m = EVP_MD_CTX_new();
	CU_ASSERT(EVP_DigestVerifyInit(m, &pctx, EVP_sha256(), NULL,
	    pub) == 1);
	CU_ASSERT(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1);
	CU_ASSERT(EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PSS_PADDING) != 1);
	CU_ASSERT(EVP_DigestVerify(m, sig, siglen, msg, sizeof(msg)) == 1);
	EVP_MD_CTX_free(m);
	/* Digests SSH does not use are refused. */
	m = EVP_MD_CTX_new();
	CU_ASSERT(EVP_DigestVerifyInit(m, NULL, EVP_md5(), NULL, pub) != 1);
	EVP_MD_CTX_free(m);

	/* The streaming path buffers at most 64 KiB. */
	memset(big, 'x', sizeof(big));
	csshd_provider_set_verify_hook(test_verify_hook);
	vh.verdict = 1;
	vh.calls = 0;
	CU_ASSERT_TRUE(stream_verify(pub, EVP_sha256(), sig, siglen, big,
	    TBSMAX));
	CU_ASSERT_FALSE(stream_verify(pub, EVP_sha256(), sig, siglen, big,
	    TBSMAX + 1));
	CU_ASSERT_FALSE(libssh_verify(pub, EVP_sha256(), sig, siglen, big,
	    TBSMAX + 1));
	CU_ASSERT_EQUAL(vh.calls, 1);

	/* No RSA private key is accepted into the worker's provider, and
	 * none can sign. */
	{
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA",
		    NULL);
		EVP_PKEY *k = NULL;

		params = NULL;
		CU_ASSERT(EVP_PKEY_todata(real, EVP_PKEY_KEYPAIR,
		    &params) == 1);
		CU_ASSERT(EVP_PKEY_fromdata_init(c) == 1);
		CU_ASSERT(EVP_PKEY_fromdata(c, &k, EVP_PKEY_KEYPAIR,
		    params) != 1);
		EVP_PKEY_free(k);
		EVP_PKEY_CTX_free(c);
		OSSL_PARAM_free(params);
		CU_ASSERT_FALSE(libssh_sign(pub, msg, sizeof(msg), sig,
		    &siglen));
	}

	BN_free(n);
	BN_free(e);
	BN_free(n2);
	BN_free(e2);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(real);
	hooks_reset();
}

/*
 * Every RSA key the provider takes is held to the Studio host key bounds
 * of keytypes.h (KEYTYPE_USE_HOSTKEY), looser than a client key's: up to
 * 16384 bits, e up to 64 bits.  The keys are made of bits, not primes:
 * import checks sizes and parity only.
 */
static EVP_PKEY *
rsa_pub_of_size(int nbits, int even, const char *ehex)
{
	BIGNUM *n = BN_new(), *e = NULL;
	EVP_PKEY *k = NULL;

	CU_ASSERT_FATAL(n != NULL && BN_set_bit(n, nbits - 1) == 1 &&
	    BN_set_bit(n, 0) == 1 && BN_hex2bn(&e, ehex) != 0);
	if (even)
		CU_ASSERT_FATAL(BN_clear_bit(n, 0) == 1 &&
		    BN_set_bit(n, 1) == 1);
	k = libssh_rsa_pub(n, e);
	BN_free(n);
	BN_free(e);
	return k;
}

static void
test_rsa_hostkey_bounds(void)
{
	static const struct {
		int bits, even;
		const char *e;
		int ok;
	} cases[] = {
		{ 1023, 0, "10001", 0 },
		{ 1024, 0, "10001", 1 },
		{ 8192, 0, "10001", 1 },
		{ 8193, 0, "10001", 1 },	/* over the client bound */
		{ 16384, 0, "10001", 1 },
		{ 16385, 0, "10001", 0 },
		{ 2048, 1, "10001", 0 },	/* an even modulus */
		{ 2048, 0, "1", 0 },
		{ 2048, 0, "2", 0 },
		{ 2048, 0, "3", 1 },
		{ 2048, 0, "100000001", 1 },	/* 2^32 + 1 */
		{ 2048, 0, "FFFFFFFFFFFFFFFF", 1 },	/* 2^64 - 1 */
		{ 2048, 0, "10000000000000001", 0 },	/* 2^64 + 1 */
	};
	EVP_PKEY *k;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k = rsa_pub_of_size(cases[i].bits, cases[i].even,
		    cases[i].e);
		CU_ASSERT_EQUAL(k != NULL, cases[i].ok);
		if ((k != NULL) != cases[i].ok)
			fprintf(stderr, "\n    %d bits, e %s: %s\n",
			    cases[i].bits, cases[i].e,
			    k != NULL ? "taken" : "refused");
		if (k != NULL) {
			CU_ASSERT_STRING_EQUAL(prov_of(k), "csshd");
			CU_ASSERT_EQUAL(EVP_PKEY_get_bits(k), cases[i].bits);
			CU_ASSERT_EQUAL(EVP_PKEY_get_size(k),
			    (cases[i].bits + 7) / 8);
		}
		EVP_PKEY_free(k);
	}
}

/* ------------------------------------------------------------------ */
/* ECDSA                                                               */

static void
ecdsa_curve(const char *group, int nid, const char *mdname,
    const EVP_MD *md, int maxsize)
{
	EVP_PKEY *real, *pub, *pub2;
	uint8_t pt[160], sig[SIGMAX];
	size_t ptlen, siglen = sizeof(sig);
	char gname[32];

	hooks_reset();
	real = gen_default("EC", group, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(real);
	CU_ASSERT_FATAL(EVP_PKEY_get_octet_string_param(real,
	    OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &ptlen) == 1);
	CU_ASSERT_FATAL(sign_default(real, mdname, msg, sizeof(msg), sig,
	    &siglen));

	/* libssh's way: a legacy EC_KEY, exported to our key manager when
	 * the verification starts. */
	pub = libssh_ec_pub(nid, pt, ptlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	CU_ASSERT_TRUE(libssh_verify(pub, md, sig, siglen, msg, sizeof(msg)));
	CU_ASSERT_TRUE(stream_verify(pub, md, sig, siglen, msg, sizeof(msg)));
	CU_ASSERT_FALSE(libssh_verify(pub, md, sig, siglen, msg,
	    sizeof(msg) - 1));
	sig[siglen - 3] ^= 1;
	CU_ASSERT_FALSE(libssh_verify(pub, md, sig, siglen, msg,
	    sizeof(msg)));
	sig[siglen - 3] ^= 1;
	CU_ASSERT_FALSE(libssh_verify(pub, md, sig, siglen - 1, msg,
	    sizeof(msg)));
	/* SHA-1 is not an ECDSA digest in SSH. */
	CU_ASSERT_FALSE(libssh_verify(pub, EVP_sha1(), sig, siglen, msg,
	    sizeof(msg)));

	/* The hook path: proof the legacy key went through the provider,
	 * with the DER signature and the data. */
	csshd_provider_set_verify_hook(test_verify_hook);
	vh.verdict = 1;
	CU_ASSERT_TRUE(libssh_verify(pub, md, sig, siglen, msg, sizeof(msg)));
	CU_ASSERT_EQUAL(vh.calls, 1);
	CU_ASSERT(vh.siglen == siglen && memcmp(vh.sig, sig, siglen) == 0);
	CU_ASSERT(vh.sig[0] == 0x30);	/* DER SEQUENCE */
	CU_ASSERT(vh.tbslen == sizeof(msg) &&
	    memcmp(vh.tbs, msg, sizeof(msg)) == 0);
	vh.verdict = 0;
	CU_ASSERT_FALSE(libssh_verify(pub, md, sig, siglen, msg,
	    sizeof(msg)));
	CU_ASSERT_FALSE(stream_verify(pub, md, sig, siglen, msg,
	    sizeof(msg)));
	CU_ASSERT_EQUAL(vh.calls, 3);
	csshd_provider_set_verify_hook(NULL);

	/* Through EVP_PKEY_fromdata(): our key manager directly. */
	pub2 = fromdata_ec_pub(group, pt, ptlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub2);
	CU_ASSERT_STRING_EQUAL(prov_of(pub2), "csshd");
	CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(pub2), EVP_PKEY_EC);
	CU_ASSERT_EQUAL(EVP_PKEY_size(pub2), maxsize);
	CU_ASSERT(EVP_PKEY_get_utf8_string_param(pub2,
	    OSSL_PKEY_PARAM_GROUP_NAME, gname, sizeof(gname), NULL) == 1);
	CU_ASSERT_EQUAL(OBJ_sn2nid(gname), nid);
	CU_ASSERT_TRUE(libssh_verify(pub2, md, sig, siglen, msg,
	    sizeof(msg)));
	sig[siglen - 3] ^= 1;
	CU_ASSERT_FALSE(libssh_verify(pub2, md, sig, siglen, msg,
	    sizeof(msg)));
	/* A point that is not on the curve. */
	pt[ptlen - 1] ^= 1;
	CU_ASSERT_PTR_NULL(fromdata_ec_pub(group, pt, ptlen));

	EVP_PKEY_free(pub2);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(real);
	hooks_reset();
}

static void
test_ecdsa_p256(void)
{
	ecdsa_curve("P-256", NID_X9_62_prime256v1, "SHA256", EVP_sha256(),
	    72);
}

static void
test_ecdsa_p384(void)
{
	ecdsa_curve("P-384", NID_secp384r1, "SHA384", EVP_sha384(), 104);
}

static void
test_ecdsa_p521(void)
{
	ecdsa_curve("P-521", NID_secp521r1, "SHA512", EVP_sha512(), 141);
}

/* ------------------------------------------------------------------ */
/* EVP_PKEY_eq                                                         */

static void
test_eq(void)
{
	EVP_PKEY *a, *b, *c, *r1, *r2, *ra, *rb, *rc, *e1, *e2, *ea, *eb, *ec;
	BIGNUM *n1 = NULL, *x1 = NULL, *n2 = NULL, *x2 = NULL;
	uint8_t pub2[32], p1[133], p2[133];
	size_t len = sizeof(pub2), l1, l2;

	/* Ed25519: two imports of one key, a third key, and the stub
	 * (imported as "private") against the public import. */
	r2 = gen_default("ED25519", NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r2);
	CU_ASSERT_FATAL(EVP_PKEY_get_raw_public_key(r2, pub2, &len) == 1);
	a = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, ed_pub, 32);
	b = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, ed_pub, 32);
	c = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub2, 32);
	CU_ASSERT_FATAL(a != NULL && b != NULL && c != NULL);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(a, b), 1);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(a, c), 0);
	e1 = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, ed_pub, 32);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(a, e1), 1);
	/* Across providers: our import against the real key. */
	CU_ASSERT_EQUAL(EVP_PKEY_eq(a, ed_real), 1);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(c, ed_real), 0);
	EVP_PKEY_free(e1);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(c);
	EVP_PKEY_free(r2);

	/* RSA. */
	r1 = gen_default("RSA", NULL, 2048);
	r2 = gen_default("RSA", NULL, 2048);
	CU_ASSERT_FATAL(r1 != NULL && r2 != NULL);
	CU_ASSERT_FATAL(EVP_PKEY_get_bn_param(r1, "n", &n1) == 1 &&
	    EVP_PKEY_get_bn_param(r1, "e", &x1) == 1 &&
	    EVP_PKEY_get_bn_param(r2, "n", &n2) == 1 &&
	    EVP_PKEY_get_bn_param(r2, "e", &x2) == 1);
	ra = libssh_rsa_pub(n1, x1);
	rb = libssh_rsa_pub(n1, x1);
	rc = libssh_rsa_pub(n2, x2);
	CU_ASSERT_FATAL(ra != NULL && rb != NULL && rc != NULL);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(ra, rb), 1);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(ra, rc), 0);
	/* libssh's evp_dup_rsa_pkey(): todata + fromdata. */
	{
		OSSL_PARAM *params = NULL;
		EVP_PKEY_CTX *cx = EVP_PKEY_CTX_new_from_name(NULL, "RSA",
		    NULL);
		EVP_PKEY *d = NULL;

		CU_ASSERT(EVP_PKEY_todata(ra, EVP_PKEY_PUBLIC_KEY,
		    &params) == 1);
		CU_ASSERT(EVP_PKEY_fromdata_init(cx) == 1);
		CU_ASSERT(EVP_PKEY_fromdata(cx, &d, EVP_PKEY_PUBLIC_KEY,
		    params) == 1);
		CU_ASSERT_EQUAL(EVP_PKEY_eq(ra, d), 1);
		CU_ASSERT_EQUAL(EVP_PKEY_eq(rc, d), 0);
		EVP_PKEY_free(d);
		EVP_PKEY_CTX_free(cx);
		OSSL_PARAM_free(params);
	}
	BN_free(n1);
	BN_free(x1);
	BN_free(n2);
	BN_free(x2);
	EVP_PKEY_free(ra);
	EVP_PKEY_free(rb);
	EVP_PKEY_free(rc);
	EVP_PKEY_free(r1);
	EVP_PKEY_free(r2);

	/* EC. */
	e1 = gen_default("EC", "P-256", 0);
	e2 = gen_default("EC", "P-256", 0);
	CU_ASSERT_FATAL(e1 != NULL && e2 != NULL);
	CU_ASSERT_FATAL(EVP_PKEY_get_octet_string_param(e1,
	    OSSL_PKEY_PARAM_PUB_KEY, p1, sizeof(p1), &l1) == 1 &&
	    EVP_PKEY_get_octet_string_param(e2, OSSL_PKEY_PARAM_PUB_KEY, p2,
	    sizeof(p2), &l2) == 1);
	ea = fromdata_ec_pub("P-256", p1, l1);
	eb = fromdata_ec_pub("prime256v1", p1, l1);
	ec = fromdata_ec_pub("P-256", p2, l2);
	CU_ASSERT_FATAL(ea != NULL && eb != NULL && ec != NULL);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(ea, eb), 1);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(ea, ec), 0);
	EVP_PKEY_free(ea);
	EVP_PKEY_free(eb);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(e1);
	EVP_PKEY_free(e2);
}

/* ------------------------------------------------------------------ */
/* Key exchange is untouched                                           */

/* ecdh_crypto.c in libssh 0.10.6 (the "#if 1" branches): EC_KEY. */
static void
test_ecdh_libssh(void)
{
	static const int nids[] = { NID_X9_62_prime256v1, NID_secp384r1,
	    NID_secp521r1 };
	size_t i;

	for (i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) {
		EC_KEY *a = EC_KEY_new_by_curve_name(nids[i]);
		EC_KEY *b = EC_KEY_new_by_curve_name(nids[i]);
		const EC_GROUP *g;
		EC_POINT *pb;
		uint8_t oct[133], ka[66], kb[66], zero[66] = { 0 };
		size_t octlen;
		int len;

		CU_ASSERT_FATAL(a != NULL && b != NULL);
		CU_ASSERT_FATAL(EC_KEY_generate_key(a) == 1);
		CU_ASSERT_FATAL(EC_KEY_generate_key(b) == 1);
		g = EC_KEY_get0_group(a);
		len = (EC_GROUP_get_degree(g) + 7) / 8;
		/* The peer's point goes over the wire and back. */
		octlen = EC_POINT_point2oct(g, EC_KEY_get0_public_key(b),
		    POINT_CONVERSION_UNCOMPRESSED, oct, sizeof(oct), NULL);
		CU_ASSERT_FATAL(octlen > 0);
		pb = EC_POINT_new(g);
		CU_ASSERT_FATAL(EC_POINT_oct2point(g, pb, oct, octlen,
		    NULL) == 1);
		CU_ASSERT_EQUAL(ECDH_compute_key(ka, (size_t)len, pb, a,
		    NULL), len);
		CU_ASSERT_EQUAL(ECDH_compute_key(kb, (size_t)len,
		    EC_KEY_get0_public_key(a), b, NULL), len);
		CU_ASSERT(memcmp(ka, kb, (size_t)len) == 0);
		CU_ASSERT(memcmp(ka, zero, (size_t)len) != 0);
		EC_POINT_free(pb);
		EC_KEY_free(a);
		EC_KEY_free(b);
	}
}

/* The EVP spelling of ECDH with the default provider asked for
 * explicitly; and what the provider does to it without. */
static void
test_ecdh_evp(void)
{
	EVP_PKEY *a, *b, *peer, *g;
	EVP_PKEY_CTX *c;
	uint8_t pt[133], ka[32], kb[32];
	size_t ptlen, la = sizeof(ka), lb = sizeof(kb);

	a = gen_default("EC", "P-256", 0);
	b = gen_default("EC", "P-256", 0);
	CU_ASSERT_FATAL(a != NULL && b != NULL);
	/* The peer's public key arrives as bytes and is imported the way
	 * libssh's disabled OpenSSL 3 code does it: into our key manager. */
	CU_ASSERT_FATAL(EVP_PKEY_get_octet_string_param(b,
	    OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &ptlen) == 1);
	peer = fromdata_ec_pub("P-256", pt, ptlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(peer);
	c = EVP_PKEY_CTX_new_from_pkey(NULL, a, NULL);
	CU_ASSERT(EVP_PKEY_derive_init(c) == 1);
	CU_ASSERT(EVP_PKEY_derive_set_peer(c, peer) == 1);
	CU_ASSERT(EVP_PKEY_derive(c, ka, &la) == 1);
	EVP_PKEY_CTX_free(c);
	c = EVP_PKEY_CTX_new_from_pkey(NULL, b, DEFLT);
	CU_ASSERT(EVP_PKEY_derive_init(c) == 1);
	CU_ASSERT(EVP_PKEY_derive_set_peer(c, a) == 1);
	CU_ASSERT(EVP_PKEY_derive(c, kb, &lb) == 1);
	EVP_PKEY_CTX_free(c);
	CU_ASSERT(la == 32 && lb == 32 && memcmp(ka, kb, 32) == 0);
	/* Generation in the default context without a property query
	 * reaches our EC key manager, which generates nothing: libssh
	 * 0.10.6 never does this (it uses EC_KEY_generate_key()). */
	g = EVP_EC_gen("P-256");
	CU_ASSERT_PTR_NULL(g);
	EVP_PKEY_free(g);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

/* curve25519.c in libssh 0.10.6. */
static void
x25519_half(uint8_t priv[32], uint8_t pub[32])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	EVP_PKEY *k = NULL;
	size_t l = 32;

	CU_ASSERT_FATAL(c != NULL && EVP_PKEY_keygen_init(c) == 1 &&
	    EVP_PKEY_keygen(c, &k) == 1);
	CU_ASSERT_STRING_EQUAL(prov_of(k), "default");
	CU_ASSERT(EVP_PKEY_get_raw_public_key(k, pub, &l) == 1 && l == 32);
	l = 32;
	CU_ASSERT(EVP_PKEY_get_raw_private_key(k, priv, &l) == 1 && l == 32);
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(k);
}

static int
x25519_derive(const uint8_t priv[32], const uint8_t peerpub[32],
    uint8_t out[32])
{
	EVP_PKEY *k, *p;
	EVP_PKEY_CTX *c;
	size_t l = 32;
	int ok;

	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peerpub, 32);
	c = EVP_PKEY_CTX_new(k, NULL);
	ok = k != NULL && p != NULL && c != NULL &&
	    EVP_PKEY_derive_init(c) == 1 &&
	    EVP_PKEY_derive_set_peer(c, p) == 1 &&
	    EVP_PKEY_derive(c, out, &l) == 1 && l == 32;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(k);
	EVP_PKEY_free(p);
	return ok;
}

static void
test_x25519(void)
{
	uint8_t ap[32], aq[32], bp[32], bq[32], ka[32], kb[32];

	x25519_half(ap, aq);
	x25519_half(bp, bq);
	CU_ASSERT_TRUE(x25519_derive(ap, bq, ka));
	CU_ASSERT_TRUE(x25519_derive(bp, aq, kb));
	CU_ASSERT(memcmp(ka, kb, 32) == 0);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "init and routing", test_init_and_routing },
		{ "ed25519 stub key", test_ed25519_stub_key },
		{ "ed25519 sign via hook", test_ed25519_sign_hook },
		{ "ed25519 sign refused", test_ed25519_sign_refused },
		{ "ed25519 verify via hook", test_ed25519_verify_hook },
		{ "ed25519 verify locally", test_ed25519_verify_local },
		{ "rsa verify", test_rsa },
		{ "rsa: host key bounds at import", test_rsa_hostkey_bounds },
		{ "ecdsa p-256 verify", test_ecdsa_p256 },
		{ "ecdsa p-384 verify", test_ecdsa_p384 },
		{ "ecdsa p-521 verify", test_ecdsa_p521 },
		{ "EVP_PKEY_eq", test_eq },
		{ "ecdh as libssh does it", test_ecdh_libssh },
		{ "ecdh through EVP", test_ecdh_evp },
		{ "x25519 as libssh does it", test_x25519 },
		UNIT_END,
	};
	size_t len = sizeof(ed_pub);
	int rc;

	if (csshd_provider_init() != 0) {
		fprintf(stderr, "csshd_provider_init failed\n");
		return 1;
	}
	if ((ed_real = gen_default("ED25519", NULL, 0)) == NULL ||
	    EVP_PKEY_get_raw_public_key(ed_real, ed_pub, &len) != 1 ||
	    len != sizeof(ed_pub)) {
		fprintf(stderr, "cannot make the test key\n");
		return 1;
	}
	rc = unit_run(argc, argv, "provider", tests);
	EVP_PKEY_free(ed_real);
	return rc;
}
