/*
 * scrape.h - metrics_listen, served by connect-sshd-lookup (scrape.c).
 */
#ifndef CSSHD_SCRAPE_H
#define CSSHD_SCRAPE_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc.h"

#define SCRAPE_MAX		8	/* scrapers at once */
#define SCRAPE_POLLFDS		(SCRAPE_MAX + 1)	/* and the listener */
#define SCRAPE_MAX_TEXT		IPC_MAX_METRICS

/* The listener (-1: no metrics_listen). */
void scrape_init(int fd);
/* What to poll: the listener while there is room, and each scraper. */
size_t scrape_pollfds(struct pollfd *p);
/* ms until scrape_events() has a deadline to act on, or -1. */
int scrape_timeout_ms(void);
/* After poll(): accept (ask() asks the monitor), drain, expire. */
void scrape_events(const struct pollfd *p, size_t n,
    void (*ask)(uint64_t id));
/* The monitor's metrics for scraper id: sent, then drained and closed.
 * -1 for a text over SCRAPE_MAX_TEXT. */
int scrape_answer(uint64_t id, const uint8_t *text, size_t len);

#endif
