#!/bin/sh
# run.sh BINARY - the configuration golden tests.
#
# For each NAME.in here:
#   NAME starting with "err-": "BINARY -t -f NAME.in" must exit 1 with
#     exactly NAME.ok on stderr;
#   otherwise: "BINARY -T -f NAME.in" must exit 0 with exactly NAME.ok on
#     stdout, and that dump, loaded again the same way, must dump
#     identically (the round trip).
# If NAME.env exists, each of its lines ("VAR=value") is put in the
# environment of both runs; the CONNECT_SSH_* and CONNECT_REDIS_* variables of the caller are
# always removed, so that the results depend on the files alone.
#
# Error messages name the file as given on the command line, so the tests
# run from this directory with relative names.  keys_file paths are
# relative to the config file's directory, so the round trip's dump is
# written here too (and removed).  Success cases set workers.program: its
# default is the compiled-in path, which depends on PREFIX.
#
# To accept a changed output after checking it by hand:
#   cd tests/config && ../../build/connect-sshd -T -f NAME.in > NAME.ok
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 BINARY" >&2
	exit 2
fi
bin=$1
case $bin in
/*) ;;
*) bin=$(pwd)/$bin ;;
esac
if [ ! -x "$bin" ]; then
	echo "$0: $bin is not an executable" >&2
	exit 2
fi

cd "$(dirname "$0")" || exit 2
unset CONNECT_SSH_ADDR CONNECT_SSH_KEY_PATH CONNECT_SSH_ENABLED \
    CONNECT_REDIS_ADDRESS CONNECT_REDIS_USER CONNECT_REDIS_PASSWORD CONNECT_REDIS_DB
tmp=$(mktemp -d "${TMPDIR:-/tmp}/config-golden.XXXXXX") || exit 2
# Run on a copy: the gateway refuses group/world-writable files and
# directories (StrictModes), and a checkout's modes and place depend on
# the umask and directory it was made in.
cp -R . "$tmp/cfg" && chmod -R go-w "$tmp/cfg" && cd "$tmp/cfg" || exit 2
roundtrip=
trap 'rm -rf "$tmp"; [ -z "$roundtrip" ] || rm -f "$roundtrip"' EXIT
trap 'exit 2' HUP INT TERM

pass=0
fail=0

# run NAME OUT ERR ARGS...: run the binary with NAME.env's variables.
run() {
	name=$1 out=$2 err=$3
	shift 3
	set -- "$bin" "$@"
	if [ -f "$name.env" ]; then
		while IFS= read -r line || [ -n "$line" ]; do
			[ -n "$line" ] && set -- "$line" "$@"
		done <"$name.env"
		set -- env "$@"
	fi
	"$@" >"$out" 2>"$err"
}

ok() {
	pass=$((pass + 1))
	echo "ok - $1"
}

not_ok() {
	fail=$((fail + 1))
	echo "not ok - $1: $2"
	if [ $# -gt 2 ] && [ -f "$3" ] && [ -f "$4" ]; then
		diff -u "$3" "$4" | sed 's/^/#   /'
	fi
}

check_error_case() {
	name=$1
	run "$name" "$tmp/out" "$tmp/err" -t -f "$name.in"
	rc=$?
	if [ $rc -ne 1 ]; then
		not_ok "$name" "exit status $rc, expected 1" "$name.ok" \
		    "$tmp/err"
	elif ! cmp -s "$name.ok" "$tmp/err"; then
		not_ok "$name" "stderr differs from $name.ok" "$name.ok" \
		    "$tmp/err"
	else
		ok "$name"
	fi
}

check_success_case() {
	name=$1
	run "$name" "$tmp/out" "$tmp/err" -T -f "$name.in"
	rc=$?
	if [ $rc -ne 0 ]; then
		not_ok "$name" "exit status $rc, expected 0"
		sed 's/^/#   /' "$tmp/err"
		return
	fi
	if ! cmp -s "$name.ok" "$tmp/out"; then
		not_ok "$name" "dump differs from $name.ok" "$name.ok" \
		    "$tmp/out"
		return
	fi
	roundtrip=.$name.roundtrip
	cp "$tmp/out" "$roundtrip"
	run "$name" "$tmp/out2" "$tmp/err" -T -f "$roundtrip"
	rc=$?
	rm -f "$roundtrip"
	roundtrip=
	if [ $rc -ne 0 ]; then
		not_ok "$name" "its dump does not load (exit status $rc)"
		sed 's/^/#   /' "$tmp/err"
	elif ! cmp -s "$tmp/out" "$tmp/out2"; then
		not_ok "$name" "dump -> load -> dump is not identical" \
		    "$tmp/out" "$tmp/out2"
	else
		ok "$name"
	fi
}

for f in *.in; do
	[ -f "$f" ] || continue
	name=${f%.in}
	if [ ! -f "$name.ok" ]; then
		not_ok "$name" "$name.ok is missing"
		continue
	fi
	case $name in
	err-*) check_error_case "$name" ;;
	*) check_success_case "$name" ;;
	esac
done

echo "config golden: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
