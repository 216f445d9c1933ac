#!/usr/bin/env bash
# authcpu.sh: the monitor's CPU per signed login attempt, by key kind.
#
# The real monitor, with tests/hostile's hostile-worker as its workers (a
# client that skips the key query and sends signed attempts straight away
# is the same to the monitor).  Each connection sends MON_MAX_VERIFIES (16)
# signed attempts with a wrong signature of the right size; the monitor's
# utime+stime (/proc/PID/stat) is read before and after CONNS connections
# of each kind.  "none" connections (key exchange, no attempt) give the
# per-connection cost, which is subtracted for the per-attempt figure.
#
#   B=build CONNS=150 bench/authcpu.sh
#
# Kinds (hostile-worker.c, bench()):
#   ed-user     Ed25519, alice's registered key: policy allows, verified
#   ed-other    Ed25519, a key alice does not have: key-not-registered
#   rsa8192-user   8192-bit RSA, registered for user "rsa": verified
#   rsa8192-other  8192-bit RSA, not alice's: key-not-registered
#   rsa16000-other 16000-bit RSA (a blob under the 2048-byte IPC bound,
#                  over the table's 8192): bad-key, refused by the table
# (16384 bits does not fit the protocol at all: an honest worker refuses
# it itself and the monitor never sees it.)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$TOP/$B ;; esac
CONNS=${CONNS:-150}
T=$(mktemp -d /tmp/csshd-authcpu.XXXXXX)
chmod 755 "$T"
. "$TOP/tests/integration/lib.sh"

cleanup() {
	stop_gateway ac
	[ -z "${KEEP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT

[ -x "$B/tests/hostile-worker" ] || { echo "build first: make" >&2; exit 1; }
ssh-keygen -q -t ed25519 -N '' -f "$T/gw_key" -C authcpu
openssl genpkey -algorithm ed25519 -out "$T/alice.pem" 2>/dev/null
SEED=$(openssl pkey -in "$T/alice.pem" -outform DER | tail -c 32 |
	od -An -tx1 | tr -d ' \n')
ALICE_PUB="ssh-ed25519 $({ printf '\0\0\0\013ssh-ed25519\0\0\0\040'
	openssl pkey -in "$T/alice.pem" -pubout -outform DER | tail -c 32; } |
	base64 -w0) alice"
# The 8192-bit key bench_rsa_blob() builds: n = c0 5a.. 5b, e = 65537.
RSA_PUB="ssh-rsa $(python3 -c '
import base64, struct
def s(b): return struct.pack(">I", len(b)) + b
n = b"\0\xc0" + b"\x5a" * (8192 // 8 - 2) + b"\x5b"
print(base64.b64encode(s(b"ssh-rsa") + s(b"\x01\x00\x01") + s(n)).decode())') rsa"
mkdir -p "$T/empty"
chmod 755 "$T/empty"
PORT=$(free_port)
cat > "$T/ac.conf" <<EOF
listen = [ "127.0.0.1:$PORT" ];
key = "$T/gw_key";
allowed_workspaces = [ 1 ];
workspaces = ( { id = 1; members = [ "alice", "rsa" ]; } );
users = ( { name = "alice"; keys = [ "$ALICE_PUB" ]; },
          { name = "rsa"; keys = [ "$RSA_PUB" ]; } );
studios = ( { session = "s1"; workspace = 1; upstream = "127.0.0.1:9"; } );
workers = { prefork = 4; chroot = "$T/empty"; program = "$B/tests/hostile-worker"; };
log = { level = "info"; };
limits = { login_grace_time = 600; max_auth_tries = 100; };
EOF
chmod 600 "$T/gw_key"
start_gateway ac "$T/ac.conf" || { echo "cannot start the gateway" >&2; exit 1; }
MON=$(cat "$T/ac.pid")
HZ=$(getconf CLK_TCK)

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$MON/stat"; }

# run KIND: CONNS connections, one at a time; prints ticks used and the
# number of answered attempts.
run() {
	local kind=$1 t0 t1
	t0=$(cpu_ticks)
	n=$(python3 - "$PORT" "bench-$kind $SEED" "$CONNS" <<'PY'
import socket, sys
port, line, conns = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
answered = 0
for _ in range(conns):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(line.encode() + b"\n")
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError:
        pass
    s.close()
    answered += out.count(b"M_VERIFY_REPLY")
print(answered)
PY
)
	t1=$(cpu_ticks)
	echo "$((t1 - t0)) $n"
}

run none >/dev/null		# warm up
read -r base_t _ < <(run none)
printf '%-16s %8s %8s %14s %14s %8s\n' kind attempts ticks "us/attempt" "net us/att" "x ed-user"
printf '%-16s %8s %8s %14s\n' none "-" "$base_t" \
    "$(awk -v t="$base_t" -v c="$CONNS" -v hz="$HZ" 'BEGIN{printf "%.0f/conn", t*1e6/hz/c}')"
ed=
for kind in ed-user ed-other rsa8192-user rsa8192-other rsa16000-other; do
	read -r t n < <(run "$kind")
	net=$(awk -v t="$t" -v b="$base_t" -v n="$n" -v hz="$HZ" \
	    'BEGIN{ if (n == 0) { print "nan"; exit } v=(t-b)*1e6/hz/n; if (v < 0) v = 0; printf "%.1f", v }')
	[ -z "$ed" ] && ed=$net
	printf '%-16s %8s %8s %14s %14s %8s\n' "$kind" "$n" "$t" \
	    "$(awk -v t="$t" -v n="$n" -v hz="$HZ" 'BEGIN{ if (n) printf "%.1f", t*1e6/hz/n; else print "nan" }')" \
	    "$net" "$(awk -v a="$net" -v e="$ed" 'BEGIN{ if (e > 0) printf "%.2f", a/e; else print "-" }')"
done
grep -c "auth.denied" "$T/ac.log" >/dev/null
