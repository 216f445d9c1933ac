#!/usr/bin/env bash
# run.sh [TOPIC...]: the integration tests, the real privsep path end to
# end, one topic per file (TOPICS below), each run by topic.sh with its
# own scratch directory, Studios and gateway, several at once.
#
#   tests/integration/run.sh                 every topic
#   tests/integration/run.sh relay bulk      two of them
#   CSSHD_IT_ONLY=relay,bulk ... run.sh      the same
#   CSSHD_IT_JOBS=1 ... run.sh               one at a time
#   CSSHD_IT_KEX=default ... run.sh          every topic post-quantum
#                                            (topic.sh, "key exchange")
#
# Each topic's output is printed whole when it ends, then one line per
# topic and the totals.  Exits non-zero if any test failed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$TOP/$B ;; esac
export B

# Longest first, so that the last topic to start is a short one: the two
# with post-quantum logins (pq, clients), then by CPU (2026-12-01);
# those that mostly wait (admission, timeouts) early, beside busy ones.
TOPICS="pq clients admission limits channels forward relay bulk timeouts
    basics fleet lookup faults reload registry sandbox window usercert
    service shutdown upstream cert"

if [ $# -gt 0 ]; then
	TOPICS=$*
elif [ -n "${CSSHD_IT_ONLY:-}" ]; then
	TOPICS=$(echo "$CSSHD_IT_ONLY" | tr ',' ' ')
fi
for t in $TOPICS; do
	[ -f "$HERE/$t.sh" ] && [ "$t" != run ] && [ "$t" != topic ] && [ "$t" != lib ] &&
	    [ "$t" != redislib ] ||
		{ echo "run.sh: no topic '$t' (tests/integration/TOPIC.sh)" >&2; exit 2; }
done
# The tests mostly wait on real clients, Studios and timeouts; a few
# move data.  Eight at once keep both cores of a small machine busy
# without starving the timing-sensitive ones; six under the sanitizers,
# whose every step is slower.
JOBS=${CSSHD_IT_JOBS:-8}
[ "${SANITIZE:-}" = 1 ] && JOBS=${CSSHD_IT_JOBS:-6}
# Seconds one topic may take; the slowest took 203 under ASan.
LIMIT=${CSSHD_IT_TIMEOUT:-900}

O=$(mktemp -d /tmp/csshd-it-run.XXXXXX)
trap 'rm -rf "$O"' EXIT
mkdir -p "$O/keys"
. "$HERE/lib.sh"
it_keys "$O/keys"
# shellcheck disable=SC2086
T=$O/keys studio_authkeys cert $STUDIO_SESSIONS > "$O/keys/$STUDIO_AUTHKEYS_MADE" ||
	{ echo "run.sh: cannot make the Studio's authorized_keys" >&2; exit 1; }
rm -f "$O/keys/setup.conf"
export CSSHD_IT_KEYS=$O/keys

start=$SECONDS
# report TOPIC: its output, whole, once it has ended.
report() {
	local t=$1
	echo "== $t ($(<"$O/$t.secs") s, exit $(<"$O/$t.rc"))"
	cat "$O/$t.out"
}
i=0 running=0
declare -A pid_topic=()
for t in $TOPICS; do
	if [ "$running" -ge "$JOBS" ]; then
		wait -n -p done_pid
		report "${pid_topic[$done_pid]}"
		running=$((running - 1))
	fi
	(
		t0=$SECONDS
		# A topic that hangs is ended (and reported as died), not the run.
		CSSHD_PORT_BASE=$((20000 + 200 * i)) timeout -k 10 "$LIMIT" \
		    "$HERE/topic.sh" "$t" > "$O/$t.out" 2>&1
		echo $? > "$O/$t.rc"
		echo $((SECONDS - t0)) > "$O/$t.secs"
	) &
	pid_topic[$!]=$t
	running=$((running + 1))
	i=$((i + 1))
done
while [ "$running" -gt 0 ]; do
	wait -n -p done_pid
	report "${pid_topic[$done_pid]}"
	running=$((running - 1))
done

echo "== integration, by topic"
pass=0 fail=0 skip=0 chans=0 bad=
for t in $TOPICS; do
	p=$(grep -c "^ok [0-9]* - " "$O/$t.out")
	s=$(grep -c "^ok [0-9]* - # SKIP" "$O/$t.out")
	f=$(grep -c "^not ok " "$O/$t.out")
	c=$(sed -n 's/^# channels opened: //p' "$O/$t.out")
	# A topic that ended without its closing line died on the way.
	if ! grep -q "^$t: [0-9]* passed" "$O/$t.out"; then
		f=$((f + 1)); bad="$bad $t(died)"
	elif [ "$f" -gt 0 ]; then
		bad="$bad $t"
	elif [ "$(<"$O/$t.rc")" != 0 ]; then
		f=$((f + 1)); bad="$bad $t(exit)"
	fi
	printf '%-10s %3d passed %2d failed %2d skipped %4d s\n' "$t" $((p - s)) "$f" "$s" "$(<"$O/$t.secs")"
	pass=$((pass + p - s)); fail=$((fail + f)); skip=$((skip + s)); chans=$((chans + ${c:-0}))
done
# Every topic checked its own channels; all of them together must have
# opened many, or those checks say nothing.
if [ $# -eq 0 ] && [ -z "${CSSHD_IT_ONLY:-}" ] && [ "$chans" -le 100 ]; then
	echo "not ok - only $chans channels opened in the whole run: the channel.close checks say nothing"
	fail=$((fail + 1))
fi
echo "integration: $pass passed, $fail failed, $skip skipped in $((SECONDS - start)) s ($JOBS at once)${bad:+; failed:$bad}"
[ "$fail" = 0 ]
