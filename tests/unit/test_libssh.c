/*
 * test_libssh.c - behaviours of the libssh the build compiles that the
 * worker relies on and that connect-sshd's patches change, through
 * libssh's public API (it links only libssh.a).
 *
 * Buffers (patch 0016): a channel's buffer is appended to at its end and
 * read from its start.  When an append does not fit, libssh moves the
 * unread bytes to the front; it then reallocated the buffer to the
 * smallest power of two above what it held, even when the move had made
 * room, so a 2 MiB buffer holding 64 KiB shrank to 256 KiB and grew back,
 * page by fresh page, as the relay refilled it.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <libssh/libssh.h>

#include "runner.h"

#define MIB	(1024u * 1024u)
#define KIB	1024u

/* Byte i of a stream whose bytes are numbered from 0. */
static uint8_t
stream_byte(uint64_t i)
{
	return (uint8_t)(i * 2654435761u >> 13);
}

static void
fill(uint8_t *p, uint64_t from, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = stream_byte(from + i);
}

static int
is_stream(const uint8_t *p, uint64_t from, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		if (p[i] != stream_byte(from + i))
			return 0;
	return 1;
}

/* The bytes the buffer's storage can hold, once libssh has moved its
 * unread bytes to the front: they then start at the storage's first byte
 * (only then is this the start of an allocation). */
static size_t
storage_of(ssh_buffer b)
{
	return malloc_usable_size(ssh_buffer_get(b));
}

/* The heap this process uses, mapped chunks included.  The sanitizer's
 * allocator reports nothing here: the bound below then holds trivially. */
static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static void
test_move_to_front_keeps_room(void)
{
	ssh_buffer b = ssh_buffer_new();
	uint8_t *scratch = malloc(2 * MIB);
	uint64_t in = 0, out = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(scratch);
	/* 2 MiB of storage, nearly full, then nearly all of it read. */
	fill(scratch, in, 2 * MIB - 64 * KIB);
	CU_ASSERT_EQUAL_FATAL(ssh_buffer_add_data(b, scratch, 2 * MIB - 64 * KIB), 0);
	in += 2 * MIB - 64 * KIB;
	CU_ASSERT_EQUAL_FATAL(ssh_buffer_get_data(b, scratch, 2 * MIB - 128 * KIB),
	    2 * MIB - 128 * KIB);
	CU_ASSERT_TRUE(is_stream(scratch, out, 2 * MIB - 128 * KIB));
	out += 2 * MIB - 128 * KIB;
	/* 128 KiB more does not fit after the unread 64 KiB: libssh moves
	 * those to the front, and 192 KiB then fit in the 2 MiB it has. */
	fill(scratch, in, 128 * KIB);
	CU_ASSERT_EQUAL_FATAL(ssh_buffer_add_data(b, scratch, 128 * KIB), 0);
	in += 128 * KIB;
	CU_ASSERT_EQUAL(ssh_buffer_get_len(b), 192 * KIB);
	CU_ASSERT(storage_of(b) >= 2 * MIB);
	CU_ASSERT_TRUE(is_stream(ssh_buffer_get(b), out, 192 * KIB));
	free(scratch);
	ssh_buffer_free(b);
}

/*
 * A relay's pattern: appends of up to a packet, reads of up to a chunk,
 * never more than a window unread.  Every byte comes out as it went in,
 * and the heap stays within the smallest power of two above a window and
 * a packet: what the buffer holds stays bounded by what it is given.
 */
static void
test_relay_pattern_is_exact_and_bounded(void)
{
	const uint32_t window = 2 * MIB, packet = 32 * KIB, chunk = 64 * KIB;
	ssh_buffer b = ssh_buffer_new();
	uint8_t *scratch = malloc(chunk);
	uint64_t in = 0, out = 0;
	size_t most = 0;
	unsigned step, seed = 7;
	uint32_t n;
	int exact = 1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(scratch);
	for (step = 0; step < 20000; step++) {
		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 8) % packet;
		if (in - out + n <= window && (seed & 3) != 0) {
			fill(scratch, in, n);
			if (ssh_buffer_add_data(b, scratch, n) != 0) {
				exact = 0;
				break;
			}
			in += n;
		} else {
			n = 1 + (seed >> 4) % chunk;
			n = ssh_buffer_get_data(b, scratch,
			    n < in - out ? n : (uint32_t)(in - out));
			if (!is_stream(scratch, out, n))
				exact = 0;
			out += n;
		}
		if (heap_in_use() > most)
			most = heap_in_use();
	}
	CU_ASSERT_TRUE(exact);
	CU_ASSERT_EQUAL(ssh_buffer_get_len(b), in - out);
	CU_ASSERT(in > 16 * MIB);
	/* The heap beyond the buffer: the scratch chunk and libssh's own. */
	CU_ASSERT(most <= 4 * MIB + 2 * chunk);
	free(scratch);
	ssh_buffer_free(b);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "a move to the front keeps the room it made (patch 0016)",
		    test_move_to_front_keeps_room },
		{ "relay pattern: every byte exact, storage bounded",
		    test_relay_pattern_is_exact_and_bounded },
		UNIT_END
	};

	return unit_run(argc, argv, "libssh buffer", tests);
}
