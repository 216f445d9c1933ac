# upstream.sh - a Studio that refuses, stalls or hangs up during the
# gateway's upstream login: the client is told, in time.
# Run by topic.sh (its gateway "gw", the Studios, the keys).

# ---- a Studio that refuses, stalls or hangs up during the upstream login ----
SILENT_PORT=$(free_port)
HANGUP_PORT=$(free_port)
python3 -c '
import socket, sys, time
silent = socket.socket(); silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
silent.bind(("127.0.0.1", int(sys.argv[1]))); silent.listen(16)
hang = socket.socket(); hang.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
hang.bind(("127.0.0.1", int(sys.argv[2]))); hang.listen(16)
hang.settimeout(0.2)
held = []
while True:
    try:
        c, _ = hang.accept()
        c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n"); time.sleep(0.3); c.close()
    except socket.timeout:
        pass
    silent.settimeout(0.01)
    try:
        held.append(silent.accept()[0])   # accepted, never answered
    except socket.timeout:
        pass
' "$SILENT_PORT" "$HANGUP_PORT" &
echo $! > "$T/fakestudio.pid"
UP_PORT=$(free_port)
write_conf "$T/up.conf" "$UP_PORT" 'limits = { upstream_connect_timeout = 5; };'
sed -i "s|^studios = ( |studios = ( { session = \"u5\"; workspace = 100; upstream = \"127.0.0.1:$SILENT_PORT\"; },\n            { session = \"u6\"; workspace = 100; upstream = \"127.0.0.1:$STUDIO_PORT\"; upstream_user = \"nosuchuser-csshd\"; },\n            { session = \"u7\"; workspace = 100; upstream = \"127.0.0.1:$HANGUP_PORT\"; },\n            |" "$T/up.conf"
echo "[127.0.0.1]:$UP_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if wait_port "$SILENT_PORT" && start_gateway up "$T/up.conf"; then
	for c in "u5:is not reachable:a Studio that accepts TCP but never speaks SSH (timeout)" \
	    "u6:refused the gateway's login:a Studio that refuses the gateway key" \
	    "u7:is not reachable:a Studio that hangs up during the login"; do
		sess=${c%%:*}; rest=${c#*:}; want=${rest%%:*}; what=${rest#*:}
		start=$(date +%s)
		GW_SSH_LOGLEVEL=INFO gw_ssh "$UP_PORT" "$T/alice" "alice@$sess" true 2>"$T/up.err"
		rc=$?
		took=$(( $(date +%s) - start ))
		[ $rc = 255 ] && grep -q "Studio session $sess $want" "$T/up.err" && [ $took -lt 15 ] &&
			ok "$what: the client is told (\"$want\", ${took} s)" ||
			not_ok "$what (rc=$rc, ${took} s: $(<"$T/up.err"))"
	done
	stop_gateway up
else
	not_ok "start the gateway for upstream failures"
fi
stop_gateway fakestudio
