# basics.sh - what every login does: the exec relay (output, exit status,
# signals, stdin, a shell without a pty); denials, the same on the wire
# and with their real reason in the log; host keys; the Studio's own
# keys; RSA keys and their bounds; the audit
# events of all that; key custody (no worker holds the private key); the
# sandbox state of idle workers.
# Run by topic.sh (its gateway "gw", the Studios, the keys).

# ---- exec relay ----
out=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 'echo hello from $(hostname)' 2>"$T/err")
[ "$out" = "hello from $(hostname)" ] && ok "exec runs on the Studio" ||
	{ not_ok "exec runs on the Studio (got '$out')"; sed 's/^/#   /' "$T/err"; tail -n 20 "$GW_LOG" | sed 's/^/#   /'; }

gw_ssh "$GW_PORT" "$T/alice" alice@s1 'exit 42'
rc=$?
[ $rc = 42 ] && ok "exit status 42 is relayed" || not_ok "exit status 42 is relayed (got $rc)"

gw_ssh "$GW_PORT" "$T/alice" alice@s1 'true'
rc=$?
[ $rc = 0 ] && ok "exit status 0 is relayed" || not_ok "exit status 0 is relayed (got $rc)"

gw_ssh "$GW_PORT" "$T/alice" alice@s1 'echo to-out; echo to-err >&2' >"$T/o" 2>"$T/e"
[ "$(<"$T/o")" = "to-out" ] && [ "$(<"$T/e")" = "to-err" ] &&
	ok "stdout and stderr are kept apart" ||
	not_ok "stdout and stderr are kept apart (out='$(<"$T/o")' err='$(<"$T/e")')"

gw_ssh "$GW_PORT" "$T/alice" alice@s1 'kill -TERM $$'
rc=$?
[ $rc = 255 ] || [ $rc = 143 ] && ok "exit-signal is relayed (ssh exit $rc)" ||
	not_ok "exit-signal is relayed (got $rc)"

out=$(printf 'line1\nline2\n' | gw_ssh "$GW_PORT" "$T/alice" alice@s1 'wc -l')
[ "$out" = 2 ] && ok "stdin reaches the command and EOF ends it" ||
	not_ok "stdin reaches the command and EOF ends it (got '$out')"

out=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 2>&1 <<<'echo shell-works; exit 7')
rc=$?
[ $rc = 7 ] && echo "$out" | grep -q shell-works && ok "shell without pty runs and returns its status" ||
	not_ok "shell without pty (rc=$rc out='$out')"

gw_ssh "$GW_PORT" "$T/bob" bob@s1 true &&
	ok "keys_file keys log in" || not_ok "keys_file keys log in"

# ---- denials: same on the wire, real reason in the log ----
deny() {	# deny DESCRIPTION KEY LOGIN REASON
	local what=$1 key=$2 login=$3 reason=$4
	gw_ssh "$GW_PORT" "$key" "$login" true 2>"$T/deny.err"
	local rc=$?
	if [ $rc = 255 ] && grep -q "Permission denied (publickey)" "$T/deny.err" &&
	    wait_log "$GW_LOG" "auth.denied.*reason=$reason"; then
		ok "denied: $what (reason=$reason)"
	else
		not_ok "denied: $what (rc=$rc, want reason=$reason)"
		sed 's/^/#   /' "$T/deny.err"
	fi
}
deny "unknown studio" "$T/alice" alice@nosuch unknown-studio
deny "workspace not allowed" "$T/alice" alice@s2 workspace-not-allowed
deny "wrong key" "$T/mallory" alice@s1 key-not-registered
deny "not a member of the workspace" "$T/eve" eve@s1 not-a-member
deny "not listed for the studio" "$T/dave" dave@s4 not-listed-for-studio
deny "unknown user" "$T/mallory" mallory@s1 unknown-user
deny "malformed user name" "$T/alice" 'alice' bad-username
# A user name of 128 bytes or more does not fit the IPC: the worker asks
# about it cut, and the monitor refuses it as bad-username, showing it cut,
# without taking the worker for a compromised one.  OpenSSH asks about the
# key first; paramiko signs at once (the worker's verify path).
long_user=$(printf '%*s' 197 '' | tr ' ' a)@s1		# 200 bytes
gw_ssh "$GW_PORT" "$T/alice" "$long_user" true 2>"$T/deny.err"
rc=$?
if [ $rc = 255 ] && grep -q "Permission denied (publickey)" "$T/deny.err" &&
    wait_log "$GW_LOG" "event=auth.denied .* user=a\{61\}\.\.\. session=\"\" .*reason=bad-username"; then
	ok "denied: a 200-byte user name, audited (reason=bad-username)"
else
	not_ok "denied: a 200-byte user name, audited (rc=$rc)"
	sed 's/^/#   /' "$T/deny.err"; grep 'auth.denied' "$GW_LOG" | tail -2 | sed 's/^/#   /'
fi
if have_py paramiko; then
	long_user=$(printf '%*s' 197 '' | tr ' ' b)@s1
	out=$(/usr/bin/python3 - "$GW_PORT" "$T/alice" "$long_user" 2>&1 <<'EOP'
import sys, paramiko
port, key, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
try:
    c.connect("127.0.0.1", port=port, username=user, look_for_keys=False,
              allow_agent=False, timeout=10,
              pkey=paramiko.Ed25519Key.from_private_key_file(key))
    print("logged in")
except paramiko.AuthenticationException:
    print("refused")
EOP
)
	if [ "$out" = refused ] &&
	    wait_log "$GW_LOG" "event=auth.denied .* user=b\{61\}\.\.\. session=\"\" .*reason=bad-username" &&
	    ! grep -q "killing worker .*malformed userauth data" "$GW_LOG"; then
		ok "denied: a 200-byte user name signed at once, audited, worker not killed"
	else
		not_ok "denied: a 200-byte user name signed at once ($out)"
		grep 'auth.denied\|killing' "$GW_LOG" | tail -2 | sed 's/^/#   /'
	fi
else
	skip "a 200-byte user name signed at once: /usr/bin/python3 has no paramiko"
fi

# ---- host key ----
check "host key accepted with StrictHostKeyChecking=yes" \
	gw_ssh "$GW_PORT" "$T/alice" alice@s1 true
ssh-keygen -q -t ed25519 -N '' -f "$T/other" -C other
echo "[127.0.0.1]:$GW_PORT $(cut -d' ' -f1,2 "$T/other.pub")" > "$T/known_hosts.wrong"
if ssh -F /dev/null -p "$GW_PORT" -i "$T/alice" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts.wrong" \
    alice@s1@127.0.0.1 true 2>"$T/hk.err"; then
	not_ok "a known_hosts with another key is refused"
else
	grep -q "Host key verification failed\|REMOTE HOST IDENTIFICATION HAS CHANGED" "$T/hk.err" &&
		ok "a known_hosts with another key is refused" ||
		not_ok "a known_hosts with another key is refused ($(<"$T/hk.err"))"
fi
fp=$("$B/connect-sshd" -F -f "$T/gw.conf")
[ "$fp" = "$(ssh-keygen -lf "$T/gw_key")" ] && ok "-F prints what ssh-keygen -lf prints" ||
	not_ok "-F prints '$fp', ssh-keygen -lf '$(ssh-keygen -lf "$T/gw_key")'"

# ---- the Studio accepts only the gateway key ----
studio_ssh() {	# studio_ssh KEY [PORT]
	ssh -F /dev/null -p "${2:-$STUDIO_PORT}" -i "$1" -o IdentitiesOnly=yes -o BatchMode=yes \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	    "$STUDIO_USER@127.0.0.1" true
}
studio_ssh "$T/alice" 2>/dev/null && not_ok "the Studio refuses a user's own key" ||
	ok "the Studio refuses a user's own key"
# A certificate-mode Studio trusts the gateway key only as a CA: the key
# itself does not log in there.  The key-mode Studio accepts it.
studio_ssh "$T/gw_key" 2>/dev/null && not_ok "the certificate Studio refuses the bare gateway key" ||
	ok "the certificate Studio refuses the bare gateway key"
studio_ssh "$T/alice" "$KEY_STUDIO_PORT" 2>/dev/null && not_ok "the key-mode Studio refuses a user's own key" ||
	ok "the key-mode Studio refuses a user's own key"
check "the key-mode Studio accepts the gateway key" studio_ssh "$T/gw_key" "$KEY_STUDIO_PORT"

# ---- Studio unreachable ----
# (OpenSSH prints a disconnect message at LogLevel INFO.)
GW_SSH_LOGLEVEL=INFO gw_ssh "$GW_PORT" "$T/alice" alice@s3 true 2>"$T/unreach.err"
rc=$?
[ $rc = 255 ] && grep -q "Studio session s3 is not reachable" "$T/unreach.err" &&
	ok "an unreachable Studio is reported to the client" ||
	not_ok "an unreachable Studio is reported (rc=$rc: $(<"$T/unreach.err"))"

# ---- RSA client keys ----
gw_ssh "$GW_PORT" "$T/carol" carol@s1 true 2>"$T/rsa.err" &&
	ok "an RSA client key (rsa-sha2) logs in" ||
	not_ok "an RSA client key logs in ($(<"$T/rsa.err"))"
# RSA bounds (keytypes.h): a 1024-bit key is under limits.rsa_min_bits
# (2048), refused by the monitor before it verifies anything.
ssh-keygen -q -t rsa -b 1024 -N '' -f "$T/weak1024" -C weak@test
deny "a 1024-bit RSA key" "$T/weak1024" alice@s1 key-too-weak
# A 16384-bit RSA key does not fit the monitor protocol: the worker refuses
# it itself, as a failed login, and is not taken for a compromised one.
# paramiko signs at once (the verify path); the key is a made-up modulus.
if have_py paramiko; then
	out=$(/usr/bin/python3 - "$GW_PORT" alice@s1 2>&1 <<'EOP'
import sys, struct, paramiko
port, user = int(sys.argv[1]), sys.argv[2]
def s(b): return struct.pack(">I", len(b)) + b
n = (1 << 16383) | 0xC5C5C5C5 | 1
blob = s(b"ssh-rsa") + s(b"\x01\x00\x01") + s(b"\0" + n.to_bytes(2048, "big"))
class Big(paramiko.PKey):
    public_blob = None
    def asbytes(self): return blob
    def __str__(self): return self.asbytes()
    def get_name(self): return "ssh-rsa"
    def get_bits(self): return 16384
    def can_sign(self): return True
    def sign_ssh_data(self, data, algorithm=None):
        m = paramiko.Message()
        m.add_string(algorithm or "rsa-sha2-256")
        m.add_string(b"\x01" * 2048)
        return m
t = paramiko.Transport(("127.0.0.1", port))
t.start_client(timeout=10)
try:
    t.auth_publickey(user, Big())
    print("logged in")
except paramiko.AuthenticationException:
    import base64, hashlib
    print("refused SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("="))
t.close()
EOP
)
	# ... and audited (IPC_W_REFUSED), with the key's fingerprint.
	if [ "${out%% *}" = refused ] &&
	    wait_log "$GW_LOG" "client signature refused: a key of 2071 bytes" &&
	    wait_log "$GW_LOG" "event=auth.denied .*user=alice session=s1 workspace=-1 key=${out#refused } reason=key-too-large" &&
	    ! grep -q "killing worker .*malformed userauth data" "$GW_LOG"; then
		ok "refused: a 16384-bit RSA key signed at once, by the worker, not killed, audited"
	else
		not_ok "refused: a 16384-bit RSA key signed at once ($out)"
		grep 'client signature refused\|killing' "$GW_LOG" | tail -2 | sed 's/^/#   /'
	fi
else
	skip "a 16384-bit RSA key signed at once: /usr/bin/python3 has no paramiko"
fi

# ---- audit events ----
for ev in "event=connection conn=[0-9]* peer=127.0.0.1:" \
    "event=auth.accepted .*user=alice session=s1 workspace=100 key=SHA256:" \
    "event=upstream.opened .*user=alice session=s1" \
    'event=command .*request=exec command="exit 42"' \
    "event=channel.close .*exit_status=42" \
    "event=session.closed .*user=alice .*duration_ms=[0-9]* bytes_in=[0-9]* bytes_out=[0-9]*" \
    "event=auth.denied .*user=eve session=s1 workspace=100 key=SHA256:.* reason=not-a-member"; do
	grep -q -- "$ev" "$GW_LOG" && ok "audit: $ev" || not_ok "audit: $ev"
done

# ---- key custody: no worker holds the private key ----
mon=$(<"$T/gw.pid")
# The scan must see a worker in the middle of a session: it starts once
# the session's command is logged, and the command outlasts a slow scan.
gw_ssh "$GW_PORT" "$T/alice" alice@s1 'sleep 6; echo memscan-mid' > /dev/null &
bg=$!
mid=0
wait_log "$GW_LOG" 'event=command .*command="sleep 6; echo memscan-mid"' && mid=1
workers=$(pgrep -P "$mon")
nscanned=0; nfound=0
for w in $workers; do
	python3 "$HERE/memscan.py" "$w" "$T/gw_key" >"$T/scan.$w" 2>&1
	case $? in
	0) nscanned=$((nscanned + 1)) ;;
	1) nfound=$((nfound + 1)); sed 's/^/#   /' "$T/scan.$w" ;;
	*) sed 's/^/#   /' "$T/scan.$w" ;;
	esac
done
wait $bg
[ "$nscanned" -ge 2 ] && [ "$nfound" = 0 ] && [ "$mid" = 1 ] &&
	ok "no private key bytes in any worker's memory ($nscanned workers scanned, one mid-session)" ||
	not_ok "worker memory scan: $nscanned clean, $nfound with key bytes, mid-session command logged: $mid"
python3 "$HERE/memscan.py" "$mon" "$T/gw_key" >/dev/null 2>&1
[ $? = 1 ] && ok "the scanner finds the key in the monitor (control)" ||
	not_ok "the scanner finds the key in the monitor (control)"

# ---- root mode: workers are chrooted, unprivileged, sandboxed ----
if [ $ROOT = 1 ]; then
	wpid=$(pgrep -P "$mon" | head -1)
	st=/proc/$wpid/status
	grep -q "^Seccomp:[[:space:]]*2" "$st" && grep -q "^NoNewPrivs:[[:space:]]*1" "$st" &&
		[ "$(awk '/^Uid:/{print $2}' "$st")" = "$(id -u nobody)" ] &&
		[ "$(readlink "/proc/$wpid/root")" = "$T/empty" ] &&
		ok "idle workers run as nobody, chrooted, no_new_privs, seccomp" ||
		not_ok "worker sandbox state: $(grep -E '^(Uid|Seccomp|NoNewPrivs)' "$st" | tr '\n' ' ') root=$(readlink "/proc/$wpid/root")"
else
	skip "worker chroot/setuid (needs root)"
fi
