# shutdown.sh - SIGTERM drains, tells the rest why and exits 0; an empty
# allowlist turns SSH off.
# Run by topic.sh (its gateway "gw", the Studios, the keys).

# ---- SIGTERM: drain, tell the rest why, exit 0 ----
DR_PORT=$(free_port)
write_conf "$T/dr.conf" "$DR_PORT" 'limits = { drain_timeout = 4; };'
echo "[127.0.0.1]:$DR_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
"$B/connect-sshd" -f "$T/dr.conf" >"$T/dr.log" 2>&1 &
drpid=$!
if wait_log "$T/dr.log" "ready:"; then
	# The short session ends when the test says so (dr.go), after the
	# TERM: on a loaded machine a timed one could end before it.
	gw_ssh "$DR_PORT" "$T/alice" alice@s1 "echo short-started; while [ ! -e $T/dr.go ]; do sleep 0.1; done; echo short-done" > "$T/dr.short" 2>&1 &
	shp=$!
	GW_SSH_LOGLEVEL=INFO gw_ssh "$DR_PORT" "$T/alice" alice@s1 'echo long-started; sleep 60' > "$T/dr.longout" 2>"$T/dr.long" &
	lgp=$!
	# Both commands running on the Studio, however slow the logins and
	# the Studio's shells on a loaded machine: the short one then ends
	# within 0.1 s of dr.go, far inside the 4 s drain_timeout.
	for ((_i = 1; _i <= 600; _i++)); do
		grep -q short-started "$T/dr.short" && grep -q long-started "$T/dr.longout" && break
		nap 0.1
	done
	kill -TERM $drpid
	# The monitor logs this once its listeners are closed.
	wait_log "$T/dr.log" "no new connections; draining"
	if (exec 3<>"/dev/tcp/127.0.0.1/$DR_PORT") 2>/dev/null; then
		not_ok "SIGTERM: the listener is closed at once"
	else
		ok "SIGTERM: the listener is closed at once"
	fi
	touch "$T/dr.go"
	wait $shp
	[ "$(<"$T/dr.short")" = "$(printf 'short-started\nshort-done')" ] &&
		ok "SIGTERM: a session that ends within drain_timeout completes" ||
		not_ok "SIGTERM: short session ($(<"$T/dr.short"))"
	wait $lgp
	grep -q "The gateway is shutting down; reconnect to continue" "$T/dr.long" &&
		ok "SIGTERM: after drain_timeout the remaining client is told why" ||
		not_ok "SIGTERM: long session ($(<"$T/dr.long"))"
	wait $drpid
	rc=$?
	[ $rc = 0 ] && grep -q "draining 2 connection(s) for up to 4 s" "$T/dr.log" &&
		ok "SIGTERM: the monitor drains, then exits 0" ||
		not_ok "SIGTERM: monitor rc=$rc: $(tail -3 "$T/dr.log")"
else
	not_ok "start the gateway for drain tests"
	kill $drpid 2>/dev/null
fi

# ---- an empty allowlist turns SSH off ----
OFF_PORT=$(free_port)
write_conf "$T/off.conf" "$OFF_PORT"
sed -i 's/^allowed_workspaces = \[ 100 \];/allowed_workspaces = [ ];/' "$T/off.conf"
echo "[127.0.0.1]:$OFF_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_gateway off "$T/off.conf"; then
	gw_ssh "$OFF_PORT" "$T/alice" alice@s1 true 2>/dev/null
	rc=$?
	[ $rc = 255 ] && wait_log "$T/off.log" "reason=ssh-disabled" &&
		ok "an empty allowed_workspaces refuses every login (reason=ssh-disabled)" ||
		not_ok "empty allowed_workspaces (rc=$rc)"
	stop_gateway off
else
	not_ok "start the gateway with an empty allowlist"
fi
