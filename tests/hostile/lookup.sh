# Sourced by run.sh: a compromised connect-sshd-lookup (hostile_lookup.py)
# against the real monitor.  Whatever it sends, the monitor checks it: a
# lie it can see (a record no registry passes, an answer to no question,
# bytes that do not decode, facts nobody asked for) kills the process,
# logged; one that never answers is answered "unavailable" by the monitor
# itself and replaced.  No login is granted, and the monitor keeps serving.

ssh-keygen -q -t ed25519 -N '' -f "$T/lkuser" -C lkuser

# A gateway whose lookup process is the hostile one in MODE (and EXTRA,
# more configuration).
start_hostile_lookup() {
	local mode=$1 extra=${2:-} dir=$T/lk-$1
	mkdir -p "$dir"
	ln -sf "$B/connect-sshd-worker" "$dir/connect-sshd-worker"
	printf '#!/bin/sh\nexec /usr/bin/python3 %s %s\n' \
	    "$TOP/tests/hostile/hostile_lookup.py" "$mode" > "$dir/connect-sshd-lookup"
	chmod 755 "$dir/connect-sshd-lookup"
	LKP=$(free_port)
	cat > "$T/lk-$mode.conf" <<EOF2
listen = [ "127.0.0.1:$LKP" ];
key = "$T/gw_key";
workers = { prefork = 1; chroot = "$T/empty"; program = "$dir/connect-sshd-worker"; };
log = { level = "info"; format = "text"; };
registry = { backend = "redis"; address = "127.0.0.1:1"; timeout_ms = 300; };
$extra
EOF2
	echo "[127.0.0.1]:$LKP $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
	start_gateway "lk-$mode" "$T/lk-$mode.conf"
}

lookup_attack() {	# lookup_attack MODE "what the log must say" description
	local mode=$1 want=$2 what=$3 out rc
	if ! start_hostile_lookup "$mode"; then
		not_ok "start a gateway with the hostile lookup ($mode)"
		return
	fi
	GW_SSH_LOGLEVEL=INFO gw_ssh "$LKP" "$T/lkuser" lkuser@s1 'echo granted' \
	    > "$T/lk-$mode.out" 2>&1
	rc=$?
	wait_log "$T/lk-$mode.log" "$want"
	if [ $rc = 255 ] && ! grep -q granted "$T/lk-$mode.out" &&
	    grep -q "Registry unavailable" "$T/lk-$mode.out" &&
	    grep -q "lookup: killing connect-sshd-lookup (pid [0-9]*): $want" "$T/lk-$mode.log" &&
	    running "$(<"$T/lk-$mode.pid")"; then
		ok "hostile lookup ($mode): $what"
	else
		not_ok "hostile lookup ($mode): rc=$rc $(tr '\n' ' ' < "$T/lk-$mode.out"); $(grep lookup "$T/lk-$mode.log" | tail -2 | tr '\n' ' ')"
	fi
	stop_gateway "lk-$mode"
	cat "$T/lk-$mode.log" >> "$LOG"
}

lookup_attack lie-host "facts with an upstream that is not a numeric address and port" \
	"a granted login routed to a DNS name is refused; the process killed"
lookup_attack wrong-id "an answer to no question asked" \
	"an answer to another question: killed, the login refused"
lookup_attack garbage "a malformed L_FACTS" \
	"an answer that does not decode: killed, the login refused"
lookup_attack silent "no answer for far longer than registry.timeout_ms allows" \
	"no answer: the monitor answers unavailable itself, then kills it"

# Facts before any question: killed at once, no client needed.
if start_hostile_lookup unsolicited; then
	wait_log "$T/lk-unsolicited.log" "an answer to no question asked" &&
		running "$(<"$T/lk-unsolicited.pid")" &&
		ok "hostile lookup (unsolicited): facts nobody asked for kill it" ||
		not_ok "hostile lookup (unsolicited): $(grep lookup "$T/lk-unsolicited.log" | tail -2 | tr '\n' ' ')"
	stop_gateway lk-unsolicited
	cat "$T/lk-unsolicited.log" >> "$LOG"
else
	not_ok "start a gateway with the hostile lookup (unsolicited)"
fi

# Not a lie: a lookup that answers session id claims as Redis's SET NX
# does, behind the real monitor and a scripted worker.  A signed attempt
# that is refused (a forged signature) claims the connection's session id
# already; the genuine login that follows on the same connection must
# not find that id "already used" (the monitor asks once per connection).
LKC_DIR=$T/lk-claims
mkdir -p "$LKC_DIR"
ln -sf "$B/tests/hostile-worker" "$LKC_DIR/connect-sshd-worker"
printf '#!/bin/sh\nexec /usr/bin/python3 %s claims\n' \
    "$TOP/tests/hostile/hostile_lookup.py" > "$LKC_DIR/connect-sshd-lookup"
chmod 755 "$LKC_DIR/connect-sshd-lookup"
LKC_PORT=$(free_port)
cat > "$T/lk-claims.conf" <<EOF2
listen = [ "127.0.0.1:$LKC_PORT" ];
key = "$T/gw_key";
workers = { prefork = 1; chroot = "$T/empty"; program = "$LKC_DIR/connect-sshd-worker"; };
log = { level = "info"; format = "text"; };
registry = { backend = "redis"; address = "127.0.0.1:1"; timeout_ms = 300; };
EOF2
if start_gateway lk-claims "$T/lk-claims.conf"; then
	out=$(PORT=$LKC_PORT attack "claim-after-refused $SEED")
	if [ "$(echo "$out" | grep -c "^refused M_VERIFY_REPLY")" = 1 ] &&
	    [ "$(echo "$out" | grep -c "^answered M_VERIFY_REPLY")" = 1 ] &&
	    ! echo "$out" | grep -q "^closed\|login failed" &&
	    grep -q "reason=bad-signature" "$T/lk-claims.log" &&
	    ! grep -q "already used" "$T/lk-claims.log"; then
		ok "registry claims: a refused signed attempt, then the genuine login on the same connection is accepted"
	else
		not_ok "registry claims: refused attempt then login (worker saw: $(echo "$out" | tr '\n' ' '); $(grep 'killing\|auth\.' "$T/lk-claims.log" | tail -2 | tr '\n' ' '))"
	fi
	stop_gateway lk-claims
	cat "$T/lk-claims.log" >> "$LOG"
else
	not_ok "start a gateway with the claims lookup"
fi

# The log is the monitor's: the lookup process's stderr is /dev/null
# (kept only in the sanitizer build, for its reports), and a line it
# sends as L_LOG is escaped and prefixed.  A forged audit record, written
# to stderr and sent inside an L_LOG after a newline, never starts a line.
if start_hostile_lookup forge-log; then
	flog=$T/lk-forge-log.log
	wait_log "$flog" "lookup [0-9]*: logged" >/dev/null
	forged=$(grep -c "^2026-01-01T00:00:00.000Z connect-sshd\[1\] audit:" "$flog")
	want=0; [ "${SANITIZE:-}" = 1 ] && want=1	# stderr kept there
	if grep "lookup [0-9]*: logged" "$flog" | grep -qF 'logged\x0a2026-01-01T00:00:00.000Z connect-sshd[1] audit: event=auth.accepted forged=yes' &&
	    [ "$forged" = "$want" ] && running "$(<"$T/lk-forge-log.pid")"; then
		ok "hostile lookup (forge-log): its lines reach the log escaped and prefixed, its stderr nowhere"
	else
		not_ok "hostile lookup (forge-log): forged lines at line start: $forged (want $want); $(grep -a 'lookup\|forged' "$flog" | tail -3 | tr '\n' ' ')"
	fi
	stop_gateway lk-forge-log
	cat "$flog" >> "$LOG"
else
	not_ok "start a gateway with the hostile lookup (forge-log)"
fi

# At most 200 of its lines a second reach the log; the others are
# counted, and the count is logged once that second is over, with no
# later line needed to bring it out.
if start_hostile_lookup log-flood; then
	flog=$T/lk-log-flood.log
	# Until all 1000 are accounted for (at most 10 s): under the
	# sanitizers on a loaded machine the flood can span several rate
	# windows, and the first count of dropped lines came before the last.
	for ((_i = 1; _i <= 100; _i++)); do
		shown=$(grep -c "lookup [0-9]*: flood [0-9]*$" "$flog")
		dropped=$(sed -n 's/.*lookup: \([0-9]*\) log lines dropped.*/\1/p' "$flog" |
		    awk '{ n += $1 } END { print n + 0 }')
		[ $((shown + dropped)) -ge 1000 ] && break
		nap 0.1
	done
	if [ "$dropped" -gt 0 ] && [ $((shown + dropped)) = 1000 ] &&
	    running "$(<"$T/lk-log-flood.pid")"; then
		ok "hostile lookup (log-flood): 1000 lines at once: $shown logged, $dropped counted as dropped, the count logged without a later line"
	else
		not_ok "hostile lookup (log-flood): $shown logged, $dropped dropped; $(grep 'dropped' "$flog" | tail -2 | tr '\n' ' ')"
	fi
	stop_gateway lk-log-flood
	cat "$flog" >> "$LOG"
else
	not_ok "start a gateway with the hostile lookup (log-flood)"
fi

# metrics_listen is the lookup process's to accept on; the monitor renders
# the metrics for each scrape it reports, at most 64 a second: a process
# that reports more (it accepts at most 20 a second itself), or reports a
# scrape with no metrics_listen configured, is killed.
scrape_attack() {	# scrape_attack NAME EXTRA "what the log must say" description
	local name=$1 extra=$2 want=$3 what=$4
	if start_hostile_lookup scrape-flood "$extra"; then
		wait_log "$T/lk-scrape-flood.log" "$want" &&
			running "$(<"$T/lk-scrape-flood.pid")" &&
			ok "hostile lookup ($name): $what" ||
			not_ok "hostile lookup ($name): $(grep lookup "$T/lk-scrape-flood.log" | tail -2 | tr '\n' ' ')"
		stop_gateway lk-scrape-flood
		cat "$T/lk-scrape-flood.log" >> "$LOG"
	else
		not_ok "start a gateway with the hostile lookup ($name)"
	fi
}
scrape_attack scrape-flood "metrics_listen = \"127.0.0.1:$(free_port)\";" \
	"lookup: killing connect-sshd-lookup (pid [0-9]*): scrapes faster than metrics_listen takes them" \
	"200 scrapes reported at once: killed after 64"
scrape_attack scrape-unasked "" \
	"lookup: killing connect-sshd-lookup (pid [0-9]*): a scrape with no metrics_listen" \
	"a scrape reported with no metrics_listen: killed"
