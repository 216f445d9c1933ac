#!/usr/bin/env bash
# Hostile-worker tests: the real monitor, on its real IPC sockets, against
# a compromised worker (hostile-worker.c, run as workers.program).  Each
# attack must end with the monitor killing that worker and logging why,
# while the monitor stays up, serves its other workers, and leaks no fd.
# Loopback only.  TAP-style output like tests/integration/run.sh.
set -u
# Files this script writes are loaded by a gateway that refuses group- or
# world-writable ones (StrictModes); do not inherit a umask of 002.
umask 022
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$TOP/$B ;; esac
T=$(mktemp -d /tmp/csshd-hostile.XXXXXX)
chmod 755 "$T"
. "$TOP/tests/integration/lib.sh"
# Ports of its own, below the kernel's ephemeral range and above the
# integration topics' (20000 + 200 per topic, lib.sh's free_port): make
# check runs both at once, and a port the kernel picked for the gateway
# was once taken by a client's connection before the gateway bound it.
CSSHD_PORT_BASE=${CSSHD_HOSTILE_PORT_BASE:-26000}

cleanup() {
	stop_gateway hg
	[ -n "${STUDIO_PID:-}" ] && kill "$STUDIO_PID" 2>/dev/null
	[ -n "${BH_PID:-}" ] && kill "$BH_PID" 2>/dev/null
	for d in "$T/studio_a" "$T/studio_b"; do
		[ -f "$d/sshd.pid" ] && kill "$(<"$d/sshd.pid")" 2>/dev/null
	done
	[ -z "${KEEP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N '' -f "$T/gw_key" -C hostile-test
# alice's key as raw Ed25519 (OpenSSL), so the harness can sign a genuine
# login with it: SEED goes to the harness, the blob to the config.
openssl genpkey -algorithm ed25519 -out "$T/alice.pem" 2>/dev/null
SEED=$(openssl pkey -in "$T/alice.pem" -outform DER | tail -c 32 |
	od -An -tx1 | tr -d ' \n')
ALICE_PUB="ssh-ed25519 $({ printf '\0\0\0\013ssh-ed25519\0\0\0\040'
	openssl pkey -in "$T/alice.pem" -pubout -outform DER | tail -c 32; } |
	base64 -w0) alice"
# The Studio host key the harness's hostbound upstream requests are bound
# to (the blob of "ssh-ed25519" and 32 bytes of 0x42), pinned for s1.
STUDIO_FP="SHA256:$({ printf '\0\0\0\013ssh-ed25519\0\0\0\040'
	printf 'B%.0s' $(seq 32); } | openssl dgst -sha256 -binary | base64 -w0 |
	tr -d '=')"
mkdir -p "$T/empty"
chmod 755 "$T/empty"
PORT=$(free_port)
# The Studio of s1: a TCP listener that accepts and holds (the attacks end
# before any SSH would be spoken on the upstream leg).
STUDIO=$(free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); held = []
while True:
    held.append(s.accept()[0])
' "$STUDIO" &
STUDIO_PID=$!
# A Studio that never completes a TCP handshake: a backlog of 0 that one
# held connection fills, so the kernel drops every later SYN.
BH=$(free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(0)
held = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(3600)
' "$BH" &
BH_PID=$!
# Two real OpenSSH Studios in certificate mode: A (session "ca", alice's
# workspace 1) and B (session "cb", workspace 2, which alice may not
# reach).  Each sshd's authorized_keys is the cert-authority line
# connect-sshd -S prints for its own session.
STUDIO_USER=$(id -un)
SA=$(free_port)
SB=$(free_port)
chmod 600 "$T/gw_key"
start_studio "$SA" "$T/studio_a" cert ca || { echo "not ok - start Studio A"; exit 1; }
start_studio "$SB" "$T/studio_b" cert cb || { echo "not ok - start Studio B"; exit 1; }
# s1 stays in upstream_auth "key" mode: the agent attacks below need the
# monitor's agent, which certificate mode does not give a worker.
# A trusted user CA whose public key is 32 x 0x43: nobody has its private
# key, so every certificate "signed" by it is forged.
{ printf '\0\0\0\013ssh-ed25519\0\0\0\040'; printf 'C%.0s' $(seq 32); } |
	base64 -w0 | sed 's/^/ssh-ed25519 /; s/$/ nobodys-ca\n/' > "$T/user_ca"
cat > "$T/hg.conf" <<EOF
listen = [ "127.0.0.1:$PORT" ];
key = "$T/gw_key";
trusted_user_ca_keys = "$T/user_ca";
allowed_workspaces = [ 1, 2 ];
workspaces = ( { id = 1; members = [ "alice" ]; }, { id = 2; members = [ "bob" ]; } );
users = ( { name = "alice"; keys = [ "$ALICE_PUB" ]; } );
studios = ( { session = "s1"; workspace = 1; upstream = "127.0.0.1:$STUDIO";
              upstream_auth = "key"; host_key_fingerprint = "$STUDIO_FP"; },
            { session = "bh"; workspace = 1; upstream = "127.0.0.1:$BH";
              upstream_auth = "key"; host_key_fingerprint = "$STUDIO_FP"; },
            { session = "ca"; workspace = 1; upstream = "127.0.0.1:$SA";
              upstream_user = "$STUDIO_USER"; },
            { session = "cb"; workspace = 2; upstream = "127.0.0.1:$SB";
              upstream_user = "$STUDIO_USER"; } );
workers = { prefork = 2; chroot = "$T/empty"; program = "$B/tests/hostile-worker"; };
log = { level = "info"; };
# Longer than the whole run: the held connection must outlive the attacks.
limits = { login_grace_time = 600;
           # route-then-close: the blackhole Studio's route fails while
           # the monitor's grace for a closed IPC socket (2 s) runs.
           upstream_connect_timeout = 1; };
EOF
chmod 600 "$T/gw_key"
start_gateway hg "$T/hg.conf" || { echo "not ok - start the gateway"; exit 1; }
LOG=$T/hg.log
MON=$(<"$T/hg.pid")

# attack NAME: connect, name the attack, collect what the worker saw (at
# most 20 s).  Bash's own /dev/tcp, not a python3 per attack: sixty of
# them cost make check seconds of CPU in interpreter start-up alone.
attack() {
	local fd
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || return 0
	printf '%s\n' "$1" >&"$fd"
	timeout 20 cat <&"$fd"
	exec {fd}>&-
}
# A worker that keeps a connection in the pre-authentication state for the
# whole run: the monitor must go on serving it while others are killed.
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
printf 'hold\n' >&5
nap 0.5
fds0=$(ls "/proc/$MON/fd" | wc -l)
rss0=$(awk '/^VmRSS:/{print $2}' "/proc/$MON/status")

# expect ATTACK REASON-PATTERN DESCRIPTION
expect() {
	local name=$1 want=$2 what=$3 before lines out _i
	before=$(grep -c "killed by the monitor" "$LOG")
	lines=$(wc -l < "$LOG")
	out=$(attack "$name")
	LAST=$out
	for ((_i = 1; _i <= 50; _i++)); do
		[ "$(grep -c "killed by the monitor" "$LOG")" -gt "$before" ] && break
		nap 0.1
	done
	# Legal set-up steps may be answered; nothing after "attack" may.
	# Only this attack's kill counts, not an earlier one's same words.
	if tail -n "+$((lines + 1))" "$LOG" |
	    grep -q "killing worker [0-9]* (conn [0-9]*, state [a-z]*): $want" &&
	    ! echo "$out" | sed -n '/^attack/,$p' | grep -q "^answered" &&
	    kill -0 "$MON" 2>/dev/null; then
		ok "$what: killed and logged ($want)"
	else
		not_ok "$what (worker saw: $(echo "$out" | tr '\n' ' '); log: $(grep killing "$LOG" | tail -1))"
	fi
}

expect sign-not-a-hash "sign request of 20 bytes is not an exchange hash" \
	"host-key signature over arbitrary data"
expect sign-then-close "it closed its IPC socket and was still running 2 s later" \
	"a worker that closes its IPC socket before its answer and lives on"
expect sign-too-fast "key exchanges faster than 400 a second (burst 64)" \
	"host-key signatures asked faster than the key exchange rate bound"
# W_KEX (what a leg negotiated, for the audit log): only configured
# names, the right leg, once, and a method that fits the session id.
expect kex-unlisted "W_KEX names a key exchange method that is not configured" \
	"a negotiated key exchange the configuration does not list"
expect kex-hash-length "session id of 32 bytes is not a sntrup761x25519-sha512 exchange hash" \
	"a negotiated key exchange whose hash does not fit the session id"
expect kex-aead-mac "W_KEX names a MAC that is not configured or does not go with its cipher" \
	"a MAC claimed with an AEAD cipher"
expect kex-studio-leg "W_KEX for the Studio leg in state keyed" \
	"the Studio leg's key exchange reported before routing"
expect kex-twice "W_KEX repeated" "the client leg's key exchange reported twice"
expect kex-then-sign-64 "sign request of 64 bytes is not a curve25519-sha256 exchange hash (32)" \
	"a rekey hash of another length than the negotiated method's"
# The bound is a rate, not a lifetime count: 150 signatures at 100 a
# second (past the old limit of 64) are all served.
before=$(grep -c "killed by the monitor" "$LOG")
out=$(attack sign-steady)
echo "$out" | grep -q "^signed 150" &&
	[ "$(echo "$out" | grep -c "^answered M_SIGN_REPLY")" = 150 ] &&
	[ "$(grep -c "killed by the monitor" "$LOG")" = "$before" ] &&
	ok "150 host-key signatures at 100 a second are all served (no lifetime limit)" ||
	not_ok "steady rekeying past 64 (worker saw: $(echo "$out" | sort | uniq -c | tr '\n' ' '); $(grep 'killing worker' "$LOG" | tail -1))"
expect route-before-auth "W_ROUTE not permitted in state keyed" \
	"a route before authentication"
expect key-query-before-kex "W_KEY_QUERY not permitted in state preauth" \
	"a key query before the key exchange"
expect verify-unsigned-session "verify request refused: signature not bound to this connection's session id" \
	"a login signature over a session id the monitor never signed"
expect "verify-forged $SEED" "W_ROUTE not permitted in state keyed" \
	"a forged login signature, then a claimed success"
grep -q "auth.denied .*reason=bad-signature" "$LOG" &&
	ok "the forged signature is refused and audited (bad-signature)" ||
	not_ok "forged signature audit"
# A user certificate the CA never signed, and one naming another
# principal: refused (cert-bad-signature, cert-principal), and the route
# asked for after it is out of state.
for a in bad-ca-sig:cert-bad-signature principal:cert-principal; do
	n=$(grep -c "reason=${a#*:}" "$LOG")
	expect "ucert-${a%%:*} $SEED" "W_ROUTE not permitted in state keyed" \
		"a forged user certificate (${a%%:*}), then a claimed success"
	echo "$LAST" | grep -q "^refused M_VERIFY_REPLY" &&
		[ "$(grep -c "reason=${a#*:}" "$LOG")" -eq $((n + 1)) ] &&
		ok "the forged certificate is refused and audited (${a#*:})" ||
		not_ok "forged certificate ${a%%:*} (worker saw: $(echo "$LAST" | tr '\n' ' '); $(grep 'auth.denied' "$LOG" | tail -1))"
done
# Policy before crypto: a signed attempt by a key the policy refuses is
# refused for that reason, without the signature being checked at all.
nb=$(grep -c "reason=bad-signature" "$LOG")
nk=$(grep -c "reason=key-not-registered" "$LOG")
out=$(attack verify-unregistered)
nap 0.3
echo "$out" | grep -q "^refused M_VERIFY_REPLY" &&
	[ "$(grep -c "reason=key-not-registered" "$LOG")" -eq $((nk + 1)) ] &&
	[ "$(grep -c "reason=bad-signature" "$LOG")" -eq "$nb" ] &&
	ok "a signed attempt by a key the policy refuses: key-not-registered, no signature check" ||
	not_ok "policy before crypto (worker saw: $(echo "$out" | tr '\n' ' '); $(grep 'auth.denied' "$LOG" | tail -1))"
attack replay-session-id1 >/dev/null
expect replay-session-id2 "session id already used by another connection" \
	"a second connection reusing a session id (login signature replay)"
# Evict, then replay: a genuine login over session id X, a connection
# whose id shares X's prefix (which pushed X out of the old lossy table),
# then X again with the captured login signature.
out=$(attack "replay-evict-login $SEED")
echo "$out" | grep -q "^logged in" &&
	ok "replay set: the genuine login over session id X is accepted" ||
	not_ok "replay set: genuine login over X (worker saw: $(echo "$out" | tr '\n' ' '))"
attack replay-evict-collide >/dev/null
expect "replay-evict-replay $SEED" "session id already used by another connection" \
	"a captured login re-sent over X after an id with X's prefix (evict, then replay)"
# A key too large for the protocol is refused by an honest worker itself;
# one that sends it anyway is killed, as before.
expect key-query-oversized-key "bad W_KEY_QUERY" \
	"a key query with a 16384-bit RSA key (a blob over 2048 bytes)"
expect verify-oversized-key "verify request refused: malformed userauth data" \
	"a signed login with a 16384-bit RSA key (a blob over 2048 bytes)"
# IPC_W_REFUSED (what the worker refused itself, for the audit log) is
# permitted only where a key may be offered, must name a fingerprint, and
# counts against the same bounds as offered keys.
expect refused-before-kex "W_REFUSED not permitted in state preauth" \
	"a refusal reported before any key exchange"
expect refused-bad-fp "refusal names no key fingerprint" \
	"a refusal naming something that is not a key fingerprint"
expect refused-flood \
	"authentication attempt after [0-9]* failures\|more than 64 keys offered" \
	"200 refusals on one connection"
# The drain: a worker that ends with its last messages unread (the monitor
# stopped meanwhile; in CI, a monitor slowed by the sanitizers) -- a log
# line, a refusal, a log line.  The monitor must take in all three when it
# reaps it: the refusal is a denial, and the audit log must have it.
exec {dfd}<>"/dev/tcp/127.0.0.1/$PORT"
printf 'drain-refused\n' >&"$dfd"
while read -r -t 20 line <&"$dfd" && [ "$line" != ready ]; do :; done
kill -STOP "$MON"
printf 'go\n' >&"$dfd"
nap 0.5
kill -CONT "$MON"
exec {dfd}>&-
wait_log "$LOG" "drain: a line after the refusal" &&
	grep -q "event=auth.denied .*key=SHA256:DRAINDRAIN.* reason=key-too-large" "$LOG" &&
	grep -q "drain: a line before the refusal" "$LOG" &&
	ok "a worker's last refusal and log lines, unread when it ended, are taken in" ||
	not_ok "the drain lost a worker's last messages ($(grep -c 'drain: a line' "$LOG") of 2 lines; $(grep -c 'DRAINDRAIN' "$LOG") denial)"
n=$(grep -c "event=auth.denied .*reason=key-too-large" "$LOG")
[ "$n" -ge 1 ] && [ "$n" -le 70 ] &&
	ok "the reported refusals are audited, and bounded ($n records)" ||
	not_ok "reported refusals audited and bounded ($n records)"
expect truncated "bad W_SIGN" "a truncated message"
expect oversized "malformed IPC message" "an oversized datagram"
expect wrong-type "malformed IPC message" "an unknown message type"
expect monitor-type "M_KEY_REPLY not permitted in state preauth" \
	"a monitor-to-worker type sent by the worker"
expect proxy-unasked "W_PROXY not permitted in state preauth" \
	"a client address claimed (W_PROXY) on a connection not from a balancer"
expect ready-twice "W_READY not permitted in state preauth" \
	"a repeated W_READY"
expect extra-fd "malformed IPC message" "a file descriptor on a type that carries none"

# After a genuine login: the harness signs as alice, the monitor verifies
# and routes; then the worker attacks the route or the monitor's agent.
out=$(attack "agent-ok $SEED")
echo "$out" | grep -q "^answered M_ROUTE" &&
	echo "$out" | grep -q "^agent answered 12" &&
	echo "$out" | grep -q "^agent answered 14" &&
	grep -q "auth.accepted .*user=alice" "$LOG" &&
	ok "a genuine login is routed; the agent lists the gateway key and signs one upstream userauth" ||
	not_ok "genuine login and agent (worker saw: $(echo "$out" | tr '\n' ' '))"
# publickey-hostbound-v00@openssh.com (libssh 0.12 offers it to clients
# and uses it towards Studios that offer it): bound to the gateway's key on
# the client leg, to the pinned key on the Studio leg.
out=$(attack "route-hostbound-ok $SEED")
echo "$out" | grep -q "^answered M_ROUTE" &&
	echo "$out" | grep -q "^agent answered 14" &&
	ok "hostbound: a login bound to the gateway key is routed; an upstream signature bound to the pinned Studio key is answered" ||
	not_ok "hostbound login and agent (worker saw: $(echo "$out" | tr '\n' ' '); log: $(grep killing "$LOG" | tail -1))"
expect "route-hostbound-other-key $SEED" \
	"verify request refused: signature bound to a host key that is not the gateway key" \
	"hostbound: a genuine login signature bound to another host key"
expect "agent-hostbound-unpinned $SEED" \
	"agent sign refused: Studio host key in signed data is not the pinned one" \
	"hostbound: an upstream signature bound to a Studio key that is not the pinned one"
expect "route-twice $SEED" "W_ROUTE not permitted in state routed" \
	"a second route request"
# The route fails after upstream_connect_timeout (1 s here), inside the
# 2 s the monitor grants a closed IPC socket: its failure finds the socket
# closed and is dropped, and the grace kills the worker that lives on.
# (One that has ended by then is reported as it ended, not as killed: the
# soak's kill -9 met that.)
expect "route-then-close $SEED" \
	"it closed its IPC socket and was still running 2 s later" \
	"a worker that closes its IPC socket during its route and lives on"
expect "route-done-then-close $SEED" \
	"it closed its IPC socket and was still running 2 s later" \
	"a routed worker that closes its IPC socket and lives on"
expect "route-other-studio $SEED" "bad W_ROUTE" \
	"a route request naming another Studio and user"
expect "agent-arbitrary $SEED" "agent request refused: malformed userauth data" \
	"agent: signing arbitrary data with the gateway key"
expect "agent-other-user $SEED" \
	"agent sign refused: user is not the routed upstream user" \
	"agent: a userauth request for another upstream user"
expect "agent-other-key $SEED" \
	"agent sign refused: sign request for a key that is not the gateway key" \
	"agent: a signature with another key"
expect "agent-too-many $SEED" "agent request refused: more than 4 upstream signatures" \
	"agent: more upstream signatures than a login needs (bound: 4)"
[ "$(echo "$LAST" | grep -c "^agent answered 14")" = 4 ] &&
	ok "agent: the first 4 upstream signatures were answered" ||
	not_ok "agent bound (worker saw: $(echo "$LAST" | tr '\n' ' '))"
expect "agent-flood $SEED" "agent request refused: more than 4 identity listings" \
	"agent: 5000 identity requests whose answers are never read"
out=$(attack "agent-ok $SEED")
echo "$out" | grep -q "^answered M_ROUTE" && echo "$out" | grep -q "^agent answered 14" &&
	ok "agent flood: the next login is verified, routed and its upstream signature answered" ||
	not_ok "login after the agent flood (worker saw: $(echo "$out" | tr '\n' ' '))"
expect "agent-wrong-type $SEED" "agent request refused: request type not permitted" \
	"agent: a request type the monitor's agent does not serve (add identity)"
expect "agent-oversized $SEED" "agent request of 100000 bytes" \
	"agent: an oversized agent message"

# The channel records a routed worker reports (the audit log's account
# of its channels): lies are killed; a worker that dies with a channel
# open still gets its channel.close, written by the monitor.
expect "channel-close-unknown $SEED" "close of unknown channel 7" \
	"channels: a close of a channel never opened"
expect "channel-open-twice $SEED" "channel 0 opened twice" \
	"channels: the same channel opened twice"
expect "channel-bad-type $SEED" "channel 0 of unknown type" \
	"channels: a channel type the relay never opens"
expect "channel-backwards $SEED" "channel 0 byte counts went backwards" \
	"channels: byte counts that go backwards"
expect "channel-too-many $SEED" "more than 128 channels open" \
	"channels: more channels than a connection may hold"
attack "channel-then-die $SEED" >/dev/null
wait_log "$LOG" "channel.close .*channel=5 .*bytes_in=12345 .*end=worker-ended" &&
	ok "channels: a worker dying with a channel open gets its channel.close from the monitor (last reported bytes)" ||
	not_ok "channels: monitor-written channel.close ($(grep 'channel=5' "$LOG" | tail -2 | tr '\n' ' '))"

t0=$(date +%s)
out=$(attack log-flood)
# 200 lines per second window: the bound grows with the seconds the flood
# took on a loaded machine.  The monitor's windows are whole seconds of the
# monotonic clock, not aligned with date's: a flood within one date second
# can touch two windows (400 lines seen), so windows = seconds + 2.
maxflood=$(( ($(date +%s) - t0 + 2) * 200 ))
nflood=$(grep -c "flood$" "$LOG")
# The rest are counted: once their second is over, or when the worker ends.
wait_log "$LOG" "worker [0-9]* (conn [0-9]*): [0-9]* log lines dropped" >/dev/null
ndropped=$(sed -n 's/.*worker [0-9]* (conn [0-9]*): \([0-9]*\) log lines dropped (more than 200 a second)$/\1/p' "$LOG" |
	awk '{ n += $1 } END { print n + 0 }')
echo "$out" | grep -q "^answered M_SIGN_REPLY" && [ "$nflood" -le "$maxflood" ] &&
    [ $((nflood + ndropped)) = 100000 ] &&
	ok "100000 log lines: $nflood written (rate limit 200/s, at most $maxflood), $ndropped counted as dropped, the worker is still served" ||
	not_ok "log flood ($nflood lines, bound $maxflood, $ndropped counted as dropped; worker saw: $(echo "$out" | tr '\n' ' '))"
# After the flood's count: this one's lines would add to it.
expect log-flood-malformed "bad W_LOG" \
	"a malformed log line past the log rate, where lines are dropped"

# The held worker is still served, the monitor is up, and nothing leaked.
printf 'sign\n' >&5
read -r -t 5 reply <&5
[ "${reply:-}" = "answered M_SIGN_REPLY" ] &&
	ok "another worker's connection is served throughout the attacks" ||
	not_ok "the held worker (got '${reply:-nothing}')"
exec 5>&-
sleep 1
fds1=$(ls "/proc/$MON/fd" | wc -l)
rss1=$(awk '/^VmRSS:/{print $2}' "/proc/$MON/status")
[ "$fds1" -le "$fds0" ] &&
	ok "no fd leaked by the monitor ($fds0 before, $fds1 after)" ||
	not_ok "monitor fds: $fds0 before, $fds1 after"
# ASan's quarantine keeps freed blocks out of reuse, so in the sanitizer
# build RSS grows with what the attacks allocated and freed (its leak
# checker, not RSS, speaks for leaks there).
rss_bound=2048
[ "${SANITIZE:-}" = 1 ] && rss_bound=8192
[ $((rss1 - rss0)) -lt "$rss_bound" ] &&
	ok "monitor memory bounded (RSS $rss0 -> $rss1 KiB)" ||
	not_ok "monitor RSS $rss0 -> $rss1 KiB"
kill -0 "$MON" 2>/dev/null && [ "$(pgrep -P "$MON" | wc -l)" -ge 2 ] &&
	ok "the monitor is up and its pool refilled" ||
	not_ok "monitor or pool gone"

# ---- upstream_auth "certificate": the cross-Studio attack ----
# A worker routed to Studio A holds a certificate for its own login key
# and no agent.  The harness plays the compromised worker's next step:
# log in with what it holds to Studio B (here straight to B's port; a real
# worker would reach it through its own Studio).  B's sshd accepts the
# gateway key as CA for session "cb" only, so the certificate (principal
# "ca") is refused; the same certificate opens A, which shows it is valid.
# In key mode the agent signs (up to 4 times) a login as the routed
# upstream user with the gateway key over any session id the worker
# chooses, which any Studio accepting the gateway key for that user
# accepts: the attack this mode leaves open (connect-sshd(8)).
ssh-keygen -q -t ed25519 -N '' -f "$T/login" -C stolen-login-key
LOGINPUB=$(cut -d' ' -f2 "$T/login.pub" | base64 -d | tail -c 32 | od -An -tx1 | tr -d ' \n')
out=$(attack "route-cert-steal $SEED $LOGINPUB ca")
echo "$out" | grep -q "^agent none$" &&
	ok "certificate mode: the routed worker gets no agent socket" ||
	not_ok "certificate mode: the routed worker gets no agent socket ($out)"
cert=$(echo "$out" | sed -n 's/^cert //p')
echo "ssh-ed25519-cert-v01@openssh.com $cert" > "$T/login-cert.pub"
studio_login() {	# studio_login PORT: ssh with the stolen key and certificate
	ssh -F /dev/null -p "$1" -i "$T/login" -o CertificateFile="$T/login-cert.pub" \
	    -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o LogLevel=ERROR "$STUDIO_USER@127.0.0.1" 'echo in-studio'
}
if ssh-keygen -L -f "$T/login-cert.pub" | grep -A1 'Principals:' | grep -qx ' *ca' &&
    [ "$(studio_login "$SA" 2>/dev/null)" = in-studio ]; then
	ok "the worker's certificate names only its Studio (ca) and opens it"
else
	not_ok "the worker's certificate opens its own Studio A"
	ssh-keygen -L -f "$T/login-cert.pub" 2>&1 | sed 's/^/#   /'
fi
if out=$(studio_login "$SB" 2>&1); then
	not_ok "cross-Studio: Studio B ACCEPTED the certificate for Studio A ($out)"
elif wait_log "$T/studio_b/sshd.log" "principal"; then
	ok "cross-Studio: Studio B's sshd refuses the certificate for Studio A (no authorized principal)"
else
	not_ok "cross-Studio: refused, but B's sshd log does not say why"
	tail -n 5 "$T/studio_b/sshd.log" | sed 's/^/#   /'
fi
wait_log "$LOG" "event=upstream.opened .*session=ca .*auth=certificate cert_serial=[0-9]* cert_key_id=\"connect-sshd conn=[0-9]* user=alice studio=ca\"" &&
	ok "upstream.opened: certificate mode, serial and key id" ||
	not_ok "upstream.opened: certificate mode, serial and key id"
expect "route-bad-key $SEED" "route request: the login key is not an Ed25519 public key" \
	"a route request whose login key is not an Ed25519 public key"

stop_gateway hg

# A worker that never finishes the login and ignores its own grace timer:
# the monitor kills it once login_grace_time (+2 s) has passed.
PORT2=$(free_port)
sed -e "s/127.0.0.1:$PORT/127.0.0.1:$PORT2/" -e "s/login_grace_time = 600/login_grace_time = 2/" \
	"$T/hg.conf" > "$T/hg2.conf"
if start_gateway hg2 "$T/hg2.conf"; then
	exec 6<>"/dev/tcp/127.0.0.1/$PORT2"
	printf 'stall\n' >&6
	t0=$(date +%s)
	wait_log "$T/hg2.log" "state preauth): login grace time exceeded (2 s)" &&
		[ $(( $(date +%s) - t0 )) -le 8 ] &&
		ok "a worker stalling before authentication is killed by the monitor at the grace time" ||
		not_ok "stalled worker: $(grep killing "$T/hg2.log" | tail -1)"
	exec 6>&-
	stop_gateway hg2
	cat "$T/hg2.log" >> "$LOG"
else
	not_ok "start the second hostile gateway"
fi
# ---- a compromised lookup process ----
. "$HERE/lookup.sh"

grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$LOG" &&
	{ not_ok "sanitizer report in the monitor's log"
	  grep -E -A12 "ERROR: (Address|Leak)Sanitizer|runtime error:" "$LOG" | head -40 | sed 's/^/#   /'; } ||
	ok "no sanitizer report in the monitor's log"

echo "hostile: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
