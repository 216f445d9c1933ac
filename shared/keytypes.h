/*
 * keytypes.h - the client key types the gateway accepts: one table, and
 * the one check of a public key blob against it.
 *
 * Linked by the key parser (policy/authkeys.c: configuration, keys files,
 * the Redis registry, connect-sshctl), by the monitor before it verifies
 * a client's signature (monitor/userauth.c, monitor/dispatch.c) and by the
 * worker before it sends a key to the monitor (worker/mm.c,
 * worker/session.c).  What a key type may sign with, and with which
 * digest, is said here and nowhere else.
 *
 * RSA keys are bounded, wherever they come from:
 *
 *  - the modulus has from rsa_min_bits (limits.rsa_min_bits: default
 *    KEYTYPE_RSA_MIN_BITS_DEFAULT, at least KEYTYPE_RSA_MIN_BITS_LOWEST)
 *    to KEYTYPE_RSA_MAX_BITS bits, and is odd;
 *  - the public exponent e is odd and 3 <= e < 2^32.  e = 1 makes every
 *    padded message its own signature (a forgery without the private
 *    key); an even e is no RSA key; and a large e costs the verifier
 *    time for nothing (OpenSSH's own keys use 65537).
 *
 * With those bounds an RSA check costs the monitor a small multiple of an
 * Ed25519 one, whoever sends the key.
 */
#ifndef CSSHD_KEYTYPES_H
#define CSSHD_KEYTYPES_H

#include <stddef.h>
#include <stdint.h>

#define KEYTYPE_RSA_MIN_BITS_DEFAULT	2048
#define KEYTYPE_RSA_MIN_BITS_LOWEST	1024	/* the least rsa_min_bits */
#define KEYTYPE_RSA_MAX_BITS		8192
#define KEYTYPE_RSA_MIN_E		3
#define KEYTYPE_RSA_E_MAX_BITS		32	/* e < 2^32 */
/*
 * The largest blob of a key within the bounds: an 8192-bit RSA key,
 * string "ssh-rsa" (4 + 7), mpint e (4 + at most 5), mpint n (4 + 1 +
 * 1024).  Every accepted key's blob fits in IPC_MAX_BLOB.
 */
#define KEYTYPE_MAX_BLOB	(4 + 7 + 4 + 5 + 4 + 1 + \
				 KEYTYPE_RSA_MAX_BITS / 8)

enum keytype_kind {
	KEYTYPE_ED25519 = 1,
	KEYTYPE_RSA,
	KEYTYPE_ECDSA,
};

/* A signature algorithm a key type may log in with. */
struct keytype_sigalg {
	const char *name;	/* as in the userauth request */
	const char *digest;	/* OpenSSL's digest name; NULL: none */
};

#define KEYTYPE_MAX_SIGALGS	2

struct keytype {
	const char *name;	/* the key type, as in a blob and a line */
	enum keytype_kind kind;
	const char *curve;	/* ECDSA: the curve name inside the blob */
	const char *group;	/* ECDSA: OpenSSL's name of the curve */
	size_t pointlen;	/* ECDSA: length of the uncompressed point */
	/* The signature algorithms it may use; no SHA-1 "ssh-rsa". */
	struct keytype_sigalg sigalgs[KEYTYPE_MAX_SIGALGS];
};

/* The table, in order; i from 0 until NULL. */
const struct keytype *keytype_at(size_t i);
/* The entry named s[0..n), or NULL: a type the gateway does not take. */
const struct keytype *keytype_find(const char *s, size_t n);
/* The entry for a blob's type (its first string), or NULL. */
const struct keytype *keytype_of_blob(const uint8_t *blob, size_t len);
/* The signature algorithm algo if kt may use it, else NULL. */
const struct keytype_sigalg *keytype_sigalg(const struct keytype *kt,
    const char *algo);

/*
 * OpenSSH certificate types (PROTOCOL.certkeys) over the key types above:
 * the certificate's type name, the plain type of the key it certifies,
 * and the userauth signature algorithms a client names when it signs with
 * such a certificate (the signature itself is the plain key's).
 */
struct keytype_cert {
	const char *name;		/* "ssh-ed25519-cert-v01@openssh.com" */
	const char *plain;		/* "ssh-ed25519" */
	/* cert algorithm name -> the plain key's signature algorithm */
	struct { const char *name, *plain; } sigalgs[KEYTYPE_MAX_SIGALGS];
};

/* The certificate type named s[0..n), or NULL. */
const struct keytype_cert *keytype_cert_find(const char *s, size_t n);
/* The certificate type of a blob (its first string), or NULL. */
const struct keytype_cert *keytype_cert_of_blob(const uint8_t *blob,
    size_t len);
/*
 * The plain signature algorithm a client's algo stands for with the key
 * blob: algo itself for a plain key that may sign with it, the plain
 * key's algorithm for a certificate algorithm of the blob's certificate
 * type ("rsa-sha2-512-cert-v01@openssh.com" -> "rsa-sha2-512"), NULL
 * for anything else.
 */
const char *keytype_plain_sigalg(const uint8_t *blob, size_t len,
    const char *algo);

enum keytype_verdict {
	KEYTYPE_OK = 0,
	KEYTYPE_UNKNOWN,	/* no type inside, or one not in the table */
	KEYTYPE_MALFORMED,	/* not a well-formed key of its type */
	KEYTYPE_RSA_TOO_SMALL,	/* modulus under rsa_min_bits */
	KEYTYPE_RSA_TOO_LARGE,	/* modulus over KEYTYPE_RSA_MAX_BITS */
	KEYTYPE_RSA_BAD_EXPONENT,	/* e even, under 3, or 2^32 or more */
};

/* What keytype_check_blob() found; pointers are into the blob. */
struct keytype_key {
	const struct keytype *kt;	/* NULL with KEYTYPE_UNKNOWN */
	const char *detail;		/* KEYTYPE_MALFORMED: what is wrong */
	unsigned rsa_bits;		/* RSA: bits of the modulus */
	unsigned rsa_e_bits;		/* RSA: bits of e */
	const uint8_t *rsa_e, *rsa_n;	/* RSA: big-endian, no sign byte */
	size_t rsa_elen, rsa_nlen;
	const uint8_t *pub;		/* Ed25519: 32 bytes; ECDSA: point */
	size_t publen;
};

/*
 * Check a whole public key blob: a type in the table, every field of that
 * type well formed (mpints positive and minimally encoded, the ECDSA
 * curve the type's, an uncompressed point of the curve's size), nothing
 * after, and an RSA key within the bounds above, with rsa_min_bits as the
 * modulus's minimum (a value under KEYTYPE_RSA_MIN_BITS_LOWEST counts as
 * that).  Fills *k (may be NULL) as far as it got.
 */
enum keytype_verdict keytype_check_blob(const uint8_t *blob, size_t len,
    unsigned rsa_min_bits, struct keytype_key *k);

/* The reason an auth.denied audit record gives for a refused key:
 * "key-too-weak" for an RSA modulus under the minimum, "bad-key" for
 * the rest; NULL for KEYTYPE_OK. */
const char *keytype_reason(enum keytype_verdict v);

/*
 * A sentence that says what is wrong and what to do, such as "ssh-rsa key
 * of 1024 bits is too small: the minimum is 2048 bits (limits.rsa_min_bits);
 * use ssh-ed25519 or a 3072-bit RSA key", into buf; returns buf.
 */
const char *keytype_explain(enum keytype_verdict v,
    const struct keytype_key *k, unsigned rsa_min_bits, char *buf,
    size_t bufsz);

#endif
