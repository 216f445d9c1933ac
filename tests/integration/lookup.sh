# lookup.sh - connect-sshd-lookup, the process that talks to Redis
# instead of the key-holding monitor, on a Redis of its own with the
# records written (redislib.sh); run by topic.sh.  Its sandbox; the
# monitor without a Redis client; a lookup process killed and replaced;
# Redis stopped for 10 s while a session rekeys and a cached login
# completes, and how long the monitor was ever away from its poll loop.

. "$HERE/redislib.sh"
redis_records ||
	{ not_ok "connect-sshctl: the registry records"; return 0 2>/dev/null || exit 1; }

LK_PORT=$(free_port)
LK_METRICS=$(free_port)
# As root, the lookup process runs as a user of its own (Debian's
# "daemon" here), apart from the workers' "nobody".
LK_USER_SETTING=
[ "$ROOT" = 1 ] && LK_USER_SETTING='lookup_user = "daemon";'

# Answers cached for a minute: a login the cache can answer needs no
# fresh lookup while Redis is stopped.
cat > "$T/lk.conf" <<EOF2
listen = [ "127.0.0.1:$LK_PORT" ];
key = "$T/gw_key";
workers = { prefork = 2; chroot = "$T/empty"; program = "$B/connect-sshd-worker";
            $LK_USER_SETTING };
log = { level = "info"; format = "text"; };
registry = { backend = "redis"; address = "127.0.0.1:$RDS_PORT"; user = "gw";
             password_file = "$T/gw.pass"; timeout_ms = 300; cache_ttl = 60; };
metrics_listen = "127.0.0.1:$LK_METRICS";
EOF2
echo "[127.0.0.1]:$LK_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"

# The lookup process of the monitor in $1.pid, or nothing.
lookup_pid() {
	pgrep -P "$(<"$T/$1.pid")" -f connect-sshd-lookup | head -1
}

if start_gateway lk "$T/lk.conf"; then
	LK_LOG=$T/lk.log
	MPID=$(<"$T/lk.pid")
	for ((_i = 1; _i <= 50; _i++)); do
		LPID=$(lookup_pid lk)
		[ -n "$LPID" ] && grep -q "info: lookup $LPID: registry: connected" "$LK_LOG" && break
		nap 0.1
	done
	st=/proc/$LPID/status
	want_uid=$(id -u)
	[ "$ROOT" = 1 ] && want_uid=$(id -u daemon)
	# Its workers keep workers.user.
	wpid=$(pgrep -P "$MPID" -f connect-sshd-worker | head -1)
	wuid=$(awk '/^Uid:/{print $2}' "/proc/$wpid/status" 2>/dev/null)
	want_wuid=$(id -u); [ "$ROOT" = 1 ] && want_wuid=$(id -u nobody)
	if [ -n "$LPID" ] && [ "$wuid" = "$want_wuid" ] &&
	    grep -q '^Seccomp:[[:space:]]*2' "$st" &&
	    grep -q '^NoNewPrivs:[[:space:]]*1' "$st" &&
	    grep -q "^Uid:[[:space:]]*$want_uid[[:space:]]" "$st" &&
	    ! grep -q hiredis "/proc/$MPID/maps" && grep -q hiredis "/proc/$LPID/maps"; then
		ok "connect-sshd-lookup holds the Redis client: uid $want_uid (workers: $wuid), no_new_privs, seccomp; the monitor maps no hiredis"
	else
		not_ok "lookup process: pid '$LPID' workers' uid '$wuid' $(grep -E '^(Uid|Seccomp|NoNewPrivs)' "$st" 2>/dev/null | tr '\n' ' ') monitor hiredis=$(grep -c hiredis "/proc/$MPID/maps")"
	fi

	out=$(gw_ssh "$LK_PORT" "$T/alice" alice@r1 'echo first' 2>&1)
	[ "$out" = first ] && ok "a login through the lookup process" ||
		not_ok "login through the lookup process: '$out'; $(tail -3 "$LK_LOG" | tr '\n' ' ')"

	# Killed (as by the OOM killer): logged, replaced within about a
	# second; logins work again, the monitor never stopped.
	kill -KILL "$LPID"
	login_again "$LK_PORT" again 0.25
	NPID=$(lookup_pid lk)
	[ "$out" = again ] && [ -n "$NPID" ] && [ "$NPID" != "$LPID" ] &&
		grep -q "lookup: connect-sshd-lookup died of KILL" "$LK_LOG" &&
		running "$MPID" &&
		ok "the lookup process killed: logged, replaced, logins work again ($n refused meanwhile)" ||
		not_ok "lookup replacement: '$out' after $n tries, pid $LPID -> '$NPID'; $(grep lookup "$LK_LOG" | tail -2 | tr '\n' ' ')"

	# Redis stopped for 10 s.  Meanwhile: a session sends 320 KiB, a
	# key exchange every 16 KiB (each one a host key signature by the
	# monitor); alice, whose answers are cached, logs in; bob, whose are
	# not, is told the registry is unavailable.
	bob_fp=$(ssh-keygen -lf "$T/bob.pub" | cut -d' ' -f2)
	ctl key add bob "$(<"$T/bob.pub")" > /dev/null && ctl member add 100 bob
	out=$(gw_ssh "$LK_PORT" "$T/alice" alice@r1 'echo warm' 2>&1)
	RPID=$(<"$T/redis-server.pidfile")
	kill -STOP "$RPID"
	t0=$(date +%s%N)
	python3 -c '
import sys, time
for i in range(80):
    sys.stdout.buffer.write(b"x" * 4096); sys.stdout.flush(); time.sleep(0.1)
' | GW_SSH_LOGLEVEL=DEBUG gw_ssh "$LK_PORT" "$T/alice" alice@r1 -o RekeyLimit=16K 'wc -c' \
	    > "$T/lk.stream" 2> "$T/lk.stream.err" &
	stream=$!
	sleep 2
	cached=$(gw_ssh "$LK_PORT" "$T/alice" alice@r1 'echo cached' 2>&1)
	t_cached=$(( ($(date +%s%N) - t0) / 1000000 ))
	GW_SSH_LOGLEVEL=INFO gw_ssh "$LK_PORT" "$T/bob" bob@r1 true 2> "$T/lk.bob.err"
	bob_rc=$?
	wait "$stream"
	kexes=$(grep -c "SSH2_MSG_NEWKEYS received" "$T/lk.stream.err")
	stall_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	sleep $(( 10 - stall_ms / 1000 > 0 ? 10 - stall_ms / 1000 : 0 ))
	kill -CONT "$RPID"
	curl -s --max-time 5 "http://127.0.0.1:$LK_METRICS/metrics" > "$T/lk.metrics"
	loop=$(awk '$1 == "connect_sshd_monitor_loop_max_seconds" { print $2 }' "$T/lk.metrics")
	[ "$(tr -d ' ' < "$T/lk.stream")" = 327680 ] && [ "$kexes" -ge 10 ] &&
		ok "Redis stopped 10 s: a session sends 320 KiB through $kexes key exchanges meanwhile" ||
		not_ok "session during the stall: '$(<"$T/lk.stream")' bytes, $kexes key exchanges; $(tail -2 "$T/lk.stream.err" | tr '\n' ' ')"
	[ "$out" = warm ] && [ "$cached" = cached ] &&
		grep -q "session id checked by this replica only" "$LK_LOG" &&
		ok "Redis stopped: a login the cache answers completes (${t_cached} ms into the stall)" ||
		not_ok "cached login during the stall: '$cached'; $(tail -3 "$LK_LOG" | tr '\n' ' ')"
	[ "$bob_rc" = 255 ] && grep -q "Registry unavailable" "$T/lk.bob.err" &&
		grep -q "event=auth.denied .*user=bob .*reason=registry-unavailable" "$LK_LOG" &&
		ok "Redis stopped: a login that needs Redis is told the registry is unavailable" ||
		not_ok "uncached login during the stall: rc=$bob_rc $(tr '\n' ' ' < "$T/lk.bob.err")"
	# Not a speed test: a bound far under the 10 s stall, which a
	# monitor that waited on Redis would exceed, and far over what a
	# busy machine under the sanitizers takes from it.
	[ -n "$loop" ] && python3 -c "import sys; sys.exit(0 if float('$loop') < 3.0 else 1)" &&
		ok "the monitor's longest time away from its poll loop: ${loop} s (Redis stopped 10 s)" ||
		not_ok "monitor loop: '$loop' s; $(grep 'away from its poll loop' "$LK_LOG" | tail -1)"
	ctl member remove 100 bob > /dev/null 2>&1
	ctl key remove bob "$bob_fp" > /dev/null 2>&1
	# SIGHUP: a lookup process whose settings did not change goes on (a
	# login in flight does not notice the reload); one whose settings
	# did is replaced.
	P1=$(lookup_pid lk)
	kill -HUP "$MPID"
	wait_log "$LK_LOG" "configuration reloaded" >/dev/null
	P2=$(lookup_pid lk)
	sed 's/timeout_ms = 300;/timeout_ms = 350;/' "$T/lk.conf" > "$T/lk.conf.new" &&
	    cat "$T/lk.conf.new" > "$T/lk.conf"
	reload_gateway lk
	P3=
	for ((_i = 1; _i <= 50; _i++)); do
		P3=$(lookup_pid lk)
		[ -n "$P3" ] && [ "$P3" != "$P2" ] && break
		nap 0.1
	done
	[ -n "$P1" ] && [ "$P1" = "$P2" ] && [ -n "$P3" ] && [ "$P3" != "$P2" ] &&
		ok "SIGHUP: the lookup process is kept when its settings did not change, replaced when they did" ||
		not_ok "lookup process over reloads: $P1 -> $P2 (unchanged) -> '$P3' (timeout_ms changed)"
	stop_gateway lk
else
	not_ok "start a gateway with the lookup process"
fi

# workers.lookup_user is checked at start-up as workers.user is: a user
# that does not exist, or root, stops the daemon with a clear message.
if [ "$ROOT" = 1 ]; then
	for bad in no-such-user-csshd root; do
		sed "s/lookup_user = \"daemon\";/lookup_user = \"$bad\";/" "$T/lk.conf" > "$T/lk-bad.conf"
		out=$(timeout 10 "$B/connect-sshd" -f "$T/lk-bad.conf" 2>&1)
		rc=$?
		want="does not exist: create it or set workers.lookup_user"
		[ "$bad" = root ] && want="is root: choose an unprivileged user"
		[ $rc = 1 ] && echo "$out" | grep -qF "workers.lookup_user \\x22$bad\\x22 $want" &&
			ok "workers.lookup_user \"$bad\": refused at start-up ($want)" ||
			not_ok "workers.lookup_user \"$bad\": rc=$rc $(echo "$out" | tail -1)"
	done
fi

# A registry address by name: the sandboxed lookup process resolves it
# itself (glibc's resolver: /etc/nsswitch.conf, /etc/hosts, and ::1
# refused before 127.0.0.1 answers), each time it connects.
LN_PORT=$(free_port)
sed "s|listen = \[ \"127.0.0.1:$LK_PORT\" \];|listen = [ \"127.0.0.1:$LN_PORT\" ];|; s|address = \"127.0.0.1:$RDS_PORT\"|address = \"localhost:$RDS_PORT\"|; /^metrics_listen/d" \
    "$T/lk.conf" > "$T/lkn.conf"
echo "[127.0.0.1]:$LN_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if grep -q "address = \"localhost:$RDS_PORT\"" "$T/lkn.conf" && start_gateway lkn "$T/lkn.conf"; then
	out=$(gw_ssh "$LN_PORT" "$T/alice" alice@r1 'echo by-name' 2>&1)
	[ "$out" = by-name ] && grep -q "lookup [0-9]*: registry: connected" "$T/lkn.log" &&
	    ! grep -q "killed by the sandbox\|connect-sshd-lookup died" "$T/lkn.log" &&
		ok "registry address localhost:PORT: resolved inside the lookup process's sandbox, the login works" ||
		not_ok "registry by name: '$out'; $(grep 'lookup' "$T/lkn.log" | tail -3 | tr '\n' ' ')"
	stop_gateway lkn
else
	not_ok "start a gateway whose registry address is a name"
fi
