# relay.sh - what a real SSH user does through the gateway: pty shells,
# env, signals, sftp/scp/rsync, connection sharing, keepalives, port and
# agent forwarding, flow control.  Run by topic.sh once the gateway
# ("gw", on $GW_PORT) and the Studio are up; uses lib.sh's helpers.

# direct_ssh [ssh args...]: the same client straight to the Studio, for
# side-by-side comparisons: the key-mode Studio, which accepts the gateway
# key itself (the main one takes only certificates); same sshd settings.
direct_ssh() {
	ssh -F /dev/null -p "$KEY_STUDIO_PORT" -i "$T/gw_key" -o IdentitiesOnly=yes \
	    -o IdentityAgent=none -o BatchMode=yes -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	    "$STUDIO_USER@127.0.0.1" "$@"
}

# The ssh options gw_ssh uses, for tools that take an ssh command line.
GW_SSH_CMD="ssh -F /dev/null -p $GW_PORT -i $T/alice -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$T/known_hosts -o LogLevel=ERROR"

# ---- an interactive shell on a real terminal ----
python3 "$HERE/ptyshell.py" ssh -F /dev/null -tt -p "$GW_PORT" -i "$T/alice" \
    -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts" \
    -o LogLevel=ERROR alice@s1@127.0.0.1 >"$T/pty.out" 2>&1
while IFS= read -r line; do
	case $line in
	"ok "*) ok "pty: ${line#ok }" ;;
	"not ok "*) not_ok "pty: ${line#not ok }" ;;
	esac
done < "$T/pty.out"
grep -q "^ok \|^not ok " "$T/pty.out" || { not_ok "pty harness ran"; sed 's/^/#   /' "$T/pty.out"; }

# ---- env, signals, exit signals: the same as without the gateway ----
out=$(CSSHD_TEST_VAR=passed NOT_ACCEPTED=leak gw_ssh "$GW_PORT" "$T/alice" alice@s1 \
    -o SendEnv=CSSHD_TEST_VAR -o SendEnv=NOT_ACCEPTED 'echo "$CSSHD_TEST_VAR/${NOT_ACCEPTED:-unset}"')
[ "$out" = "passed/unset" ] && ok "env: accepted variables pass, others are refused by the Studio" ||
	not_ok "env: got '$out'"

gw_ssh "$GW_PORT" "$T/alice" alice@s1 'kill -9 $$' 2>"$T/k9.gw"
gw_rc=$?
direct_ssh 'kill -9 $$' 2>"$T/k9.direct"
direct_rc=$?
[ $gw_rc = $direct_rc ] && [ "$(cat "$T/k9.gw")" = "$(cat "$T/k9.direct")" ] &&
	ok "kill -9 \$\$: exit code $gw_rc and message as without the gateway" ||
	not_ok "kill -9: gateway rc=$gw_rc '$(cat "$T/k9.gw")', direct rc=$direct_rc '$(cat "$T/k9.direct")'"

# ssh ... yes | head -1: the client's stdout goes away, OpenSSH's client
# says so (eow@openssh.com) and sshd closes the command's output, which
# dies of SIGPIPE.  The gateway passes the request on; before, the
# command ran on and the client waited for it for ever.  timeout 60 only
# catches that hang (the login takes a second or two).
timeout 60 $GW_SSH_CMD alice@s1@127.0.0.1 'yes' 2>"$T/eow.gw" | head -1 >"$T/eow.out"
gw_rc=${PIPESTATUS[0]}
timeout 60 ssh -F /dev/null -p "$KEY_STUDIO_PORT" -i "$T/gw_key" -o IdentitiesOnly=yes \
    -o IdentityAgent=none -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$STUDIO_USER@127.0.0.1" \
    'yes' 2>"$T/eow.direct" | head -1 >/dev/null
direct_rc=${PIPESTATUS[0]}
[ "$(cat "$T/eow.out")" = y ] && [ $gw_rc != 124 ] && [ $gw_rc = $direct_rc ] &&
    wait_log "$GW_LOG" "event=channel.close .*request=exec detail=yes .*exit_signal=PIPE" &&
	ok "ssh gw yes | head -1 ends: eow@openssh.com reaches the Studio, the command dies of SIGPIPE (exit $gw_rc, as direct)" ||
	not_ok "yes | head -1: gateway rc=$gw_rc '$(cat "$T/eow.gw")', direct rc=$direct_rc (124: still running after 60 s)"

# Ctrl-C on a pty is a byte the remote pty turns into SIGINT.  It is
# typed once the trap is armed (on a loaded machine the login alone can
# take longer than any fixed wait).
rm -f "$T/cc.in" "$T/cc.out"
mkfifo "$T/cc.in"
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -tt 'trap "echo got-INT; exit 3" INT; echo armed; sleep 20' \
    <"$T/cc.in" >"$T/cc.out" 2>/dev/null &
ccpid=$!
exec 7>"$T/cc.in"
for _ in $(seq 1 300); do grep -q armed "$T/cc.out" && break; sleep 0.1; done
printf '\003' >&7
wait $ccpid
rc=$?
exec 7>&-
out=$(cat "$T/cc.out")
echo "$out" | grep -q got-INT && [ $rc = 3 ] &&
	ok "Ctrl-C on a pty exec reaches the remote trap (exit 3)" ||
	not_ok "Ctrl-C on a pty exec (rc=$rc out='$out')"

# ---- sftp ----
SF=$T/sftp
mkdir -p "$SF/local" "$SF/back"
for i in $(seq 1 200); do head -c $((i * 37)) /dev/urandom > "$SF/local/f$i"; done
rdir=$T/sftp-remote
mkdir -p "$rdir"
{
	echo "cd $rdir"
	echo "lcd $SF/local"
	echo "mput f*"
	echo "ls -1"
	echo "rename f1 renamed1"
	echo "rm f2"
	echo "lcd $SF/back"
	echo "mget f*"
	echo "get renamed1"
} > "$SF/batch"
sftp -q -b "$SF/batch" -P "$GW_PORT" -i "$T/alice" -o IdentitiesOnly=yes -o IdentityAgent=none \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts" \
    alice@s1@127.0.0.1 >"$SF/out" 2>&1
rc=$?
n=$(ls "$SF/back" | wc -l)
[ $rc = 0 ] && [ "$n" = 199 ] && [ ! -e "$rdir/f2" ] && [ -e "$rdir/renamed1" ] &&
	cmp -s "$SF/local/f1" "$SF/back/renamed1" && cmp -s "$SF/local/f200" "$SF/back/f200" &&
	ok "sftp: put, ls, rename, rm, get of 200 files" ||
	{ not_ok "sftp batch (rc=$rc, $n files back)"; tail -5 "$SF/out" | sed 's/^/#   /'; }

head -c 64M /dev/urandom > "$SF/big"
want=$(sha256sum < "$SF/big" | cut -d' ' -f1)
printf 'put %s %s/big.up\nget %s/big.up %s/big.down\n' "$SF/big" "$rdir" "$rdir" "$SF" > "$SF/batch2"
sftp -q -b "$SF/batch2" -P "$GW_PORT" -i "$T/alice" -o IdentitiesOnly=yes -o IdentityAgent=none \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts" \
    alice@s1@127.0.0.1 >"$SF/out2" 2>&1
up=$(sha256sum < "$rdir/big.up" | cut -d' ' -f1)
down=$(sha256sum < "$SF/big.down" | cut -d' ' -f1)
[ "$up" = "$want" ] && [ "$down" = "$want" ] &&
	ok "sftp: 64 MiB up and down, sha256 equal" ||
	{ not_ok "sftp 64 MiB (want $want up $up down $down)"; tail -5 "$SF/out2" | sed 's/^/#   /'; }
rm -f "$SF/big.down" "$rdir/big.up"

# ---- scp (sftp-based and legacy) and rsync ----
SC=$T/scp
mkdir -p "$SC/tree/a/b/c" "$SC/tree/d"
for f in a/1 a/b/2 a/b/c/3 d/4 top; do head -c 100000 /dev/urandom > "$SC/tree/$f"; done
for mode in "" -O; do
	name=${mode:+legacy }scp
	rm -rf "$T/scp-remote" "$SC/back"
	scp -q $mode -r -P "$GW_PORT" -i "$T/alice" -o IdentitiesOnly=yes -o IdentityAgent=none \
	    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts" \
	    "$SC/tree" "alice@s1@127.0.0.1:$T/scp-remote" 2>"$SC/err" &&
	scp -q $mode -r -P "$GW_PORT" -i "$T/alice" -o IdentitiesOnly=yes -o IdentityAgent=none \
	    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts" \
	    "alice@s1@127.0.0.1:$T/scp-remote" "$SC/back" 2>>"$SC/err" &&
	diff -r "$SC/tree" "$SC/back" >/dev/null &&
		ok "$name -r of a directory tree, both ways" ||
		{ not_ok "$name -r"; sed 's/^/#   /' "$SC/err"; }
done
rm -rf "$T/rsync-remote"
rsync -a -e "$GW_SSH_CMD" "$SC/tree/" "alice@s1@127.0.0.1:$T/rsync-remote/" 2>"$SC/rerr" &&
	echo changed > "$SC/tree/d/4" &&
	rsync -a -e "$GW_SSH_CMD" "$SC/tree/" "alice@s1@127.0.0.1:$T/rsync-remote/" 2>>"$SC/rerr" &&
	diff -r "$SC/tree" "$T/rsync-remote" >/dev/null &&
	ok "rsync -e ssh: full and incremental copy" ||
	{ not_ok "rsync"; sed 's/^/#   /' "$SC/rerr"; }

# ---- several channels over one connection (ControlMaster) ----
CM=$T/cm.sock
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlMaster=yes -o ControlPath="$CM" -fN
if [ -S "$CM" ]; then
	o1=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" 'echo one')
	gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" 'sleep 2; echo two' > "$T/cm.two" &
	bgp=$!
	o3=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" 'exit 9'; echo "rc=$?")
	wait $bgp
	[ "$o1" = one ] && [ "$(cat "$T/cm.two")" = two ] && [ "$o3" = rc=9 ] &&
		ok "ControlMaster: sessions opened and closed independently over one connection" ||
		not_ok "ControlMaster sessions (o1=$o1 two=$(cat "$T/cm.two") o3=$o3)"
else
	not_ok "ControlMaster: master connection"
fi

# ---- keepalives, and the Studio's host keys stay hidden ----
cp "$T/known_hosts" "$T/known_hosts.before"
out=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ServerAliveInterval=1 -o ServerAliveCountMax=2 \
    -o UpdateHostKeys=yes 'sleep 5; echo alive')
[ "$out" = alive ] && ok "keepalive@openssh.com is answered (5 s with ServerAliveInterval=1, CountMax=2)" ||
	not_ok "keepalives (got '$out')"
studio_pub=$(cut -d' ' -f2 "$T/studio/host_key.pub")
cmp -s "$T/known_hosts" "$T/known_hosts.before" && ! grep -q "$studio_pub" "$T/known_hosts" &&
	ok "UpdateHostKeys=yes learns nothing: the Studio's host keys never reach the client" ||
	not_ok "known_hosts changed: $(diff "$T/known_hosts.before" "$T/known_hosts")"

# ---- port forwarding: the Studio connects, never the gateway ----
WEB=$T/web
mkdir -p "$WEB"
head -c 3000000 /dev/urandom > "$WEB/blob"
web_sum=$(sha256sum < "$WEB/blob" | cut -d' ' -f1)
HTTP_PORT=$(free_port)
(cd "$WEB" && exec python3 -m http.server --bind 127.0.0.1 "$HTTP_PORT") >"$T/http.log" 2>&1 &
echo $! > "$T/http.pid"
wait_port "$HTTP_PORT"

L_PORT=$(free_port)
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" -O forward -L "$L_PORT:127.0.0.1:$HTTP_PORT" 2>/dev/null
got=$(curl -s --max-time 20 "http://127.0.0.1:$L_PORT/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$web_sum" ] && ok "ssh -L: a 3 MB download through the forwarded port" ||
	not_ok "ssh -L (got $got)"

D_PORT=$(free_port)
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" -O forward -D "127.0.0.1:$D_PORT" 2>/dev/null
curls=
for i in $(seq 1 24); do
	( curl -sS --max-time 30 --socks5-hostname "127.0.0.1:$D_PORT" \
	    "http://127.0.0.1:$HTTP_PORT/blob" -o "$T/socks.$i" 2>"$T/socks.$i.err"
	  echo $? > "$T/socks.$i.rc" ) &
	curls="$curls $!"
done
wait $curls
nok=0
for i in $(seq 1 24); do
	[ -f "$T/socks.$i" ] &&
	[ "$(sha256sum < "$T/socks.$i" | cut -d' ' -f1)" = "$web_sum" ] && nok=$((nok + 1))
done
[ $nok = 24 ] && ok "ssh -D: 24 parallel SOCKS downloads over one connection, all intact" ||
	{ not_ok "ssh -D: $nok of 24 downloads intact"
	  for i in $(seq 1 24); do
		echo "#   curl $i: exit $(cat "$T/socks.$i.rc") $(cat "$T/socks.$i.err")"
	  done
	  grep -E "direct-tcpip|refus|fail|error" "$GW_LOG" | tail -20 | sed 's/^/#   /'
	  tail -20 "$T/http.log" | sed 's/^/#   /'; }
rm -f "$T"/socks.*
grep -q "event=channel.close .*type=direct-tcpip .*detail=127.0.0.1:$HTTP_PORT .*bytes_out=[1-9]" "$GW_LOG" &&
	ok "audit: one channel.close record per forwarded connection, with target and bytes" ||
	not_ok "audit: direct-tcpip channel record"

gw_ssh "$GW_PORT" "$T/alice" alice@s1 -W "127.0.0.1:$DEAD_PORT" </dev/null 2>"$T/w.err"
rc=$?
direct_ssh -W "127.0.0.1:$DEAD_PORT" </dev/null 2>/dev/null
drc=$?
[ $rc = $drc ] && grep -q "forwarding failed" "$T/w.err" &&
	ok "a destination the Studio cannot reach is refused to the client (ssh -W exit $rc, as direct)" ||
	not_ok "refused destination (rc=$rc direct=$drc: $(cat "$T/w.err"))"

R_PORT=$(free_port)
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" -O forward -R "127.0.0.1:$R_PORT:127.0.0.1:$HTTP_PORT" 2>/dev/null
got=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" \
    "curl -s --max-time 20 http://127.0.0.1:$R_PORT/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$web_sum" ] && ok "ssh -R: the Studio's port reaches the client's side" ||
	not_ok "ssh -R (got $got)"
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" -O cancel -R "127.0.0.1:$R_PORT:127.0.0.1:$HTTP_PORT" 2>/dev/null
sleep 0.5
if (exec 3<>"/dev/tcp/127.0.0.1/$R_PORT") 2>/dev/null; then
	not_ok "cancel-tcpip-forward: the Studio still listens on $R_PORT"
else
	ok "cancel-tcpip-forward: the Studio stops listening"
fi
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
VS_D=$(free_port)
{
	echo 'echo vscode-script-start'
	sleep 2
	echo 'echo vscode-script-end'
} | gw_ssh "$GW_PORT" "$T/alice" alice@s1 -T -D "127.0.0.1:$VS_D" bash > "$T/vscode.out" 2>&1 &
vsp=$!
wait_port "$VS_D"
got=$(curl -s --max-time 20 --socks5-hostname "127.0.0.1:$VS_D" "http://127.0.0.1:$HTTP_PORT/blob" |
    sha256sum | cut -d' ' -f1)
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
got=$(curl -s --max-time 20 "http://127.0.0.1:$VS_L/blob" | sha256sum | cut -d' ' -f1)
wait $cmp
[ "$got" = "$web_sum" ] && [ "$(cat "$T/cm2.out")" = exec-done ] &&
	ok "useLocalServer style: one ControlMaster connection carries exec and forwarding at once" ||
	not_ok "useLocalServer style (sum $got, exec '$(cat "$T/cm2.out")')"
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
	NF_L=$(free_port)
	out=$(gw_ssh "$NF_PORT" "$T/alice" alice@s1 -L "$NF_L:127.0.0.1:$HTTP_PORT" \
	    "sleep 1; echo still-here" 2>&1 & sleep 0.5;
	    curl -s --max-time 5 "http://127.0.0.1:$NF_L/" >/dev/null; echo "curl=$?"; wait)
	echo "$out" | grep -q still-here && echo "$out" | grep -q "curl=[1-9]" &&
		ok "local = false: a refused -L connection leaves the session running" ||
		not_ok "local = false with -L (got '$out')"
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
kill "$(cat "$T/agent.pid")" 2>/dev/null; rm -f "$T/agent.pid"
unset SSH_AUTH_SOCK SSH_AGENT_PID

# ---- flow control: a slow reader throttles the Studio, the worker stays small ----
worker_of() {	# worker_of PATTERN: the worker whose connection is in the log as PATTERN
	pgrep -P "$(cat "$T/gw.pid")" | while read -r w; do
		[ "$(awk '/^VmRSS:/{print $2}' "/proc/$w/status" 2>/dev/null)" ] && echo "$w"
	done
}
before=$(pgrep -P "$(cat "$T/gw.pid")" | sort)
gw_ssh "$GW_PORT" "$T/alice" alice@s1 'head -c 64M /dev/zero' | { sleep 6; wc -c > "$T/slow.count"; } &
slowp=$!
sleep 4
maxrss=0
for w in $(pgrep -P "$(cat "$T/gw.pid")"); do
	r=$(awk '/^VmRSS:/{print $2}' "/proc/$w/status" 2>/dev/null || echo 0)
	[ "${r:-0}" -gt "$maxrss" ] && maxrss=$r
done
wait $slowp
# ASan's shadow memory and quarantine add ~30 MiB to every process.
rsscap=32768; [ "${SANITIZE:-}" = 1 ] && rsscap=98304
[ "$(cat "$T/slow.count")" = 67108864 ] && [ "$maxrss" -lt "$rsscap" ] &&
	ok "a stalled reader: 64 MiB (twice the RSS bound) arrive intact, worker RSS stayed at ${maxrss} KiB" ||
	not_ok "stalled reader (got $(cat "$T/slow.count") bytes, worker RSS ${maxrss} KiB)"

# ---- one side going away ends the other promptly, with the cause logged ----
# (A command that writes notices; without a pty sshd signals nothing.)
gw_ssh "$GW_PORT" "$T/alice" alice@s1 'exec yes client-gone-marker' >/dev/null 2>&1 &
clp=$!
sleep 2
pkill -9 -f "^ssh .*client-gone-marker"
gone=no
for _ in $(seq 1 50); do
	pgrep -f "yes client-gone-marker" >/dev/null || { gone=yes; break; }
	sleep 0.1
done
wait $clp 2>/dev/null
[ $gone = yes ] && wait_log "$GW_LOG" "client disconnected with channels open" &&
	ok "a client that vanishes mid-session ends the Studio's command within 5 s, logged" ||
	not_ok "client vanishes (Studio command gone: $gone)"

GW_SSH_LOGLEVEL=INFO gw_ssh "$GW_PORT" "$T/alice" alice@s1 'echo $PPID > '"$T/sshd.child"'; exec sleep 300' \
    >/dev/null 2>"$T/studio-gone.err" &
stp=$!
for _ in $(seq 1 50); do [ -s "$T/sshd.child" ] && break; sleep 0.1; done
# The Studio's per-connection sshd processes die, as if the Studio went
# away; its listener stays (later tests use it).
listener=$(cat "$T/studio/sshd.pid")
p=$(cat "$T/sshd.child")
while [ -n "$p" ] && [ "$p" != "$listener" ] && [ "$p" -gt 1 ]; do
	next=$(ps -o ppid= -p "$p" | tr -d ' ')
	kill -9 "$p" 2>/dev/null
	p=$next
done
ended=no
for _ in $(seq 1 50); do kill -0 $stp 2>/dev/null || { ended=yes; break; }; sleep 0.1; done
wait $stp
[ $ended = yes ] && grep -q "Studio session s1 closed the connection" "$T/studio-gone.err" &&
	wait_log "$GW_LOG" "Studio s1 (127.0.0.1:$STUDIO_PORT) closed the connection:" &&
	ok "a Studio that dies mid-session disconnects the client at once, saying why" ||
	not_ok "Studio dies (ended=$ended: $(cat "$T/studio-gone.err"))"

grep -q 'event=channel.close .*type=session request="pty shell"' "$GW_LOG" &&
	grep -q 'event=channel.close .*type=session request=subsystem detail=sftp' "$GW_LOG" &&
	grep -q 'event=channel.close .*type=forwarded-tcpip' "$GW_LOG" &&
	grep -q 'event=channel.close .*type=agent' "$GW_LOG" &&
	grep -q 'event=channel.close .*exit_signal=KILL' "$GW_LOG" &&
	ok "audit: channel records for pty shells, sftp, forwarded-tcpip, agent, exit signals" ||
	not_ok "audit: channel records by type"
