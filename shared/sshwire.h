/*
 * sshwire.h - small SSH wire-format helpers both processes link: base64,
 * SHA256 fingerprints in ssh-keygen's form, public key blobs.
 */
#ifndef CSSHD_SSHWIRE_H
#define CSSHD_SSHWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define ED25519_PUB_LEN		32
#define ED25519_SEED_LEN	32
#define ED25519_SIG_LEN		64
#define SSHWIRE_FP_LEN		64	/* room for "SHA256:" + 43 + NUL */

/* Strict base64 (RFC 4648, padding optional, no whitespace): 0 or -1. */
int b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outsz,
    size_t *outlen);
/* NUL-terminated base64 with padding; returns its length, or 0 if outsz is
 * too small. */
size_t b64_encode(const uint8_t *in, size_t n, char *out, size_t outsz);

/* "SHA256:<base64, no padding>" of blob, as ssh-keygen -l prints it. */
void sshwire_fingerprint(const uint8_t *blob, size_t n, char *out,
    size_t outsz);

/* The key type name at the start of a public key blob: 0 or -1. */
int sshwire_blob_type(const uint8_t *blob, size_t n, char *type,
    size_t typesz);

/* The gateway's own keys (host key, Studio login key) are Ed25519 by
 * construction, not a choice among the accepted types of keytypes.h. */
/* string "ssh-ed25519", string pub[32] */
void sshwire_put_ed25519_blob(struct buf *b, const uint8_t pub[32]);

/* If blob is a well-formed Ed25519 public key blob, copy the key: 0 or -1. */
int sshwire_ed25519_pub(const uint8_t *blob, size_t n, uint8_t pub[32]);

/* The version line and a plain-text SSH_MSG_DISCONNECT saying why. */
void sshwire_refusal(struct buf *pkt, const char *why);

#endif
