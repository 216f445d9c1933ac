# admission.sh - per_source_max_startups by IPv6 /64 (in a network
# namespace of its own) and under a flood from one source.
# Run by topic.sh (its gateway "gw", the Studios, the keys).

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
	flpid=$(cat "$T/fl.pid")
	rss0=$(awk '/^VmRSS:/{print $2}' "/proc/$flpid/status")
	rm -f "$T/flood.ready"
	python3 "$HERE/flood.py" "$FL_PORT" 1000 200 20 "$T/flood.ready" > "$T/flood.out" 2>&1 &
	flp=$!
	for _ in $(seq 1 300); do [ -e "$T/flood.ready" ] && break; sleep 0.1; done
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
		ok "monitor memory bounded under the flood: RSS ${rss0} -> ${rss1} -> ${rss2} KiB, $nw workers ($(cat "$T/flood.out"))" ||
		not_ok "flood: RSS ${rss0} -> ${rss1} -> ${rss2} KiB, $nw workers ($(cat "$T/flood.out"))"
	stop_gateway fl
else
	not_ok "start the gateway for the flood test"
fi
