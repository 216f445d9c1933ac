# lib.sh - helpers for the integration tests: a real OpenSSH sshd as the
# Studio, real connect-sshd instances, the real ssh client.  Loopback only.
# Sourced by topic.sh; expects $B (build dir) and $T (scratch dir).
# Files this script writes are loaded by a gateway that refuses group- or
# world-writable ones (StrictModes); do not inherit a umask of 002.
umask 022
# Debian's tools, which scripts/deps.sh installs (python3 with paramiko
# and asyncssh, ssh, sshd, redis-server, haproxy), not whatever a
# developer's PATH puts first: a pyenv shim for python3 costs half a
# second of CPU a call.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

PASS=0
FAIL=0
SKIP=0
TESTNO=0

# A result that took 30 s or more since the one before is marked, so that
# a topic that ran long (a wait that ran into its time limit, a loaded
# machine) shows where.
LAST_RESULT=$SECONDS
took_long() {
	local n=$((SECONDS - LAST_RESULT))
	LAST_RESULT=$SECONDS
	[ "$n" -lt 30 ] || echo "# the next result took $n s"
}

ok() {
	TESTNO=$((TESTNO + 1)); PASS=$((PASS + 1))
	took_long
	echo "ok $TESTNO - $*"
}

not_ok() {
	TESTNO=$((TESTNO + 1)); FAIL=$((FAIL + 1))
	took_long
	echo "not ok $TESTNO - $*"
}

skip() {
	TESTNO=$((TESTNO + 1)); SKIP=$((SKIP + 1))
	took_long
	echo "ok $TESTNO - # SKIP $*"
}

# have_py MODULE: /usr/bin/python3 can import MODULE, found without
# importing it (importing paramiko costs 0.3 s of CPU, asyncssh 0.4).
have_py() {
	/usr/bin/python3 -c 'import importlib.util, sys
sys.exit(importlib.util.find_spec(sys.argv[1]) is None)' "$1" 2>/dev/null
}

# check DESCRIPTION COMMAND...: the command must succeed.
check() {
	local what=$1; shift
	if "$@" >"$T/check.out" 2>&1; then
		ok "$what"
	else
		not_ok "$what"
		sed 's/^/#   /' "$T/check.out" | tail -n 20
	fi
}

# port_taken PORT: a TCP socket of this machine is bound to PORT, in any
# state (a listener, a connection, TIME_WAIT), from /proc/net/tcp{,6}: one
# grep, where a python3 that binds it cost ten times the CPU.
port_taken() {
	local hex
	printf -v hex '%04X' "$1"
	grep -q "^ *[0-9]*: [0-9A-F]*:$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# free_port: a TCP port free on 127.0.0.1.  With CSSHD_PORT_BASE (run.sh
# gives each topic its own 200 ports, below the kernel's ephemeral range)
# the next free one of that range, counted in $T/.next_port: topics that
# run at once never pick the same port, and no client's source port can
# take one between its pick and its use.  Without it, one the kernel picks.
free_port() {
	local next=$T/.next_port port
	if [ -z "${CSSHD_PORT_BASE:-}" ]; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
		return
	fi
	read -r port 2>/dev/null < "$next" || port=$CSSHD_PORT_BASE
	while port_taken "$port"; do
		port=$((port + 1))
	done
	[ "$port" -lt $((CSSHD_PORT_BASE + 200)) ] ||
		{ echo "free_port: the 200 ports from $CSSHD_PORT_BASE are used up" >&2; return 1; }
	echo $((port + 1)) > "$next"
	echo "$port"
}

# it_keys DIR: the keys every topic uses: the gateway's, the users'
# (ed25519, and carol's RSA) and mallory's, whom nobody registered; and
# frank's RSA key, certified in usercert.sh (RSA keys take seconds of CPU
# to make: once per run).
it_keys() {
	local u
	ssh-keygen -q -t ed25519 -N '' -f "$1/gw_key" -C connect-sshd-test
	for u in alice bob dave eve mallory; do
		ssh-keygen -q -t ed25519 -N '' -f "$1/$u" -C "$u@test"
	done
	ssh-keygen -q -t rsa -b 3072 -N '' -f "$1/carol" -C carol@test
	ssh-keygen -q -t rsa -b 2048 -N '' -f "$1/frank_rsa" -C frank-rsa@test
}

# nap SECONDS: sleep, without a process: a read that times out on a FIFO
# nobody writes.  The wait loops poll ten times a second, and each
# sleep(1) there cost more CPU (fork and exec, 5-10 ms on this kind of
# machine) than the wait; over make check, seconds of it.
nap() {
	if [ -z "${NAP_FD:-}" ]; then
		[ -p "$T/.nap" ] || mkfifo "$T/.nap" 2>/dev/null
		exec {NAP_FD}<>"$T/.nap"
	fi
	read -r -t "$1" -u "$NAP_FD" _ || :
}

wait_port() {
	local port=$1 i
	for ((i = 1; i <= 100; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		nap 0.1
	done
	return 1
}

# wait_log FILE PATTERN: wait up to 10 s for a line matching PATTERN.
wait_log() {
	local i
	for ((i = 1; i <= 100; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		nap 0.1
	done
	return 1
}

# ---- the Studio: a real OpenSSH sshd that accepts only the gateway key ----

# studio_authkeys MODE [SESSION...]: the authorized_keys of a Studio.
# cert: for each session, the cert-authority line connect-sshd -S prints
# (the gateway key as CA, that session as the only principal); key: the
# gateway public key itself (upstream_auth "key").
studio_authkeys() {
	local mode=$1 s; shift
	if [ "$mode" = key ]; then
		cat "$T/gw_key.pub"
		return
	fi
	printf 'listen = [ ":1" ];\nkey = "%s";\n' "$T/gw_key" > "$T/setup.conf"
	for s in "$@"; do
		"$B/connect-sshd" -f "$T/setup.conf" -S "$s" || return 1
	done
}

# The sessions of the main Studio, and its authorized_keys as run.sh
# makes it once for every topic (eight connect-sshd -S runs per topic
# otherwise).
STUDIO_SESSIONS="s1 s2 s4 r1 r2 r9 sa sb"
STUDIO_AUTHKEYS_MADE=studio_authorized_keys

# start_studio PORT [DIR [MODE SESSION...]]: the default is the main
# Studio, $T/studio, with certificates for every session the tests route
# to it.  With STUDIO_OPENSSH=DIR (an unpacked OpenSSH, as
# scripts/openssh-backports.sh leaves it) the Studio is DIR's sshd, told
# where its helpers are; otherwise the system's.
# STUDIO_LOGLEVEL (default VERBOSE) is its sshd's LogLevel; STUDIO_EXTRA,
# a line added to its sshd_config.
start_studio() {
	local port=$1 dir=${2:-$T/studio} sshd=/usr/sbin/sshd ossh=${STUDIO_OPENSSH:-}
	local made=
	shift; [ $# -gt 0 ] && shift
	# shellcheck disable=SC2086
	[ $# -gt 0 ] || { set -- cert $STUDIO_SESSIONS; made=$T/$STUDIO_AUTHKEYS_MADE; }
	mkdir -p "$dir"
	chmod 755 "$dir"
	[ -f "$dir/host_key" ] ||
		ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" -C studio-host
	if [ -n "$made" ] && [ -f "$made" ]; then
		cp "$made" "$dir/authorized_keys"
	else
		studio_authkeys "$@" > "$dir/authorized_keys" || return 1
	fi
	chmod 644 "$dir/authorized_keys"
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
	AcceptEnv LANG LC_* CSSHD_TEST_*
	# A shell sshd starts reads ~/.bashrc only at SHLVL < 2 (bash's
	# SSH_SOURCE_BASHRC): the Studio user's dotfiles (root's pyenv init,
	# here) stay out of every command the tests run, and out of their
	# CPU time.
	SetEnv SHLVL=1
	$(it_kex_setting "" sshd)
	Subsystem sftp internal-sftp
	# Rekey often, so that long transfers re-exchange keys on the
	# gateway's Studio leg too.
	RekeyLimit 16M
	# The fault test logs in 20 clients at once through the gateway; the
	# default 10:30:100 would drop some of them at the Studio.
	MaxStartups 200
	LogLevel ${STUDIO_LOGLEVEL:-VERBOSE}
	${STUDIO_EXTRA:-}
	EOF
	if [ -n "$ossh" ]; then
		sshd=$ossh/usr/sbin/sshd
		[ -x "$ossh/usr/lib/openssh/sshd-session" ] &&
			echo "SshdSessionPath $ossh/usr/lib/openssh/sshd-session" >> "$dir/sshd_config"
		[ -x "$ossh/usr/lib/openssh/sshd-auth" ] &&
			echo "SshdAuthPath $ossh/usr/lib/openssh/sshd-auth" >> "$dir/sshd_config"
	fi
	[ "$EUID" = 0 ] && [ ! -d /run/sshd ] && mkdir -p /run/sshd && chmod 755 /run/sshd
	# The system's sshd (9.2) without re-executing itself per connection
	# (-r): its own exec and key loading cost a fifth of its CPU per
	# login, a few seconds over make check.  10.0 has no -r (its
	# sshd-session is a program of its own).
	local noreexec=-r
	[ -n "$ossh" ] && noreexec=
	"$sshd" $noreexec -f "$dir/sshd_config" -E "$dir/sshd.log" || return 1
	wait_port "$port"
}

# Every Studio start_studio started under $T.
stop_studio() {
	local p
	for p in "$T"/*/sshd.pid; do
		[ -f "$p" ] && kill "$(<"$p")" 2>/dev/null
		rm -f "$p"
	done
}

# ---- connect-sshd instances ----

# start_gateway NAME CONFIG [env...]: run in the background, log to NAME.log.
start_gateway() {
	local name=$1 conf=$2; shift 2
	# Empty the log first: the redirect below happens in the background
	# child, and until it does, a log left by an earlier gateway of the
	# same name would show wait_log its "ready:".
	: > "$T/$name.log"
	if [ $# -gt 0 ]; then
		env "$@" "$B/connect-sshd" -f "$conf" >"$T/$name.log" 2>&1 &
	else
		"$B/connect-sshd" -f "$conf" >"$T/$name.log" 2>&1 &
	fi
	echo $! > "$T/$name.pid"
	wait_log "$T/$name.log" "ready:" || { cat "$T/$name.log"; return 1; }
}

# running PID: the process exists and has not ended.  A process that
# ended but was not yet reaped (a zombie) still answers kill -0; an
# orphan's zombie waits for PID 1, which in a container may reap late.
running() {
	local state
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $state in
	"" | Z*) return 1 ;;
	esac
}

# stop_holdproxy RELEASE_FILE PID: a holdproxy.py lets what it holds go
# and ends.
stop_holdproxy() {
	: > "$1"
	kill "$2" 2>/dev/null
	wait "$2" 2>/dev/null
}

# reload_gateway NAME: SIGHUP the gateway start_gateway NAME started, and
# wait (at most 10 s) for its verdict in its log: reloaded, or refused.
reload_gateway() {
	local log=$T/$1.log n _i
	n=$(grep -c "configuration reloaded\|reload failed" "$log")
	kill -HUP "$(<"$T/$1.pid")"
	for ((_i = 1; _i <= 100; _i++)); do
		[ "$(grep -c "configuration reloaded\|reload failed" "$log")" -gt "$n" ] && return 0
		nap 0.1
	done
	return 1
}

stop_gateway() {
	local name=$1 pid _i
	read -r pid 2>/dev/null < "$T/$name.pid" || return 0
	kill "$pid" 2>/dev/null
	for ((_i = 1; _i <= 50; _i++)); do
		kill -0 "$pid" 2>/dev/null || break
		nap 0.1
	done
	kill -9 "$pid" 2>/dev/null
	rm -f "$T/$name.pid"
}

# direct_ssh [ssh args...]: the same client straight to the Studio, for
# side-by-side comparisons: the key-mode Studio, which accepts the gateway
# key itself (the main one takes only certificates); same sshd settings.
direct_ssh() {
	ssh -F /dev/null -p "$KEY_STUDIO_PORT" -i "$T/gw_key" -o IdentitiesOnly=yes \
	    -o IdentityAgent=none -o BatchMode=yes -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	    "$STUDIO_USER@127.0.0.1" "$@"
}

# gw_ssh PORT KEY USER@SESSION [ssh args...]: the real client, strict host
# key checking against the gateway's public key.
gw_ssh() {
	local port=$1 key=$2 login=$3; shift 3
	ssh -F /dev/null -p "$port" -i "$key" \
	    -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
	    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts" \
	    -o ConnectTimeout=10 -o LogLevel="${GW_SSH_LOGLEVEL:-ERROR}" \
	    "$login@127.0.0.1" "$@"
}

# it_kex_setting EXTRA [sshd]: with IT_KEX=classical (topic.sh), the
# gateway's algorithms setting for curve25519 (both names: paramiko knows
# only the @libssh.org one), or with "sshd" the Studio's KexAlgorithms
# line; nothing for IT_KEX=default, or when EXTRA, the settings a test
# adds, has an algorithms group of its own.
it_kex_setting() {
	[ "${IT_KEX:-default}" = classical ] || return 0
	case $1 in *algorithms*) return 0 ;; esac
	if [ "${2:-}" = sshd ]; then
		echo "KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org"
	else
		echo 'algorithms = { kex = [ "curve25519-sha256", "curve25519-sha256@libssh.org" ]; };'
	fi
}
