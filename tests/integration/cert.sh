# cert.sh - upstream_auth: the Studio login by certificate (the default)
# and by the gateway key.  Run by topic.sh, with
# the gateway "gw" running: s1 is a certificate-mode Studio whose sshd
# has a cert-authority line per session (connect-sshd -S), s5 a key-mode
# Studio (the gateway public key alone), s6 routes to s1's sshd, which has
# no line for session s6.

# serial_of CONN: the certificate serial the gateway audited for CONN.
audit_field() {	# audit_field LOGFILE CONN FIELD
	grep "event=upstream.opened conn=$2 " "$1" | tail -n 1 |
	    sed -n "s/.* $3=\([^ ]*\).*/\1/p"
}

# ---- a certificate login: exec, the Studio's log, the audit ----
before=$(grep -c 'event=upstream.opened' "$GW_LOG")
out=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 'echo cert-login-ok' 2>"$T/err")
if [ "$out" = cert-login-ok ]; then
	ok "certificate mode: exec through s1"
else
	not_ok "certificate mode: exec through s1 (got '$out')"
	sed 's/^/#   /' "$T/err"
fi
wait_log "$GW_LOG" "event=upstream.opened .*session=s1 .*auth=certificate"
conn=$(grep 'event=upstream.opened .*user=alice session=s1' "$GW_LOG" |
    tail -n 1 | sed -n 's/.* conn=\([0-9]*\) .*/\1/p')
serial=$(audit_field "$GW_LOG" "$conn" cert_serial)
if [ -n "$serial" ] && grep 'event=upstream.opened' "$GW_LOG" | tail -n 1 |
    grep -q "auth=certificate cert_serial=$serial cert_key_id=\"connect-sshd conn=$conn user=alice studio=s1\""; then
	ok "upstream.opened names the mode, the serial and the key id"
else
	not_ok "upstream.opened names the mode, the serial and the key id"
	grep 'event=upstream.opened' "$GW_LOG" | tail -n 2 | sed 's/^/#   /'
fi
# The Studio's sshd logs the certificate it accepted: the same serial
# and key id, signed by the gateway key as CA.
gwfp=$(ssh-keygen -lf "$T/gw_key.pub" | cut -d' ' -f2)
if wait_log "$T/studio/sshd.log" "Accepted publickey for $STUDIO_USER .*ED25519-CERT .* ID connect-sshd conn=$conn user=alice studio=s1 (serial $serial) CA ED25519 $gwfp"; then
	ok "the Studio's sshd accepted the certificate (key id, serial, CA)"
else
	not_ok "the Studio's sshd accepted the certificate (conn $conn serial $serial)"
	grep -i 'accepted\|cert' "$T/studio/sshd.log" | tail -n 3 | sed 's/^/#   /'
fi

# sftp through a certificate-mode Studio.
head -c 300000 /dev/urandom > "$T/cert-up.bin"
rm -f "$T/cert-down.bin"
printf 'put %s %s\nget %s %s\nrm %s\n' "$T/cert-up.bin" "$T/cert-sftp.bin" \
    "$T/cert-sftp.bin" "$T/cert-down.bin" "$T/cert-sftp.bin" > "$T/cert.batch"
if sftp -F /dev/null -P "$GW_PORT" -i "$T/alice" -o IdentitiesOnly=yes \
    -o IdentityAgent=none -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$T/known_hosts" -b "$T/cert.batch" \
    alice@s1@127.0.0.1 >"$T/err" 2>&1 &&
    cmp -s "$T/cert-up.bin" "$T/cert-down.bin"; then
	ok "certificate mode: sftp put and get, same bytes"
else
	not_ok "certificate mode: sftp put and get"
	tail -n 5 "$T/err" | sed 's/^/#   /'
fi

# ---- a Studio without a line for the session refuses the certificate ----
out=$(gw_ssh "$GW_PORT" "$T/alice" alice@s6 'echo should-not-run' 2>&1)
rc=$?
if [ $rc != 0 ] && ! echo "$out" | grep -q should-not-run &&
    echo "$out" | grep -q "Studio session s6 refused the gateway's login certificate"; then
	ok "a Studio with no principal for the session refuses, and the client is told"
else
	not_ok "a Studio with no principal for the session refuses (rc=$rc: $out)"
fi
if wait_log "$GW_LOG" "event=upstream.refused .*session=s6 .*auth=certificate reason=studio-refused-certificate"; then
	ok "upstream.refused names the mode and the reason"
else
	not_ok "upstream.refused names the mode and the reason"
	grep 'upstream\.' "$GW_LOG" | tail -n 3 | sed 's/^/#   /'
fi
if grep -q "Certificate does not contain an authorized principal\|not in authorized principals\|principal" "$T/studio/sshd.log"; then
	ok "the Studio's sshd says why: no authorized principal"
else
	not_ok "the Studio's sshd says why: no authorized principal"
	tail -n 5 "$T/studio/sshd.log" | sed 's/^/#   /'
fi

# ---- upstream_auth = "key": the older mode still works ----
out=$(gw_ssh "$GW_PORT" "$T/alice" alice@s5 'echo key-login-ok' 2>"$T/err")
if [ "$out" = key-login-ok ]; then
	ok "key mode: exec through s5 with the gateway key"
else
	not_ok "key mode: exec through s5 (got '$out')"
	sed 's/^/#   /' "$T/err"
fi
if wait_log "$GW_LOG" "event=upstream.opened .*session=s5 .*auth=key" &&
    ! grep 'event=upstream.opened .*session=s5' "$GW_LOG" | grep -q cert_serial &&
    wait_log "$T/keystudio/sshd.log" "Accepted publickey for $STUDIO_USER .* ED25519 $gwfp"; then
	ok "key mode: audited as auth=key; the Studio saw the gateway key"
else
	not_ok "key mode: audited as auth=key; the Studio saw the gateway key"
fi

# ---- the certificate login's round trips (issue 14) ----
# The worker sends SERVICE_REQUEST, the signed USERAUTH_REQUEST and the
# open of the first session channel back to back, and only then reads
# the Studio's answers (libssh patches 0005 and 0006; worker/session.c
# send_cert_login()).  At log level debug libssh logs the login packet by
# packet, in the order it happened: every send before the first answer.
# Unpatched, SERVICE_ACCEPT comes before the request is built, and the
# channel is opened only after "Authentication successful".
RT_PORT=$(free_port)
if debug_gateway rt "$RT_PORT"; then
	out=$(gw_ssh "$RT_PORT" "$T/alice" alice@s1 'echo rt-ok' 2>"$T/rt.err")
	[ "$out" = rt-ok ] && ok "pipelined login: exec through s1" ||
		not_ok "pipelined login: exec through s1 (got '$out')"
	order=$(awk '
		/Sent SSH_MSG_SERVICE_REQUEST/ && !sr { sr = NR }
		/wrote \[type=50,/ && !ua { ua = NR }
		/Sent a SSH_MSG_CHANNEL_OPEN type session/ && !op { op = NR }
		/Received SSH_MSG_SERVICE_ACCEPT/ && !acc { acc = NR }
		/Authentication successful/ && !suc { suc = NR }
		END { printf "%d %d %d %d %d\n", sr, ua, op, acc, suc }' "$T/rt.log")
	set -- $order
	if [ "$1" -gt 0 ] && [ "$2" -gt "$1" ] && [ "$3" -gt "$2" ] &&
	    [ "$4" -gt "$3" ] && [ "$5" -gt "$4" ]; then
		ok "pipelined login: service request, signed request and channel open sent before the first answer"
	else
		not_ok "pipelined login: order of service request, userauth, open, accept, success in the log: $order"
		grep 'libssh_log' "$T/rt.log" | grep 'wrote\|Received\|successful\|CHANNEL_OPEN' | tail -n 12 | sed 's/^/#   /'
	fi
	stop_gateway rt
else
	not_ok "pipelined login: the debug-logging gateway starts"
fi

# ---- the client's channel is confirmed before the Studio answers ----
# While the Studio's answer to the login is out, the worker serves the
# client: its first session channel takes the channel opened behind the
# login and is confirmed at once, so its requests are on their way while
# the Studio answers (worker/session.c await_login()).  holdproxy.py
# between the gateway and the Studio holds every answer after the key
# exchange until the test releases it, so "confirmed before the answer"
# is seen, not timed: the client's confirm must come while it holds.
HP_PORT=$(free_port)
HG_PORT=$(free_port)
write_conf "$T/hg.conf" "$HG_PORT" 'limits = { per_source_max_startups = 0; };'
sed -i "/session = \"s1\"/s|127.0.0.1:$STUDIO_PORT|127.0.0.1:$HP_PORT|" "$T/hg.conf"
echo "[127.0.0.1]:$HG_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
python3 "$(dirname "$0")/holdproxy.py" "$HP_PORT" "$STUDIO_PORT" "$T/hp.release" > "$T/hp.out" 2>&1 &
HP_PID=$!
if start_gateway hg "$T/hg.conf" && wait_log "$T/hp.out" ready; then
	GW_SSH_LOGLEVEL=DEBUG2 gw_ssh "$HG_PORT" "$T/alice" alice@s1 \
	    'echo held-ok' > "$T/hp.stdout" 2> "$T/hp.err" &
	cl=$!
	if wait_log "$T/hp.err" "channel 0: open confirm"; then
		ok "early confirm: the client's channel was confirmed while the Studio's answers were held"
	else
		not_ok "early confirm: no channel confirm while the Studio's answers were held"
		grep 'channel 0\|Authenticated' "$T/hp.err" | tail -n 5 | sed 's/^/#   /'
	fi
	: > "$T/hp.release"
	wait "$cl"
	[ "$(<"$T/hp.stdout")" = held-ok ] &&
		ok "early confirm: the command ran once the Studio answered" ||
		not_ok "early confirm: the command ran once the Studio answered (got '$(<"$T/hp.stdout")')"
	# A client that vanishes while the answer is held: its channel is
	# confirmed and its exec waits in the worker for the login.  That is
	# logged as a client gone with channels open, not as a refusal by
	# the Studio (the wait fails with the client's socket).
	wait "$HP_PID" 2>/dev/null
	rm -f "$T/hp.release"
	python3 "$(dirname "$0")/holdproxy.py" "$HP_PORT" "$STUDIO_PORT" "$T/hp.release" > "$T/hp2.out" 2>&1 &
	HP_PID=$!
	if wait_log "$T/hp2.out" ready; then
		GW_SSH_LOGLEVEL=DEBUG2 gw_ssh "$HG_PORT" "$T/alice" alice@s1 \
		    "exec sleep 30 hold-gone-${T##*/}" > /dev/null 2> "$T/hp2.err" &
		cl=$!
		wait_log "$T/hp2.err" "Sending command: exec sleep 30"
		pkill -9 -f "^ssh .*hold-gone-${T##*/}"
		wait "$cl" 2>/dev/null
		: > "$T/hp.release"
		conn=$(grep 'event=auth.accepted' "$T/hg.log" | tail -n 1 | sed -n 's/.* conn=\([0-9]*\) .*/\1/p')
		if wait_log "$T/hg.log" "conn $conn: .*client disconnected with channels open" &&
		    wait_log "$T/hg.log" "event=session.closed conn=$conn " &&
		    ! grep -q "event=upstream.refused conn=$conn " "$T/hg.log"; then
			ok "early confirm: a client gone during the login is logged as gone, not as the Studio's refusal"
		else
			not_ok "early confirm: a client gone during the login (conn $conn)"
			grep "conn $conn\b\|conn=$conn " "$T/hg.log" | tail -n 6 | sed 's/^/#   /'
		fi
	else
		not_ok "early confirm: the second hold proxy starts"
	fi
	stop_gateway hg
else
	not_ok "early confirm: the hold proxy and its gateway start"
fi
stop_holdproxy "$T/hp.release" "$HP_PID"
