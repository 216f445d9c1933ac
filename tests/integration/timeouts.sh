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
	gw_ssh "$LIM_PORT" "$T/alice" alice@s1 "exec sleep 60 # keepalive-${T##*/}" >/dev/null 2>&1 &
	kap=$!
	# Logged in first: keepalives are the relay's.
	wait_log "$T/lim.log" "event=command .*keepalive-${T##*/}"
	# A client that stops answering (its process frozen: the kernel still
	# acknowledges TCP, the SSH client says nothing).
	pkill -STOP -f "^ssh .*keepalive-${T##*/}"
	wait_log "$T/lim.log" "client did not answer 4 keepalives in 4 s" &&
		ok "keepalive_interval/keepalive_count_max close a connection whose client went silent" ||
		not_ok "keepalives: $(tail -3 "$T/lim.log")"
	pkill -KILL -f "^ssh .*keepalive-${T##*/}"
	wait $kap 2>/dev/null
	stop_gateway lim
else
	not_ok "start the gateway with idle and keepalive limits"
fi

# ---- a Studio that answers the open of the login's channel too late ----
# The worker opens a session channel with the Studio login and gives it to
# the client's first session channel before the Studio has answered
# (worker/relay.c, up_settled()).  The test build's "testhook-unanswered"
# sees that answer only 2 s after upstream_connect_timeout (spare_answer()).
# A request on the channel fails (in the test
# build at once, in production after upstream_connect_timeout), and
# OpenSSH's ssh then leaves; a client
# that has not sent one yet (paramiko here, idle_timeout off) must see its
# channel closed upstream_connect_timeout after the login, the connection
# staying up.  Unbounded, the channel stayed open and silent for ever.
# The hook lets the answer through 2 s later: the Studio's side is then
# closed (and logged), not left open on the Studio.
UA_PORT=$(free_port)
write_conf "$T/ua.conf" "$UA_PORT" 'limits = { upstream_connect_timeout = 3; };'
sed -i "s|program = \"$B/connect-sshd-worker\"|program = \"$B/connect-sshd-worker-test\"|" "$T/ua.conf"
echo "[127.0.0.1]:$UA_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_gateway ua "$T/ua.conf"; then
	out=$(/usr/bin/python3 - "$UA_PORT" "$T/alice" "$T/ua.log" 2>&1 <<'PY'
import socket, sys, time
import paramiko
t = paramiko.Transport(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
t.start_client(timeout=20)
t.auth_publickey("testhook-unanswered@s1",
                 paramiko.Ed25519Key.from_private_key_file(sys.argv[2]))
ch = t.open_session(timeout=20)
t0 = time.monotonic()
while not ch.closed and time.monotonic() - t0 < 30:
    time.sleep(0.1)
waited = time.monotonic() - t0
time.sleep(1)  # a worker that ended the connection instead shows by now
print("closed=%d after %.1f s, connection up=%d" %
      (ch.closed, waited, t.is_active()))
# The connection stays while the late answer comes (at most 10 s more).
t1 = time.monotonic()
while time.monotonic() - t1 < 10:
    if "closed: closing it" in open(sys.argv[3]).read():
        break
    time.sleep(0.1)
PY
)
	again=$(gw_ssh "$UA_PORT" "$T/alice" alice@s1 'echo after-unanswered' 2>&1)
	echo "$out" | grep -q "^closed=1 after [2-9]\.[0-9] s, connection up=1$" &&
	    wait_log "$T/ua.log" "did not answer the open of a session channel within 3 s" &&
	    [ "$again" = after-unanswered ] &&
	    grep -q "answered the open of a session channel after the client's side was closed: closing it" "$T/ua.log" &&
		ok "a Studio that does not answer the login's channel in time: the client's channel is closed after upstream_connect_timeout, the connection stays ($(echo "$out" | tr '\n' ' ')); its late answer closes the Studio's side; next login works" ||
		{ not_ok "a Studio that does not answer the login's channel in time (next login '$again')"
		  echo "$out" | sed 's/^/#   /'; grep -v 'event=' "$T/ua.log" | tail -n 4 | sed 's/^/#   /'; }
	stop_gateway ua
else
	not_ok "start the test-build gateway for the unanswered channel"
fi
