# bulk.sh - 8 MiB both ways, up and down; 32 MiB both ways with both
# legs rekeying; the bytes counted in the audit log.  (8 MiB is four
# windows of each leg; the rekeying needs 32, the Studio's RekeyLimit
# being 16M.)
# Run by topic.sh (its gateway "gw", the Studios, the keys).

# ---- 8 MiB both ways ----
head -c 32M /dev/urandom > "$T/blob"
head -c 8M "$T/blob" > "$T/blob8"
want=$(sha256sum < "$T/blob" | cut -d' ' -f1)
want8=$(sha256sum < "$T/blob8" | cut -d' ' -f1)
got=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 'cat' < "$T/blob8" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want8" ] && ok "8 MiB through stdin and back, sha256 equal" ||
	not_ok "8 MiB through stdin and back (want $want8 got $got)"
GW_SSH_LOGLEVEL=INFO gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o RekeyLimit=4M 'cat' < "$T/blob" >"$T/blob.back" 2>"$T/rekey.err"
rc=$?
got=$(sha256sum < "$T/blob.back" | cut -d' ' -f1)
[ "$got" = "$want" ] && ok "32 MiB both ways while both legs rekey every 4-16 MiB, sha256 equal" ||
	{ not_ok "32 MiB with rekeying (rc=$rc, $(stat -c %s "$T/blob.back") bytes back, want $want got $got)"
	  cmp "$T/blob" "$T/blob.back" 2>&1 | head -1 | sed 's/^/#   /'; sed 's/^/#   /' "$T/rekey.err"
	  grep "conn=$(grep -c 'event=connection' "$GW_LOG")\b\|error" "$GW_LOG" | tail -5 | sed 's/^/#   /'; }
rm -f "$T/blob.back"
got=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 'sha256sum' < "$T/blob8" | cut -d' ' -f1)
[ "$got" = "$want8" ] && ok "8 MiB upload, sha256 equal on the Studio" ||
	not_ok "8 MiB upload (want $want8 got $got)"
got=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 "cat $T/blob8" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want8" ] && ok "8 MiB download, sha256 equal" ||
	not_ok "8 MiB download (want $want8 got $got)"

grep -q "event=session.closed.*bytes_in=33554432" "$GW_LOG" &&
	ok "audit: bytes counted (32 MiB in)" || not_ok "audit: bytes counted (32 MiB in)"
