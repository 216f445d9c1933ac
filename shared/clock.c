/*
 * clock.c - the monotonic clock helpers (clock.h).
 */
#include "clock.h"

void
clock_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

uint64_t
clock_ms(void)
{
	struct timespec ts;

	clock_now(&ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
clock_us(void)
{
	struct timespec ts;

	clock_now(&ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

long long
clock_ms_until(const struct timespec *deadline)
{
	struct timespec now;

	clock_now(&now);
	return (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

uint64_t
clock_ms_since(const struct timespec *since)
{
	long long ms = -clock_ms_until(since);

	return ms > 0 ? (uint64_t)ms : 0;
}
