#!/usr/bin/env bash
# connect-sshd benchmarks against OpenSSH, on loopback, in one run.
#
# Three paths to the same Studio (an OpenSSH sshd on 127.0.0.1):
#   gw      client -> connect-sshd -> Studio
#   direct  client -> Studio
#   pj      client -> jump sshd (OpenSSH) -> Studio, with ssh -J (ProxyJump)
# Every figure alternates the paths run by run and reports medians.  Prints
# a table and writes a CSV (BENCH_CSV).  No test asserts on these numbers;
# bench/README says how to read them.
#
# Settings (environment):
#   BENCH_CIPHER       aes128-gcm@openssh.com (all legs use it)
#   BENCH_KEX_FIRST    the key exchange the gateway lists first (its guess
#                      of the Studio's first choice, connect-sshd.conf(5)):
#                      default the Studio sshd's own first (sshd -T), as an
#                      operator would set it; "default" keeps connect-sshd's
#                      default list
#   BENCH_SIZE         bytes per bulk transfer, default 1073741824 (1 GiB)
#   BENCH_ROUNDS       bulk and rate rounds per path, default 3
#   BENCH_LOGINS       login-latency runs per path, default 50
#   BENCH_CLIENTS      parallel clients for the connection rate, default 16
#   BENCH_PER_CLIENT   logins per client per rate round, default 8
#   BENCH_SESSIONS     idle sessions for the scale test, default 1000
#   BENCH_ONLY         space-separated subset of: bulk login rate scale cpu
#                      registry (login latency with the Redis registry)
#                      wan (all three paths over emulated latency)
#   BENCH_DELAYS       one-way delays per leg for wan, ms, default "0 5 25 50"
#   BENCH_WAN_SIZE     bytes per wan transfer, default 268435456 (256 MiB, as in issue 14)
#   BENCH_WAN_ROUNDS   wan transfer rounds per path and delay, default 2
#   BENCH_WAN_LOGINS   wan logins per path and delay, default 10
#   BENCH_PATHS        subset of: gw direct pj (bulk, login and wan), for profiling
#   BENCH_CSV          default build/bench/results.csv
set -u
# Files this script writes are loaded by a gateway that refuses group- or
# world-writable ones (StrictModes); do not inherit a umask of 002.
umask 022
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$TOP/$B ;; esac
CIPHER=${BENCH_CIPHER:-aes128-gcm@openssh.com}
KEX_FIRST=${BENCH_KEX_FIRST:-}
SIZE=${BENCH_SIZE:-1073741824}
ROUNDS=${BENCH_ROUNDS:-3}
LOGINS=${BENCH_LOGINS:-50}
CLIENTS=${BENCH_CLIENTS:-16}
PER_CLIENT=${BENCH_PER_CLIENT:-8}
SESSIONS=${BENCH_SESSIONS:-1000}
ONLY=${BENCH_ONLY:-bulk login rate scale cpu registry wan}
DELAYS=${BENCH_DELAYS:-0 5 25 50}
WAN_SIZE=${BENCH_WAN_SIZE:-268435456}
WAN_ROUNDS=${BENCH_WAN_ROUNDS:-2}
WAN_LOGINS=${BENCH_WAN_LOGINS:-10}
CSV=${BENCH_CSV:-$TOP/build/bench/results.csv}
T=$(mktemp -d /tmp/csshd-bench.XXXXXX)
chmod 755 "$T"
# Helpers shared with the tests (free_port, wait_port, wait_log); PASS and
# FAIL there are unused here.
. "$TOP/tests/integration/lib.sh"

want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
now() { date +%s.%N; }
# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
	else if (NR % 2) print v[(NR + 1) / 2];
	else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fmt() { awk -v v="$1" -v p="${2:-1}" 'BEGIN { printf "%.*f", p, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
# met VALUE OP LIMIT: "yes" or "NO"
met() { awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
	if (v == "nan" || v == "") { print "-"; exit }
	ok = (op == ">=") ? (v + 0 >= l) : (v + 0 <= l); print ok ? "yes" : "NO" }'; }
die() { echo "bench: $*" >&2; exit 1; }

cleanup() {
	pkill -f -- "-F $T/ssh_config" 2>/dev/null
	wan_stop
	[ -f "$T/gw.pid" ] && kill "$(cat "$T/gw.pid")" 2>/dev/null
	[ -f "$T/gwr.pid" ] && kill "$(cat "$T/gwr.pid")" 2>/dev/null
	[ -f "$T/redis.pid" ] && kill "$(cat "$T/redis.pid")" 2>/dev/null
	for d in studio jump; do
		[ -f "$T/$d/sshd.pid" ] && kill "$(cat "$T/$d/sshd.pid")" 2>/dev/null
	done
	sleep 0.5
	[ -n "${BENCH_KEEP:-}" ] && echo "bench: kept $T" >&2 || rm -rf "$T"
}
# The delay proxies of the wan scenario (bench/delayproxy.c).
WAN_PIDS=""
wan_stop() {
	[ -n "$WAN_PIDS" ] && kill $WAN_PIDS 2>/dev/null && wait $WAN_PIDS 2>/dev/null
	WAN_PIDS=""
}
trap cleanup EXIT

[ -x "$B/connect-sshd" ] || die "build first: make"
[ "$(id -u)" = 0 ] || die "run as root (sshd's privilege separation, smaps of the workers)"
ME=$(id -un)
# 1000 sessions: the gateway holds a few fds for each, the clients and
# sshds one or more each.
ulimit -n 65536 2>/dev/null || ulimit -n 8192

# ---- keys and peers ----
ssh-keygen -q -t ed25519 -N '' -f "$T/gw_key" -C connect-sshd-bench
ssh-keygen -q -t ed25519 -N '' -f "$T/user" -C bench-user
SP=$(free_port); JP=$(free_port); GP=$(free_port)
# wan: client->gateway, gateway->Studio, client->Studio, client->jump,
# jump->Studio; a delay proxy listens on each.
WPCG=$(free_port); WPGS=$(free_port); WPCS=$(free_port); WPCJ=$(free_port)
WPJS=$(free_port)
mkdir -p /run/sshd && chmod 755 /run/sshd
mkdir -p "$T/home"

# start_sshd NAME PORT AUTHORIZED_KEYS...: an OpenSSH sshd of its own.
start_sshd() {
	local name=$1 port=$2 dir=$T/$1; shift 2
	mkdir -p "$dir"; chmod 755 "$dir"
	ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
	cat "$@" > "$dir/authorized_keys"
	cat > "$dir/sshd_config" <<-EOF
	ListenAddress 127.0.0.1:$port
	HostKey $dir/host_key
	PidFile $dir/sshd.pid
	AuthorizedKeysFile $dir/authorized_keys
	PubkeyAuthentication yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	UseDNS no
	Ciphers $CIPHER
	AllowTcpForwarding yes
	MaxStartups 2000
	MaxSessions 16
	Subsystem sftp internal-sftp
	# As Debian's sshd_config: the client's locale is accepted.
	AcceptEnv LANG LC_*
	# The sessions' HOME is the bench's: the user's own dotfiles (a
	# pyenv init in ~/.bashrc, say, that every remote command would run)
	# stay out of the measurement, alike for every path.
	SetEnv HOME=$T/home
	LogLevel ERROR
	EOF
	/usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log" || die "sshd $name"
	wait_port "$port" || die "sshd $name not listening"
}
# The Studio accepts the gateway's key (gateway path) and the user's
# (direct and ProxyJump paths); the jump host only the user's.
# The gateway logs in by certificate (upstream_auth "certificate"): the
# Studio trusts the gateway key as CA for s1; direct logins use user.pub.
# (w1 is the same Studio behind the wan scenario's delay proxy.)
printf 'cert-authority,principals="s1,w1" %s\n' "$(cat "$T/gw_key.pub")" > "$T/gw_ca.line"
start_sshd studio "$SP" "$T/gw_ca.line" "$T/user.pub"
start_sshd jump "$JP" "$T/user.pub"

mkdir -p "$T/empty"; chmod 755 "$T/empty"
chmod 600 "$T/gw_key"
cat > "$T/gw.conf" <<EOF
listen = [ "127.0.0.1:$GP" ];
key = "$T/gw_key";
allowed_workspaces = [ 1 ];
workspaces = ( { id = 1; members = [ "bench" ]; } );
users = ( { name = "bench"; keys = [ "$(cat "$T/user.pub")" ]; } );
studios = ( { session = "s1"; workspace = 1; upstream = "127.0.0.1:$SP";
              upstream_user = "$ME"; },
            # The wan scenario's: the same Studio through a delay proxy.
            { session = "w1"; workspace = 1; upstream = "127.0.0.1:$WPGS";
              upstream_user = "$ME"; } );
algorithms = { ciphers = [ "$CIPHER" ]; };
workers = { prefork = 16; chroot = "$T/empty"; program = "$B/connect-sshd-worker"; };
limits = { max_sessions = $((SESSIONS + 64)); max_startups = "64:30:256";
           per_source_max_startups = 0; max_sessions_per_user = 0; };
log = { level = "info"; };
EOF
# The Studio's first key exchange first (its own sshd -T), ahead of the
# default list (connect-sshd -T prints it): the worker's guess is then
# right.
if [ -z "$KEX_FIRST" ]; then
	KEX_FIRST=$(/usr/sbin/sshd -T -f "$T/studio/sshd_config" 2>/dev/null |
	    sed -n 's/^kexalgorithms \([^,]*\).*/\1/p')
	[ -n "$KEX_FIRST" ] ||
		die "cannot read the Studio's first key exchange (sshd -T -f $T/studio/sshd_config)"
fi
if [ "$KEX_FIRST" != default ]; then
	kex=$("$B/connect-sshd" -T -f "$T/gw.conf" |
	    sed -n 's/^ *kex = \[ \(.*\) \];$/\1/p' | tr -d ' ' | tr , '\n' |
	    grep -vxF "\"$KEX_FIRST\"" | paste -sd, -)
	[ -n "$kex" ] || die "cannot read the default algorithms.kex (connect-sshd -T)"
	sed -i "s|^algorithms = { ciphers|algorithms = { kex = [ \"$KEX_FIRST\", $kex ]; ciphers|" "$T/gw.conf"
fi
echo "== gateway algorithms: $(grep '^algorithms' "$T/gw.conf")" >&2
"$B/connect-sshd" -f "$T/gw.conf" > "$T/gw.log" 2>&1 &
echo $! > "$T/gw.pid"
GWPID=$(cat "$T/gw.pid")
wait_log "$T/gw.log" "ready:" >/dev/null || { cat "$T/gw.log"; die "connect-sshd did not start"; }

cat > "$T/ssh_config" <<EOF
Host *
	HostName 127.0.0.1
	IdentityFile $T/user
	IdentitiesOnly yes
	IdentityAgent none
	BatchMode yes
	StrictHostKeyChecking no
	UserKnownHostsFile /dev/null
	LogLevel ERROR
	Ciphers $CIPHER
	Compression no
	ControlMaster no
	ControlPath none
Host gw
	Port $GP
	User bench@s1
Host direct
	Port $SP
	User $ME
Host jump
	Port $JP
	User $ME
Host pj
	Port $SP
	User $ME
	ProxyJump jump
Host gww
	Port $WPCG
	User bench@w1
Host directw
	Port $WPCS
	User $ME
Host jumpw
	Port $WPCJ
	User $ME
Host pjw
	Port $WPJS
	User $ME
	ProxyJump jumpw
EOF
S() { ssh -F "$T/ssh_config" "$@"; }
for p in gw direct pj; do
	[ "$(S "$p" echo ok 2>&1)" = ok ] || die "cannot log in through $p: $(S "$p" true 2>&1)"
done
PATHS=${BENCH_PATHS:-gw direct pj}
label() { case $1 in gw) echo connect-sshd ;; direct) echo direct ;; pj) echo ProxyJump ;; esac; }

mkdir -p "$(dirname "$CSV")"
echo "metric,path,value,unit,samples,cipher" > "$CSV"
csv() { echo "$1,$2,$3,$4,$5,$CIPHER" >> "$CSV"; }
TCK=$(getconf CLK_TCK)
# proc_cpu PID: the CPU seconds of PID and of the children it reaped.
proc_cpu() { awk -v t="$TCK" '{ printf "%.2f\n", ($14 + $15 + $16 + $17) / t }' "/proc/$1/stat"; }
# proc_ucpu PID: the user-mode part of that (the process's own code and
# its libraries: libssh's copies, the cipher), without the kernel's TCP
# work, which on loopback includes much of the receiving peer's.
proc_ucpu() { awk -v t="$TCK" '{ printf "%.2f\n", ($14 + $16) / t }' "/proc/$1/stat"; }
# The gateway's CPU so far: the monitor's own plus its reaped workers'.
gw_cpu() { proc_cpu "$GWPID"; }
gw_ucpu() { proc_ucpu "$GWPID"; }
gw_busy() { pgrep -P "$GWPID" | wc -l; }
# machine_cpu: the CPU seconds every core of the machine has been busy so
# far (user, nice, system, irq, softirq in /proc/stat; idle, iowait and a
# hypervisor's steal left out).  Over a transfer, that is the CPU its whole
# path costs: client, gateway or jump host, Studio, and the head and cat
# at the ends (and whatever else runs, which the bench keeps to nothing).
# (printf: awk prints numbers with 6 digits, 0.1 s at this size.)
machine_cpu() { awk -v t="$TCK" '$1 == "cpu" { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / t; exit }' /proc/stat; }
# The ProxyJump host's CPU so far, likewise: its sshd listener's own plus
# its reaped per-connection children's.  OpenSSH's own relay, for scale:
# it encrypts each byte once towards the client (the Studio's side is
# the inner connection, relayed as plain TCP), the gateway decrypts and
# encrypts it.
jump_cpu() { proc_cpu "$(cat "$T/jump/sshd.pid")"; }
# Wait until the finished connection's worker has been reaped (its CPU is
# then in the monitor's cutime/cstime) and the pool is back to size.
settle() {
	local i
	for i in $(seq 1 50); do
		[ "$(gw_busy)" -le 16 ] &&
		    ! pgrep -P "$(cat "$T/jump/sshd.pid")" > /dev/null && break
		sleep 0.1
	done
	sleep 0.3
}
# pss_peak FILE: until killed, the largest PSS (KiB) any worker has had,
# sampled every 0.2 s, kept in FILE.
pss_peak() {
	local max=0 w v
	while :; do
		for w in $(pgrep -P "$GWPID"); do
			v=$(awk '/^Pss:/ { print $2 }' "/proc/$w/smaps_rollup" 2>/dev/null)
			[ "${v:-0}" -gt "$max" ] && { max=$v; echo "$max" > "$1"; }
		done
		sleep 0.2
	done
}
MIB=$(awk -v s="$SIZE" 'BEGIN { print s / 1048576 }')
declare -A R

# ---- 1. bulk throughput (and 5. CPU per GiB on the gateway path) ----
if want bulk; then
	echo "== bulk: $ROUNDS x $MIB MiB each way per path, $CIPHER" >&2
	# machine_row DIR PATH: the whole machine's CPU per GiB over the
	# transfer just timed (m0..m1, t0..t1), and the cores it kept busy.
	machine_row() {
		awk -v a="$m0" -v b="$m1" -v s="$SIZE" \
		    'BEGIN { print (b - a) * 1073741824 / s }' >> "$T/mcpu.$1.$2"
		awk -v a="$m0" -v b="$m1" -v t0="$t0" -v t1="$t1" \
		    'BEGIN { print (b - a) / (t1 - t0) }' >> "$T/cores.$1.$2"
	}
	for r in $(seq 1 "$ROUNDS"); do
		for p in $PATHS; do
			settle; c0=$(gw_cpu); u0=$(gw_ucpu); j0=$(jump_cpu); m0=$(machine_cpu); t0=$(now)
			S "$p" "head -c $SIZE /dev/zero" > /dev/null || die "download via $p"
			t1=$(now); m1=$(machine_cpu); machine_row down "$p"; settle; c1=$(gw_cpu); u1=$(gw_ucpu); j1=$(jump_cpu)
			echo "$t0 $t1" | awk -v m="$MIB" '{ print m / ($2 - $1) }' >> "$T/down.$p"
			[ "$p" = gw ] && awk -v a="$c0" -v b="$c1" -v s="$SIZE" \
			    'BEGIN { print (b - a) * 1073741824 / s }' >> "$T/cpu.down"
			[ "$p" = gw ] && awk -v a="$u0" -v b="$u1" -v s="$SIZE" \
			    'BEGIN { print (b - a) * 1073741824 / s }' >> "$T/ucpu.down"
			[ "$p" = pj ] && awk -v a="$j0" -v b="$j1" -v s="$SIZE" \
			    'BEGIN { print (b - a) * 1073741824 / s }' >> "$T/jcpu.down"
			settle; c0=$(gw_cpu); u0=$(gw_ucpu); j0=$(jump_cpu); m0=$(machine_cpu); t0=$(now)
			head -c "$SIZE" /dev/zero | S "$p" "cat > /dev/null" || die "upload via $p"
			t1=$(now); m1=$(machine_cpu); machine_row up "$p"; settle; c1=$(gw_cpu); u1=$(gw_ucpu); j1=$(jump_cpu)
			echo "$t0 $t1" | awk -v m="$MIB" '{ print m / ($2 - $1) }' >> "$T/up.$p"
			[ "$p" = gw ] && awk -v a="$c0" -v b="$c1" -v s="$SIZE" \
			    'BEGIN { print (b - a) * 1073741824 / s }' >> "$T/cpu.up"
			[ "$p" = gw ] && awk -v a="$u0" -v b="$u1" -v s="$SIZE" \
			    'BEGIN { print (b - a) * 1073741824 / s }' >> "$T/ucpu.up"
			[ "$p" = pj ] && awk -v a="$j0" -v b="$j1" -v s="$SIZE" \
			    'BEGIN { print (b - a) * 1073741824 / s }' >> "$T/jcpu.up"
			echo "   round $r $p: down $(tail -1 "$T/down.$p") up $(tail -1 "$T/up.$p") MiB/s" >&2
		done
	done
	for p in $PATHS; do
		for d in down up; do
			R[$d.$p]=$(median < "$T/$d.$p")
			csv "throughput_$d" "$(label "$p")" "${R[$d.$p]}" MiB/s "$ROUNDS"
			R[mcpu.$d.$p]=$(median < "$T/mcpu.$d.$p")
			csv "machine_cpu_per_gib_$d" "$(label "$p")" "${R[mcpu.$d.$p]}" s/GiB "$ROUNDS"
			R[cores.$d.$p]=$(median < "$T/cores.$d.$p")
			csv "cores_busy_$d" "$(label "$p")" "${R[cores.$d.$p]}" cores "$ROUNDS"
		done
	done
	for d in down up; do
		R[cpu.$d]=$(median < "$T/cpu.$d")
		csv "gateway_cpu_per_gib_$d" connect-sshd "${R[cpu.$d]}" s/GiB "$ROUNDS"
		R[ucpu.$d]=$(median < "$T/ucpu.$d")
		csv "gateway_user_cpu_per_gib_$d" connect-sshd "${R[ucpu.$d]}" s/GiB "$ROUNDS"
		[ -s "$T/jcpu.$d" ] || continue
		R[jcpu.$d]=$(median < "$T/jcpu.$d")
		csv "jump_cpu_per_gib_$d" ProxyJump "${R[jcpu.$d]}" s/GiB "$ROUNDS"
	done
	# Memory per active transfer: one more transfer each way through the
	# gateway, apart from the timed ones (the sampling costs CPU), with
	# the largest PSS of any worker sampled every 0.2 s.
	settle
	pss_peak "$T/pss.down" &
	sp=$!
	S gw "head -c $SIZE /dev/zero" > /dev/null || die "download via gw (memory)"
	kill "$sp"; wait "$sp" 2>/dev/null
	settle
	pss_peak "$T/pss.up" &
	sp=$!
	head -c "$SIZE" /dev/zero | S gw "cat > /dev/null" || die "upload via gw (memory)"
	kill "$sp"; wait "$sp" 2>/dev/null
	for d in down up; do
		R[pss.$d]=$(awk '{ print $1 / 1024 }' "$T/pss.$d" 2>/dev/null)
		csv "worker_pss_active_$d" connect-sshd "${R[pss.$d]:-nan}" MiB 1
	done
fi

# ---- 2. login latency ----
if want login; then
	echo "== login: $LOGINS x 'ssh ... true' per path" >&2
	for i in $(seq 1 "$LOGINS"); do
		for p in $PATHS; do
			t0=$(now)
			S "$p" true 2>>"$T/ssh.err" || die "login via $p"
			t1=$(now)
			echo "$t0 $t1" | awk '{ print ($2 - $1) * 1000 }' >> "$T/login.$p"
		done
	done
	for p in $PATHS; do
		R[login.$p]=$(median < "$T/login.$p")
		csv login_latency "$(label "$p")" "${R[login.$p]}" ms "$LOGINS"
	done
fi

# ---- 3. connection rate ----
if want rate; then
	n=$((CLIENTS * PER_CLIENT))
	echo "== rate: $CLIENTS clients x $PER_CLIENT logins, $ROUNDS rounds, gw and direct" >&2
	for r in $(seq 1 "$ROUNDS"); do
		for p in gw direct; do
			settle
			t0=$(now)
			pids=""
			for c in $(seq 1 "$CLIENTS"); do
				( for i in $(seq 1 "$PER_CLIENT"); do
					S "$p" true 2>>"$T/ssh.err" || echo fail >> "$T/rate.fail"
				done ) &
				pids="$pids $!"
			done
			# (Not a bare wait: the gateway is a child too.)
			wait $pids
			t1=$(now)
			echo "$t0 $t1" | awk -v n="$n" '{ print n / ($2 - $1) }' >> "$T/rate.$p"
		done
	done
	[ -e "$T/rate.fail" ] && echo "bench: $(wc -l < "$T/rate.fail") failed logins in the rate test" >&2
	for p in gw direct; do
		R[rate.$p]=$(median < "$T/rate.$p")
		csv connection_rate "$(label "$p")" "${R[rate.$p]}" logins/s "$ROUNDS"
	done
fi

# ---- 4. scale: idle established sessions ----
if want scale; then
	echo "== scale: $SESSIONS idle sessions through connect-sshd" >&2
	settle
	idle_pss=0
	for w in $(pgrep -P "$GWPID"); do
		idle_pss=$((idle_pss + $(awk '/^Pss:/ { print $2 }' "/proc/$w/smaps_rollup")))
	done
	nidle=$(gw_busy)
	t0=$(now)
	# ssh -f: back in the background once logged in and the session is up.
	seq 1 "$SESSIONS" | xargs -P 16 -I{} \
		ssh -F "$T/ssh_config" -f -N -o ServerAliveInterval=0 gw 2>>"$T/scale.err"
	t1=$(now)
	sleep 2
	nsess=$(pgrep -f -- "-F $T/ssh_config -f -N" | wc -l)
	pss=0; nw=0
	for w in $(pgrep -P "$GWPID"); do
		v=$(awk '/^Pss:/ { print $2 }' "/proc/$w/smaps_rollup" 2>/dev/null) || continue
		pss=$((pss + ${v:-0})); nw=$((nw + 1))
	done
	mon_rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$GWPID/status")
	# Per session: all workers' PSS less what the idle pool held before.
	R[scale.n]=$nsess
	R[scale.t]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
	R[scale.pss_total]=$(awk -v k="$pss" 'BEGIN { print k / 1024 }')
	R[scale.pss_per]=$(awk -v k="$pss" -v i="$idle_pss" -v n="$nsess" \
	    'BEGIN { if (n > 0) print (k - i) / 1024 / n; else print "nan" }')
	R[scale.mon]=$(awk -v k="$mon_rss" 'BEGIN { print k / 1024 }')
	csv scale_sessions connect-sshd "$nsess" sessions 1
	csv scale_establish_time connect-sshd "${R[scale.t]}" s 1
	csv scale_workers_pss_total connect-sshd "${R[scale.pss_total]}" MiB 1
	csv scale_pss_per_session connect-sshd "${R[scale.pss_per]}" MiB 1
	csv scale_monitor_rss connect-sshd "${R[scale.mon]}" MiB 1
	pkill -f -- "-F $T/ssh_config -f -N"
	echo "   $nsess of $SESSIONS sessions up ($nw workers, $nidle idle before)" >&2
	sleep 3
fi

# ---- 6. login latency with the Redis registry ----
# A second gateway whose policy comes from a redis-server on loopback,
# with cache_ttl = 0 so that every login asks Redis every question (the
# worst case), alternated with the file-configured gateway.
if want registry && command -v redis-server >/dev/null; then
	echo "== registry: $LOGINS x 'ssh ... true', file vs Redis (cache_ttl 0)" >&2
	RP=$(free_port); GRP=$(free_port); MP=$(free_port)
	redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no \
	    --daemonize yes --pidfile "$T/redis.pid" --logfile "$T/redis.log" >/dev/null
	wait_port "$RP" || die "redis-server not listening"
	ctl() { CONNECT_REDIS_ADDRESS=127.0.0.1:$RP "$B/connect-sshctl" "$@" >/dev/null; }
	ctl workspace allow 1 && ctl member add 1 bench &&
	    ctl key add bench "$(cat "$T/user.pub")" &&
	    ctl studio add s1 1 "127.0.0.1:$SP" upstream_user="$ME" || die "connect-sshctl"
	cat > "$T/gwr.conf" <<-EOF
	listen = [ "127.0.0.1:$GRP" ];
	metrics_listen = "127.0.0.1:$MP";
	key = "$T/gw_key";
	registry = { backend = "redis"; address = "127.0.0.1:$RP"; cache_ttl = 0; };
	algorithms = { ciphers = [ "$CIPHER" ]; };
	workers = { prefork = 16; chroot = "$T/empty"; program = "$B/connect-sshd-worker"; };
	log = { level = "info"; };
	EOF
	"$B/connect-sshd" -f "$T/gwr.conf" > "$T/gwr.log" 2>&1 &
	echo $! > "$T/gwr.pid"
	wait_log "$T/gwr.log" "ready:" >/dev/null || { cat "$T/gwr.log"; die "connect-sshd (Redis) did not start"; }
	printf 'Host gwr\n\tPort %s\n\tUser bench@s1\n' "$GRP" >> "$T/ssh_config"
	for i in $(seq 1 "$LOGINS"); do
		for p in gw gwr; do
			t0=$(now)
			S "$p" true 2>>"$T/ssh.err" || die "login via $p"
			t1=$(now)
			echo "$t0 $t1" | awk '{ print ($2 - $1) * 1000 }' >> "$T/reglogin.$p"
		done
	done
	R[reg.file]=$(median < "$T/reglogin.gw")
	R[reg.redis]=$(median < "$T/reglogin.gwr")
	# The monitor's own account: commands per login, mean time per command.
	curl -s --max-time 5 "http://127.0.0.1:$MP/metrics" > "$T/gwr.metrics"
	R[reg.cmds]=$(awk -v n="$LOGINS" '$1 == "connect_sshd_registry_requests_total" { print $2 / (n + 1) }' "$T/gwr.metrics")
	R[reg.mean]=$(awk '$1 == "connect_sshd_registry_request_seconds_sum" { s = $2 }
	    $1 == "connect_sshd_registry_request_seconds_count" { c = $2 }
	    END { if (c > 0) print s / c * 1000; else print "nan" }' "$T/gwr.metrics")
	csv login_latency_registry file "${R[reg.file]}" ms "$LOGINS"
	csv login_latency_registry redis "${R[reg.redis]}" ms "$LOGINS"
	csv registry_commands_per_login redis "${R[reg.cmds]}" commands "$LOGINS"
	csv registry_command_mean redis "${R[reg.mean]}" ms "$LOGINS"
fi

# ---- 7. wan: every path over emulated latency ----
# A delay proxy (bench/delayproxy.c) on every leg of every path holds each
# chunk for D ms in each direction: client -> gateway -> Studio,
# client -> Studio, client -> jump -> Studio.  bench/README explains.
wan_start() {
	local d=$1 spec
	for spec in "$WPCG:$GP" "$WPGS:$SP" "$WPCS:$SP" "$WPCJ:$JP" "$WPJS:$SP"; do
		"$DPROXY" "${spec%%:*}" "${spec##*:}" "$d" &
		WAN_PIDS="$WAN_PIDS $!"
	done
	for spec in "$WPCG" "$WPGS" "$WPCS" "$WPCJ" "$WPJS"; do
		wait_port "$spec" || die "delay proxy on $spec not listening"
	done
}
if want wan; then
	DPROXY=$B/bench/delayproxy
	[ -x "$DPROXY" ] || die "build first: make bench (builds $DPROXY)"
	WMIB=$(awk -v s="$WAN_SIZE" 'BEGIN { print s / 1048576 }')
	R[wan.cap1]=$("$DPROXY" -c 1 1024)
	R[wan.cap2]=$("$DPROXY" -c 2 1024)
	csv delayproxy_capacity "1 hop" "${R[wan.cap1]}" MiB/s 1
	csv delayproxy_capacity "2 hops" "${R[wan.cap2]}" MiB/s 1
	echo "== wan: delay proxy capacity ${R[wan.cap1]} MiB/s one hop, ${R[wan.cap2]} two" >&2
	head -c "$WAN_SIZE" /dev/zero > "$T/wan.bin"; chmod 644 "$T/wan.bin"
	for D in $DELAYS; do
		wan_start "$D"
		echo "== wan D=$D ms per leg: $WAN_ROUNDS x $WMIB MiB, stream and sftp, each way" >&2
		for r in $(seq 1 "$WAN_ROUNDS"); do
			for p in $PATHS; do
				h=${p}w
				for k in down up get put; do
					rm -f "$T/wan.up"
					t0=$(now)
					case $k in
					down) S "$h" "head -c $WAN_SIZE /dev/zero" > /dev/null ;;
					up) head -c "$WAN_SIZE" /dev/zero | S "$h" "cat > /dev/null" ;;
					get) echo "get $T/wan.bin /dev/null" | sftp -q -F "$T/ssh_config" -b - "$h" > /dev/null ;;
					put) echo "put $T/wan.bin $T/wan.up" | sftp -q -F "$T/ssh_config" -b - "$h" > /dev/null ;;
					esac || die "wan $k via $p at D=$D"
					t1=$(now)
					echo "$t0 $t1" | awk -v m="$WMIB" '{ print m / ($2 - $1) }' >> "$T/wan.$D.$k.$p"
				done
				echo "   D=$D round $r $p: down $(tail -1 "$T/wan.$D.down.$p") up $(tail -1 "$T/wan.$D.up.$p") get $(tail -1 "$T/wan.$D.get.$p") put $(tail -1 "$T/wan.$D.put.$p") MiB/s" >&2
			done
		done
		# A login as a terminal user makes it: a pty, the locale
		# (Debian's ssh_config sends LANG and LC_*, its sshd_config
		# accepts them), then the command.  The client sends the three
		# requests without waiting between them.
		for i in $(seq 1 "$WAN_LOGINS"); do
			for p in $PATHS; do
				t0=$(now)
				S "${p}w" true 2>>"$T/ssh.err" || die "wan login via $p at D=$D"
				t1=$(now)
				echo "$t0 $t1" | awk '{ print ($2 - $1) * 1000 }' >> "$T/wan.$D.login.$p"
				t0=$(now)
				LANG=C.UTF-8 S "${p}w" -tt -o SendEnv=LANG true </dev/null \
				    >/dev/null 2>>"$T/ssh.err" || die "wan tty login via $p at D=$D"
				t1=$(now)
				echo "$t0 $t1" | awk '{ print ($2 - $1) * 1000 }' >> "$T/wan.$D.ttylogin.$p"
			done
		done
		# A later session on a connection the client keeps open
		# (ControlMaster; VS Code and JetBrains keep one and open a
		# session channel per terminal and task): its open, its
		# command and its end, without a login.
		for p in $PATHS; do
			S "${p}w" -o ControlMaster=yes -o ControlPath="$T/cm.$p" \
			    -o ControlPersist=no -fN 2>>"$T/ssh.err" ||
				die "wan control master via $p at D=$D"
			for i in $(seq 1 "$WAN_LOGINS"); do
				t0=$(now)
				S "${p}w" -o ControlPath="$T/cm.$p" true 2>>"$T/ssh.err" ||
					die "wan later session via $p at D=$D"
				t1=$(now)
				echo "$t0 $t1" | awk '{ print ($2 - $1) * 1000 }' >> "$T/wan.$D.session.$p"
			done
			S "${p}w" -o ControlPath="$T/cm.$p" -O exit 2>/dev/null
		done
		wan_stop
		for p in $PATHS; do
			for k in down up get put; do
				R[wan.$D.$k.$p]=$(median < "$T/wan.$D.$k.$p")
				csv "wan${D}ms_$k" "$(label "$p")" "${R[wan.$D.$k.$p]}" MiB/s "$WAN_ROUNDS"
			done
			R[wan.$D.login.$p]=$(median < "$T/wan.$D.login.$p")
			csv "wan${D}ms_login" "$(label "$p")" "${R[wan.$D.login.$p]}" ms "$WAN_LOGINS"
			R[wan.$D.ttylogin.$p]=$(median < "$T/wan.$D.ttylogin.$p")
			csv "wan${D}ms_tty_login" "$(label "$p")" "${R[wan.$D.ttylogin.$p]}" ms "$WAN_LOGINS"
			R[wan.$D.session.$p]=$(median < "$T/wan.$D.session.$p")
			csv "wan${D}ms_later_session" "$(label "$p")" "${R[wan.$D.session.$p]}" ms "$WAN_LOGINS"
		done
	done
fi

# ---- 5. the crypto floor ----
if want cpu; then
	case $CIPHER in
	aes128-gcm@openssh.com) evp=aes-128-gcm ;;
	aes256-gcm@openssh.com) evp=aes-256-gcm ;;
	chacha20-poly1305@openssh.com) evp=chacha20-poly1305 ;;
	aes128-ctr) evp=aes-128-ctr ;;
	aes192-ctr) evp=aes-192-ctr ;;
	aes256-ctr) evp=aes-256-ctr ;;
	*) evp=aes-128-gcm ;;
	esac
	# The last column of the table: 16384-byte blocks, in 1000s of bytes/s.
	# The floor is the fastest the cipher goes here, so the best of three:
	# one measurement ran at half speed once (0.90 s/GiB against
	# 0.47-0.54, 2026-12-02 12:31 UTC, right after the scale step), and
	# every ratio to the floor with it.
	kbps=0
	for _ in 1 2 3; do
		k=$(openssl speed -evp "$evp" -bytes 16384 -seconds 2 2>/dev/null |
		    awk -v e="$evp" 'tolower($1) == e { v = $NF } END { sub(/k$/, "", v); print v + 0 }')
		kbps=$(awk -v a="$kbps" -v b="${k:-0}" 'BEGIN { print (b > a) ? b : a }')
	done
	# One decrypt and one encrypt of a GiB (AEAD: the same work).
	R[floor]=$(awk -v k="$kbps" 'BEGIN { if (k > 0) print 2 * 1073741824 / (k * 1000); else print "nan" }')
	csv crypto_floor_per_gib "openssl speed -evp $evp" "${R[floor]}" s/GiB 1
	# The relay floor: the CPU a process spends here to read a GiB from
	# one loopback TCP connection and write it to another, 256 KiB at a
	# time, with no crypto (bench/delayproxy.c -r).  The best of five:
	# single runs spread from 0.25 to 0.47 s/GiB (2026-12-03), as the
	# scheduler puts the relay on its source's core or the sink's.
	# Crypto floor + relay floor is the least any relay that decrypts and
	# re-encrypts can spend per GiB on this machine.
	R[rfloor]=nan
	if [ -x "$B/bench/delayproxy" ]; then
		rf=""
		for _ in 1 2 3 4 5; do
			x=$("$B/bench/delayproxy" -r 1024) || continue
			rf=$(awk -v a="$rf" -v b="$x" 'BEGIN { print (a == "" || b < a) ? b : a }')
		done
		[ -n "$rf" ] && R[rfloor]=$rf
		csv relay_floor_per_gib "delayproxy -r" "${R[rfloor]}" s/GiB 5
	else
		echo "bench: no $B/bench/delayproxy (make bench builds it): no relay floor" >&2
	fi
	R[floors]=$(awk -v f="${R[floor]}" -v r="${R[rfloor]}" \
	    'BEGIN { if (f > 0 && r > 0) print f + r; else print "nan" }')
fi

# ---- the table ----
v() { echo "${R[$1]:-nan}"; }
echo
echo "connect-sshd benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, cipher $CIPHER, OpenSSH $(ssh -V 2>&1 | sed 's/,.*//')"
printf '%-30s %12s %12s %12s   %-28s %s\n' metric connect-sshd direct ProxyJump "ratio (target)" met
line() { printf '%-30s %12s %12s %12s   %-28s %s\n' "$@"; }
if want bulk; then
	for d in down up; do
		g=$(v "$d.gw"); dr=$(v "$d.direct"); pj=$(v "$d.pj")
		line "throughput $d (MiB/s)" "$(fmt "$g")" "$(fmt "$dr")" "$(fmt "$pj")" \
		    "$(ratio "$g" "$pj")x PJ (>= 1.3)" "$(met "$(ratio "$g" "$pj")" ">=" 1.3)"
		line "" "" "" "" "$(ratio "$g" "$dr")x direct (>= 0.7)" "$(met "$(ratio "$g" "$dr")" ">=" 0.7)"
	done
	# Throughput is cores busy over CPU per GiB: where the gateway's path
	# and the direct one keep as many cores busy, the gateway's speed
	# against direct is direct's CPU per GiB over the gateway path's.
	for d in down up; do
		g=$(v "mcpu.$d.gw"); dr=$(v "mcpu.$d.direct"); pj=$(v "mcpu.$d.pj")
		line "machine CPU s/GiB $d" "$(fmt "$g" 2)" "$(fmt "$dr" 2)" "$(fmt "$pj" 2)" \
		    "direct/gw $(ratio "$dr" "$g")" ""
		line "  cores busy, $d" "$(fmt "$(v "cores.$d.gw")" 2)" \
		    "$(fmt "$(v "cores.$d.direct")" 2)" "$(fmt "$(v "cores.$d.pj")" 2)" \
		    "of $(nproc)" ""
	done
	# Where the paths keep as many cores busy, the best any re-encrypting
	# relay could reach against direct: direct's machine CPU per GiB over
	# direct's plus the relay's least (the two floors).
	if want cpu; then
		for d in down up; do
			dr=$(v "mcpu.$d.direct")
			b=$(awk -v d="$dr" -v f="$(v floors)" \
			    'BEGIN { if (d > 0 && f > 0) printf "%.2f", d / (d + f); else print "nan" }')
			line "  any relay's bound, $d" "-" "-" "-" \
			    "${b}x direct (floors only)" ""
		done
	fi
	for d in down up; do
		line "worker PSS, active $d (MiB)" "$(fmt "$(v "pss.$d")" 2)" "-" "-" \
		    "peak, one transfer" ""
	done
fi
if want login; then
	g=$(v login.gw); dr=$(v login.direct); pj=$(v login.pj)
	line "login latency (ms, median)" "$(fmt "$g")" "$(fmt "$dr")" "$(fmt "$pj")" \
	    "$(ratio "$g" "$pj")x PJ (<= 0.8)" "$(met "$(ratio "$g" "$pj")" "<=" 0.8)"
fi
if want rate; then
	g=$(v rate.gw); dr=$(v rate.direct)
	line "logins/s, $CLIENTS clients" "$(fmt "$g")" "$(fmt "$dr")" "-" \
	    "$(ratio "$g" "$dr")x direct (>= 1.0)" "$(met "$(ratio "$g" "$dr")" ">=" 1.0)"
fi
if want scale; then
	line "sessions established" "$(v scale.n)" "-" "-" "of $SESSIONS in $(fmt "$(v scale.t)") s" ""
	line "PSS per session (MiB)" "$(fmt "$(v scale.pss_per)" 2)" "-" "-" "(<= 1.5)" \
	    "$(met "$(v scale.pss_per)" "<=" 1.5)"
	line "workers' PSS total (MiB)" "$(fmt "$(v scale.pss_total)")" "-" "-" "" ""
	line "monitor RSS (MiB)" "$(fmt "$(v scale.mon)")" "-" "-" "" ""
fi
if want bulk && want cpu; then
	for d in down up; do
		c=$(v "cpu.$d")
		line "gateway CPU s/GiB $d" "$(fmt "$c" 2)" "-" "-" \
		    "$(ratio "$c" "$(v floor)")x floor $(fmt "$(v floor)" 2) (<= 2.5)" \
		    "$(met "$(ratio "$c" "$(v floor)")" "<=" 2.5)"
	done
	for d in down up; do
		c=$(v "ucpu.$d")
		line "  of which user mode, $d" "$(fmt "$c" 2)" "-" "-" \
		    "$(ratio "$c" "$(v floor)")x floor" ""
	done
	line "relay floor s/GiB" "$(fmt "$(v rfloor)" 2)" "-" "-" \
	    "read+write, no crypto" ""
	for d in down up; do
		c=$(v "cpu.$d")
		line "  gateway over both floors, $d" "-" "-" "-" \
		    "$(ratio "$c" "$(v floors)")x $(fmt "$(v floors)" 2) s/GiB" ""
	done
	# The jump host's floor is half the gateway's: one AES pass a byte.
	for d in down up; do
		[ -n "${R[jcpu.$d]:-}" ] || continue
		c=$(v "jcpu.$d")
		h=$(awk -v f="$(v floor)" 'BEGIN { print f / 2 }')
		line "ProxyJump host CPU s/GiB $d" "-" "-" "$(fmt "$c" 2)" \
		    "$(ratio "$c" "$h")x its floor $(fmt "$h" 2) (one pass)" ""
	done
fi
if want registry && [ -n "${R[reg.redis]:-}" ]; then
	line "login ms, Redis registry" "$(fmt "$(v reg.redis)")" "-" "-" \
	    "$(ratio "$(v reg.redis)" "$(v reg.file)")x file registry ($(fmt "$(v reg.file)"))" ""
	line "Redis commands per login" "$(fmt "$(v reg.cmds)")" "-" "-" \
	    "mean $(fmt "$(v reg.mean)" 3) ms each" ""
fi
if want wan; then
	echo
	echo "wan: D ms one way on every leg (gateway and ProxyJump paths have two legs, direct one);"
	echo "delay proxy capacity $(v wan.cap1) MiB/s per hop, $(v wan.cap2) through two"
	for D in $DELAYS; do
		for k in down up get put; do
			g=$(v "wan.$D.$k.gw"); dr=$(v "wan.$D.$k.direct"); pj=$(v "wan.$D.$k.pj")
			line "D=$D $k (MiB/s)" "$(fmt "$g")" "$(fmt "$dr")" "$(fmt "$pj")" \
			    "$(ratio "$g" "$dr")x direct, $(ratio "$g" "$pj")x PJ" \
			    "$([ "$D" -ge 25 ] && echo "$(met "$(ratio "$g" "$dr")" ">=" 0.9)/$(met "$(ratio "$g" "$pj")" ">=" 1.5)")"
		done
		g=$(v "wan.$D.login.gw"); dr=$(v "wan.$D.login.direct"); pj=$(v "wan.$D.login.pj")
		line "D=$D login (ms, median)" "$(fmt "$g")" "$(fmt "$dr")" "$(fmt "$pj")" \
		    "$(ratio "$g" "$dr")x direct (<= 1.2 at 50)" \
		    "$([ "$D" = 50 ] && met "$(ratio "$g" "$dr")" "<=" 1.2)"
		g=$(v "wan.$D.ttylogin.gw"); dr=$(v "wan.$D.ttylogin.direct"); pj=$(v "wan.$D.ttylogin.pj")
		line "D=$D login, pty+LANG (ms)" "$(fmt "$g")" "$(fmt "$dr")" "$(fmt "$pj")" \
		    "$(ratio "$g" "$dr")x direct (<= 1.2 at 50)" \
		    "$([ "$D" = 50 ] && met "$(ratio "$g" "$dr")" "<=" 1.2)"
		g=$(v "wan.$D.session.gw"); dr=$(v "wan.$D.session.direct"); pj=$(v "wan.$D.session.pj")
		line "D=$D later session (ms)" "$(fmt "$g")" "$(fmt "$dr")" "$(fmt "$pj")" \
		    "$(ratio "$g" "$dr")x direct" ""
	done
fi
echo "CSV: $CSV"
