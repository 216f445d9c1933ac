/*
 * keytypes.c - the table of accepted key types, their RSA bounds by use,
 * and the check of a public key blob against them; see keytypes.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "keytypes.h"
#include "sshwire.h"

#define TYPE_MAX		64	/* longest key type name looked at */
#define CURVE_MAX		16
#define EC_POINT_UNCOMPRESSED	0x04
#define MPINT_SIGN_BIT		0x80

/*
 * hostkey_pref: the order the worker offers a Studio host key algorithms,
 * Ed25519 first, then ECDSA by curve, then RSA with the larger digest
 * first (what the worker always offered; a Studio with several host keys
 * shows the first it has, and host_key_fingerprint pins that one).
 */
static const struct keytype table[] = {
	{ "ssh-ed25519", KEYTYPE_ED25519, NULL, NULL, ED25519_PUB_LEN,
	    253, 128, ED25519_SIG_LEN,
	    { { "ssh-ed25519", NULL, 1 } } },
	/* SHA-1 "ssh-rsa" signatures are refused: only the RFC 8332 ones. */
	{ "ssh-rsa", KEYTYPE_RSA, NULL, NULL, 0, 0, 0, 0,
	    { { "rsa-sha2-256", "SHA256", 6 },
	      { "rsa-sha2-512", "SHA512", 5 } } },
	/* sig_max: a DER SEQUENCE of two INTEGERs of up to the order's
	 * size plus a sign byte (keytypes.h). */
	{ "ecdsa-sha2-nistp256", KEYTYPE_ECDSA, "nistp256", "P-256",
	    1 + 2 * 32, 256, 128, 72,
	    { { "ecdsa-sha2-nistp256", "SHA256", 2 } } },
	{ "ecdsa-sha2-nistp384", KEYTYPE_ECDSA, "nistp384", "P-384",
	    1 + 2 * 48, 384, 192, 104,
	    { { "ecdsa-sha2-nistp384", "SHA384", 3 } } },
	{ "ecdsa-sha2-nistp521", KEYTYPE_ECDSA, "nistp521", "P-521",
	    1 + 2 * 66, 521, 256, KEYTYPE_ECDSA_SIG_MAX,
	    { { "ecdsa-sha2-nistp521", "SHA512", 4 } } },
};

#define NTABLE	(sizeof(table) / sizeof(table[0]))

const struct keytype *
keytype_at(size_t i)
{
	return i < NTABLE ? &table[i] : NULL;
}

const struct keytype *
keytype_find(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < NTABLE; i++)
		if (strlen(table[i].name) == n &&
		    memcmp(table[i].name, s, n) == 0)
			return &table[i];
	return NULL;
}

const struct keytype *
keytype_of_blob(const uint8_t *blob, size_t len)
{
	char type[TYPE_MAX];

	if (sshwire_blob_type(blob, len, type, sizeof(type)) != 0)
		return NULL;
	return keytype_find(type, strlen(type));
}

const struct keytype_sigalg *
keytype_sigalg(const struct keytype *kt, const char *algo)
{
	size_t i;

	if (kt == NULL || algo == NULL)
		return NULL;
	for (i = 0; i < KEYTYPE_MAX_SIGALGS && kt->sigalgs[i].name != NULL;
	    i++)
		if (strcmp(kt->sigalgs[i].name, algo) == 0)
			return &kt->sigalgs[i];
	return NULL;
}

const struct keytype *
keytype_of_kind(enum keytype_kind kind)
{
	size_t i;

	for (i = 0; i < NTABLE; i++)
		if (table[i].kind == kind)
			return &table[i];
	return NULL;
}

const struct keytype *
keytype_of_group(const char *group)
{
	size_t i;

	if (group == NULL)
		return NULL;
	for (i = 0; i < NTABLE; i++)
		if (table[i].kind == KEYTYPE_ECDSA &&
		    strcmp(table[i].group, group) == 0)
			return &table[i];
	return NULL;
}

const char *
keytype_kind_digest(enum keytype_kind kind, const char *digest)
{
	const struct keytype_sigalg *sa;
	size_t i, j;

	if (digest == NULL)
		return NULL;
	for (i = 0; i < NTABLE; i++) {
		if (table[i].kind != kind)
			continue;
		for (j = 0; j < KEYTYPE_MAX_SIGALGS; j++) {
			sa = &table[i].sigalgs[j];
			if (sa->name != NULL && sa->digest != NULL &&
			    strcmp(sa->digest, digest) == 0)
				return sa->digest;
		}
	}
	return NULL;
}

int
keytype_hostkey_algorithms(char *buf, size_t bufsz)
{
	const struct keytype_sigalg *sa;
	size_t i, j, len = 0, n;
	unsigned pref;
	int found;

	if (bufsz == 0)
		return -1;
	buf[0] = '\0';
	/* Each preference in turn; the table is short. */
	for (pref = 1, found = 1; found; pref++) {
		found = 0;
		for (i = 0; i < NTABLE; i++)
			for (j = 0; j < KEYTYPE_MAX_SIGALGS; j++) {
				sa = &table[i].sigalgs[j];
				if (sa->name == NULL || sa->hostkey_pref != pref)
					continue;
				n = strlen(sa->name);
				if (len + (len > 0) + n >= bufsz)
					return -1;
				if (len > 0)
					buf[len++] = ',';
				memcpy(buf + len, sa->name, n + 1);
				len += n;
				found = 1;
			}
	}
	return 0;
}

static const struct keytype_cert cert_table[] = {
	{ "ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519",
	    { { "ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519" } } },
	{ "ssh-rsa-cert-v01@openssh.com", "ssh-rsa",
	    { { "rsa-sha2-256-cert-v01@openssh.com", "rsa-sha2-256" },
	      { "rsa-sha2-512-cert-v01@openssh.com", "rsa-sha2-512" } } },
	{ "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp256",
	    { { "ecdsa-sha2-nistp256-cert-v01@openssh.com",
	        "ecdsa-sha2-nistp256" } } },
	{ "ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp384",
	    { { "ecdsa-sha2-nistp384-cert-v01@openssh.com",
	        "ecdsa-sha2-nistp384" } } },
	{ "ecdsa-sha2-nistp521-cert-v01@openssh.com", "ecdsa-sha2-nistp521",
	    { { "ecdsa-sha2-nistp521-cert-v01@openssh.com",
	        "ecdsa-sha2-nistp521" } } },
};

#define NCERT	(sizeof(cert_table) / sizeof(cert_table[0]))

const struct keytype_cert *
keytype_cert_find(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < NCERT; i++)
		if (strlen(cert_table[i].name) == n &&
		    memcmp(cert_table[i].name, s, n) == 0)
			return &cert_table[i];
	return NULL;
}

const struct keytype_cert *
keytype_cert_of_blob(const uint8_t *blob, size_t len)
{
	char type[TYPE_MAX];

	if (sshwire_blob_type(blob, len, type, sizeof(type)) != 0)
		return NULL;
	return keytype_cert_find(type, strlen(type));
}

const char *
keytype_plain_sigalg(const uint8_t *blob, size_t len, const char *algo)
{
	const struct keytype_cert *ct;
	const struct keytype_sigalg *sa;
	size_t i;

	if (algo == NULL)
		return NULL;
	if ((sa = keytype_sigalg(keytype_of_blob(blob, len), algo)) != NULL)
		return sa->name;
	if ((ct = keytype_cert_of_blob(blob, len)) == NULL)
		return NULL;
	for (i = 0; i < KEYTYPE_MAX_SIGALGS && ct->sigalgs[i].name != NULL;
	    i++)
		if (strcmp(ct->sigalgs[i].name, algo) == 0)
			return ct->sigalgs[i].plain;
	return NULL;
}

/* An SSH mpint that is positive and minimally encoded: its magnitude
 * (without the sign byte) and its size in bits. */
static int
get_positive_mpint(struct cursor *c, const uint8_t **mag, size_t *maglen,
    unsigned *bits)
{
	const uint8_t *p;
	size_t n;
	uint8_t top;

	if (cursor_get_string(c, &p, &n, SIZE_MAX) != 0 || n == 0)
		return -1;
	if (p[0] & MPINT_SIGN_BIT)
		return -1;	/* negative */
	if (p[0] == 0) {
		/* A leading zero only to clear the sign bit of the next. */
		if (n == 1 || !(p[1] & MPINT_SIGN_BIT))
			return -1;
		p++;
		n--;
	}
	if (n > UINT32_MAX / 8)
		return -1;
	*mag = p;
	*maglen = n;
	*bits = (unsigned)(n - 1) * 8;
	for (top = p[0]; top != 0; top >>= 1)
		(*bits)++;
	return 0;
}

static enum keytype_verdict
malformed(struct keytype_key *k, const char *detail)
{
	k->detail = detail;
	return KEYTYPE_MALFORMED;
}

static enum keytype_verdict
check_ed25519(struct cursor *c, struct keytype_key *k)
{
	if (cursor_get_string(c, &k->pub, &k->publen, k->kt->publen) != 0 ||
	    k->publen != k->kt->publen)
		return malformed(k, "malformed ssh-ed25519 key: public key "
		    "is not 32 bytes");
	return KEYTYPE_OK;
}

static enum keytype_verdict
check_rsa(struct cursor *c, struct keytype_key *k)
{
	if (get_positive_mpint(c, &k->rsa_e, &k->rsa_elen,
	    &k->rsa_e_bits) != 0 ||
	    get_positive_mpint(c, &k->rsa_n, &k->rsa_nlen,
	    &k->rsa_bits) != 0)
		return malformed(k, "malformed ssh-rsa key: bad exponent or "
		    "modulus");
	if (!(k->rsa_n[k->rsa_nlen - 1] & 1))
		return malformed(k, "malformed ssh-rsa key: the modulus is "
		    "even");
	return KEYTYPE_OK;
}

static enum keytype_verdict
check_ecdsa(struct cursor *c, struct keytype_key *k)
{
	char curve[CURVE_MAX];

	if (cursor_get_cstring(c, curve, sizeof(curve)) != 0 ||
	    strcmp(curve, k->kt->curve) != 0)
		return malformed(k, "malformed ecdsa key: curve does not "
		    "match the key type");
	if (cursor_get_string(c, &k->pub, &k->publen, k->kt->publen) != 0 ||
	    k->publen != k->kt->publen ||
	    k->pub[0] != EC_POINT_UNCOMPRESSED)
		return malformed(k, "malformed ecdsa key: bad public point");
	return KEYTYPE_OK;
}

struct keytype_rsa_bounds
keytype_rsa_bounds(enum keytype_use use, unsigned rsa_min_bits)
{
	struct keytype_rsa_bounds b;

	if (use == KEYTYPE_USE_HOSTKEY) {
		b.min_bits = KEYTYPE_HOSTKEY_RSA_MIN_BITS;
		b.max_bits = KEYTYPE_HOSTKEY_RSA_MAX_BITS;
		b.e_max_bits = KEYTYPE_HOSTKEY_RSA_E_MAX_BITS;
	} else {
		b.min_bits = rsa_min_bits < KEYTYPE_RSA_MIN_BITS_LOWEST ?
		    KEYTYPE_RSA_MIN_BITS_LOWEST : rsa_min_bits;
		b.max_bits = KEYTYPE_RSA_MAX_BITS;
		b.e_max_bits = KEYTYPE_RSA_E_MAX_BITS;
	}
	return b;
}

/* e odd and KEYTYPE_RSA_MIN_E <= e < 2^e_max_bits (at most 2^64). */
static int
rsa_exponent_ok(const uint8_t *e, size_t elen, unsigned e_max_bits)
{
	uint64_t v = 0;
	unsigned bits;
	uint8_t top;

	while (elen > 0 && e[0] == 0) {
		e++;
		elen--;
	}
	if (elen == 0 || elen > 8)
		return 0;
	bits = (unsigned)(elen - 1) * 8;
	for (top = e[0]; top != 0; top >>= 1)
		bits++;
	if (bits > e_max_bits)
		return 0;
	while (elen-- > 0)
		v = v << 8 | *e++;
	return (v & 1) && v >= KEYTYPE_RSA_MIN_E;
}

enum keytype_verdict
keytype_rsa_check(const struct keytype_rsa_bounds *b, unsigned n_bits,
    int n_odd, const uint8_t *e, size_t elen)
{
	if (!n_odd)
		return KEYTYPE_MALFORMED;
	if (!rsa_exponent_ok(e, elen, b->e_max_bits))
		return KEYTYPE_RSA_BAD_EXPONENT;
	if (n_bits < b->min_bits)
		return KEYTYPE_RSA_TOO_SMALL;
	if (n_bits > b->max_bits)
		return KEYTYPE_RSA_TOO_LARGE;
	return KEYTYPE_OK;
}

unsigned
keytype_rsa_security_bits(unsigned bits)
{
	if (bits >= 15360)
		return 256;
	if (bits >= 7680)
		return 192;
	if (bits >= 3072)
		return 128;
	if (bits >= 2048)
		return 112;
	return bits >= 1024 ? 80 : 0;
}

enum keytype_verdict
keytype_check_blob(const uint8_t *blob, size_t len, unsigned rsa_min_bits,
    struct keytype_key *kout)
{
	return keytype_check_blob_for(KEYTYPE_USE_CLIENT, blob, len,
	    rsa_min_bits, kout);
}

enum keytype_verdict
keytype_check_blob_for(enum keytype_use use, const uint8_t *blob,
    size_t len, unsigned rsa_min_bits, struct keytype_key *kout)
{
	struct keytype_key local, *k = kout != NULL ? kout : &local;
	struct keytype_rsa_bounds b;
	char type[TYPE_MAX];
	struct cursor c;
	enum keytype_verdict v;

	memset(k, 0, sizeof(*k));
	if (blob == NULL)
		return malformed(k, "malformed key data: no key type inside");
	cursor_init(&c, blob, len);
	if (cursor_get_cstring(&c, type, sizeof(type)) != 0 ||
	    type[0] == '\0') {
		k->detail = "malformed key data: no key type inside";
		return KEYTYPE_UNKNOWN;
	}
	if ((k->kt = keytype_find(type, strlen(type))) == NULL) {
		k->detail = "unsupported key type";
		return KEYTYPE_UNKNOWN;
	}
	switch (k->kt->kind) {
	case KEYTYPE_ED25519:
		v = check_ed25519(&c, k);
		break;
	case KEYTYPE_RSA:
		v = check_rsa(&c, k);
		break;
	case KEYTYPE_ECDSA:
		v = check_ecdsa(&c, k);
		break;
	default:
		v = malformed(k, "unsupported key type");
		break;
	}
	if (v == KEYTYPE_OK && cursor_end(&c) != 0)
		v = malformed(k, "malformed key data: truncated or trailing "
		    "bytes");
	if (v == KEYTYPE_OK && k->kt->kind == KEYTYPE_RSA) {
		/* The modulus is odd by now (check_rsa). */
		b = keytype_rsa_bounds(use, rsa_min_bits);
		v = keytype_rsa_check(&b, k->rsa_bits,
		    k->rsa_n[k->rsa_nlen - 1] & 1, k->rsa_e, k->rsa_elen);
	}
	return v;
}

const char *
keytype_reason(enum keytype_verdict v)
{
	switch (v) {
	case KEYTYPE_OK:
		return NULL;
	case KEYTYPE_RSA_TOO_SMALL:
		return "key-too-weak";
	default:
		return "bad-key";
	}
}

/* "e = 65537", or "a 40-bit e" when it does not fit in 64 bits. */
static void
describe_e(const struct keytype_key *k, char *buf, size_t bufsz)
{
	uint64_t e = 0;
	size_t i;

	if (k->rsa_e_bits > 64) {
		snprintf(buf, bufsz, "a %u-bit public exponent",
		    k->rsa_e_bits);
		return;
	}
	for (i = 0; i < k->rsa_elen; i++)
		e = e << 8 | k->rsa_e[i];
	snprintf(buf, bufsz, "public exponent e = %" PRIu64, e);
}

const char *
keytype_explain(enum keytype_verdict v, const struct keytype_key *k,
    unsigned rsa_min_bits, char *buf, size_t bufsz)
{
	char e[48];

	if (rsa_min_bits < KEYTYPE_RSA_MIN_BITS_LOWEST)
		rsa_min_bits = KEYTYPE_RSA_MIN_BITS_LOWEST;
	switch (v) {
	case KEYTYPE_OK:
		snprintf(buf, bufsz, "key accepted");
		break;
	case KEYTYPE_UNKNOWN:
	case KEYTYPE_MALFORMED:
		snprintf(buf, bufsz, "%s", k->detail != NULL ? k->detail :
		    "malformed key data");
		break;
	case KEYTYPE_RSA_TOO_SMALL:
		if (k->rsa_bits < KEYTYPE_RSA_MIN_BITS_LOWEST)
			snprintf(buf, bufsz, "ssh-rsa key of %u bits is too "
			    "small: no setting allows under %d bits; use "
			    "ssh-ed25519 or a 3072-bit RSA key", k->rsa_bits,
			    KEYTYPE_RSA_MIN_BITS_LOWEST);
		else
			snprintf(buf, bufsz, "ssh-rsa key of %u bits is too "
			    "small: limits.rsa_min_bits is %u; use "
			    "ssh-ed25519 or a 3072-bit RSA key, or lower "
			    "limits.rsa_min_bits to %u", k->rsa_bits,
			    rsa_min_bits, k->rsa_bits);
		break;
	case KEYTYPE_RSA_TOO_LARGE:
		snprintf(buf, bufsz, "ssh-rsa key of %u bits is too large: "
		    "at most %d bits are accepted; use ssh-ed25519 or a "
		    "3072-bit RSA key", k->rsa_bits, KEYTYPE_RSA_MAX_BITS);
		break;
	case KEYTYPE_RSA_BAD_EXPONENT:
		describe_e(k, e, sizeof(e));
		snprintf(buf, bufsz, "ssh-rsa key with %s is refused: the "
		    "exponent must be odd, at least %d and under 2^%d "
		    "(ssh-keygen uses 65537); make a new key", e,
		    KEYTYPE_RSA_MIN_E, KEYTYPE_RSA_E_MAX_BITS);
		break;
	default:
		snprintf(buf, bufsz, "key refused");
		break;
	}
	return buf;
}
