/*
 * sshwire.c - base64, SHA256 fingerprints and public key blobs in the
 * forms OpenSSH uses.
 *
 * The base64 decoder is hand-written rather than EVP_DecodeBlock() because
 * that one skips whitespace and cannot tell a short final quantum from
 * padding; here anything but the canonical alphabet is an error, so one
 * blob has exactly one text form.
 */
#include <string.h>

#include <openssl/evp.h>

#include "sshwire.h"

#define B64_PAD		'='
#define B64_BAD		0xff	/* not in the alphabet */
#define SHA256_LEN	32
#define FP_PREFIX	"SHA256:"
#define TYPE_MAX	64	/* longest key type name we look at */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of a base64 character, or B64_BAD. */
static uint8_t
b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return (uint8_t)(ch - 'A');
	if (ch >= 'a' && ch <= 'z')
		return (uint8_t)(ch - 'a' + 26);
	if (ch >= '0' && ch <= '9')
		return (uint8_t)(ch - '0' + 52);
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return B64_BAD;
}

/*
 * How many characters carry data: padding is optional, but if present it
 * must complete the last quantum to 4 characters, and a lone character in
 * the last quantum can hold no whole byte.
 */
static int
b64_data_len(const char *in, size_t inlen, size_t *ndata)
{
	size_t n = inlen, pad = 0;

	while (n > 0 && in[n - 1] == B64_PAD && pad < 2) {
		n--;
		pad++;
	}
	if (pad > 0 && inlen % 4 != 0)
		return -1;
	if (n % 4 == 1)
		return -1;
	*ndata = n;
	return 0;
}

int
b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outsz,
    size_t *outlen)
{
	size_t ndata, i, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	uint8_t v;

	*outlen = 0;
	if (b64_data_len(in, inlen, &ndata) != 0)
		return -1;
	if (ndata / 4 * 3 + (ndata % 4 ? ndata % 4 - 1 : 0) > outsz)
		return -1;
	for (i = 0; i < ndata; i++) {
		if ((v = b64_value((unsigned char)in[i])) == B64_BAD)
			return -1;
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1U << bits) - 1;
		}
	}
	/* Leftover bits must be zero, or two texts would decode alike. */
	if (acc != 0)
		return -1;
	*outlen = o;
	return 0;
}

size_t
b64_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	size_t need, i, o = 0;
	uint32_t q;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
		return 0;
	need = (n + 2) / 3 * 4 + 1;
	if (outsz < need)
		return 0;
	for (i = 0; i + 2 < n; i += 3) {
		q = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) |
		    in[i + 2];
		out[o++] = b64_alphabet[(q >> 18) & 0x3f];
		out[o++] = b64_alphabet[(q >> 12) & 0x3f];
		out[o++] = b64_alphabet[(q >> 6) & 0x3f];
		out[o++] = b64_alphabet[q & 0x3f];
	}
	if (i < n) {
		q = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			q |= (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[(q >> 18) & 0x3f];
		out[o++] = b64_alphabet[(q >> 12) & 0x3f];
		out[o++] = i + 1 < n ? b64_alphabet[(q >> 6) & 0x3f] : B64_PAD;
		out[o++] = B64_PAD;
	}
	out[o] = '\0';
	return o;
}

void
sshwire_fingerprint(const uint8_t *blob, size_t n, char *out, size_t outsz)
{
	uint8_t md[SHA256_LEN];
	char b64[(SHA256_LEN + 2) / 3 * 4 + 1];
	unsigned int mdlen = 0;
	size_t len;

	if (outsz > 0)
		out[0] = '\0';
	if (blob == NULL && n != 0)
		return;
	if (EVP_Digest(blob, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof(md))
		return;
	if ((len = b64_encode(md, sizeof(md), b64, sizeof(b64))) == 0)
		return;
	/* ssh-keygen prints SHA256 fingerprints without the padding. */
	while (len > 0 && b64[len - 1] == B64_PAD)
		b64[--len] = '\0';
	if (strlen(FP_PREFIX) + len + 1 > outsz)
		return;
	memcpy(out, FP_PREFIX, strlen(FP_PREFIX));
	memcpy(out + strlen(FP_PREFIX), b64, len + 1);
}

int
sshwire_blob_type(const uint8_t *blob, size_t n, char *type, size_t typesz)
{
	struct cursor c;

	if (typesz > 0)
		type[0] = '\0';
	if (blob == NULL)
		return -1;
	cursor_init(&c, blob, n);
	if (cursor_get_cstring(&c, type, typesz) != 0 || type[0] == '\0')
		return -1;
	return 0;
}

void
sshwire_put_ed25519_blob(struct buf *b, const uint8_t pub[32])
{
	buf_put_cstring(b, "ssh-ed25519");
	buf_put_string(b, pub, ED25519_PUB_LEN);
}

int
sshwire_ed25519_pub(const uint8_t *blob, size_t n, uint8_t pub[32])
{
	struct cursor c;
	char type[TYPE_MAX];
	const uint8_t *p;
	size_t len;

	if (blob == NULL)
		return -1;
	cursor_init(&c, blob, n);
	if (cursor_get_cstring(&c, type, sizeof(type)) != 0 ||
	    strcmp(type, "ssh-ed25519") != 0 ||
	    cursor_get_string(&c, &p, &len, ED25519_PUB_LEN) != 0 ||
	    len != ED25519_PUB_LEN || cursor_end(&c) != 0)
		return -1;
	memcpy(pub, p, ED25519_PUB_LEN);
	return 0;
}

#define SSH_MSG_DISCONNECT		1
#define SSH_DISCONNECT_TOO_MANY		12	/* ..._TOO_MANY_CONNECTIONS */

/*
 * A refusal a client reads before any key exchange: our version line and
 * an unencrypted SSH_MSG_DISCONNECT (too many connections) carrying why.
 */
void
sshwire_refusal(struct buf *pkt, const char *why)
{
	static const char banner[] = "SSH-2.0-connect-sshd\r\n";
	struct buf payload;
	size_t pad;

	buf_init(&payload, 256);
	buf_put_u8(&payload, SSH_MSG_DISCONNECT);
	buf_put_u32(&payload, SSH_DISCONNECT_TOO_MANY);
	buf_put_cstring(&payload, why);
	buf_put_cstring(&payload, "");
	/* length, padding length, payload, padding: a multiple of 8 with
	 * at least 4 bytes of padding (RFC 4253, section 6). */
	pad = 8 - (5 + payload.len) % 8;
	if (pad < 4)
		pad += 8;
	buf_put(pkt, banner, sizeof(banner) - 1);
	buf_put_u32(pkt, (uint32_t)(1 + payload.len + pad));
	buf_put_u8(pkt, (uint8_t)pad);
	buf_put(pkt, payload.data, payload.len);
	while (pad-- > 0)
		buf_put_u8(pkt, 0);
	buf_free(&payload);
}
