# bulk.sh - 32 MiB both ways, up, down, and with both legs rekeying;
# the bytes counted in the audit log.
# Run by topic.sh (its gateway "gw", the Studios, the keys).

# ---- 32 MiB both ways ----
head -c 32M /dev/urandom > "$T/blob"
want=$(sha256sum < "$T/blob" | cut -d' ' -f1)
got=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 'cat' < "$T/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && ok "32 MiB through stdin and back, sha256 equal" ||
	not_ok "32 MiB through stdin and back (want $want got $got)"
GW_SSH_LOGLEVEL=INFO gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o RekeyLimit=4M 'cat' < "$T/blob" >"$T/blob.back" 2>"$T/rekey.err"
rc=$?
got=$(sha256sum < "$T/blob.back" | cut -d' ' -f1)
[ "$got" = "$want" ] && ok "32 MiB both ways while both legs rekey every 4-16 MiB, sha256 equal" ||
	{ not_ok "32 MiB with rekeying (rc=$rc, $(stat -c %s "$T/blob.back") bytes back, want $want got $got)"
	  cmp "$T/blob" "$T/blob.back" 2>&1 | head -1 | sed 's/^/#   /'; sed 's/^/#   /' "$T/rekey.err"
	  grep "conn=$(grep -c 'event=connection' "$GW_LOG")\b\|error" "$GW_LOG" | tail -5 | sed 's/^/#   /'; }
rm -f "$T/blob.back"
got=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 'sha256sum' < "$T/blob" | cut -d' ' -f1)
[ "$got" = "$want" ] && ok "32 MiB upload, sha256 equal on the Studio" ||
	not_ok "32 MiB upload (want $want got $got)"
got=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 "cat $T/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && ok "32 MiB download, sha256 equal" ||
	not_ok "32 MiB download (want $want got $got)"

grep -q "event=session.closed.*bytes_in=33554432" "$GW_LOG" &&
	ok "audit: bytes counted (32 MiB in)" || not_ok "audit: bytes counted (32 MiB in)"

# ---- socket reads of up to 64 KiB (scripts/libssh-patches/0004) ----
# strace counts the worker's reads while 16 MiB come down from the
# Studio: libssh's own 4 KiB reads make at least 4096 of them on the
# Studio's socket alone; 64 KiB reads, far fewer.
if command -v strace > /dev/null; then
	nlog=$(grep -c "logged in to Studio" "$GW_LOG")
	gw_ssh "$GW_PORT" "$T/alice" alice@s1 'sleep 2; head -c 16M /dev/zero' > "$T/rd.out" &
	rdpid=$!
	for _ in $(seq 1 100); do
		[ "$(grep -c "logged in to Studio" "$GW_LOG")" -gt "$nlog" ] && break
		sleep 0.1
	done
	wpid=$(grep "logged in to Studio" "$GW_LOG" | tail -n 1 | sed -n 's/.* worker \([0-9]*\) conn .*/\1/p')
	strace -c -e trace=recvfrom,read -o "$T/rd.strace" -p "$wpid" 2> /dev/null &
	stpid=$!
	wait $rdpid
	wait $stpid
	size=$(stat -c %s "$T/rd.out")
	reads=$(awk '$NF == "recvfrom" { print $4 }' "$T/rd.strace")
	[ "$size" = 16777216 ] && [ -n "$reads" ] && [ "$reads" -lt 2048 ] &&
		ok "16 MiB down: the worker read its sockets in $reads recvfrom calls (4 KiB reads take over 4096)" ||
		{ not_ok "socket reads of 64 KiB (worker $wpid, $size bytes, recvfrom calls: '$reads')"
		  sed 's/^/#   /' "$T/rd.strace"; }
	rm -f "$T/rd.out" "$T/rd.strace"
else
	skip "socket reads of 64 KiB: no strace (scripts/deps.sh installs it)"
fi
