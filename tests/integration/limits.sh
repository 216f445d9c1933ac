# limits.sh - memory and connection bounds (issue 12, items 7 and 8).
# Sourced by run.sh after the first exec tests; CSSHD_IT_ONLY=limits runs
# only these.

# ---- 128 direct-tcpip channels whose data the client never reads ----
# The Studio side sends forever on each; the client stops reading its TCP
# connection.  What the worker holds must stay bounded by the windows it
# granted, not grow with what the Studio can send.
CF_PORT=$(free_port)
write_conf "$T/cf.conf" "$CF_PORT"
if start_gateway cf "$T/cf.conf"; then
	out=$(/usr/bin/python3 "$HERE/chanflood.py" "$CF_PORT" "$T/alice" alice@s1 \
	    "$(cat "$T/cf.pid")" 128 12 2>&1 | tail -n 1)
	rss=$(echo "$out" | sed -n 's/.*peak_rss_kib=\([0-9]*\).*/\1/p')
	nch=$(echo "$out" | sed -n 's/^channels=\([0-9]*\) .*/\1/p')
	# The worker stops taking the Studio's data, and refuses new
	# channels, once its channels hold 16 MiB undelivered (relay.c):
	# 40 MiB leaves room for its own ~8 MiB and libssh's rounding.
	# ASan adds ~30 MiB of shadow and quarantine.
	cap=40960; [ "${SANITIZE:-}" = 1 ] && cap=122880
	[ "${nch:-0}" -ge 8 ] && [ "${rss:-0}" -gt 0 ] && [ "$rss" -lt "$cap" ] &&
	    { [ "$nch" = 128 ] || grep -q "direct-tcpip channel refused: the open channels hold" "$T/cf.log"; } &&
		ok "128 unread direct-tcpip channels: worker RSS stayed at ${rss} KiB (< $cap; $out)" ||
		{ not_ok "128 unread direct-tcpip channels ($out; cap $cap KiB)"; grep -v 'event=channel' "$T/cf.log" | tail -n 5 | sed 's/^/#   /'; }
	stop_gateway cf
else
	not_ok "start the gateway for the channel flood"
fi
