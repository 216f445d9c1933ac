/*
 * fuzz_ipc.c - libFuzzer target: every IPC body decoder, both directions.
 * Input: u16 type, then the body, as one datagram carries them.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c;
	union {
		struct ipc_init init;
		struct ipc_client client;
		struct ipc_bytes bytes;
		struct ipc_flag flag;
		struct ipc_route route;
		struct ipc_route_req route_req;
		struct ipc_route_cert route_cert;
		struct ipc_text text;
		struct ipc_log log;
		struct ipc_key_query kq;
		struct ipc_verify verify;
		struct ipc_audit audit;
		struct ipc_proxy proxy;
		struct ipc_refused refused;
		struct ipc_kex kex;
		struct ipc_lookup_init linit;
		struct ipc_lookup_access access;
		struct ipc_lookup_facts facts;
		struct ipc_lookup_startup startup;
		struct ipc_lookup_counted counted;
		struct ipc_lookup_scrape scrape;
		struct ipc_lookup_metrics metrics;
	} u;
	unsigned type;

	if (size < 2 || size > IPC_MAX_MSG)
		return 0;
	type = (unsigned)data[0] << 8 | data[1];
	cursor_init(&c, data + 2, size - 2);
	switch (type) {
	case IPC_M_INIT:
		(void)ipc_dec_init(&c, &u.init);
		break;
	case IPC_M_CLIENT:
		(void)ipc_dec_client(&c, &u.client);
		break;
	case IPC_M_SIGN_REPLY:
	case IPC_W_SIGN:
		(void)ipc_dec_bytes(&c, &u.bytes, IPC_MAX_BLOB);
		break;
	case IPC_M_KEY_REPLY:
	case IPC_M_VERIFY_REPLY:
	case IPC_M_PROXY_REPLY:
		(void)ipc_dec_flag(&c, &u.flag);
		break;
	case IPC_M_ROUTE:
		(void)ipc_dec_route(&c, &u.route);
		break;
	case IPC_M_ROUTE_CERT:
		(void)ipc_dec_route_cert(&c, &u.route_cert);
		break;
	case IPC_W_ROUTE:
		(void)ipc_dec_route_req(&c, &u.route_req);
		break;
	case IPC_M_ROUTE_FAIL:
		(void)ipc_dec_text(&c, &u.text);
		break;
	case IPC_W_LOG:
	case IPC_L_LOG:		/* the same body */
		(void)ipc_dec_log(&c, &u.log);
		break;
	case IPC_W_KEY_QUERY:
		(void)ipc_dec_key_query(&c, &u.kq);
		break;
	case IPC_W_VERIFY:
		(void)ipc_dec_verify(&c, &u.verify);
		break;
	case IPC_W_PROXY:
		(void)ipc_dec_proxy(&c, &u.proxy);
		break;
	case IPC_W_KEX:
		(void)ipc_dec_kex(&c, &u.kex);
		break;
	case IPC_W_AUDIT:
		(void)ipc_dec_audit(&c, &u.audit);
		break;
	case IPC_W_REFUSED:
		(void)ipc_dec_refused(&c, &u.refused);
		break;
	case IPC_L_INIT:
		(void)ipc_dec_lookup_init(&c, &u.linit);
		break;
	case IPC_L_ACCESS:
		(void)ipc_dec_lookup_access(&c, &u.access);
		break;
	case IPC_L_FACTS:
		(void)ipc_dec_lookup_facts(&c, &u.facts);
		break;
	case IPC_L_STARTUP:
		(void)ipc_dec_lookup_startup(&c, &u.startup);
		break;
	case IPC_L_COUNTED:
		(void)ipc_dec_lookup_counted(&c, &u.counted);
		break;
	case IPC_L_SCRAPE:
		(void)ipc_dec_lookup_scrape(&c, &u.scrape);
		break;
	case IPC_L_METRICS:
		(void)ipc_dec_lookup_metrics(&c, &u.metrics);
		break;
	default:
		(void)ipc_type_nfds(type);
		(void)ipc_type_name(type);
		break;
	}
	return 0;
}
