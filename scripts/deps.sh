#!/bin/sh
# Install the Debian 12 packages connect-sshd needs to build, test and run
# its demo.  This is the one list; make check and make demo call it.
#
#   deps.sh                      the list below
#   deps.sh NAME PACKAGE...      those packages, messages saying NAME
#                                (scripts/deps-compat.sh)
set -eu

PACKAGES="build-essential pkg-config
libssl-dev libseccomp-dev libconfig-dev libcunit1-dev
cmake dpkg-dev zlib1g-dev debian-archive-keyring
openssh-client openssh-server mandoc
procps psmisc python3 python3-yaml python3-paramiko python3-asyncssh coreutils iproute2 openssl systemd haproxy
rsync curl openssh-sftp-server strace
libhiredis-dev redis-server redis-tools
clang libclang-rt-14-dev"
NAME=deps
if [ $# -gt 0 ]; then
	NAME=$1
	shift
	PACKAGES="$*"
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "$NAME: missing Debian packages:$missing" >&2
	echo "$NAME: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "$NAME: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# openssh-server's postinst would start a system sshd on port 22; the tests
# and the demo run their own sshd on loopback, so keep the system one off
# (and any other package's service).
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends $missing
