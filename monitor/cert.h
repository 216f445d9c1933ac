/*
 * cert.h - OpenSSH user certificates for the Studio login
 * (upstream_auth = "certificate").
 *
 * The worker makes a fresh Ed25519 key for each connection and sends its
 * public half with the route request; the monitor certifies it with the
 * gateway key as the CA: type user, one principal (the Studio's session
 * id), valid for CERT_LIFETIME seconds (from CERT_BACKDATE seconds ago,
 * for clock skew), extensions that follow the forwarding switches.  The
 * format is ssh-ed25519-cert-v01@openssh.com (OpenSSH's PROTOCOL.certkeys).
 * A Studio whose authorized_keys says
 *
 *	cert-authority,principals="<session>" ssh-ed25519 <gateway key>
 *
 * accepts such a certificate for that session only.
 */
#ifndef CSSHD_CERT_H
#define CSSHD_CERT_H

#include <stddef.h>
#include <stdint.h>

#define CERT_TYPE_NAME	"ssh-ed25519-cert-v01@openssh.com"
#define CERT_LIFETIME	300	/* seconds a certificate is valid */
#define CERT_BACKDATE	60	/* valid_after = now - this (clock skew) */
#define CERT_MAX_BLOB	2048	/* an Ed25519 certificate is ~ 400 bytes */
#define CERT_MAX_KEY_ID	512

/* Extensions (flags); never X11 or user-rc. */
#define CERT_EXT_PTY		0x1	/* permit-pty (always) */
#define CERT_EXT_PORT_FWD	0x2	/* permit-port-forwarding */
#define CERT_EXT_AGENT_FWD	0x4	/* permit-agent-forwarding */

struct cert_req {
	const uint8_t *key_blob;	/* the subject: an Ed25519 public key */
	size_t key_blob_len;
	uint64_t serial;
	const char *key_id;
	const char *principal;		/* exactly one */
	uint64_t valid_after;		/* seconds since the epoch */
	uint64_t valid_before;
	unsigned extensions;		/* CERT_EXT_* */
};

/* Sign data with the CA key (Ed25519): 0 or -1. */
typedef int (*cert_sign_fn)(void *ctx, const uint8_t *data, size_t len,
    uint8_t sig[64]);

/*
 * Build the certificate blob into out (outsz bytes; CERT_MAX_BLOB is
 * enough), signed with ca_blob's key by sign.  Refuses (-1) a subject that
 * is not exactly an Ed25519 public key blob, an empty principal or key id
 * and an empty or inverted validity.  The nonce is random.
 */
int cert_build(const struct cert_req *req, const uint8_t *ca_blob,
    size_t ca_blob_len, cert_sign_fn sign, void *sign_ctx, uint8_t *out,
    size_t outsz, size_t *outlen);

#endif
