/*
 * fuzz_proxy.c - libFuzzer target: the PROXY protocol header parser the
 * monitor runs on connections from a balancer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "worker/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_result r, r2;
	const char *why = NULL;
	int n = proxy_parse(data, size, &r, &why);

	if (n < 0 && why == NULL)
		abort();
	if (n > 0) {
		/* A complete header is never longer than the input or the
		 * bound, and parses the same without what follows it. */
		if ((size_t)n > size || n > PROXY_MAX_HEADER)
			abort();
		if (proxy_parse(data, (size_t)n, &r2, &why) != n ||
		    r2.local != r.local || r2.version != r.version)
			abort();
	}
	return 0;
}
