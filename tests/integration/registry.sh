# registry.sh - the Redis registry, with a real redis-server on loopback
# (redislib.sh) and connect-sshctl writing to it.  Run by topic.sh.
#
#   login via Redis data; a revoked key stops working within cache_ttl
#   while the session it opened goes on; Redis killed (and stalled) gives
#   new logins a clear "Registry unavailable" and leaves sessions alone;
#   Redis back: logins work again without a restart; bad records are
#   refused and logged; the registry metrics.

. "$HERE/redislib.sh"

# ---- connect-sshctl: the registry as the platform writes it ----
ALICE_FP=$(ssh-keygen -lf "$T/alice.pub" | cut -d' ' -f2)
redis_records
rc=$?
got=$(ctl studio list | sort | tr '\n' ' ')
[ $rc = 0 ] && [ "$got" = "r1 r2 " ] && ctl key list alice | grep -q "^$ALICE_FP ssh-ed25519 " &&
	ok "connect-sshctl writes studios, the allowlist, members and keys" ||
	not_ok "connect-sshctl set-up (rc=$rc, studios '$got')"

# Input is checked as the daemon checks it; nothing is written.
bad=0
ctl studio add 'bad id' 100 127.0.0.1:22 2>"$T/ctl.err" && bad=1
grep -q "is not a valid session id" "$T/ctl.err" || bad=1
ctl studio add r9 100 studio.example:22 2>"$T/ctl.err" && bad=1
grep -q "not a numeric IPv4 address" "$T/ctl.err" || bad=1
ctl key add alice 'ssh-ed25519 AAAAnotakey' 2>"$T/ctl.err" && bad=1
ctl key add alice 'command="sh" '"$(<"$T/bob.pub")" 2>>"$T/ctl.err" && bad=1
ctl member add 100 -alice 2>>"$T/ctl.err" && bad=1
ctl workspace allow x1 2>>"$T/ctl.err" && bad=1
[ "$(ctl studio list | wc -l)" = 2 ] || bad=1
[ "$(ctl key list alice | wc -l)" = 1 ] || bad=1
[ $bad = 0 ] && ok "connect-sshctl refuses what the daemon would refuse, and says why" ||
	not_ok "connect-sshctl validation: $(cat "$T/ctl.err" | tr '\n' ' ')"

# What connect-sshctl prints reaches an admin's terminal: values written
# straight into Redis with an ESC, other controls, a C1 control or invalid
# UTF-8 come out escaped (\xHH, a backslash as \\); valid UTF-8 stays.
rcli() { redis-cli -p "$RDS_PORT" -a "$RDS_PASS" --no-auth-warning "$@" > /dev/null; }
esc=$(printf '\033[2J\033]0;x\007')
rcli HSET connect-sshd:studio:esc workspace 100 upstream "$esc" \
    users "$(printf 'a\\b\302\233c\200\303\251')"
rcli HSET "connect-sshd:studio:$(printf 'e\033[31m')" workspace 100
rcli SADD connect-sshd:workspace:100:members "$(printf 'm\033[1m')"
rcli HSET connect-sshd:user:alice:keys SHA256:esc "$(printf 'ssh-ed25519 AAAA \033[5m')"
{ ctl studio show esc; ctl studio list; ctl member list 100; ctl key list alice
  ctl member add 100 "$esc"; } > "$T/ctl.out" 2>&1
if [ "$(LC_ALL=C tr -d '\040-\176\n' < "$T/ctl.out")" = "$(printf '\303\251')" ] &&
    grep -qxF 'upstream=\x1b[2J\x1b]0;x\x07' "$T/ctl.out" &&
    grep -qxF 'users=a\\b\xc2\x9bc\x80'"$(printf '\303\251')" "$T/ctl.out" &&
    grep -qxF 'e\x1b[31m' "$T/ctl.out" && grep -qxF 'm\x1b[1m' "$T/ctl.out" &&
    grep -qxF 'SHA256:esc ssh-ed25519 AAAA \x1b[5m' "$T/ctl.out" &&
    grep -qF '"\x1b[2J\x1b]0;x\x07" is not a valid user name' "$T/ctl.out"; then
	ok "connect-sshctl escapes controls and invalid UTF-8 in what it prints"
else
	not_ok "connect-sshctl escaping: $(LC_ALL=C cat -v "$T/ctl.out" | tr '\n' ' ')"
fi
rcli DEL connect-sshd:studio:esc "connect-sshd:studio:$(printf 'e\033[31m')"
rcli SREM connect-sshd:workspace:100:members "$(printf 'm\033[1m')"
rcli HDEL connect-sshd:user:alice:keys SHA256:esc

RG_PORT=$(free_port)
RG_METRICS=$(free_port)
write_redis_conf "$T/rg.conf" "$RG_PORT" "metrics_listen = \"127.0.0.1:$RG_METRICS\";"
echo "[127.0.0.1]:$RG_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_gateway rg "$T/rg.conf"; then
	RG_LOG=$T/rg.log
	out=$(gw_ssh "$RG_PORT" "$T/alice" alice@r1 'echo via-redis' 2>&1)
	[ "$out" = via-redis ] && grep -q "connected to Redis at 127.0.0.1:$RDS_PORT" "$RG_LOG" &&
		ok "login with the studio, workspace, membership and key from Redis" ||
		not_ok "login via Redis (got '$out'; $(grep -i 'registry\|denied' "$RG_LOG" | tail -3 | tr '\n' ' '))"

	# The login's session id is claimed across replicas, with a TTL.
	rid=$(redis-cli -p "$RDS_PORT" -a "$RDS_PASS" --no-auth-warning --scan --pattern 'connect-sshd:replay:*' | head -1)
	ttl=$(redis-cli -p "$RDS_PORT" -a "$RDS_PASS" --no-auth-warning PTTL "$rid")
	case $rid in connect-sshd:replay:[0-9a-f]*) ;; *) rid= ;; esac
	[ -n "$rid" ] && [ "${#rid}" -ge 83 ] && [ "$ttl" -gt 0 ] && [ "$ttl" -le 92000 ] &&
		ok "the login's session id is claimed in Redis (SET NX PX, TTL ${ttl} ms)" ||
		not_ok "replay key in Redis: '$rid' ttl '$ttl'"

	# The gateway's ACL user (GW_ACL, as documented) reads records and
	# writes its own keys, and cannot touch the registry's records.
	gwcli() { redis-cli -p "$RDS_PORT" --user gw --pass "$GW_PASS" --no-auth-warning "$@" 2>&1; }
	acl_bad=
	for cmd in "PEXPIRE connect-sshd:studio:r1 1" "EXPIRE connect-sshd:user:alice:keys 1" \
	    "HSET connect-sshd:studio:r1 upstream 10.9.9.9:22" "DEL connect-sshd:workspace:100:members" \
	    "SREM connect-sshd:allowed_workspaces 100" "SET connect-sshd:studio:x 1"; do
		# shellcheck disable=SC2086
		gwcli $cmd | grep -q NOPERM || acl_bad="$acl_bad [$cmd]"
	done
	gwcli EVAL "return 1" 1 connect-sshd:studio:r1 | grep -q NOPERM ||
		acl_bad="$acl_bad [EVAL on a record]"
	gwcli EVAL "return redis.call('PEXPIRE', 'connect-sshd:studio:r1', 1)" 1 connect-sshd:startups:x |
		grep -q "can't access" || acl_bad="$acl_bad [PEXPIRE from EVAL]"
	[ "$(redis-cli -p "$RDS_PORT" -a "$RDS_PASS" --no-auth-warning HGET connect-sshd:studio:r1 workspace)" = 100 ] ||
		acl_bad="$acl_bad [the record changed]"
	[ "$(redis-cli -p "$RDS_PORT" -a "$RDS_PASS" --no-auth-warning PTTL connect-sshd:studio:r1)" = -1 ] ||
		acl_bad="$acl_bad [the record has a TTL]"
	[ -z "$acl_bad" ] &&
		ok "the documented ACL: the gateway's user cannot expire, change or delete registry records" ||
		not_ok "ACL allowed:$acl_bad"

	# The same checks as the file backend, on Redis data.
	gw_ssh "$RG_PORT" "$T/alice" alice@r2 true 2>/dev/null
	rc1=$?
	gw_ssh "$RG_PORT" "$T/bob" bob@r1 true 2>/dev/null
	rc2=$?
	gw_ssh "$RG_PORT" "$T/alice" alice@nosuch true 2>/dev/null
	rc3=$?
	[ $rc1 = 255 ] && [ $rc2 = 255 ] && [ $rc3 = 255 ] &&
		grep -q "event=auth.denied .*user=alice session=r2 .*reason=not-listed-for-studio" "$RG_LOG" &&
		grep -q "event=auth.denied .*user=bob session=r1 .*reason=unknown-user" "$RG_LOG" &&
		grep -q "event=auth.denied .*user=alice session=nosuch .*reason=unknown-studio" "$RG_LOG" &&
		ok "Redis data: a studio's users list, unknown users and studios are refused with their reasons" ||
		not_ok "Redis denials ($rc1 $rc2 $rc3): $(grep 'auth.denied' "$RG_LOG" | tail -3 | tr '\n' ' ')"

	# A user certificate from a CA in the registry's user_ca_keys
	# (connect-sshctl ca add); this gateway has no trusted_user_ca_keys.
	# dave's own key is in Redis too: auth.accepted must name the
	# certificate's key id for the certificate to be what logged in.
	ssh-keygen -q -t ed25519 -N '' -f "$T/rca" -C registry-ca
	rm -f "$T/dave-cert.pub"
	ssh-keygen -q -s "$T/rca" -I rg-dave -n dave "$T/dave.pub"
	rgcert() { gw_ssh "$RG_PORT" "$T/dave" dave@r2 -o CertificateFile="$T/dave-cert.pub" true 2>/dev/null; }
	rgcert
	wait_log "$RG_LOG" "event=auth.denied .*cert_key_id=rg-dave .*reason=cert-untrusted-ca" &&
		ok "Redis: a certificate from a CA not in user_ca_keys is refused (cert-untrusted-ca)" ||
		not_ok "Redis: untrusted CA ($(grep 'auth.denied' "$RG_LOG" | tail -1))"
	rcafp=$(ctl ca add - < "$T/rca.pub")
	ctl ca add "$(<"$T/dave-cert.pub")" 2>"$T/ctl.err" &&
		not_ok "connect-sshctl ca add took a certificate"
	sleep 1.5	# cache_ttl
	rgcert
	wait_log "$RG_LOG" "event=auth.accepted .*user=dave session=r2 .*cert_key_id=rg-dave .*cert_ca_fp=$rcafp" &&
		ctl ca list | grep -q "^$rcafp ssh-ed25519 " &&
		ok "Redis: connect-sshctl ca add trusts the CA, its certificate logs in" ||
		not_ok "Redis: CA from user_ca_keys ($rcafp; $(grep 'event=auth' "$RG_LOG" | tail -1))"
	ctl ca remove "$rcafp" && [ -z "$(ctl ca list)" ] &&
		ok "connect-sshctl ca remove" || not_ok "connect-sshctl ca remove"
	# Removing what is not there, or by something that is no
	# fingerprint: refused, saying which.
	ctl ca remove "$rcafp" 2>"$T/ctl.err1"; rc1=$?
	ctl key remove alice not-a-fingerprint 2>"$T/ctl.err2"; rc2=$?
	[ $rc1 != 0 ] && grep -q "no CA key $rcafp" "$T/ctl.err1" &&
	    [ $rc2 != 0 ] && grep -q "is not a SHA256 fingerprint, as key list prints" "$T/ctl.err2" &&
		ok "connect-sshctl ca/key remove: a missing entry and a non-fingerprint are refused, named" ||
		not_ok "connect-sshctl remove errors (rc $rc1 '$(<"$T/ctl.err1")', rc $rc2 '$(<"$T/ctl.err2")')"

	# Revocation: the session already open goes on; the key stops working
	# within cache_ttl (1 s).
	# (The long session must be logged in before the key goes: under
	# load a login took more than the second this waited.)
	accepted0=$(grep -c "event=auth.accepted .*user=alice session=r1 " "$RG_LOG")
	gw_ssh "$RG_PORT" "$T/alice" alice@r1 'sleep 3; echo survived' > "$T/rg.long" 2>&1 &
	rglong=$!
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -c "event=auth.accepted .*user=alice session=r1 " "$RG_LOG")" -gt "$accepted0" ] && break
		nap 0.1
	done
	ctl key add alice "$(<"$T/carol.pub")" > /dev/null
	ctl key remove alice "$ALICE_FP"
	sleep 1.2
	GW_SSH_LOGLEVEL=INFO gw_ssh "$RG_PORT" "$T/alice" alice@r1 true 2>"$T/rg.err"
	rc=$?
	wait "$rglong"
	[ $rc = 255 ] && grep -q "Permission denied" "$T/rg.err" &&
		grep -q "event=auth.denied .*user=alice session=r1 .*key=$ALICE_FP .*reason=key-not-registered" "$RG_LOG" &&
		[ "$(<"$T/rg.long")" = survived ] &&
		ok "a key removed from Redis stops working within cache_ttl; its open session goes on" ||
		not_ok "revocation (rc=$rc, long='$(<"$T/rg.long")', $(grep 'auth.denied' "$RG_LOG" | tail -1))"
	ctl key add alice "$(<"$T/alice.pub")" > /dev/null

	# A record the platform got wrong is refused, and the log names it.
	redis-cli -p "$RDS_PORT" -a "$RDS_PASS" --no-auth-warning \
	    HSET connect-sshd:studio:r3 workspace 100 upstream studio.internal:22 > /dev/null
	gw_ssh "$RG_PORT" "$T/alice" alice@r3 true 2>/dev/null
	rc=$?
	[ $rc = 255 ] && grep -q 'registry: connect-sshd:studio:r3: upstream .*studio.internal:22.*: not a numeric IPv4 address' "$RG_LOG" &&
		grep -q "event=auth.denied .*session=r3 .*reason=bad-registry-record" "$RG_LOG" &&
		ok "a bad studio record in Redis is refused and logged with its key and field" ||
		not_ok "bad record (rc=$rc): $(grep 'r3' "$RG_LOG" | tail -2 | tr '\n' ' ')"

	# Redis dies: an open session goes on, a new login is told why.
	# (Redis stops once that session runs: a fixed 1.5 s was, on a loaded
	# machine, sometimes before its login.)
	gw_ssh "$RG_PORT" "$T/alice" alice@r1 'echo started; sleep 4; echo survived' > "$T/rg.long" 2>&1 &
	rglong=$!
	wait_log "$T/rg.long" started
	stop_redis
	sleep 1.1	# past cache_ttl
	GW_SSH_LOGLEVEL=INFO gw_ssh "$RG_PORT" "$T/alice" alice@r1 true 2>"$T/rg.err"
	rc=$?
	[ $rc = 255 ] && grep -q "Registry unavailable" "$T/rg.err" &&
		grep -q "registry: Redis at 127.0.0.1:$RDS_PORT is unavailable" "$RG_LOG" &&
		kill -0 "$(<"$T/rg.pid")" &&
		ok "Redis down: a new login is refused with \"Registry unavailable\", logged once" ||
		not_ok "Redis down (rc=$rc): $(tr '\n' ' ' < "$T/rg.err"); $(grep -i registry "$RG_LOG" | tail -2 | tr '\n' ' ')"
	wait "$rglong"
	[ "$(<"$T/rg.long")" = "started
survived" ] &&
		ok "Redis down: the established session goes on" ||
		not_ok "Redis down: established session (got '$(<"$T/rg.long")')"

	# Back: logins work again, without a restart, once the backoff ends.
	start_redis
	login_again
	[ "$out" = back ] && grep -q "registry: Redis at 127.0.0.1:$RDS_PORT is back" "$RG_LOG" &&
		ok "Redis restarted: logins work again without restarting the gateway ($n retries)" ||
		not_ok "Redis recovery (got '$out' after $n tries): $(grep -i registry "$RG_LOG" | tail -2 | tr '\n' ' ')"

	# Slow (stopped) Redis: the lookup gives up after timeout_ms.
	sleep 1.1	# past cache_ttl
	kill -STOP "$(<"$T/redis-server.pidfile")"
	GW_SSH_LOGLEVEL=INFO gw_ssh "$RG_PORT" "$T/alice" alice@r1 true 2>"$T/rg.err"
	rc=$?
	kill -CONT "$(<"$T/redis-server.pidfile")"
	[ $rc = 255 ] && grep -q "Registry unavailable" "$T/rg.err" &&
		grep -q "no answer within registry.timeout_ms" "$RG_LOG" &&
		ok "Redis stalled: the lookup gives up after timeout_ms and the login is told why" ||
		not_ok "Redis stalled (rc=$rc): $(tr '\n' ' ' < "$T/rg.err"); $(grep -i registry "$RG_LOG" | tail -2 | tr '\n' ' ')"
	login_again
	[ "$out" = back ] && ok "Redis resumed: logins work again" ||
		not_ok "after the stall (got '$out')"

	curl -s --max-time 5 "http://127.0.0.1:$RG_METRICS/metrics" > "$T/rg.metrics"
	python3 - "$T/rg.metrics" > "$T/rg.metrics.check" 2>&1 <<'PY'
import re, sys
samples = {}
for line in open(sys.argv[1]).read().splitlines():
    if line.startswith("#"):
        continue
    m = re.fullmatch(r'([a-z_]+)(\{[a-z_]+="[^"\\]*"\})? ([0-9.]+)', line)
    assert m, "not an exposition line: %r" % line
    samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
n = samples["connect_sshd_registry_requests_total"]
assert samples["connect_sshd_registry_up"] == 1, "registry_up"
assert n >= 5, "requests %d" % n
assert samples["connect_sshd_registry_errors_total"] >= 2, "errors"
assert samples["connect_sshd_registry_cache_hits_total"] >= 1, "cache hits"
assert samples["connect_sshd_registry_bad_records_total"] >= 1, "bad records"
assert samples['connect_sshd_auth_denied_total{reason="bad-registry-record"}'] >= 1
assert samples['connect_sshd_registry_request_seconds_bucket{le="+Inf"}'] == n
assert samples["connect_sshd_registry_request_seconds_count"] == n
assert samples['connect_sshd_registry_request_seconds_bucket{le="1.000000"}'] <= n
assert samples["connect_sshd_registry_request_seconds_sum"] > 0
assert samples['connect_sshd_auth_denied_total{reason="registry-unavailable"}'] >= 2
print("ok")
PY
	[ "$(<"$T/rg.metrics.check")" = ok ] &&
		ok "metrics: registry up, requests, errors, cache hits, bad records, latency histogram" ||
		not_ok "registry metrics: $(tail -1 "$T/rg.metrics.check")"
	stop_gateway rg
else
	not_ok "start a gateway with the Redis registry"
fi
