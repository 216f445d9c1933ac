/*
 * fuzz_authkeys.c - libFuzzer target: one authorized_keys line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authkeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authkey k;
	const char *why = NULL;
	char *line;

	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	memset(&k, 0, sizeof(k));
	if (authkey_parse_line(line, &k, &why) == 0)
		authkey_free(&k);
	free(line);
	return 0;
}
