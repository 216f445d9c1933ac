/*
 * usercert.c - a client's OpenSSH user certificate, parsed and checked by
 * the monitor; see usercert.h.  The CA signature is verified by
 * userauth_verify() (userauth.c), the one OpenSSL verifier the monitor
 * has, with the table of keytypes.h.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "buf.h"
#include "ipc.h"
#include "monitor.h"
#include "usercert.h"

#define NONCE_MAX	256
#define LIST_MAX	IPC_MAX_BLOB	/* principals, options, extensions */
#define NAME_MAX_LEN	128		/* an option or extension name */
/* An ECDSA signature's r or s (an mpint): the largest curve's scalar,
 * half its point (keytypes.h), and a sign byte. */
#define ECDSA_SCALAR_MAX	((KEYTYPE_PUB_MAX - 1) / 2 + 1)

static const char *const reasons[USERCERT_VERDICT_MAX] = {
	[USERCERT_OK] = "allowed",
	[USERCERT_MALFORMED] = "cert-malformed",
	[USERCERT_NOT_USER] = "cert-not-user",
	[USERCERT_UNTRUSTED_CA] = "cert-untrusted-ca",
	[USERCERT_BAD_SIGNATURE] = "cert-bad-signature",
	[USERCERT_NOT_YET_VALID] = "cert-not-yet-valid",
	[USERCERT_EXPIRED] = "cert-expired",
	[USERCERT_PRINCIPAL] = "cert-principal",
	[USERCERT_SOURCE_ADDRESS] = "cert-source-address",
	[USERCERT_CRITICAL_OPTION] = "cert-critical-option",
};

const char *
usercert_reason(enum usercert_verdict v)
{
	if ((unsigned)v >= USERCERT_VERDICT_MAX || reasons[v] == NULL)
		return "cert-malformed";
	return reasons[v];
}

/* The certified key's fields, copied after its plain type name. */
static int
get_key_fields(struct cursor *c, struct usercert *uc)
{
	const struct keytype *kt;
	const uint8_t *start = c->p, *p;
	size_t n;
	struct buf b;
	int rc = -1;

	/* Bounds only; the key's own check (keytype_check_blob) follows. */
	if ((kt = keytype_find(uc->ct->plain, strlen(uc->ct->plain))) == NULL)
		return -1;
	switch (kt->kind) {
	case KEYTYPE_ED25519:
		cursor_get_string(c, &p, &n, kt->publen);
		break;
	case KEYTYPE_RSA:
		cursor_get_string(c, &p, &n, KEYTYPE_MAX_BLOB);	/* e */
		cursor_get_string(c, &p, &n, KEYTYPE_MAX_BLOB);	/* n */
		break;
	case KEYTYPE_ECDSA:
		cursor_get_string(c, &p, &n, 32);		/* curve */
		cursor_get_string(c, &p, &n, KEYTYPE_MAX_BLOB);	/* Q */
		break;
	default:
		return -1;
	}
	if (c->failed)
		return -1;
	buf_init(&b, sizeof(uc->key_blob));
	buf_put_cstring(&b, uc->ct->plain);
	buf_put(&b, start, (size_t)(c->p - start));
	if (buf_ok(&b) == 0 && b.len <= sizeof(uc->key_blob)) {
		memcpy(uc->key_blob, b.data, b.len);
		uc->key_blob_len = b.len;
		rc = 0;
	}
	buf_free(&b);
	return rc;
}

/* Extensions: name, empty data, in order, no repeats; flags into uc. */
static int
parse_extensions(struct usercert *uc)
{
	static const struct { const char *name; unsigned flag; } known[] = {
		{ "permit-X11-forwarding", USERCERT_EXT_X11_FWD },
		{ "permit-agent-forwarding", USERCERT_EXT_AGENT_FWD },
		{ "permit-port-forwarding", USERCERT_EXT_PORT_FWD },
		{ "permit-pty", USERCERT_EXT_PTY },
		{ "permit-user-rc", USERCERT_EXT_USER_RC },
	};
	struct cursor c;
	char name[NAME_MAX_LEN], prev[NAME_MAX_LEN] = "";
	const uint8_t *data;
	size_t n, i;

	cursor_init(&c, uc->extensions, uc->extensions_len);
	while (c.left > 0) {
		if (cursor_get_cstring(&c, name, sizeof(name)) != 0 ||
		    cursor_get_string(&c, &data, &n, LIST_MAX) != 0 ||
		    (prev[0] != '\0' && strcmp(prev, name) >= 0))
			return -1;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(known[i].name, name) == 0)
				uc->ext |= known[i].flag;
		/* Unknown extensions are ignored, as OpenSSH does. */
		memcpy(prev, name, sizeof(prev));
	}
	return 0;
}

int
usercert_parse(const uint8_t *blob, size_t len, unsigned rsa_min_bits,
    struct usercert *uc, const char **why)
{
	struct cursor c;
	char type[64];
	const uint8_t *p;
	size_t n;
	struct keytype_key k;

	memset(uc, 0, sizeof(*uc));
	*why = "malformed certificate";
	cursor_init(&c, blob, len);
	if (cursor_get_cstring(&c, type, sizeof(type)) != 0 ||
	    (uc->ct = keytype_cert_find(type, strlen(type))) == NULL) {
		*why = "not a certificate type the gateway accepts";
		return -1;
	}
	cursor_get_string(&c, &p, &n, NONCE_MAX);		/* nonce */
	if (c.failed || get_key_fields(&c, uc) != 0)
		return -1;
	cursor_get_u64(&c, &uc->serial);
	cursor_get_u32(&c, &uc->type);
	if (cursor_get_cstring(&c, uc->key_id, sizeof(uc->key_id)) != 0) {
		*why = "certificate key id too long or holds a NUL byte";
		return -1;
	}
	cursor_get_string(&c, &uc->principals, &uc->principals_len, LIST_MAX);
	cursor_get_u64(&c, &uc->valid_after);
	cursor_get_u64(&c, &uc->valid_before);
	cursor_get_string(&c, &uc->critical, &uc->critical_len, LIST_MAX);
	cursor_get_string(&c, &uc->extensions, &uc->extensions_len, LIST_MAX);
	cursor_get_string(&c, &p, &n, LIST_MAX);		/* reserved */
	cursor_get_string(&c, &uc->ca_blob, &uc->ca_blob_len, IPC_MAX_BLOB);
	if (c.failed)
		return -1;
	uc->signed_part = blob;
	uc->signed_len = (size_t)(c.p - blob);
	cursor_get_string(&c, &uc->sig, &uc->sig_len, IPC_MAX_BLOB);
	if (cursor_end(&c) != 0) {
		*why = "malformed certificate (truncated, or bytes after it)";
		return -1;
	}
	if (keytype_check_blob(uc->key_blob, uc->key_blob_len, rsa_min_bits,
	    &k) != KEYTYPE_OK) {
		*why = "the certified key is not one the gateway accepts";
		return -1;
	}
	if (parse_extensions(uc) != 0) {
		*why = "malformed certificate extensions";
		return -1;
	}
	sshwire_fingerprint(uc->key_blob, uc->key_blob_len, uc->key_fp,
	    sizeof(uc->key_fp));
	sshwire_fingerprint(uc->ca_blob, uc->ca_blob_len, uc->ca_fp,
	    sizeof(uc->ca_fp));
	return 0;
}

/* Does the principals list name user exactly? */
static int
principal_ok(const struct usercert *uc, const char *user)
{
	struct cursor c;
	const uint8_t *p;
	size_t n;

	cursor_init(&c, uc->principals, uc->principals_len);
	while (c.left > 0) {
		if (cursor_get_string(&c, &p, &n, LIST_MAX) != 0)
			return 0;
		if (n == strlen(user) && memcmp(p, user, n) == 0)
			return 1;
	}
	return 0;
}

/* Is ip inside one "addr[/bits]" entry? */
static int
cidr_match(const char *entry, const char *ip)
{
	char a[INET6_ADDRSTRLEN + 8], *slash, *end;
	uint8_t net[16], addr[16];
	int fam, alen, bits, i;
	long v;

	if (strlen(entry) >= sizeof(a))
		return -1;
	memcpy(a, entry, strlen(entry) + 1);
	fam = strchr(a, ':') != NULL ? AF_INET6 : AF_INET;
	alen = fam == AF_INET ? 4 : 16;
	bits = alen * 8;
	if ((slash = strchr(a, '/')) != NULL) {
		*slash++ = '\0';
		v = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || v < 0 || v > bits)
			return -1;
		bits = (int)v;
	}
	if (inet_pton(fam, a, net) != 1)
		return -1;
	if (inet_pton(fam, ip, addr) != 1)
		return 0;	/* the other family */
	for (i = 0; i < bits / 8; i++)
		if (net[i] != addr[i])
			return 0;
	if (bits % 8 != 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits % 8));

		if ((net[i] & mask) != (addr[i] & mask))
			return 0;
	}
	return 1;
}

/* source-address: "a/b,c/d"; 1 match, 0 none, -1 malformed. */
static int
source_ok(const uint8_t *list, size_t n, const char *ip)
{
	char s[1024], *tok, *save = NULL;
	int r, hit = 0;

	if (n == 0 || n >= sizeof(s) || memchr(list, '\0', n) != NULL)
		return -1;
	memcpy(s, list, n);
	s[n] = '\0';
	for (tok = strtok_r(s, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((r = cidr_match(tok, ip)) < 0)
			return -1;
		hit |= r;
	}
	return hit;
}

/* The critical options: only source-address, and it must match. */
static enum usercert_verdict
check_critical(const struct usercert *uc, const char *ip, char *why,
    size_t whysz)
{
	struct cursor c, d;
	char name[NAME_MAX_LEN], prev[NAME_MAX_LEN] = "";
	const uint8_t *data, *val;
	size_t n, vn;
	int r;

	cursor_init(&c, uc->critical, uc->critical_len);
	while (c.left > 0) {
		if (cursor_get_cstring(&c, name, sizeof(name)) != 0 ||
		    cursor_get_string(&c, &data, &n, LIST_MAX) != 0 ||
		    (prev[0] != '\0' && strcmp(prev, name) >= 0)) {
			snprintf(why, whysz, "malformed critical options");
			return USERCERT_MALFORMED;
		}
		memcpy(prev, name, sizeof(prev));
		if (strcmp(name, "source-address") != 0) {
			snprintf(why, whysz, "critical option %s is not "
			    "supported by the gateway", name);
			return USERCERT_CRITICAL_OPTION;
		}
		cursor_init(&d, data, n);
		if (cursor_get_string(&d, &val, &vn, LIST_MAX) != 0 ||
		    cursor_end(&d) != 0 || (r = source_ok(val, vn, ip)) < 0) {
			snprintf(why, whysz, "malformed source-address");
			return USERCERT_CRITICAL_OPTION;
		}
		if (r == 0) {
			snprintf(why, whysz, "client address %s is not in "
			    "source-address %.*s", ip, (int)(vn > 200 ? 200 :
			    vn), (const char *)val);
			return USERCERT_SOURCE_ADDRESS;
		}
	}
	return USERCERT_OK;
}

/* An SSH ECDSA signature (mpint r, mpint s) as OpenSSL's DER. */
static int
ecdsa_der(const uint8_t *sig, size_t n, uint8_t *out, size_t outsz,
    size_t *outlen)
{
	struct cursor c;
	const uint8_t *r, *s;
	size_t rn, sn;
	BIGNUM *br = NULL, *bs = NULL;
	ECDSA_SIG *es = NULL;
	unsigned char *p = out;
	int len, rc = -1;

	cursor_init(&c, sig, n);
	cursor_get_string(&c, &r, &rn, ECDSA_SCALAR_MAX);
	cursor_get_string(&c, &s, &sn, ECDSA_SCALAR_MAX);
	if (cursor_end(&c) != 0)
		return -1;
	if ((br = BN_bin2bn(r, (int)rn, NULL)) == NULL ||
	    (bs = BN_bin2bn(s, (int)sn, NULL)) == NULL ||
	    (es = ECDSA_SIG_new()) == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, br, bs) != 1)
		goto out;
	br = bs = NULL;
	if ((len = i2d_ECDSA_SIG(es, NULL)) <= 0 || (size_t)len > outsz)
		goto out;
	*outlen = (size_t)i2d_ECDSA_SIG(es, &p);
	rc = 0;
 out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	return rc;
}

/* The CA's signature over the certificate: 1 good, 0 not. */
static int
ca_signature_ok(const struct usercert *uc, unsigned rsa_min_bits)
{
	struct cursor c;
	char algo[64];
	const uint8_t *s;
	size_t sn, dn;
	uint8_t der[KEYTYPE_ECDSA_SIG_MAX];
	const struct keytype *kt;

	cursor_init(&c, uc->sig, uc->sig_len);
	cursor_get_cstring(&c, algo, sizeof(algo));
	cursor_get_string(&c, &s, &sn, IPC_MAX_BLOB);
	if (cursor_end(&c) != 0)
		return 0;
	if ((kt = keytype_of_blob(uc->ca_blob, uc->ca_blob_len)) == NULL)
		return 0;
	if (kt->kind == KEYTYPE_ECDSA) {
		if (ecdsa_der(s, sn, der, sizeof(der), &dn) != 0)
			return 0;
		s = der;
		sn = dn;
	}
	return userauth_verify(algo, uc->ca_blob, uc->ca_blob_len, s, sn,
	    uc->signed_part, uc->signed_len, rsa_min_bits) == 1;
}

enum usercert_verdict
usercert_check(const struct usercert *uc, const char *user,
    const char *peer_ip, uint64_t now, const struct usercert_ca *cas,
    size_t ncas, unsigned rsa_min_bits, char *why, size_t whysz)
{
	enum usercert_verdict v;
	size_t i;

	if (uc->type != USERCERT_TYPE_USER) {
		snprintf(why, whysz, "certificate type %u is not a user "
		    "certificate", (unsigned)uc->type);
		return USERCERT_NOT_USER;
	}
	for (i = 0; i < ncas; i++)
		if (cas[i].len == uc->ca_blob_len &&
		    bytes_equal(cas[i].blob, uc->ca_blob, cas[i].len))
			break;
	if (i == ncas || keytype_of_blob(uc->ca_blob, uc->ca_blob_len) ==
	    NULL) {
		snprintf(why, whysz, "CA key %s is not in "
		    "trusted_user_ca_keys", uc->ca_fp);
		return USERCERT_UNTRUSTED_CA;
	}
	if (now < uc->valid_after) {
		snprintf(why, whysz, "certificate is not valid before %llu",
		    (unsigned long long)uc->valid_after);
		return USERCERT_NOT_YET_VALID;
	}
	if (now >= uc->valid_before) {
		snprintf(why, whysz, "certificate expired at %llu",
		    (unsigned long long)uc->valid_before);
		return USERCERT_EXPIRED;
	}
	if (!principal_ok(uc, user)) {
		snprintf(why, whysz, "certificate principals do not name "
		    "user %s", user);
		return USERCERT_PRINCIPAL;
	}
	if ((v = check_critical(uc, peer_ip, why, whysz)) != USERCERT_OK)
		return v;
	if (!ca_signature_ok(uc, rsa_min_bits)) {
		snprintf(why, whysz, "CA signature over the certificate does "
		    "not verify");
		return USERCERT_BAD_SIGNATURE;
	}
	return USERCERT_OK;
}

int
usercert_peer_ip(const char *peer, char *out, size_t outsz)
{
	const char *end;
	size_t n;

	if (peer[0] == '[') {
		if ((end = strchr(peer, ']')) == NULL)
			return -1;
		peer++;
	} else if ((end = strrchr(peer, ':')) == NULL)
		end = peer + strlen(peer);
	n = (size_t)(end - peer);
	if (n == 0 || n >= outsz)
		return -1;
	memcpy(out, peer, n);
	out[n] = '\0';
	return 0;
}
