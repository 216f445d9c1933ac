# Sourced by the scripts that fetch from Debian's archive without touching
# the system's apt: a private sources list, state and cache under one
# directory, the archive keyring for apt's signature checks.
#
#   apt_private DIR deb|deb-src SUITE
#
# sets APT_OPTS (used unquoted: apt-get $APT_OPTS ...) for a private apt
# whose only source is SUITE's main component on the system's own Debian
# mirror.  Paths under DIR must not contain spaces.

APT_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# The mirror the system's own sources use for the main archive.
apt_mirror() {
	local f m=""
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	    /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		m=$(awk '
		    /^[ \t]*#/ { next }
		    $1 == "deb" || $1 == "deb-src" {
			for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) {
				if ($i !~ /security/) { print $i; exit }
				break
			}
		    }
		    tolower($1) == "uris:" {
			for (i = 2; i <= NF; i++)
				if ($i !~ /security/ && $i ~ /debian\/?$/) { print $i; exit }
		    }' "$f")
		[ -n "$m" ] && break
	done
	m=${m:-http://deb.debian.org/debian}
	echo "${m%/}"
}

apt_private() {
	local dir=$1 kind=$2 suite=$3
	[ -r "$APT_KEYRING" ] || {
		echo "$APT_KEYRING is missing (apt-get install debian-archive-keyring)" >&2
		return 1
	}
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/none.d"
	echo "$kind [signed-by=$APT_KEYRING] $(apt_mirror) $suite main" \
	    > "$dir/sources.list"
	# As root, apt downloads as _apt: let it write where the files go.
	if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
		chown _apt "$dir/lists/partial" "$dir/cache/archives/partial"
	fi
	APT_OPTS="-q -o Dir::Etc::sourcelist=$dir/sources.list
	    -o Dir::Etc::sourceparts=$dir/none.d
	    -o Dir::State::Lists=$dir/lists -o Dir::Cache=$dir/cache
	    -o Dir::Etc::preferences=$dir/none.d/preferences
	    -o Dir::Etc::preferencesparts=$dir/none.d"
}
