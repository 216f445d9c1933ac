# pq.sh - post-quantum key exchange on both legs, the audit of what each
# leg negotiated, rekeying with no ceiling, and the default offer: weak
# algorithms refused, strict KEX.  Run by topic.sh.  Needs $GW_PORT
# (the main gateway, default algorithms), $STUDIO_PORT (the system's sshd
# 9.2 Studio) and, for the OpenSSH 10 tests, $OPENSSH10 (make integration
# passes build/openssh10).

# pq_last_conn LOG: the conn= of the last auth.accepted in LOG.
pq_last_conn() {
	grep 'event=auth.accepted' "$1" | tail -n 1 | sed 's/.* conn=\([0-9]*\) .*/\1/'
}

# pq_audit LOG CONN EVENT: that connection's record of that event.
pq_audit() {
	local i
	for ((i = 1; i <= 50; i++)); do
		grep -q "event=$3 conn=$2 " "$1" && break
		nap 0.1
	done
	grep "event=$3 conn=$2 " "$1" | tail -n 1
}

# ---- system OpenSSH 9.2 -> gateway -> system sshd 9.2: sntrup on both ----
GW_SSH_LOGLEVEL=DEBUG gw_ssh "$GW_PORT" "$T/alice" alice@s1 true 2>"$T/pq.err"
rc=$?
c=$(pq_last_conn "$GW_LOG")
acc=$(pq_audit "$GW_LOG" "$c" auth.accepted)
opn=$(pq_audit "$GW_LOG" "$c" upstream.opened)
if [ $rc = 0 ] && echo "$acc" | grep -q ' kex=sntrup761x25519-sha512\(@openssh.com\)\? ' &&
    grep -q 'kex: algorithm: sntrup761x25519-sha512' "$T/pq.err"; then
	ok "OpenSSH 9.2 client: sntrup761x25519 negotiated, and audited in auth.accepted"
else
	not_ok "OpenSSH 9.2 client: sntrup761x25519 (rc=$rc; $acc)"
	grep 'kex:' "$T/pq.err" | sed 's/^/#   /'
fi
echo "$acc" | grep -q ' cipher=[a-z0-9@.-]* mac=' &&
	ok "auth.accepted names the client leg's cipher and MAC" ||
	not_ok "auth.accepted names cipher and MAC ($acc)"
echo "$opn" | grep -q ' kex=sntrup761x25519-sha512\(@openssh.com\)\?$' &&
	ok "gateway -> sshd 9.2 Studio: sntrup761x25519 negotiated, and audited in upstream.opened" ||
	not_ok "Studio leg sntrup761x25519 (upstream.opened: $opn)"

# ---- OpenSSH 10.0: the client, and a Studio ----
if [ -n "${OPENSSH10:-}" ] && [ -x "$OPENSSH10/usr/bin/ssh" ] &&
    [ -x "$OPENSSH10/usr/sbin/sshd" ]; then
	OSSH10=$(cd "$OPENSSH10" && pwd)
	"$OSSH10/usr/bin/ssh" -F /dev/null -p "$GW_PORT" -i "$T/alice" \
	    -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
	    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts" \
	    -o ConnectTimeout=10 -o LogLevel=DEBUG \
	    alice@s1@127.0.0.1 'echo pq10' >"$T/pq10.out" 2>"$T/pq10.err"
	rc=$?
	c=$(pq_last_conn "$GW_LOG")
	acc=$(pq_audit "$GW_LOG" "$c" auth.accepted)
	if [ $rc = 0 ] && [ "$(<"$T/pq10.out")" = pq10 ] &&
	    echo "$acc" | grep -q ' kex=mlkem768x25519-sha256 ' &&
	    grep -q 'kex: algorithm: mlkem768x25519-sha256' "$T/pq10.err" &&
	    ! grep -qi 'not using a post-quantum' "$T/pq10.err"; then
		ok "$(cut -d" " -f1 "$OSSH10/VERSION" 2>/dev/null) client: mlkem768x25519-sha256 audited, no post-quantum warning"
	else
		not_ok "OpenSSH 10 client: mlkem768x25519 (rc=$rc; $acc)"
		sed 's/^/#   /' "$T/pq10.err" | grep -i 'kex\|warn\|error' | head -5
	fi

	PQ10_PORT=$(free_port)
	PQGW_PORT=$(free_port)
	if STUDIO_OPENSSH=$OSSH10 start_studio "$PQ10_PORT" "$T/studio10" cert q10; then
		cat > "$T/pqgw.conf" <<EOF
listen = [ "127.0.0.1:$PQGW_PORT" ];
key = "$T/gw_key";
allowed_workspaces = [ 100 ];
workspaces = ( { id = 100; members = [ "alice" ]; } );
users = ( { name = "alice"; keys = [ "$(<"$T/alice.pub")" ]; } );
studios = ( { session = "q10"; workspace = 100; upstream = "127.0.0.1:$PQ10_PORT";
              upstream_user = "$STUDIO_USER"; } );
workers = { prefork = 1; chroot = "$T/empty"; program = "$B/connect-sshd-worker"; };
log = { level = "info"; format = "text"; };
EOF
		echo "[127.0.0.1]:$PQGW_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
		if start_gateway pqgw "$T/pqgw.conf"; then
			out=$(gw_ssh "$PQGW_PORT" "$T/alice" alice@q10 'echo studio10' 2>"$T/pq.err")
			c=$(pq_last_conn "$T/pqgw.log")
			opn=$(pq_audit "$T/pqgw.log" "$c" upstream.opened)
			[ "$out" = studio10 ] && echo "$opn" | grep -q ' kex=mlkem768x25519-sha256$' &&
				ok "a Studio running sshd 10.0 is reached with mlkem768x25519-sha256 (upstream.opened)" ||
				{ not_ok "sshd 10.0 Studio over mlkem768x25519 (got '$out'; $opn)"
				  sed 's/^/#   /' "$T/pq.err"; tail -n 5 "$T/studio10/sshd.log" | sed 's/^/#   /'; }
			stop_gateway pqgw
			# A wrong guess that was sntrup761x25519: sshd 10.0 lists
			# mlkem768x25519 first but takes sntrup761x25519-sha512,
			# this gateway's first.  sshd drops the guessed packet
			# unread, and the restart uses the same key pair (libssh
			# patch 0009), made ahead (0007): its log line twice.
			PQSN_PORT=$(free_port)
			sed -e "s/127.0.0.1:$PQGW_PORT/127.0.0.1:$PQSN_PORT/" \
			    -e 's/level = "info"/level = "debug"/' "$T/pqgw.conf" > "$T/pqsn.conf"
			echo 'algorithms = { kex = [ "sntrup761x25519-sha512", "mlkem768x25519-sha256", "curve25519-sha256" ]; };' >> "$T/pqsn.conf"
			echo "[127.0.0.1]:$PQSN_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
			if start_gateway pqsn "$T/pqsn.conf"; then
				out=$(gw_ssh "$PQSN_PORT" "$T/alice" alice@q10 'echo sn10' 2>"$T/pq.err")
				c=$(pq_last_conn "$T/pqsn.log")
				opn=$(pq_audit "$T/pqsn.log" "$c" upstream.opened)
				n=$(grep -c "conn $c: .*Using the sntrup761 key pair made ahead" "$T/pqsn.log")
				[ "$out" = sn10 ] && echo "$opn" | grep -q ' kex=sntrup761x25519-sha512$' &&
				    grep -q "conn $c: .*Our guess was wrong. Restarting the KEX" "$T/pqsn.log" &&
				    [ "$n" = 2 ] &&
					ok "a wrong sntrup761x25519 guess (to sshd 10.0): the exchange starts over with the same key pair, made ahead" ||
					{ not_ok "wrong sntrup761x25519 guess to sshd 10.0 (got '$out'; key pair lines: $n; $opn)"
					  grep "conn $c: .*\(guess\|sntrup761\)" "$T/pqsn.log" | tail -n 4 | sed 's/^/#   /'; }
				stop_gateway pqsn
			else
				not_ok "cannot start the gateway guessing sntrup761x25519 for the sshd 10.0 Studio"
			fi
		else
			not_ok "cannot start the gateway for the sshd 10.0 Studio"
		fi
	else
		not_ok "cannot start the OpenSSH 10.0 Studio"
		tail -n 5 "$T/studio10/sshd.log" 2>/dev/null | sed 's/^/#   /'
	fi
else
	skip "OpenSSH 10 client and Studio (OPENSSH10 not set: make integration builds build/openssh10)"
	skip "sshd 10.0 Studio"
	skip "a wrong sntrup761x25519 guess to an sshd 10.0 Studio"
fi

# ---- a classical-only configuration still works, and says so ----
CL_PORT=$(free_port)
write_conf "$T/classic.conf" "$CL_PORT" 'algorithms = { kex = [ "curve25519-sha256" ]; };'
echo "[127.0.0.1]:$CL_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_gateway classic "$T/classic.conf"; then
	out=$(gw_ssh "$CL_PORT" "$T/alice" alice@s1 'echo classic' 2>"$T/pq.err")
	c=$(pq_last_conn "$T/classic.log")
	acc=$(pq_audit "$T/classic.log" "$c" auth.accepted)
	opn=$(pq_audit "$T/classic.log" "$c" upstream.opened)
	[ "$out" = classic ] && echo "$acc" | grep -q ' kex=curve25519-sha256 ' &&
	    echo "$opn" | grep -q ' kex=curve25519-sha256$' &&
		ok "algorithms.kex classical only: logins work, both legs audited as curve25519-sha256" ||
		{ not_ok "classical-only kex (got '$out'; $acc; $opn)"; sed 's/^/#   /' "$T/pq.err"; }
	stop_gateway classic
else
	not_ok "cannot start the classical-only gateway"
fi

# ---- the Studio leg's sntrup761 key pair, made ahead ----
# A worker makes it while it waits in the pool (libssh patch 0007), so a
# login to an sshd 9.2 Studio does not wait for it; libssh says at debug
# level that the exchange used it.
AH_PORT=$(free_port)
if debug_gateway ahead "$AH_PORT"; then
	out=$(gw_ssh "$AH_PORT" "$T/alice" alice@s1 'echo ahead' 2>"$T/pq.err")
	c=$(pq_last_conn "$T/ahead.log")
	opn=$(pq_audit "$T/ahead.log" "$c" upstream.opened)
	[ "$out" = ahead ] && echo "$opn" | grep -q ' kex=sntrup761x25519-sha512\(@openssh.com\)\?$' &&
	    grep -q "conn $c: .*Using the sntrup761 key pair made ahead" "$T/ahead.log" &&
		ok "the Studio leg's sntrup761x25519 used the key pair the worker made ahead" ||
		{ not_ok "sntrup761 key pair made ahead (got '$out'; $opn)"
		  grep "conn $c: .*sntrup761" "$T/ahead.log" | tail -n 3 | sed 's/^/#   /'; }
	# The default algorithms.kex starts with mlkem768x25519-sha256, sshd
	# 9.2's list with sntrup761x25519-sha512: the worker's guess (below)
	# is wrong, sshd drops it, and the worker starts the exchange over.
	[ "$out" = ahead ] &&
	    grep -q "conn $c: .*The initial guess was wrong" "$T/ahead.log" &&
	    grep -q "conn $c: .*Our guess was wrong. Restarting the KEX" "$T/ahead.log" &&
		ok "a wrong key exchange guess (mlkem768x25519 to sshd 9.2): the exchange starts over, the login works" ||
		{ not_ok "a wrong key exchange guess (got '$out')"
		  grep "conn $c: .*guess" "$T/ahead.log" | tail -n 3 | sed 's/^/#   /'; }
	stop_gateway ahead
else
	not_ok "cannot start the debug-logging gateway"
fi

# ---- the Studio leg's key exchange, guessed ahead ----
# The worker sends its KEXINIT and first key exchange packet right behind
# its banner, before the Studio's banner is in, for the first of
# algorithms.kex and ssh-ed25519 (libssh patch 0009, RFC 4253 section 7).
# With sshd 9.2's first (sntrup761x25519-sha512) first in algorithms.kex
# the guess is right: sshd answers that packet, and the worker sends no
# other (one type 30 packet in the log, none of it started over).
GS_PORT=$(free_port)
if debug_gateway guess "$GS_PORT" \
    'algorithms = { kex = [ "sntrup761x25519-sha512", "mlkem768x25519-sha256", "curve25519-sha256" ]; };'; then
	out=$(gw_ssh "$GS_PORT" "$T/alice" alice@s1 'echo guessed' 2>"$T/pq.err")
	c=$(pq_last_conn "$T/guess.log")
	opn=$(pq_audit "$T/guess.log" "$c" upstream.opened)
	order=$(grep "conn $c: " "$T/guess.log" | awk '
		/wrote \[type=20,/ && !ki { ki = NR }
		/wrote \[type=30,/ { if (!init) init = NR; inits++ }
		/Received banner: SSH-2.0-OpenSSH/ && !ban { ban = NR }
		END { printf "%d %d %d %d\n", ki, init, ban, inits }')
	set -- $order
	[ "$out" = guessed ] && echo "$opn" | grep -q ' kex=sntrup761x25519-sha512$' &&
	    grep -q "conn $c: .*The initial guess was right" "$T/guess.log" &&
	    ! grep -q "conn $c: .*Restarting the KEX" "$T/guess.log" &&
	    [ "$1" -gt 0 ] && [ "$2" -gt "$1" ] && [ "$3" -gt "$2" ] && [ "$4" = 1 ] &&
		ok "a right key exchange guess: KEXINIT and the exchange's first packet sent before the Studio's banner came, answered as sent" ||
		{ not_ok "key exchange guessed ahead (got '$out'; KEXINIT, init, banner, inits: $order; $opn)"
		  grep "conn $c: .*\(guess\|type=2[01],\|type=3[01],\|banner\)" "$T/guess.log" | tail -n 8 | sed 's/^/#   /'; }
	# The Studio rekeys every 16 MiB (RekeyLimit in lib.sh's sshd_config;
	# without it this test proves nothing), with the same first
	# algorithms: unless the guess ends with the first exchange, libssh
	# keeps its DH state through the Studio's KEXINIT and never answers
	# it (the transfer stalls; seen without the fix).
	head -c 40000000 /dev/urandom > "$T/guess.blob"
	want=$(sha256sum < "$T/guess.blob" | cut -d' ' -f1)
	got=$(timeout 90 ssh -F /dev/null -p "$GS_PORT" -i "$T/alice" \
	    -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
	    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts" \
	    -o LogLevel=ERROR alice@s1@127.0.0.1 'sha256sum' \
	    < "$T/guess.blob" 2>>"$T/pq.err" | cut -d' ' -f1)
	[ "$got" = "$want" ] &&
		ok "after a right guess, the Studio's own rekeys (RekeyLimit 16M) go through: 40 MB, sha256 equal" ||
		{ not_ok "Studio rekeys after a right guess (sha256 '$got', want '$want')"
		  tail -n 5 "$T/pq.err" | sed 's/^/#   /'; }
	rm -f "$T/guess.blob"
	stop_gateway guess
else
	not_ok "cannot start the guessing gateway"
fi

# ---- rekeying without a ceiling ----
# Before, the monitor killed a worker at its 65th host-key signature.
# Post-quantum rekeys mid-transfer here (each costs the client and the
# worker tens of milliseconds); the ceiling itself is crossed below,
# with cheaper curve25519 ones.
head -c 512K /dev/urandom > "$T/pq.blob"
want=$(sha256sum < "$T/pq.blob" | cut -d' ' -f1)
GW_SSH_LOGLEVEL=DEBUG gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o RekeyLimit=256K \
    'sha256sum' < "$T/pq.blob" >"$T/pq.sum" 2>"$T/pq.err"
rc=$?
got=$(cut -d' ' -f1 "$T/pq.sum")
n=$(grep -c 'SSH2_MSG_NEWKEYS received' "$T/pq.err")
pqn=$(grep -c 'kex: algorithm: sntrup761x25519-sha512' "$T/pq.err")
[ $rc = 0 ] && [ "$got" = "$want" ] && [ "$n" -gt 8 ] && [ "$pqn" -eq "$n" ] &&
	ok "512 KiB upload with RekeyLimit=256K: $n sntrup761x25519 key exchanges, sha256 equal on the Studio" ||
	{ not_ok "512 KiB upload with RekeyLimit=256K (rc=$rc, $n key exchanges, $pqn sntrup761x25519, want $want got $got)"
	  grep 'killing worker' "$GW_LOG" | tail -n 2 | sed 's/^/#   /'; }
rm -f "$T/pq.blob" "$T/pq.err"
# (4 MiB: over 100 key exchanges, well past the old ceiling of 64.)
head -c 4M /dev/urandom > "$T/pq.blob"
want=$(sha256sum < "$T/pq.blob" | cut -d' ' -f1)
GW_SSH_LOGLEVEL=DEBUG gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o RekeyLimit=16K \
    -o KexAlgorithms=curve25519-sha256 'sha256sum' < "$T/pq.blob" >"$T/pq.sum" 2>"$T/pq.err"
rc=$?
got=$(cut -d' ' -f1 "$T/pq.sum")
n=$(grep -c 'SSH2_MSG_NEWKEYS received' "$T/pq.err")
[ $rc = 0 ] && [ "$got" = "$want" ] && [ "$n" -gt 100 ] &&
	ok "a connection with $n key exchanges (RekeyLimit=16K) survives, sha256 equal" ||
	{ not_ok "more than 100 rekeys (rc=$rc, $n key exchanges, want $want got $got)"
	  grep 'killing worker' "$GW_LOG" | tail -n 2 | sed 's/^/#   /'; }
rm -f "$T/pq.blob" "$T/pq.err" "$T/pq.sum"

# ---- only modern algorithms are offered (the default offer) ----
weak() {	# weak DESCRIPTION EXPECTED-ERROR SSH-OPTION...
	local what=$1 want=$2; shift 2
	GW_SSH_LOGLEVEL=INFO gw_ssh "$GW_PORT" "$T/alice" alice@s1 "$@" true 2>"$T/weak.err"
	local rc=$?
	[ $rc = 255 ] && grep -q "$want" "$T/weak.err" && ok "a client limited to $what is refused" ||
		not_ok "a client limited to $what (rc=$rc: $(<"$T/weak.err"))"
}
weak "diffie-hellman-group14-sha1" "no matching key exchange method" -o KexAlgorithms=diffie-hellman-group14-sha1
weak "diffie-hellman-group-exchange-sha1" "no matching key exchange method" -o KexAlgorithms=diffie-hellman-group-exchange-sha1
weak "aes128-cbc" "no matching cipher" -o Ciphers=aes128-cbc
weak "hmac-sha1 (no AEAD cipher)" "no matching MAC" -o Ciphers=aes128-ctr -o MACs=hmac-sha1
weak "ssh-rsa (SHA-1) host keys" "no matching host key type" -o HostKeyAlgorithms=ssh-rsa
out=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 -vvv true 2>&1)
echo "$out" | grep -q "will use strict KEX ordering" &&
	ok "strict key exchange (Terrapin countermeasure) is on" ||
	not_ok "strict key exchange is not offered"
