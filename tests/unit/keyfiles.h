/*
 * keyfiles.h - for unit tests that make keys, certificates and
 * revocation lists with the real ssh-keygen in a scratch directory.
 */
#ifndef CSSHD_TEST_KEYFILES_H
#define CSSHD_TEST_KEYFILES_H

#include <stddef.h>
#include <stdint.h>

/* Run a shell command; abort the test program if it fails. */
void kf_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The blob of the second field of dir/file's first line ("type base64
 * [comment]"), at most max bytes; aborts if there is none. */
size_t kf_read_blob(const char *dir, const char *file, uint8_t *out,
    size_t max);

#endif
