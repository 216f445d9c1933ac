/*
 * test_buf.c - struct buf and struct cursor: round trips, the hard
 * maximum, short reads that latch, leftovers, refused strings.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "buf.h"
#include "runner.h"

#define MAX_SMALL	16
#define MAX_BIG		4096

static void
test_roundtrip_ints(void)
{
	struct buf b;
	struct cursor c;
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	buf_init(&b, MAX_BIG);
	buf_put_u8(&b, 0xab);
	buf_put_u16(&b, 0x1234);
	buf_put_u32(&b, 0xdeadbeef);
	buf_put_u64(&b, 0x0102030405060708ULL);
	CU_ASSERT_EQUAL(buf_ok(&b), 0);
	CU_ASSERT_EQUAL(b.len, 1 + 2 + 4 + 8);
	/* Network byte order, as the SSH wire format wants. */
	CU_ASSERT_EQUAL(b.data[1], 0x12);
	CU_ASSERT_EQUAL(b.data[2], 0x34);

	cursor_init(&c, b.data, b.len);
	CU_ASSERT_EQUAL(cursor_get_u8(&c, &v8), 0);
	CU_ASSERT_EQUAL(cursor_get_u16(&c, &v16), 0);
	CU_ASSERT_EQUAL(cursor_get_u32(&c, &v32), 0);
	CU_ASSERT_EQUAL(cursor_get_u64(&c, &v64), 0);
	CU_ASSERT_EQUAL(v8, 0xab);
	CU_ASSERT_EQUAL(v16, 0x1234);
	CU_ASSERT_EQUAL(v32, 0xdeadbeef);
	CU_ASSERT(v64 == 0x0102030405060708ULL);
	CU_ASSERT_EQUAL(cursor_end(&c), 0);
	buf_free(&b);
}

static void
test_roundtrip_strings(void)
{
	struct buf b;
	struct cursor c;
	const uint8_t *p;
	size_t n;
	char s[32];
	static const uint8_t bin[] = { 0, 1, 2, 0xff };

	buf_init(&b, MAX_BIG);
	buf_put_cstring(&b, "ssh-ed25519");
	buf_put_string(&b, bin, sizeof(bin));
	buf_put_string(&b, "", 0);
	CU_ASSERT_EQUAL(buf_ok(&b), 0);

	cursor_init(&c, b.data, b.len);
	CU_ASSERT_EQUAL(cursor_get_cstring(&c, s, sizeof(s)), 0);
	CU_ASSERT_STRING_EQUAL(s, "ssh-ed25519");
	CU_ASSERT_EQUAL(cursor_get_string(&c, &p, &n, sizeof(bin)), 0);
	CU_ASSERT_EQUAL(n, sizeof(bin));
	CU_ASSERT(memcmp(p, bin, n) == 0);
	CU_ASSERT_EQUAL(cursor_get_string(&c, &p, &n, 0), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(cursor_end(&c), 0);
	buf_free(&b);
}

static void
test_max_enforced(void)
{
	struct buf b;
	uint8_t x[MAX_SMALL + 1];

	memset(x, 'x', sizeof(x));
	buf_init(&b, MAX_SMALL);
	buf_put(&b, x, MAX_SMALL);
	CU_ASSERT_EQUAL(buf_ok(&b), 0);
	CU_ASSERT_EQUAL(b.len, MAX_SMALL);
	buf_put_u8(&b, 1);
	CU_ASSERT_EQUAL(buf_ok(&b), -1);
	CU_ASSERT_EQUAL(b.len, MAX_SMALL);
	/* Latched: a put that would fit is refused too. */
	buf_reset(&b);
	CU_ASSERT_EQUAL(buf_ok(&b), 0);
	buf_put(&b, x, sizeof(x));
	CU_ASSERT_EQUAL(buf_ok(&b), -1);
	CU_ASSERT_EQUAL(b.len, 0);
	buf_put_u8(&b, 1);
	CU_ASSERT_EQUAL(b.len, 0);
	buf_free(&b);
}

static void
test_growth(void)
{
	struct buf b;
	size_t i;

	buf_init(&b, MAX_BIG);
	for (i = 0; i < MAX_BIG / 4; i++)
		buf_put_u32(&b, (uint32_t)i);
	CU_ASSERT_EQUAL(buf_ok(&b), 0);
	CU_ASSERT_EQUAL(b.len, MAX_BIG);
	CU_ASSERT(b.cap <= MAX_BIG);
	CU_ASSERT_EQUAL(b.data[MAX_BIG - 1], (uint8_t)(MAX_BIG / 4 - 1));
	buf_put_u8(&b, 0);
	CU_ASSERT_EQUAL(buf_ok(&b), -1);
	buf_free(&b);
	CU_ASSERT_PTR_NULL(b.data);
}

static void
test_short_read_latches(void)
{
	static const uint8_t data[] = { 0, 0, 0, 7, 'a', 'b' };
	struct cursor c;
	uint8_t v8;
	uint32_t v32;
	const uint8_t *p;
	size_t n;

	cursor_init(&c, data, 3);
	CU_ASSERT_EQUAL(cursor_get_u32(&c, &v32), -1);
	CU_ASSERT(c.failed);
	/* Once failed, even a read that would fit fails. */
	CU_ASSERT_EQUAL(cursor_get_u8(&c, &v8), -1);
	CU_ASSERT_EQUAL(cursor_end(&c), -1);

	/* A string whose length runs past the data. */
	cursor_init(&c, data, sizeof(data));
	CU_ASSERT_EQUAL(cursor_get_string(&c, &p, &n, 100), -1);
	CU_ASSERT_EQUAL(cursor_get_u8(&c, &v8), -1);
	CU_ASSERT_EQUAL(cursor_end(&c), -1);
}

static void
test_end_leftover(void)
{
	static const uint8_t data[] = { 1, 2, 3 };
	struct cursor c;
	uint16_t v16;
	uint8_t v8;

	cursor_init(&c, data, sizeof(data));
	CU_ASSERT_EQUAL(cursor_get_u16(&c, &v16), 0);
	CU_ASSERT_EQUAL(cursor_end(&c), -1);
	CU_ASSERT_EQUAL(cursor_get_u8(&c, &v8), 0);
	CU_ASSERT_EQUAL(cursor_end(&c), 0);
	cursor_init(&c, NULL, 0);
	CU_ASSERT_EQUAL(cursor_end(&c), 0);
}

static void
test_cstring_nul_refused(void)
{
	struct buf b;
	struct cursor c;
	char s[16];

	buf_init(&b, MAX_BIG);
	buf_put_string(&b, "ab\0cd", 5);
	cursor_init(&c, b.data, b.len);
	CU_ASSERT_EQUAL(cursor_get_cstring(&c, s, sizeof(s)), -1);
	CU_ASSERT_STRING_EQUAL(s, "");
	CU_ASSERT_EQUAL(cursor_end(&c), -1);
	buf_free(&b);
}

static void
test_string_over_max_refused(void)
{
	struct buf b;
	struct cursor c;
	const uint8_t *p;
	size_t n;
	char s[4];

	buf_init(&b, MAX_BIG);
	buf_put_cstring(&b, "abcdef");
	cursor_init(&c, b.data, b.len);
	CU_ASSERT_EQUAL(cursor_get_string(&c, &p, &n, 5), -1);
	CU_ASSERT(c.failed);

	cursor_init(&c, b.data, b.len);
	CU_ASSERT_EQUAL(cursor_get_string(&c, &p, &n, 6), 0);

	/* With its terminator, "abcdef" does not fit in 4 bytes. */
	cursor_init(&c, b.data, b.len);
	CU_ASSERT_EQUAL(cursor_get_cstring(&c, s, sizeof(s)), -1);
	CU_ASSERT_STRING_EQUAL(s, "");
	buf_free(&b);
}

/* Formatted text: all of it, growing as needed, or nothing and a failed
 * buffer; never cut, whatever was already in the buffer. */
static void
test_printf(void)
{
	char big[MAX_BIG];
	struct buf b;
	size_t i;

	buf_init(&b, MAX_BIG);
	buf_printf(&b, "%s=%llu\n", "n", 18446744073709551615ULL);
	CU_ASSERT_EQUAL(buf_ok(&b), 0);
	CU_ASSERT_EQUAL(b.len, 23);
	CU_ASSERT_EQUAL(memcmp(b.data, "n=18446744073709551615\n", 23), 0);
	/* Past the first allocation, many times over. */
	for (i = 0; i < 100; i++)
		buf_printf(&b, "%030zu", i);
	CU_ASSERT_EQUAL(buf_ok(&b), 0);
	CU_ASSERT_EQUAL(b.len, 23 + 100 * 30);
	CU_ASSERT_EQUAL(memcmp(b.data + 23 + 99 * 30,
	    "000000000000000000000000000099", 30), 0);
	buf_printf(&b, "%s", "");
	CU_ASSERT_EQUAL(buf_ok(&b), 0);
	CU_ASSERT_EQUAL(b.len, 23 + 100 * 30);
	buf_free(&b);

	/* Up to the maximum exactly, then not one byte more. */
	memset(big, 'y', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < 2; i++) {
		buf_init(&b, MAX_BIG);
		if (i == 1)
			buf_put_u8(&b, 'x');	/* the text is not first */
		buf_printf(&b, "%.*szz", (int)(MAX_BIG - 1 - b.len), big);
		CU_ASSERT_EQUAL(buf_ok(&b), -1);
		CU_ASSERT_EQUAL(b.len, i);
		buf_free(&b);
		buf_init(&b, MAX_BIG);
		if (i == 1)
			buf_put_u8(&b, 'x');
		buf_printf(&b, "%.*sz", (int)(MAX_BIG - 1 - b.len), big);
		CU_ASSERT_EQUAL(buf_ok(&b), 0);
		CU_ASSERT_EQUAL(b.len, MAX_BIG);
		CU_ASSERT_EQUAL(b.data[MAX_BIG - 1], 'z');
		CU_ASSERT_EQUAL(b.data[MAX_BIG - 2], 'y');
		buf_printf(&b, "%s", "");	/* nothing still fits */
		CU_ASSERT_EQUAL(buf_ok(&b), 0);
		buf_printf(&b, "a");
		CU_ASSERT_EQUAL(buf_ok(&b), -1);
		CU_ASSERT_EQUAL(b.len, MAX_BIG);
		buf_free(&b);
	}

	/* Over the maximum: nothing is added, and the failure latches. */
	buf_init(&b, MAX_SMALL);
	buf_printf(&b, "%s", "0123456789");
	buf_printf(&b, "%s", "0123456789");
	CU_ASSERT_EQUAL(buf_ok(&b), -1);
	CU_ASSERT_EQUAL(b.len, 10);
	buf_printf(&b, "%d", 1);
	CU_ASSERT_EQUAL(b.len, 10);
	buf_free(&b);
}

static void
test_bytes_equal(void)
{
	CU_ASSERT(bytes_equal("abc", "abc", 3));
	CU_ASSERT(!bytes_equal("abc", "abd", 3));
	CU_ASSERT(bytes_equal("", "", 0));
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "integer round trip", test_roundtrip_ints },
		{ "string round trip", test_roundtrip_strings },
		{ "max enforced", test_max_enforced },
		{ "growth up to max", test_growth },
		{ "short read latches", test_short_read_latches },
		{ "cursor_end leftover", test_end_leftover },
		{ "cstring with NUL", test_cstring_nul_refused },
		{ "string over max", test_string_over_max_refused },
		{ "printf: whole or failed", test_printf },
		{ "bytes_equal", test_bytes_equal },
		UNIT_END,
	};

	return unit_run(argc, argv, "buf", tests);
}
