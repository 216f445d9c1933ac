# sandbox.sh - seccomp kills each forbidden system call (and each
# allowed one with forbidden arguments) and the monitor carries on; the
# sanitizer build's report from inside the sandbox; start-up refusals
# (key modes, passphrase, fingerprint pin, key type, SSH disabled); an
# unprivileged start; no inherited descriptor kept.
# Run by topic.sh (its gateway "gw", the Studios, the keys).

# ---- the sandbox kills a forbidden syscall; the monitor carries on ----
TH_PORT=$(free_port)
write_conf "$T/th.conf" "$TH_PORT"
sed -i "s|program = \"$B/connect-sshd-worker\"|program = \"$B/connect-sshd-worker-test\"|" "$T/th.conf"
echo "[127.0.0.1]:$TH_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
# Started with a descriptor of ours open (fd 9), which it must not keep.
exec 9>"$T/inherited.fd"
start_gateway th "$T/th.conf"; th_started=$?
exec 9>&-
if [ "$th_started" = 0 ]; then
	! ls -l "/proc/$(<"$T/th.pid")/fd" | grep -q "inherited.fd" &&
		ok "the monitor keeps no descriptor it inherited" ||
		not_ok "the monitor kept an inherited descriptor: $(ls -l "/proc/$(<"$T/th.pid")/fd" | grep inherited)"
	gw_ssh "$TH_PORT" "$T/alice" testhook-socket@s1 true 2>/dev/null
	wait_log "$T/th.log" "killed by the sandbox (SIGSYS" &&
		ok "a worker calling socket() is killed by seccomp and logged" ||
		{ not_ok "a worker calling socket() is killed by seccomp and logged"; tail -5 "$T/th.log" | sed 's/^/#   /'; }
	# Every forbidden class, each in a fresh worker after sandboxing:
	# forbidden calls, then calls allowed only with some arguments, tried
	# with others (fcntl's ways to signal another process and commands
	# never used, socket options, executable or descriptor-backed memory,
	# a priority-inheritance futex).
	for class in open socket connect bind execve fork ptrace kill tgkill \
	    setuid mount chroot prctl \
	    fcntl-setown fcntl-setown-ex fcntl-setsig fcntl-async \
	    fcntl-setlease fcntl-notify fcntl-dupfd \
	    setsockopt-other getsockopt-other \
	    mmap-exec mprotect-exec mmap-fd futex-pi; do
		before=$(grep -c "killed by the sandbox (SIGSYS" "$T/th.log")
		gw_ssh "$TH_PORT" "$T/alice" "testhook-$class@s1" true 2>/dev/null
		for ((_i = 1; _i <= 50; _i++)); do
			[ "$(grep -c "killed by the sandbox (SIGSYS" "$T/th.log")" -gt "$before" ] && break
			nap 0.1
		done
		[ "$(grep -c "killed by the sandbox (SIGSYS" "$T/th.log")" -gt "$before" ] &&
			! grep -q "sandbox test hook: $class was not stopped" "$T/th.log" &&
			ok "sandbox: $class after sandboxing kills the worker, and the monitor logs it" ||
			not_ok "sandbox: $class ($(tail -2 "$T/th.log" | tr '\n' ' '))"
	done
	check "the monitor keeps serving after a worker is killed" \
		gw_ssh "$TH_PORT" "$T/alice" alice@s1 true
	stop_gateway th
	# The sanitizer build: a use after free inside the sandbox must reach
	# the log (its own, which the final sanitizer scan leaves out).
	if [ "${SANITIZE:-}" = 1 ]; then
		cp "$T/th.conf" "$T/asan.conf"
		start_gateway asan "$T/asan.conf"
		gw_ssh "$TH_PORT" "$T/alice" testhook-asan@s1 true 2>/dev/null
		wait_log "$T/asan.log" "exited with status 1" >/dev/null
		grep -q "ERROR: AddressSanitizer: heap-use-after-free" "$T/asan.log" &&
			ok "sanitizer build: a use after free in a sandboxed worker is reported in the log" ||
			{ not_ok "sanitizer report from a sandboxed worker"; tail -5 "$T/asan.log" | sed 's/^/#   /'; }
		stop_gateway asan
		mv "$T/asan.log" "$T/asan.expected"
	fi
else
	not_ok "start the gateway with the test worker"
fi

# ---- start-up refusals ----
KC=$T/keycheck
mkdir -p "$KC"
cp "$T/gw_key" "$KC/key"
write_conf "$KC/c.conf" "$(free_port)"
sed -i "s|key = \"$T/gw_key\"|key = \"$KC/key\"|" "$KC/c.conf"
chmod 644 "$KC/key"
"$B/connect-sshd" -f "$KC/c.conf" >"$KC/out" 2>&1
[ $? = 1 ] && grep -q "chmod 600" "$KC/out" && ok "a group/world readable key is refused" ||
	not_ok "a group/world readable key is refused: $(<"$KC/out")"
chmod 600 "$KC/key"
ssh-keygen -q -p -N secret -f "$KC/key" >/dev/null
"$B/connect-sshd" -f "$KC/c.conf" >"$KC/out" 2>&1
[ $? = 1 ] && grep -q "passphrase" "$KC/out" && ok "an encrypted key is refused" ||
	not_ok "an encrypted key is refused: $(<"$KC/out")"
cp "$T/gw_key" "$KC/key"
echo 'key_fingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";' >> "$KC/c.conf"
"$B/connect-sshd" -f "$KC/c.conf" >"$KC/out" 2>&1
[ $? = 1 ] && grep -q "does not match key_fingerprint" "$KC/out" && ok "a key that does not match key_fingerprint is refused" ||
	not_ok "fingerprint pin mismatch is refused: $(<"$KC/out")"
cp "$T/carol" "$KC/rsakey"	# an RSA key
sed -i "s|key = \"$KC/key\"|key = \"$KC/rsakey\"|; /^key_fingerprint/d" "$KC/c.conf"
"$B/connect-sshd" -f "$KC/c.conf" >"$KC/out" 2>&1
[ $? = 1 ] && grep -q "needs an Ed25519 key" "$KC/out" && ok "a non-Ed25519 key is refused" ||
	not_ok "a non-Ed25519 key is refused: $(<"$KC/out")"
sed -i "s|key = \"$KC/rsakey\"|key = \"$T/gw_key\"|" "$KC/c.conf"
CONNECT_SSH_ENABLED=false "$B/connect-sshd" -f "$KC/c.conf" >"$KC/out" 2>&1
[ $? = 0 ] && grep -q "SSH access is disabled" "$KC/out" && ok "CONNECT_SSH_ENABLED=false: logs why and exits 0" ||
	not_ok "CONNECT_SSH_ENABLED=false: $(<"$KC/out")"

# ---- a stopped and continued worker lives on ----
# SIGSTOP then SIGCONT (a cgroup freeze and thaw, a debugger attaching)
# interrupt the worker's poll(); the kernel resumes it with
# restart_syscall, which the filter once lacked: the worker was killed
# by the sandbox and the session lost.
# The line the session waits for is written only after the stop, so the
# session is still running when it comes.
nlog=$(grep -c "logged in to Studio" "$GW_LOG")
rm -f "$T/stop.in"
mkfifo "$T/stop.in"
gw_ssh "$GW_PORT" "$T/alice" alice@s1 'read line; echo "after the stop: $line"' \
    < "$T/stop.in" > "$T/stop.out" 2>&1 &
stop_ssh=$!
exec 8>"$T/stop.in"
for ((_i = 1; _i <= 300; _i++)); do
	[ "$(grep -c "logged in to Studio" "$GW_LOG")" -gt "$nlog" ] && break
	nap 0.1
done
wpid=$(grep "logged in to Studio" "$GW_LOG" | tail -n 1 | sed -n 's/.* worker \([0-9]*\) conn .*/\1/p')
nap 0.5
stopped=no
kill -STOP "$wpid" 2>/dev/null && stopped=yes
nap 0.5
kill -CONT "$wpid" 2>/dev/null
echo resumed >&8
exec 8>&-
wait $stop_ssh
rc=$?
[ $stopped = yes ] && [ $rc = 0 ] && [ "$(<"$T/stop.out")" = "after the stop: resumed" ] &&
	! grep -q "worker $wpid .*killed" "$GW_LOG" &&
	ok "a worker stopped (SIGSTOP) and continued (SIGCONT) mid-session goes on" ||
	{ not_ok "stopped and continued worker '$wpid' (stopped: $stopped, rc=$rc, out '$(<"$T/stop.out")')"
	  grep "worker $wpid" "$GW_LOG" | tail -n 3 | sed 's/^/#   /'; }

# ---- unprivileged: seccomp without chroot/setuid ----
if [ $ROOT = 1 ] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	U=$T/unpriv
	mkdir -p "$U"
	cp "$T/gw_key" "$U/key"
	U_PORT=$(free_port)
	write_conf "$U/c.conf" "$U_PORT"
	sed -i "s|key = \"$T/gw_key\"|key = \"$U/key\"|; s|keys_file = \"$T/keys/bob\"|keys_file = \"$U/bob\"|" "$U/c.conf"
	cp "$T/keys/bob" "$U/bob"
	chown -R nobody "$U"
	chmod 600 "$U/key"
	echo "[127.0.0.1]:$U_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$B/connect-sshd" -f "$U/c.conf" >"$T/unpriv.log" 2>&1 &
	echo $! > "$T/unpriv.pid"
	if wait_log "$T/unpriv.log" "ready:"; then
		grep -q "not running as root" "$T/unpriv.log" &&
			ok "unprivileged start says workers run without chroot/setuid" ||
			not_ok "unprivileged start message"
		out=$(gw_ssh "$U_PORT" "$T/alice" alice@s1 'echo unpriv-ok; exit 3')
		rc=$?
		[ "$out" = unpriv-ok ] && [ $rc = 3 ] &&
			ok "the gateway works when started as an unprivileged user" ||
			{ not_ok "unprivileged gateway (rc=$rc out=$out)"; tail -5 "$T/unpriv.log" | sed 's/^/#   /'; }
		wpid=$(pgrep -P "$(<"$T/unpriv.pid")" | head -1)
		grep -q "^Seccomp:[[:space:]]*2" "/proc/$wpid/status" 2>/dev/null &&
			ok "unprivileged workers are in seccomp filter mode" ||
			not_ok "unprivileged workers are in seccomp filter mode"
	else
		not_ok "the gateway starts as an unprivileged user"
		sed 's/^/#   /' "$T/unpriv.log"
	fi
	stop_gateway unpriv
else
	skip "unprivileged start (needs root to drop to nobody)"
fi
