/*
 * buf.c - the one buffer API: bounded growable writer, failing reader.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_free(struct buf *b)
{
	if (b->data != NULL) {
		OPENSSL_cleanse(b->data, b->cap);
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

void
buf_reset(struct buf *b)
{
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	b->len = 0;
	b->failed = 0;
}

int
buf_ok(const struct buf *b)
{
	return b->failed ? -1 : 0;
}

/* Make room for n more bytes, never past b->max. */
static int
buf_reserve(struct buf *b, size_t n)
{
	size_t want, ncap;
	uint8_t *p;

	if (b->failed)
		return -1;
	if (n > b->max || b->len > b->max - n) {
		b->failed = 1;
		return -1;
	}
	want = b->len + n;
	if (want <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < want)
		ncap = ncap > b->max / 2 ? b->max : ncap * 2;
	/* Grow by copy so that no old copy of the contents is left behind
	 * un-wiped, as realloc() could. */
	if ((p = malloc(ncap)) == NULL) {
		b->failed = 1;
		return -1;
	}
	if (b->data != NULL) {
		memcpy(p, b->data, b->len);
		OPENSSL_cleanse(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

void
buf_put(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) != 0)
		return;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
buf_put_u8(struct buf *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

void
buf_put_u16(struct buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	buf_put(b, x, sizeof(x));
}

void
buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	buf_put(b, x, sizeof(x));
}

void
buf_put_u64(struct buf *b, uint64_t v)
{
	buf_put_u32(b, (uint32_t)(v >> 32));
	buf_put_u32(b, (uint32_t)v);
}

void
buf_put_string(struct buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		b->failed = 1;
		return;
	}
	buf_put_u32(b, (uint32_t)n);
	buf_put(b, p, n);
}

void
buf_put_cstring(struct buf *b, const char *s)
{
	buf_put_string(b, s, strlen(s));
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	size_t room;
	char *tmp;
	int n, k;

	if (b->failed)
		return;
	/* First into the room there is (under the maximum: the first
	 * allocation may be larger); most text fits. */
	room = (b->cap < b->max ? b->cap : b->max) - b->len;
	va_copy(cp, ap);
	n = vsnprintf(room > 0 ? (char *)b->data + b->len : NULL, room, fmt,
	    cp);
	va_end(cp);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if ((size_t)n < room) {		/* all of it, and its NUL */
		b->len += (size_t)n;
		return;
	}
	/* Then again, with room for n bytes and vsnprintf's NUL. */
	if ((size_t)n < b->max && b->len < b->max - (size_t)n) {
		if (buf_reserve(b, (size_t)n + 1) != 0)
			return;
		k = vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
		if (k != n) {
			b->failed = 1;
			return;
		}
		b->len += (size_t)n;
		return;
	}
	if (buf_reserve(b, (size_t)n) != 0)	/* over the maximum: fails */
		return;
	/* Exactly up to the maximum: no room for the NUL in place. */
	if ((tmp = malloc((size_t)n + 1)) == NULL) {
		b->failed = 1;
		return;
	}
	k = vsnprintf(tmp, (size_t)n + 1, fmt, ap);
	if (k == n)
		buf_put(b, tmp, (size_t)n);
	else
		b->failed = 1;
	OPENSSL_cleanse(tmp, (size_t)n + 1);
	free(tmp);
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void
cursor_init(struct cursor *c, const void *p, size_t n)
{
	c->p = p;
	c->left = n;
	c->failed = 0;
}

int
cursor_get(struct cursor *c, void *out, size_t n)
{
	if (c->failed || n > c->left) {
		c->failed = 1;
		return -1;
	}
	if (out != NULL && n > 0)
		memcpy(out, c->p, n);
	c->p += n;
	c->left -= n;
	return 0;
}

int
cursor_get_u8(struct cursor *c, uint8_t *v)
{
	return cursor_get(c, v, 1);
}

int
cursor_get_u16(struct cursor *c, uint16_t *v)
{
	uint8_t x[2];

	if (cursor_get(c, x, sizeof(x)) != 0)
		return -1;
	*v = (uint16_t)((x[0] << 8) | x[1]);
	return 0;
}

int
cursor_get_u32(struct cursor *c, uint32_t *v)
{
	uint8_t x[4];

	if (cursor_get(c, x, sizeof(x)) != 0)
		return -1;
	*v = ((uint32_t)x[0] << 24) | ((uint32_t)x[1] << 16) |
	    ((uint32_t)x[2] << 8) | (uint32_t)x[3];
	return 0;
}

int
cursor_get_u64(struct cursor *c, uint64_t *v)
{
	uint32_t hi, lo;

	if (cursor_get_u32(c, &hi) != 0 || cursor_get_u32(c, &lo) != 0)
		return -1;
	*v = ((uint64_t)hi << 32) | lo;
	return 0;
}

int
cursor_get_string(struct cursor *c, const uint8_t **p, size_t *n, size_t max)
{
	uint32_t len;

	if (cursor_get_u32(c, &len) != 0)
		return -1;
	if (len > max || len > c->left) {
		c->failed = 1;
		return -1;
	}
	*p = c->p;
	*n = len;
	return cursor_get(c, NULL, len);
}

int
cursor_get_cstring(struct cursor *c, char *out, size_t outsz)
{
	const uint8_t *p;
	size_t n;

	if (outsz == 0 || cursor_get_string(c, &p, &n, outsz - 1) != 0)
		goto fail;
	if (memchr(p, '\0', n) != NULL)
		goto fail;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
 fail:
	c->failed = 1;
	if (outsz > 0)
		out[0] = '\0';
	return -1;
}

int
cursor_end(const struct cursor *c)
{
	return (c->failed || c->left != 0) ? -1 : 0;
}

int
bytes_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
