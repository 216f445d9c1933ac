# forward.sh - forwarding through the gateway as users do it: -L, -D,
# -R, -A with a second hop, the VS Code styles, every forwarding switch
# off; and flow control (a stalled reader).  Run by topic.sh once the
# gateway ("gw", on $GW_PORT) and the Studio are up; uses lib.sh's
# helpers.

# One ControlMaster connection carries the forwardings added with -O.
CM=$T/cm.sock
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlMaster=yes -o ControlPath="$CM" -fN ||
	not_ok "ControlMaster: master connection for the forwardings"

# ---- port forwarding: the Studio connects, never the gateway ----
WEB=$T/web
mkdir -p "$WEB"
head -c 3000000 /dev/urandom > "$WEB/blob"
web_sum=$(sha256sum < "$WEB/blob" | cut -d' ' -f1)
HTTP_PORT=$(free_port)
(cd "$WEB" && exec python3 -m http.server --bind 127.0.0.1 "$HTTP_PORT") >"$T/http.log" 2>&1 &
echo $! > "$T/http.pid"
wait_port "$HTTP_PORT"

# Downloads through the forwardings: what they test is that every byte
# arrives, not how fast.  Under make check's load (six topics at once,
# the sanitizer build) 24 parallel downloads of 3 MB took longer than
# the 30 s they once had, while data still flowed.  A stall still fails:
# curl gives up after 30 s in which nothing arrives.
CURL_LIMITS="--max-time 240 --speed-time 30 --speed-limit 1"

L_PORT=$(free_port)
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" -O forward -L "$L_PORT:127.0.0.1:$HTTP_PORT" 2>/dev/null
got=$(curl -s $CURL_LIMITS "http://127.0.0.1:$L_PORT/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$web_sum" ] && ok "ssh -L: a 3 MB download through the forwarded port" ||
	not_ok "ssh -L (got $got)"

D_PORT=$(free_port)
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" -O forward -D "127.0.0.1:$D_PORT" 2>/dev/null
curls=
for ((i = 1; i <= 24; i++)); do
	( curl -sS $CURL_LIMITS --socks5-hostname "127.0.0.1:$D_PORT" \
	    "http://127.0.0.1:$HTTP_PORT/blob" -o "$T/socks.$i" 2>"$T/socks.$i.err"
	  echo $? > "$T/socks.$i.rc" ) &
	curls="$curls $!"
done
wait $curls
nok=0
for ((i = 1; i <= 24; i++)); do
	[ -f "$T/socks.$i" ] &&
	[ "$(sha256sum < "$T/socks.$i" | cut -d' ' -f1)" = "$web_sum" ] && nok=$((nok + 1))
done
[ $nok = 24 ] && ok "ssh -D: 24 parallel SOCKS downloads over one connection, all intact" ||
	{ not_ok "ssh -D: $nok of 24 downloads intact"
	  for ((i = 1; i <= 24; i++)); do
		echo "#   curl $i: exit $(<"$T/socks.$i.rc") $(<"$T/socks.$i.err")"
	  done
	  grep -E "direct-tcpip|refus|fail|error" "$GW_LOG" | tail -20 | sed 's/^/#   /'
	  tail -20 "$T/http.log" | sed 's/^/#   /'; }
rm -f "$T"/socks.*
grep -q "event=channel.close .*type=direct-tcpip .*detail=127.0.0.1:$HTTP_PORT .*bytes_out=[1-9]" "$GW_LOG" &&
	ok "audit: one channel.close record per forwarded connection, with target and bytes" ||
	not_ok "audit: direct-tcpip channel record"

# A destination slow to connect to (SYNs dropped): the Studio answers the
# open only once its connect() is done.  Meanwhile the connection's other
# channels go on, and an answer that comes after upstream_connect_timeout
# still reaches the client, as without the gateway.  (The worker waited
# for the answer, blocking: every channel of the connection stood still,
# and after 10 s the client was refused while the Studio went on
# connecting.)
python3 "$(dirname "$0")/blackhole.py" "$T/bh.port" "$T/bh.release" 2>"$T/bh.log" &
echo $! > "$T/bh.pid"
for ((i = 0; i < 300; i++)); do [ -s "$T/bh.port" ] && break; nap 0.1; done
BH_PORT=$(cat "$T/bh.port" 2>/dev/null)
start=$SECONDS
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" -W "127.0.0.1:$BH_PORT" \
    </dev/null >"$T/bh.out" 2>"$T/bh.err" &
bh_client=$!
# The Studio's sshd connecting (its SYNs unanswered): the open is out.
for ((i = 0; i < 300; i++)); do
	ss -tnp state syn-sent "( dport = :${BH_PORT:-0} )" 2>/dev/null | grep -q sshd && break
	nap 0.1
done
out=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" 'echo alive')
kill -0 "$bh_client" 2>/dev/null && pending=yes || pending=no
[ "$out" = alive ] && [ $pending = yes ] &&
	ok "a destination slow to connect: the connection's other channels go on meanwhile" ||
	not_ok "slow destination: a session while the open is out (got '$out', open pending: $pending, -W: $(<"$T/bh.err"), blackhole: $(<"$T/bh.log"))"
# A client that leaves while its open is out: the kept open goes with the
# connection, and the worker ends as usual.  (The sanitizer build would
# report a use after free; leaks it cannot see: LeakSanitizer does not
# run in the worker's sandbox, worker/main.c.)
accepted0=$(grep -c "event=auth.accepted " "$GW_LOG")
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -W "127.0.0.1:$BH_PORT" </dev/null >/dev/null 2>&1 &
gone_client=$!
out_twice=no
for ((i = 0; i < 300; i++)); do
	[ "$(ss -tnp state syn-sent "( dport = :${BH_PORT:-0} )" 2>/dev/null | grep -c sshd)" -ge 2 ] &&
		{ out_twice=yes; break; }
	nap 0.1
done
conn=$(grep "event=auth.accepted " "$GW_LOG" | tail -n +$((accepted0 + 1)) | head -1 |
    sed -n 's/.* conn=\([0-9]*\) .*/\1/p')
# (gw_ssh runs in a subshell: its ssh is the subshell's child.)
pkill -P "$gone_client" 2>/dev/null; wait "$gone_client" 2>/dev/null
closed=
wait_log "$GW_LOG" "event=session.closed conn=${conn:-none} " &&
	closed=$(grep "event=session.closed conn=$conn " "$GW_LOG")
[ $out_twice = yes ] && [[ $closed == *'worker="exited with status 0"'* ]] &&
    ! grep -q "conn $conn: .*client disconnected with channels open" "$GW_LOG" &&
	ok "a client that leaves while its direct-tcpip open is out: the worker ends cleanly, no channel was open" ||
	not_ok "client gone with an open out (open at the Studio: $out_twice, conn ${conn:-?}: '${closed:-no session.closed}')"
while ((SECONDS - start < 12)); do nap 0.5; done
kill -0 "$bh_client" 2>/dev/null && pending=yes || pending=no
touch "$T/bh.release"
if [ $pending = yes ]; then
	for ((i = 0; i < 400; i++)); do
		kill -0 "$bh_client" 2>/dev/null || break
		nap 0.1
	done
fi
kill "$bh_client" 2>/dev/null; wait "$bh_client" 2>/dev/null
for ((_i = 1; _i <= 100; _i++)); do
	grep -q "event=channel.close .*detail=127.0.0.1:$BH_PORT " "$GW_LOG" && break
	nap 0.1
done
records=$(grep -c "event=channel.close .*detail=127.0.0.1:$BH_PORT " "$GW_LOG")
[ $pending = yes ] && [ "$(<"$T/bh.out")" = late-hello ] && [ "$records" = 1 ] &&
	ok "a destination slow to connect: the Studio's answer after 12 s reaches the client, one channel record" ||
	not_ok "slow destination: late answer (pending at 12 s: $pending, got '$(<"$T/bh.out")', channel.close records: $records, -W: $(<"$T/bh.err"))"
kill "$(<"$T/bh.pid")" 2>/dev/null

gw_ssh "$GW_PORT" "$T/alice" alice@s1 -W "127.0.0.1:$DEAD_PORT" </dev/null 2>"$T/w.err"
rc=$?
direct_ssh -W "127.0.0.1:$DEAD_PORT" </dev/null 2>/dev/null
drc=$?
records=$(grep -c "event=channel\..*detail=127.0.0.1:$DEAD_PORT " "$GW_LOG")
[ $rc = $drc ] && grep -q "forwarding failed" "$T/w.err" && [ "$records" = 0 ] &&
	ok "a destination the Studio cannot reach is refused to the client (ssh -W exit $rc, as direct), no channel record" ||
	not_ok "refused destination (rc=$rc direct=$drc, channel records: $records: $(<"$T/w.err"))"

R_PORT=$(free_port)
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" -O forward -R "127.0.0.1:$R_PORT:127.0.0.1:$HTTP_PORT" 2>/dev/null
got=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" \
    "curl -s --max-time 20 http://127.0.0.1:$R_PORT/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$web_sum" ] && ok "ssh -R: the Studio's port reaches the client's side" ||
	not_ok "ssh -R (got $got)"
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" -O cancel -R "127.0.0.1:$R_PORT:127.0.0.1:$HTTP_PORT" 2>/dev/null
# (The cancel goes mux client, master, worker, Studio: up to 10 s.)
listening=yes
for ((_i = 1; _i <= 100; _i++)); do
	(exec 3<>"/dev/tcp/127.0.0.1/$R_PORT") 2>/dev/null || { listening=no; break; }
	nap 0.1
done
[ $listening = no ] && ok "cancel-tcpip-forward: the Studio stops listening" ||
	not_ok "cancel-tcpip-forward: the Studio still listens on $R_PORT"
out=$(GW_SSH_LOGLEVEL=INFO gw_ssh "$GW_PORT" "$T/alice" alice@s1 -R 0:127.0.0.1:$HTTP_PORT \
    'sleep 1; echo listening' 2>&1)
echo "$out" | grep -q "Allocated port [0-9]* for remote forward" && echo "$out" | grep -q listening &&
	ok "ssh -R 0: the Studio's allocated port is reported to the client" ||
	not_ok "ssh -R 0 (got '$out')"
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" -O exit 2>/dev/null

# ---- agent forwarding ----
eval "$(ssh-agent -s)" >/dev/null
echo "$SSH_AGENT_PID" > "$T/agent.pid"
ssh-add -q "$T/alice" 2>/dev/null
alice_fp=$(ssh-keygen -lf "$T/alice.pub" | cut -d' ' -f2)
out=$(ssh -F /dev/null -A -p "$GW_PORT" -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$T/known_hosts" -o LogLevel=ERROR alice@s1@127.0.0.1 'ssh-add -l')
echo "$out" | grep -q "$alice_fp" && ok "ssh -A: ssh-add -l on the Studio lists the user's key" ||
	not_ok "ssh -A: ssh-add -l (got '$out')"
out=$(ssh -F /dev/null -A -p "$GW_PORT" -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$T/known_hosts" -o LogLevel=ERROR alice@s1@127.0.0.1 \
    "ssh -F /dev/null -p $GW_PORT -o BatchMode=yes -o StrictHostKeyChecking=yes \
     -o UserKnownHostsFile=$T/known_hosts -o LogLevel=ERROR alice@s1@127.0.0.1 'echo second-hop'")
[ "$out" = second-hop ] && ok "ssh -A: a second hop from the Studio logs in with the forwarded agent" ||
	not_ok "ssh -A: second hop (got '$out')"
out=$(ssh -F /dev/null -p "$GW_PORT" -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$T/known_hosts" -o LogLevel=ERROR alice@s1@127.0.0.1 'ssh-add -l 2>&1; echo rc=$?')
echo "$out" | grep -q "rc=2" && ok "without -A the Studio sees no agent (not even the gateway's)" ||
	not_ok "without -A (got '$out')"

# ---- a VS Code Remote SSH style session ----
# The script's end waits for the download (at most 30 s): a fixed 2 s
# was, under the sanitizers on a loaded machine, sometimes shorter than
# the download, and the SOCKS port closed under it.
VS_D=$(free_port)
{
	echo 'echo vscode-script-start'
	for ((_i = 1; _i <= 300; _i++)); do [ -e "$T/vscode.done" ] && break; nap 0.1; done
	echo 'echo vscode-script-end'
} | gw_ssh "$GW_PORT" "$T/alice" alice@s1 -T -D "127.0.0.1:$VS_D" bash > "$T/vscode.out" 2>&1 &
vsp=$!
wait_port "$VS_D"
got=$(curl -s --max-time 20 --socks5-hostname "127.0.0.1:$VS_D" "http://127.0.0.1:$HTTP_PORT/blob" |
    sha256sum | cut -d' ' -f1)
: > "$T/vscode.done"
wait $vsp
grep -q vscode-script-start "$T/vscode.out" && grep -q vscode-script-end "$T/vscode.out" &&
	[ "$got" = "$web_sum" ] &&
	ok "VS Code style: ssh -T -D port host bash with a script on stdin and SOCKS traffic" ||
	not_ok "VS Code style (script: $(tr '\n' ' ' < "$T/vscode.out"), socks sum $got)"

CM2=$T/cm2.sock
VS_L=$(free_port)
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlMaster=yes -o ControlPath="$CM2" -fN \
    -L "$VS_L:127.0.0.1:$HTTP_PORT"
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM2" 'sleep 3; echo exec-done' > "$T/cm2.out" &
cmp=$!
got=$(curl -s $CURL_LIMITS "http://127.0.0.1:$VS_L/blob" | sha256sum | cut -d' ' -f1)
wait $cmp
[ "$got" = "$web_sum" ] && [ "$(<"$T/cm2.out")" = exec-done ] &&
	ok "useLocalServer style: one ControlMaster connection carries exec and forwarding at once" ||
	not_ok "useLocalServer style (sum $got, exec '$(<"$T/cm2.out")')"
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM2" -O exit 2>/dev/null

# ---- forwarding switched off: refused cleanly, the connection lives on ----
NF_PORT=$(free_port)
write_conf "$T/nofwd.conf" "$NF_PORT" 'forwarding = { local = false; remote = false; agent = false; };'
echo "[127.0.0.1]:$NF_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_gateway nofwd "$T/nofwd.conf"; then
	out=$(gw_ssh "$NF_PORT" "$T/alice" alice@s1 -W "127.0.0.1:$HTTP_PORT" </dev/null 2>&1)
	rc=$?
	[ $rc = 255 ] && echo "$out" | grep -q "forwarding failed" &&
		wait_log "$T/nofwd.log" "local forwarding is off" &&
		ok "local = false: direct-tcpip refused with an open failure, logged" ||
		not_ok "local = false (rc=$rc: $out)"
	# Connections reach ssh's -L listener (wait_port's probe, then curl)
	# and their opens are refused by the gateway, logged, while the
	# session, held on a file, runs.
	NF_L=$(free_port)
	nrefused=$(grep -c "local forwarding is off" "$T/nofwd.log")
	gw_ssh "$NF_PORT" "$T/alice" alice@s1 -L "$NF_L:127.0.0.1:$HTTP_PORT" \
	    "while [ ! -e $T/nf.go ]; do sleep 0.1; done; echo still-here" >"$T/nf.out" 2>&1 &
	nfp=$!
	wait_port "$NF_L"
	curl -s --max-time 5 "http://127.0.0.1:$NF_L/" >/dev/null
	crc=$?
	for ((_i = 1; _i <= 100; _i++)); do
		[ "$(grep -c "local forwarding is off" "$T/nofwd.log")" -ge $((nrefused + 2)) ] && break
		nap 0.1
	done
	now_refused=$(grep -c "local forwarding is off" "$T/nofwd.log")
	touch "$T/nf.go"
	wait $nfp
	grep -q still-here "$T/nf.out" && [ $crc != 0 ] && [ "$now_refused" -ge $((nrefused + 2)) ] &&
		ok "local = false: a refused -L connection leaves the session running" ||
		not_ok "local = false with -L (curl=$crc, refusals logged $nrefused -> $now_refused, got '$(<"$T/nf.out")')"
	out=$(gw_ssh "$NF_PORT" "$T/alice" alice@s1 -o ExitOnForwardFailure=yes \
	    -R "127.0.0.1:$(free_port):127.0.0.1:$HTTP_PORT" true 2>&1)
	rc=$?
	[ $rc = 255 ] && echo "$out" | grep -q "remote port forwarding failed" &&
		ok "remote = false: tcpip-forward refused with a failure reply" ||
		not_ok "remote = false (rc=$rc: $out)"
	out=$(gw_ssh "$NF_PORT" "$T/alice" alice@s1 -R "127.0.0.1:$(free_port):127.0.0.1:$HTTP_PORT" \
	    'echo still-here' 2>&1)
	echo "$out" | grep -q still-here &&
		ok "remote = false: without ExitOnForwardFailure the session goes on" ||
		not_ok "remote = false, session (got '$out')"
	out=$(ssh -F /dev/null -A -p "$NF_PORT" -o BatchMode=yes -o StrictHostKeyChecking=yes \
	    -o UserKnownHostsFile="$T/known_hosts" -o LogLevel=ERROR alice@s1@127.0.0.1 \
	    'ssh-add -l >/dev/null 2>&1; echo rc=$?' 2>&1)
	[ "$out" = "rc=2" ] && ok "agent = false: ssh -A gets no agent on the Studio" ||
		not_ok "agent = false (got '$out')"
	stop_gateway nofwd
else
	not_ok "start a gateway with forwarding off"
fi
kill "$(<"$T/agent.pid")" 2>/dev/null; rm -f "$T/agent.pid"
unset SSH_AUTH_SOCK SSH_AGENT_PID

# ---- flow control: a slow reader throttles the Studio, the worker stays small ----
# The reader takes nothing until slow.go exists; the workers' RSS is
# sampled for 5 s once the command runs on the Studio (its record in
# the log), while the Studio fills every window it is given.
gw_ssh "$GW_PORT" "$T/alice" alice@s1 'head -c 40M /dev/zero # slow-reader' |
    { while [ ! -e "$T/slow.go" ]; do sleep 0.1; done; wc -c > "$T/slow.count"; } &
slowp=$!
wait_log "$GW_LOG" 'event=command .*slow-reader'
maxrss=0
for ((_i = 1; _i <= 25; _i++)); do
	nap 0.2
	for w in $(pgrep -P "$(<"$T/gw.pid")"); do
		r=$(awk '/^VmRSS:/{print $2}' "/proc/$w/status" 2>/dev/null || echo 0)
		[ "${r:-0}" -gt "$maxrss" ] && maxrss=$r
	done
done
touch "$T/slow.go"
wait $slowp
# ASan's shadow memory and quarantine add ~30 MiB to every process.
rsscap=32768; [ "${SANITIZE:-}" = 1 ] && rsscap=98304
[ "$(<"$T/slow.count")" = 41943040 ] && [ "$maxrss" -lt "$rsscap" ] &&
	ok "a stalled reader: 40 MiB (more than the RSS bound) arrive intact, worker RSS stayed at ${maxrss} KiB" ||
	not_ok "stalled reader (got $(<"$T/slow.count") bytes, worker RSS ${maxrss} KiB)"

grep -q 'event=channel.close .*type=forwarded-tcpip' "$GW_LOG" &&
	grep -q 'event=channel.close .*type=agent' "$GW_LOG" &&
	ok "audit: channel records for forwarded-tcpip and agent channels" ||
	not_ok "audit: channel records by type"
