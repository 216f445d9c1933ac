/*
 * provider.h - the worker's OpenSSL 3 provider ("csshd").
 *
 * libssh 0.10 (OpenSSL backend) builds an EVP_PKEY for every Ed25519
 * signature it makes or checks, through OpenSSL's default library context.
 * The worker registers a built-in provider and makes it preferred with the
 * default property query "?provider=csshd", so those operations land here:
 *
 *  - signing with the host key: the worker's host key is a stub whose
 *    32-byte "seed" is the public key; the provider never signs itself but
 *    hands the message (the exchange hash) to the sign hook, which asks the
 *    monitor (worker/mm.c);
 *  - verifying a signature: while a verify hook is set (the client leg's
 *    user authentication), the signature and signed data go to the hook, so
 *    the monitor checks them; with no hook (the Studio leg's host key)
 *    the provider verifies locally through OpenSSL's default provider.
 *
 * Key types served: Ed25519 (sign and verify), RSA and EC (verify only:
 * client keys).  Everything else, key exchange included, falls through to
 * the default provider because the property query is optional.
 */
#ifndef CSSHD_PROVIDER_H
#define CSSHD_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

/* Fill sig (up to *siglen bytes) with a signature over tbs; 0 or -1. */
typedef int (*csshd_sign_hook)(const uint8_t *tbs, size_t tbslen,
    uint8_t *sig, size_t *siglen);
/* 1 valid, 0 invalid, -1 error.  sig is in OpenSSL's form for the key
 * type (raw for Ed25519 and RSA, DER for ECDSA). */
typedef int (*csshd_verify_hook)(const uint8_t *sig, size_t siglen,
    const uint8_t *tbs, size_t tbslen);

/* Register and load the provider, load "default" too, set the default
 * property query.  Reads openssl.cnf: call before the sandbox.  0 or -1. */
int csshd_provider_init(void);
void csshd_provider_set_sign_hook(csshd_sign_hook fn);
/*
 * on: until called with 0, every fetch goes to OpenSSL's default
 * provider, which holds real private keys: for the worker's own Studio
 * login key (upstream_auth "certificate"), made and used only between
 * the two calls; nothing is delegated to the monitor meanwhile.  0 or -1.
 */
int csshd_provider_local(int on);
void csshd_provider_set_verify_hook(csshd_verify_hook fn);

#endif
