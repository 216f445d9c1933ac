/*
 * fuzz_config.c - libFuzzer target: the configuration loader and
 * validator (libconfig text in, checked struct or file:line errors out),
 * and the dump of what loaded.  libconfig reads files, so each input is
 * written to a scratch file first.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct config_errors errs = { 0 };
	struct config *cfg;
	FILE *f, *devnull;

	if (path[0] == '\0') {
		/* The loader refuses a group/world-writable config. */
		umask(022);
		snprintf(path, sizeof(path), "/tmp/fuzz_config.%ld",
		    (long)getpid());
	}
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	cfg = config_load(path, NULL, "/usr/libexec/connect-sshd-worker",
	    &errs);
	if (cfg != NULL && (devnull = fopen("/dev/null", "w")) != NULL) {
		config_dump(cfg, devnull);
		fclose(devnull);
	}
	config_free(cfg);
	config_errors_free(&errs);
	return 0;
}
