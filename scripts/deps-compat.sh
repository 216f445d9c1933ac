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

# The same install steps as the build's packages.
"$(dirname "$0")/deps.sh" deps-compat $PACKAGES
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
