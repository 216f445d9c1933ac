#!/usr/bin/env bash
# The client compatibility matrix: every SSH client a Debian 12 machine can
# install, through connect-sshd and directly against the Studio (a real
# OpenSSH sshd on 127.0.0.1), with the same checks on both paths.
#
#   tests/compat/run.sh            (make compat; B, OPENSSH10 from make)
#
# Prints one line per cell and the matrix, writes it as Markdown to
# $B/compat/matrix.md, and exits non-zero when a cell EXPECT (below) says
# should work fails through the gateway, or a cell expected to fail works
# (then the table is out of date).  Loopback only.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$TOP/$B ;; esac
OPENSSH10=${OPENSSH10:-$B/openssh10}
case $OPENSSH10 in /*) ;; *) OPENSSH10=$TOP/$OPENSSH10 ;; esac
PY=/usr/bin/python3
OUT=$B/compat
mkdir -p "$OUT"
T=$(mktemp -d /tmp/csshd-it.XXXXXX)
chmod 755 "$T"
. "$TOP/tests/integration/lib.sh"

# ---- the gateway's configuration: change it here, in one place ----
# Appended to the generated connect-sshd.conf.  The default is the recipe
# for libssh2 clients (curl): the encrypt-and-MAC hmac-sha2 after the ETM
# ones (connect-sshd.conf(5), algorithms).
GW_EXTRA=${GW_EXTRA-'algorithms = { macs = [ "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512" ]; };'}

# ---- the checks and what is expected of each client ----
CHECKS=${COMPAT_CHECKS:-"exec pty sftp symlink fwd_l fwd_r agent rekey"}
CLIENTS="openssh92 openssh10 putty dropbear paramiko asyncssh go node curl git ansible sshfs"

# NA[client:check]: the client cannot do this at all (why).
declare -A NA=(
  [putty:agent]="no agent of its own here (needs Pageant)"
  [putty:rekey]="rekey interval only in saved sessions"
  [putty:symlink]="psftp has no command that creates a link"
  [dropbear:sftp]="no sftp client"
  [dropbear:symlink]="no sftp client"
  [dropbear:rekey]="fixed rekey interval (1 GB / 8 h)"
  [go:sftp]="x/crypto/ssh has no sftp (that is pkg/sftp)"
  [go:symlink]="x/crypto/ssh has no sftp"
  [curl:exec]="file transfer only" [curl:pty]="file transfer only"
  [curl:fwd_l]="file transfer only" [curl:fwd_r]="file transfer only"
  [curl:agent]="file transfer only" [curl:rekey]="no rekey option"
  [curl:symlink]="curl -Q 'symlink' is not a link creation test here"
  [git:pty]="git runs git-upload-pack/receive-pack only"
  [git:sftp]="git uses exec channels" [git:symlink]="git uses exec channels"
  [git:fwd_l]="n/a" [git:fwd_r]="n/a" [git:agent]="n/a" [git:rekey]="n/a"
  [ansible:pty]="ansible runs modules without a pty"
  [ansible:symlink]="no sftp symlink" [ansible:fwd_l]="n/a" [ansible:fwd_r]="n/a"
  [ansible:agent]="n/a" [ansible:rekey]="n/a"
  [sshfs:exec]="a file system" [sshfs:pty]="a file system"
  [sshfs:fwd_l]="a file system" [sshfs:fwd_r]="a file system"
  [sshfs:agent]="a file system" [sshfs:rekey]="a file system"
)
# EXPECT[client:check]=fails: expected to fail through the gateway, with
# the reason.  Every other cell that is not n/a is expected to work.
declare -A EXPECT=()

# ---- set-up: keys, the Studio, the gateway, an echo service, an agent ----
cleanup() {
	[ -n "${SSHFS_MNT:-}" ] && fusermount3 -u "$SSHFS_MNT" 2>/dev/null
	for p in "$T"/*.pid; do
		[ -e "$p" ] && stop_gateway "$(basename "$p" .pid)"
	done
	stop_studio
	[ -n "${ECHO_PID:-}" ] && kill "$ECHO_PID" 2>/dev/null
	[ -n "${AGENT_PID:-}" ] && kill "$AGENT_PID" 2>/dev/null
	[ -z "${KEEP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT
trap "exit 1" INT TERM

STUDIO_USER=$(id -un)
ssh-keygen -q -t ed25519 -N '' -f "$T/gw_key" -C connect-sshd-compat
ssh-keygen -q -t ed25519 -N '' -f "$T/alice" -C alice@compat
ssh-keygen -q -t ed25519 -N '' -f "$T/agentkey" -C agentkey@compat
STUDIO_PORT=$(free_port)
GW_PORT=$(free_port)
mkdir -p "$T/empty" "$T/work" "$T/local"
chmod 755 "$T/empty"
chmod 777 "$T/work"
head -c $((4 * 1024 * 1024)) /dev/urandom > "$T/data.bin"

start_studio "$STUDIO_PORT" "$T/studio" cert s1 || { echo "cannot start the Studio" >&2; exit 1; }
# The direct path: the same user key, straight to the Studio.
cat "$T/alice.pub" >> "$T/studio/authorized_keys"

cat > "$T/gw.conf" <<EOC
listen = [ "127.0.0.1:$GW_PORT" ];
key = "$T/gw_key";
allowed_workspaces = [ 100 ];
workspaces = ( { id = 100; members = [ "alice" ]; } );
users = ( { name = "alice"; keys = [ "$(cat "$T/alice.pub")" ]; } );
studios = ( { session = "s1"; workspace = 100; upstream = "127.0.0.1:$STUDIO_PORT";
              upstream_user = "$STUDIO_USER"; } );
workers = { prefork = 2; chroot = "$T/empty"; program = "$B/connect-sshd-worker"; };
log = { level = "info"; format = "text"; };
$GW_EXTRA
EOC
start_gateway gw "$T/gw.conf" || { echo "cannot start the gateway" >&2; exit 1; }

{
	echo "[127.0.0.1]:$GW_PORT $(cut -d' ' -f1,2 "$T/gw_key.pub")"
	echo "[127.0.0.1]:$STUDIO_PORT $(cut -d' ' -f1,2 "$T/studio/host_key.pub")"
} > "$T/known_hosts"

$PY "$HERE/echo.py" serve "$T/echo.port" &
ECHO_PID=$!
for _ in $(seq 1 50); do [ -s "$T/echo.port" ] && break; sleep 0.1; done
ECHO_PORT=$(cat "$T/echo.port")

ssh-agent -D -a "$T/agent.sock" >/dev/null 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 50); do [ -S "$T/agent.sock" ] && break; sleep 0.1; done
SSH_AUTH_SOCK=$T/agent.sock ssh-add -q "$T/agentkey" 2>/dev/null
AGENT_FP=$(ssh-keygen -lf "$T/agentkey.pub" | awk '{print $2}')
unset SSH_AUTH_SOCK SSH_AGENT_PID

# use_path gw|direct: where the client connects, as whom, which host key.
use_path() {
	P=$1
	if [ "$P" = gw ]; then
		CX_PORT=$GW_PORT CX_USER=alice@s1 HOSTPUB=$T/gw_key.pub
	else
		CX_PORT=$STUDIO_PORT CX_USER=$STUDIO_USER HOSTPUB=$T/studio/host_key.pub
	fi
	HOSTFP=$(ssh-keygen -lf "$HOSTPUB" | awk '{print $2}')
	export CX_HOST=127.0.0.1 CX_PORT CX_USER CX_KEY=$T/alice \
	    CX_KNOWN_HOSTS=$T/known_hosts CX_ECHO=$ECHO_PORT CX_WORK=$T/work \
	    CX_LOCAL=$T/local CX_DATA=$T/data.bin CX_ECHO_PY=$HERE/echo.py \
	    CX_AGENT_FP=$AGENT_FP CX_HOSTPUB=$HOSTPUB
}

# Shared verdicts on the Studio side.
same_sha() {	# same_sha FILE...: all equal to the data's sha256
	local want f
	want=$(sha256sum < "$T/data.bin")
	for f in "$@"; do
		[ -f "$f" ] || { echo "missing $f"; return 1; }
		[ "$(sha256sum < "$f")" = "$want" ] || { echo "sha256 differs: $f"; return 1; }
	done
}
link_ok() {	# link_ok: the link points to the target (not reversed)
	local l
	l=$(readlink "$T/work/lnk-$TAG" 2>/dev/null) || {
		echo "no link at lnk-$TAG$( [ -L "$T/work/tgt-$TAG" ] && echo '; tgt became a link (paths swapped)')"
		return 1; }
	[ "$l" = "$T/work/tgt-$TAG" ] || { echo "link points to $l"; return 1; }
}
prep_link() { echo target > "$T/work/tgt-$TAG"; rm -f "$T/work/lnk-$TAG"; }

# ================================================================ clients
# t_CLIENT_CHECK: run one check on the current path; exit status 0 works.
# v_CLIENT: the version, or nothing when the client is not installed.

# ---- OpenSSH: the system's 9.2 and bookworm-backports' 10.0 ----
v_openssh92() { ssh -V 2>&1 | cut -d, -f1; }
v_openssh10() { [ -x "$OPENSSH10/usr/bin/ssh" ] && "$OPENSSH10/usr/bin/ssh" -V 2>&1 | cut -d, -f1; }
osh_bin() { case $CLIENT in openssh92) echo "/usr/bin/$1" ;; *) echo "$OPENSSH10/usr/bin/$1" ;; esac; }
# The options every OpenSSH tool gets (after the check's own: first wins).
osh_opts() {
	OPTS=(-F /dev/null -i "$T/alice" -o IdentitiesOnly=yes -o BatchMode=yes
	    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/known_hosts"
	    -o ConnectTimeout=10 -o LogLevel=ERROR -o User="$CX_USER")
}
osh() { osh_opts; "$(osh_bin ssh)" "$@" "${OPTS[@]}" -p "$CX_PORT" 127.0.0.1 "${CMD[@]}"; }
osh_exec() {
	local out st
	CMD=('echo compat-out; exit 3'); out=$(osh </dev/null); st=$?
	[ "$st" = 3 ] && [ "$out" = compat-out ] || { echo "status $st, output '$out'"; return 1; }
}
osh_pty() {
	local out
	CMD=(tty); out=$(osh -tt </dev/null | tr -d '\r')
	case $out in /dev/pts/*) ;; *) echo "tty said '$out'"; return 1 ;; esac
}
osh_sftp() {
	osh_opts
	printf 'put %s %s\nget %s %s\n' "$T/data.bin" "$T/work/up-$TAG" \
	    "$T/work/up-$TAG" "$T/local/down-$TAG" > "$T/batch-$TAG"
	"$(osh_bin sftp)" -b "$T/batch-$TAG" "${OPTS[@]}" -P "$CX_PORT" 127.0.0.1 >/dev/null || return 1
	same_sha "$T/work/up-$TAG" "$T/local/down-$TAG" || return 1
	# scp, its default (SFTP) protocol and the original one (-O).
	local o
	for o in "" -O; do
		rm -f "$T/work/scp-$TAG" "$T/local/scp-$TAG"
		"$(osh_bin scp)" -q $o "${OPTS[@]}" -P "$CX_PORT" "$T/data.bin" "127.0.0.1:$T/work/scp-$TAG" &&
		"$(osh_bin scp)" -q $o "${OPTS[@]}" -P "$CX_PORT" "127.0.0.1:$T/work/scp-$TAG" "$T/local/scp-$TAG" ||
			{ echo "scp $o failed"; return 1; }
		same_sha "$T/work/scp-$TAG" "$T/local/scp-$TAG" || { echo "scp $o: $(same_sha "$T/work/scp-$TAG" "$T/local/scp-$TAG")"; return 1; }
	done
}
osh_symlink() {
	osh_opts; prep_link
	printf 'symlink %s %s\n' "$T/work/tgt-$TAG" "$T/work/lnk-$TAG" > "$T/batch-$TAG"
	"$(osh_bin sftp)" -b "$T/batch-$TAG" "${OPTS[@]}" -P "$CX_PORT" 127.0.0.1 >/dev/null
	link_ok
}
osh_fwd_l() {
	local lp pid r
	lp=$(free_port)
	CMD=(sleep 15); osh -o ExitOnForwardFailure=yes -L "$lp:127.0.0.1:$ECHO_PORT" </dev/null &
	pid=$!
	$PY "$HERE/echo.py" probe "$lp"; r=$?
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	return $r
}
osh_fwd_r() {
	local rp
	rp=$(free_port)
	CMD=("$PY $HERE/echo.py probe $rp")
	osh -o ExitOnForwardFailure=yes -R "$rp:127.0.0.1:$ECHO_PORT" </dev/null
}
osh_agent() {
	local out
	CMD=(ssh-add -l)
	out=$(SSH_AUTH_SOCK=$T/agent.sock osh -o ForwardAgent=yes </dev/null 2>&1)
	case $out in *"$AGENT_FP"*) ;; *) echo "ssh-add -l said: $out"; return 1 ;; esac
}
osh_rekey() {
	local out n
	CMD=(sha256sum)
	out=$(osh -o RekeyLimit=256K -o LogLevel=DEBUG1 < "$T/data.bin" 2>"$T/rekey-$TAG.log") ||
		{ tail -n 3 "$T/rekey-$TAG.log"; return 1; }
	[ "$out" = "$(sha256sum < "$T/data.bin")" ] || { echo "sha256 differs: $out"; return 1; }
	n=$(grep -c 'SSH2_MSG_KEXINIT sent' "$T/rekey-$TAG.log")
	[ "$n" -ge 4 ] || { echo "only $n key exchanges"; return 1; }
	echo "$n key exchanges"
}
for c in openssh92 openssh10; do
	for k in $CHECKS; do eval "t_${c}_$k() { osh_$k; }"; done
done

# ---- PuTTY: plink, pscp, psftp (putty-tools) ----
v_putty() { command -v plink >/dev/null && plink -V 2>/dev/null | sed -n 's/^plink: //p'; }
putty_key() { [ -f "$T/alice.ppk" ] || puttygen "$T/alice" -O private -o "$T/alice.ppk"; }
pl() { putty_key; plink -ssh -batch -noagent -P "$CX_PORT" -l "$CX_USER" -i "$T/alice.ppk" -hostkey "$HOSTFP" "$@"; }
t_putty_exec() {
	local out st
	out=$(pl 127.0.0.1 'echo compat-out; exit 3' </dev/null); st=$?
	[ "$st" = 3 ] && [ "$out" = compat-out ] || { echo "status $st, output '$out'"; return 1; }
}
t_putty_pty() {
	local out
	out=$(pl -t 127.0.0.1 tty </dev/null | tr -d '\r')
	case $out in /dev/pts/*) ;; *) echo "tty said '$out'"; return 1 ;; esac
}
t_putty_sftp() {
	putty_key
	local o=(-batch -noagent -P "$CX_PORT" -l "$CX_USER" -i "$T/alice.ppk" -hostkey "$HOSTFP")
	pscp -q -sftp "${o[@]}" "$T/data.bin" "127.0.0.1:$T/work/up-$TAG" &&
	pscp -q -sftp "${o[@]}" "127.0.0.1:$T/work/up-$TAG" "$T/local/down-$TAG" || return 1
	same_sha "$T/work/up-$TAG" "$T/local/down-$TAG" || return 1
	printf 'put %s %s\nget %s %s\n' "$T/data.bin" "$T/work/ps-$TAG" "$T/work/ps-$TAG" \
	    "$T/local/ps-$TAG" > "$T/batch-$TAG"
	psftp "${o[@]}" -b "$T/batch-$TAG" 127.0.0.1 >/dev/null || { echo psftp failed; return 1; }
	same_sha "$T/work/ps-$TAG" "$T/local/ps-$TAG"
}
t_putty_fwd_l() {
	local lp pid r
	lp=$(free_port)
	pl -L "$lp:127.0.0.1:$ECHO_PORT" 127.0.0.1 'sleep 15' </dev/null &
	pid=$!
	$PY "$HERE/echo.py" probe "$lp"; r=$?
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	return $r
}
t_putty_fwd_r() {
	local rp; rp=$(free_port)
	pl -R "$rp:127.0.0.1:$ECHO_PORT" 127.0.0.1 "$PY $HERE/echo.py probe $rp" </dev/null
}

# ---- Dropbear: dbclient (dropbear-bin) ----
v_dropbear() { command -v dbclient >/dev/null && dbclient -V 2>&1 | sed -n 's/^Dropbear.* v/Dropbear v/p' | cut -d' ' -f1,2; }
db_key() { [ -f "$T/alice.db" ] || dropbearconvert openssh dropbear "$T/alice" "$T/alice.db" >/dev/null 2>&1; }
# dbclient checks host keys against ~/.ssh/known_hosts: give it its own
# HOME with the right key for the path.
db() {
	db_key
	mkdir -p "$T/dbhome-$P/.ssh"
	echo "[127.0.0.1]:$CX_PORT $(cut -d' ' -f1,2 "$HOSTPUB")" > "$T/dbhome-$P/.ssh/known_hosts"
	# -y: dbclient 2022.83 does not find a [host]:port line and spins on its
	# yes/no prompt; accept the key on first use instead.
	HOME=$T/dbhome-$P dbclient -y -i "$T/alice.db" -p "$CX_PORT" -l "$CX_USER" "$@"
}
t_dropbear_exec() {
	local out st
	out=$(db 127.0.0.1 'echo compat-out; exit 3' </dev/null); st=$?
	[ "$st" = 3 ] && [ "$out" = compat-out ] || { echo "status $st, output '$out'"; return 1; }
}
t_dropbear_pty() {
	local out
	# dbclient asks for a pty only when its stdin is a terminal: give it
	# one (script(1)), as a user's shell would.
	db_key
	mkdir -p "$T/dbhome-$P/.ssh"
	out=$(HOME=$T/dbhome-$P script -qec "$(printf '%q ' dbclient -y -t -i "$T/alice.db" \
	    -p "$CX_PORT" -l "$CX_USER" 127.0.0.1 tty)" /dev/null </dev/null | grep -o '/dev/pts/[0-9]*')
	case $out in /dev/pts/*) ;; *) echo "tty said '$out'"; return 1 ;; esac
}
t_dropbear_fwd_l() {
	local lp pid r
	lp=$(free_port)
	db -L "$lp:127.0.0.1:$ECHO_PORT" 127.0.0.1 'sleep 15' </dev/null &
	pid=$!
	$PY "$HERE/echo.py" probe "$lp"; r=$?
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	return $r
}
t_dropbear_fwd_r() {
	local rp; rp=$(free_port)
	db -R "$rp:127.0.0.1:$ECHO_PORT" 127.0.0.1 "$PY $HERE/echo.py probe $rp" </dev/null
}
t_dropbear_agent() {
	local out
	out=$(SSH_AUTH_SOCK=$T/agent.sock db -A 127.0.0.1 'ssh-add -l' </dev/null 2>&1)
	case $out in *"$AGENT_FP"*) ;; *) echo "ssh-add -l said: $out"; return 1 ;; esac
}

# ---- Paramiko and AsyncSSH, with the system's Python ----
v_paramiko() { $PY -c 'import paramiko; print("Paramiko", paramiko.__version__)' 2>/dev/null; }
v_asyncssh() { $PY -c 'import asyncssh; print("AsyncSSH", asyncssh.__version__)' 2>/dev/null; }
py_check() { export SSH_AUTH_SOCK=$T/agent.sock; $PY -W ignore "$HERE/pyclient.py" "$1" "$2"; }
for c in paramiko asyncssh; do
	for k in exec pty sftp fwd_l fwd_r agent rekey; do
		eval "t_${c}_$k() { py_check $c $k; }"
	done
	eval "t_${c}_symlink() { prep_link; py_check $c symlink; link_ok; }"
done

# ---- curl: sftp:// and scp:// (libssh2) ----
v_curl() { curl -V 2>/dev/null | head -n 1 | sed 's/^\(curl [^ ]*\).*\(libssh2\/[^ ]*\).*/\1, \2/'; }
t_curl_sftp() {
	local fp proto
	# libssh2 checks the host key by its base64 SHA-256 fingerprint.
	fp=${HOSTFP#SHA256:}
	for proto in sftp scp; do
		curl -sS --fail --connect-timeout 10 -u "$CX_USER:" --key "$T/alice" --pubkey "$T/alice.pub" \
		    --hostpubsha256 "$fp" -T "$T/data.bin" "$proto://127.0.0.1:$CX_PORT$T/work/$proto-$TAG" &&
		curl -sS --fail --connect-timeout 10 -u "$CX_USER:" --key "$T/alice" --pubkey "$T/alice.pub" \
		    --hostpubsha256 "$fp" -o "$T/local/$proto-$TAG" "$proto://127.0.0.1:$CX_PORT$T/work/$proto-$TAG" ||
			{ echo "curl $proto:// failed"; return 1; }
		same_sha "$T/work/$proto-$TAG" "$T/local/$proto-$TAG" || return 1
	done
}

# ---- git over ssh (GIT_SSH_COMMAND) ----
v_git() { git --version 2>/dev/null; }
t_git_exec() {
	local r=$T/work/repo-$TAG.git w=$T/local/git-$TAG
	git init -q --bare "$r" || return 1
	export GIT_SSH_COMMAND="ssh -F /dev/null -i $T/alice -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=$T/known_hosts -o StrictHostKeyChecking=yes -l $CX_USER"
	export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=c GIT_AUTHOR_EMAIL=c@c GIT_COMMITTER_NAME=c GIT_COMMITTER_EMAIL=c@c
	git clone -q "ssh://127.0.0.1:$CX_PORT$r" "$w" &&
	cp "$T/data.bin" "$w/data.bin" && git -C "$w" add data.bin && git -C "$w" commit -qm data &&
	git -C "$w" push -q origin HEAD:refs/heads/main || { echo "clone/push failed"; return 1; }
	git clone -q -b main "ssh://127.0.0.1:$CX_PORT$r" "$w.2" || { echo "second clone failed"; return 1; }
	same_sha "$w.2/data.bin"
}

# ---- Ansible (ansible-core) ----
v_ansible() { ansible --version 2>/dev/null | head -n 1 | tr -d '[]'; }
ans() {
	local inv=$T/local/inv-$TAG
	cat > "$inv" <<EOI
[studio]
127.0.0.1 ansible_port=$CX_PORT ansible_user=$CX_USER ansible_ssh_private_key_file=$T/alice ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='-F /dev/null -o IdentitiesOnly=yes -o UserKnownHostsFile=$T/known_hosts -o StrictHostKeyChecking=yes'
EOI
	# remote_tmp: Ansible expands ~<ansible_user> on the target, which
	# stays literal for user@session; an absolute path avoids it.
	# No ControlPersist master left behind after the run.
	HOME=$T/local ANSIBLE_SSH_ARGS="-o ControlMaster=no" ANSIBLE_REMOTE_TMP=/tmp/.ansible-compat ANSIBLE_LOCAL_TEMP=$T/local/ansible-tmp \
	    ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_NOCOLOR=1 ANSIBLE_SSH_TRANSFER_METHOD=${ANS_XFER:-smart} \
	    ansible all -i "$inv" "$@"
}
t_ansible_exec() {
	ans -m ping | grep -q '"ping": "pong"' || { echo "ping failed"; ans -m ping | tail -n 3; return 1; }
	ans -m command -a 'echo compat-out' | grep -qx 'compat-out' || { echo "command failed"; return 1; }
}
t_ansible_sftp() {
	ANS_XFER=sftp ans -m copy -a "src=$T/data.bin dest=$T/work/up-$TAG" >/dev/null &&
	ANS_XFER=sftp ans -m fetch -a "src=$T/work/up-$TAG dest=$T/local/down-$TAG flat=yes" >/dev/null ||
		{ echo "copy/fetch failed"; return 1; }
	same_sha "$T/work/up-$TAG" "$T/local/down-$TAG"
}

# ---- sshfs (FUSE) ----
v_sshfs() { command -v sshfs >/dev/null && sshfs -V 2>&1 | grep -m1 'SSHFS version'; }
sshfs_mount() {
	SSHFS_MNT=$T/local/mnt-$TAG
	mkdir -p "$SSHFS_MNT"
	sshfs -p "$CX_PORT" -o IdentityFile="$T/alice" -o IdentitiesOnly=yes -o BatchMode=yes \
	    -o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes \
	    "$CX_USER@127.0.0.1:$T/work" "$SSHFS_MNT"
}
t_sshfs_sftp() {
	sshfs_mount || return 1
	cp "$T/data.bin" "$SSHFS_MNT/up-$TAG" && cp "$SSHFS_MNT/up-$TAG" "$T/local/down-$TAG"
	local r=$?
	fusermount3 -u "$SSHFS_MNT"
	[ $r = 0 ] || { echo "cp failed"; return 1; }
	same_sha "$T/work/up-$TAG" "$T/local/down-$TAG"
}
t_sshfs_symlink() {
	prep_link
	sshfs_mount || return 1
	ln -s "$T/work/tgt-$TAG" "$SSHFS_MNT/lnk-$TAG"
	fusermount3 -u "$SSHFS_MNT"
	link_ok
}

# ---- Go: golang.org/x/crypto/ssh (Debian's golang-golang-x-crypto-dev) ----
# Built offline from /usr/share/gocode (GOPATH mode, no module proxy).
GOCLIENT=$OUT/goclient
v_go() {
	[ -x "$GOCLIENT" ] || return 0
	printf 'x/crypto %s, %s\n' \
	    "$(dpkg-query -W -f='${Version}' golang-golang-x-crypto-dev 2>/dev/null)" \
	    "$(go version 2>/dev/null | cut -d' ' -f3)"
}
if command -v go >/dev/null && [ -d /usr/share/gocode/src/golang.org/x/crypto/ssh ]; then
	(cd "$HERE/goclient" && GOPATH=/usr/share/gocode GO111MODULE=off GOPROXY=off \
	    GOFLAGS= GOCACHE=$OUT/go-cache go build -o "$GOCLIENT" .) ||
		echo "not ok - the Go client does not build" >&2
fi
for k in exec pty fwd_l fwd_r agent rekey; do
	eval "t_go_$k() { SSH_AUTH_SOCK=\$T/agent.sock \"\$GOCLIENT\" $k; }"
done

# ---- Node: ssh2 from npm, under the build tree ----
NODEDIR=$OUT/node
v_node() {
	[ -f "$NODEDIR/node_modules/ssh2/package.json" ] || return 0
	printf 'ssh2 %s, node %s\n' \
	    "$(node -p "require('$NODEDIR/node_modules/ssh2/package.json').version")" "$(node -v)"
}
if command -v npm >/dev/null && [ ! -f "$NODEDIR/node_modules/ssh2/package.json" ]; then
	mkdir -p "$NODEDIR"
	# Pure JavaScript: no optional native add-ons, no install scripts.
	npm install --silent --no-audit --no-fund --omit=optional --ignore-scripts \
	    --prefix "$NODEDIR" "ssh2@${SSH2_VERSION:-1}" >/dev/null ||
		echo "not ok - npm install ssh2 failed" >&2
fi
for k in exec pty sftp fwd_l fwd_r agent rekey; do
	eval "t_node_$k() { SSH_AUTH_SOCK=\$T/agent.sock NODE_PATH=\$NODEDIR/node_modules node \$HERE/nodeclient.js $k; }"
done
t_node_symlink() { prep_link; NODE_PATH=$NODEDIR/node_modules node "$HERE/nodeclient.js" symlink; link_ok; }

declare -A VERS=()
. "$HERE/driver.sh"
