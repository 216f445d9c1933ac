# reload.sh - SIGHUP: a new configuration for new connections only; an
# invalid file keeps the old one; reloads while the pool is starting and
# in a storm.
# Run by topic.sh (its gateway "gw", the Studios, the keys).

# ---- SIGHUP: a new configuration for new connections only ----
# live_workers PID: the monitor's children still running, sorted.
live_workers() {
	ps -o pid=,stat= --ppid "$1" | awk '$2 !~ /^Z/ { print $1 }' | sort -n |
		tr '\n' ' '
}
# settled_workers PID N: wait up to 5 s for exactly N of them, then list.
settled_workers() {
	local _i
	for ((_i = 1; _i <= 50; _i++)); do
		[ "$(live_workers "$1" | wc -w)" = "$2" ] && break
		nap 0.1
	done
	live_workers "$1"
}
RL_PORT=$(free_port)
write_conf "$T/rl.conf" "$RL_PORT"
echo "[127.0.0.1]:$RL_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
cp "$T/keys/bob" "$T/keys/bob.saved"
if start_gateway rl "$T/rl.conf"; then
	rlpid=$(<"$T/rl.pid")
	gw_ssh "$RL_PORT" "$T/bob" bob@s1 'echo bob-in; sleep 4; echo bob-still-here' > "$T/rl.bob" 2>&1 &
	bobp=$!
	# bob's session runs on the Studio before his key goes, however slow
	# the login on a loaded machine.
	for ((_i = 1; _i <= 300; _i++)); do grep -q bob-in "$T/rl.bob" && break; nap 0.1; done
	: > "$T/keys/bob"		# bob's key is revoked
	echo 'limits = { idle_timeout = 4321; max_startups = "20:30:100"; };' >> "$T/rl.conf"
	kill -HUP "$rlpid"
	wait_log "$T/rl.log" "configuration reloaded" || true
	grep -q 'reload: limits.idle_timeout: [0-9]* -> 4321$' "$T/rl.log" &&
	    grep -q 'reload: limits.max_startups: 10:30:100 -> 20:30:100$' "$T/rl.log" &&
	    grep -q 'reload: limits.per_source_max_startups: 5 -> 10$' "$T/rl.log" &&
	    [ "$(grep -c 'reload: ' "$T/rl.log")" = 3 ] &&
		ok "SIGHUP: the limits that changed are logged, old and new value (3)" ||
		not_ok "SIGHUP: changed limits: $(grep 'reload: ' "$T/rl.log" | tr '\n' ' ')"
	gw_ssh "$RL_PORT" "$T/bob" bob@s1 true 2>/dev/null
	rc=$?
	[ $rc = 255 ] && wait_log "$T/rl.log" "auth.denied .*user=bob .*reason=key-not-registered" &&
		ok "SIGHUP: a removed key can no longer log in" ||
		not_ok "SIGHUP: removed key (rc=$rc)"
	wait $bobp
	[ "$(<"$T/rl.bob")" = "$(printf 'bob-in\nbob-still-here')" ] &&
		ok "SIGHUP: an established session of that user continues" ||
		not_ok "SIGHUP: established session ($(<"$T/rl.bob"))"
	check "SIGHUP: other users still log in" gw_ssh "$RL_PORT" "$T/alice" alice@s1 true
	printf 'users = ( { name = "alice"; keys = [ 42 ]; } );\nthis is not libconfig\n' >> "$T/rl.conf"
	before=$(settled_workers "$rlpid" 2)
	kill -HUP "$rlpid"
	wait_log "$T/rl.log" "reload failed: keeping the running configuration" &&
		grep -q "error: $T/rl.conf:[0-9]*: " "$T/rl.log" &&
		ok "SIGHUP with an invalid file: file:line errors logged, the old configuration stays" ||
		not_ok "SIGHUP invalid: $(tail -3 "$T/rl.log")"
	after=$(live_workers "$rlpid")
	[ -n "$before" ] && [ "$before" = "$after" ] &&
		ok "SIGHUP invalid: the pre-forked workers are left alone" ||
		not_ok "SIGHUP invalid: workers before [$before] after [$after]"
	check "SIGHUP invalid: logins still work" gw_ssh "$RL_PORT" "$T/alice" alice@s1 true
	! grep -q "not permitted" "$T/rl.log" &&
		ok "SIGHUP invalid: no worker is judged a protocol violation" ||
		not_ok "SIGHUP invalid: $(grep "not permitted" "$T/rl.log" | head -1)"
	kill -0 "$rlpid" 2>/dev/null && ok "SIGHUP: the monitor keeps running" || not_ok "SIGHUP: the monitor died"
	stop_gateway rl
else
	not_ok "start the gateway for reload tests"
fi
cp "$T/keys/bob.saved" "$T/keys/bob"

# An invalid file while the pool is still starting (a worker that takes
# 2 s): the starting workers are not retired, and when their W_READY
# comes it is welcome; the first login is theirs.
printf '#!/bin/sh\n/bin/sleep 2\nexec %s\n' "$B/connect-sshd-worker" > "$T/rf-worker"
chmod 755 "$T/rf-worker"
RF_PORT=$(free_port)
write_conf "$T/rf.conf" "$RF_PORT"
sed -i "s|program = \"$B/connect-sshd-worker\"|program = \"$T/rf-worker\"|" "$T/rf.conf"
echo "[127.0.0.1]:$RF_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_gateway rf "$T/rf.conf"; then
	rfpid=$(<"$T/rf.pid")
	before=$(settled_workers "$rfpid" 2)
	echo 'this is not libconfig' >> "$T/rf.conf"
	kill -HUP "$rfpid"
	wait_log "$T/rf.log" "reload failed: keeping the running configuration" ||
		not_ok "SIGHUP invalid while starting: no refusal logged"
	after=$(live_workers "$rfpid")
	[ -n "$before" ] && [ "$before" = "$after" ] &&
		ok "SIGHUP invalid while workers start: they are left alone" ||
		not_ok "SIGHUP invalid while starting: workers before [$before] after [$after]"
	check "SIGHUP invalid while workers start: a login right after works" \
		gw_ssh "$RF_PORT" "$T/alice" alice@s1 true
	nap 0.5
	! grep -q "not permitted\|killing worker" "$T/rf.log" &&
		ok "SIGHUP invalid while workers start: their W_READY is no protocol violation" ||
		not_ok "SIGHUP invalid while starting: $(grep "not permitted\|killing worker" "$T/rf.log" | head -1)"
	stop_gateway rf
else
	not_ok "start the gateway for the reload-while-starting test"
fi

# Valid reloads, one after another, while the pool refills: each retires
# the workers that were starting, some with their W_READY already sent
# while the monitor was parsing (3000 users make that take a while).
HS_PORT=$(free_port)
write_conf "$T/hs.conf" "$HS_PORT"
sed -i 's/prefork = 2;/prefork = 8;/' "$T/hs.conf"
python3 - "$T/hs.conf" "$T/alice.pub" <<'PY'
import sys
conf, key = sys.argv[1], open(sys.argv[2]).read().strip()
s = open(conf).read()
more = "".join('{ name = "u%d"; keys = [ "%s" ]; },\n' % (i, key) for i in range(3000))
open(conf, "w").write(s.replace("users = ( ", "users = ( " + more, 1))
PY
echo "[127.0.0.1]:$HS_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_gateway hs "$T/hs.conf"; then
	hspid=$(<"$T/hs.pid")
	for ((i = 1; i <= 25; i++)); do
		kill -HUP "$hspid"
		sleep "0.$((i % 4))$((i % 10))"
	done
	# Under ASan and load one reload outlasts many of those signals,
	# which then make one more: go on until three reloads (at most 30 s).
	for ((_i = 1; _i <= 60; _i++)); do
		[ "$(grep -c "configuration reloaded" "$T/hs.log")" -ge 3 ] && break
		kill -HUP "$hspid"
		nap 0.5
	done
	# (Signals that come during a reload make one more reload.)  Wait
	# until the monitor is done: its CPU time and its count of reloads
	# unchanged for a second.  Under ASan and other tests' load one
	# reload of 3000 users took seconds, and a login sent while they
	# went on timed out in its banner exchange.
	n=-1 cpu=-1
	for ((_i = 1; _i <= 90; _i++)); do
		m=$(grep -c "configuration reloaded" "$T/hs.log")
		c=$(awk '{ print $14 + $15 }' "/proc/$hspid/stat" 2>/dev/null)
		[ "$m" = "$n" ] && [ "$c" = "$cpu" ] && break
		n=$m cpu=$c
		sleep 1
	done
	check "SIGHUP storm: a login right after works" gw_ssh "$HS_PORT" "$T/alice" alice@s1 true
	! grep -q "not permitted" "$T/hs.log" && [ "$n" -ge 3 ] &&
		ok "SIGHUP storm: $n reloads retire starting workers, no W_READY judged a violation" ||
		not_ok "SIGHUP storm ($n reloads): $(grep -c "not permitted" "$T/hs.log") violations: $(grep -m1 "not permitted" "$T/hs.log")"
	stop_gateway hs
else
	not_ok "start the gateway for the SIGHUP storm"
fi
