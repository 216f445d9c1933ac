# bulk.sh - 8 MiB both ways, up and down; 32 MiB both ways with both
# legs rekeying; the bytes counted in the audit log; the worker's socket
# reads in a 32 MiB download; 32 MiB each way to a slow reader; a bit
# flipped in an upload; 4 MiB both ways with each cipher family on both
# legs.  (8 MiB is four windows of each leg;
# the rekeying needs 32, the Studio's RekeyLimit being 16M.)
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

# ---- the worker's system calls per byte (libssh patches 0014, 0017, 0018) ----
# libssh reads 4 KiB per poll event unless told otherwise; the relay has it
# read up to 64 KiB, which took about a fifth off its CPU per GiB.  strace
# counts the recvfrom() calls of the gateway's workers during a 32 MiB
# download: in 4 KiB reads the Studio's leg alone takes 8192; in reads
# up to 64 KiB (as full as the Studio's sends make them, and strace slows
# the worker so that they fill) it takes well under half of that.
workers=$(pgrep -P "$(cat "$T/gw.pid")" -f connect-sshd-worker | sed 's/^/-p /' | tr '\n' ' ')
if ! command -v strace > /dev/null; then
	skip "socket reads: strace is not installed (scripts/deps.sh installs it)"
elif [ -z "$workers" ]; then
	not_ok "socket reads: no worker of the gateway found"
else
	# shellcheck disable=SC2086
	strace -f -c -e trace=recvfrom,getpid,sendto,poll -o "$T/reads.out" $workers 2>"$T/reads.err" &
	st=$!
	for _ in $(seq 1 100); do
		[ "$(grep -c attached "$T/reads.err")" -ge "$(echo "$workers" | wc -w | awk '{print $1 / 2}')" ] && break
		sleep 0.1
	done
	got=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 "cat $T/blob" | sha256sum | cut -d' ' -f1)
	kill -INT "$st"; wait "$st"
	reads=$(awk '$NF == "recvfrom" { print $4 }' "$T/reads.out")
	pids=$(awk '$NF == "getpid" { print $4 }' "$T/reads.out")
	sends=$(awk '$NF == "sendto" { print $4 }' "$T/reads.out")
	polls=$(awk '$NF == "poll" { print $4 }' "$T/reads.out")
	[ "$got" = "$want" ] && [ -n "$reads" ] && [ "$reads" -lt 4096 ] &&
		ok "32 MiB download, sha256 equal, in $reads socket reads (4 KiB reads: 8192 or more)" ||
		{ not_ok "32 MiB download in fewer than 4096 socket reads (got ${reads:-none}; sha256 ${got})"
		  sed 's/^/#   /' "$T/reads.out" | head -8; }
	# libssh patch 0017: packet padding comes from a pool of random bytes,
	# not from one RAND_bytes() per packet, whose fork check is a getpid()
	# system call.  The download is at least 1,024 packets on the client's
	# leg alone (32 KiB each at most); the previous worker made 1,319
	# getpid() calls in it, this one about 35.  The sanitizers' runtime
	# calls getpid() itself (3,839 in the same download): there the
	# count says nothing about libssh.
	if [ "${SANITIZE:-}" = 1 ]; then
		skip "getpid() count: the sanitizers' runtime calls getpid() itself"
	elif [ -n "$reads" ] && [ "${pids:-0}" -lt 256 ]; then
		ok "the same download in ${pids:-0} getpid() calls (one per packet: 1,024 or more)"
	else
		not_ok "32 MiB download in fewer than 256 getpid() calls (got ${pids:-0}; reads ${reads:-none})"
	fi
	# Patch 0018's batch, and the relay's moves of up to 256 KiB (patch
	# 0019): a pass's writes towards a side go out together, not in one
	# send() per packet.  The worker before them made a send() per 32 KiB
	# packet towards the client, 1,024 in 32 MiB, and one per window
	# adjustment towards the Studio: 1,276; this one, moving one packet
	# a call without the batch, 1,378.  Now 180-580 here, alone or beside
	# other topics, and 646 once in CI where the limit was 640 (fb58664
	# failed that too on the same machine: a worker faster than its peers
	# runs more passes, each fuller than a packet but short of a batch).
	# Fewer sends than packets, unless nearly every pass carries one.
	if [ -n "$reads" ] && [ "${sends:-0}" -gt 0 ] && [ "$sends" -lt 1024 ]; then
		ok "the same download in $sends send() calls and $polls poll() calls (one send per packet: 1,280 or more)"
	else
		not_ok "32 MiB download in fewer send() calls than its 1,024 packets to the client (got ${sends:-none}, and ${polls:-none} polls; reads ${reads:-none})"
	fi
fi

# ---- two buffers per flow (libssh patch 0022) ----
# A channel whose destination reads slower than its source sends holds
# most of its window, and libssh moved those bytes to the front of its
# buffer each time an append reached the end.  With two buffers, what
# arrives then goes to the second, which takes the first one's place when
# the relay has emptied it.  A reader that takes 64 KiB a millisecond
# keeps each flow below backlogged: the client's stdin on its way up, the
# Studio's stdout and stderr on their way down.  A swap too early, too
# late or never loses, reorders or stalls the bytes.  AES-GCM on both
# legs, so that each packet's data is decrypted straight into its
# channel's buffers (patch 0023); the client's leg otherwise takes
# OpenSSH's first choice, chacha20-poly1305.
slow_sum='import hashlib, os, sys, time
h = hashlib.sha256()
while True:
    b = os.read(0, 65536)
    if not b:
        break
    h.update(b)
    time.sleep(0.001)
print(h.hexdigest())'
got=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 -c aes128-gcm@openssh.com \
    "/usr/bin/python3 -c '$slow_sum'" < "$T/blob")
[ "$got" = "$want" ] && ok "32 MiB upload to a slow reader on the Studio, sha256 equal" ||
	not_ok "32 MiB upload to a slow reader on the Studio (want $want got ${got:-nothing})"
got=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 "cat $T/blob" |
    /usr/bin/python3 -c "$slow_sum")
[ "$got" = "$want" ] && ok "32 MiB download to a slow reader, sha256 equal" ||
	not_ok "32 MiB download to a slow reader (want $want got ${got:-nothing})"
got=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 "cat $T/blob >&2" 2>&1 >/dev/null |
    /usr/bin/python3 -c "$slow_sum")
[ "$got" = "$want" ] && ok "32 MiB of stderr to a slow reader, sha256 equal" ||
	not_ok "32 MiB of stderr to a slow reader (want $want got ${got:-nothing})"

# ---- a tampered packet's data reaches nobody (libssh patch 0023) ----
# With AES-GCM, the worker decrypts a channel data packet's data straight
# to the end of its channel's buffer, before the tag over the packet is
# checked.  flipproxy.py flips one bit of what the client sends, 4 MiB
# into an 8 MiB upload: that packet fails its tag, the gateway ends the
# connection, and the Studio's file must hold a prefix of the upload and
# nothing of that packet (GCM being a stream mode, its plaintext would
# differ from the upload in that one bit).  (The relay passes nothing on
# from a session that failed, either: removing the take-back on a failed
# tag does not fail this test.)
FP_PORT=$(free_port)
echo "[127.0.0.1]:$FP_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
rm -f "$T/flip.out"
python3 "$HERE/flipproxy.py" "$FP_PORT" "$GW_PORT" 4194304 > "$T/fp.out" 2>&1 &
fp=$!
for _ in $(seq 1 50); do grep -q ready "$T/fp.out" 2>/dev/null && break; sleep 0.1; done
gw_ssh "$FP_PORT" "$T/alice" alice@s1 -c aes128-gcm@openssh.com \
    "cat > $T/flip.out" < "$T/blob8" 2>"$T/fp.err"
rc=$?
kill "$fp" 2>/dev/null; wait "$fp" 2>/dev/null
# The Studio's cat ends when the gateway closes its channel.
size=-1
for _ in $(seq 1 50); do
	now=$(stat -c %s "$T/flip.out" 2>/dev/null || echo 0)
	[ "$now" = "$size" ] && break
	size=$now; sleep 0.2
done
if ! grep -q flipped "$T/fp.out"; then
	not_ok "a tampered upload: flipproxy.py did not flip ($(tr '\n' ' ' < "$T/fp.out"))"
elif [ "$rc" -ne 0 ] && [ "$size" -lt 4194304 ] &&
    cmp -s -n "$size" "$T/blob8" "$T/flip.out"; then
	ok "a bit flipped 4 MiB into an upload: connection ended (ssh rc=$rc), the Studio got $size bytes, all of them the upload's"
else
	not_ok "a bit flipped 4 MiB into an upload (ssh rc=$rc, the Studio got $size bytes; $(cmp -n "$size" "$T/blob8" "$T/flip.out" 2>&1 | head -1))"
	sed 's/^/#   /' "$T/fp.err" | head -3
fi
rm -f "$T/flip.out"

# ---- every cipher family, both legs ----
# libssh patch 0011 encrypts each packet in place.  A gateway that allows
# one cipher (and one MAC) uses it on both legs, so 4 MiB through `cat`
# crosses four encrypting sends of it: client, gateway to Studio, Studio,
# gateway to client.  The families differ in what is encrypted in place:
# GCM (4 bytes of associated data left clear), chacha20-poly1305 (length
# and body under two keys), CTR with an encrypt-then-MAC MAC (the body
# after the length field, MAC over the ciphertext) and CTR with a plain
# MAC (MAC over the plaintext, computed before it is overwritten).
head -c 4M "$T/blob" > "$T/blob4"
want4=$(sha256sum < "$T/blob4" | cut -d' ' -f1)
for combo in aes256-gcm@openssh.com:hmac-sha2-256-etm@openssh.com \
    chacha20-poly1305@openssh.com:hmac-sha2-256-etm@openssh.com \
    aes128-ctr:hmac-sha2-256-etm@openssh.com aes256-ctr:hmac-sha2-512; do
	cipher=${combo%%:*} mac=${combo##*:}
	CI_PORT=$(free_port)
	echo "[127.0.0.1]:$CI_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
	write_conf "$T/ci.conf" "$CI_PORT" "algorithms = { ciphers = [ \"$cipher\" ]; macs = [ \"$mac\" ]; };"
	if start_gateway ci "$T/ci.conf"; then
		got=$(GW_SSH_LOGLEVEL=DEBUG gw_ssh "$CI_PORT" "$T/alice" alice@s1 -c "$cipher" -m "$mac" \
		    'cat' < "$T/blob4" 2>"$T/ci.err" | sha256sum | cut -d' ' -f1)
		grep -q "kex: server->client cipher: $cipher MAC: .*$mac\|kex: server->client cipher: $cipher MAC: <implicit>" "$T/ci.err" &&
			[ "$got" = "$want4" ] &&
			ok "4 MiB both ways with $cipher, $mac on both legs, sha256 equal" ||
			{ not_ok "4 MiB with $cipher, $mac (want $want4 got $got)"
			  grep "kex: server->client\|rror" "$T/ci.err" | head -3 | sed 's/^/#   /'
			  tail -3 "$T/ci.log" | sed 's/^/#   /'; }
		stop_gateway ci
	else
		not_ok "start the gateway with ciphers = [ $cipher ], macs = [ $mac ]"
	fi
done
rm -f "$T/blob4" "$T/ci.err"
