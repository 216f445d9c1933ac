#!/usr/bin/env bash
# connect-sshd chaos soak (make soak): real clients of every kind, in
# concurrent loops, through the gateway to two real Studios (OpenSSH sshd on
# 127.0.0.1) with the Redis registry, while the soak kills serving workers,
# reloads the gateway, takes Redis away and restarts the Studios.  Every
# operation is verified (exit status, sha256) and logged; every failure is
# classified as explained by a chaos event or not.  Loopback only; every
# wait is bounded.  bench/README ("Soak") says how it works and how to read
# the report.  Not a test of make check.
#
# Settings (environment):
#   SOAK_S            seconds of load, default 600
#   SOAK_LOOPS        concurrent client loops, default 16
#   SOAK_ROLES        the loops' roles, in order, wrapped around (default:
#                     cm exec cat sftp cm scp rsync paramiko pty tunnel cm
#                     mux cat cm exec scp paramiko tunnel sftp mux)
#   SOAK_CHAOS        1 (default) or 0: no chaos
#   SOAK_CHAOS_S      seconds between chaos events, default 20
#   SOAK_CHAOS_CYCLE  the events in turn, default "kill redis kill hup kill
#                     studio" (kill: kill -9 of a serving worker; hup: SIGHUP
#                     reload; redis: Redis killed or stopped, then back;
#                     studio: a Studio's sshd and its sessions killed, then
#                     started again)
#   SOAK_REDIS_DOWN_S seconds Redis stays away, default 4
#   SOAK_CM_SESSIONS  concurrent sessions per ControlMaster round, default 4
#   SOAK_CM_RATE      their readers' speed, bytes/s, default 131072 (each
#                     session reads at 0.5x, 1x or 2x that)
#   SOAK_OP_TIMEOUT   seconds one operation may take, default 90
#   SOAK_DRAIN_S      seconds to wait for operations in flight, default 150
#   SOAK_PREFORK      the gateway's workers.prefork, default 8
#   SOAK_SEED         the loops' random seed, default the shell's pid
#   SOAK_DIR          where the report and, on failure, the logs are kept;
#                     default build/soak
#   SOAK_OUT          the report file, default $SOAK_DIR/report.txt
#   SOAK_KEEP=1       keep all logs in SOAK_DIR even when the soak passes
#   SOAK_PYTHON       a python3 with paramiko, default /usr/bin/python3
set -u
# Files this script writes are loaded by a gateway that refuses group- or
# world-writable ones (StrictModes); do not inherit a umask of 002.
umask 022
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$TOP/$B ;; esac
SOAK_S=${SOAK_S:-600}
LOOPS=${SOAK_LOOPS:-16}
ROLES=${SOAK_ROLES:-cm exec cat sftp cm scp rsync paramiko pty tunnel cm mux cat cm exec scp paramiko tunnel sftp mux}
CHAOS=${SOAK_CHAOS:-1}
CHAOS_S=${SOAK_CHAOS_S:-20}
CYCLE=${SOAK_CHAOS_CYCLE:-kill redis kill hup kill studio}
REDIS_DOWN_S=${SOAK_REDIS_DOWN_S:-4}
CM_SESSIONS=${SOAK_CM_SESSIONS:-4}
CM_RATE=${SOAK_CM_RATE:-131072}
OP_TIMEOUT=${SOAK_OP_TIMEOUT:-90}
DRAIN_S=${SOAK_DRAIN_S:-150}
PREFORK=${SOAK_PREFORK:-8}
SEED=${SOAK_SEED:-$$}
DIR=${SOAK_DIR:-$TOP/build/soak}
OUT=${SOAK_OUT:-$DIR/report.txt}
PY=${SOAK_PYTHON:-/usr/bin/python3}
CLIENTS=$HERE/soak_clients.py

T=$(mktemp -d /tmp/csshd-soak.XXXXXX)
chmod 755 "$T"
# free_port, wait_port, wait_log (PASS and FAIL there are unused here).
. "$TOP/tests/integration/lib.sh"

now() { date +%s.%N; }
die() { echo "soak: $*" >&2; exit 1; }
say() { echo "soak: $(date -u +%H:%M:%S) $*" >&2; }

# pids of a process and all its descendants
tree_pids() {
	local c
	echo "$1"
	for c in $(pgrep -P "$1"); do tree_pids "$c"; done
}
# kill_tree PID: freeze the whole tree (no more forks), then SIGKILL it.
kill_tree() {
	local pids="" i p
	for i in 1 2 3; do
		pids=$(tree_pids "$1" | sort -u)
		kill -STOP $pids 2>/dev/null
	done
	kill -KILL $pids 2>/dev/null
	for i in $(seq 1 50); do
		for p in $pids; do kill -0 "$p" 2>/dev/null && break; p=; done
		[ -z "$p" ] && return 0
		sleep 0.1
	done
	return 1
}

LOOP_PIDS=""
cleanup() {
	local p
	[ -n "$LOOP_PIDS" ] && for p in $LOOP_PIDS; do kill -KILL -- "-$p" 2>/dev/null; done
	[ -f "$T/gw.pid" ] && kill "$(cat "$T/gw.pid")" 2>/dev/null
	for s in a b; do
		[ -f "$T/studio-$s/sshd.pid" ] && kill_tree "$(cat "$T/studio-$s/sshd.pid")"
	done
	if [ -f "$T/redis.pid" ]; then
		kill -CONT "$(cat "$T/redis.pid")" 2>/dev/null
		kill -KILL "$(cat "$T/redis.pid")" 2>/dev/null
	fi
	[ -f "$T/echo.pid" ] && kill "$(cat "$T/echo.pid")" 2>/dev/null
	# Anything a killed loop left behind: the clients name this run's
	# scratch directory on their command line.
	for p in /proc/[0-9]*; do
		{ mapfile -d '' args < "$p/cmdline"; } 2>/dev/null || continue
		case "${args[*]}" in *"$T/"*) kill -KILL "${p#/proc/}" 2>/dev/null ;; esac
	done
	sleep 0.5
	rm -rf "$T"
}
trap cleanup EXIT

[ -x "$B/connect-sshd" ] || die "build first: make"
for c in ssh sshd scp sftp rsync redis-server ss pgrep; do
	command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || die "$c is missing (scripts/deps.sh)"
done
"$PY" -c 'import paramiko' 2>/dev/null ||
	die "$PY has no paramiko (scripts/deps.sh installs python3-paramiko)"
ME=$(id -un)
ulimit -n 65536 2>/dev/null || ulimit -n 8192
SANITIZE=${SANITIZE:-0}
case $B in *-san) SANITIZE=1 ;; esac
[ -n "$SANITIZE" ] || SANITIZE=0
mkdir -p "$DIR"

# ---- keys, data ----
ssh-keygen -q -t ed25519 -N '' -f "$T/gw_key" -C connect-sshd-soak
chmod 600 "$T/gw_key"
ssh-keygen -q -t ed25519 -N '' -f "$T/soak_key" -C soak-user
mkdir -p "$T/data" "$T/remote" "$T/work" "$T/ops" "$T/cm" "$T/empty" "$T/redis" "$T/home"
chmod 755 "$T/empty"
data_json() {	# data_json PREFIX COUNT MIN MAX: random files, as JSON
	local i f sz sep=""
	printf '['
	for i in $(seq 1 "$2"); do
		f=$T/data/$1$i
		sz=$(shuf -i "$3-$4" -n 1)
		head -c "$sz" /dev/urandom > "$f"
		printf '%s["%s", "%s", %d]' "$sep" "$f" "$(sha256sum < "$f" | cut -d' ' -f1)" "$sz"
		sep=", "
	done
	printf ']'
}
DATA=$(data_json f 8 1048576 4194304)
CMDATA=$(data_json cm 4 1048576 2097152)

# ---- two Studios ----
PA=$(free_port); PB=$(free_port); GP=$(free_port); RP=$(free_port)
EP=$(free_port)
# tunnel_port: the -L tunnels' listening port.  Each loop listens on it at
# its own address, during its tunnel operations only.  A port in the
# kernel's ephemeral range could meanwhile be given to one of the loop's
# own connections from that address as its source port, and that
# connection's TIME_WAIT then keeps the listener out for a minute
# (bind: Address already in use).  So a free port just below the range.
tunnel_port() {
	local port
	port=$(($(cut -f1 /proc/sys/net/ipv4/ip_local_port_range) - 1))
	while port_taken "$port"; do
		port=$((port - 1))
	done
	echo "$port"
}
TP=$(tunnel_port)
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd && chmod 755 /run/sshd
# studio_conf NAME PORT
studio_conf() {
	local dir=$T/studio-$1
	mkdir -p "$dir"; chmod 755 "$dir"
	ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" -C "studio-$1"
	# Certificates from the gateway key (upstream_auth "certificate")
	# for this Studio's session, sa or sb.
	printf 'cert-authority,principals="s%s" %s\n' "$1" "$(cat "$T/gw_key.pub")" > "$dir/authorized_keys"
	chmod 644 "$dir/authorized_keys"
	cat > "$dir/sshd_config" <<-EOF
	ListenAddress 127.0.0.1:$2
	HostKey $dir/host_key
	PidFile $dir/sshd.pid
	AuthorizedKeysFile $dir/authorized_keys
	PubkeyAuthentication yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	UseDNS no
	Subsystem sftp internal-sftp
	AllowTcpForwarding yes
	RekeyLimit 16M
	MaxStartups 200
	MaxSessions 64
	LogLevel INFO
	# The sessions' HOME is a directory of the soak's: the Studio user's
	# own dotfiles (on a developer's machine, say, a pyenv init in
	# ~/.bashrc that every remote command would run and whose lock a
	# killed Studio leaves behind) stay out of the measurement.
	SetEnv HOME=$T/home
	EOF
}
start_studio_n() {	# start_studio_n NAME PORT
	/usr/sbin/sshd -f "$T/studio-$1/sshd_config" -E "$T/studio-$1/sshd.log" || return 1
	wait_port "$2"
}
studio_conf a "$PA"; studio_conf b "$PB"
start_studio_n a "$PA" || die "Studio a did not start"
start_studio_n b "$PB" || die "Studio b did not start"

# ---- Redis, filled with connect-sshctl ----
RPASS=soak-redis-$$
printf '%s\n' "$RPASS" > "$T/redis.pass"
chmod 600 "$T/redis.pass"
start_redis() {
	# Append-only: the data survives kill -9 (Redis write()s the log
	# before it answers; fsync is for a crash of the machine, and per
	# write it made logins wait for a busy disk).  Not a job of this
	# shell (its kill -9 would be reported).
	( redis-server --port "$RP" --bind 127.0.0.1 --requirepass "$RPASS" \
	    --dir "$T/redis" --appendonly yes --appendfsync no --save '' \
	    --daemonize no >> "$T/redis.log" 2>&1 &
	  echo $! > "$T/redis.pid" )
	wait_port "$RP"
}
start_redis || die "redis-server did not start"
ctl() {
	CONNECT_REDIS_ADDRESS=127.0.0.1:$RP CONNECT_REDIS_PASSWORD=$RPASS \
	    "$B/connect-sshctl" "$@" > /dev/null
}
ctl workspace allow 1 && ctl member add 1 soak &&
	ctl key add soak "$(cat "$T/soak_key.pub")" &&
	ctl studio add sa 1 "127.0.0.1:$PA" upstream_user="$ME" &&
	ctl studio add sb 1 "127.0.0.1:$PB" upstream_user="$ME" || die "connect-sshctl"

# ---- the gateway, configured as tests/integration/registry.sh does ----
cat > "$T/gw.conf" <<EOF
listen = [ "127.0.0.1:$GP" ];
key = "$T/gw_key";
workers = { prefork = $PREFORK; chroot = "$T/empty"; program = "$B/connect-sshd-worker"; };
log = { level = "info"; format = "text"; };
registry = { backend = "redis"; address = "127.0.0.1:$RP";
             password_file = "$T/redis.pass"; timeout_ms = 300; cache_ttl = 1; };
limits = { max_sessions = 1000; max_startups = "64:30:256";
           per_source_max_startups = 0; max_sessions_per_user = 0; };
EOF
"$B/connect-sshd" -t -f "$T/gw.conf" > "$T/gw-t.out" 2>&1 || { cat "$T/gw-t.out"; die "configuration"; }
"$B/connect-sshd" -f "$T/gw.conf" > "$T/gw.log" 2>&1 &
echo $! > "$T/gw.pid"
GWPID=$(cat "$T/gw.pid")
wait_log "$T/gw.log" "ready:" || { tail -20 "$T/gw.log"; die "connect-sshd did not start"; }
echo "[127.0.0.1]:$GP $(cut -d' ' -f1,2 "$T/gw_key.pub")" > "$T/known_hosts"

cat > "$T/ssh_config" <<EOF
Host gw-a gw-b
	HostName 127.0.0.1
	Port $GP
	IdentityFile $T/soak_key
	IdentitiesOnly yes
	IdentityAgent none
	BatchMode yes
	StrictHostKeyChecking yes
	UserKnownHostsFile $T/known_hosts
	LogLevel ERROR
	ConnectTimeout 10
	ServerAliveInterval 10
	ServerAliveCountMax 3
	ControlMaster no
	ControlPath none
Host gw-a
	User soak@sa
Host gw-b
	User soak@sb
EOF

# ---- the -L tunnels' far end ----
"$PY" "$CLIENTS" echo "$EP" "$T/echo.pid" > "$T/echo.log" 2>&1 &
wait_port "$EP" || die "echo server did not start"

for h in gw-a gw-b; do
	out=$(ssh -F "$T/ssh_config" "$h" 'echo soak-ok' 2>&1)
	[ "$out" = soak-ok ] || { tail -20 "$T/gw.log"; die "cannot log in through $h: $out"; }
done

# ---- the monitor's size ----
mon_stat() {	# mon_stat LABEL: RSS (KiB) and open fds of the monitor
	local rss fds
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$GWPID/status" 2>/dev/null)
	fds=$(ls "/proc/$GWPID/fd" 2>/dev/null | wc -l)
	echo "$1 ${rss:-0} $fds"
}
settle() {	# the pool back to its idle size, at most 15 s
	local i
	for i in $(seq 1 150); do
		[ "$(pgrep -P "$GWPID" | wc -l)" -le "$PREFORK" ] && break
		sleep 0.1
	done
	sleep 0.5
}
settle
mon_stat start > "$T/monitor.stats"

START=$(date +%s)
HARD_END=$((START + SOAK_S + DRAIN_S + 30))
cat > "$T/soak.json" <<EOF
{ "conf": "$T/soak.json", "ssh_config": "$T/ssh_config", "gw_port": $GP,
  "user": "soak", "user_key": "$T/soak_key", "known_hosts": "$T/known_hosts",
  "studios": { "gw-a": "sa", "gw-b": "sb" },
  "data": $DATA, "cm_data": $CMDATA,
  "remote": "$T/remote", "work": "$T/work", "ops_dir": "$T/ops", "cm_dir": "$T/cm",
  "stop_file": "$T/stop", "hard_end": $HARD_END, "op_timeout": $OP_TIMEOUT,
  "cm_sessions": $CM_SESSIONS, "cm_rate": $CM_RATE,
  "echo_port": $EP, "tunnel_port": $TP, "python": "$PY", "seed": $SEED,
  "chaos_log": "$T/chaos.log", "monitor_stats": "$T/monitor.stats",
  "stop_time": "$T/stop_time", "gw_log": "$T/gw.log", "report": "$OUT",
  "started": $START, "duration": $SOAK_S, "loops": $LOOPS, "chaos": $CHAOS,
  "chaos_s": $CHAOS_S, "build": "$B", "sanitize": $SANITIZE }
EOF
touch "$T/chaos.log"

# ---- the client loops, each in its own process group ----
read -r -a ROLE_LIST <<< "$ROLES"
for ((l = 0; l < LOOPS; l++)); do
	role=${ROLE_LIST[$((l % ${#ROLE_LIST[@]}))]}
	setsid "$PY" "$CLIENTS" loop "$T/soak.json" "$l" "$role" > "$T/loop$l.log" 2>&1 &
	LOOP_PIDS="$LOOP_PIDS $!"
done
say "$LOOPS loops ($ROLES), ${SOAK_S}s, chaos $([ "$CHAOS" = 1 ] && echo "every ${CHAOS_S}s: $CYCLE" || echo off); gateway $B, logs $T"

# ---- chaos ----
chaos_log() {	# TYPE START END DETAIL
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$T/chaos.log"
	say "chaos $1 $4"
}
# kill -9 of a random serving worker: a child of the monitor that holds a
# client's connection.  The connection's source address names the loop.
chaos_kill() {
	local t0 t1 pick peers kids
	t0=$(now)
	# Not ss -p, which reads every process's fds on the machine: the
	# sockets of the monitor's children only, matched by inode.
	kids=$(pgrep -P "$GWPID" | sed 's|.*|/proc/&/fd|')
	{
		ss -tneH state established "( sport = :$GP )" 2>/dev/null |
		    awk '{ peer = $4; sub(/:[0-9]+$/, "", peer)
			if (match($0, /ino:[0-9]+/))
				print "S", substr($0, RSTART + 4, RLENGTH - 4), peer }'
		[ -n "$kids" ] && find $kids -maxdepth 1 -lname 'socket:*' -printf 'F %h %l\n' 2>/dev/null
	} | awk '$1 == "S" { peer[$2] = $3; next }
		{ split($2, p, "/"); ino = $3; gsub(/[^0-9]/, "", ino)
		  if (ino in peer) print p[3], peer[ino] }' | sort -u > "$T/serving"
	# Try them in random order: a worker may have ended since the
	# snapshot (most connections are short).  /proc/PID/stat, read by
	# the shell itself, says whether it is still the monitor's child.
	pick=""
	for cand in $(cut -d' ' -f1 "$T/serving" | sort -u | shuf); do
		read -r _ _ _ ppid _ 2>/dev/null < "/proc/$cand/stat" || continue
		[ "$ppid" = "$GWPID" ] || continue
		kill -KILL "$cand" 2>/dev/null && { pick=$cand; break; }
	done
	t1=$(now)
	if [ -z "$pick" ]; then
		chaos_log kill "$t0" "$t1" "none ($(wc -l < "$T/serving") connections seen, all ended first)"
		return
	fi
	peers=$(awk -v p="$pick" '$1 == p { print $2 }' "$T/serving" | sort -u | paste -sd, -)
	chaos_log kill "$t0" "$t1" "pid=$pick peers=$peers"
}
chaos_hup() {
	local t0
	t0=$(now)
	kill -HUP "$GWPID"
	sleep 0.5
	chaos_log hup "$t0" "$(now)" ""
}
REDIS_MODE=kill
chaos_redis() {
	local t0 pid i
	t0=$(now)
	pid=$(cat "$T/redis.pid")
	if [ "$REDIS_MODE" = kill ]; then
		kill -KILL "$pid"
		for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		sleep "$REDIS_DOWN_S"
		start_redis || say "redis-server did not come back"
	else
		kill -STOP "$pid"
		sleep "$REDIS_DOWN_S"
		kill -CONT "$pid"
	fi
	chaos_log redis "$t0" "$(now)" "mode=$REDIS_MODE"
	[ "$REDIS_MODE" = kill ] && REDIS_MODE=stop || REDIS_MODE=kill
}
STUDIO_NEXT=a
chaos_studio() {
	local t0 s=$STUDIO_NEXT port
	[ "$s" = a ] && port=$PA || port=$PB
	t0=$(now)
	kill_tree "$(cat "$T/studio-$s/sshd.pid")" || say "studio $s: processes left"
	rm -f "$T/studio-$s/sshd.pid"
	start_studio_n "$s" "$port" || say "studio $s did not come back"
	chaos_log studio "$t0" "$(now)" "studio=gw-$s"
	[ "$s" = a ] && STUDIO_NEXT=b || STUDIO_NEXT=a
}

read -r -a CYCLE_LIST <<< "$CYCLE"
next=$((START + CHAOS_S))
nextsample=$START
ev=0
: > "$T/monitor.samples"
while [ "$(date +%s)" -lt $((START + SOAK_S)) ]; do
	if ! kill -0 "$GWPID" 2>/dev/null; then
		say "the monitor died"
		break
	fi
	t=$(date +%s)
	if [ "$t" -ge "$nextsample" ]; then
		echo "$t $(mon_stat x | cut -d' ' -f2-) $(pgrep -P "$GWPID" | wc -l)" >> "$T/monitor.samples"
		nextsample=$((t + 10))
	fi
	if [ "$CHAOS" = 1 ] && [ "$t" -ge "$next" ]; then
		case ${CYCLE_LIST[$((ev % ${#CYCLE_LIST[@]}))]} in
		kill) chaos_kill ;;
		hup) chaos_hup ;;
		redis) chaos_redis ;;
		studio) chaos_studio ;;
		esac
		ev=$((ev + 1))
		next=$(($(date +%s) + CHAOS_S))
	fi
	sleep 1
done

# ---- stop the clients, wait for what is in flight ----
touch "$T/stop"
say "stopping the loops; waiting up to ${DRAIN_S}s for operations in flight"
( sleep "$DRAIN_S"
  for p in $LOOP_PIDS; do kill -TERM "$p" 2>/dev/null; done
  sleep 5
  for p in $LOOP_PIDS; do kill -KILL -- "-$p" 2>/dev/null; done ) &
watchdog=$!
# (Never a bare wait: the gateway and the echo server are children too.)
[ -n "$LOOP_PIDS" ] && wait $LOOP_PIDS 2>/dev/null
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
LOOP_PIDS=""
for l in $(seq 0 $((LOOPS - 1))); do
	[ -s "$T/loop$l.log" ] && { say "loop $l said:"; tail -5 "$T/loop$l.log" >&2; }
done

if kill -0 "$GWPID" 2>/dev/null; then
	settle
	mon_stat end >> "$T/monitor.stats"
	echo "alive 1 1" >> "$T/monitor.stats"
else
	echo "alive 0 0" >> "$T/monitor.stats"
fi
now > "$T/stop_time"
kill "$GWPID" 2>/dev/null
for i in $(seq 1 100); do kill -0 "$GWPID" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$GWPID" 2>/dev/null
wait "$GWPID" 2>/dev/null
rm -f "$T/gw.pid"

# ---- the report ----
# (Printed last, after the note on the logs: its closing line is the
# "soak: N passed, M failed" that CI output parsers read.)
"$PY" "$CLIENTS" report "$T/soak.json" > "$T/report.out"
rc=$?
cp "$T/ops"/*.jsonl "$T/chaos.log" "$T/monitor.samples" "$DIR/" 2>/dev/null
cat "$T/ops"/*.jsonl > "$DIR/ops.jsonl" 2>/dev/null && rm -f "$DIR"/loop*.jsonl
if [ "$rc" != 0 ] || [ "${SOAK_KEEP:-0}" = 1 ]; then
	rm -rf "$DIR/logs"
	mkdir -p "$DIR/logs"
	cp "$T/gw.log" "$T/gw.conf" "$T/redis.log" "$T/soak.json" "$DIR/logs/" 2>/dev/null
	for s in a b; do cp "$T/studio-$s/sshd.log" "$DIR/logs/studio-$s.log" 2>/dev/null; done
	cp "$T"/loop*.log "$T"/cm/*.err "$DIR/logs/" 2>/dev/null
	echo "soak: logs kept in $DIR/logs" >&2
fi
cat "$T/report.out"
exit "$rc"
