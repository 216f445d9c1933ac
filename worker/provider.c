/*
 * provider.c - the worker's OpenSSL 3 provider ("csshd"); see provider.h.
 *
 * How the pieces meet.  libssh (OpenSSL backend; 0.12 as 0.10.6) makes
 * every signature and every signature check through EVP with the default
 * library context and a NULL property query:
 *
 *  - Ed25519: EVP_PKEY_new_raw_private_key() / _public_key() (which import
 *    through the "ED25519" key manager), then EVP_DigestSignInit() /
 *    EVP_DigestVerifyInit() with no digest and one-shot EVP_DigestSign() /
 *    EVP_DigestVerify().  0.10 built the private key anew for every
 *    signature; 0.12 builds it once, when the stub is imported
 *    (pki_privkey_build_ed25519()), so this provider must be in place
 *    before that;
 *  - RSA: EVP_PKEY_fromdata() of n and e into the "RSA" key manager, then
 *    EVP_DigestVerifyInit() with EVP_sha1/sha256/sha512() and
 *    EVP_DigestVerify();
 *  - ECDSA: 0.10 wraps a legacy EC_KEY with EVP_PKEY_set1_EC_KEY(), which
 *    OpenSSL exports into the preferred "EC" key manager at
 *    EVP_DigestVerifyInit(); 0.12 imports group name and point with
 *    EVP_PKEY_fromdata() into that key manager directly.  Either way the
 *    manager is asked which signature algorithm serves it.
 *
 * Because csshd_provider_init() sets the default property query to
 * "?provider=csshd" (optional: a preference, not a requirement), every one
 * of those fetches lands here.  Everything this file does not implement
 * (X25519, DH, the legacy EC_KEY ECDH of ecdh_crypto.c, digests, ciphers,
 * MACs, KDFs, RNG) is fetched from the default provider as before.
 *
 * What is held here is public key material only.  Ed25519 "private" keys
 * are the worker's host-key stub, whose 32-byte seed is the public key: we
 * keep it as the public key and send every signature to the sign hook
 * (the monitor).  RSA and EC private keys are refused outright: the worker
 * has no business holding one, and this provider could not use it.
 *
 * Local verification (no verify hook: the Studio leg's host key) rebuilds
 * the key in the default provider and verifies there, always with the
 * explicit property query "provider=default": with the global preference
 * for csshd, a fetch without it would come straight back here.
 *
 * Global mutable state: the two hooks and the init flag (the provider
 * handles), nothing else.  The worker is single-threaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include "keytypes.h"
#include "provider.h"
#include "sshwire.h"

#define PROV_NAME	"csshd"
#define PROV_PROPS	"provider=" PROV_NAME
#define DEFLT_PROPQ	"provider=default"

/*
 * Key types, curves, sizes and digests are the table's (keytypes.h).
 * Every RSA key is held to the Studio host key bounds
 * (KEYTYPE_USE_HOSTKEY): this provider verifies the Studio's host key
 * itself, and cannot tell a client's key from it, which the monitor then
 * holds to the tighter client bounds.  The largest signature of any type
 * is an RSA one of the largest such modulus, KEYTYPE_RSA_SIG_MAX.
 */
#define SIG_MAX		KEYTYPE_RSA_SIG_MAX
/* Largest data we verify a signature over.  A userauth request (session id,
 * user, service, method, algorithm, key blob) is a few KiB at most; the
 * update/final path buffers up to this much. */
#define TBS_MAX		(64 * 1024)

/* Default provider names, copied so that our algorithms share their
 * name numbers (and aliases such as "id-ecPublicKey", which is how
 * OpenSSL looks up the key manager for a legacy EC_KEY). */
#define NAMES_ED25519	"ED25519:1.3.101.112"
#define NAMES_RSA	"RSA:rsaEncryption:1.2.840.113549.1.1.1"
#define NAMES_EC	"EC:id-ecPublicKey:1.2.840.10045.2.1"
#define NAMES_ECDSA	"ECDSA"

/* The table's kinds; KT_EC is an ECDSA key of one of its curves. */
#define KT_ED25519	KEYTYPE_ED25519
#define KT_RSA		KEYTYPE_RSA
#define KT_EC		KEYTYPE_ECDSA

struct ckey {
	enum keytype_kind type;
	int has_pub;
	/* Ed25519 only: imported as a private key, i.e. the host key stub.
	 * Means "signing is delegated to the hook"; no secret is held. */
	int stub;
	/* Ed25519: 32 bytes; EC: the uncompressed point. */
	uint8_t pub[KEYTYPE_PUB_MAX];
	size_t publen;
	BIGNUM *n, *e;		/* RSA */
	int nid;		/* EC curve, NID_undef until imported */
};

struct csig {
	enum keytype_kind type;
	struct ckey *key;	/* our own copy, freed with the context */
	int op;			/* OP_SIGN or OP_VERIFY once initialised */
	const char *md;		/* canonical digest name; NULL for Ed25519 */
	uint8_t *acc;		/* digest_verify_update() data */
	size_t acclen;
	int accfail;		/* the update data went over TBS_MAX */
};

enum { OP_NONE, OP_SIGN, OP_VERIFY };

static csshd_sign_hook sign_hook;
static csshd_verify_hook verify_hook;
/* The init flag: set once by csshd_provider_init(), never released (the
 * providers live as long as the process).  Kept rather than dropped so
 * that leak checkers see the two handles as reachable. */
static OSSL_PROVIDER *prov_self, *prov_default;

void
csshd_provider_set_sign_hook(csshd_sign_hook fn)
{
	sign_hook = fn;
}

void
csshd_provider_set_verify_hook(csshd_verify_hook fn)
{
	verify_hook = fn;
}

/* ------------------------------------------------------------------ */
/* Curves and digests we accept: the table's                           */

/* The table's ECDSA entry for an OpenSSL curve, or NULL. */
static const struct keytype *
curve_by_nid(int nid)
{
	const struct keytype *kt;
	size_t i;

	if (nid == NID_undef)
		return NULL;
	for (i = 0; (kt = keytype_at(i)) != NULL; i++)
		if (kt->kind == KEYTYPE_ECDSA &&
		    EC_curve_nist2nid(kt->group) == nid)
			return kt;
	return NULL;
}

/* The group names OpenSSL uses ("prime256v1", "P-256", "secp384r1", ...)
 * to one of the table's curves; NID_undef for anything else. */
static int
curve_nid_by_name(const char *name)
{
	int nid;

	if ((nid = EC_curve_nist2nid(name)) == NID_undef &&
	    (nid = OBJ_sn2nid(name)) == NID_undef)
		nid = OBJ_ln2nid(name);
	return curve_by_nid(nid) != NULL ? nid : NID_undef;
}

/* OpenSSL's spellings of a digest, the canonical one (the table's) first.
 * Which digest a key type may use is the table's to say, not this list's. */
static const char *const mdnames[][3] = {
	{ "SHA1", "SHA-1", "SSL3-SHA1" },
	{ "SHA256", "SHA2-256", "SHA-256" },
	{ "SHA384", "SHA2-384", "SHA-384" },
	{ "SHA512", "SHA2-512", "SHA-512" },
};

/*
 * Digests RSA verifies with besides the table's.  SHA-1 is no algorithm
 * of the table ("ssh-rsa" is refused), but should libssh verify such a
 * signature it reaches the verify hook, which refuses it with a reason
 * (worker/session.c), and no Studio host key algorithm the worker offers
 * uses it.  SHA-384 no SSH algorithm pairs with RSA; kept as the
 * provider always took it.
 */
static const char *const rsa_extra_md[] = { "SHA1", "SHA384" };

/*
 * The canonical name of a digest a key of this kind may verify with: one
 * the table pairs with the kind (keytype_kind_digest: ECDSA any of its
 * curves' digests), or for RSA one of rsa_extra_md.  EVP hands us the
 * digest's name as whoever fetched it spelled it (EVP_sha256() says
 * "SHA256", a fetched SHA-256 "SHA2-256").
 */
static const char *
md_canon(const char *name, enum keytype_kind type)
{
	const char *canon = NULL;
	size_t i, j;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(mdnames) / sizeof(mdnames[0]); i++)
		for (j = 0; j < 3; j++)
			if (strcasecmp(name, mdnames[i][j]) == 0)
				canon = mdnames[i][0];
	if (canon == NULL)
		return NULL;
	if (type == KT_RSA)
		for (i = 0; i < sizeof(rsa_extra_md) / sizeof(rsa_extra_md[0]);
		    i++)
			if (strcmp(canon, rsa_extra_md[i]) == 0)
				return rsa_extra_md[i];
	return keytype_kind_digest(type, canon);
}

/* ------------------------------------------------------------------ */
/* Key objects                                                         */

static struct ckey *
key_new(enum keytype_kind type)
{
	struct ckey *k;

	if ((k = OPENSSL_zalloc(sizeof(*k))) == NULL)
		return NULL;
	k->type = type;
	k->nid = NID_undef;
	return k;
}

static void *
ed_new(void *provctx)
{
	(void)provctx;
	return key_new(KT_ED25519);
}

static void *
rsa_new(void *provctx)
{
	(void)provctx;
	return key_new(KT_RSA);
}

static void *
ec_new(void *provctx)
{
	(void)provctx;
	return key_new(KT_EC);
}

static void
key_free(void *kd)
{
	struct ckey *k = kd;

	if (k == NULL)
		return;
	BN_free(k->n);
	BN_free(k->e);
	/* Wiped although public: a genuine seed imported by mistake would
	 * sit in pub (see ed_import), and should not outlive the key. */
	OPENSSL_clear_free(k, sizeof(*k));
}

static struct ckey *
key_copy(const struct ckey *from)
{
	struct ckey *k;

	if ((k = key_new(from->type)) == NULL)
		return NULL;
	k->has_pub = from->has_pub;
	k->stub = from->stub;
	memcpy(k->pub, from->pub, sizeof(k->pub));
	k->publen = from->publen;
	k->nid = from->nid;
	if ((from->n != NULL && (k->n = BN_dup(from->n)) == NULL) ||
	    (from->e != NULL && (k->e = BN_dup(from->e)) == NULL)) {
		key_free(k);
		return NULL;
	}
	return k;
}

/* EVP_PKEY_dup() and EVP_PKEY_CTX_dup().  We copy everything whatever the
 * selection: there is nothing secret to leave out. */
static void *
key_dup(const void *kd, int selection)
{
	(void)selection;
	return kd == NULL ? NULL : key_copy(kd);
}

static int
key_has(const void *kd, int selection)
{
	const struct ckey *k = kd;

	if (k == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) && !k->has_pub)
		return 0;
	/* Only the stub counts as a private key: it can sign (by hook). */
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && !k->stub)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) &&
	    k->type == KT_EC && k->nid == NID_undef)
		return 0;
	return 1;
}

/* EVP_PKEY_eq() (libssh compares RSA keys with it).  Only public parts
 * exist here, so a key pair compares by its public key. */
static int
key_match(const void *kd1, const void *kd2, int selection)
{
	const struct ckey *a = kd1, *b = kd2;

	if (a == NULL || b == NULL || a->type != b->type)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) &&
	    a->type == KT_EC && a->nid != b->nid)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
		return 1;
	if (!a->has_pub || !b->has_pub)
		return 0;
	if (a->type == KT_RSA)
		return BN_cmp(a->n, b->n) == 0 && BN_cmp(a->e, b->e) == 0;
	return a->publen == b->publen &&
	    CRYPTO_memcmp(a->pub, b->pub, a->publen) == 0;
}

static int
ed_import(void *kd, int selection, const OSSL_PARAM params[])
{
	struct ckey *k = kd;
	const struct keytype *ed = keytype_of_kind(KEYTYPE_ED25519);
	const OSSL_PARAM *pub = NULL, *priv = NULL;
	const void *p;
	size_t len;

	if (k == NULL || ed == NULL ||
	    (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
		return 0;
	if (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY)
		pub = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
	if (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY)
		priv = OSSL_PARAM_locate_const(params,
		    OSSL_PKEY_PARAM_PRIV_KEY);
	if (pub == NULL && priv == NULL)
		return 0;
	/* Both must be well-formed if present, even the one we ignore. */
	if (priv != NULL && (!OSSL_PARAM_get_octet_string_ptr(priv, &p,
	    &len) || len != ed->publen))
		return 0;
	/*
	 * EVP_PKEY_new_raw_private_key() passes the "seed" alone.  By our
	 * convention the worker's seed is the public key (the stub), so with
	 * no explicit public key the seed is taken as one.  With both, the
	 * public key wins and the private bytes are dropped unread: nothing
	 * secret is ever stored here.
	 */
	if (!OSSL_PARAM_get_octet_string_ptr(pub != NULL ? pub : priv, &p,
	    &len) || len != ed->publen)
		return 0;
	memcpy(k->pub, p, ed->publen);
	k->publen = ed->publen;
	k->has_pub = 1;
	k->stub = priv != NULL;
	return 1;
}

static int
rsa_import(void *kd, int selection, const OSSL_PARAM params[])
{
	struct ckey *k = kd;
	const OSSL_PARAM *pn, *pe;
	BIGNUM *n = NULL, *e = NULL;
	struct keytype_rsa_bounds b;
	/* Room for e: a longer one is over every bound. */
	uint8_t eb[8];
	int elen;

	if (k == NULL || (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) == 0)
		return 0;
	/* Verify only: an RSA private key has no place in the worker. */
	if (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_D) != NULL)
		return 0;
	if ((pn = OSSL_PARAM_locate_const(params,
	    OSSL_PKEY_PARAM_RSA_N)) == NULL ||
	    (pe = OSSL_PARAM_locate_const(params,
	    OSSL_PKEY_PARAM_RSA_E)) == NULL ||
	    !OSSL_PARAM_get_BN(pn, &n) || !OSSL_PARAM_get_BN(pe, &e))
		goto fail;
	_Static_assert(KEYTYPE_HOSTKEY_RSA_E_MAX_BITS <= 8 * sizeof(eb),
	    "eb holds any e within the bounds");
	b = keytype_rsa_bounds(KEYTYPE_USE_HOSTKEY, 0);
	if ((elen = BN_num_bytes(e)) > (int)sizeof(eb) ||
	    BN_bn2bin(e, eb) != elen ||
	    keytype_rsa_check(&b, (unsigned)BN_num_bits(n), BN_is_odd(n), eb,
	    (size_t)elen) != KEYTYPE_OK)
		goto fail;
	BN_free(k->n);
	BN_free(k->e);
	k->n = n;
	k->e = e;
	k->has_pub = 1;
	return 1;
 fail:
	BN_free(n);
	BN_free(e);
	return 0;
}

static int
ec_import(void *kd, int selection, const OSSL_PARAM params[])
{
	struct ckey *k = kd;
	const OSSL_PARAM *pg, *pp;
	const char *gname;
	const void *p;
	size_t len;
	int nid, ok = 0;
	EC_GROUP *g = NULL;
	EC_POINT *pt = NULL;

	if (k == NULL || (selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY |
	    OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)) == 0)
		return 0;
	/* Verify only; a legacy EC_KEY with a private part exports it. */
	if (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY) != NULL)
		return 0;
	/* Named curves only: explicit parameters (p, a, b, generator...)
	 * arrive without a group name and are refused here. */
	nid = k->nid;
	if ((pg = OSSL_PARAM_locate_const(params,
	    OSSL_PKEY_PARAM_GROUP_NAME)) != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(pg, &gname) ||
		    (nid = curve_nid_by_name(gname)) == NID_undef)
			return 0;
	}
	if (nid == NID_undef)
		return 0;
	pp = (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) ?
	    OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY) : NULL;
	if (pp != NULL) {
		/* Decode, which checks the point is on the curve, and keep
		 * it uncompressed so that equal keys compare equal. */
		if (!OSSL_PARAM_get_octet_string_ptr(pp, &p, &len) ||
		    len == 0 || len > KEYTYPE_PUB_MAX ||
		    (g = EC_GROUP_new_by_curve_name(nid)) == NULL ||
		    (pt = EC_POINT_new(g)) == NULL ||
		    !EC_POINT_oct2point(g, pt, p, len, NULL) ||
		    EC_POINT_is_at_infinity(g, pt) ||
		    (len = EC_POINT_point2oct(g, pt,
		    POINT_CONVERSION_UNCOMPRESSED, k->pub, sizeof(k->pub),
		    NULL)) == 0)
			goto out;
		k->publen = len;
		k->has_pub = 1;
	} else if (k->nid != NID_undef && k->nid != nid && k->has_pub) {
		goto out;	/* a new curve under the old point */
	}
	k->nid = nid;
	ok = 1;
 out:
	EC_POINT_free(pt);
	EC_GROUP_free(g);
	return ok;
}

/* Export: public parts only.  A request for the private key alone (say
 * EVP_PKEY_get_raw_private_key() on the stub) fails: there is none. */
static int
key_export(void *kd, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct ckey *k = kd;
	OSSL_PARAM_BLD *bld;
	OSSL_PARAM *params = NULL;
	const char *gname;
	int want_pub, ok = 0;

	if (k == NULL)
		return 0;
	want_pub = (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && !want_pub)
		return 0;
	if (want_pub && !k->has_pub)
		return 0;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return 0;
	switch (k->type) {
	case KT_ED25519:
		if (want_pub && !OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, k->pub, k->publen))
			goto out;
		break;
	case KT_RSA:
		if (want_pub && (!OSSL_PARAM_BLD_push_BN(bld,
		    OSSL_PKEY_PARAM_RSA_N, k->n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, k->e)))
			goto out;
		break;
	case KT_EC:
		/* The curve goes with the point: a point alone is useless
		 * to whoever imports it. */
		if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) ||
		    want_pub) {
			if (k->nid == NID_undef ||
			    (gname = OSSL_EC_curve_nid2name(k->nid)) == NULL ||
			    !OSSL_PARAM_BLD_push_utf8_string(bld,
			    OSSL_PKEY_PARAM_GROUP_NAME, gname, 0))
				goto out;
		}
		if (want_pub && !OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, k->pub, k->publen))
			goto out;
		break;
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	ok = cb(params, cbarg);
 out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return ok;
}

static const OSSL_PARAM ed_types[] = {
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM ed_export_types_tbl[] = {
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM rsa_types[] = {
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM ec_types[] = {
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
ed_import_types(int selection)
{
	(void)selection;
	return ed_types;
}

static const OSSL_PARAM *
ed_export_types(int selection)
{
	(void)selection;
	return ed_export_types_tbl;
}

static const OSSL_PARAM *
rsa_io_types(int selection)
{
	(void)selection;
	return rsa_types;
}

static const OSSL_PARAM *
ec_io_types(int selection)
{
	(void)selection;
	return ec_types;
}

/* Answer one parameter if it was asked for; 0 only on a failed answer. */
static int
set_int(OSSL_PARAM params[], const char *key, int v)
{
	OSSL_PARAM *p = OSSL_PARAM_locate(params, key);

	return p == NULL || OSSL_PARAM_set_int(p, v);
}

static int
set_str(OSSL_PARAM params[], const char *key, const char *v)
{
	OSSL_PARAM *p = OSSL_PARAM_locate(params, key);

	return p == NULL || OSSL_PARAM_set_utf8_string(p, v);
}

static int
set_octets(OSSL_PARAM params[], const char *key, const uint8_t *v,
    size_t len)
{
	OSSL_PARAM *p = OSSL_PARAM_locate(params, key);

	return p == NULL || OSSL_PARAM_set_octet_string(p, v, len);
}

/*
 * BITS, SECURITY_BITS and MAX_SIZE are read by OpenSSL as soon as a key is
 * made (EVP_PKEY_bits/size are cached from them); libssh sizes signature
 * buffers with EVP_PKEY_size() and checks RSA sizes with EVP_PKEY_bits().
 * Parameters we do not know are left alone, as the default provider does.
 */
static int
key_get_params(void *kd, OSSL_PARAM params[])
{
	struct ckey *k = kd;
	const struct keytype *kt = NULL;
	OSSL_PARAM *p;
	int bits, secbits, maxsize;
	const char *gname;

	if (k == NULL)
		return 0;
	switch (k->type) {
	case KT_ED25519:
	case KT_EC:
		if ((kt = k->type == KT_EC ? curve_by_nid(k->nid) :
		    keytype_of_kind(KT_ED25519)) == NULL)
			return 0;
		bits = (int)kt->bits;
		secbits = (int)kt->security_bits;
		maxsize = (int)kt->sig_max;
		break;
	case KT_RSA:
		if (k->n == NULL)
			return 0;
		bits = BN_num_bits(k->n);
		secbits = (int)keytype_rsa_security_bits((unsigned)bits);
		maxsize = BN_num_bytes(k->n);
		break;
	default:
		return 0;
	}
	if (!set_int(params, OSSL_PKEY_PARAM_BITS, bits) ||
	    !set_int(params, OSSL_PKEY_PARAM_SECURITY_BITS, secbits) ||
	    !set_int(params, OSSL_PKEY_PARAM_MAX_SIZE, maxsize))
		return 0;
	switch (k->type) {
	case KT_ED25519:
		/* No digest with Ed25519: say so as the default provider
		 * does, so that EVP_DigestSignInit() fetches none. */
		if (!set_str(params, OSSL_PKEY_PARAM_MANDATORY_DIGEST, ""))
			return 0;
		break;
	case KT_RSA:
		/* DEFAULT_DIGEST: the default provider's answer, for a
		 * caller that names none; no SSH signature relies on it. */
		if (!set_str(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST, "SHA256") ||
		    ((p = OSSL_PARAM_locate(params,
		    OSSL_PKEY_PARAM_RSA_N)) != NULL &&
		    !OSSL_PARAM_set_BN(p, k->n)) ||
		    ((p = OSSL_PARAM_locate(params,
		    OSSL_PKEY_PARAM_RSA_E)) != NULL &&
		    !OSSL_PARAM_set_BN(p, k->e)))
			return 0;
		break;
	case KT_EC:
		if ((gname = OSSL_EC_curve_nid2name(k->nid)) == NULL ||
		    !set_str(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST, "SHA256") ||
		    !set_str(params, OSSL_PKEY_PARAM_GROUP_NAME, gname))
			return 0;
		break;
	}
	if (k->type != KT_RSA && k->has_pub &&
	    (!set_octets(params, OSSL_PKEY_PARAM_PUB_KEY, k->pub, k->publen) ||
	    !set_octets(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, k->pub,
	    k->publen)))
		return 0;
	return 1;
}

static const OSSL_PARAM ed_gettable[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM rsa_gettable[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM ec_gettable[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
ed_gettable_params(void *provctx)
{
	(void)provctx;
	return ed_gettable;
}

static const OSSL_PARAM *
rsa_gettable_params(void *provctx)
{
	(void)provctx;
	return rsa_gettable;
}

static const OSSL_PARAM *
ec_gettable_params(void *provctx)
{
	(void)provctx;
	return ec_gettable;
}

/* Which signature algorithm serves a key.  For EC this is what makes
 * EVP_DigestVerifyInit() fetch "ECDSA" rather than a nonexistent "EC". */
static const char *
ed_opname(int op)
{
	return op == OSSL_OP_SIGNATURE ? "ED25519" : NULL;
}

static const char *
rsa_opname(int op)
{
	return op == OSSL_OP_SIGNATURE ? "RSA" : NULL;
}

static const char *
ec_opname(int op)
{
	return op == OSSL_OP_SIGNATURE ? NAMES_ECDSA : NULL;
}

/* No generation functions: key generation for these types fails in the
 * worker, by design (it generates nothing; ECDH in libssh 0.10.6 uses the
 * legacy EC_KEY functions, which do not come through here). */
#define KEYMGMT_COMMON(pfx)						\
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))key_free },		\
	{ OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))key_dup },		\
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))key_has },		\
	{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))key_match },		\
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))key_export },	\
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))key_get_params }, \
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,				\
	    (void (*)(void))pfx##_gettable_params },			\
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,			\
	    (void (*)(void))pfx##_opname }

static const OSSL_DISPATCH ed_keymgmt[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ed_new },
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))ed_import },
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ed_import_types },
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ed_export_types },
	KEYMGMT_COMMON(ed),
	{ 0, NULL }
};

static const OSSL_DISPATCH rsa_keymgmt[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))rsa_new },
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))rsa_import },
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))rsa_io_types },
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))rsa_io_types },
	KEYMGMT_COMMON(rsa),
	{ 0, NULL }
};

static const OSSL_DISPATCH ec_keymgmt[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ec_new },
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))ec_import },
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ec_io_types },
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ec_io_types },
	KEYMGMT_COMMON(ec),
	{ 0, NULL }
};

/* ------------------------------------------------------------------ */
/* Local verification through the default provider                     */

/* Our key, rebuilt as a default-provider EVP_PKEY. */
static EVP_PKEY *
key_to_default(const struct ckey *k)
{
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	const char *gname;

	if (!k->has_pub)
		return NULL;
	if (k->type == KT_ED25519)
		return EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519",
		    DEFLT_PROPQ, k->pub, k->publen);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		goto out;
	if (k->type == KT_RSA) {
		if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, k->n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, k->e))
			goto out;
	} else {
		if ((gname = OSSL_EC_curve_nid2name(k->nid)) == NULL ||
		    !OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, gname, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, k->pub, k->publen))
			goto out;
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pctx = EVP_PKEY_CTX_new_from_name(NULL,
	    k->type == KT_RSA ? "RSA" : "EC", DEFLT_PROPQ)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
 out:
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static int
verify_local(const struct csig *c, const uint8_t *sig, size_t siglen,
    const uint8_t *tbs, size_t tbslen)
{
	EVP_PKEY *pkey;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	int ok = 0;

	if ((pkey = key_to_default(c->key)) == NULL ||
	    (mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(mctx, &pctx, c->md, NULL, DEFLT_PROPQ,
	    pkey, NULL) != 1)
		goto out;
	/* PKCS#1 v1.5 is the default already; said out loud, since it is
	 * the only padding an ssh-rsa / rsa-sha2-* signature may use. */
	if (c->type == KT_RSA &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	ok = EVP_DigestVerify(mctx, sig, siglen, tbs, tbslen) == 1;
 out:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(pkey);
	return ok;
}

/* One signature check, by the hook when one is set, else locally.
 * 1 valid, 0 anything else (OpenSSL's digest_verify convention). */
static int
verify_any(const struct csig *c, const uint8_t *sig, size_t siglen,
    const uint8_t *tbs, size_t tbslen)
{
	csshd_verify_hook hook = verify_hook;

	if (c->op != OP_VERIFY || c->key == NULL || sig == NULL ||
	    (tbs == NULL && tbslen != 0) || siglen == 0 || siglen > SIG_MAX ||
	    tbslen > TBS_MAX)
		return 0;
	if (hook != NULL)
		return hook(sig, siglen, tbs, tbslen) == 1;
	return verify_local(c, sig, siglen, tbs, tbslen);
}

/* ------------------------------------------------------------------ */
/* Signature contexts                                                  */

static struct csig *
sig_new(enum keytype_kind type)
{
	struct csig *c;

	if ((c = OPENSSL_zalloc(sizeof(*c))) != NULL)
		c->type = type;
	return c;
}

static void *
ed_newctx(void *provctx, const char *propq)
{
	(void)provctx;
	(void)propq;
	return sig_new(KT_ED25519);
}

static void *
rsa_newctx(void *provctx, const char *propq)
{
	(void)provctx;
	(void)propq;
	return sig_new(KT_RSA);
}

static void *
ec_newctx(void *provctx, const char *propq)
{
	(void)provctx;
	(void)propq;
	return sig_new(KT_EC);
}

static void
acc_clear(struct csig *c)
{
	OPENSSL_clear_free(c->acc, c->acclen);
	c->acc = NULL;
	c->acclen = 0;
	c->accfail = 0;
}

static void
sig_freectx(void *vctx)
{
	struct csig *c = vctx;

	if (c == NULL)
		return;
	acc_clear(c);
	key_free(c->key);
	OPENSSL_free(c);
}

/* EVP_MD_CTX_copy_ex(), and EVP_DigestVerifyFinal(), which finalises a
 * copy of the context: the buffered data must come along. */
static void *
sig_dupctx(void *vctx)
{
	const struct csig *c = vctx;
	struct csig *d;

	if (c == NULL || (d = sig_new(c->type)) == NULL)
		return NULL;
	d->op = c->op;
	d->md = c->md;
	d->accfail = c->accfail;
	if ((c->key != NULL && (d->key = key_copy(c->key)) == NULL) ||
	    (c->acclen > 0 &&
	    (d->acc = OPENSSL_memdup(c->acc, c->acclen)) == NULL)) {
		sig_freectx(d);
		return NULL;
	}
	d->acclen = c->acclen;
	return d;
}

static int sig_set_ctx_params(void *, const OSSL_PARAM[]);

/* Shared by sign and verify init.  vkey may be NULL on a re-init, which
 * keeps the key already there. */
static int
sig_init(struct csig *c, int op, const char *mdname, void *vkey,
    const OSSL_PARAM params[])
{
	const struct ckey *k = vkey;
	struct ckey *copy;
	const char *md = NULL;

	if (c == NULL)
		return 0;
	if (k != NULL && (k->type != c->type || !k->has_pub))
		return 0;
	if (k == NULL && c->key == NULL)
		return 0;
	if (c->type == KT_ED25519) {
		/* Pure Ed25519 hashes internally; a digest is an error. */
		if (mdname != NULL && mdname[0] != '\0')
			return 0;
	} else if ((md = md_canon(mdname, c->type)) == NULL) {
		return 0;
	}
	/* Only the stub can sign: a public key imported as such cannot,
	 * and RSA/ECDSA have no sign entry points at all. */
	if (op == OP_SIGN && !(k != NULL ? k : c->key)->stub)
		return 0;
	if (k != NULL) {
		if ((copy = key_copy(k)) == NULL)
			return 0;
		key_free(c->key);
		c->key = copy;
	}
	acc_clear(c);
	c->op = op;
	c->md = md;
	if (params != NULL && !sig_set_ctx_params(c, params)) {
		c->op = OP_NONE;
		return 0;
	}
	return 1;
}

static int
sig_digest_sign_init(void *vctx, const char *mdname, void *vkey,
    const OSSL_PARAM params[])
{
	return sig_init(vctx, OP_SIGN, mdname, vkey, params);
}

static int
sig_digest_verify_init(void *vctx, const char *mdname, void *vkey,
    const OSSL_PARAM params[])
{
	return sig_init(vctx, OP_VERIFY, mdname, vkey, params);
}

/*
 * Ed25519 one-shot sign: the hook (the monitor) makes the signature.  With
 * no hook there is nothing to sign with: fail, never fall back to the
 * "seed", which is only the public key.
 */
static int
ed_digest_sign(void *vctx, unsigned char *sig, size_t *siglen,
    size_t sigsize, const unsigned char *tbs, size_t tbslen)
{
	struct csig *c = vctx;
	csshd_sign_hook hook = sign_hook;
	const struct keytype *ed = keytype_of_kind(KEYTYPE_ED25519);
	uint8_t out[ED25519_SIG_LEN];
	size_t outlen = sizeof(out), len;
	int ok = 0;

	if (c == NULL || c->op != OP_SIGN || siglen == NULL || ed == NULL ||
	    (len = ed->sig_max) > sizeof(out))
		return 0;
	if (sig == NULL) {	/* the size query */
		*siglen = len;
		return 1;
	}
	if (sigsize < len || hook == NULL ||
	    (tbs == NULL && tbslen != 0) || tbslen > TBS_MAX)
		return 0;
	/* The hook writes into our buffer, never past the caller's. */
	if (hook(tbs, tbslen, out, &outlen) == 0 && outlen == len) {
		memcpy(sig, out, len);
		*siglen = len;
		ok = 1;
	}
	OPENSSL_cleanse(out, sizeof(out));
	return ok;
}

static int
sig_digest_verify(void *vctx, const unsigned char *sig, size_t siglen,
    const unsigned char *tbs, size_t tbslen)
{
	struct csig *c = vctx;

	return c != NULL && verify_any(c, sig, siglen, tbs, tbslen);
}

/* The streaming path (EVP_DigestVerifyUpdate/Final), RSA and ECDSA only:
 * the hook needs the signed data itself, not a digest, so it is buffered,
 * up to TBS_MAX; past that the verification fails. */
static int
sig_digest_verify_update(void *vctx, const unsigned char *data,
    size_t datalen)
{
	struct csig *c = vctx;
	uint8_t *n;

	if (c == NULL || c->op != OP_VERIFY || (data == NULL && datalen))
		return 0;
	if (c->accfail || datalen > TBS_MAX - c->acclen) {
		acc_clear(c);
		c->accfail = 1;
		return 0;
	}
	if (datalen == 0)
		return 1;
	/* Grow by reallocation with a copy, so the old buffer is wiped. */
	if ((n = OPENSSL_malloc(c->acclen + datalen)) == NULL)
		return 0;
	if (c->acclen > 0)
		memcpy(n, c->acc, c->acclen);
	memcpy(n + c->acclen, data, datalen);
	OPENSSL_clear_free(c->acc, c->acclen);
	c->acc = n;
	c->acclen += datalen;
	return 1;
}

static int
sig_digest_verify_final(void *vctx, const unsigned char *sig, size_t siglen)
{
	struct csig *c = vctx;
	int ok;

	if (c == NULL || c->accfail)
		return 0;
	ok = verify_any(c, sig, siglen, c->acc, c->acclen);
	acc_clear(c);
	return ok;
}

/* RSA: the padding (only PKCS#1 v1.5, the one SSH uses) and the digest
 * may be set through the context too.  ECDSA: the digest. */
static int
sig_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
	struct csig *c = vctx;
	const OSSL_PARAM *p;
	const char *s;
	int pad;

	if (c == NULL)
		return 0;
	if (params == NULL)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_DIGEST)) != NULL) {
		if (c->type == KT_ED25519 ||
		    !OSSL_PARAM_get_utf8_string_ptr(p, &s) ||
		    (s = md_canon(s, c->type)) == NULL)
			return 0;
		c->md = s;
	}
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
		if (c->type != KT_RSA)
			return 0;
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) ||
			    strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) != 0)
				return 0;
		} else if (!OSSL_PARAM_get_int(p, &pad) ||
		    pad != RSA_PKCS1_PADDING) {
			return 0;
		}
	}
	return 1;
}

static const OSSL_PARAM rsa_settable[] = {
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM ec_settable[] = {
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
rsa_settable_ctx_params(void *vctx, void *provctx)
{
	(void)vctx;
	(void)provctx;
	return rsa_settable;
}

static const OSSL_PARAM *
ec_settable_ctx_params(void *vctx, void *provctx)
{
	(void)vctx;
	(void)provctx;
	return ec_settable;
}

#define SIG_COMMON(pfx)							\
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))pfx##_newctx },	\
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx },	\
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx },	\
	{ OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT,			\
	    (void (*)(void))sig_digest_verify_init },			\
	{ OSSL_FUNC_SIGNATURE_DIGEST_VERIFY,				\
	    (void (*)(void))sig_digest_verify }

/* Like the default provider's Ed25519: one-shot only. */
static const OSSL_DISPATCH ed_signature[] = {
	SIG_COMMON(ed),
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,
	    (void (*)(void))sig_digest_sign_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))ed_digest_sign },
	{ 0, NULL }
};

#define SIG_STREAM							\
	{ OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE,			\
	    (void (*)(void))sig_digest_verify_update },			\
	{ OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL,			\
	    (void (*)(void))sig_digest_verify_final },			\
	{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,				\
	    (void (*)(void))sig_set_ctx_params }

static const OSSL_DISPATCH rsa_signature[] = {
	SIG_COMMON(rsa),
	SIG_STREAM,
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	    (void (*)(void))rsa_settable_ctx_params },
	{ 0, NULL }
};

static const OSSL_DISPATCH ec_signature[] = {
	SIG_COMMON(ec),
	SIG_STREAM,
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	    (void (*)(void))ec_settable_ctx_params },
	{ 0, NULL }
};

/* ------------------------------------------------------------------ */
/* The provider                                                        */

static const OSSL_ALGORITHM keymgmt_algs[] = {
	{ NAMES_ED25519, PROV_PROPS, ed_keymgmt, "csshd Ed25519 (stub)" },
	{ NAMES_RSA, PROV_PROPS, rsa_keymgmt, "csshd RSA (public)" },
	{ NAMES_EC, PROV_PROPS, ec_keymgmt, "csshd EC (public)" },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM signature_algs[] = {
	{ NAMES_ED25519, PROV_PROPS, ed_signature, "csshd Ed25519" },
	{ NAMES_RSA, PROV_PROPS, rsa_signature, "csshd RSA (verify)" },
	{ NAMES_ECDSA, PROV_PROPS, ec_signature, "csshd ECDSA (verify)" },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM *
prov_query(void *provctx, int operation_id, int *no_store)
{
	(void)provctx;
	*no_store = 0;	/* the tables are static: OpenSSL may cache them */
	switch (operation_id) {
	case OSSL_OP_KEYMGMT:
		return keymgmt_algs;
	case OSSL_OP_SIGNATURE:
		return signature_algs;
	}
	return NULL;
}

static const OSSL_DISPATCH prov_dispatch[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))prov_query },
	{ 0, NULL }
};

static int
prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
    const OSSL_DISPATCH **out, void **provctx)
{
	(void)handle;
	(void)in;
	*out = prov_dispatch;
	/* No per-provider state; any non-NULL context will do. */
	*provctx = (void *)prov_dispatch;
	return 1;
}

int
csshd_provider_local(int on)
{
	if (prov_self == NULL)
		return 0;
	return EVP_set_default_properties(NULL, on ? "provider=default" :
	    "?" PROV_PROPS) == 1 ? 0 : -1;
}

int
csshd_provider_init(void)
{
	if (prov_self != NULL)
		return 0;
	/*
	 * Loading any provider explicitly stops OpenSSL from loading
	 * "default" on its own, hence the second load.  The property query
	 * is optional ("?"): we are preferred where we implement the
	 * algorithm, and ignored everywhere else.
	 */
	if (OSSL_PROVIDER_add_builtin(NULL, PROV_NAME, prov_init) != 1 ||
	    (prov_self = OSSL_PROVIDER_load(NULL, PROV_NAME)) == NULL ||
	    (prov_default = OSSL_PROVIDER_load(NULL, "default")) == NULL ||
	    EVP_set_default_properties(NULL, "?" PROV_PROPS) != 1) {
		if (prov_default != NULL)
			OSSL_PROVIDER_unload(prov_default);
		if (prov_self != NULL)
			OSSL_PROVIDER_unload(prov_self);
		prov_self = prov_default = NULL;
		return -1;
	}
	return 0;
}
