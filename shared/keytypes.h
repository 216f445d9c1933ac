/*
 * keytypes.h - the key types the gateway accepts: one table (names,
 * curves, sizes, digests, RSA bounds), and the one check of a public key
 * blob against it.
 *
 * Linked by the key parser (policy/authkeys.c: configuration, keys files,
 * the Redis registry, connect-sshctl), by the monitor before it verifies
 * a client's signature or certificate (monitor/userauth.c,
 * monitor/dispatch.c, monitor/usercert.c) and by the worker: before it
 * sends a client's key to the monitor (worker/session.c), for the host
 * key algorithms it offers a Studio (worker/session.c), and in its
 * OpenSSL provider, which holds every public key libssh imports there
 * (worker/provider.c).  What a key type may sign with, and with which
 * digest, is said here and nowhere else.
 *
 * Not in the table: the gateway's own keys.  Its host key, its agent
 * signature and the Studio login key are Ed25519 by construction
 * (monitor/hostkey.c, monitor/agent.c, monitor/cert.c, sshwire.h's
 * ED25519_*), not a choice among accepted types.
 *
 * RSA keys are bounded, wherever they come from, by what they are for
 * (enum keytype_use, keytype_rsa_bounds()):
 *
 *  - a client's key (KEYTYPE_USE_CLIENT), which the monitor verifies for
 *    whoever connects: the modulus has from rsa_min_bits
 *    (limits.rsa_min_bits: default KEYTYPE_RSA_MIN_BITS_DEFAULT, at least
 *    KEYTYPE_RSA_MIN_BITS_LOWEST) to KEYTYPE_RSA_MAX_BITS bits, and is
 *    odd; the public exponent e is odd and 3 <= e < 2^32.  e = 1 makes
 *    every padded message its own signature (a forgery without the
 *    private key); an even e is no RSA key; and a large e costs the
 *    verifier time for nothing (OpenSSH's own keys use 65537).  With
 *    those bounds an RSA check costs the monitor a small multiple of an
 *    Ed25519 one, whoever sends the key;
 *  - a Studio's host key (KEYTYPE_USE_HOSTKEY), which the worker verifies
 *    itself (worker/provider.c), on purpose looser: Studio host keys may
 *    be big.  The modulus has from KEYTYPE_HOSTKEY_RSA_MIN_BITS to
 *    KEYTYPE_HOSTKEY_RSA_MAX_BITS bits and is odd; e is odd and
 *    3 <= e < 2^KEYTYPE_HOSTKEY_RSA_E_MAX_BITS.  The provider holds every
 *    key to these, a client's too: it cannot tell them apart, and a
 *    client's key meets the client bounds in the monitor.
 */
#ifndef CSSHD_KEYTYPES_H
#define CSSHD_KEYTYPES_H

#include <stddef.h>
#include <stdint.h>

/* Client keys (KEYTYPE_USE_CLIENT). */
#define KEYTYPE_RSA_MIN_BITS_DEFAULT	2048
#define KEYTYPE_RSA_MIN_BITS_LOWEST	1024	/* the least rsa_min_bits */
#define KEYTYPE_RSA_MAX_BITS		8192
#define KEYTYPE_RSA_MIN_E		3	/* for every use */
#define KEYTYPE_RSA_E_MAX_BITS		32	/* e < 2^32 */
/* Studio host keys (KEYTYPE_USE_HOSTKEY).  OpenSSH refuses RSA keys
 * under 1024 bits; 16384 is OpenSSL's own ceiling
 * (OPENSSL_RSA_MAX_MODULUS_BITS). */
#define KEYTYPE_HOSTKEY_RSA_MIN_BITS	KEYTYPE_RSA_MIN_BITS_LOWEST
#define KEYTYPE_HOSTKEY_RSA_MAX_BITS	16384
#define KEYTYPE_HOSTKEY_RSA_E_MAX_BITS	64	/* e < 2^64 */
/* The largest RSA signature of any use: a modulus's bytes. */
#define KEYTYPE_RSA_SIG_MAX		(KEYTYPE_HOSTKEY_RSA_MAX_BITS / 8)
/*
 * The largest blob of a key within the bounds: an 8192-bit RSA key,
 * string "ssh-rsa" (4 + 7), mpint e (4 + at most 5), mpint n (4 + 1 +
 * 1024).  Every accepted key's blob fits in IPC_MAX_BLOB.
 */
#define KEYTYPE_MAX_BLOB	(4 + 7 + 4 + 5 + 4 + 1 + \
				 KEYTYPE_RSA_MAX_BITS / 8)
/*
 * The largest blob of a Studio host key within its bounds: a 16384-bit
 * RSA key, string "ssh-rsa" (4 + 7), mpint e (4 + at most 9), mpint n
 * (4 + 1 + 2048): over IPC_MAX_BLOB, so host key blobs have their own
 * buffers and bounds.
 */
#define KEYTYPE_HOSTKEY_MAX_BLOB	(4 + 7 + 4 + 1 + \
				 KEYTYPE_HOSTKEY_RSA_E_MAX_BITS / 8 + 4 + 1 + \
				 KEYTYPE_HOSTKEY_RSA_MAX_BITS / 8)

enum keytype_kind {
	KEYTYPE_ED25519 = 1,
	KEYTYPE_RSA,
	KEYTYPE_ECDSA,
};

/* A signature algorithm a key type may log in with. */
struct keytype_sigalg {
	const char *name;	/* as in the userauth request */
	const char *digest;	/* OpenSSL's digest name; NULL: none */
	/* Where the worker offers it as a Studio host key algorithm: 1
	 * first (keytype_hostkey_algorithms()). */
	unsigned hostkey_pref;
};

#define KEYTYPE_MAX_SIGALGS	2

struct keytype {
	const char *name;	/* the key type, as in a blob and a line */
	enum keytype_kind kind;
	const char *curve;	/* ECDSA: the curve name inside the blob */
	const char *group;	/* ECDSA: OpenSSL's (NIST) name of the curve */
	/* The public key's length: Ed25519's 32 bytes, or ECDSA's
	 * uncompressed point (0x04, x, y); RSA: 0, it varies. */
	size_t publen;
	/*
	 * What the worker's provider answers for such a key
	 * (EVP_PKEY_bits, _security_bits, _size); RSA: 0, they follow from
	 * the modulus (keytype_rsa_security_bits()).  bits: the group
	 * order's size (Ed25519: 253, where OpenSSL's default provider says
	 * 256).  sig_max: room for any signature as OpenSSL encodes it:
	 * Ed25519's 64 bytes; for ECDSA a DER SEQUENCE of two INTEGERs of
	 * the order's size and a sign byte each, which is at least
	 * ECDSA_size() (P-521: 141, ECDSA_size() 139).
	 */
	unsigned bits;
	unsigned security_bits;
	size_t sig_max;
	/* The signature algorithms it may use; no SHA-1 "ssh-rsa". */
	struct keytype_sigalg sigalgs[KEYTYPE_MAX_SIGALGS];
};

/* The largest of the table's publen (P-521's point) and of its sig_max
 * (P-521's DER signature); test_keytypes holds them to the table. */
#define KEYTYPE_PUB_MAX		133
#define KEYTYPE_ECDSA_SIG_MAX	141

/* The table, in order; i from 0 until NULL. */
const struct keytype *keytype_at(size_t i);
/* The entry named s[0..n), or NULL: a type the gateway does not take. */
const struct keytype *keytype_find(const char *s, size_t n);
/* The entry for a blob's type (its first string), or NULL. */
const struct keytype *keytype_of_blob(const uint8_t *blob, size_t len);
/* The signature algorithm algo if kt may use it, else NULL. */
const struct keytype_sigalg *keytype_sigalg(const struct keytype *kt,
    const char *algo);
/* The first entry of a kind (the only one for Ed25519 and RSA), or
 * NULL. */
const struct keytype *keytype_of_kind(enum keytype_kind kind);
/* The ECDSA entry whose OpenSSL group name is group, or NULL. */
const struct keytype *keytype_of_group(const char *group);
/*
 * The table's spelling of digest (OpenSSL's canonical name, "SHA256") if
 * a signature algorithm of some key type of this kind hashes with it,
 * else NULL (always NULL for Ed25519, which hashes internally).
 */
const char *keytype_kind_digest(enum keytype_kind kind, const char *digest);
/*
 * The Studio host key algorithms the worker offers, comma-separated, in
 * the order of the table's hostkey_pref ("ssh-ed25519,ecdsa-sha2-nistp256,
 * ...,rsa-sha2-512,rsa-sha2-256"), into buf: 0, or -1 if it does not fit.
 */
int keytype_hostkey_algorithms(char *buf, size_t bufsz);

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
	KEYTYPE_RSA_TOO_SMALL,	/* modulus under the bound's min_bits */
	KEYTYPE_RSA_TOO_LARGE,	/* modulus over the bound's max_bits */
	KEYTYPE_RSA_BAD_EXPONENT,	/* e even, under 3, or over the bound */
};

/* What a key is for; see the RSA bounds above. */
enum keytype_use {
	KEYTYPE_USE_CLIENT = 0,	/* a client's login key or user CA key */
	KEYTYPE_USE_HOSTKEY,	/* a Studio's host key */
};

struct keytype_rsa_bounds {
	unsigned min_bits;	/* the modulus: min_bits <= bits <= max_bits */
	unsigned max_bits;
	unsigned e_max_bits;	/* KEYTYPE_RSA_MIN_E <= e < 2^e_max_bits */
};

/*
 * The RSA bounds for a use.  rsa_min_bits (limits.rsa_min_bits; a value
 * under KEYTYPE_RSA_MIN_BITS_LOWEST counts as that) is the client
 * minimum; a host key's is KEYTYPE_HOSTKEY_RSA_MIN_BITS whatever it says.
 */
struct keytype_rsa_bounds keytype_rsa_bounds(enum keytype_use use,
    unsigned rsa_min_bits);
/*
 * Hold an RSA key to bounds b: n_bits the modulus's size, n_odd whether
 * it is odd, e[0..elen) the exponent, big-endian (leading zero bytes
 * allowed).  KEYTYPE_OK, KEYTYPE_MALFORMED (an even modulus), or one of
 * the KEYTYPE_RSA_* refusals.
 */
enum keytype_verdict keytype_rsa_check(const struct keytype_rsa_bounds *b,
    unsigned n_bits, int n_odd, const uint8_t *e, size_t elen);
/* The security strength of an RSA modulus of bits bits, NIST SP 800-57
 * part 1 table 2 (as OpenSSL reports it, for the worker's provider). */
unsigned keytype_rsa_security_bits(unsigned bits);

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
 * after, and an RSA key within the client bounds above, with rsa_min_bits
 * as the modulus's minimum (a value under KEYTYPE_RSA_MIN_BITS_LOWEST
 * counts as that).  Fills *k (may be NULL) as far as it got.
 */
enum keytype_verdict keytype_check_blob(const uint8_t *blob, size_t len,
    unsigned rsa_min_bits, struct keytype_key *k);
/* The same, with the RSA bounds of use (keytype_rsa_bounds()). */
enum keytype_verdict keytype_check_blob_for(enum keytype_use use,
    const uint8_t *blob, size_t len, unsigned rsa_min_bits,
    struct keytype_key *k);

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
