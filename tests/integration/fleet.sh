# fleet.sh - behind an L4 balancer: the PROXY protocol (v1 from a
# ProxyCommand that plays the balancer, v2 from a real HAProxy in front of
# two replicas sharing the key and a Redis registry: redislib.sh).
# Loopback only.  Run by topic.sh.

. "$HERE/redislib.sh"
redis_records ||
	{ not_ok "connect-sshctl: the registry records"; return 0 2>/dev/null || exit 1; }

# pp_conf FILE PORT PROXY_FROM [extra settings]: one proxy_protocol listener
pp_conf() {
	local file=$1 port=$2 from=$3; shift 3
	write_conf "$file" "$port" "$@"
	sed -i "s|^listen = \[ \"127.0.0.1:$port\" \];|listen = ( { address = \"127.0.0.1:$port\"; proxy_protocol = true; proxy_from = [ $from ]; } );|" "$file"
	echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
}

# A ProxyCommand that sends a PROXY v1 header for SRC:SPORT, then relays.
cat > "$T/pp1.py" <<'PY'
import os, socket, sys, threading
host, port, src, sport = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((host, port))
s.sendall(("PROXY TCP4 %s %s %s %d\r\n" % (src, host, sport, port)).encode())
def up():
    while True:
        d = os.read(0, 65536)
        if not d:
            s.shutdown(socket.SHUT_WR)
            return
        s.sendall(d)
threading.Thread(target=up, daemon=True).start()
while True:
    d = s.recv(65536)
    if not d:
        break
    os.write(1, d)
PY

# hold PORT N [HEADER...]: open connections, send each HEADER (printf
# escapes) and hold them 3 s; print what each received at once.
hold() {
	python3 - "$@" <<'PY'
import socket, sys, time
port, hdrs = int(sys.argv[1]), sys.argv[2:]
held = []
for h in hdrs:
    s = socket.create_connection(("127.0.0.1", port))
    if h:
        s.sendall(h.encode().decode("unicode_escape").encode("latin-1"))
    held.append(s)
    time.sleep(0.3)
time.sleep(3)
PY
}

PP_PORT=$(free_port)
pp_conf "$T/pp.conf" "$PP_PORT" '"127.0.0.0/8"' \
	'limits = { proxy_header_timeout = 1; per_source_max_startups = 1; };'
if start_gateway pp "$T/pp.conf"; then
	out=$(gw_ssh "$PP_PORT" "$T/alice" alice@s1 \
	    -o ProxyCommand="python3 $T/pp1.py %h %p 198.51.100.7 40000" 'echo via-v1' 2>&1)
	[ "$out" = via-v1 ] &&
		grep -q "event=connection.proxied conn=[0-9]* peer=198.51.100.7:40000 via=127.0.0.1:" "$T/pp.log" &&
		grep -q "event=auth.accepted .*peer=198.51.100.7:40000 user=alice" "$T/pp.log" &&
		ok "PROXY v1: login works; logs name the client from the header, and the balancer" ||
		not_ok "PROXY v1 login (got '$out'; $(grep "event=connection" "$T/pp.log" | tail -2 | tr '\n' ' '))"
	gw_ssh "$PP_PORT" "$T/alice" alice@s1 true 2>/dev/null &&
		not_ok "a connection without a PROXY header was served" ||
		{ wait_log "$T/pp.log" 'reason=bad-proxy-header detail="no PROXY protocol header"' &&
			ok "a connection without a PROXY header is refused and logged" ||
			not_ok "no-header refusal not logged"; }
	hold "$PP_PORT" "" &
	holdp=$!
	wait_log "$T/pp.log" "reason=proxy-header-timeout" &&
		ok "a balancer that sends no header is dropped after proxy_header_timeout" ||
		not_ok "PROXY header timeout"
	wait "$holdp"
	hold "$PP_PORT" 'PROXY TCP4 198.51.100.9 127.0.0.1 1111 22\r\n' \
	    'PROXY TCP4 198.51.100.9 127.0.0.1 2222 22\r\n' \
	    'PROXY TCP4 198.51.100.10 127.0.0.1 3333 22\r\n' \
	    'PROXY TCP4 198.51.100.7 127.0.0.1 4444 22 extra\r\n'
	grep -q "connection.refused .*peer=198.51.100.9:2222 reason=per-source-max-startups" "$T/pp.log" &&
		! grep -q "connection.refused .*peer=198.51.100.9:1111" "$T/pp.log" &&
		! grep -q "connection.refused .*peer=198.51.100.10:3333" "$T/pp.log" &&
		ok "per_source_max_startups counts the client from the header, not the balancer" ||
		not_ok "per-source limit behind PROXY: $(grep 'connection.refused' "$T/pp.log" | tr '\n' ' ')"
	grep -q 'reason=bad-proxy-header detail="v1 header without 6 fields"' "$T/pp.log" &&
		ok "a malformed PROXY header is refused with its reason" ||
		not_ok "malformed header: $(grep 'bad-proxy' "$T/pp.log" | tail -1)"
	stop_gateway pp
else
	not_ok "start a gateway with a proxy_protocol listener"
fi

PN_PORT=$(free_port)
pp_conf "$T/pn.conf" "$PN_PORT" '"10.0.0.0/8", "2001:db8::/32"'
if start_gateway pn "$T/pn.conf"; then
	out=$(gw_ssh "$PN_PORT" "$T/alice" alice@s1 \
	    -o ProxyCommand="python3 $T/pp1.py %h %p 198.51.100.7 40000" 'echo via-v1' 2>&1)
	[ "$out" != via-v1 ] &&
		wait_log "$T/pn.log" "connection.refused conn=[0-9]* peer=127.0.0.1:[0-9]* reason=proxy-not-allowed" &&
		ok "a PROXY header from outside proxy_from is not believed: refused, logged" ||
		not_ok "proxy_from enforcement (got '$out')"
	stop_gateway pn
else
	not_ok "start a gateway with proxy_from 10.0.0.0/8"
fi

# ---- HAProxy (send-proxy-v2) in front of two replicas sharing the key and
# the Redis registry (started by registry.sh) ----
# rp_conf FILE PORT: a replica: Redis registry, a PROXY listener
rp_conf() {
	local file=$1 port=$2
	write_redis_conf "$file" "$port" \
	    'limits = { drain_timeout = 1; per_source_max_startups = 3; };'
	sed -i "s|^listen = \[ \"127.0.0.1:$port\" \];|listen = ( { address = \"127.0.0.1:$port\"; proxy_protocol = true; proxy_from = [ \"127.0.0.1/32\" ]; } );|" "$file"
}
if command -v haproxy >/dev/null; then
	RA=$(free_port); RB=$(free_port); HP=$(free_port)
	rp_conf "$T/ra.conf" "$RA"
	rp_conf "$T/rb.conf" "$RB"
	# Replica b logs in to Redis as the ACL user of connect-sshd.conf(5)
	# (registry.sh), given by the CONNECT_REDIS_* variables.
	sed -i 's|password_file = "[^"]*";||; s|user = "gw";||' "$T/rb.conf"
	echo "[127.0.0.1]:$HP $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
	cat > "$T/haproxy.cfg" <<-EOF
	global
	    maxconn 256
	defaults
	    mode tcp
	    timeout connect 2s
	    timeout client 60s
	    timeout server 60s
	    retries 3
	    option redispatch
	frontend ssh
	    bind 127.0.0.1:$HP
	    default_backend gateways
	backend gateways
	    balance roundrobin
	    server a 127.0.0.1:$RA send-proxy-v2 check check-send-proxy inter 1s fall 1 rise 1
	    server b 127.0.0.1:$RB send-proxy-v2 check check-send-proxy inter 1s fall 1 rise 1
	EOF
	if start_gateway ra "$T/ra.conf" && start_gateway rb "$T/rb.conf" \
	    CONNECT_REDIS_USER=gw CONNECT_REDIS_PASSWORD="$GW_PASS"; then
		haproxy -db -f "$T/haproxy.cfg" > "$T/haproxy.log" 2>&1 &
		hap=$!
		wait_port "$HP"
		sleep 1.5		# first health checks
		nok=0
		for i in 1 2 3 4; do
			out=$(gw_ssh "$HP" "$T/alice" alice@r1 -o BindAddress=127.0.0.2 'echo via-haproxy' 2>&1)
			[ "$out" = via-haproxy ] && nok=$((nok + 1))
		done
		na=$(grep -c "event=auth.accepted .*peer=127.0.0.2:" "$T/ra.log")
		nb=$(grep -c "event=auth.accepted .*peer=127.0.0.2:" "$T/rb.log")
		[ "$nok" = 4 ] && [ "$na" -ge 1 ] && [ "$nb" -ge 1 ] &&
			ok "HAProxy send-proxy-v2: 4 logins over both replicas, one host key, one Redis registry (b as a least-privilege ACL user), client 127.0.0.2 seen by each ($na+$nb)" ||
			not_ok "HAProxy logins: $nok of 4, replica a $na, b $nb; $(tail -3 "$T/haproxy.log" | tr '\n' ' ')"
		grep -q "event=connection.proxied conn=[0-9]* peer=127.0.0.1:[0-9]* via=127.0.0.1:" "$T/ra.log" &&
			ok "HAProxy's health checks (v2 LOCAL) are admitted as the balancer's own connections" ||
			not_ok "health checks: $(grep 'event=connection' "$T/ra.log" | head -3 | tr '\n' ' ')"
		# Four stalled handshakes from 127.0.0.3, two on each replica:
		# no replica alone reaches per_source_max_startups = 3, the
		# count they share in Redis does.
		# Each of the first three is in Redis before the next is made,
		# and the four are held until a refusal is logged (each wait up
		# to 10 s: under load a replica's count reached Redis late).
		python3 - "$HP" "$RDS_PORT" "$RDS_PASS" "$T/ra.log" "$T/rb.log" <<-'PY'
		import re, socket, subprocess, sys, time
		port, rport, rpass, logs = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
		def counted():
		    out = subprocess.run(["redis-cli", "-p", rport, "-a", rpass, "--no-auth-warning",
		                          "ZCARD", "connect-sshd:startups:7f000003"],
		                         capture_output=True, text=True).stdout.strip()
		    return int(out) if out.isdigit() else -1
		def refused():
		    pat = re.compile(r"connection\.refused .*peer=127\.0\.0\.3:[0-9]* reason=per-source-max-startups")
		    return any(pat.search(open(f).read()) for f in logs)
		def wait(cond):
		    end = time.time() + 10
		    while not cond() and time.time() < end:
		        time.sleep(0.1)
		held = []
		for i in range(4):
		    s = socket.socket()
		    s.bind(("127.0.0.3", 0))
		    s.connect(("127.0.0.1", port))
		    held.append(s)
		    if i < 3:
		        wait(lambda: counted() >= i + 1)
		wait(refused)
		PY
		nref=$(cat "$T/ra.log" "$T/rb.log" | grep -c "connection.refused .*peer=127.0.0.3:[0-9]* reason=per-source-max-startups")
		# The held connections' workers end, and the monitors remove
		# their entries (asynchronously: under the sanitizer on a
		# loaded machine one second was not always enough).
		for i in $(seq 1 50); do
			left=$(redis-cli -p "$RDS_PORT" -a "$RDS_PASS" --no-auth-warning ZCARD connect-sshd:startups:7f000003)
			[ "$left" = 0 ] && break
			sleep 0.2
		done
		out=$(gw_ssh "$HP" "$T/alice" alice@r1 -o BindAddress=127.0.0.3 'echo after-limit' 2>&1)
		[ "$nref" = 1 ] && [ "$left" = 0 ] && [ "$out" = after-limit ] &&
			ok "per_source_max_startups counts across replicas in Redis; entries go when connections end" ||
			not_ok "shared per-source count: $nref refused, $left left in Redis, login '$out'"
		# A long session on each replica, then replica a stops.
		for i in 1 2; do
			gw_ssh "$HP" "$T/alice" alice@r1 'sleep 6; echo survived' > "$T/long.$i" 2>&1 &
			eval "long$i=\$!"
			nap 0.5
		done
		sleep 1
		# Killed outright, as by the OOM killer: its workers die with it
		# (PR_SET_PDEATHSIG), so its session ends and nothing lingers.
		ra_workers=$(pgrep -P "$(<"$T/ra.pid")" | tr '\n' ' ')
		kill -KILL "$(<"$T/ra.pid")"
		# A monitor killed outright writes no channel.close for the
		# channels open then: topic.sh's closing check skips its log.
		echo ra.log >> "$T/sigkilled"
		sleep 2
		ra_left=0 ra_what=
		for p in $ra_workers; do
			running "$p" || continue
			ra_left=$((ra_left + 1))
			ra_what="$ra_what $(ps -o pid=,ppid=,stat=,comm= -p "$p")"
		done
		nok=0
		for i in 1 2 3; do
			out=$(gw_ssh "$HP" "$T/alice" alice@r1 'echo after' 2>&1)
			[ "$out" = after ] && nok=$((nok + 1))
		done
		wait "$long1" "$long2"
		nsurv=$(cat "$T/long.1" "$T/long.2" | grep -c survived)
		[ "$nok" = 3 ] && [ "$nsurv" = 1 ] && [ -n "$ra_workers" ] && [ "$ra_left" = 0 ] &&
			ok "replica a killed (SIGKILL): its workers die with it, only its session ends, new logins go to b" ||
			not_ok "replica killed: $nok of 3 new logins, $nsurv sessions survived, $ra_left of its workers left ($ra_what) ($(cat "$T/long.1" "$T/long.2" | tr '\n' ' '))"
		kill "$hap" 2>/dev/null
		wait "$hap" 2>/dev/null
	else
		not_ok "start two replicas behind HAProxy"
	fi
	stop_gateway ra
	stop_gateway rb
else
	not_ok "haproxy is not installed (scripts/deps.sh installs it)"
fi
