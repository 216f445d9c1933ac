/*
 * krl.h - revoked keys and certificates, as sshd's RevokedKeys reads
 * them: an OpenSSH key revocation list (KRL, PROTOCOL.krl, made by
 * ssh-keygen -k) or a text file of public keys, one per line.
 *
 * The file is the operator's, read at start-up and on SIGHUP; the monitor
 * asks krl_key_revoked() and krl_cert_revoked() about every key a client
 * offers, before anything else is asked about it.  Parsing is bounded
 * (KRL_MAX_*) and fails on anything it does not understand, a critical
 * extension or a signature section included: a revocation list the
 * gateway cannot read in full must not be half applied.
 */
#ifndef CSSHD_KRL_H
#define CSSHD_KRL_H

#include <stddef.h>
#include <stdint.h>

#define KRL_MAX_FILE	(16u * 1024 * 1024)	/* bytes */
#define KRL_MAX_HASHES	1000000u	/* revoked keys, by hash */
#define KRL_MAX_CAS	1024u		/* certificate sections */
#define KRL_MAX_RANGES	1000000u	/* serial ranges, all sections */
#define KRL_MAX_IDS	100000u		/* key ids, all sections */
#define KRL_MAX_ID	1024u		/* bytes of one key id */

struct krl;

/*
 * Parse a file's contents: a binary KRL if it starts with the KRL magic,
 * else lines of "type base64 [comment]" ('#' comments and blank lines
 * allowed).  0 with *out set, or -1 with why (naming the line, for text)
 * filled in.
 */
int krl_parse(const uint8_t *data, size_t len, struct krl **out, char *why,
    size_t whysz);
void krl_free(struct krl *k);

/* How much it revokes, for the log: keys by hash, certificate sections. */
void krl_counts(const struct krl *k, size_t *nkeys, size_t *ncas);

/* 1 if the plain key (its public blob) is revoked, else 0. */
int krl_key_revoked(const struct krl *k, const uint8_t *blob, size_t len);

/*
 * 1 if a certificate is revoked: its CA key is revoked as a key, or a
 * certificate section for its CA (or for any CA) lists its serial or its
 * key id; else 0.  (The certified key itself is asked with
 * krl_key_revoked(), as sshd does.)
 */
int krl_cert_revoked(const struct krl *k, const uint8_t *ca_blob,
    size_t ca_len, uint64_t serial, const char *key_id);

#endif
