# redislib.sh - sourced by the topics that use the Redis registry
# (registry.sh, lookup.sh, fleet.sh): starts a real redis-server on
# loopback, with the gateways' least-privilege ACL user, and gives them
# connect-sshctl (ctl), a gateway config on it, and redis_records.
# topic.sh's cleanup stops Redis (stop_redis).

RDS_PORT=$(free_port)
RDS_PASS=redis-pw-$$
mkdir -p "$T/redis"
printf '%s\n' "$RDS_PASS" > "$T/redis.pass"
chmod 600 "$T/redis.pass"
# The gateways log in as "gw" with exactly the ACL of connect-sshd.conf(5),
# REGISTRY: read the registry, write only their own startups and replay
# keys.  Given at start-up, so that it survives the restarts below;
# connect-sshctl and the tests' own redis-cli use the default user.
GW_PASS=gw-pw-$$
printf '%s\n' "$GW_PASS" > "$T/gw.pass"
chmod 600 "$T/gw.pass"
GW_ACL=(resetkeys '%R~connect-sshd:*' +select +scard +sismember +hgetall
    '(~connect-sshd:startups:* +eval +zrem +zremrangebyscore +zcard +zadd +pexpire +time)'
    '(~connect-sshd:replay:* +set)')

start_redis() {
	# Append-only: data survives the kill -9 below.  Without fsync: Redis
	# write()s the log before it answers, so what it answered is in the
	# kernel's hands and outlives the process; an fsync per write (only
	# a crash of the machine needs it) made each login wait for the
	# disk, past registry.timeout_ms on a busy one.
	# (Not a job of this shell: its kill -9 would be reported.)
	( redis-server --port "$RDS_PORT" --bind 127.0.0.1 --requirepass "$RDS_PASS" \
	    --user gw on ">$GW_PASS" "${GW_ACL[@]}" \
	    --dir "$T/redis" --appendonly yes --appendfsync no --save '' \
	    --daemonize no >> "$T/redis.log" 2>&1 &
	  echo $! > "$T/redis-server.pidfile" )
	wait_port "$RDS_PORT"
}

stop_redis() {
	local pid i
	[ -e "$T/redis-server.pidfile" ] || return 0
	pid=$(<"$T/redis-server.pidfile")
	kill -9 "$pid" 2>/dev/null
	for ((i = 1; i <= 50; i++)); do
		running "$pid" || break
		nap 0.1
	done
	rm -f "$T/redis-server.pidfile"
}

# The admin tool, pointed at the test Redis the way operators do: env.
ctl() {
	CONNECT_REDIS_ADDRESS=127.0.0.1:$RDS_PORT CONNECT_REDIS_PASSWORD=$RDS_PASS \
	    "$B/connect-sshctl" "$@"
}

# A gateway whose registry is Redis: no studios or users in the file.
write_redis_conf() {
	local file=$1 port=$2; shift 2
	cat > "$file" <<EOF
listen = [ "127.0.0.1:$port" ];
key = "$T/gw_key";
workers = { prefork = 2; chroot = "$T/empty"; program = "$B/connect-sshd-worker"; };
log = { level = "info"; format = "text"; };
registry = { backend = "redis"; address = "127.0.0.1:$RDS_PORT"; user = "gw";
             password_file = "$T/gw.pass"; timeout_ms = 300; cache_ttl = 1; };
$*
EOF
}

# login_again [PORT [WORD [SECONDS]]]: alice logs in to r1 on PORT
# (RG_PORT) and echoes WORD (back), every SECONDS (0.5) until that works,
# at most 20 tries: out (what came back), n (the failed tries).
login_again() {
	local port=${1:-$RG_PORT} word=${2:-back} every=${3:-0.5}
	n=0
	until out=$(gw_ssh "$port" "$T/alice" alice@r1 "echo $word" 2>/dev/null) &&
	    [ "$out" = "$word" ]; do
		n=$((n + 1))
		[ $n -ge 20 ] && break
		sleep "$every"
	done
}

# redis_records: what the platform writes for alice and dave (registry.sh
# checks that connect-sshctl writes it; the other topics only need it).
redis_records() {
	ctl workspace allow 100 && ctl member add 100 alice && ctl member add 100 dave &&
	ctl key add alice "$(<"$T/alice.pub")" > /dev/null &&
	ctl key add dave - < "$T/dave.pub" > /dev/null &&
	ctl studio add r1 100 "127.0.0.1:$STUDIO_PORT" upstream_user="$STUDIO_USER" &&
	ctl studio add r2 100 "127.0.0.1:$STUDIO_PORT" upstream_user="$STUDIO_USER" users=dave
}

# Last, after the functions: without redis-server, a topic's
# redis_records fails after this message, not with "command not found".
if ! command -v redis-server >/dev/null; then
	not_ok "redis-server is not installed (scripts/deps.sh installs it)"
	return 0 2>/dev/null || exit 1
fi
start_redis
