/*
 * hostkey.c - the gateway key: load, check, sign.
 *
 * One Ed25519 key (ssh-keygen -t ed25519, OpenSSH format) is the gateway's
 * host key and its client key towards Studios.  It lives only here, in the
 * monitor.  Loading refuses, with a message that says what to do, a file
 * that others can read, an encrypted key, another key type, a corrupt key
 * (seed and public half disagree), or a key that does not match the
 * configured fingerprint pin.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "filecheck.h"
#include "log.h"
#include "monitor.h"
#include "sshwire.h"

#define KEYFILE_MAX	16384
#define PEM_BEGIN	"-----BEGIN OPENSSH PRIVATE KEY-----"
#define PEM_END		"-----END OPENSSH PRIVATE KEY-----"
#define OPENSSH_MAGIC	"openssh-key-v1"	/* followed by a NUL */

struct hostkey {
	EVP_PKEY *pkey;
	uint8_t blob[64];
	size_t bloblen;
	char fp[SSHWIRE_FP_LEN];
	char comment[256];
};

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* Read the whole file, after checking who else can read it. */
static int
read_key_file(const char *path, char *out, size_t outsz, size_t *outlen,
    char *err, size_t errsz)
{
	ssize_t n;
	size_t got = 0;
	char why[FILECHECK_ERR];
	int fd;

	/* StrictModes (filecheck.h): resolved once, opened without
	 * following a link, nobody else may have written it or its
	 * directories, and nobody else may read it. */
	if ((fd = filecheck_open(path, FILECHECK_PRIVATE, why,
	    sizeof(why))) == -2) {
		seterr(err, errsz, "%s: %s", path, why);
		return -1;
	}
	if (fd == -1) {
		seterr(err, errsz, "%s: cannot open key: %s (set key = or "
		    "CONNECT_SSH_KEY_PATH to the private key file)", path,
		    strerror(errno));
		return -1;
	}
	while (got < outsz - 1 &&
	    (n = read(fd, out + got, outsz - 1 - got)) > 0)
		got += (size_t)n;
	if (got >= outsz - 1) {
		seterr(err, errsz, "%s: too large for a private key", path);
		goto fail;
	}
	out[got] = '\0';
	*outlen = got;
	close(fd);
	return 0;
 fail:
	close(fd);
	return -1;
}

/* Strip the armour and whitespace, decode base64 into der. */
static int
dearmour(const char *path, char *text, uint8_t *der, size_t dersz,
    size_t *derlen, char *err, size_t errsz)
{
	char *begin, *end, *r, *w;

	if ((begin = strstr(text, PEM_BEGIN)) == NULL ||
	    (end = strstr(begin, PEM_END)) == NULL) {
		seterr(err, errsz, "%s: not an OpenSSH private key (expected "
		    "\"%s\"; generate one with ssh-keygen -t ed25519 -f %s)",
		    path, PEM_BEGIN, path);
		return -1;
	}
	begin += strlen(PEM_BEGIN);
	*end = '\0';
	for (r = w = begin; *r != '\0'; r++)
		if (*r != '\n' && *r != '\r' && *r != ' ' && *r != '\t')
			*w++ = *r;
	*w = '\0';
	if (b64_decode(begin, (size_t)(w - begin), der, dersz, derlen) != 0) {
		seterr(err, errsz, "%s: corrupt key: bad base64", path);
		return -1;
	}
	return 0;
}

/* The private section: checkints, one Ed25519 key, comment, padding. */
static int
parse_private(const char *path, struct cursor *c, struct hostkey *k,
    uint8_t seed[32], char *err, size_t errsz)
{
	const uint8_t *type, *pub, *priv, *comment;
	size_t typelen, publen, privlen, commentlen;
	uint32_t check1, check2;
	uint8_t pad, want = 1;

	cursor_get_u32(c, &check1);
	cursor_get_u32(c, &check2);
	cursor_get_string(c, &type, &typelen, 64);
	if (c->failed || check1 != check2) {
		seterr(err, errsz, "%s: corrupt key (check bytes differ)", path);
		return -1;
	}
	if (typelen != 11 || memcmp(type, "ssh-ed25519", 11) != 0) {
		seterr(err, errsz, "%s: key type is %.*s, connect-sshd needs "
		    "an Ed25519 key: ssh-keygen -t ed25519 -f %s", path,
		    (int)typelen, type, path);
		return -1;
	}
	cursor_get_string(c, &pub, &publen, 32);
	cursor_get_string(c, &priv, &privlen, 64);
	cursor_get_string(c, &comment, &commentlen, sizeof(k->comment) - 1);
	if (c->failed || publen != 32 || privlen != 64 ||
	    memcmp(priv + 32, pub, 32) != 0 ||
	    memcmp(k->blob + k->bloblen - 32, pub, 32) != 0) {
		seterr(err, errsz, "%s: corrupt Ed25519 key", path);
		return -1;
	}
	memcpy(seed, priv, 32);
	memcpy(k->comment, comment, commentlen);
	k->comment[commentlen] = '\0';
	/* Padding is 1, 2, 3, ... up to the cipher block size. */
	while (c->left > 0) {
		if (cursor_get_u8(c, &pad) != 0 || pad != want++) {
			seterr(err, errsz, "%s: corrupt key (bad padding)", path);
			return -1;
		}
	}
	return 0;
}

static int
parse_openssh_key(const char *path, const uint8_t *der, size_t derlen,
    struct hostkey *k, uint8_t seed[32], char *err, size_t errsz)
{
	const uint8_t *cipher, *kdf, *kdfopts, *blob, *priv;
	size_t cipherlen, kdflen, kdfoptslen, bloblen, privlen;
	struct cursor c, pc;
	char type[64];
	uint32_t nkeys;

	cursor_init(&c, der, derlen);
	if (cursor_get(&c, NULL, sizeof(OPENSSH_MAGIC)) != 0 ||
	    memcmp(der, OPENSSH_MAGIC, sizeof(OPENSSH_MAGIC)) != 0) {
		seterr(err, errsz, "%s: not an openssh-key-v1 key", path);
		return -1;
	}
	cursor_get_string(&c, &cipher, &cipherlen, 64);
	cursor_get_string(&c, &kdf, &kdflen, 64);
	cursor_get_string(&c, &kdfopts, &kdfoptslen, 1024);
	cursor_get_u32(&c, &nkeys);
	if (c.failed) {
		seterr(err, errsz, "%s: corrupt key header", path);
		return -1;
	}
	if (cipherlen != 4 || memcmp(cipher, "none", 4) != 0) {
		seterr(err, errsz, "%s: key is protected by a passphrase; "
		    "connect-sshd needs an unencrypted key file, protected by "
		    "its permissions instead (ssh-keygen -p -N '' -f %s)",
		    path, path);
		return -1;
	}
	if (nkeys != 1) {
		seterr(err, errsz, "%s: file holds %u keys, expected one",
		    path, nkeys);
		return -1;
	}
	cursor_get_string(&c, &blob, &bloblen, KEYFILE_MAX);
	cursor_get_string(&c, &priv, &privlen, KEYFILE_MAX);
	if (cursor_end(&c) != 0 ||
	    sshwire_blob_type(blob, bloblen, type, sizeof(type)) != 0) {
		seterr(err, errsz, "%s: corrupt key", path);
		return -1;
	}
	if (strcmp(type, "ssh-ed25519") != 0 || bloblen > sizeof(k->blob)) {
		seterr(err, errsz, "%s: key type is %s, connect-sshd needs "
		    "an Ed25519 key: ssh-keygen -t ed25519 -f %s", path, type,
		    path);
		return -1;
	}
	memcpy(k->blob, blob, bloblen);
	k->bloblen = bloblen;
	cursor_init(&pc, priv, privlen);
	return parse_private(path, &pc, k, seed, err, errsz);
}

/* Build the signing key and make sure the seed yields the public half. */
static int
make_pkey(const char *path, struct hostkey *k, const uint8_t seed[32],
    char *err, size_t errsz)
{
	uint8_t pub[32], derived[32];
	size_t dlen = sizeof(derived);

	if (sshwire_ed25519_pub(k->blob, k->bloblen, pub) != 0) {
		seterr(err, errsz, "%s: corrupt Ed25519 public key", path);
		return -1;
	}
	k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    32);
	if (k->pkey == NULL ||
	    EVP_PKEY_get_raw_public_key(k->pkey, derived, &dlen) != 1 ||
	    dlen != 32 || memcmp(derived, pub, 32) != 0) {
		seterr(err, errsz, "%s: corrupt key: the private half does "
		    "not match the public half", path);
		return -1;
	}
	return 0;
}

struct hostkey *
hostkey_load(const char *path, const char *pin, char *err, size_t errsz)
{
	struct hostkey *k;
	char *text = NULL;
	uint8_t *der = NULL, seed[32];
	size_t textlen = 0, derlen = 0;
	int ok = -1;

	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (text = malloc(KEYFILE_MAX)) == NULL ||
	    (der = malloc(KEYFILE_MAX)) == NULL) {
		seterr(err, errsz, "out of memory");
		goto out;
	}
	if (read_key_file(path, text, KEYFILE_MAX, &textlen, err, errsz) ||
	    dearmour(path, text, der, KEYFILE_MAX, &derlen, err, errsz) ||
	    parse_openssh_key(path, der, derlen, k, seed, err, errsz) ||
	    make_pkey(path, k, seed, err, errsz))
		goto out;
	sshwire_fingerprint(k->blob, k->bloblen, k->fp, sizeof(k->fp));
	if (pin != NULL && strcmp(pin, k->fp) != 0) {
		seterr(err, errsz, "%s: key fingerprint %s does not match "
		    "key_fingerprint %s in the configuration (check which key "
		    "is mounted, or update the pin)", path, k->fp, pin);
		goto out;
	}
	ok = 0;
 out:
	OPENSSL_cleanse(seed, sizeof(seed));
	if (text != NULL) {
		OPENSSL_cleanse(text, KEYFILE_MAX);
		free(text);
	}
	if (der != NULL) {
		OPENSSL_cleanse(der, KEYFILE_MAX);
		free(der);
	}
	if (ok != 0) {
		hostkey_free(k);
		return NULL;
	}
	return k;
}

void
hostkey_free(struct hostkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

const uint8_t *
hostkey_blob(const struct hostkey *k, size_t *len)
{
	*len = k->bloblen;
	return k->blob;
}

const char *
hostkey_fingerprint(const struct hostkey *k)
{
	return k->fp;
}

const char *
hostkey_comment(const struct hostkey *k)
{
	return k->comment;
}

int
hostkey_sign(const struct hostkey *k, const uint8_t *data, size_t len,
    uint8_t sig[64])
{
	EVP_MD_CTX *ctx;
	size_t siglen = 64;
	int rc = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, data, len) == 1 && siglen == 64)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	return rc;
}
