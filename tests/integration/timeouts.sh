# timeouts.sh - idle_timeout, keepalives and max_auth_tries.
# Run by topic.sh (its gateway "gw", the Studios, the keys).

# ---- idle timeout and keepalives for established sessions ----
# idle_timeout 6 s, not less: a `true` session moves no data, and on a
# loaded 2-core machine the Studio took over 3 s to run it.  Four
# keepalives a second apart, not two: a client starved of CPU for two
# seconds (make check, eight topics at once) was cut off mid-session.
LIM_PORT=$(free_port)
write_conf "$T/lim.conf" "$LIM_PORT" 'limits = { idle_timeout = 6; keepalive_interval = 1; keepalive_count_max = 4; max_auth_tries = 2; };'
echo "[127.0.0.1]:$LIM_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_gateway lim "$T/lim.conf"; then
	out=$(gw_ssh "$LIM_PORT" "$T/alice" alice@s1 'for i in 1 2 3 4 5 6 7 8 9; do echo tick; sleep 1; done' | wc -l)
	[ "$out" = 9 ] && ok "a session that moves data outlives idle_timeout and answers keepalives" ||
		not_ok "active session with idle_timeout=6 (got $out lines)"
	ssh -F /dev/null -p "$LIM_PORT" -i "$T/mallory" -i "$T/eve" -i "$T/dave" -i "$T/alice" \
	    -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
	    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts" \
	    alice@s1@127.0.0.1 true 2>"$T/tries.err"
	rc=$?
	[ $rc = 255 ] && grep -q "Too many authentication failures" "$T/tries.err" &&
		wait_log "$T/lim.log" "too many authentication failures (2)" &&
		ok "max_auth_tries = 2: the third key is not tried; the client is told why" ||
		not_ok "max_auth_tries (rc=$rc: $(<"$T/tries.err"))"
	check "max_auth_tries = 2: the right key first still logs in" \
		gw_ssh "$LIM_PORT" "$T/alice" alice@s1 true
	GW_SSH_LOGLEVEL=INFO gw_ssh "$LIM_PORT" "$T/alice" alice@s1 'sleep 30' 2>"$T/idle.err"
	rc=$?
	[ $rc = 255 ] && grep -q "Idle for 6 seconds: disconnected by the gateway" "$T/idle.err" &&
		wait_log "$T/lim.log" "closing idle connection: no data for 6 s" &&
		ok "idle_timeout closes a silent session and tells the client why" ||
		not_ok "idle_timeout (rc=$rc: $(<"$T/idle.err"))"
	sed -i 's/idle_timeout = 6;/idle_timeout = 0;/' "$T/lim.conf"
	stop_gateway lim
	start_gateway lim "$T/lim.conf"
	gw_ssh "$LIM_PORT" "$T/alice" alice@s1 'exec sleep 60 # keepalive-marker' >/dev/null 2>&1 &
	kap=$!
	sleep 2
	# A client that stops answering (its process frozen: the kernel still
	# acknowledges TCP, the SSH client says nothing).
	pkill -STOP -f "^ssh .*keepalive-marker"
	wait_log "$T/lim.log" "client did not answer 4 keepalives in 4 s" &&
		ok "keepalive_interval/keepalive_count_max close a connection whose client went silent" ||
		not_ok "keepalives: $(tail -3 "$T/lim.log")"
	pkill -KILL -f "^ssh .*keepalive-marker"
	wait $kap 2>/dev/null
	stop_gateway lim
else
	not_ok "start the gateway with idle and keepalive limits"
fi
