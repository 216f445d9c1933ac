/*
 * authkeys.h - public keys as users register them: OpenSSH
 * authorized_keys lines ("[options] type base64 [comment]").
 */
#ifndef CSSHD_AUTHKEYS_H
#define CSSHD_AUTHKEYS_H

#include <stddef.h>
#include <stdint.h>

/* Room to decode, and so to name, a key too large to accept: a 16384-bit
 * RSA key is told it is over the bound, not that its text is too long.
 * What is accepted is at most KEYTYPE_MAX_BLOB (keytypes.h). */
#define AUTHKEY_MAX_BLOB	4096
#define AUTHKEY_FP_LEN		51	/* "SHA256:" + 43 base64 + NUL */

struct authkey {
	char type[32];		/* "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256" */
	uint8_t *blob;		/* decoded SSH public key blob */
	size_t bloblen;
	char fp[AUTHKEY_FP_LEN + 8];	/* "SHA256:..." as ssh-keygen -l prints */
	char *comment;		/* may be NULL */
};

/*
 * Parse one authorized_keys line.  Blank and comment lines return 1 (no
 * key).  Returns 0 with *out filled, or -1 with *why set to a static
 * message.  Key options (from="...", etc.) are refused: the gateway cannot
 * honour them, and silently ignoring a restriction would widen access.
 * The blob's inner type must match the named type, and the key must pass
 * keytype_check_blob() (keytypes.h): an accepted type, well formed, an
 * RSA key within the bounds, with rsa_min_bits (limits.rsa_min_bits) as
 * the least modulus.  *why may point to a buffer the next call reuses.
 */
int authkey_parse_line_min(const char *line, unsigned rsa_min_bits,
    struct authkey *out, const char **why);
/* The same with the default minimum, KEYTYPE_RSA_MIN_BITS_DEFAULT. */
int authkey_parse_line(const char *line, struct authkey *out, const char **why);
void authkey_free(struct authkey *k);

/* SHA256 fingerprint of a blob, as "SHA256:<base64 without padding>". */
void authkey_fingerprint(const uint8_t *blob, size_t len, char *out,
    size_t outsz);

#endif
