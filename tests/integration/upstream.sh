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

# ---- a pinned Studio host key ----
# host_key_fingerprint holds a Studio's host key to a pin.  The Studio
# here has a 16384-bit RSA host key, the largest a Studio may have: its
# blob (2071 bytes) is over IPC_MAX_BLOB.  The key is a test fixture
# (keys/studio_rsa16384, a test Studio's and nothing else's): making one
# takes about a minute.
PIN_PORT=$(free_port)
PIN_GW_PORT=$(free_port)
mkdir -p "$T/pinned"
install -m 600 "$(dirname "$0")/keys/studio_rsa16384" "$T/pinned/host_key"
rsa_fp=$(ssh-keygen -l -E sha256 -f "$T/pinned/host_key" | awk '{print $2}')
# A wrong pin: the main Studio's key.
other_fp=$(ssh-keygen -l -E sha256 -f "$T/studio/host_key" | awk '{print $2}')
write_conf "$T/pin.conf" "$PIN_GW_PORT" ''
sed -i "s|^studios = ( |studios = ( { session = \"p1\"; workspace = 100; upstream = \"127.0.0.1:$PIN_PORT\"; upstream_user = \"$STUDIO_USER\"; host_key_fingerprint = \"$rsa_fp\"; },\n            { session = \"p2\"; workspace = 100; upstream = \"127.0.0.1:$PIN_PORT\"; upstream_user = \"$STUDIO_USER\"; host_key_fingerprint = \"$other_fp\"; },\n            { session = \"p3\"; workspace = 100; upstream = \"127.0.0.1:$PIN_PORT\"; upstream_user = \"$STUDIO_USER\"; upstream_auth = \"key\"; host_key_fingerprint = \"$rsa_fp\"; },\n            |" "$T/pin.conf"
echo "[127.0.0.1]:$PIN_GW_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_studio "$PIN_PORT" "$T/pinned" cert p1 p2 && start_gateway pin "$T/pin.conf"; then
	# p3 logs in with the gateway key itself (sshd reads this per login).
	cat "$T/gw_key.pub" >> "$T/pinned/authorized_keys"
	out=$(gw_ssh "$PIN_GW_PORT" "$T/alice" alice@p1 'echo pinned' 2>"$T/pin.err")
	[ "$out" = pinned ] && grep -q "logged in to Studio p1 " "$T/pin.log" &&
		ok "a Studio pinned to its 16384-bit RSA host key (a blob over IPC_MAX_BLOB): the login works" ||
		not_ok "pinned 16384-bit RSA Studio: '$out' $(tr '\n' ' ' < "$T/pin.err"); $(grep -i "studio p1\|pin" "$T/pin.log" | tail -2 | tr '\n' ' ')"
	# With the key, the monitor signs publickey-hostbound-v00 data that
	# carries the Studio's host key: it holds that key to the pin too.
	out=$(gw_ssh "$PIN_GW_PORT" "$T/alice" alice@p3 'echo pinned' 2>"$T/pin.err")
	[ "$out" = pinned ] && grep -q "logged in to Studio p3 .* with the gateway's key" "$T/pin.log" &&
		ok "the same Studio, logged in to with the gateway key (hostbound, the host key in the signed data): the login works" ||
		not_ok "pinned 16384-bit RSA Studio, gateway key: '$out' $(tr '\n' ' ' < "$T/pin.err"); $(grep -i "studio p3\|pin\|agent" "$T/pin.log" | tail -2 | tr '\n' ' ')"
	GW_SSH_LOGLEVEL=INFO gw_ssh "$PIN_GW_PORT" "$T/alice" alice@p2 true 2>"$T/pin.err"
	rc=$?
	[ $rc = 255 ] && grep -q "Studio session p2 is not reachable" "$T/pin.err" &&
		grep -q "Studio p2 .*: host key $rsa_fp does not match the pinned $other_fp" "$T/pin.log" &&
		ok "a Studio whose host key is not the pinned one: refused, the client told it is not reachable, the log says why" ||
		not_ok "wrong pin (rc=$rc: $(tr '\n' ' ' < "$T/pin.err"); $(grep -i "studio p2\|pin" "$T/pin.log" | tail -2 | tr '\n' ' '))"
	stop_gateway pin
else
	not_ok "start the pinned Studio and its gateway"
fi
