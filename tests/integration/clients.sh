# clients.sh - clients other than OpenSSH's ssh, and what the gateway tells
# them and its operator: the version string, libssh2 (Debian's curl),
# asyncssh's SFTP symlink, no-more-sessions@openssh.com, and log lines
# that name the Studio.  Run by topic.sh (its gateway "gw", the Studios
# and keys).

# ---- the version string: OpenSSH's compat flags, no version ----
banner=$(python3 - "$GW_PORT" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
print(s.makefile("rb").readline().decode().rstrip("\r\n"))
EOP
)
[ "$banner" = "SSH-2.0-OpenSSH" ] &&
	ok "the gateway announces SSH-2.0-OpenSSH, no library or version" ||
	not_ok "version string (got '$banner')"
out=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 -vvv true 2>&1)
rc=$?
# OpenSSH's compat.c: "OpenSSH*" alone, SSH_NEW_OPENSSH (0x04000000) and
# no old-bug flag; and so it asks for no-more-sessions (not multiplexed).
[ $rc = 0 ] && echo "$out" | grep -q "compat_banner: match: OpenSSH pat OpenSSH\* compat 0x04000000" &&
	echo "$out" | grep -q "Requesting no-more-sessions@openssh.com" &&
	ok "OpenSSH's ssh: compat 0x04000000 (SSH_NEW_OPENSSH only), sends no-more-sessions, logs in" ||
	{ not_ok "OpenSSH's ssh compat flags (rc=$rc)"; echo "$out" | grep -i "compat\|no-more\|remote software" | sed 's/^/#   /'; }

# ---- asyncssh: SSH_FXP_SYMLINK as directly to the Studio ----
if have_py asyncssh; then
	echo target > "$T/ln-target"
	as_symlink() {	# as_symlink PORT USER KEY TARGET LINK
		/usr/bin/python3 - "$@" <<'EOP'
import asyncio, sys, asyncssh
port, user, key, target, link = int(sys.argv[1]), *sys.argv[2:]
async def main():
    async with asyncssh.connect("127.0.0.1", port=port, username=user,
                                client_keys=[key], known_hosts=None,
                                agent_path=None) as conn:
        async with conn.start_sftp_client() as sftp:
            await sftp.symlink(target, link)
asyncio.run(main())
EOP
	}
	# Directly: the key-mode Studio takes the gateway key.
	as_symlink "$KEY_STUDIO_PORT" "$STUDIO_USER" "$T/gw_key" "$T/ln-target" "$T/ln-direct" 2>"$T/ln.err"
	direct=$(readlink "$T/ln-direct")
	as_symlink "$GW_PORT" alice@s1 "$T/alice" "$T/ln-target" "$T/ln-gw" 2>>"$T/ln.err"
	gw=$(readlink "$T/ln-gw")
	[ "$direct" = "$T/ln-target" ] && [ "$gw" = "$T/ln-target" ] &&
		ok "asyncssh symlink through the gateway points the way it does directly" ||
		{ not_ok "asyncssh symlink (direct -> '$direct', gateway -> '$gw')"; tail -3 "$T/ln.err" | sed 's/^/#   /'; }
	# ---- asyncssh: rekeys in the middle of a transfer ----
	# AsyncSSH 2.10 sends channel data after its own KEXINIT; libssh
	# refused it and dropped the connection at the first rekey until
	# scripts/libssh-patches/0002 (OpenSSH's sshd tolerates it).
	head -c 4M /dev/urandom > "$T/as.blob"
	out=$(/usr/bin/python3 - "$GW_PORT" alice@s1 "$T/alice" "$T/as.blob" 2>"$T/as.err" <<'EOP'
import asyncio, hashlib, sys, asyncssh
port, user, key, path = int(sys.argv[1]), *sys.argv[2:]
data = open(path, "rb").read()
async def main():
    async with asyncssh.connect("127.0.0.1", port=port, username=user,
                                client_keys=[key], known_hosts=None,
                                agent_path=None,
                                rekey_bytes=256 * 1024) as conn:
        r = await conn.run("sha256sum", input=data, encoding=None)
        same = r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
        print("exit %s %s" % (r.exit_status, "equal" if same else "differs"))
try:
    asyncio.run(main())
except (OSError, asyncssh.Error) as e:
    print("failed: %s" % e)
EOP
)
	[ "$out" = "exit 0 equal" ] &&
		ok "asyncssh: 4 MiB with rekey_bytes=256K (rekeys mid-transfer), sha256 equal" ||
		{ not_ok "asyncssh rekeys mid-transfer: $out"; tail -2 "$T/as.err" | sed 's/^/#   /'; grep -i "packet filter\|channels open" "$GW_LOG" | tail -2 | sed 's/^/#   /'; }
	rm -f "$T/as.blob"
else
	skip "asyncssh symlink: /usr/bin/python3 has no asyncssh (scripts/deps.sh installs python3-asyncssh)"
fi

# ---- no-more-sessions@openssh.com ----
if have_py paramiko; then
	out=$(/usr/bin/python3 - "$GW_PORT" "$T/alice" alice@s1 2>&1 <<'EOP'
import sys, paramiko
port, key, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t = paramiko.Transport(("127.0.0.1", port))
t.start_client(timeout=10)
t.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(key))
def run(cmd):
    c = t.open_session(timeout=10)
    c.exec_command(cmd)
    return c
held = run("cat")		# stays open
second = run("echo second")
print(second.makefile().read().decode().strip())
t.global_request("no-more-sessions@openssh.com", wait=False)
try:
    third = run("echo third")
    print(third.makefile().read().decode().strip() or "third: no output")
except Exception as e:
    print("refused")
EOP
)
	# The worker names the cause only when libssh's error survives: the
	# client's close, read in the same poll, can replace it (seen under
	# load), so the log line is not required; the refusal is.
	[ "$out" = "$(printf 'second\nrefused')" ] &&
		ok "paramiko: a session after no-more-sessions@openssh.com is refused (one before it works)" ||
		{ not_ok "no-more-sessions (got: $out)"; grep -i "more sessions" "$GW_LOG" | tail -2 | sed 's/^/#   /'; }
else
	skip "no-more-sessions: /usr/bin/python3 has no paramiko"
fi
# A multiplexing master sends no no-more-sessions: its second session works.
CMS=$T/cm-nms
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlMaster=yes -o ControlPath="$CMS" -o ControlPersist=30 true
out=$(gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CMS" 'echo via-master' 2>&1)
[ "$out" = via-master ] && ok "ControlMaster: a second session over the master still works" ||
	not_ok "ControlMaster second session (got '$out')"
gw_ssh "$GW_PORT" "$T/alice" alice@s1 -o ControlPath="$CMS" -O exit 2>/dev/null

# ---- a Studio's refusal of a forwarding, and who refused ----
GW_SSH_LOGLEVEL=INFO gw_ssh "$GW_PORT" "$T/alice" alice@s1 -W "127.0.0.1:$DEAD_PORT" </dev/null 2>"$T/fwd.err"
grep -q "open failed" "$T/fwd.err" &&
	wait_log "$GW_LOG" "Studio s1 (127.0.0.1:$STUDIO_PORT) could not connect to 127.0.0.1:$DEAD_PORT: .*error (2) Connection refused" &&
	ok "a forwarding the Studio cannot connect: refused, the log names the Studio and its reason" ||
	{ not_ok "refused forwarding: $(<"$T/fwd.err")"; grep "could not connect" "$GW_LOG" | tail -1 | sed 's/^/#   /'; }

# ---- libssh2 (Debian 12's curl): encrypt-and-MAC only by choice ----
head -c 3M /dev/urandom > "$T/c2.blob"
c2want=$(sha256sum < "$T/c2.blob" | cut -d' ' -f1)
gwfp=$(ssh-keygen -lf "$T/gw_key.pub" | awk '{print $2}')
gwfp=${gwfp#SHA256:}
c2curl() {	# c2curl PORT URL-PATH [curl args...]
	local port=$1 path=$2; shift 2
	curl -sS --max-time 60 -u "alice@s1:" --key "$T/alice" --pubkey "$T/alice.pub" \
	    --hostpubsha256 "$gwfp" "$@" "$path"
}
: > "$T/c2.err"
c2curl "$GW_PORT" "sftp://127.0.0.1:$GW_PORT$T/c2.blob" -o "$T/c2.none" 2>"$T/c2.err"
rc=$?
[ $rc != 0 ] &&
	wait_log "$GW_LOG" "key exchange with client 127.0.0.1:[0-9]* failed: no common MAC (client to gateway): the client offers \[hmac-sha2-256,.*\], the gateway allows \[hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com\]; to accept one the client offers, list it in algorithms.macs" &&
	ok "curl (libssh2) by default: refused, the log says which MACs and which setting" ||
	{ not_ok "curl by default (rc=$rc: $(<"$T/c2.err"))"; grep "key exchange" "$GW_LOG" | tail -1 | sed 's/^/#   /'; }
MC_PORT=$(free_port)
echo "[127.0.0.1]:$MC_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
write_conf "$T/mc.conf" "$MC_PORT" 'limits = { per_source_max_startups = 0; };
algorithms = { macs = [ "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512" ]; };'
if start_gateway mc "$T/mc.conf"; then
	c2curl "$MC_PORT" "sftp://127.0.0.1:$MC_PORT$T/c2.blob" -o "$T/c2.down" 2>"$T/c2.err"
	got=$(sha256sum < "$T/c2.down" 2>/dev/null | cut -d' ' -f1)
	[ "$got" = "$c2want" ] && ok "curl sftp:// download through the gateway with hmac-sha2-256 allowed, sha256 equal" ||
		{ not_ok "curl sftp:// download ($(<"$T/c2.err"))"; tail -3 "$T/mc.log" | sed 's/^/#   /'; }
	c2curl "$MC_PORT" "sftp://127.0.0.1:$MC_PORT$T/c2.up" -T "$T/c2.blob" 2>"$T/c2.err"
	got=$(sha256sum < "$T/c2.up" 2>/dev/null | cut -d' ' -f1)
	[ "$got" = "$c2want" ] && ok "curl sftp:// upload, sha256 equal on the Studio" ||
		not_ok "curl sftp:// upload ($(<"$T/c2.err"))"
	c2curl "$MC_PORT" "scp://127.0.0.1:$MC_PORT$T/c2.blob" -o "$T/c2.scpdown" 2>"$T/c2.err"
	got=$(sha256sum < "$T/c2.scpdown" 2>/dev/null | cut -d' ' -f1)
	[ "$got" = "$c2want" ] && ok "curl scp:// download, sha256 equal" ||
		not_ok "curl scp:// download ($(<"$T/c2.err"))"
	c2curl "$MC_PORT" "scp://127.0.0.1:$MC_PORT$T/c2.scpup" -T "$T/c2.blob" 2>"$T/c2.err"
	got=$(sha256sum < "$T/c2.scpup" 2>/dev/null | cut -d' ' -f1)
	[ "$got" = "$c2want" ] && ok "curl scp:// upload, sha256 equal on the Studio" ||
		not_ok "curl scp:// upload ($(<"$T/c2.err"))"
	# OpenSSH's ssh still gets an ETM MAC (or AEAD) first.
	out=$(gw_ssh "$MC_PORT" "$T/alice" alice@s1 -o Ciphers=aes128-ctr -v true 2>&1)
	echo "$out" | grep -q "MAC: hmac-sha2-256-etm@openssh.com" &&
		ok "with the compatibility MACs allowed, OpenSSH still negotiates an ETM MAC" ||
		not_ok "ETM first ($(echo "$out" | grep 'MAC:' | head -1))"
	stop_gateway mc
else
	not_ok "start the gateway with the compatibility MACs"
fi
rm -f "$T"/c2.*

# ---- a Studio that accepts TCP but never sends its version ----
MUTE_PORT=$(free_port)
python3 - "$MUTE_PORT" <<'EOP' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
held = []
end = time.time() + 120
s.settimeout(1)
while time.time() < end:
    try:
        held.append(s.accept()[0])	# accepted, never answered
    except socket.timeout:
        pass
EOP
echo $! > "$T/mute.pid"
MU_PORT=$(free_port)
write_conf "$T/mu.conf" "$MU_PORT" 'limits = { upstream_connect_timeout = 2; };'
sed -i "s|^studios = ( |studios = ( { session = \"m1\"; workspace = 100; upstream = \"127.0.0.1:$MUTE_PORT\"; },\n            |" "$T/mu.conf"
echo "[127.0.0.1]:$MU_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if wait_port "$MUTE_PORT" && start_gateway mu "$T/mu.conf"; then
	gw_ssh "$MU_PORT" "$T/alice" alice@m1 true 2>/dev/null
	wait_log "$T/mu.log" "Studio m1 (127.0.0.1:$MUTE_PORT): Timeout connecting to 127.0.0.1:$MUTE_PORT" &&
		! grep -q "(null)" "$T/mu.log" &&
		ok "a Studio that never sends its version: the timeout names it (m1, 127.0.0.1:$MUTE_PORT)" ||
		{ not_ok "silent Studio log"; grep -i "studio m1\|timeout" "$T/mu.log" | tail -2 | sed 's/^/#   /'; }
	stop_gateway mu
else
	not_ok "start the gateway for the silent Studio"
fi
stop_gateway mute
