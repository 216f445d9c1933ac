# limits.sh - memory bounds (issue 12, item 7); the connection bounds
# are in admission.sh.  Run by topic.sh (its gateway "gw", the Studios
# and keys).

# flood_ending LOG: how a flood's connection ended, for a failure's
# report (the next login's lines last).
flood_ending() {
	grep -E "session\.closed|closing|killed|signal|allocate|memory|relay failed|error" "$1" |
	    grep -v 'event=channel' | tail -n 8 | sed 's/^/#   /'
}

# ---- 128 direct-tcpip channels whose data the client never reads ----
# The Studio side sends forever on each; the client stops reading its TCP
# connection.  What the worker holds must stay bounded by the windows it
# granted, not grow with what the Studio can send.
CF_PORT=$(free_port)
write_conf "$T/cf.conf" "$CF_PORT"
echo "[127.0.0.1]:$CF_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_gateway cf "$T/cf.conf"; then
	# Every worker's memory is bounded (worker/sandbox.c); not in the
	# sanitizer build, whose shadow memory RLIMIT_DATA would count.
	wpid=$(pgrep -P "$(<"$T/cf.pid")" | head -1)
	lim=$(awk '/^Max data size/{print $4 "/" $5}' "/proc/$wpid/limits" 2>/dev/null)
	want=268435456/268435456; [ "${SANITIZE:-}" = 1 ] && want=unlimited/unlimited
	[ "$lim" = "$want" ] && ok "workers run with RLIMIT_DATA $lim" ||
		not_ok "worker RLIMIT_DATA is '$lim', expected $want"
	out=$(/usr/bin/python3 "$HERE/chanflood.py" "$CF_PORT" "$T/alice" alice@s1 \
	    "$(<"$T/cf.pid")" 128 12 2>&1 | tail -n 1)
	rss=$(echo "$out" | sed -n 's/.*peak_rss_kib=\([0-9]*\).*/\1/p')
	nch=$(echo "$out" | sed -n 's/^channels=\([0-9]*\) .*/\1/p')
	# The worker writes towards the client only what its socket takes,
	# and refuses new channels once its channels hold 64 MiB
	# undelivered (relay.c): 128 MiB leaves room for its own ~8 MiB, the
	# channels opened before the budget was reached filling their 2 MiB
	# windows, and libssh's buffers (82-86 MiB seen, 36-38 channels).
	# Under ASan the bound is the behaviour, not the size: its quarantine
	# keeps up to 256 MiB of freed memory resident, and these relays free
	# a lot (263 MiB resident here, 440 MiB the other way).
	cap=131072; [ "${SANITIZE:-}" = 1 ] && cap=1048576
	[ "${nch:-0}" -ge 8 ] && [ "${rss:-0}" -gt 0 ] && [ "$rss" -lt "$cap" ] &&
	    [ "$nch" -lt 128 ] &&
	    grep -q "direct-tcpip channel refused: the open channels hold" "$T/cf.log" &&
		ok "128 unread direct-tcpip channels: worker RSS stayed at ${rss} KiB (< $cap; $out)" ||
		{ not_ok "128 unread direct-tcpip channels ($out; cap $cap KiB)"; grep -v 'event=channel' "$T/cf.log" | tail -n 5 | sed 's/^/#   /'; }
	# The other way: the Studio-side listener never reads, the client
	# sends on every channel, all 96 opened before any data.  Each
	# channel takes in its 2 MiB window while the Studio's takes the
	# data (192 MiB: 96 channels, not 128, so that a loaded machine,
	# where the Studio keeps up, sends less before the bound; 96 x 2 MiB
	# is still past RELAY_HOLD_MAX), and the worker does not stop
	# reading the client's socket (the other direction's window
	# adjustments and keepalives arrive there): the worker ends the
	# connection itself once its channels hold 160 MiB (relay.c,
	# RELAY_HOLD_MAX) or its heap 192 MiB, well within RLIMIT_DATA: cleanly
	# (no crash, no failed allocation), with the gateway serving the
	# next login.  Before that bound, the worker reached RLIMIT_DATA
	# (262080 KiB seen) and, now and then, failed there; with the heap
	# checked once per pass, it still did on a loaded machine.  (With
	# the Studio's sshd stopped instead, which would save the Studio
	# taking in 256 MiB, the client sometimes stopped sending short of
	# the bound.)
	out=$(/usr/bin/python3 "$HERE/chanflood.py" "$CF_PORT" "$T/alice" alice@s1 \
	    "$(<"$T/cf.pid")" 96 90 up 2>&1 | tail -n 1)
	data=$(echo "$out" | sed -n 's/.*peak_data_kib=\([0-9]*\).*/\1/p')
	nch=$(echo "$out" | sed -n 's/^channels=\([0-9]*\) .*/\1/p')
	datacap=229376	# RELAY_HEAP_MAX (192 MiB) + 32 MiB
	# ASan's VmData counts its shadow reservation (terabytes): there,
	# bound the resident peak instead.
	[ "${SANITIZE:-}" = 1 ] && datacap=1048576 &&
	    data=$(echo "$out" | sed -n 's/.*peak_rss_kib=\([0-9]*\).*/\1/p')
	again=$(gw_ssh "$CF_PORT" "$T/alice" alice@s1 'echo after-flood' 2>&1)
	[ "${nch:-0}" -ge 8 ] && [ "${data:-0}" -gt 0 ] && [ "$data" -le "$datacap" ] &&
	    grep -q "closing the connection: its [0-9]* channels hold [0-9]* bytes" "$T/cf.log" &&
	    ! grep -q "killed by signal\|Cannot allocate\|out of memory" "$T/cf.log" &&
	    [ "$again" = after-flood ] &&
		ok "96 direct-tcpip channels the Studio side never reads: worker data ${data} KiB (<= $datacap), the worker ends that connection alone, next login works ($out)" ||
		{ not_ok "96 channels the Studio side never reads ($out; cap $datacap KiB; next login: '$again')"
		  flood_ending "$T/cf.log"; }
	stop_gateway cf
else
	not_ok "start the gateway for the channel flood"
fi

# ---- a worker out of memory ends its connection cleanly ----
# The test worker's RLIMIT_DATA (128 MiB, worker/sandbox.c) is below the
# relay's own bound, so the same upward flood, on 64 channels (128 MiB
# of 2 MiB windows, which libssh's buffers double), makes an allocation
# in libssh fail.  libssh freed the channel's buffer then and dereferenced
# the NULL on the next poll: SIGSEGV
# (scripts/libssh-patches/0004-channels-keep-buffer-on-oom.patch).
if [ "${SANITIZE:-}" != 1 ]; then
	OM_PORT=$(free_port)
	write_conf "$T/om.conf" "$OM_PORT"
	sed -i "s|program = \"$B/connect-sshd-worker\"|program = \"$B/connect-sshd-worker-test\"|" "$T/om.conf"
	echo "[127.0.0.1]:$OM_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
	if start_gateway om "$T/om.conf"; then
		out=$(/usr/bin/python3 "$HERE/chanflood.py" "$OM_PORT" "$T/alice" alice@s1 \
		    "$(<"$T/om.pid")" 64 90 up 2>&1 | tail -n 1)
		again=$(gw_ssh "$OM_PORT" "$T/alice" alice@s1 'echo after-oom' 2>&1)
		grep -q "event=session.closed conn=1 .*worker=\"exited with status" "$T/om.log" &&
		    grep -q "conn 1: .*\(Cannot allocate memory\|Out of memory\)" "$T/om.log" &&
		    ! grep -q "killed by signal" "$T/om.log" && [ "$again" = after-oom ] &&
			ok "a worker whose allocation fails (RLIMIT_DATA) ends that connection cleanly and says so, no crash; next login works" ||
			{ not_ok "a worker out of memory ($out; next login: '$again')"
			  flood_ending "$T/om.log"; }
		stop_gateway om
	else
		not_ok "start the gateway for the out-of-memory flood"
	fi
else
	skip "a worker out of memory (the sanitizer build sets no RLIMIT_DATA)"
fi
