/*
 * authkeys.c - one OpenSSH authorized_keys line into a checked key.
 *
 * A line is "type base64 [comment]".  The blob is parsed in full for its
 * type, so a key that could never verify a signature is refused when the
 * configuration is loaded, not at the first login.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authkeys.h"
#include "buf.h"
#include "sshwire.h"

#define RSA_MIN_BITS	1024	/* OpenSSH's own floor */
#define EC_POINT_UNCOMPRESSED	0x04
#define MPINT_SIGN_BIT	0x80

enum key_kind {
	KIND_ED25519,
	KIND_RSA,
	KIND_ECDSA,
};

struct key_type {
	const char *name;
	enum key_kind kind;
	const char *curve;	/* ECDSA: the blob's curve identifier */
	size_t pointlen;	/* ECDSA: uncompressed point length */
};

static const struct key_type key_types[] = {
	{ "ssh-ed25519", KIND_ED25519, NULL, 0 },
	{ "ssh-rsa", KIND_RSA, NULL, 0 },
	{ "ecdsa-sha2-nistp256", KIND_ECDSA, "nistp256", 1 + 2 * 32 },
	{ "ecdsa-sha2-nistp384", KIND_ECDSA, "nistp384", 1 + 2 * 48 },
	{ "ecdsa-sha2-nistp521", KIND_ECDSA, "nistp521", 1 + 2 * 66 },
};

#define NKEY_TYPES	(sizeof(key_types) / sizeof(key_types[0]))

/* Known key types we refuse, each with the reason the user will see. */
static const char *
refused_type(const char *type)
{
	static const char cert_suffix[] = "-cert-v01@openssh.com";
	size_t n = strlen(type), m = strlen(cert_suffix);

	if (n > m && strcmp(type + n - m, cert_suffix) == 0)
		return "certificates are not supported; use the plain "
		    "public key";
	if (strncmp(type, "sk-", 3) == 0)
		return "security key (sk-*) keys are not supported; "
		    "use ssh-ed25519, ecdsa or rsa";
	if (strcmp(type, "ssh-dss") == 0)
		return "DSA keys are not supported; use ssh-ed25519";
	return NULL;
}

static const struct key_type *
find_type(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < NKEY_TYPES; i++)
		if (strlen(key_types[i].name) == n &&
		    memcmp(key_types[i].name, s, n) == 0)
			return &key_types[i];
	return NULL;
}

static int
is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int
is_end(char ch)
{
	return ch == '\0' || ch == '\n' || ch == '\r';
}

static const char *
skip_space(const char *p)
{
	while (is_space(*p))
		p++;
	return p;
}

/* The end of the token at p; quotes group, as in an options string. */
static const char *
token_end(const char *p)
{
	int quoted = 0;

	for (; !is_end(*p) && (quoted || !is_space(*p)); p++)
		if (*p == '"')
			quoted = !quoted;
	return p;
}

/* Whether p[0..n) names a key type, accepted or refused. */
static int
is_type_name(const char *p, size_t n)
{
	char type[64];

	if (find_type(p, n) != NULL)
		return 1;
	if (n == 0 || n >= sizeof(type))
		return 0;
	memcpy(type, p, n);
	type[n] = '\0';
	return refused_type(type) != NULL;
}

/*
 * The first token is not a type we accept.  Say why as precisely as we
 * can: a type we refuse, key options in front of a type, or junk.
 */
static const char *
explain_first_token(const char *tok, size_t n)
{
	char type[64];
	const char *next, *why;

	if (n < sizeof(type)) {
		memcpy(type, tok, n);
		type[n] = '\0';
		if ((why = refused_type(type)) != NULL)
			return why;
	}
	next = skip_space(tok + n);
	if (is_type_name(next, (size_t)(token_end(next) - next)) ||
	    memchr(tok, '=', n) != NULL || memchr(tok, ',', n) != NULL)
		return "key options are not supported; remove them";
	return "unknown key type: expected ssh-ed25519, ssh-rsa or "
	    "ecdsa-sha2-nistp256/384/521";
}

/* An SSH mpint that is positive, minimally encoded; its size in bits. */
static int
get_positive_mpint(struct cursor *c, size_t *bits)
{
	const uint8_t *p;
	size_t n;
	uint8_t top;

	if (cursor_get_string(c, &p, &n, AUTHKEY_MAX_BLOB) != 0 || n == 0)
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
	*bits = (n - 1) * 8;
	for (top = p[0]; top != 0; top >>= 1)
		(*bits)++;
	return 0;
}

static const char *
check_ed25519(struct cursor *c)
{
	const uint8_t *p;
	size_t n;

	if (cursor_get_string(c, &p, &n, ED25519_PUB_LEN) != 0 ||
	    n != ED25519_PUB_LEN)
		return "malformed ssh-ed25519 key: public key is not 32 bytes";
	return NULL;
}

static const char *
check_rsa(struct cursor *c)
{
	size_t ebits, nbits;

	if (get_positive_mpint(c, &ebits) != 0 ||
	    get_positive_mpint(c, &nbits) != 0)
		return "malformed ssh-rsa key: bad exponent or modulus";
	if (nbits < RSA_MIN_BITS)
		return "ssh-rsa key is too small (under 1024 bits); use "
		    "ssh-ed25519 or a 3072-bit RSA key";
	return NULL;
}

static const char *
check_ecdsa(struct cursor *c, const struct key_type *kt)
{
	char curve[16];
	const uint8_t *p;
	size_t n;

	if (cursor_get_cstring(c, curve, sizeof(curve)) != 0 ||
	    strcmp(curve, kt->curve) != 0)
		return "malformed ecdsa key: curve does not match the key type";
	if (cursor_get_string(c, &p, &n, AUTHKEY_MAX_BLOB) != 0 ||
	    n != kt->pointlen || p[0] != EC_POINT_UNCOMPRESSED)
		return "malformed ecdsa key: bad public point";
	return NULL;
}

/* The whole blob: its inner type, the type's fields, nothing after. */
static const char *
check_blob(const struct key_type *kt, const uint8_t *blob, size_t n)
{
	struct cursor c;
	char type[sizeof(((struct authkey *)0)->type)];
	const char *why;

	cursor_init(&c, blob, n);
	if (cursor_get_cstring(&c, type, sizeof(type)) != 0)
		return "malformed key data: no key type inside";
	if (strcmp(type, kt->name) != 0)
		return "key data does not match the key type named on the line";
	switch (kt->kind) {
	case KIND_ED25519:
		why = check_ed25519(&c);
		break;
	case KIND_RSA:
		why = check_rsa(&c);
		break;
	case KIND_ECDSA:
		why = check_ecdsa(&c, kt);
		break;
	default:
		why = "unsupported key type";
		break;
	}
	if (why == NULL && cursor_end(&c) != 0)
		why = "malformed key data: truncated or trailing bytes";
	return why;
}

/* Decode the base64 field into a fresh blob. */
static const char *
decode_blob(const char *b64, size_t n, struct authkey *out)
{
	/* Base64 of AUTHKEY_MAX_BLOB bytes, with padding. */
	const size_t maxtext = (AUTHKEY_MAX_BLOB + 2) / 3 * 4;

	if (n == 0)
		return "missing key data after the key type";
	if (n > maxtext)
		return "key data is too long";
	if ((out->blob = malloc(AUTHKEY_MAX_BLOB)) == NULL)
		return "out of memory";
	if (b64_decode(b64, n, out->blob, AUTHKEY_MAX_BLOB,
	    &out->bloblen) != 0)
		return "key data is not valid base64";
	return NULL;
}

/* The rest of the line, trimmed; NULL if empty. */
static const char *
set_comment(const char *p, struct authkey *out)
{
	const char *end;

	p = skip_space(p);
	for (end = p; !is_end(*end); end++)
		;
	while (end > p && is_space(end[-1]))
		end--;
	if (end == p)
		return NULL;
	if ((out->comment = strndup(p, (size_t)(end - p))) == NULL)
		return "out of memory";
	return NULL;
}

static const char *
parse_key(const char *p, struct authkey *out)
{
	const struct key_type *kt;
	const char *end, *why;

	end = token_end(p);
	if ((kt = find_type(p, (size_t)(end - p))) == NULL)
		return explain_first_token(p, (size_t)(end - p));
	snprintf(out->type, sizeof(out->type), "%s", kt->name);
	p = skip_space(end);
	for (end = p; !is_end(*end) && !is_space(*end); end++)
		;
	if ((why = decode_blob(p, (size_t)(end - p), out)) != NULL ||
	    (why = check_blob(kt, out->blob, out->bloblen)) != NULL ||
	    (why = set_comment(end, out)) != NULL)
		return why;
	authkey_fingerprint(out->blob, out->bloblen, out->fp, sizeof(out->fp));
	return NULL;
}

int
authkey_parse_line(const char *line, struct authkey *out, const char **why)
{
	const char *p;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	p = skip_space(line);
	if (is_end(*p) || *p == '#')
		return 1;
	if ((*why = parse_key(p, out)) != NULL) {
		authkey_free(out);
		return -1;
	}
	return 0;
}

void
authkey_free(struct authkey *k)
{
	free(k->blob);
	free(k->comment);
	memset(k, 0, sizeof(*k));
}

void
authkey_fingerprint(const uint8_t *blob, size_t len, char *out,
    size_t outsz)
{
	sshwire_fingerprint(blob, len, out, outsz);
}
