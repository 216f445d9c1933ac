/*
 * buf.h - the one buffer API of connect-sshd.
 *
 * Every byte that crosses a trust boundary (IPC, the agent socket, SSH wire
 * blobs, key files) is written with struct buf and read with struct cursor,
 * so bounds checks are written once, here.
 *
 * A struct buf grows up to a hard maximum fixed at init time; a put that
 * would pass it fails and latches the buffer into an error state, so callers
 * may put a whole message and check once.
 *
 * A struct cursor reads a byte range it does not own.  Every get fails on a
 * short read and latches the cursor into an error state; cursor_end() fails
 * if anything is left over.  Decoders therefore read all fields, then call
 * cursor_end() once.
 */
#ifndef CSSHD_BUF_H
#define CSSHD_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;	/* hard limit on len */
	int failed;	/* a put was refused: the contents are not usable */
};

struct cursor {
	const uint8_t *p;
	size_t left;
	int failed;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);	/* wipes and frees */
void buf_reset(struct buf *b);	/* wipes, keeps the allocation */
int buf_ok(const struct buf *b);	/* 0 if usable, -1 if a put failed */

void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_u16(struct buf *b, uint16_t v);
void buf_put_u32(struct buf *b, uint32_t v);
void buf_put_u64(struct buf *b, uint64_t v);
/* SSH "string": u32 length then bytes. */
void buf_put_string(struct buf *b, const void *p, size_t n);
void buf_put_cstring(struct buf *b, const char *s);
/*
 * Formatted text, without its terminating NUL: all of it or, if it does
 * not fit under the maximum or cannot be formatted, nothing, and the
 * buffer fails.  Never truncated: the way to build text whose length is
 * not known in advance, instead of snprintf into a fixed array.
 */
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

void cursor_init(struct cursor *c, const void *p, size_t n);
int cursor_get(struct cursor *c, void *out, size_t n);
int cursor_get_u8(struct cursor *c, uint8_t *v);
int cursor_get_u16(struct cursor *c, uint16_t *v);
int cursor_get_u32(struct cursor *c, uint32_t *v);
int cursor_get_u64(struct cursor *c, uint64_t *v);
/*
 * An SSH string, returned as a pointer into the cursor's range; fails if
 * its length is over max.
 */
int cursor_get_string(struct cursor *c, const uint8_t **p, size_t *n,
    size_t max);
/*
 * An SSH string copied into out as a C string: fails if it holds a NUL byte
 * or does not fit (with its terminator) into outsz bytes.
 */
int cursor_get_cstring(struct cursor *c, char *out, size_t outsz);
/* 0 if the cursor is intact and fully consumed, else -1. */
int cursor_end(const struct cursor *c);

/* Constant-time comparison of two byte strings of equal length. */
int bytes_equal(const void *a, const void *b, size_t n);

#endif
