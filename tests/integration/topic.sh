#!/usr/bin/env bash
# topic.sh TOPIC: one topic of the integration tests, alone.
#
#   client (OpenSSH ssh) -> connect-sshd (monitor + sandboxed worker)
#                        -> Studio (OpenSSH sshd on 127.0.0.1)
#
# Sets up what every topic starts from -- a scratch directory, the users'
# and the gateway's keys, two real OpenSSH Studios and the gateway "gw"
# -- then runs TOPIC.sh in this shell, then the closing checks over every
# gateway log the topic wrote.  run.sh runs the topics in parallel; run
# this one to work on a single topic (KEEP=1 keeps the scratch directory).
#
# Everything listens on 127.0.0.1 only, on ports from this topic's own
# range (CSSHD_PORT_BASE, lib.sh).  Prints one "ok"/"not ok" line per
# test and a closing "N passed, M failed" line; exits non-zero on failure.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
TOPIC=${1:?usage: topic.sh TOPIC (a file TOPIC.sh beside this one)}
[ -f "$HERE/$TOPIC.sh" ] || { echo "topic.sh: no topic $TOPIC ($HERE/$TOPIC.sh)" >&2; exit 2; }
B=${B:-build}
case $B in /*) ;; *) B=$TOP/$B ;; esac
T=$(mktemp -d "/tmp/csshd-it-$TOPIC.XXXXXX")
chmod 755 "$T"
. "$HERE/lib.sh"
cleanup() {
	for p in "$T"/*.pid; do
		[ -e "$p" ] && { p=${p##*/}; stop_gateway "${p%.pid}"; }
	done
	stop_studio
	declare -F stop_redis >/dev/null && stop_redis
	[ "${FAIL:-0}" -gt 0 ] && keep_failed_logs
	[ -z "${KEEP:-}" ] && rm -rf "$T"
}
# keep_failed_logs: a topic with a failed test leaves its logs and
# configs (not its data files) in $CSSHD_IT_FAILED_DIR, and prints each
# gateway log's last lines, so that a failure seen once -- in CI, on a
# clean machine whose /tmp is gone afterwards -- can still be read.
keep_failed_logs() {
	local dir=${CSSHD_IT_FAILED_DIR:-/tmp/csshd-it-failed}/${T##*/} f
	mkdir -p "$dir" && cp -p "$T"/*.log "$T"/*.conf "$dir"/ 2>/dev/null
	echo "# $TOPIC: a test failed; its logs and configs are kept in $dir"
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "# ---- last lines of ${f##*/}"
		tail -n "${CSSHD_IT_FAILED_LINES:-25}" "$f" | sed 's/^/#   /'
	done
}
trap cleanup EXIT

ROOT=0
[ "$EUID" = 0 ] && ROOT=1

# ---- key exchange ----
# The production default is post-quantum (sntrup761x25519, ML-KEM), on
# both legs.  On this kind of machine it costs each login about 80 ms of
# CPU in the client, again in the worker (the Studio leg) and in the
# Studio: a third of a topic's CPU where the topic is logins.  The topics
# about key exchange and clients (pq, with the default offer's refusals,
# and clients) keep the default; the others, whose subject is not the key
# exchange, run gateways and Studios with curve25519 (it_kex_setting,
# start_studio).
# CSSHD_IT_KEX=default runs every topic with the production default
# (make check SANITIZE=1 does), =classical every topic with curve25519.
case ${CSSHD_IT_KEX:-auto} in
default | classical) IT_KEX=$CSSHD_IT_KEX ;;
auto)	case $TOPIC in
	pq | clients) IT_KEX=default ;;
	*) IT_KEX=classical ;;
	esac ;;
*)	echo "topic.sh: CSSHD_IT_KEX is auto, default or classical, not '$CSSHD_IT_KEX'" >&2
	exit 2 ;;
esac
STUDIO_USER=$(id -un)


# ---- keys ----
# run.sh makes them once for all topics (CSSHD_IT_KEYS); alone, here.
if [ -n "${CSSHD_IT_KEYS:-}" ]; then
	cp -p "$CSSHD_IT_KEYS"/* "$T/"
else
	it_keys "$T"
fi
mkdir -p "$T/keys"
cp "$T/bob.pub" "$T/keys/bob"

STUDIO_PORT=$(free_port)
KEY_STUDIO_PORT=$(free_port)	# a Studio that still takes the gateway key
DEAD_PORT=$(free_port)		# nothing listens there
GW_PORT=$(free_port)
read -r gw_type gw_blob _ < "$T/gw_key.pub"
echo "[127.0.0.1]:$GW_PORT $gw_type $gw_blob" > "$T/known_hosts"

mkdir -p "$T/empty"
chmod 755 "$T/empty"

# write_conf FILE PORT [extra settings...]
write_conf() {
	local file=$1 port=$2; shift 2
	cat > "$file" <<EOF
listen = [ "127.0.0.1:$port" ];
key = "$T/gw_key";
allowed_workspaces = [ 100 ];
workspaces = ( { id = 100; members = [ "alice", "bob", "carol", "dave", "testhook-unbounded",
                                                   "testhook-socket", "testhook-unanswered" ]; },
               { id = 200; members = [ "alice" ]; } );
users = ( { name = "alice"; keys = [ "$(<"$T/alice.pub")" ]; },
          { name = "bob"; keys_file = "$T/keys/bob"; },
          { name = "carol"; keys = [ "$(<"$T/carol.pub")" ]; },
          { name = "dave"; keys = [ "$(<"$T/dave.pub")" ]; },
          { name = "eve"; keys = [ "$(<"$T/eve.pub")" ]; },
          { name = "testhook-unbounded"; keys = [ "$(<"$T/alice.pub")" ]; },
          { name = "testhook-socket"; keys = [ "$(<"$T/alice.pub")" ]; },
          { name = "testhook-unanswered"; keys = [ "$(<"$T/alice.pub")" ]; } );
studios = ( { session = "s1"; workspace = 100; upstream = "127.0.0.1:$STUDIO_PORT";
              upstream_user = "$STUDIO_USER"; },
            { session = "s2"; workspace = 200; upstream = "127.0.0.1:$STUDIO_PORT";
              upstream_user = "$STUDIO_USER"; },
            { session = "s3"; workspace = 100; upstream = "127.0.0.1:$DEAD_PORT";
              upstream_user = "$STUDIO_USER"; },
            { session = "s4"; workspace = 100; upstream = "127.0.0.1:$STUDIO_PORT";
              upstream_user = "$STUDIO_USER"; users = [ "alice" ]; },
            { session = "s5"; workspace = 100; upstream = "127.0.0.1:$KEY_STUDIO_PORT";
              upstream_user = "$STUDIO_USER"; upstream_auth = "key"; },
            { session = "s6"; workspace = 100; upstream = "127.0.0.1:$STUDIO_PORT";
              upstream_user = "$STUDIO_USER"; } );
workers = { prefork = 2; chroot = "$T/empty"; program = "$B/connect-sshd-worker"; };
log = { level = "info"; format = "text"; };
$(it_kex_setting "$*")
$*
EOF
}

# debug_gateway NAME PORT [SETTING...]: a gateway of its own on PORT with
# write_conf's settings (and SETTING...) at log level debug (libssh's
# account of the Studio login, packet by packet), in the client's
# known_hosts; 0 once it is ready.
debug_gateway() {
	local name=$1 port=$2; shift 2
	write_conf "$T/$name.conf" "$port" \
	    'limits = { per_source_max_startups = 0; };' "$@"
	sed -i 's/level = "info"/level = "debug"/' "$T/$name.conf"
	echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
	start_gateway "$name" "$T/$name.conf"
}

start_studio "$STUDIO_PORT" || { echo "not ok - cannot start the Studio sshd"; exit 1; }
# s5's Studio is in upstream_auth "key" mode: the gateway key, no CA line.
start_studio "$KEY_STUDIO_PORT" "$T/keystudio" key ||
	{ echo "not ok - cannot start the key-mode Studio sshd"; exit 1; }
# The tests log several clients in at once from 127.0.0.1 (six in
# channels.sh): past per_source_max_startups' default of 5 (limits.sh
# tests the default).
write_conf "$T/gw.conf" "$GW_PORT" 'limits = { per_source_max_startups = 0; };'
chmod 600 "$T/gw_key"
if ! start_gateway gw "$T/gw.conf"; then
	echo "not ok - cannot start connect-sshd"
	exit 1
fi
GW_LOG=$T/gw.log


. "$HERE/$TOPIC.sh"

# ---- no sanitizer report anywhere (make check SANITIZE=1) ----
for p in "$T"/*.pid; do
	[ -e "$p" ] && { p=${p##*/}; stop_gateway "${p%.pid}"; }
done

# ---- every channel opened in this topic was closed exactly once ----
# (per gateway log; the hostile and fault tests' workers included; not
# the logs of monitors a test killed with SIGKILL, listed in sigkilled)
# One awk over every log: its channel=, not one inside a command's
# detail, which comes after it.
skip=; [ -f "$T/sigkilled" ] && skip=$(<"$T/sigkilled")
checked=$(awk -v skip="$skip" '
	BEGIN { n = split(skip, s, "\n"); for (i = 1; i <= n; i++) skipped[s[i]] = 1 }
	FNR == 1 { f = FILENAME; sub(/.*\//, "", f); use = !(f in skipped) }
	use && /event=channel\.(open|close) conn=[0-9]+ .* channel=[0-9]+/ {
		match($0, / conn=[0-9]+ /); conn = substr($0, RSTART + 1, RLENGTH - 2)
		match($0, / channel=[0-9]+/); ch = substr($0, RSTART + 1, RLENGTH - 1)
		k = f ": " conn " " ch
		if ($0 ~ /event=channel\.open /) { o[k]++ } else { c[k]++ }
	}
	/event=channel\.open/ { nopen++ }
	END { for (k in o) if (c[k] != 1) print k " opened " o[k] ", closed " c[k] + 0
	      for (k in c) if (!(k in o)) print k " closed, never opened"
	      print "nopen " nopen + 0 }' "$T"/*.log)
nopen=${checked##*nopen }
unmatched=${checked%nopen *}
unmatched=${unmatched%$'\n'}
[ -z "$unmatched" ] &&
	ok "all $nopen channels this topic opened have exactly one channel.close" ||
	{ not_ok "channel.close records: $nopen opened"; echo "$unmatched" | head -10 | sed 's/^/#   /'; }
# For run.sh, whose total must be far from 0 for the check to mean anything.
echo "# channels opened: $nopen"
reports=$(grep -lE "ERROR: (Address|Leak)Sanitizer|Sanitizer: CHECK failed|runtime error:" "$T"/*.log 2>/dev/null)
[ -z "$reports" ] && ok "no sanitizer report in any gateway log" ||
	{ not_ok "sanitizer reports in: $reports"
	  grep -hE -A12 "ERROR: (Address|Leak)Sanitizer|Sanitizer: CHECK failed|runtime error:" $reports | head -60 | sed 's/^/#   /'; }

echo "$TOPIC: $PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" = 0 ]
