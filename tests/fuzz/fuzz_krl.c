/*
 * fuzz_krl.c - libFuzzer target: a revoked_keys file, binary KRL or text
 * (policy/krl.h), then every question asked of what it parsed to.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "krl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct krl *k;
	char why[256];
	size_t nkeys, ncas;

	if (krl_parse(data, size, &k, why, sizeof(why)) != 0) {
		/* A reason is always given, and fits. */
		if (memchr(why, '\0', sizeof(why)) == NULL || why[0] == '\0')
			__builtin_trap();
		return 0;
	}
	krl_counts(k, &nkeys, &ncas);
	(void)krl_key_revoked(k, data, size < 64 ? size : 64);
	(void)krl_cert_revoked(k, data, size < 51 ? size : 51,
	    size, size > 3 ? "id" : "");
	(void)krl_cert_revoked(k, data, 0, 0, "");
	(void)krl_cert_revoked(k, data, 0, UINT64_MAX, "x");
	krl_free(k);
	return 0;
}
