/*
 * fuzz_agent.c - libFuzzer target: the monitor's parser of the worker's
 * ssh-agent requests (and, inside them, of userauth data to be signed).
 * Input: one agent message without its length prefix.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_req r;
	const char *why = NULL;

	if (size > MON_AGENT_MAX_MSG)
		return 0;
	if (agent_parse(data, size, &r, &why) == 0) {
		/* An accepted sign request points inside the input. */
		if (r.type == AGENTC_SIGN_REQUEST &&
		    (r.data < data || r.data + r.data_len > data + size))
			abort();
	} else if (why == NULL)
		abort();
	return 0;
}
