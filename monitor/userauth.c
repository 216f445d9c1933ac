/*
 * userauth.c - what a client signed, checked by the monitor itself.
 *
 * The worker forwards the signature and the signed data of a publickey
 * userauth request.  The monitor parses the data (RFC 4252, section 7),
 * takes the key and the algorithm from it -- never from the worker's word --
 * and verifies the signature with its own OpenSSL.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "buf.h"
#include "ipc.h"
#include "monitor.h"
#include "sshwire.h"

#define SSH2_MSG_USERAUTH_REQUEST	50
#define RSA_MIN_BITS			1024	/* as OpenSSH */

int
userauth_parse(const uint8_t *data, size_t len, struct userauth_req *r,
    const char **why)
{
	struct cursor c;
	char service[32], method[32];
	uint8_t msg, has_sig;

	memset(r, 0, sizeof(*r));
	cursor_init(&c, data, len);
	cursor_get_string(&c, &r->session_id, &r->session_id_len,
	    IPC_MAX_HASH);
	cursor_get_u8(&c, &msg);
	cursor_get_cstring(&c, r->user, sizeof(r->user));
	cursor_get_cstring(&c, service, sizeof(service));
	cursor_get_cstring(&c, method, sizeof(method));
	cursor_get_u8(&c, &has_sig);
	cursor_get_cstring(&c, r->algo, sizeof(r->algo));
	cursor_get_string(&c, &r->key_blob, &r->key_blob_len, IPC_MAX_BLOB);
	if (cursor_end(&c) != 0) {
		*why = "malformed userauth data";
		return -1;
	}
	if (msg != SSH2_MSG_USERAUTH_REQUEST ||
	    strcmp(service, "ssh-connection") != 0 ||
	    strcmp(method, "publickey") != 0 || has_sig != 1) {
		*why = "signed data is not a publickey userauth request";
		return -1;
	}
	return 0;
}

int
agent_parse(const uint8_t *msg, size_t len, struct agent_req *r,
    const char **why)
{
	struct cursor c;

	memset(r, 0, sizeof(*r));
	cursor_init(&c, msg, len);
	if (cursor_get_u8(&c, &r->type) != 0) {
		*why = "empty agent request";
		return -1;
	}
	if (r->type == AGENTC_REQUEST_IDENTITIES) {
		if (cursor_end(&c) != 0) {
			*why = "malformed identities request";
			return -1;
		}
		return 0;
	}
	if (r->type != AGENTC_SIGN_REQUEST) {
		*why = "request type not permitted";
		return -1;
	}
	cursor_get_string(&c, &r->key_blob, &r->key_blob_len, IPC_MAX_BLOB);
	cursor_get_string(&c, &r->data, &r->data_len, IPC_MAX_SIGNED);
	cursor_get_u32(&c, &r->flags);
	if (cursor_end(&c) != 0) {
		*why = "malformed sign request";
		return -1;
	}
	return userauth_parse(r->data, r->data_len, &r->ua, why);
}

/* The algorithms a key type may sign with; SHA-1 "ssh-rsa" is refused. */
int
userauth_algo_ok(const char *algo, const uint8_t *blob, size_t len)
{
	char type[64];

	if (sshwire_blob_type(blob, len, type, sizeof(type)) != 0)
		return -1;
	if (strcmp(type, "ssh-rsa") == 0)
		return (strcmp(algo, "rsa-sha2-256") == 0 ||
		    strcmp(algo, "rsa-sha2-512") == 0) ? 0 : -1;
	if (strcmp(type, "ssh-ed25519") == 0 ||
	    strncmp(type, "ecdsa-sha2-nistp", 16) == 0)
		return strcmp(algo, type) == 0 ? 0 : -1;
	return -1;
}

static EVP_PKEY *
pkey_from_params(const char *name, OSSL_PARAM_BLD *bld)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM *params = NULL;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static EVP_PKEY *
rsa_pkey(struct cursor *c)
{
	const uint8_t *e, *n;
	size_t elen, nlen;
	BIGNUM *be = NULL, *bn = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;

	cursor_get_string(c, &e, &elen, 16);
	cursor_get_string(c, &n, &nlen, 2048);
	if (cursor_end(c) != 0 || elen == 0 || nlen == 0)
		return NULL;
	if ((be = BN_bin2bn(e, (int)elen, NULL)) == NULL ||
	    (bn = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
	    BN_num_bits(bn) < RSA_MIN_BITS ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		goto out;
	pkey = pkey_from_params("RSA", bld);
 out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(be);
	BN_free(bn);
	return pkey;
}

static EVP_PKEY *
ecdsa_pkey(struct cursor *c, const char *type)
{
	static const struct {
		const char *curve, *group;
	} curves[] = {
		{ "nistp256", "P-256" },
		{ "nistp384", "P-384" },
		{ "nistp521", "P-521" },
	};
	char curve[16];
	const uint8_t *q;
	size_t qlen, i;
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;

	cursor_get_cstring(c, curve, sizeof(curve));
	cursor_get_string(c, &q, &qlen, 256);
	if (cursor_end(c) != 0 || strcmp(type + 11, curve) != 0)
		return NULL;
	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(curve, curves[i].curve) == 0)
			break;
	if (i == sizeof(curves) / sizeof(curves[0]) ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL)
		return NULL;
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    curves[i].group, 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    q, qlen))
		pkey = pkey_from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static EVP_PKEY *
pkey_from_blob(const uint8_t *blob, size_t len, const EVP_MD **md,
    const char *algo)
{
	uint8_t pub[ED25519_PUB_LEN];
	char type[64];
	struct cursor c;

	*md = NULL;
	if (sshwire_blob_type(blob, len, type, sizeof(type)) != 0)
		return NULL;
	if (strcmp(type, "ssh-ed25519") == 0) {
		if (sshwire_ed25519_pub(blob, len, pub) != 0)
			return NULL;
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		    pub, sizeof(pub));
	}
	cursor_init(&c, blob, len);
	cursor_get_cstring(&c, type, sizeof(type));
	if (strcmp(type, "ssh-rsa") == 0) {
		*md = strcmp(algo, "rsa-sha2-512") == 0 ? EVP_sha512() :
		    EVP_sha256();
		return rsa_pkey(&c);
	}
	if (strncmp(type, "ecdsa-sha2-", 11) == 0) {
		*md = strcmp(type, "ecdsa-sha2-nistp256") == 0 ? EVP_sha256() :
		    strcmp(type, "ecdsa-sha2-nistp384") == 0 ? EVP_sha384() :
		    EVP_sha512();
		return ecdsa_pkey(&c, type);
	}
	return NULL;
}

int
userauth_verify(const char *algo, const uint8_t *blob, size_t bloblen,
    const uint8_t *sig, size_t siglen, const uint8_t *data, size_t datalen)
{
	EVP_PKEY *pkey;
	EVP_MD_CTX *ctx = NULL;
	const EVP_MD *md;
	int rc = -1;

	if (userauth_algo_ok(algo, blob, bloblen) != 0 ||
	    (pkey = pkey_from_blob(blob, bloblen, &md, algo)) == NULL)
		return -1;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) != 1)
		goto out;
	rc = EVP_DigestVerify(ctx, sig, siglen, data, datalen) == 1 ? 1 : 0;
 out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return rc;
}
