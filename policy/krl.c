/*
 * krl.c - revoked keys and certificates (krl.h).
 *
 * What is kept is what a check needs, in sorted arrays searched with
 * bsearch(): the SHA-256 of every revoked key blob (explicit keys are
 * hashed; SHA-256 fingerprint sections are that already), the SHA-1
 * fingerprints, and per certificate section its CA's SHA-256 (or "any
 * CA"), its serial ranges (lists and bitmaps become ranges) and its key
 * ids.  Every count is bounded (KRL_MAX_*), so a hostile or broken file
 * costs bounded memory and is refused with a reason.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "buf.h"
#include "krl.h"
#include "sshwire.h"

#define KRL_MAGIC		0x5353484b524c0a00ULL	/* "SSHKRL\n\0" */
#define KRL_FORMAT_VERSION	1

#define SEC_CERTIFICATES	1
#define SEC_EXPLICIT_KEY	2
#define SEC_FINGERPRINT_SHA1	3
#define SEC_SIGNATURE		4
#define SEC_FINGERPRINT_SHA256	5
#define SEC_EXTENSION		255

#define CERT_SERIAL_LIST	0x20
#define CERT_SERIAL_RANGE	0x21
#define CERT_SERIAL_BITMAP	0x22
#define CERT_KEY_ID		0x23
#define CERT_EXTENSION		0x39

#define KEY_BLOB_MAX		16384	/* one key in a KRL or a line */

struct range {
	uint64_t lo, hi;
};

struct krl_ca {
	int any;			/* an empty ca_key: every CA */
	uint8_t ca[SHA256_DIGEST_LENGTH];
	struct range *ranges;
	size_t nranges, capranges;
	char **ids;
	size_t nids, capids;
};

struct krl {
	uint8_t (*sha256)[SHA256_DIGEST_LENGTH];
	size_t nsha256, cap256;
	uint8_t (*sha1)[SHA_DIGEST_LENGTH];
	size_t nsha1, cap1;
	struct krl_ca *cas;
	size_t ncas;
	size_t nranges, nids;		/* over all sections */
};

/* The parser's state: the list, and the first reason it failed. */
struct parse {
	struct krl *k;
	char *why;
	size_t whysz;
	int failed;
};

static int fail(struct parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Keep the first reason: -1. */
static int
fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->failed) {
		va_start(ap, fmt);
		vsnprintf(p->why, p->whysz, fmt, ap);
		va_end(ap);
	}
	p->failed = 1;
	return -1;
}

/* Grow *arr (elements of size sz) to hold one more: 0 or -1. */
static int
grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t ncap;
	void *na;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 64 : *cap * 2;
	if ((na = reallocarray(*arr, ncap, sz)) == NULL)
		return -1;
	*arr = na;
	*cap = ncap;
	return 0;
}

static int
add_sha256(struct parse *p, const uint8_t h[SHA256_DIGEST_LENGTH])
{
	struct krl *k = p->k;

	if (k->nsha256 + k->nsha1 >= KRL_MAX_HASHES)
		return fail(p, "more than %u revoked keys", KRL_MAX_HASHES);
	if (grow((void **)&k->sha256, &k->cap256, k->nsha256,
	    sizeof(*k->sha256)) != 0)
		return fail(p, "out of memory");
	memcpy(k->sha256[k->nsha256++], h, SHA256_DIGEST_LENGTH);
	return 0;
}

static int
add_sha1(struct parse *p, const uint8_t h[SHA_DIGEST_LENGTH])
{
	struct krl *k = p->k;

	if (k->nsha256 + k->nsha1 >= KRL_MAX_HASHES)
		return fail(p, "more than %u revoked keys", KRL_MAX_HASHES);
	if (grow((void **)&k->sha1, &k->cap1, k->nsha1, sizeof(*k->sha1)) != 0)
		return fail(p, "out of memory");
	memcpy(k->sha1[k->nsha1++], h, SHA_DIGEST_LENGTH);
	return 0;
}

/* A revoked plain key, by its blob: kept as its SHA-256. */
static int
add_key_blob(struct parse *p, const uint8_t *blob, size_t len)
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	char type[64];

	if (sshwire_blob_type(blob, len, type, sizeof(type)) != 0)
		return fail(p, "a revoked key that is no key blob");
	if (strstr(type, "-cert-v01@openssh.com") != NULL)
		return fail(p, "a revoked key that is a certificate (%s): "
		    "revoke it by serial or key id", type);
	SHA256(blob, len, h);
	return add_sha256(p, h);
}

static int
add_range(struct parse *p, struct krl_ca *ca, uint64_t lo, uint64_t hi)
{
	if (lo > hi)
		return fail(p, "a serial range whose end is before its "
		    "start");
	if (p->k->nranges >= KRL_MAX_RANGES)
		return fail(p, "more than %u revoked serial ranges",
		    KRL_MAX_RANGES);
	if (grow((void **)&ca->ranges, &ca->capranges, ca->nranges,
	    sizeof(*ca->ranges)) != 0)
		return fail(p, "out of memory");
	ca->ranges[ca->nranges].lo = lo;
	ca->ranges[ca->nranges++].hi = hi;
	p->k->nranges++;
	return 0;
}

static int
add_id(struct parse *p, struct krl_ca *ca, const uint8_t *id, size_t len)
{
	char *s;

	if (len > KRL_MAX_ID || memchr(id, '\0', len) != NULL)
		return fail(p, "a revoked key id that is too long or "
		    "holds a NUL byte");
	if (p->k->nids >= KRL_MAX_IDS)
		return fail(p, "more than %u revoked key ids", KRL_MAX_IDS);
	if (grow((void **)&ca->ids, &ca->capids, ca->nids,
	    sizeof(*ca->ids)) != 0 || (s = strndup((const char *)id, len)) ==
	    NULL)
		return fail(p, "out of memory");
	ca->ids[ca->nids++] = s;
	p->k->nids++;
	return 0;
}

/* ---- the binary form ---- */

static int
serial_list(struct parse *p, struct krl_ca *ca, struct cursor *c)
{
	uint64_t s;

	while (c->left > 0)
		if (cursor_get_u64(c, &s) != 0 || add_range(p, ca, s, s) != 0)
			return fail(p, "a malformed serial list");
	return 0;
}

static int
serial_range(struct parse *p, struct krl_ca *ca, struct cursor *c)
{
	uint64_t lo, hi;

	cursor_get_u64(c, &lo);
	cursor_get_u64(c, &hi);
	if (cursor_end(c) != 0)
		return fail(p, "a malformed serial range");
	return add_range(p, ca, lo, hi);
}

/* serial_offset, then an mpint whose bit N revokes serial_offset + N:
 * each run of set bits becomes one range. */
static int
serial_bitmap(struct parse *p, struct krl_ca *ca, struct cursor *c)
{
	const uint8_t *bits;
	size_t n, bit, nbits, run = 0;
	uint64_t off;
	int set;

	cursor_get_u64(c, &off);
	cursor_get_string(c, &bits, &n, KRL_MAX_FILE);
	if (cursor_end(c) != 0 || (n > 0 && (bits[0] & 0x80) != 0))
		return fail(p, "a malformed serial bitmap");
	nbits = n * 8;
	for (bit = 0; bit <= nbits; bit++) {
		/* A byte of zeros outside a run: nothing to do (a bitmap
		 * of 16 MiB is mostly that). */
		if (bit % 8 == 0 && bit < nbits && run == 0 &&
		    bits[n - 1 - bit / 8] == 0) {
			bit += 7;
			continue;
		}
		/* Bit 0 is the last byte's lowest (big-endian mpint). */
		set = bit < nbits &&
		    (bits[n - 1 - bit / 8] >> (bit % 8) & 1) != 0;
		if (set) {
			if ((uint64_t)bit > UINT64_MAX - off)
				return fail(p, "a serial bitmap past the last "
				    "serial");
			run++;
			continue;
		}
		if (run > 0 && add_range(p, ca, off + (bit - run),
		    off + (bit - 1)) != 0)
			return -1;
		run = 0;
	}
	return 0;
}

static int
key_ids(struct parse *p, struct krl_ca *ca, struct cursor *c)
{
	const uint8_t *id;
	size_t n;

	if (c->left == 0)
		return fail(p, "a key id section without a key id");
	while (c->left > 0) {
		if (cursor_get_string(c, &id, &n, KRL_MAX_ID) != 0)
			return fail(p, "a malformed key id section");
		if (add_id(p, ca, id, n) != 0)
			return -1;
	}
	return 0;
}

/* An extension: a critical one cannot be honoured, so it fails. */
static int
extension(struct parse *p, struct cursor *c)
{
	const uint8_t *name, *data;
	size_t nlen, dlen;
	uint8_t critical;
	char shown[64];

	cursor_get_string(c, &name, &nlen, 256);
	cursor_get_u8(c, &critical);
	cursor_get_string(c, &data, &dlen, KRL_MAX_FILE);
	if (cursor_end(c) != 0 || critical > 1)
		return fail(p, "a malformed extension");
	if (critical) {
		snprintf(shown, sizeof(shown), "%.*s",
		    (int)(nlen < 40 ? nlen : 40), (const char *)name);
		return fail(p, "a critical extension this gateway does not "
		    "know (%s)", shown);
	}
	return 0;
}

static int
cert_section(struct parse *p, struct cursor *c)
{
	struct krl *k = p->k;
	const uint8_t *ca_key, *reserved, *data;
	size_t calen, rlen, dlen;
	struct krl_ca *ca, *nc;
	struct cursor sub;
	uint8_t type;
	int rc;

	if (k->ncas >= KRL_MAX_CAS)
		return fail(p, "more than %u certificate sections", KRL_MAX_CAS);
	if ((nc = reallocarray(k->cas, k->ncas + 1, sizeof(*nc))) == NULL)
		return fail(p, "out of memory");
	k->cas = nc;
	ca = &k->cas[k->ncas++];
	memset(ca, 0, sizeof(*ca));
	if (cursor_get_string(c, &ca_key, &calen, KEY_BLOB_MAX) != 0 ||
	    cursor_get_string(c, &reserved, &rlen, KRL_MAX_FILE) != 0)
		return fail(p, "a malformed certificate section");
	ca->any = calen == 0;
	if (!ca->any)
		SHA256(ca_key, calen, ca->ca);
	while (c->left > 0) {
		if (cursor_get_u8(c, &type) != 0 ||
		    cursor_get_string(c, &data, &dlen, KRL_MAX_FILE) != 0)
			return fail(p, "a malformed certificate section");
		cursor_init(&sub, data, dlen);
		switch (type) {
		case CERT_SERIAL_LIST:
			rc = serial_list(p, ca, &sub);
			break;
		case CERT_SERIAL_RANGE:
			rc = serial_range(p, ca, &sub);
			break;
		case CERT_SERIAL_BITMAP:
			rc = serial_bitmap(p, ca, &sub);
			break;
		case CERT_KEY_ID:
			rc = key_ids(p, ca, &sub);
			break;
		case CERT_EXTENSION:
			rc = extension(p, &sub);
			break;
		default:
			rc = fail(p, "an unknown certificate subsection");
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int
explicit_keys(struct parse *p, struct cursor *c)
{
	const uint8_t *blob;
	size_t n;

	if (c->left == 0)
		return fail(p, "an explicit key section without a key");
	while (c->left > 0) {
		if (cursor_get_string(c, &blob, &n, KEY_BLOB_MAX) != 0)
			return fail(p, "a malformed explicit key section");
		if (add_key_blob(p, blob, n) != 0)
			return -1;
	}
	return 0;
}

/* Fingerprint sections: hashes of hlen bytes each. */
static int
fingerprints(struct parse *p, struct cursor *c, size_t hlen)
{
	const uint8_t *h;
	size_t n;

	if (c->left == 0)
		return fail(p, "a fingerprint section without a hash");
	while (c->left > 0) {
		if (cursor_get_string(c, &h, &n, hlen) != 0 || n != hlen)
			return fail(p, "a malformed fingerprint section");
		if ((hlen == SHA256_DIGEST_LENGTH ? add_sha256(p, h) :
		    add_sha1(p, h)) != 0)
			return -1;
	}
	return 0;
}

static int
parse_binary(struct parse *p, const uint8_t *data, size_t len)
{
	const uint8_t *reserved, *comment, *sec;
	size_t rlen, clen, slen;
	struct cursor c, s;
	uint64_t magic, version, date, flags;
	uint32_t format;
	uint8_t type;
	int rc;

	cursor_init(&c, data, len);
	cursor_get_u64(&c, &magic);
	cursor_get_u32(&c, &format);
	cursor_get_u64(&c, &version);
	cursor_get_u64(&c, &date);
	cursor_get_u64(&c, &flags);
	cursor_get_string(&c, &reserved, &rlen, KRL_MAX_FILE);
	cursor_get_string(&c, &comment, &clen, KRL_MAX_FILE);
	if (c.failed || magic != KRL_MAGIC)
		return fail(p, "a KRL header that is cut short");
	if (format != KRL_FORMAT_VERSION)
		return fail(p, "a KRL format version other than 1");
	while (c.left > 0) {
		if (cursor_get_u8(&c, &type) != 0 ||
		    cursor_get_string(&c, &sec, &slen, KRL_MAX_FILE) != 0)
			return fail(p, "a section that is cut short");
		cursor_init(&s, sec, slen);
		switch (type) {
		case SEC_CERTIFICATES:
			rc = cert_section(p, &s);
			break;
		case SEC_EXPLICIT_KEY:
			rc = explicit_keys(p, &s);
			break;
		case SEC_FINGERPRINT_SHA1:
			rc = fingerprints(p, &s, SHA_DIGEST_LENGTH);
			break;
		case SEC_FINGERPRINT_SHA256:
			rc = fingerprints(p, &s, SHA256_DIGEST_LENGTH);
			break;
		case SEC_EXTENSION:
			rc = extension(p, &s);
			break;
		case SEC_SIGNATURE:
			/* As OpenSSH >= 9.4: signed KRLs are refused. */
			rc = fail(p, "a signature section (not "
			    "supported: sign the file with ssh-keygen -Y "
			    "instead)");
			break;
		default:
			rc = fail(p, "an unknown section");
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* ---- the text form ---- */

static int
text_line(struct parse *p, char *line, unsigned lineno)
{
	uint8_t blob[KEY_BLOB_MAX];
	char *type, *b64, *save = NULL;
	char where[32];
	size_t n;

	snprintf(where, sizeof(where), "line %u", lineno);
	line[strcspn(line, "\r\n")] = '\0';
	if ((type = strtok_r(line, " \t", &save)) == NULL || type[0] == '#')
		return 0;
	if ((b64 = strtok_r(NULL, " \t", &save)) == NULL)
		return fail(p, "%s: a key type without its base64 (\"type "
		    "base64 [comment]\")", where);
	if (b64_decode(b64, strlen(b64), blob, sizeof(blob), &n) != 0)
		return fail(p, "%s: the key's base64 does not decode", where);
	if (add_key_blob(p, blob, n) != 0) {
		/* Name the line in front of what add_key_blob() said. */
		char inner[256];

		snprintf(inner, sizeof(inner), "%s", p->why);
		snprintf(p->why, p->whysz, "%s: %s", where, inner);
		return -1;
	}
	return 0;
}

static int
parse_text(struct parse *p, const uint8_t *data, size_t len)
{
	char *copy, *line, *next;
	unsigned lineno = 0;
	int rc = 0;

	if (memchr(data, '\0', len) != NULL)
		return fail(p, "neither a KRL nor text: it holds a NUL "
		    "byte");
	if ((copy = strndup((const char *)data, len)) == NULL)
		return fail(p, "out of memory");
	for (line = copy; line != NULL && rc == 0; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		rc = text_line(p, line, ++lineno);
	}
	free(copy);
	return rc;
}

/* ---- sorting, searching ---- */

static int
cmp256(const void *a, const void *b)
{
	return memcmp(a, b, SHA256_DIGEST_LENGTH);
}

static int
cmp1(const void *a, const void *b)
{
	return memcmp(a, b, SHA_DIGEST_LENGTH);
}

static int
cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort each range list and merge overlapping or touching ranges, so that
 * a search finds the one range that may hold a serial. */
static void
merge_ranges(struct krl_ca *ca)
{
	size_t i, out = 0;

	if (ca->nranges == 0)
		return;
	qsort(ca->ranges, ca->nranges, sizeof(*ca->ranges), cmp_range);
	for (i = 1; i < ca->nranges; i++) {
		if (ca->ranges[i].lo <= ca->ranges[out].hi ||
		    ca->ranges[i].lo - 1 == ca->ranges[out].hi) {
			if (ca->ranges[i].hi > ca->ranges[out].hi)
				ca->ranges[out].hi = ca->ranges[i].hi;
		} else
			ca->ranges[++out] = ca->ranges[i];
	}
	ca->nranges = out + 1;
}

static void
finish(struct krl *k)
{
	size_t i;

	/* (qsort() must not be given a NULL array, even an empty one.) */
	if (k->nsha256 > 0)
		qsort(k->sha256, k->nsha256, sizeof(*k->sha256), cmp256);
	if (k->nsha1 > 0)
		qsort(k->sha1, k->nsha1, sizeof(*k->sha1), cmp1);
	for (i = 0; i < k->ncas; i++) {
		merge_ranges(&k->cas[i]);
		if (k->cas[i].nids > 0)
			qsort(k->cas[i].ids, k->cas[i].nids, sizeof(char *),
			    cmp_id);
	}
}

int
krl_parse(const uint8_t *data, size_t len, struct krl **out, char *why,
    size_t whysz)
{
	struct parse p;
	uint8_t magic[8];
	size_t i;
	int rc;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.why = why;
	p.whysz = whysz;
	if (len > KRL_MAX_FILE) {
		snprintf(why, whysz, "over %u bytes", KRL_MAX_FILE);
		return -1;
	}
	if ((p.k = calloc(1, sizeof(*p.k))) == NULL) {
		snprintf(why, whysz, "out of memory");
		return -1;
	}
	for (i = 0; i < 8; i++)
		magic[i] = (uint8_t)(KRL_MAGIC >> (56 - 8 * i));
	if (len >= 8 && memcmp(data, magic, 8) == 0)
		rc = parse_binary(&p, data, len);
	else
		rc = parse_text(&p, data, len);
	if (rc != 0) {
		krl_free(p.k);
		return -1;
	}
	finish(p.k);
	*out = p.k;
	return 0;
}

void
krl_free(struct krl *k)
{
	size_t i, j;

	if (k == NULL)
		return;
	for (i = 0; i < k->ncas; i++) {
		for (j = 0; j < k->cas[i].nids; j++)
			free(k->cas[i].ids[j]);
		free(k->cas[i].ids);
		free(k->cas[i].ranges);
	}
	free(k->cas);
	free(k->sha256);
	free(k->sha1);
	free(k);
}

void
krl_counts(const struct krl *k, size_t *nkeys, size_t *ncas)
{
	*nkeys = k->nsha256 + k->nsha1;
	*ncas = k->ncas;
}

int
krl_key_revoked(const struct krl *k, const uint8_t *blob, size_t len)
{
	uint8_t h256[SHA256_DIGEST_LENGTH], h1[SHA_DIGEST_LENGTH];

	SHA256(blob, len, h256);
	if (k->nsha256 > 0 && bsearch(h256, k->sha256, k->nsha256,
	    sizeof(*k->sha256), cmp256) != NULL)
		return 1;
	if (k->nsha1 == 0)
		return 0;
	SHA1(blob, len, h1);
	return bsearch(h1, k->sha1, k->nsha1, sizeof(*k->sha1), cmp1) != NULL;
}

/* Does a section's (merged, sorted) range list hold serial? */
static int
serial_in(const struct krl_ca *ca, uint64_t serial)
{
	size_t lo = 0, hi = ca->nranges, mid;

	/* The last range that starts at or before serial. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ca->ranges[mid].lo <= serial)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && serial <= ca->ranges[lo - 1].hi;
}

int
krl_cert_revoked(const struct krl *k, const uint8_t *ca_blob, size_t ca_len,
    uint64_t serial, const char *key_id)
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	const struct krl_ca *ca;
	size_t i;

	if (krl_key_revoked(k, ca_blob, ca_len))
		return 1;
	SHA256(ca_blob, ca_len, h);
	for (i = 0; i < k->ncas; i++) {
		ca = &k->cas[i];
		if (!ca->any && memcmp(ca->ca, h, sizeof(h)) != 0)
			continue;
		if (serial_in(ca, serial))
			return 1;
		if (ca->nids > 0 && bsearch(&key_id, ca->ids, ca->nids,
		    sizeof(char *), cmp_id) != NULL)
			return 1;
	}
	return 0;
}
