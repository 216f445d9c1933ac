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
#include "keytypes.h"
#include "sshwire.h"

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

	if (keytype_find(p, n) != NULL)
		return 1;
	if (n == 0 || n >= sizeof(type))
		return 0;
	memcpy(type, p, n);
	type[n] = '\0';
	return refused_type(type) != NULL;
}

/* "unknown key type: expected ..." and the table's names. */
static const char *
unknown_type_message(void)
{
	static char msg[256];
	const struct keytype *kt;
	size_t i, len;

	if (msg[0] != '\0')
		return msg;
	len = (size_t)snprintf(msg, sizeof(msg), "unknown key type: "
	    "expected");
	for (i = 0; (kt = keytype_at(i)) != NULL && len < sizeof(msg); i++)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s %s",
		    i == 0 ? "" : keytype_at(i + 1) == NULL ? " or" : ",",
		    kt->name);
	return msg;
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
	return unknown_type_message();
}

/*
 * The whole blob, by the table's one check (keytypes.h): its inner type
 * the one named on the line, the type's fields, nothing after, and an RSA
 * key within the bounds.
 */
static const char *
check_blob(const struct keytype *kt, const uint8_t *blob, size_t n,
    unsigned rsa_min_bits)
{
	static char msg[256];
	struct keytype_key k;
	enum keytype_verdict v;
	char type[sizeof(((struct authkey *)0)->type)];

	if (sshwire_blob_type(blob, n, type, sizeof(type)) != 0)
		return "malformed key data: no key type inside";
	if (strcmp(type, kt->name) != 0)
		return "key data does not match the key type named on the line";
	if ((v = keytype_check_blob(blob, n, rsa_min_bits, &k)) == KEYTYPE_OK)
		return NULL;
	return keytype_explain(v, &k, rsa_min_bits, msg, sizeof(msg));
}

/* Decode the base64 field into a fresh blob. */
static const char *
decode_blob(const char *b64, size_t n, struct authkey *out)
{
	/* Base64 of AUTHKEY_MAX_BLOB bytes, with padding. */
	const size_t maxtext = (AUTHKEY_MAX_BLOB + 2) / 3 * 4;
	uint8_t *shrunk;

	if (n == 0)
		return "missing key data after the key type";
	if (n > maxtext)
		return "key data is too long";
	if ((out->blob = malloc(AUTHKEY_MAX_BLOB)) == NULL)
		return "out of memory";
	if (b64_decode(b64, n, out->blob, AUTHKEY_MAX_BLOB,
	    &out->bloblen) != 0)
		return "key data is not valid base64";
	/* Kept for as long as the configuration: no bigger than it is. */
	if (out->bloblen > 0 &&
	    (shrunk = realloc(out->blob, out->bloblen)) != NULL)
		out->blob = shrunk;
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
parse_key(const char *p, unsigned rsa_min_bits, struct authkey *out)
{
	const struct keytype *kt;
	const char *end, *why;

	end = token_end(p);
	if ((kt = keytype_find(p, (size_t)(end - p))) == NULL)
		return explain_first_token(p, (size_t)(end - p));
	snprintf(out->type, sizeof(out->type), "%s", kt->name);
	p = skip_space(end);
	for (end = p; !is_end(*end) && !is_space(*end); end++)
		;
	if ((why = decode_blob(p, (size_t)(end - p), out)) != NULL ||
	    (why = check_blob(kt, out->blob, out->bloblen,
	    rsa_min_bits)) != NULL ||
	    (why = set_comment(end, out)) != NULL)
		return why;
	authkey_fingerprint(out->blob, out->bloblen, out->fp, sizeof(out->fp));
	return NULL;
}

int
authkey_parse_line(const char *line, struct authkey *out, const char **why)
{
	return authkey_parse_line_min(line, KEYTYPE_RSA_MIN_BITS_DEFAULT, out,
	    why);
}

int
authkey_parse_line_min(const char *line, unsigned rsa_min_bits,
    struct authkey *out, const char **why)
{
	const char *p;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	p = skip_space(line);
	if (is_end(*p) || *p == '#')
		return 1;
	if ((*why = parse_key(p, rsa_min_bits, out)) != NULL) {
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
