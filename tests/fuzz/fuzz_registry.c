/*
 * fuzz_registry.c - libFuzzer target: what a Redis registry returns, as
 * the monitor checks it.  The input is a hash as Redis sends it, strings
 * separated by NUL bytes (a value may then hold any other byte, newlines
 * included); its first byte chooses a studio record or a user's keys.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy.h"
#include "registry.h"

#define MAX_STRINGS	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct registry_redis *reg;

/* The checks log what they refuse; not here. */
static void
drop_log(enum log_level lvl, const char *line)
{
	(void)lvl;
	(void)line;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t blob[] = { 0, 0, 0, 11, 's', 's', 'h', '-', 'e',
	    'd', '2', '5', '5', '1', '9', 0, 0, 0, 32 };
	const char *elems[MAX_STRINGS];
	size_t lens[MAX_STRINGS], n = 0, i, start;
	struct policy_studio s;
	char *copy;
	int has;

	if (reg == NULL) {
		log_init("fuzz", LOG_LVL_ERROR, LOG_FMT_TEXT);
		log_set_sink(drop_log);
		if ((reg = registry_redis_offline()) == NULL)
			abort();
	}
	if (size < 1 || (copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	for (start = 0, i = 0; i < size && n < MAX_STRINGS; i++)
		if (i == size - 1 || copy[i] == '\0') {
			elems[n] = copy + start;
			/* As Redis would say: the bytes up to the separator. */
			lens[n] = i - start;
			n++;
			start = i + 1;
		}
	if (data[0] & 1)
		(void)registry_parse_keys(reg, "k", elems, lens, n, blob,
		    sizeof(blob), &has);
	else if (registry_parse_studio(reg, "k", "s1", elems, lens, n,
	    &s) == 0 && (s.upstream_host == NULL || s.upstream_port == NULL ||
	    s.session == NULL))
		abort();
	free(copy);
	return 0;
}
