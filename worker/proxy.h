/*
 * proxy.h - the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2), as an L4 balancer puts it in front of a connection.
 */
#ifndef CSSHD_PROXY_H
#define CSSHD_PROXY_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

/* v1 lines are at most 107 bytes; a v2 header is 16 bytes and its
 * addresses and TLVs.  Longer headers are refused. */
#define PROXY_V1_MAX		107
#define PROXY_MAX_HEADER	536

struct proxy_result {
	int local;			/* LOCAL or UNKNOWN: no client address;
					 * keep the connection's own */
	struct sockaddr_storage src;	/* the client, when !local */
	int version;			/* 1 or 2 */
};

/*
 * Parse the header at the start of p[0..len).  Returns its length once it
 * is complete, 0 if every byte so far fits a header but it is not complete
 * yet, or -1 with *why set if p does not start with a valid header.
 */
int proxy_parse(const uint8_t *p, size_t len, struct proxy_result *r,
    const char **why);

#endif
