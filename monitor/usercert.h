/*
 * usercert.h - OpenSSH user certificates offered by clients, parsed and
 * checked by the monitor (trusted_user_ca_keys, connect-sshd.conf(5)).
 *
 * A client may log in as <user>@<session> with a certificate
 * (PROTOCOL.certkeys: ssh-ed25519-cert-v01@openssh.com, ssh-rsa-cert-v01
 * with rsa-sha2-256/512, ecdsa-sha2-nistp*-cert-v01) when all of these
 * hold:
 *
 *  - the blob parses whole: every field its type has, nothing after, the
 *    certified key passes keytype_check_blob() (keytypes.h) as a plain
 *    key would;
 *  - it is a user certificate (type 1);
 *  - its signature key is one of the trusted CA keys, byte for byte (a
 *    certificate is never a CA key: the list holds plain keys only), and
 *    the CA's signature over the certificate verifies, with an algorithm
 *    the CA key's type may sign with (keytypes.h: no SHA-1);
 *  - valid_after <= now < valid_before;
 *  - one of its principals is <user> exactly (an empty list names nobody);
 *  - its critical options are only source-address, whose list holds the
 *    client's address (the PROXY protocol's, behind a balancer); any other
 *    (force-command: the gateway runs no commands itself) refuses it.
 *
 * The user's own signature is then verified with the certified key.
 * Extensions are reported (USERCERT_EXT_*) for the route to narrow the
 * forwarding switches.
 */
#ifndef CSSHD_USERCERT_H
#define CSSHD_USERCERT_H

#include <stddef.h>
#include <stdint.h>

#include "keytypes.h"
#include "sshwire.h"

#define USERCERT_MAX_KEY_ID	256	/* longer key ids are refused */
#define USERCERT_TYPE_USER	1

#define USERCERT_EXT_PTY	0x1	/* permit-pty */
#define USERCERT_EXT_PORT_FWD	0x2	/* permit-port-forwarding */
#define USERCERT_EXT_AGENT_FWD	0x4	/* permit-agent-forwarding */
#define USERCERT_EXT_X11_FWD	0x8	/* permit-X11-forwarding */
#define USERCERT_EXT_USER_RC	0x10	/* permit-user-rc */

enum usercert_verdict {
	USERCERT_OK = 0,
	USERCERT_MALFORMED,		/* cert-malformed */
	USERCERT_NOT_USER,		/* cert-not-user: a host certificate */
	USERCERT_UNTRUSTED_CA,		/* cert-untrusted-ca */
	USERCERT_BAD_SIGNATURE,		/* cert-bad-signature: the CA's */
	USERCERT_NOT_YET_VALID,		/* cert-not-yet-valid */
	USERCERT_EXPIRED,		/* cert-expired */
	USERCERT_PRINCIPAL,		/* cert-principal */
	USERCERT_SOURCE_ADDRESS,	/* cert-source-address */
	USERCERT_CRITICAL_OPTION,	/* cert-critical-option */
	USERCERT_VERDICT_MAX
};

/* A parsed certificate; pointers are into the blob it was parsed from. */
struct usercert {
	const struct keytype_cert *ct;
	uint8_t key_blob[KEYTYPE_MAX_BLOB];	/* the certified plain key */
	size_t key_blob_len;
	uint64_t serial;
	uint32_t type;
	char key_id[USERCERT_MAX_KEY_ID + 1];
	const uint8_t *principals, *critical, *extensions;
	size_t principals_len, critical_len, extensions_len;
	uint64_t valid_after, valid_before;
	const uint8_t *ca_blob;			/* the signature key */
	size_t ca_blob_len;
	const uint8_t *signed_part;		/* all before the signature */
	size_t signed_len;
	const uint8_t *sig;			/* string algo, string sig */
	size_t sig_len;
	unsigned ext;				/* USERCERT_EXT_* */
	char key_fp[SSHWIRE_FP_LEN];		/* the certified key's */
	char ca_fp[SSHWIRE_FP_LEN];		/* the CA key's */
};

/* A trusted CA key: a plain public key blob. */
struct usercert_ca {
	const uint8_t *blob;
	size_t len;
};

/*
 * Parse blob (a certificate type of keytypes.h) into *uc: 0, or -1 with
 * *why set (a static message).  Checks the form only: nothing is trusted
 * yet.  rsa_min_bits bounds the certified key, as for a plain key.
 */
int usercert_parse(const uint8_t *blob, size_t len, unsigned rsa_min_bits,
    struct usercert *uc, const char **why);

/*
 * Everything but the user's signature, in the order of usercert.h's list
 * (the CA signature last, so that a certificate refused for its fields
 * costs no arithmetic).  peer_ip is the client's address as text
 * ("127.0.0.1", "::1"); now is seconds since the epoch.  why (whysz
 * bytes) says what was wrong, for the log.
 */
enum usercert_verdict usercert_check(const struct usercert *uc,
    const char *user, const char *peer_ip, uint64_t now,
    const struct usercert_ca *cas, size_t ncas, unsigned rsa_min_bits,
    char *why, size_t whysz);

/* The audit reason ("cert-expired", ...). */
const char *usercert_reason(enum usercert_verdict v);

/* The address part of a peer as the monitor formats it ("1.2.3.4:5",
 * "[::1]:5") into out: 0 or -1. */
int usercert_peer_ip(const char *peer, char *out, size_t outsz);

#endif
