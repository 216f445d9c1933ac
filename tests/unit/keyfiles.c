/*
 * keyfiles.c - see keyfiles.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyfiles.h"
#include "sshwire.h"

void
kf_run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		fprintf(stderr, "failed: %s\n", cmd);
		abort();
	}
}

size_t
kf_read_blob(const char *dir, const char *file, uint8_t *out, size_t max)
{
	char path[512], *line, *b64, *end;
	size_t n = 0, linesz = max * 2 + 512;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((line = malloc(linesz)) == NULL || (f = fopen(path, "r")) == NULL)
		abort();
	if (fgets(line, (int)linesz, f) == NULL)
		abort();
	fclose(f);
	if ((b64 = strchr(line, ' ')) == NULL)
		abort();
	b64++;
	if ((end = strpbrk(b64, " \n")) != NULL)
		*end = '\0';
	if (b64_decode(b64, strlen(b64), out, max, &n) != 0)
		abort();
	free(line);
	return n;
}
