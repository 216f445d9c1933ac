#!/bin/sh
# modes.sh BINARY - StrictModes for the files the daemon trusts: the
# configuration, a keys_file, registry.password_file and the key must be
# owned by root or the running user and not writable by anyone else, nor
# may any directory above them be (connect-sshd.conf(5), FILES).  Each
# case builds its files in a scratch directory (mktemp, 0700, under the
# sticky root-owned /tmp, which is accepted) and expects "BINARY -t" to
# exit 1 with the exact message, or 0 for the controls.  The cases that
# chown to nobody run only as root.
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
unset CONNECT_SSH_ADDR CONNECT_SSH_KEY_PATH CONNECT_SSH_ENABLED \
    CONNECT_REDIS_ADDRESS CONNECT_REDIS_USER CONNECT_REDIS_PASSWORD CONNECT_REDIS_DB
umask 022
T=$(mktemp -d "${TMPDIR:-/tmp}/config-modes.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
trap 'exit 2' HUP INT TERM
T=$(cd "$T" && pwd -P)
pass=0
fail=0
nobody=$(id -u nobody 2>/dev/null || echo 65534)
me=$(id -u)

ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() {
	fail=$((fail + 1))
	echo "not ok - $1"
	sed 's/^/#   /' "$T/err"
}

ssh-keygen -q -t ed25519 -N '' -C modes -f "$T/key.src" || exit 2
user_pub=$(cat "$T/key.src.pub")

# fresh: a clean tree: $T/c/{connect-sshd.conf,keys/alice,redis.pass,key}
fresh() {
	rm -rf "$T/c"
	mkdir -m 755 "$T/c" "$T/c/keys"
	cp "$T/key.src" "$T/c/key"
	chmod 600 "$T/c/key"
	echo "$user_pub" >"$T/c/keys/alice"
	echo secret >"$T/c/redis.pass"
	chmod 600 "$T/c/redis.pass"
	write_conf "$T/c/key" keys/alice
}

# write_conf KEY KEYS_FILE [REGISTRY]
write_conf() {
	{
		echo 'listen = [ "127.0.0.1:2222" ];'
		echo "key = \"$1\";"
		if [ $# -gt 2 ]; then
			echo 'registry = { backend = "redis";'
			echo '  address = "127.0.0.1:6379";'
			echo "  password_file = \"$3\"; };"
		else
			echo 'allowed_workspaces = [ 1 ];'
			echo 'workspaces = ( { id = 1; members = [ "alice" ]; } );'
			echo "users = ( { name = \"alice\"; keys_file = \"$2\"; } );"
			echo 'studios = ( { session = "s1"; workspace = 1;'
			echo '  upstream = "127.0.0.1:22"; } );'
		fi
	} >"$T/c/connect-sshd.conf"
}

# expect NAME MESSAGE: -t exits 1 and says exactly MESSAGE (one line).
expect() {
	"$bin" -t -f "$T/c/connect-sshd.conf" >/dev/null 2>"$T/err"
	rc=$?
	if [ $rc -eq 1 ] && grep -qxF "$2" "$T/err"; then
		ok "$1"
	else
		echo "# exit $rc, expected 1 and: $2" >>"$T/err"
		not_ok "$1"
	fi
}

accept() {
	if "$bin" -t -f "$T/c/connect-sshd.conf" >/dev/null 2>"$T/err"; then
		ok "$1"
	else
		not_ok "$1"
	fi
}

C=$T/c/connect-sshd.conf

fresh
accept "control: a clean tree under a 0700 mktemp directory in /tmp (1777, root) passes"

fresh
chmod 666 "$C"
expect "a 0666 configuration is refused" \
    "$C: mode 0666 is group/world-writable; chmod go-w $C"

fresh
chmod 777 "$T/c"
expect "a configuration in a 0777 directory is refused" \
    "$C: directory $T/c: mode 0777 is group/world-writable; chmod go-w $T/c"

fresh
chmod 664 "$T/c/keys/alice"
expect "a group-writable keys_file is refused" \
    "$C:5: user alice: keys_file $T/c/keys/alice: mode 0664 is group/world-writable; chmod go-w $T/c/keys/alice"

fresh
chmod 666 "$T/c/keys/alice"
chmod 777 "$T/c/keys"
expect "a 0666 keys_file in a 0777 directory is refused (the directory first)" \
    "$C:5: user alice: keys_file $T/c/keys/alice: directory $T/c/keys: mode 0777 is group/world-writable; chmod go-w $T/c/keys"

fresh
mkdir -m 775 "$T/c/shared"
mv "$T/c/keys/alice" "$T/c/shared/alice"
ln -s ../shared/alice "$T/c/keys/alice"
expect "a keys_file reached through a link into a group-writable directory is refused" \
    "$C:5: user alice: keys_file $T/c/keys/alice: directory $T/c/shared: mode 0775 is group/world-writable; chmod go-w $T/c/shared"

fresh
write_conf "$T/c/key" keys/alice "$T/c/redis.pass"
chmod 620 "$T/c/redis.pass"
expect "a group-writable registry.password_file is refused" \
    "$C:5: registry.password_file \"$T/c/redis.pass\": mode 0620 is group/world-writable; chmod go-w $T/c/redis.pass"

fresh
write_conf "$T/c/key" keys/alice "$T/c/redis.pass"
accept "control: a registry.password_file of mode 0600 passes"

fresh
chmod 644 "$T/c/key"
expect "a key others can read is refused" \
    "connect-sshd: $T/c/key: mode 0644 lets group or others read the private key; chmod 600 $T/c/key"

fresh
chmod 666 "$T/c/key"
expect "a 0666 key is refused" \
    "connect-sshd: $T/c/key: mode 0666 is group/world-writable; chmod go-w $T/c/key"

fresh
mkdir -m 777 "$T/c/drop"
ln -s "$T/c/key" "$T/c/drop/key"
write_conf "$T/c/drop/key" keys/alice
expect "a key reached through a link in a 0777 directory is refused" \
    "connect-sshd: $T/c/drop/key: directory $T/c/drop: mode 0777 is group/world-writable; chmod go-w $T/c/drop"

fresh
mkdir -m 755 "$T/c/..2026_01_01" 
mv "$T/c/key" "$T/c/..2026_01_01/key"
ln -s ..2026_01_01 "$T/c/..data"
ln -s ..data/key "$T/c/key"
accept "control: a key reached through links as in a Kubernetes Secret volume passes"

if [ "$me" -eq 0 ]; then
	fresh
	chown nobody "$T/c/key"
	expect "a key owned by nobody is refused" \
	    "connect-sshd: $T/c/key: owned by uid $nobody, not by root or the running user (uid 0); chown root $T/c/key"

	fresh
	mkdir -m 755 "$T/c/w"
	mv "$T/c/key" "$T/c/w/key"
	chown nobody "$T/c/w/key"
	ln -s w/key "$T/c/key"
	expect "a link to a key owned by nobody is refused (the target is checked)" \
	    "connect-sshd: $T/c/key: owned by uid $nobody, not by root or the running user (uid 0); chown root $T/c/key"

	fresh
	mkdir -m 1777 "$T/c/sticky"
	cp -p "$T/c/key" "$T/c/sticky/key"
	ln -s "$T/c/sticky/key" "$T/c/sticky/link"
	chown -h nobody "$T/c/sticky/link"
	write_conf "$T/c/sticky/link" keys/alice
	expect "a link owned by nobody in a sticky directory is refused" \
	    "connect-sshd: $T/c/sticky/link: symbolic link $T/c/sticky/link: owned by uid $nobody, not by root or the running user (uid 0); chown -h root $T/c/sticky/link"

	fresh
	chown nobody "$T/c/keys"
	expect "a keys_file in a directory owned by nobody is refused" \
	    "$C:5: user alice: keys_file $T/c/keys/alice: directory $T/c/keys: owned by uid $nobody, not by root or the running user (uid 0); chown root $T/c/keys"

	fresh
	chown nobody "$C"
	expect "a configuration owned by nobody is refused" \
	    "$C: owned by uid $nobody, not by root or the running user (uid 0); chown root $C"
else
	echo "ok - # skip the chown cases: not root"
fi

echo "config modes: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
