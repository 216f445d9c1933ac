/*
 * clock.h - the monotonic clock, for every process: timeouts, deadlines,
 * rates and durations never follow the wall clock (an NTP step or an
 * administrator's date(1) would stretch or cut them).
 */
#ifndef CSSHD_CLOCK_H
#define CSSHD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Now, CLOCK_MONOTONIC. */
void clock_now(struct timespec *ts);
/* Now, in milliseconds and in microseconds. */
uint64_t clock_ms(void);
uint64_t clock_us(void);
/* Milliseconds from since to now (0 if since is in the future). */
uint64_t clock_ms_since(const struct timespec *since);
/* Milliseconds from now to deadline, negative once it has passed. */
long long clock_ms_until(const struct timespec *deadline);

#endif
