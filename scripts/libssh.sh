#!/bin/sh
# libssh for the worker: the system's if it is 0.12.2 or newer, otherwise the
# newest libssh 0.12.x source package in Debian unstable, fetched with apt
# (private sources list, state and cache: the system's apt is not touched;
# apt checks the archive's signatures), unpacked with Debian's patches and
# built with cmake into a static library.
#
#   scripts/libssh.sh DIR [EXTRA_CFLAGS]
#
# writes DIR/cflags and DIR/libs (what the worker compiles and links with),
# and DIR/VERSION (what was used).  DIR/libs is written last: the GNUmakefile
# takes it as the sign that DIR is complete.  Downloads are kept in DIR/apt
# and DIR/src, so running it again after a failed build does not refetch.
# EXTRA_CFLAGS (the sanitizer build's -fsanitize=address) go into libssh's
# own compilation.
#
# connect-sshd's own patches, scripts/libssh-patches/*.patch, are applied
# in name order on top of Debian's (patch -p1, no fuzz); one that does not
# apply fails the build.  DIR/VERSION names them.  A system libssh cannot
# be patched: VERSION then says which patches it lacks.
set -eu

MIN=0.12.2
SERIES=0.12
DIR=${1:?usage: libssh.sh DIR [EXTRA_CFLAGS]}
EXTRA=${2:-}
PATCHDIR=$(cd "$(dirname "$0")" && pwd)/libssh-patches
PATCHES=""
for p in "$PATCHDIR"/*.patch; do
	[ -e "$p" ] && PATCHES="$PATCHES $(basename "$p")"
done
PATCHES=${PATCHES# }

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
rm -f "$DIR/libs"

if pkg-config --atleast-version="$MIN" libssh 2>/dev/null; then
	v=$(pkg-config --modversion libssh)
	pkg-config --cflags libssh > "$DIR/cflags"
	lacks=""
	[ -n "$PATCHES" ] && lacks="; without connect-sshd's patches $PATCHES"
	echo "system libssh $v (pkg-config, shared$lacks)" > "$DIR/VERSION"
	pkg-config --libs libssh > "$DIR/libs"
	echo "libssh: $(cat "$DIR/VERSION")"
	exit 0
fi
echo "libssh: system libssh is older than $MIN or missing;" \
    "building libssh $SERIES.x from Debian unstable's source into $DIR"

for t in apt-get dpkg-source cmake; do
	command -v $t >/dev/null || {
		echo "libssh: $t is missing (scripts/deps.sh installs it)" >&2
		exit 1
	}
done
. "$(dirname "$0")/apt-private.sh"
mkdir -p "$DIR/src"
apt_private "$DIR/apt" deb-src sid
# As root, apt downloads as _apt: let it write where the files go.
[ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1 && chown _apt "$DIR/src"
set -- $APT_OPTS
mirror=$(apt_mirror)

dsc=$(ls "$DIR"/src/libssh_"$SERIES".*.dsc 2>/dev/null | tail -n 1 || true)
if [ -z "$dsc" ]; then
	apt-get "$@" update
	# The newest 0.12.x that is at least MIN, whatever its Debian revision.
	ver=""
	for v in $(apt-cache "$@" showsrc libssh | sed -n 's/^Version: //p'); do
		case $v in "$SERIES".*) ;; *) continue ;; esac
		dpkg --compare-versions "$v" ge "$MIN" || continue
		if [ -z "$ver" ] || dpkg --compare-versions "$v" gt "$ver"; then
			ver=$v
		fi
	done
	[ -n "$ver" ] || {
		echo "libssh: no libssh $SERIES.x >= $MIN in $mirror sid" >&2
		exit 1
	}
	# apt refuses files it cannot authenticate (no --allow-unauthenticated).
	(cd "$DIR/src" && apt-get "$@" source --download-only "libssh=$ver")
	dsc=$(ls "$DIR"/src/libssh_"$SERIES".*.dsc | tail -n 1)
fi
ver=$(sed -n 's/^Version: //p' "$dsc")
upver=${ver%-*}

# Unpack afresh (dpkg-source checks the files against the .dsc's hashes and
# applies debian/patches), then build and install into DIR.
rm -rf "$DIR/src/libssh-$upver" "$DIR/cmake" "$DIR/include" "$DIR/lib"
# Without debian-keyring, dpkg-source's gpgv cannot check the uploader's
# signature on the .dsc and says so; the .dsc itself came through apt, whose
# check of the archive's signed index covers its hash.
echo "libssh: unpacking $(basename "$dsc") (apt verified it against sid's" \
    "signed Sources index)"
(cd "$DIR/src" && dpkg-source -q -x "$(basename "$dsc")" "libssh-$upver")
for p in $PATCHES; do
	echo "libssh: applying scripts/libssh-patches/$p"
	patch -d "$DIR/src/libssh-$upver" -p1 --batch --forward --fuzz=0 \
	    < "$PATCHDIR/$p" > "$DIR/patch.log" 2>&1 || {
		cat "$DIR/patch.log" >&2
		echo "libssh: scripts/libssh-patches/$p does not apply to" \
		    "libssh $ver: update the patch for this version" >&2
		exit 1
	}
done
start=$(date +%s)
cmake -S "$DIR/src/libssh-$upver" -B "$DIR/cmake" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-g -fPIE -fcf-protection $EXTRA" \
    -DCMAKE_INSTALL_PREFIX="$DIR" -DCMAKE_INSTALL_LIBDIR=lib \
    -DBUILD_SHARED_LIBS=OFF -DWITH_EXAMPLES=OFF -DWITH_GSSAPI=OFF \
    -DUNIT_TESTING=OFF -DWITH_PCAP=OFF -DWITH_EXEC=OFF \
    > "$DIR/cmake.log" 2>&1 || { tail -n 30 "$DIR/cmake.log" >&2; exit 1; }
cmake --build "$DIR/cmake" -j "$(nproc)" > "$DIR/build.log" 2>&1 ||
    { tail -n 30 "$DIR/build.log" >&2; exit 1; }
cmake --install "$DIR/cmake" > "$DIR/install.log" 2>&1 ||
    { tail -n 30 "$DIR/install.log" >&2; exit 1; }
end=$(date +%s)

# Patch 0008 names one source file for -O3: if a libssh release moves
# it, cmake ignores the setting without a word, so check that it took.
case " $PATCHES " in
*" 0008-cmake-sntrup761-at-O3.patch "*)
	grep -q -- '-O3 .*external/sntrup761\.c\.o -c' \
	    "$DIR/cmake/compile_commands.json" || {
		echo "libssh: patch 0008 did not reach src/external/sntrup761.c" \
		    "(no -O3 in $DIR/cmake/compile_commands.json)" >&2
		exit 1
	}
	;;
esac
built=$(sed -n 's/^Version: //p' "$DIR/lib/pkgconfig/libssh.pc")
[ "$built" = "$upver" ] || {
	echo "libssh: built $built, expected $upver" >&2
	exit 1
}
echo "-I$DIR/include" > "$DIR/cflags"
echo "libssh $ver (Debian sid source $(basename "$dsc") from $mirror," \
    "${PATCHES:+patched with $PATCHES, }static," \
    "built in $((end - start)) s${EXTRA:+, CFLAGS $EXTRA})" > "$DIR/VERSION"
# libssh.a's own dependencies: OpenSSL's libcrypto, zlib, threads.
echo "$DIR/lib/libssh.a -lcrypto -lz -pthread" > "$DIR/libs"
echo "libssh: $(cat "$DIR/VERSION")"
