# admission.sh - per_source_max_startups by IPv6 /64 (in a network
# namespace of its own), under a flood from one source and by default;
# max_sessions_per_user.  Run by topic.sh (its gateway "gw", the
# Studios, the keys).

# ---- per_source_max_startups groups IPv6 sources by /64 ----
# In a network namespace of our own, whose loopback carries documentation
# addresses (2001:db8::/32): two /64s, several addresses in one of them.
NS=csshd-v6-$$
if [ $ROOT = 1 ] && ip netns add "$NS" 2>/dev/null; then
	ip -n "$NS" link set lo up
	for a in 2001:db8:1::1 2001:db8:1::2 2001:db8:1::3 2001:db8:1::4 2001:db8:2::1; do
		ip -n "$NS" -6 addr add "$a/64" dev lo nodad
	done
	write_conf "$T/v6.conf" 2222 'limits = { per_source_max_startups = 2; login_grace_time = 30; };'
	sed -i 's|"127.0.0.1:2222"|"[2001:db8:1::1]:2222"|' "$T/v6.conf"
	ip netns exec "$NS" "$B/connect-sshd" -f "$T/v6.conf" > "$T/v6.log" 2>&1 &
	echo $! > "$T/v6.pid"
	if wait_log "$T/v6.log" "ready:" >/dev/null; then
		# Unauthenticated connections, held open: ::2 and ::3 fill the
		# /64's two places, so ::4 (a third address in it) is refused;
		# 2001:db8:2::1 is another /64 and is served.
		ip netns exec "$NS" python3 - > "$T/v6.out" 2>&1 <<'PY'
import socket, time
held = []
for src in ("2001:db8:1::2", "2001:db8:1::3", "2001:db8:1::4", "2001:db8:2::1"):
    s = socket.socket(socket.AF_INET6)
    s.bind((src, 0))
    s.connect(("2001:db8:1::1", 2222))
    s.settimeout(5)
    banner = s.recv(256)
    print(src, "banner" if banner.startswith(b"SSH-2.0-") else "none")
    held.append(s)
    time.sleep(0.3)
PY
		wait_log "$T/v6.log" "connection.refused .*2001:db8:1::4" >/dev/null
		refused=$(grep "connection.refused" "$T/v6.log" | grep -o "peer=[^ ]*" | tr '\n' ' ')
		case $refused in
		"peer=[2001:db8:1::4]:"*" ") [ "$(echo "$refused" | wc -w)" = 1 ] &&
			grep -q "connection.refused .*reason=per-source-max-startups" "$T/v6.log" ;;
		*) false ;;
		esac &&
			ok "per_source_max_startups counts an IPv6 /64 as one source (refused: $refused)" ||
			not_ok "IPv6 /64 grouping (refused: '$refused'; $(tr '\n' ' ' < "$T/v6.out"))"
	else
		not_ok "start a gateway on an IPv6 address in a network namespace"
		sed 's/^/#   /' "$T/v6.log"
	fi
	stop_gateway v6
	ip netns del "$NS"
else
	skip "IPv6 /64 grouping (needs root for a network namespace)"
fi

# ---- pre-authentication limits under a flood from one source ----
FL_PORT=$(free_port)
# per_source_max_startups below max_startups' start: one source alone can
# never push the others into random early drop.
write_conf "$T/fl.conf" "$FL_PORT" 'limits = { max_startups = "20:30:60"; per_source_max_startups = 10; login_grace_time = 30; };'
echo "[127.0.0.1]:$FL_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_gateway fl "$T/fl.conf"; then
	flpid=$(<"$T/fl.pid")
	rss0=$(awk '/^VmRSS:/{print $2}' "/proc/$flpid/status")
	rm -f "$T/flood.ready"
	python3 "$HERE/flood.py" "$FL_PORT" 1000 200 20 "$T/flood.ready" > "$T/flood.out" 2>&1 &
	flp=$!
	for ((_i = 1; _i <= 300; _i++)); do [ -e "$T/flood.ready" ] && break; nap 0.1; done
	rss1=$(awk '/^VmRSS:/{print $2}' "/proc/$flpid/status")
	nw=$(pgrep -P "$flpid" | wc -l)
	out=$(ssh -F /dev/null -p "$FL_PORT" -i "$T/alice" -o IdentitiesOnly=yes -o IdentityAgent=none \
	    -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts" \
	    -o BindAddress=127.0.0.2 -o ConnectTimeout=10 -o LogLevel=ERROR \
	    alice@s1@127.0.0.1 'echo legit-ok' 2>&1)
	[ "$out" = legit-ok ] &&
		ok "1000 idle + 200 stalled connections from 127.0.0.1: a login from 127.0.0.2 succeeds" ||
		not_ok "login during a flood (got '$out')"
	out=$(GW_SSH_LOGLEVEL=INFO gw_ssh "$FL_PORT" "$T/alice" alice@s1 true 2>&1)
	echo "$out" | grep -q "Too many connections to the gateway" &&
		wait_log "$T/fl.log" "connection.refused .*reason=per-source-max-startups" &&
		ok "per_source_max_startups: the flooding source is refused, and told why" ||
		not_ok "per-source refusal (got '$out')"
	wait $flp
	rss2=$(awk '/^VmRSS:/{print $2}' "/proc/$flpid/status")
	[ $((rss1 - rss0)) -lt 8192 ] && [ "$nw" -le 16 ] &&
		ok "monitor memory bounded under the flood: RSS ${rss0} -> ${rss1} -> ${rss2} KiB, $nw workers ($(<"$T/flood.out"))" ||
		not_ok "flood: RSS ${rss0} -> ${rss1} -> ${rss2} KiB, $nw workers ($(<"$T/flood.out"))"
	stop_gateway fl
else
	not_ok "start the gateway for the flood test"
fi

# ---- limits.max_sessions_per_user ----
MU_PORT=$(free_port)
write_conf "$T/mu.conf" "$MU_PORT" 'limits = { max_sessions_per_user = 2; };'
echo "[127.0.0.1]:$MU_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_gateway mu "$T/mu.conf"; then
	mupid=$(<"$T/mu.pid")
	rm -f "$T/mu.go"
	for i in 1 2; do
		gw_ssh "$MU_PORT" "$T/alice" alice@s1 "echo held-$i; while [ ! -e $T/mu.go ]; do sleep 0.2; done" \
		    > "$T/mu.held.$i" 2>&1 &
		eval "mu_p$i=\$!"
	done
	for ((_i = 1; _i <= 100; _i++)); do
		[ "$(cat "$T"/mu.held.* 2>/dev/null | grep -c held-)" = 2 ] && break
		nap 0.1
	done
	out=$(GW_SSH_LOGLEVEL=INFO gw_ssh "$MU_PORT" "$T/alice" alice@s1 'echo third' 2>&1)
	rc=$?
	[ $rc = 255 ] && echo "$out" | grep -q "Too many connections for this user through the gateway (limit 2)" &&
	    ! echo "$out" | grep -q third &&
	    wait_log "$T/mu.log" "connection.refused .*user=alice session=s1 reason=max-sessions-per-user detail=\"2 open, limit 2\"" &&
		ok "max_sessions_per_user = 2: a third login of alice is refused, told why, audited" ||
		{ not_ok "max_sessions_per_user: third login (rc=$rc: $out)"; grep refused "$T/mu.log" | sed 's/^/#   /'; }
	out=$(gw_ssh "$MU_PORT" "$T/bob" bob@s1 'echo bob-ok' 2>&1)
	[ "$out" = bob-ok ] && ok "max_sessions_per_user: another user still logs in" ||
		not_ok "max_sessions_per_user: bob (got '$out')"
	# A reload raises the limit for new logins.
	sed -i 's/max_sessions_per_user = 2;/max_sessions_per_user = 3;/' "$T/mu.conf"
	kill -HUP "$mupid"
	wait_log "$T/mu.log" "configuration reloaded" >/dev/null
	closed0=$(grep -c "event=session.closed .*user=alice " "$T/mu.log")
	out=$(gw_ssh "$MU_PORT" "$T/alice" alice@s1 'echo third' 2>&1)
	[ "$out" = third ] && ok "max_sessions_per_user: raised to 3 by SIGHUP, the third login succeeds" ||
		not_ok "max_sessions_per_user after reload (got '$out')"
	# Ended connections no longer count.
	sed -i 's/max_sessions_per_user = 3;/max_sessions_per_user = 2;/' "$T/mu.conf"
	kill -HUP "$mupid"
	for ((_i = 1; _i <= 100; _i++)); do
		[ "$(grep -c 'configuration reloaded' "$T/mu.log")" -ge 2 ] && break
		nap 0.1
	done
	touch "$T/mu.go"
	wait $mu_p1 $mu_p2
	# Their workers (and the third's) count until the monitor has
	# reaped them.
	for ((_i = 1; _i <= 100; _i++)); do
		[ "$(grep -c "event=session.closed .*user=alice " "$T/mu.log")" -ge $((closed0 + 3)) ] && break
		nap 0.1
	done
	out=$(gw_ssh "$MU_PORT" "$T/alice" alice@s1 'echo again' 2>&1)
	[ "$out" = again ] && ok "max_sessions_per_user: once alice's connections end, she logs in again" ||
		not_ok "max_sessions_per_user after the connections ended (got '$out')"
	stop_gateway mu
else
	not_ok "start the gateway for max_sessions_per_user"
fi

# ---- per_source_max_startups is on by default ----
# 1000 idle connections from 127.0.0.2 against the default limits: the
# flooding address gets 5 unauthenticated connections (half of
# max_startups' start of 10), the rest are refused at once, and a login
# from 127.0.0.1 goes through.  (flood.py raises its own descriptor limit
# to 1000 + 64; the monitor closes what it refuses.)
PD_PORT=$(free_port)
write_conf "$T/pd.conf" "$PD_PORT"
echo "[127.0.0.1]:$PD_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if ! "$B/connect-sshd" -T -f "$T/pd.conf" | grep -q '^  per_source_max_startups = 5;$'; then
	not_ok "per_source_max_startups defaults to 5 ($("$B/connect-sshd" -T -f "$T/pd.conf" | grep startups | tr '\n' ' '))"
elif [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 1100 ]; then
	skip "1000 idle connections need 1100 descriptors (ulimit -Hn is $(ulimit -Hn))"
elif start_gateway pd "$T/pd.conf"; then
	rm -f "$T/pd.ready"
	python3 "$HERE/flood.py" "$PD_PORT" 1000 0 15 "$T/pd.ready" 127.0.0.2 > "$T/pd.out" 2>&1 &
	pdp=$!
	for ((_i = 1; _i <= 300; _i++)); do [ -e "$T/pd.ready" ] && break; nap 0.1; done
	out=$(gw_ssh "$PD_PORT" "$T/alice" alice@s1 'echo legit-ok' 2>&1)
	wait $pdp
	nref=$(grep -c 'connection.refused .*peer=127.0.0.2:.* reason=per-source-max-startups' "$T/pd.log")
	[ "$out" = legit-ok ] && [ "$nref" -ge 900 ] &&
		ok "default limits: 1000 idle connections from 127.0.0.2 ($nref refused per source), a login from 127.0.0.1 succeeds ($(<"$T/pd.out"))" ||
		{ not_ok "default per-source limit under a flood (login: '$out'; $nref refused; $(<"$T/pd.out"))"; grep -v 'per-source' "$T/pd.log" | tail -n 5 | sed 's/^/#   /'; }
	stop_gateway pd
else
	not_ok "start the gateway for the default per-source test"
fi
