#!/bin/sh
# A second OpenSSH, 10.0 or newer, beside the system's 9.2 without installing
# it: the tests' post-quantum (ML-KEM) client and Studio.  On Debian 12 the
# newest openssh-client, openssh-server and openssh-sftp-server of
# bookworm-backports are downloaded with a private apt (nothing on the system
# changes; apt checks the archive's signatures) and unpacked with dpkg -x.
# Where the system's own OpenSSH is already 10.0 or newer it is used as is.
#
#   scripts/openssh-backports.sh DIR
#
# leaves DIR/usr/bin/{ssh,scp,sftp,ssh-keygen}, DIR/usr/sbin/sshd and
# DIR/usr/lib/openssh/{sshd-session,sshd-auth,sftp-server}, and writes
# DIR/VERSION last (the sign that DIR is complete).  The 10.0 sshd must be
# started by absolute path, with SshdSessionPath and SshdAuthPath pointing
# into DIR (tests/integration/lib.sh does).
set -eu

MIN=1:10.0
DIR=${1:?usage: openssh-backports.sh DIR}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
[ -s "$DIR/VERSION" ] && [ -x "$DIR/usr/bin/ssh" ] && exit 0
rm -f "$DIR/VERSION"

# ssh -V prints "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL ..." on stderr.
sysver=$(ssh -V 2>&1 | sed -n 's/^OpenSSH_\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
if [ -n "$sysver" ] && [ "${sysver% *}" -ge 10 ]; then
	mkdir -p "$DIR/usr/bin" "$DIR/usr/sbin" "$DIR/usr/lib/openssh"
	for t in ssh scp sftp ssh-keygen; do
		ln -sf "$(command -v $t)" "$DIR/usr/bin/$t"
	done
	ln -sf /usr/sbin/sshd "$DIR/usr/sbin/sshd"
	for t in sshd-session sshd-auth sftp-server; do
		ln -sf "/usr/lib/openssh/$t" "$DIR/usr/lib/openssh/$t"
	done
	echo "system $(ssh -V 2>&1 | cut -d, -f1)" > "$DIR/VERSION"
	echo "openssh: $(cat "$DIR/VERSION")"
	exit 0
fi

. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || {
	echo "openssh: the system's OpenSSH is older than 10.0 and this is" \
	    "not Debian 12 (bookworm), whose backports have it" >&2
	exit 1
}
for t in apt-get apt-cache dpkg; do
	command -v $t >/dev/null || { echo "openssh: $t is missing" >&2; exit 1; }
done
. "$(dirname "$0")/apt-private.sh"
apt_private "$DIR/apt" deb bookworm-backports
mkdir -p "$DIR/debs"
[ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1 && chown _apt "$DIR/debs"
set -- $APT_OPTS

apt-get "$@" update
# The newest version the backports hold (apt-cache also lists the installed
# 9.2 from dpkg's status: only versions >= MIN count).
ver=""
for v in $(apt-cache "$@" show openssh-client | sed -n 's/^Version: //p'); do
	dpkg --compare-versions "$v" ge "$MIN" || continue
	if [ -z "$ver" ] || dpkg --compare-versions "$v" gt "$ver"; then
		ver=$v
	fi
done
[ -n "$ver" ] || {
	echo "openssh: no openssh-client >= $MIN in bookworm-backports" >&2
	exit 1
}
# apt refuses files it cannot authenticate (no --allow-unauthenticated).
(cd "$DIR/debs" && apt-get "$@" download "openssh-client=$ver" \
    "openssh-server=$ver" "openssh-sftp-server=$ver")
for deb in "$DIR"/debs/openssh-*.deb; do
	dpkg -x "$deb" "$DIR"
done
got=$("$DIR/usr/bin/ssh" -V 2>&1 | cut -d, -f1)
case $got in OpenSSH_1[0-9].*) ;; *)
	echo "openssh: $DIR/usr/bin/ssh -V says '$got'" >&2
	exit 1 ;;
esac
echo "$got (Debian bookworm-backports $ver, unpacked, not installed)" \
    > "$DIR/VERSION"
echo "openssh: $(cat "$DIR/VERSION")"
