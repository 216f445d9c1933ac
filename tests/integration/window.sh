# window.sh - the gateway grants channel window early and often, on both
# legs (issue 14).  The worker's libssh, patched by
# scripts/libssh-patches/0001-channels-adjust-window-early.patch, sends a
# WINDOW_ADJUST once 96 KiB (three packets) of a channel's 2 MiB window
# has been consumed, as OpenSSH does; unpatched, libssh waits until it can
# grant half the window (1 MiB) at once, and over a long round trip each
# leg then carries about half a window per round trip.
#
# Counted from OpenSSH's own debug logs ("rcvd adjust N"), not timed:
#   client leg  an upload; the ssh client at LogLevel DEBUG2 logs each
#               adjust the gateway (libssh as server) sends it
#   Studio leg  a download; a Studio sshd at LogLevel DEBUG2 logs each
#               adjust the worker (libssh as client) sends it
# and on each leg the window granted, initial plus adjusts, never runs
# more than 2 MiB ahead of the 16 MiB sent: what the worker may come to
# buffer stays bounded by the window it grants.
# Run by topic.sh with lib.sh's helpers; its own Studio and gateway.

WIN_STUDIO_PORT=$(free_port)
WN_PORT=$(free_port)
WIN_BYTES=16777216
WIN_MAX=2097152
if STUDIO_LOGLEVEL=DEBUG2 start_studio "$WIN_STUDIO_PORT" "$T/winstudio" key; then
	# s5 (upstream_auth "key") routed to the debug-logging Studio.
	write_conf "$T/wn.conf" "$WN_PORT" 'limits = { per_source_max_startups = 0; };'
	sed -i "s|127.0.0.1:$KEY_STUDIO_PORT|127.0.0.1:$WIN_STUDIO_PORT|" "$T/wn.conf"
	echo "[127.0.0.1]:$WN_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
fi

# window_check LEG LOG INITIAL: judge the adjusts in LOG ("rcvd adjust N"
# lines), after an initial window INITIAL, for WIN_BYTES sent.
window_check() {
	local leg=$1 log=$2 init=$3 r
	r=$(grep -o 'rcvd adjust [0-9]*' "$log" | awk -v init="$init" \
	    -v sent="$WIN_BYTES" -v max="$WIN_MAX" '
		{ n++; sum += $3; if (n > 1 && $3 < max / 2) small++
		  if ($3 > big) big = $3 }
		END { printf "%d %d %d %d\n", n, small, big, init + sum - sent }')
	set -- $r
	# The first adjust may top up a small initial window (libssh accepts
	# a client's channel with 32000 bytes); every later one comes after
	# at most 96 KiB plus one read were consumed.  Unpatched, none is
	# below 1 MiB.
	[ "${1:-0}" -ge 8 ] && [ "${2:-0}" -ge $(( $1 - 2 )) ] &&
		ok "window: $leg leg: $1 adjusts for 16 MiB, $2 of them below half the window (largest $3)" ||
		not_ok "window: $leg leg: adjusts ${1:-0}, below half the window ${2:-0}, largest ${3:-0} (want >= 8, nearly all small)"
	[ -n "${4:-}" ] && [ "$4" -le "$WIN_MAX" ] &&
		ok "window: $leg leg: granted window ends $4 bytes ahead of the data (<= 2 MiB)" ||
		not_ok "window: $leg leg: granted window ends ${4:-?} bytes ahead of the data (> 2 MiB)"
}

if [ -f "$T/wn.conf" ] && start_gateway wn "$T/wn.conf"; then
	# Client leg: upload; the ssh client logs the gateway's adjusts.
	head -c "$WIN_BYTES" /dev/zero |
		GW_SSH_LOGLEVEL=DEBUG2 gw_ssh "$WN_PORT" "$T/alice" alice@s5 \
		'cat > /dev/null' 2> "$T/wn.up.err"
	rc=$?
	init=$(sed -n 's/.*channel 0: open confirm rwindow \([0-9]*\).*/\1/p' "$T/wn.up.err" | head -n 1)
	if [ $rc = 0 ] && [ -n "$init" ]; then
		window_check client "$T/wn.up.err" "$init"
	else
		not_ok "window: client leg: upload (rc=$rc, initial window '$init')"
		tail -n 20 "$T/wn.up.err" | sed 's/^/#   /'
	fi

	# Studio leg: download; the Studio's sshd logs the worker's adjusts.
	# Only this connection's lines: the log so far is cut off.
	lines=$(wc -l < "$T/winstudio/sshd.log")
	gw_ssh "$WN_PORT" "$T/alice" alice@s5 "head -c $WIN_BYTES /dev/zero" \
	    2> "$T/wn.down.err" | cmp -s - <(head -c "$WIN_BYTES" /dev/zero)
	rc=$?
	nap 0.5	# the Studio's session process logs as it exits
	tail -n +"$((lines + 1))" "$T/winstudio/sshd.log" > "$T/wn.studio.log"
	init=$(sed -n 's/.*ctype session rchan [0-9]* win \([0-9]*\).*/\1/p' "$T/wn.studio.log" | head -n 1)
	if [ $rc = 0 ] && [ -n "$init" ]; then
		window_check Studio "$T/wn.studio.log" "$init"
	else
		not_ok "window: Studio leg: download (rc=$rc, initial window '$init')"
		tail -n 20 "$T/wn.down.err" "$T/wn.studio.log" | sed 's/^/#   /'
	fi
	stop_gateway wn
else
	not_ok "window: the debug-logging Studio and its gateway start"
fi
[ -f "$T/winstudio/sshd.pid" ] && kill "$(<"$T/winstudio/sshd.pid")" 2>/dev/null
rm -f "$T/winstudio/sshd.pid"
