#!/bin/sh
# The contract check (check.py), then proof that it can fail: each
# mutation below makes the code or connect-sshd-ipc(7) say something the
# other does not, and the check must then fail.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d /tmp/csshd-contract.XXXXXX)
trap 'rm -rf "$T"' EXIT
PASS=0 FAIL=0

/usr/bin/python3 "$HERE/check.py" --top "$TOP" && PASS=$((PASS + 1)) ||
	{ echo "not ok - the code and connect-sshd-ipc(7) disagree"; FAIL=$((FAIL + 1)); }

# mutate FILE SED-EXPRESSION DESCRIPTION: the check must fail on a copy
# of the tree whose FILE has been edited so.
mutate() {
	rm -rf "$T/top"
	mkdir -p "$T/top/man" "$T/top/monitor"
	cp "$TOP"/monitor/monitor.h "$TOP"/monitor/pool.c \
	    "$TOP"/monitor/dispatch.c "$TOP"/monitor/agent.c "$T/top/monitor/"
	cp "$TOP/man/connect-sshd-ipc.7" "$T/top/man/"
	sed -i "$2" "$T/top/$1"
	if cmp -s "$TOP/$1" "$T/top/$1"; then
		echo "not ok - mutation did not apply: $3"; FAIL=$((FAIL + 1))
	elif /usr/bin/python3 "$HERE/check.py" --top "$T/top" >"$T/out" 2>&1; then
		echo "not ok - the check missed: $3"; FAIL=$((FAIL + 1))
	else
		PASS=$((PASS + 1))
	fi
}
mutate man/connect-sshd-ipc.7 's/^\.It Dv W_VERIFY Ta keyed Ta 16$/.It Dv W_VERIFY Ta keyed Ta 17/' \
	"ipc(7) gives W_VERIFY another limit"
mutate man/connect-sshd-ipc.7 '/^\.It Dv W_AUDIT /d' "ipc(7) leaves a request out"
mutate man/connect-sshd-ipc.7 's/^\.It Dv W_ROUTE Ta authenticated Ta once$/.It Dv W_ROUTE Ta authenticated, routed Ta once/' \
	"ipc(7) permits W_ROUTE in another state"
mutate man/connect-sshd-ipc.7 '/^keyed --W_VERIFY accepted--> authenticated$/d' \
	"ipc(7) leaves a transition out"
mutate man/connect-sshd-ipc.7 '/^any state --/d' "ipc(7) leaves out the closing rule"
mutate man/connect-sshd-ipc.7 's/^\.It Dv SSH_AGENTC_SIGN_REQUEST Ta 4$/.It Dv SSH_AGENTC_SIGN_REQUEST Ta 5/' \
	"ipc(7) gives agent signatures another bound"
mutate man/connect-sshd-ipc.7 's/^\.It Dv MON_MAX_KEY_QUERIES No = 64$/.It Dv MON_MAX_KEY_QUERIES No = 65/' \
	"ipc(7) quotes a bound with another value"
mutate monitor/dispatch.c 's/COUNT(MON_MAX_VERIFIES, WC_VERIFIES)/COUNT(MON_MAX_VERIFIES, WC_KEYS)/' \
	"W_VERIFY shares the keys' counter in the code"
mutate monitor/dispatch.c 's/{ IPC_W_AUDIT,\t   WS_BIT(WS_ROUTED),/{ IPC_W_AUDIT,\t   WS_BIT(WS_ROUTED) | WS_BIT(WS_AUTHED),/' \
	"the code permits W_AUDIT in another state"
mutate monitor/pool.c '/{ WS_KEYED,\tWS_AUTHED },/d' "the code drops a transition"
mutate monitor/pool.c 's/{ WS_ROUTING,\tWS_ROUTED },/{ WS_ROUTING,\tWS_ROUTED },\n\t{ WS_PREAUTH,\tWS_ROUTED },/' \
	"the code adds a transition"
mutate monitor/monitor.h 's/^#define MON_MAX_VERIFIES\t16/#define MON_MAX_VERIFIES\t15/' \
	"the code changes a bound"
mutate monitor/agent.c 's/AC_IDS, MON_MAX_AGENT_IDS,/AC_IDS, 3,/' \
	"the code changes the agent's bound"
mutate monitor/dispatch.c 's/{ IPC_W_AUDIT,\t   WS_BIT(WS_ROUTED),\tNO_LIMIT,/{ IPC_W_AUDIT,\t   WS_BIT(WS_ROUTED),\tDROP(10),/' \
	"a second row uses DROP, whose state is one per worker"

echo "contract: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
