/*
 * cert.c - build an OpenSSH user certificate for the Studio login; see
 * cert.h.  The layout, field by field, is PROTOCOL.certkeys':
 *
 *	string	"ssh-ed25519-cert-v01@openssh.com"
 *	string	nonce (32 random bytes)
 *	string	pk (the subject's 32-byte Ed25519 key)
 *	uint64	serial
 *	uint32	type (1: user)
 *	string	key id
 *	string	valid principals (strings)
 *	uint64	valid after
 *	uint64	valid before
 *	string	critical options (none)
 *	string	extensions (name, empty data; sorted by name)
 *	string	reserved (empty)
 *	string	signature key (the CA's public key blob)
 *	string	signature (string "ssh-ed25519", string sig) over all above
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "buf.h"
#include "cert.h"
#include "sshwire.h"

#define SSH_CERT_TYPE_USER	1
#define CERT_NONCE_LEN		32

/* The extensions, in the lexical order OpenSSH requires. */
static const struct {
	unsigned flag;
	const char *name;
} extensions[] = {
	{ CERT_EXT_AGENT_FWD, "permit-agent-forwarding" },
	{ CERT_EXT_PORT_FWD, "permit-port-forwarding" },
	{ CERT_EXT_PTY, "permit-pty" },
};

int
cert_build(const struct cert_req *req, const uint8_t *ca_blob,
    size_t ca_blob_len, cert_sign_fn sign, void *sign_ctx, uint8_t *out,
    size_t outsz, size_t *outlen)
{
	uint8_t pub[ED25519_PUB_LEN], ca_pub[ED25519_PUB_LEN];
	uint8_t nonce[CERT_NONCE_LEN], sig[ED25519_SIG_LEN];
	struct buf b, sub, sigblob;
	size_t i;
	int rc = -1;

	if (sshwire_ed25519_pub(req->key_blob, req->key_blob_len, pub) != 0 ||
	    sshwire_ed25519_pub(ca_blob, ca_blob_len, ca_pub) != 0 ||
	    req->key_id == NULL || req->key_id[0] == '\0' ||
	    strlen(req->key_id) > CERT_MAX_KEY_ID ||
	    req->principal == NULL || req->principal[0] == '\0' ||
	    req->valid_after >= req->valid_before ||
	    RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -1;
	buf_init(&b, CERT_MAX_BLOB);
	buf_init(&sub, CERT_MAX_BLOB);
	buf_init(&sigblob, 128);
	buf_put_cstring(&b, CERT_TYPE_NAME);
	buf_put_string(&b, nonce, sizeof(nonce));
	buf_put_string(&b, pub, sizeof(pub));
	buf_put_u64(&b, req->serial);
	buf_put_u32(&b, SSH_CERT_TYPE_USER);
	buf_put_cstring(&b, req->key_id);
	buf_put_cstring(&sub, req->principal);
	buf_put_string(&b, sub.data, sub.len);
	buf_put_u64(&b, req->valid_after);
	buf_put_u64(&b, req->valid_before);
	buf_put_string(&b, NULL, 0);		/* critical options: none */
	buf_reset(&sub);
	for (i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++) {
		if (!(req->extensions & extensions[i].flag))
			continue;
		buf_put_cstring(&sub, extensions[i].name);
		buf_put_string(&sub, NULL, 0);
	}
	buf_put_string(&b, sub.data, sub.len);
	buf_put_string(&b, NULL, 0);		/* reserved */
	buf_put_string(&b, ca_blob, ca_blob_len);
	if (buf_ok(&b) != 0 || buf_ok(&sub) != 0 ||
	    sign(sign_ctx, b.data, b.len, sig) != 0)
		goto out;
	buf_put_cstring(&sigblob, "ssh-ed25519");
	buf_put_string(&sigblob, sig, sizeof(sig));
	buf_put_string(&b, sigblob.data, sigblob.len);
	if (buf_ok(&b) != 0 || buf_ok(&sigblob) != 0 || b.len > outsz)
		goto out;
	memcpy(out, b.data, b.len);
	*outlen = b.len;
	rc = 0;
 out:
	buf_free(&b);
	buf_free(&sub);
	buf_free(&sigblob);
	OPENSSL_cleanse(nonce, sizeof(nonce));
	return rc;
}
