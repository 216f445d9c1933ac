#!/bin/sh
# Install the clients of the compatibility matrix (tests/compat, make
# compat): every SSH client a Debian 12 machine can install, beside the
# packages scripts/deps.sh installs for the build and the other tests.
# OpenSSH 10.0 comes from scripts/openssh-backports.sh (unpacked, not
# installed) and Node's ssh2 from npm into the build tree (tests/compat/run.sh
# installs it there), so neither is in this list.
set -eu

PACKAGES="putty-tools dropbear-bin python3-paramiko python3-asyncssh
golang-go golang-golang-x-crypto-dev curl git ansible-core sshfs fuse3
nodejs"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps-compat: missing Debian packages:$missing" >&2
		echo "deps-compat: run as root, or: sudo apt-get install$missing" >&2
		exit 1
	fi
	echo "deps-compat: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# dropbear-bin has no service; keep any postinst from starting one.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt-get install -y -qq --no-install-recommends $missing
fi
# npm: NodeSource's nodejs has it inside; Debian's nodejs needs the
# separate npm package (which conflicts with NodeSource's nodejs, so it is
# installed only when the command is missing).
if ! command -v npm >/dev/null; then
	[ "$(id -u)" = 0 ] || {
		echo "deps-compat: npm is missing: sudo apt-get install npm" >&2
		exit 1
	}
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm
fi
