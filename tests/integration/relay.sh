# relay.sh - what a real SSH user does through the gateway: pty shells,
# env, signals, sftp/scp/rsync, connection sharing, keepalives, a client
# or Studio vanishing (forward.sh: forwarding and flow control).  Run by
# topic.sh once the gateway ("gw", on $GW_PORT) and the Studio are up;
# uses lib.sh's helpers.

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

# ---- break (RFC 4335): OpenSSH's ~B escape reaches the Studio ----
# The client sends a break with its length (1000 ms); the worker passes it
# on (libssh patch 0024 keeps the length), and the Studio's sshd sends it
# to the session's pty: its debug log names the request, as it does for a
# client logged in directly.
BRK_STUDIO_PORT=$(free_port)
BRK_PORT=$(free_port)
if STUDIO_LOGLEVEL=DEBUG1 start_studio "$BRK_STUDIO_PORT" "$T/brkstudio" key; then
	# s5 (upstream_auth "key") routed to the debug-logging Studio.
	write_conf "$T/brk.conf" "$BRK_PORT" ''
	sed -i "s|127.0.0.1:$KEY_STUDIO_PORT|127.0.0.1:$BRK_STUDIO_PORT|" "$T/brk.conf"
	echo "[127.0.0.1]:$BRK_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
fi
if [ -f "$T/brk.conf" ] && start_gateway brk "$T/brk.conf"; then
	# The escape is read at the start of a line; the pty session stays
	# up a second after it, so the break is handled before the end.
	printf 'echo before\n~Becho after; sleep 1; exit\n' |
		gw_ssh "$BRK_PORT" "$T/alice" alice@s5 -tt -o EscapeChar='~' > "$T/brk.out" 2>&1
	printf 'echo before\n~Becho after; sleep 1; exit\n' |
		ssh -F /dev/null -tt -o EscapeChar='~' -p "$BRK_STUDIO_PORT" -i "$T/gw_key" \
		-o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR "$STUDIO_USER@127.0.0.1" > "$T/brk.direct" 2>&1
	nbrk=$(grep -c "session_input_channel_req: session [0-9]* req break" "$T/brkstudio/sshd.log")
	[ "$nbrk" = 2 ] && tr -d '\r' < "$T/brk.out" | grep -q "after$" &&
		ok "break: the ~B escape reaches the Studio's session, as it does directly (both logged by the Studio's sshd)" ||
		not_ok "break: the Studio's sshd logged $nbrk break request(s), want 2 (gateway and direct): $(tr -d '\r' < "$T/brk.out" | tr '\n' ' ')"
	stop_gateway brk
else
	not_ok "start the gateway for the break test"
fi

# ---- session requests in flight ----
# OpenSSH's client sends a login's requests (pty, env, the command) back
# to back.  The worker passes each on to the Studio without waiting for
# the answer to the one before, and gives the client the Studio's answers
# in turn (libssh patch 0013): the same answers, in the same order, as
# without the gateway, for a mix of accepted, refused and unanswered
# requests and one libssh answers itself (keepalive@openssh.com).
gw_req=$(/usr/bin/python3 "$HERE/requests.py" order "$GW_PORT" "$T/alice" alice@s1 2>&1)
direct_req=$(/usr/bin/python3 "$HERE/requests.py" order "$KEY_STUDIO_PORT" "$T/gw_key" "$STUDIO_USER" 2>&1)
[ "$gw_req" = "$direct_req" ] && [ "$direct_req" = "answers=S,F,F,S,F,S output=A=alpha B=beta tty=yes status=0" ] &&
	ok "requests in flight: answers in order, as without the gateway ($gw_req)" ||
	not_ok "requests in flight: gateway '$gw_req', direct '$direct_req'"

# A window-change and a signal that ask for an answer (RFC 4254 says a
# client should not ask; sshd answers anyway): libssh left both
# unanswered, and such a client waited for ever through the gateway only
# (libssh patch 0015).  Both are answered, in turn.  The window change as
# sshd answers it; the signal with success once passed on, where sshd
# answers whether it could deliver it (the test's Studio refuses it).
gw_req=$(/usr/bin/python3 "$HERE/requests.py" asked "$GW_PORT" "$T/alice" alice@s1 2>&1)
direct_req=$(/usr/bin/python3 "$HERE/requests.py" asked "$KEY_STUDIO_PORT" "$T/gw_key" "$STUDIO_USER" 2>&1)
case $gw_req/$direct_req in
"answers=S,S,S,S/answers=S,S,S,"[SF])
	ok "window-change and signal asking for an answer get one (gateway $gw_req, direct $direct_req)" ;;
*)	not_ok "window-change and signal asking for an answer: gateway '$gw_req', direct '$direct_req'" ;;
esac

# And they are in flight: with the Studio's answers held (holdproxy.py
# between the gateway and the Studio, holding from when the test says),
# an env asked and then a command: the command runs while the env's
# answer is still held.  (Waiting for each answer, the worker sent the
# command only once the env's answer came.)  A keepalive@openssh.com
# between them, which the gateway answers itself, gets its answer only
# after the env's: nothing overtakes a held answer.
RP_PORT=$(free_port)
RG_PORT=$(free_port)
write_conf "$T/rg.conf" "$RG_PORT"
sed -i "/session = \"s1\"/s|127.0.0.1:$STUDIO_PORT|127.0.0.1:$RP_PORT|" "$T/rg.conf"
python3 "$HERE/holdproxy.py" "$RP_PORT" "$STUDIO_PORT" "$T/rp.release" "$T/rp.hold" > "$T/rp.out" 2>&1 &
RP_PID=$!
if start_gateway rg "$T/rg.conf" && wait_log "$T/rp.out" ready; then
	out=$(/usr/bin/python3 "$HERE/requests.py" held "$RG_PORT" "$T/alice" alice@s1 \
	    "$T/rp.marker" "$T/rp.hold" "$T/rp.release" 2>&1)
	case $out in
	"marker=yes answers=S,S,F,S status=0 held_answers=0")
		ok "requests in flight: the command reached the Studio while the env's answer was held; answers in order" ;;
	*)	not_ok "requests in flight with the answers held: $out"
		tail -n 5 "$T/rg.log" | sed 's/^/#   /' ;;
	esac
	# A client that sends more requests than the gateway keeps answers
	# for (128 on one channel) before any is answered: its connection
	# ends, with the reason in the log, and the worker ends cleanly.
	wait "$RP_PID" 2>/dev/null
	rm -f "$T/rp.hold" "$T/rp.release"
	python3 "$HERE/holdproxy.py" "$RP_PORT" "$STUDIO_PORT" "$T/rp.release" "$T/rp.hold" > "$T/rp2.out" 2>&1 &
	RP_PID=$!
	if wait_log "$T/rp2.out" ready; then
		out=$(/usr/bin/python3 "$HERE/requests.py" flood "$RG_PORT" "$T/alice" alice@s1 \
		    - "$T/rp.hold" "$T/rp.release" 2>"$T/rp.err")
		if [ "$out" = "ended=yes" ] &&
		    wait_log "$T/rg.log" "More than 128 channel requests await their answers"; then
			ok "requests in flight: more than 128 answers owed on a channel end the connection, logged"
		else
			not_ok "requests in flight, a flood: $out"
			tail -n 5 "$T/rp.err" "$T/rg.log" | sed 's/^/#   /'
		fi
	else
		not_ok "requests in flight: the second hold proxy starts"
	fi
	# A second session channel on a connection: the client's open is
	# confirmed without waiting for the Studio's answer to the
	# gateway's (which the worker once waited for, a Studio round trip
	# during which every channel of the connection stood still); its
	# command runs once the Studio answers.
	wait "$RP_PID" 2>/dev/null
	rm -f "$T/rp.hold" "$T/rp.release"
	python3 "$HERE/holdproxy.py" "$RP_PORT" "$STUDIO_PORT" "$T/rp.release" "$T/rp.hold" > "$T/rp3.out" 2>&1 &
	RP_PID=$!
	if wait_log "$T/rp3.out" ready; then
		out=$(/usr/bin/python3 "$HERE/requests.py" second "$RG_PORT" "$T/alice" alice@s1 \
		    - "$T/rp.hold" "$T/rp.release" 2>"$T/rp.err")
		[ "$out" = "confirmed_while_held=yes output=second status=0" ] &&
			ok "a second session channel is confirmed while the Studio's answer to its open is held; its command runs once it comes" ||
			not_ok "second session channel with the Studio's answers held: $out $(tail -n 3 "$T/rp.err" | tr '\n' ' ')"
	else
		not_ok "a second session channel: the third hold proxy starts"
	fi
	stop_gateway rg
else
	not_ok "requests in flight: the hold proxy and its gateway start"
fi
stop_holdproxy "$T/rp.release" "$RP_PID"

gw_ssh "$GW_PORT" "$T/alice" alice@s1 'kill -9 $$' 2>"$T/k9.gw"
gw_rc=$?
direct_ssh 'kill -9 $$' 2>"$T/k9.direct"
direct_rc=$?
[ $gw_rc = $direct_rc ] && [ "$(<"$T/k9.gw")" = "$(<"$T/k9.direct")" ] &&
	ok "kill -9 \$\$: exit code $gw_rc and message as without the gateway" ||
	not_ok "kill -9: gateway rc=$gw_rc '$(<"$T/k9.gw")', direct rc=$direct_rc '$(<"$T/k9.direct")'"

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
[ "$(<"$T/eow.out")" = y ] && [ $gw_rc != 124 ] && [ $gw_rc = $direct_rc ] &&
    wait_log "$GW_LOG" "event=channel.close .*request=exec detail=yes .*exit_signal=PIPE" &&
	ok "ssh gw yes | head -1 ends: eow@openssh.com reaches the Studio, the command dies of SIGPIPE (exit $gw_rc, as direct)" ||
	not_ok "yes | head -1: gateway rc=$gw_rc '$(<"$T/eow.gw")', direct rc=$direct_rc (124: still running after 60 s)"

# Ctrl-C on a pty is a byte the remote pty turns into SIGINT.  It is
# typed once the trap is armed (on a loaded machine the login alone can
# take longer than any fixed wait).
rm -f "$T/cc.in" "$T/cc.out"
mkfifo "$T/cc.in"
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -tt 'trap "echo got-INT; exit 3" INT; echo armed; sleep 20' \
    <"$T/cc.in" >"$T/cc.out" 2>/dev/null &
ccpid=$!
exec 7>"$T/cc.in"
for ((_i = 1; _i <= 300; _i++)); do grep -q armed "$T/cc.out" && break; nap 0.1; done
printf '\003' >&7
wait $ccpid
rc=$?
exec 7>&-
out=$(<"$T/cc.out")
echo "$out" | grep -q got-INT && [ $rc = 3 ] &&
	ok "Ctrl-C on a pty exec reaches the remote trap (exit 3)" ||
	not_ok "Ctrl-C on a pty exec (rc=$rc out='$out')"

# ---- sftp ----
SF=$T/sftp
mkdir -p "$SF/local" "$SF/back"
# 200 files of 37 to 7400 random bytes, made by one process.
python3 -c 'import os, sys
for i in range(1, 201):
    with open("%s/f%d" % (sys.argv[1], i), "wb") as f:
        f.write(os.urandom(i * 37))' "$SF/local"
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

head -c 16M /dev/urandom > "$SF/big"
want=$(sha256sum < "$SF/big" | cut -d' ' -f1)
printf 'put %s %s/big.up\nget %s/big.up %s/big.down\n' "$SF/big" "$rdir" "$rdir" "$SF" > "$SF/batch2"
sftp -q -b "$SF/batch2" -P "$GW_PORT" -i "$T/alice" -o IdentitiesOnly=yes -o IdentityAgent=none \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts" \
    alice@s1@127.0.0.1 >"$SF/out2" 2>&1
up=$(sha256sum < "$rdir/big.up" | cut -d' ' -f1)
down=$(sha256sum < "$SF/big.down" | cut -d' ' -f1)
[ "$up" = "$want" ] && [ "$down" = "$want" ] &&
	ok "sftp: 16 MiB up and down, sha256 equal" ||
	{ not_ok "sftp 16 MiB (want $want up $up down $down)"; tail -5 "$SF/out2" | sed 's/^/#   /'; }
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
	[ "$o1" = one ] && [ "$(<"$T/cm.two")" = two ] && [ "$o3" = rc=9 ] &&
		ok "ControlMaster: sessions opened and closed independently over one connection" ||
		not_ok "ControlMaster sessions (o1=$o1 two=$(<"$T/cm.two") o3=$o3)"
	# (forward.sh has a master of its own.)
	gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CM" -O exit 2>/dev/null
else
	not_ok "ControlMaster: master connection"
fi

# ---- keepalives, and the Studio's host keys stay hidden ----
cp "$T/known_hosts" "$T/known_hosts.before"
# (CountMax=4: on a loaded machine two unanswered seconds happen.)
out=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ServerAliveInterval=1 -o ServerAliveCountMax=4 \
    -o UpdateHostKeys=yes 'sleep 10; echo alive')
[ "$out" = alive ] && ok "keepalive@openssh.com is answered (10 s with ServerAliveInterval=1, CountMax=4)" ||
	not_ok "keepalives (got '$out')"
studio_pub=$(cut -d' ' -f2 "$T/studio/host_key.pub")
cmp -s "$T/known_hosts" "$T/known_hosts.before" && ! grep -q "$studio_pub" "$T/known_hosts" &&
	ok "UpdateHostKeys=yes learns nothing: the Studio's host keys never reach the client" ||
	not_ok "known_hosts changed: $(diff "$T/known_hosts.before" "$T/known_hosts")"

# ---- one side going away ends the other promptly, with the cause logged ----
# (A command that writes notices; without a pty sshd signals nothing.)
gw_ssh "$GW_PORT" "$T/alice" alice@s1 "exec yes client-gone-${T##*/}" >/dev/null 2>&1 &
clp=$!
# Mid-session: once the command runs on the Studio (a fixed 2 s was not
# always enough under the sanitizers for the login to finish).
for ((_i = 1; _i <= 100; _i++)); do
	pgrep -f "^yes client-gone-${T##*/}" >/dev/null && break
	nap 0.1
done
pkill -9 -f "^ssh .*client-gone-${T##*/}"
gone=no
for ((_i = 1; _i <= 50; _i++)); do
	pgrep -f "yes client-gone-${T##*/}" >/dev/null || { gone=yes; break; }
	nap 0.1
done
wait $clp 2>/dev/null
[ $gone = yes ] && wait_log "$GW_LOG" "client disconnected with channels open" &&
	ok "a client that vanishes mid-session ends the Studio's command within 5 s, logged" ||
	{ not_ok "client vanishes (Studio command gone: $gone)"
	  grep -v 'event=channel' "$GW_LOG" | tail -n 8 | sed 's/^/#   /'; }

GW_SSH_LOGLEVEL=INFO gw_ssh "$GW_PORT" "$T/alice" alice@s1 'echo $PPID > '"$T/sshd.child"'; exec sleep 300' \
    >/dev/null 2>"$T/studio-gone.err" &
stp=$!
for ((_i = 1; _i <= 300; _i++)); do [ -s "$T/sshd.child" ] && break; nap 0.1; done
# The Studio's per-connection sshd processes die, as if the Studio went
# away; its listener stays (later tests use it).
listener=$(<"$T/studio/sshd.pid")
p=$(<"$T/sshd.child")
while [ -n "$p" ] && [ "$p" != "$listener" ] && [ "$p" -gt 1 ]; do
	next=$(ps -o ppid= -p "$p" | tr -d ' ')
	kill -9 "$p" 2>/dev/null
	p=$next
done
ended=no
for ((_i = 1; _i <= 50; _i++)); do kill -0 $stp 2>/dev/null || { ended=yes; break; }; nap 0.1; done
wait $stp
[ $ended = yes ] && grep -q "Studio session s1 closed the connection" "$T/studio-gone.err" &&
	wait_log "$GW_LOG" "Studio s1 (127.0.0.1:$STUDIO_PORT) closed the connection:" &&
	ok "a Studio that dies mid-session disconnects the client at once, saying why" ||
	not_ok "Studio dies (ended=$ended: $(<"$T/studio-gone.err"))"

grep -q 'event=channel.close .*type=session request="pty shell"' "$GW_LOG" &&
	grep -q 'event=channel.close .*type=session request=subsystem detail=sftp' "$GW_LOG" &&
	grep -q 'event=channel.close .*exit_signal=KILL' "$GW_LOG" &&
	ok "audit: channel records for pty shells, sftp, exit signals" ||
	not_ok "audit: channel records by type"
