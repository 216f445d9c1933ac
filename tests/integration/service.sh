# service.sh - running as a service: Prometheus metrics on
# metrics_listen (served by connect-sshd-lookup), the systemd unit and
# readiness over NOTIFY_SOCKET, the Kubernetes example.
# Run by topic.sh (its gateway "gw", the Studios, the keys).

# ---- Prometheus metrics on metrics_listen ----
MX_PORT=$(free_port)
MX_METRICS=$(free_port)
write_conf "$T/mx.conf" "$MX_PORT" "metrics_listen = \"127.0.0.1:$MX_METRICS\";"
echo "[127.0.0.1]:$MX_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
if start_gateway mx "$T/mx.conf"; then
	gw_ssh "$MX_PORT" "$T/alice" alice@s1 'head -c 1000 /dev/zero' > /dev/null
	gw_ssh "$MX_PORT" "$T/eve" eve@s1 true 2>/dev/null
	# A session held open until mx.go exists.  The counters move as the
	# monitor hears of the login and the first two connections' ends,
	# which under load can come after the scrape: scraped again, every
	# 0.1 s for up to 10 s, until they match.
	gw_ssh "$MX_PORT" "$T/alice" alice@s1 \
	    "while [ ! -e $T/mx.go ]; do sleep 0.1; done" &
	mxbg=$!
	cat > "$T/mxcheck.py" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
samples = {}
for line in text.splitlines():
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        continue
    m = re.fullmatch(r'([a-z_]+)(\{[a-z_]+="[^"\\]*"\})? ([0-9]+(\.[0-9]+)?)', line)
    assert m, "not an exposition line: %r" % line
    samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
want = {
    "connect_sshd_connections_total": lambda v: v == 3,
    "connect_sshd_auth_accepted_total": lambda v: v == 2,
    'connect_sshd_auth_denied_total{reason="not-a-member"}': lambda v: v == 1,
    'connect_sshd_channels_total{type="session"}': lambda v: v == 1,
    'connect_sshd_bytes_relayed_total{direction="out"}': lambda v: v >= 1000,
    "connect_sshd_sessions_active": lambda v: v == 1,
    'connect_sshd_workers{state="idle"}': lambda v: v == 2,
    'connect_sshd_connection_ends_total{cause="exit"}': lambda v: v == 1,
    'connect_sshd_connection_ends_total{cause="error-exit"}': lambda v: v == 1,
    "connect_sshd_monitor_loop_max_seconds": lambda v: 0 <= v < 60,
}
for k, ok in want.items():
    assert k in samples, "missing %s" % k
    assert ok(samples[k]), "%s = %g" % (k, samples[k])
print("ok")
PY
	for ((i = 0; i < 100; i++)); do
		curl -s --max-time 5 "http://127.0.0.1:$MX_METRICS/metrics" > "$T/metrics.txt"
		python3 "$T/mxcheck.py" "$T/metrics.txt" > "$T/metrics.check" 2>&1
		[ "$(<"$T/metrics.check")" = ok ] && break
		nap 0.1
	done
	touch "$T/mx.go"
	[ "$(<"$T/metrics.check")" = ok ] &&
		ok "metrics: connections, auth accepted/denied by reason, active sessions, channels, bytes, workers, ends" ||
		{ not_ok "metrics: $(tail -1 "$T/metrics.check")"; sed 's/^/#   /' "$T/metrics.txt" | head -40; }
	wait "$mxbg"
	# Whatever is sent, the answer is the same and nothing is parsed.
	out=$(printf 'NOT HTTP AT ALL\0\377\r\n\r\n' | curl -s --max-time 5 -T - \
	    "http://127.0.0.1:$MX_METRICS/anything" | grep -c "^connect_sshd_connections_total ")
	[ "$out" = 1 ] && kill -0 "$(<"$T/mx.pid")" &&
		ok "metrics: any request gets the metrics; nothing of it is parsed" ||
		not_ok "metrics with an odd request (got $out)"
	# The scrapers are connect-sshd-lookup's: the monitor never accepts
	# on metrics_listen.  With the lookup process stopped, a scrape is
	# not answered; resumed, it is.
	mxlk=$(pgrep -P "$(<"$T/mx.pid")" -f connect-sshd-lookup | head -1)
	stopped=x again=x
	if [ -n "$mxlk" ]; then
		kill -STOP "$mxlk"
		stopped=$(curl -s --max-time 2 "http://127.0.0.1:$MX_METRICS/metrics" |
		    grep -c "^connect_sshd_connections_total ")
		kill -CONT "$mxlk"
		again=$(curl -s --max-time 5 "http://127.0.0.1:$MX_METRICS/metrics" |
		    grep -c "^connect_sshd_connections_total ")
	fi
	[ "$stopped" = 0 ] && [ "$again" = 1 ] && running "$mxlk" &&
		ok "metrics: served by connect-sshd-lookup, not the monitor (lookup stopped: no answer; resumed: answered)" ||
		not_ok "metrics by the lookup process (pid '${mxlk}', stopped: $stopped, resumed: $again)"
	stop_gateway mx
else
	not_ok "start a gateway with metrics_listen"
fi

# ---- systemd: the unit file, and readiness over NOTIFY_SOCKET ----
mkdir -p "$T/unit"
sed "s|/usr/local/sbin/connect-sshd|$B/connect-sshd|g" "$TOP/conf/connect-sshd.service" \
	> "$T/unit/connect-sshd.service"
out=$(systemd-analyze verify --man=no "$T/unit/connect-sshd.service" 2>&1)
[ $? = 0 ] && [ -z "$out" ] &&
	ok "conf/connect-sshd.service passes systemd-analyze verify without a warning" ||
	not_ok "systemd-analyze verify: $out"
# A worker that takes 2 s to start: READY=1 must wait for the pool.
printf '#!/bin/sh\n/bin/sleep 2\nexec %s\n' "$B/connect-sshd-worker" > "$T/slow-worker"
chmod 755 "$T/slow-worker"
NT_PORT=$(free_port)
write_conf "$T/nt.conf" "$NT_PORT"
sed -i "s|program = \"$B/connect-sshd-worker\"|program = \"$T/slow-worker\"|" "$T/nt.conf"
echo "[127.0.0.1]:$NT_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")" >> "$T/known_hosts"
python3 - "$T/notify.sock" "$T/notify.out" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
t0 = time.monotonic()
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        msg = s.recv(4096).decode()
        out.write("%.2f %s\n" % (time.monotonic() - t0, msg.replace("\n", " | ")))
PY
ntl=$!
for ((_i = 1; _i <= 50; _i++)); do [ -S "$T/notify.sock" ] && break; nap 0.1; done
t0=$(date +%s.%N)
if start_gateway nt "$T/nt.conf" NOTIFY_SOCKET="$T/notify.sock"; then
	for ((_i = 1; _i <= 100; _i++)); do grep -q "READY=1" "$T/notify.out" 2>/dev/null && break; nap 0.1; done
	t1=$(date +%s.%N)
	waited=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	grep -q "READY=1 | STATUS=serving: 1 listener(s), 2 idle worker(s)" "$T/notify.out" &&
		awk -v w="$waited" 'BEGIN { exit !(w >= 2) }' &&
		ok "READY=1 only once the pool is sandboxed and waiting (${waited} s with 2 s worker start-up)" ||
		not_ok "READY=1 (after ${waited} s): $(tr '\n' ' ' < "$T/notify.out")"
	check "a login right after READY=1 works" gw_ssh "$NT_PORT" "$T/alice" alice@s1 true
	kill -HUP "$(<"$T/nt.pid")"
	for ((_i = 1; _i <= 50; _i++)); do [ "$(grep -c "READY=1" "$T/notify.out")" -ge 2 ] && break; nap 0.1; done
	grep -A1 "RELOADING=1 | MONOTONIC_USEC=[0-9]" "$T/notify.out" | grep -q "READY=1 | STATUS=configuration reloaded" &&
		ok "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1" ||
		not_ok "reload notifications: $(tr '\n' ' ' < "$T/notify.out")"
	kill -TERM "$(<"$T/nt.pid")"
	for ((_i = 1; _i <= 50; _i++)); do grep -q "STOPPING=1" "$T/notify.out" && break; nap 0.1; done
	grep -q "STOPPING=1 | STATUS=draining 0 connection(s)" "$T/notify.out" &&
		ok "SIGTERM: STOPPING=1" || not_ok "STOPPING=1: $(tr '\n' ' ' < "$T/notify.out")"
	stop_gateway nt
else
	not_ok "start a gateway with NOTIFY_SOCKET"
fi
kill "$ntl" 2>/dev/null

# ---- the Kubernetes example parses, and its configuration loads ----
python3 - "$TOP/conf/k8s/connect-sshd.yaml" "$T/k8s.conf" > "$T/k8s.out" 2>&1 <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"]: d for d in docs}
assert set(kinds) == {"ConfigMap", "Deployment", "Service"}, kinds.keys()
dep = kinds["Deployment"]["spec"]
assert dep["replicas"] == 2
pod = dep["template"]["spec"]
key = [v for v in pod["volumes"] if "secret" in v][0]
assert key["secret"]["defaultMode"] == 0o400
mount = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == key["name"]][0]
assert mount["readOnly"] is True and mount["mountPath"] == "/secrets"
port = kinds["Service"]["spec"]["ports"][0]
assert port["port"] == 2222 and port["protocol"] == "TCP"
open(sys.argv[2], "w").write(kinds["ConfigMap"]["data"]["connect-sshd.conf"])
# The container's environment, a Secret's value stood in for.
env = pod["containers"][0]["env"]
with open(sys.argv[2] + ".env", "w") as f:
    for e in env:
        f.write("%s=%s\n" % (e["name"], e.get("value", "from-a-secret")))
assert any(e["name"] == "CONNECT_REDIS_PASSWORD" and "secretKeyRef" in e["valueFrom"] for e in env)
print("ok")
PY
[ "$(<"$T/k8s.out")" = ok ] && env -i $(<"$T/k8s.conf.env") "$B/connect-sshd" -T -f "$T/k8s.conf" > "$T/k8s.dump" 2>"$T/k8s.err" &&
	grep -q 'address = "redis.platform.svc.cluster.local:6379";' "$T/k8s.dump" &&
	ok "conf/k8s/connect-sshd.yaml: 2 replicas, read-only key Secret, TCP 2222, Redis registry; its configuration loads" ||
	not_ok "k8s example: $(cat "$T/k8s.out" "$T/k8s.err" | tail -5 | tr '\n' ' ')"
