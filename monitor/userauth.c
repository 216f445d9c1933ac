/*
 * userauth.c - what a client signed, checked by the monitor itself.
 *
 * The worker forwards the signature and the signed data of a publickey
 * userauth request.  The monitor parses the data (RFC 4252, section 7, or
 * its publickey-hostbound-v00@openssh.com form, which ends with the server's
 * host key blob),
 * takes the key and the algorithm from it -- never from the worker's word --
 * and verifies the signature with its own OpenSSL, for a key and algorithm
 * the table of keytypes.h accepts only.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "buf.h"
#include "ipc.h"
#include "keytypes.h"
#include "monitor.h"
#include "sshwire.h"

#define SSH2_MSG_USERAUTH_REQUEST	50
#define METHOD_HOSTBOUND	"publickey-hostbound-v00@openssh.com"

int
userauth_parse(const uint8_t *data, size_t len, struct userauth_req *r,
    const char **why)
{
	struct cursor c;
	char service[32], method[sizeof(METHOD_HOSTBOUND) + 1];
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
	r->hostbound = strcmp(method, METHOD_HOSTBOUND) == 0;
	if (r->hostbound)
		cursor_get_string(&c, &r->server_key_blob,
		    &r->server_key_blob_len, KEYTYPE_HOSTKEY_MAX_BLOB);
	if (cursor_end(&c) != 0) {
		*why = "malformed userauth data";
		return -1;
	}
	if (msg != SSH2_MSG_USERAUTH_REQUEST ||
	    strcmp(service, "ssh-connection") != 0 ||
	    (strcmp(method, "publickey") != 0 && !r->hostbound) ||
	    has_sig != 1) {
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

/* The algorithms a key type, or a certificate over one, may sign with
 * (keytypes.h); SHA-1 "ssh-rsa" is not one of them. */
int
userauth_algo_ok(const char *algo, const uint8_t *blob, size_t len)
{
	return keytype_plain_sigalg(blob, len, algo) != NULL ? 0 : -1;
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
rsa_pkey(const struct keytype_key *k)
{
	BIGNUM *be = NULL, *bn = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;

	if ((be = BN_bin2bn(k->rsa_e, (int)k->rsa_elen, NULL)) == NULL ||
	    (bn = BN_bin2bn(k->rsa_n, (int)k->rsa_nlen, NULL)) == NULL ||
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
ecdsa_pkey(const struct keytype_key *k)
{
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;

	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return NULL;
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    k->kt->group, 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    k->pub, k->publen))
		pkey = pkey_from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* The key of a blob that passes the table's check, as OpenSSL's. */
static EVP_PKEY *
pkey_from_key(const struct keytype_key *k)
{
	switch (k->kt->kind) {
	case KEYTYPE_ED25519:
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		    k->pub, k->publen);
	case KEYTYPE_RSA:
		return rsa_pkey(k);
	case KEYTYPE_ECDSA:
		return ecdsa_pkey(k);
	default:
		return NULL;
	}
}

int
userauth_verify(const char *algo, const uint8_t *blob, size_t bloblen,
    const uint8_t *sig, size_t siglen, const uint8_t *data, size_t datalen,
    unsigned rsa_min_bits)
{
	const struct keytype_sigalg *sa;
	struct keytype_key k;
	EVP_PKEY *pkey;
	EVP_MD_CTX *ctx = NULL;
	const EVP_MD *md = NULL;
	int rc = -1;

	/* Nothing is computed for a key outside the table's bounds. */
	if (keytype_check_blob(blob, bloblen, rsa_min_bits, &k) !=
	    KEYTYPE_OK || (sa = keytype_sigalg(k.kt, algo)) == NULL)
		return -1;
	if (sa->digest != NULL && (md = EVP_get_digestbyname(sa->digest)) ==
	    NULL)
		return -1;
	if ((pkey = pkey_from_key(&k)) == NULL)
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
