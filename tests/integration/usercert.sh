# usercert.sh - clients that log in with OpenSSH user certificates
# (trusted_user_ca_keys).  Run by topic.sh, with the
# Studio running; starts its own gateway "ucgw" with the configuration of
# "gw" plus a trusted CA file and a user, frank, who has no key of his
# own (keys = [ ]).  Certificates are made here by the real ssh-keygen -s.

UC=$T/uc
mkdir -p "$UC"
chmod 755 "$UC"
ssh-keygen -q -t ed25519 -N '' -f "$UC/ca" -C user-ca
ssh-keygen -q -t ecdsa -b 384 -N '' -f "$UC/ca_ecdsa" -C user-ca-ecdsa
ssh-keygen -q -t ed25519 -N '' -f "$UC/rogue_ca" -C rogue-ca
ssh-keygen -q -t ed25519 -N '' -f "$UC/frank" -C frank@test
cp "$T/frank_rsa" "$T/frank_rsa.pub" "$UC/"	# made once (lib.sh, it_keys)
{ echo "# the CAs whose user certificates log in"; echo
  cat "$UC/ca.pub" "$UC/ca_ecdsa.pub"; } > "$UC/trusted_cas"
chmod 644 "$UC/trusted_cas"

UC_PORT=$(free_port)
write_conf "$T/ucgw.conf" "$UC_PORT" 'limits = { per_source_max_startups = 0; };' \
    "trusted_user_ca_keys = \"$UC/trusted_cas\";"
sed -i -e 's/"testhook-unanswered" ]; }/"testhook-unanswered", "frank" ]; }/' \
    -e 's/^users = ( /users = ( { name = "frank"; keys = [ ]; },\n          /' \
    "$T/ucgw.conf"
echo "[127.0.0.1]:$UC_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
UC_LOG=$T/ucgw.log
uc_serial=100

# uc_cert NAME CA KEY [ssh-keygen options]: KEY's certificate, signed by
# CA, as $UC/NAME (a copy of the private key) and $UC/NAME-cert.pub, which
# ssh offers with it.  Key id "id-NAME", a fresh serial.
uc_cert() {
	local name=$1 ca=$2 key=$3; shift 3
	uc_serial=$((uc_serial + 1))
	cp "$key" "$UC/$name"
	cp "$key.pub" "$UC/$name.pub"
	ssh-keygen -q -s "$ca" -I "id-$name" -z "$uc_serial" "$@" "$UC/$name.pub"
}

# uc_deny DESCRIPTION NAME LOGIN REASON: refused as every denial is, the
# reason and the certificate's fields in the auth.denied record.
uc_deny() {
	local what=$1 name=$2 login=$3 reason=$4 serial
	serial=$(ssh-keygen -Lf "$UC/$name-cert.pub" | sed -n 's/.*Serial: //p')
	gw_ssh "$UC_PORT" "$UC/$name" "$login" true 2>"$T/uc.err"
	local rc=$?
	if [ $rc = 255 ] && grep -q "Permission denied (publickey)" "$T/uc.err" &&
	    wait_log "$UC_LOG" "event=auth.denied .* cert_key_id=id-$name cert_serial=$serial .*reason=$reason"; then
		ok "user certificate refused: $what (reason=$reason)"
	else
		not_ok "user certificate refused: $what (rc=$rc, want reason=$reason)"
		sed 's/^/#   /' "$T/uc.err"
		grep "auth.denied\|refused" "$UC_LOG" | tail -n 3 | sed 's/^/#   /'
	fi
}

if ! start_gateway ucgw "$T/ucgw.conf"; then
	not_ok "connect-sshd with trusted_user_ca_keys starts"
else
	# ---- a good certificate logs in and runs a command ----
	uc_cert good "$UC/ca" "$UC/frank" -n frank,someone-else -V -5m:+1h
	out=$(gw_ssh "$UC_PORT" "$UC/good" frank@s1 'echo ucert-ok' 2>"$T/uc.err")
	[ "$out" = ucert-ok ] && ok "user certificate: frank (keys = [ ]) logs in and runs a command" ||
		{ not_ok "user certificate: good certificate (got '$out')"
		  sed 's/^/#   /' "$T/uc.err"; tail -n 5 "$UC_LOG" | sed 's/^/#   /'; }
	keyfp=$(ssh-keygen -lf "$UC/frank.pub" | cut -d' ' -f2)
	cafp=$(ssh-keygen -lf "$UC/ca.pub" | cut -d' ' -f2)
	serial=$(ssh-keygen -Lf "$UC/good-cert.pub" | sed -n 's/.*Serial: //p')
	if wait_log "$UC_LOG" "event=auth.accepted .*user=frank session=s1 .*key=$keyfp algo=ssh-ed25519-cert-v01@openssh.com .*cert_key_id=id-good cert_serial=$serial cert_ca_fp=$cafp"; then
		ok "auth.accepted: the user key's own fingerprint, key id, serial, CA fingerprint"
	else
		not_ok "auth.accepted fields (key=$keyfp serial=$serial ca=$cafp)"
		grep "event=auth.accepted" "$UC_LOG" | tail -n 2 | sed 's/^/#   /'
	fi

	# An RSA user key (rsa-sha2-512-cert-v01) certified by an ECDSA CA.
	uc_cert rsa "$UC/ca_ecdsa" "$UC/frank_rsa" -n frank
	out=$(gw_ssh "$UC_PORT" "$UC/rsa" frank@s1 'echo ucert-rsa-ok' 2>"$T/uc.err")
	[ "$out" = ucert-rsa-ok ] && ok "user certificate: an RSA key certified by an ECDSA P-384 CA" ||
		{ not_ok "user certificate: RSA key, ECDSA CA (got '$out')"
		  sed 's/^/#   /' "$T/uc.err"; tail -n 5 "$UC_LOG" | sed 's/^/#   /'; }

	# source-address that holds the client, 127.0.0.1.
	uc_cert src_ok "$UC/ca" "$UC/frank" -n frank -O source-address=10.0.0.0/8,127.0.0.1/32
	out=$(gw_ssh "$UC_PORT" "$UC/src_ok" frank@s1 'echo ucert-src-ok' 2>"$T/uc.err")
	[ "$out" = ucert-src-ok ] && ok "user certificate: source-address 10.0.0.0/8,127.0.0.1/32 lets 127.0.0.1 in" ||
		{ not_ok "user certificate: matching source-address (got '$out')"
		  sed 's/^/#   /' "$T/uc.err"; tail -n 5 "$UC_LOG" | sed 's/^/#   /'; }

	# ---- refusals, each with its reason ----
	uc_cert expired "$UC/ca" "$UC/frank" -n frank -V 20200101:20200102
	uc_deny "expired" expired frank@s1 cert-expired
	uc_cert future "$UC/ca" "$UC/frank" -n frank -V 20990101:20990102
	uc_deny "not yet valid" future frank@s1 cert-not-yet-valid
	uc_cert principal "$UC/ca" "$UC/frank" -n alice,frank2
	uc_deny "principals do not name the user" principal frank@s1 cert-principal
	uc_cert rogue "$UC/rogue_ca" "$UC/frank" -n frank
	uc_deny "CA not trusted" rogue frank@s1 cert-untrusted-ca
	uc_cert src_bad "$UC/ca" "$UC/frank" -n frank -O source-address=127.0.0.2/32
	uc_deny "source-address 127.0.0.2/32, client 127.0.0.1" src_bad frank@s1 cert-source-address
	uc_cert forced "$UC/ca" "$UC/frank" -n frank -O force-command=/bin/true
	uc_deny "force-command critical option" forced frank@s1 cert-critical-option
	# (A host certificate, cert-not-user, is never offered by ssh as a
	# user's: the unit test test_usercert feeds one to the monitor.)
	uc_cert zoe "$UC/ca" "$UC/frank" -n zoe
	uc_deny "user not in users" zoe zoe@s1 unknown-user
	uc_cert notlisted "$UC/ca" "$UC/frank" -n frank
	uc_deny "user not listed for the Studio (same policy as a key)" notlisted frank@s4 not-listed-for-studio

	# ---- extensions: no permit-pty, no pty on the Studio ----
	uc_cert nopty "$UC/ca" "$UC/frank" -n frank -O no-pty
	out=$(gw_ssh "$UC_PORT" "$UC/nopty" frank@s1 -tt 'tty' 2>"$T/uc.err" </dev/null)
	if ! echo "$out" | grep -q "^/dev/" && grep -q "PTY allocation request failed" "$T/uc.err"; then
		ok "user certificate without permit-pty gets no pty"
	else
		not_ok "user certificate without permit-pty gets no pty (got '$out')"
		sed 's/^/#   /' "$T/uc.err"
	fi
	out=$(gw_ssh "$UC_PORT" "$UC/good" frank@s1 -tt 'tty' 2>"$T/uc.err" </dev/null)
	echo "$out" | grep -q "^/dev/" && ok "user certificate with permit-pty gets a pty" ||
		{ not_ok "user certificate with permit-pty gets a pty (got '$out')"; sed 's/^/#   /' "$T/uc.err"; }
	stop_gateway ucgw
fi

# ---- revoked_keys: a key, a certificate by serial, a CA; SIGHUP ----
# The revocation lists are the real ssh-keygen -k's; a key listed in the
# text form counts the same.  Each refusal is audited revoked-key, and a
# reload applies a new list to the next login at once; a list that cannot
# be read keeps the running one.
RV_PORT=$(free_port)
uc_cert rv_good "$UC/ca" "$UC/frank" -n frank
uc_cert rv_gone "$UC/ca" "$UC/frank" -n frank
rv_gone_serial=$uc_serial
: > "$UC/revoked"
chmod 644 "$UC/revoked"
write_conf "$T/rv.conf" "$RV_PORT" 'limits = { per_source_max_startups = 0; };' \
    "trusted_user_ca_keys = \"$UC/trusted_cas\"; revoked_keys = \"$UC/revoked\";"
sed -i -e 's/"testhook-unanswered" ]; }/"testhook-unanswered", "frank" ]; }/' \
    -e 's/^users = ( /users = ( { name = "frank"; keys = [ ]; },\n          /' \
    "$T/rv.conf"
echo "[127.0.0.1]:$RV_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
# rv_login KEY LOGIN: "in" if KEY logs in as LOGIN, else "out".
rv_login() {
	[ "$(gw_ssh "$RV_PORT" "$1" "$2" 'echo in' 2>"$T/rv.err")" = in ] &&
		echo in || echo out
}
if start_gateway rv "$T/rv.conf"; then
	a1=$(rv_login "$T/alice" alice@s1); c1=$(rv_login "$UC/rv_gone" frank@s1)
	# alice's key, by the text form.
	cp "$T/alice.pub" "$UC/revoked"
	reload_gateway rv
	a2=$(rv_login "$T/alice" alice@s1); b2=$(rv_login "$T/bob" bob@s1)
	alice_fp=$(ssh-keygen -lf "$T/alice.pub" | cut -d' ' -f2)
	[ "$a1/$a2/$b2" = in/out/in ] &&
	    grep -q "event=auth.denied .*key=$alice_fp .*reason=revoked-key" "$T/rv.log" &&
		ok "revoked_keys: alice's key listed, SIGHUP: her next login is refused (revoked-key), bob's is not" ||
		not_ok "revoked_keys, a key: alice before '$a1' after '$a2', bob '$b2'; $(grep 'revoked' "$T/rv.log" | tail -2 | tr '\n' ' ')"
	# A certificate by serial, in a KRL.
	echo "serial: $rv_gone_serial" > "$UC/rv.spec"
	ssh-keygen -q -k -f "$UC/revoked" -s "$UC/ca.pub" "$UC/rv.spec"
	reload_gateway rv
	c2=$(rv_login "$UC/rv_gone" frank@s1); g2=$(rv_login "$UC/rv_good" frank@s1)
	a3=$(rv_login "$T/alice" alice@s1)
	[ "$c1/$c2/$g2/$a3" = in/out/in/in ] &&
	    grep -q "event=auth.denied .*cert_key_id=id-rv_gone cert_serial=$rv_gone_serial .*reason=revoked-key" "$T/rv.log" &&
		ok "revoked_keys: a KRL revoking serial $rv_gone_serial: that certificate is refused (revoked-key), another of the same key and CA is not, alice is back" ||
		not_ok "revoked_keys, a serial: before '$c1' after '$c2', the other '$g2', alice '$a3'"
	# The CA itself: every certificate it signed.
	ssh-keygen -q -k -f "$UC/revoked" "$UC/ca.pub"
	reload_gateway rv
	g3=$(rv_login "$UC/rv_good" frank@s1)
	[ "$g3" = out ] && grep -q "client certificate for key .*(serial [0-9]*, key id id-rv_good, CA .*) refused: revoked by" "$T/rv.log" &&
		ok "revoked_keys: the CA key listed: its certificates are refused" ||
		not_ok "revoked_keys, a CA: '$g3'"
	# A list that cannot be read in full: the reload is refused, the
	# running list stays.
	printf 'ssh-ed25519 not-base64!\n' > "$UC/revoked"
	reload_gateway rv
	g4=$(rv_login "$UC/rv_good" frank@s1)
	[ "$g4" = out ] && grep -q "revoked_keys $UC/revoked: line 1: the key's base64 does not decode" "$T/rv.log" &&
	    grep -q "reload failed: keeping the running configuration" "$T/rv.log" &&
		ok "revoked_keys: a list that cannot be read: reload refused, named, line and why; the running list still applies" ||
		not_ok "revoked_keys, a bad list: '$g4'; $(grep -i 'revoked_keys\|reload' "$T/rv.log" | tail -3 | tr '\n' ' ')"
	stop_gateway rv
else
	not_ok "connect-sshd with revoked_keys starts"
fi
