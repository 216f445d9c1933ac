#!/usr/bin/python3
"""soak_clients.py - the clients, the echo server and the report of
bench/soak.sh (make soak).  Loopback only; every wait is bounded.

    soak_clients.py loop CONF ID ROLE     one client loop until the stop file
    soak_clients.py pm CONF ...           one paramiko operation (a child of
                                          a "paramiko" loop, so it is bounded
                                          by a timeout and killable)
    soak_clients.py echo PORT PIDFILE     the -L tunnels' far end: echoes
    soak_clients.py report CONF           classify, print and write the report

CONF is the JSON file soak.sh writes.  Each loop writes one JSON record per
operation to OPS_DIR/loopN.jsonl:

    kind, loop, addr (the loop's own source address), studio, t0 (when the
    connection the operation uses was opened: its own, or its ControlMaster's),
    start, end, login (whether the operation logged in itself), verdict
    (ok | failed | corrupted), bytes (verified), error

bench/README ("Soak") gives the classification rules the report applies.
"""
import calendar
import hashlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

# ---------------------------------------------------------------- helpers


def now():
    return time.time()


def sha256_file(path):
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
    return h.hexdigest(), n


def tail(text, n=300):
    text = (text or "").strip().replace("\r", "")
    text = " | ".join(l for l in text.splitlines() if l.strip())
    return text[-n:]


class Result(Exception):
    """Raised (or returned) to end an operation with a verdict."""

    def __init__(self, verdict, nbytes=0, error=""):
        super().__init__(error)
        self.verdict, self.bytes, self.error = verdict, nbytes, error
        # The client gave the exit status asked for, the data were short
        # or wrong: "failed" when the client (or its ControlMaster) lost
        # its connection, "corrupted" otherwise.
        self.wrong_data = False


def ok(nbytes):
    return Result("ok", nbytes)


def failed(error):
    return Result("failed", 0, error)


def corrupted(error, nbytes=0):
    return Result("corrupted", nbytes, error)


# What an OpenSSH client prints when it loses its connection.  OpenSSH's
# sshd sends exit-status as soon as the command exits, before the output
# still buffered; a client whose connection then dies exits with that
# status and prints one of these: it has not reported success.
LOST = re.compile(r"closed by remote host|Connection reset|Broken pipe|"
                  r"client_loop: send disconnect|Received disconnect|"
                  r"not responding|Connection closed|Control master "
                  r"terminated|mux_client_\w+: .*(read|write)")


# ---------------------------------------------------------------- the loops


class Loop:
    def __init__(self, conf, lid, role):
        self.c = conf
        self.id = lid
        self.role = role
        self.addr = "127.0.1.%d" % (lid + 1)
        self.rng = random.Random(conf["seed"] * 1000 + lid)
        self.out = open(os.path.join(conf["ops_dir"], "loop%d.jsonl" % lid),
                        "a", buffering=1)
        self.work = os.path.join(conf["work"], "loop%d" % lid)
        self.remote = os.path.join(conf["remote"], "loop%d" % lid)
        os.makedirs(self.work, exist_ok=True)
        os.makedirs(self.remote, exist_ok=True)
        self.seq = 0
        self.steps = 0
        self.master = None         # the ControlMaster of the running round
        self.failures = 0
        self.timeout = conf["op_timeout"]
        self.children = set()      # process groups of running clients
        self.lock = threading.Lock()
        self.data = conf["data"]   # [[path, sha256, size], ...]
        self.cmdata = conf["cm_data"]
        self.studios = sorted(conf["studios"])   # host aliases in ssh_config

    # -- bookkeeping

    def stopping(self):
        return os.path.exists(self.c["stop_file"])

    def record(self, kind, studio, t0, start, res, login=True):
        if res.verdict != "ok":
            self.failures += 1
        rec = {"kind": kind, "loop": self.id, "role": self.role,
               "addr": self.addr, "studio": studio, "t0": round(t0, 3),
               "start": round(start, 3), "end": round(now(), 3),
               "login": login, "verdict": res.verdict, "bytes": res.bytes,
               "wrong_data": res.wrong_data, "error": res.error[:400]}
        self.out.write(json.dumps(rec) + "\n")

    def kill_children(self):
        with self.lock:
            groups = list(self.children)
        for g in groups:
            try:
                os.killpg(g, signal.SIGKILL)
            except OSError:
                pass

    def spawn(self, argv, **kw):
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        with self.lock:
            self.children.add(p.pid)
        return p

    def reap(self, p):
        with self.lock:
            self.children.discard(p.pid)

    def run(self, argv, timeout=None, stdin=subprocess.DEVNULL, data=None):
        """Run a client in its own process group, killed whole on timeout.
        Returns (rc or None on timeout, stdout bytes, stderr text)."""
        timeout = timeout or self.timeout
        if data is not None:
            stdin = subprocess.PIPE
        p = self.spawn(argv, stdin=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
        try:
            out, err = p.communicate(input=data, timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            out, err = p.communicate()
            rc = None
            err = b"timeout after %ds; " % timeout + err
        finally:
            self.reap(p)
        return rc, out, err.decode("utf-8", "replace")

    # -- client command lines

    def ssh(self, host, *extra):
        return ["ssh", "-F", self.c["ssh_config"], "-o",
                "BindAddress=" + self.addr] + list(extra) + [host]

    def ssh_cmd(self, *extra):
        """The ssh command line for tools that take one (-e, -S)."""
        return " ".join(["ssh", "-F", self.c["ssh_config"], "-o",
                         "BindAddress=" + self.addr] + list(extra))

    def pick(self, pool):
        return pool[self.rng.randrange(len(pool))]

    def pick_studio(self):
        return self.studios[self.rng.randrange(len(self.studios))]

    def fresh(self, name):
        """A remote (Studio-side) and a local path for this operation."""
        self.seq += 1
        r = os.path.join(self.remote, "%s.%d" % (name, self.seq))
        l = os.path.join(self.work, "%s.%d" % (name, self.seq))
        return r, l

    @staticmethod
    def rm(*paths):
        for p in paths:
            try:
                os.unlink(p)
            except OSError:
                pass

    def bad(self, msg, err=""):
        """The data are wrong although the client's exit status was right:
        corrupted, unless the client reported its connection lost (on
        stderr, or its ControlMaster's connection ended)."""
        res = None
        if LOST.search(err or ""):
            res = failed(msg + "; the client reported the connection lost: "
                         + tail(err))
        m = self.master
        if res is None and m is not None:
            try:
                m.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
            if m.poll() is not None:
                # The session's own client said nothing: only the
                # master knows (a silent truncation to the user).
                res = failed(msg + "; only the ControlMaster knew its "
                             "connection was lost (master exit %s)"
                             % m.poll())
        if res is None:
            res = corrupted(msg + ("; client said: " + tail(err)
                                   if (err or "").strip() else ""))
        res.wrong_data = True
        return res

    def check_files(self, want, *paths, err=""):
        """ok if every path has sha256 WANT[1]; else corrupted."""
        total = 0
        for p in paths:
            try:
                got, n = sha256_file(p)
            except OSError as e:
                return self.bad("reported success but %s: %s" % (p, e), err)
            if got != want[1]:
                return self.bad("reported success but %s has %d of %d bytes,"
                                " sha256 %s != %s" % (os.path.basename(p), n,
                                                      want[2], got[:12],
                                                      want[1][:12]), err)
            total += n
        return ok(total)

    # -- operations: each returns a Result

    def op_exec(self, host, ssh_extra=()):
        k = self.rng.randint(0, 120)
        tok = "tok-%d-%d" % (self.id, self.seq)
        self.seq += 1
        rc, out, err = self.run(self.ssh(host, *ssh_extra) +
                                ["echo %s; exit %d" % (tok, k)])
        if rc != k:
            return failed("exit %s, want %d: %s" % (rc, k, tail(err)))
        if out.decode(errors="replace").strip() != tok:
            return self.bad("exit %d but output %r" % (k, out[:80]), err)
        return ok(len(out))

    def op_cat_down(self, host, ssh_extra=()):
        f = self.pick(self.data)
        rc, out, err = self.run(self.ssh(host, *ssh_extra) + ["cat " + f[0]])
        if rc != 0:
            return failed("exit %s: %s" % (rc, tail(err)))
        if hashlib.sha256(out).hexdigest() != f[1]:
            return self.bad("exit 0 but %d of %d bytes, sha256 differs"
                            % (len(out), f[2]), err)
        return ok(len(out))

    def op_cat_up(self, host, ssh_extra=()):
        f = self.pick(self.data)
        r, _ = self.fresh("up")
        try:
            with open(f[0], "rb") as src:
                rc, out, err = self.run(self.ssh(host, *ssh_extra) +
                                        ["cat > " + r], stdin=src)
            if rc != 0:
                return failed("exit %s: %s" % (rc, tail(err)))
            return self.check_files(f, r, err=err)
        finally:
            self.rm(r)

    def op_sftp(self, host, ssh_extra=()):
        f = self.pick(self.data)
        r, l = self.fresh("sftp")
        batch = l + ".batch"
        with open(batch, "w") as b:
            b.write("put %s %s\nget %s %s\n" % (f[0], r, r, l))
        try:
            rc, out, err = self.run(["sftp", "-F", self.c["ssh_config"], "-o",
                                     "BindAddress=" + self.addr] +
                                    list(ssh_extra) + ["-q", "-b", batch,
                                                       host])
            if rc != 0:
                return failed("sftp exit %s: %s" % (rc, tail(err)))
            return self.check_files(f, r, l, err=err)
        finally:
            self.rm(r, l, batch)

    def op_scp(self, host, legacy):
        f = self.pick(self.data)
        r, l = self.fresh("scp")
        base = ["scp", "-q", "-F", self.c["ssh_config"], "-o",
                "BindAddress=" + self.addr] + (["-O"] if legacy else [])
        try:
            rc, out, err = self.run(base + [f[0], "%s:%s" % (host, r)])
            if rc != 0:
                return failed("scp up exit %s: %s" % (rc, tail(err)))
            rc, out, err = self.run(base + ["%s:%s" % (host, r), l])
            if rc != 0:
                return failed("scp down exit %s: %s" % (rc, tail(err)))
            return self.check_files(f, r, l, err=err)
        finally:
            self.rm(r, l)

    def op_rsync(self, host):
        f = self.pick(self.data)
        r, l = self.fresh("rsync")
        base = ["rsync", "-e", self.ssh_cmd()]
        try:
            rc, out, err = self.run(base + [f[0], "%s:%s" % (host, r)])
            if rc != 0:
                return failed("rsync up exit %s: %s" % (rc, tail(err)))
            rc, out, err = self.run(base + ["%s:%s" % (host, r), l])
            if rc != 0:
                return failed("rsync down exit %s: %s" % (rc, tail(err)))
            return self.check_files(f, r, l, err=err)
        finally:
            self.rm(r, l)

    def op_paramiko(self, host, mode):
        f = self.pick(self.data)
        r, l = self.fresh("pm")
        k = self.rng.randint(0, 120)
        tok = "pm-%d-%d" % (self.id, self.seq)
        try:
            rc, out, err = self.run(
                [self.c["python"], os.path.abspath(__file__), "pm",
                 self.c["conf"], self.addr, self.c["studios"][host], mode,
                 f[0], r, l, str(k), tok])
            line = out.decode(errors="replace").strip().splitlines()
            line = line[-1] if line else ""
            if rc is None or not line.startswith("{"):
                return failed("paramiko child exit %s: %s %s" % (rc, line,
                                                                 tail(err)))
            res = json.loads(line)
            if res["verdict"] != "ok":
                return Result(res["verdict"], 0, res["error"])
            if mode == "sftp":
                return self.check_files(f, r, l)
            return ok(res["bytes"])
        finally:
            self.rm(r, l)

    def op_pty(self, host):
        k = self.rng.randint(0, 120)
        tok = "%d-%d" % (self.id, self.seq)
        self.seq += 1
        n = self.rng.randint(100, 5000)
        # The shell computes what is checked, so the terminal's echo of
        # the input cannot pass for it.
        script = ("echo pty-$((6*7))-%s\nseq 1 %d | tail -n 1\nexit %d\n"
                  % (tok, n, k)).encode()
        outp = os.path.join(self.work, "pty.out")
        with open(outp, "wb") as o:
            p = self.spawn(self.ssh(host, "-tt"), stdin=subprocess.PIPE,
                           stdout=o, stderr=subprocess.STDOUT)
            try:
                try:
                    p.stdin.write(script)
                    p.stdin.flush()
                except OSError:
                    pass
                # stdin stays open until the shell exits: EOF on a pty
                # session is not the way a person ends it.
                rc = p.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                rc = None
            finally:
                try:
                    p.stdin.close()
                except OSError:
                    pass
                self.reap(p)
        with open(outp, "rb") as o:
            out = o.read().decode(errors="replace")
        if rc != k:
            return failed("pty exit %s, want %d: %s" % (rc, k, tail(out)))
        # The answer to "seq 1 N | tail -n 1" is N alone at the end of a
        # line; the echoed command has "N |" instead.
        if ("pty-42-" + tok) not in out or not re.search(
                r"(?<![0-9])%d\r?\n" % n, out):
            return self.bad("pty exit %d but output lacks the answers"
                            % k, out)
        return ok(len(out))

    def op_tunnel(self, host):
        lport = self.c["tunnel_port"]
        size = self.rng.randint(1 << 20, 4 << 20)
        payload = os.urandom(size)
        want = hashlib.sha256(payload).hexdigest()
        errf = os.path.join(self.work, "tunnel.err")
        with open(errf, "wb") as e:
            p = self.spawn(self.ssh(host, "-N", "-o", "ExitOnForwardFailure=yes",
                                    "-L", "%s:%d:127.0.0.1:%d" % (
                                        self.addr, lport, self.c["echo_port"])),
                           stdin=subprocess.DEVNULL, stdout=e, stderr=e)
        try:
            s = None
            deadline = now() + 20
            while now() < deadline and p.poll() is None:
                try:
                    s = socket.create_connection((self.addr, lport), timeout=2)
                    break
                except OSError:
                    time.sleep(0.2)
            if s is None:
                return failed("tunnel not listening (ssh exit %s): %s" %
                              (p.poll(), tail(open(errf, "rb").read().decode(
                                  errors="replace"))))
            s.settimeout(30)
            sent_err = []

            def sender():
                try:
                    s.sendall(payload)
                    s.shutdown(socket.SHUT_WR)
                except OSError as e:
                    sent_err.append(str(e))
            th = threading.Thread(target=sender, daemon=True)
            th.start()
            h = hashlib.sha256()
            got = 0
            why = "EOF"
            deadline = now() + self.timeout
            try:
                while now() < deadline:
                    b = s.recv(65536)
                    if not b:
                        break
                    h.update(b)
                    got += len(b)
                else:
                    why = "timeout"
            except OSError as e:
                why = str(e)
            th.join(5)
            s.close()
            if got < size or why != "EOF":
                return failed("tunnel: %d of %d bytes back (%s%s)" % (
                    got, size, why, "; send: " + sent_err[0] if sent_err
                    else ""))
            if got != size or h.hexdigest() != want:
                return corrupted("tunnel: %d bytes back for %d, sha256 "
                                 "differs" % (got, size))
            return ok(2 * size)
        finally:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            self.reap(p)

    # -- ControlMaster: a master per round, then sessions through it

    def master_start(self, host, path):
        """Start a ControlMaster (foreground -N, our child).  Returns
        (process, error)."""
        self.rm(path)
        errf = path + ".err"
        with open(errf, "wb") as e:
            p = self.spawn(self.ssh(host, "-N", "-o", "ControlMaster=yes",
                                    "-o", "ControlPath=" + path,
                                    "-o", "ControlPersist=no"),
                           stdin=subprocess.DEVNULL, stdout=e, stderr=e)
        deadline = now() + 20
        while now() < deadline and p.poll() is None:
            if os.path.exists(path):
                rc, _, _ = self.run(self.ssh(host, "-o", "ControlPath=" + path,
                                             "-O", "check"), timeout=10)
                if rc == 0:
                    return p, None
            time.sleep(0.1)
        err = "master did not start (exit %s): %s" % (
            p.poll(), tail(open(errf, "rb").read().decode(errors="replace")))
        self.master_stop(host, path, p)
        return None, err

    def master_stop(self, host, path, p):
        if p.poll() is None and os.path.exists(path):
            self.run(self.ssh(host, "-o", "ControlPath=" + path, "-O", "exit"),
                     timeout=10)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
        self.reap(p)
        self.rm(path)

    def cm_session(self, host, path, f, k, rate, results, i):
        """cat F; exit K through the master, stdout read at RATE bytes/s."""
        p = self.spawn(self.ssh(host, "-o", "ControlPath=" + path,
                                "-o", "ControlMaster=no") +
                       ["cat %s; exit %d" % (f[0], k)],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
        h = hashlib.sha256()
        got = [0]
        errbuf = []

        def errreader():
            errbuf.append(p.stderr.read())
        et = threading.Thread(target=errreader, daemon=True)
        et.start()
        t_start = now()
        deadline = t_start + self.timeout
        timed_out = False
        fd = p.stdout.fileno()
        while True:
            if now() > deadline:
                timed_out = True
                break
            try:
                b = os.read(fd, 16384)
            except OSError:
                break
            if not b:
                break
            h.update(b)
            got[0] += len(b)
            if rate:
                lag = t_start + got[0] / rate - now()
                if lag > 0:
                    time.sleep(min(lag, 1.0))
        try:
            rc = p.wait(timeout=max(1, deadline - now()))
        except subprocess.TimeoutExpired:
            timed_out = True
        if timed_out:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
            rc = None
        et.join(5)
        p.stdout.close()
        self.reap(p)
        err = (errbuf[0] if errbuf else b"").decode(errors="replace")
        if rc != k:
            res = failed("exit %s, want %d, %d of %d bytes read at %s B/s: %s"
                         % (rc, k, got[0], f[2], rate or "full", tail(err)))
        elif got[0] != f[2] or h.hexdigest() != f[1]:
            res = self.bad("exit %d but %d of %d bytes (read at %s B/s), "
                           "sha256 differs" % (k, got[0], f[2],
                                               rate or "full"), err)
        else:
            res = ok(got[0])
        results[i] = (t_start, res)

    def round_cm(self):
        host = self.pick_studio()
        path = os.path.join(self.c["cm_dir"], "l%d" % self.id)
        t0 = now()
        m, err = self.master_start(host, path)
        if m is None:
            self.record("cm", host, t0, t0, failed(err), login=True)
            return
        self.master = m
        n = self.c["cm_sessions"]
        results = [None] * n
        threads = []
        for i in range(n):
            f = self.pick(self.cmdata)
            k = self.rng.randint(0, 120)
            rate = int(self.c["cm_rate"] * self.rng.choice((0.5, 1, 1, 2)))
            th = threading.Thread(target=self.cm_session,
                                  args=(host, path, f, k, rate, results, i),
                                  daemon=True)
            threads.append(th)
            th.start()
            time.sleep(self.rng.uniform(0, 0.3))
        for th in threads:
            th.join(self.timeout + 15)
        self.master = None
        self.master_stop(host, path, m)
        for r in results:
            if r is None:
                self.record("cm", host, t0, t0, failed("session thread hung"),
                            login=False)
            else:
                self.record("cm", host, t0, r[0], r[1], login=False)

    def round_mux(self):
        host = self.pick_studio()
        path = os.path.join(self.c["cm_dir"], "m%d" % self.id)
        t0 = now()
        m, err = self.master_start(host, path)
        if m is None:
            self.record("mux-exec", host, t0, t0, failed(err), login=True)
            return
        self.master = m
        extra = ("-o", "ControlPath=" + path, "-o", "ControlMaster=no")
        ops = [("mux-exec", self.op_exec), ("mux-cat-up", self.op_cat_up),
               ("mux-cat-down", self.op_cat_down), ("mux-sftp", self.op_sftp)]
        for _ in range(self.rng.randint(3, 6)):
            if self.stopping():
                break
            kind, fn = self.pick(ops)
            start = now()
            res = self.guard(fn, host, extra)
            self.record(kind, host, t0, start, res, login=False)
        self.master = None
        self.master_stop(host, path, m)

    def guard(self, fn, *args):
        try:
            return fn(*args)
        except Result as r:
            return r
        except Exception as e:   # a bug of the soak itself: still a record
            return failed("soak client error: %r" % e)

    def single(self, kind, fn, *args):
        host = self.pick_studio()
        start = now()
        res = self.guard(fn, host, *args)
        self.record(kind, host, start, start, res)

    def step(self):
        r, s = self.role, self.steps
        self.steps += 1
        if r == "exec":
            self.single("exec", self.op_exec)
        elif r == "cat":
            if s % 2:
                self.single("cat-up", self.op_cat_up)
            else:
                self.single("cat-down", self.op_cat_down)
        elif r == "sftp":
            self.single("sftp", self.op_sftp)
        elif r == "scp":
            if s % 2:
                self.single("scp-O", self.op_scp, True)
            else:
                self.single("scp", self.op_scp, False)
        elif r == "rsync":
            self.single("rsync", self.op_rsync)
        elif r == "paramiko":
            self.single("pm-sftp" if s % 2 else "pm-exec", self.op_paramiko,
                        "sftp" if s % 2 else "exec")
        elif r == "pty":
            self.single("pty", self.op_pty)
        elif r == "tunnel":
            self.single("tunnel", self.op_tunnel)
        elif r == "cm":
            self.round_cm()
        elif r == "mux":
            self.round_mux()
        else:
            raise SystemExit("unknown role " + r)

    def main(self):
        def term(signum, frame):
            self.kill_children()
            os._exit(1)
        signal.signal(signal.SIGTERM, term)
        # Bounded: the stop file, and the hard end soak.sh wrote.
        while not self.stopping() and now() < self.c["hard_end"]:
            n = self.failures
            self.step()
            # After a failure (a chaos event, most likely) wait a little
            # longer, so that an outage is not counted a hundred times.
            time.sleep(self.rng.uniform(1, 2) if self.failures > n else
                       self.rng.uniform(0, 0.4))


def paramiko_op(args):
    """One paramiko login and operation; prints one JSON line."""
    conf_path, addr, session, mode, local, remote, back, k, tok = args
    k = int(k)
    conf = json.load(open(conf_path))
    res = {"verdict": "failed", "bytes": 0, "error": ""}
    try:
        import paramiko
        key = paramiko.Ed25519Key.from_private_key_file(conf["user_key"])
        sock = socket.create_connection(("127.0.0.1", conf["gw_port"]),
                                        timeout=10, source_address=(addr, 0))
        cli = paramiko.SSHClient()
        cli.load_host_keys(conf["known_hosts"])
        cli.set_missing_host_key_policy(paramiko.RejectPolicy())
        cli.connect("127.0.0.1", port=conf["gw_port"],
                    username="%s@%s" % (conf["user"], session), pkey=key,
                    sock=sock, allow_agent=False, look_for_keys=False,
                    timeout=10, banner_timeout=15, auth_timeout=15)
        try:
            if mode == "exec":
                chan = cli.get_transport().open_session(timeout=15)
                chan.settimeout(30)
                chan.exec_command("echo %s; exit %d" % (tok, k))
                out = b""
                while True:
                    b = chan.recv(65536)
                    if not b:
                        break
                    out += b
                rc = chan.recv_exit_status()
                if rc != k:
                    res["error"] = "exit %s, want %d" % (rc, k)
                elif out.decode(errors="replace").strip() != tok:
                    res.update(verdict="corrupted",
                               error="exit %d but output %r" % (k, out[:80]))
                else:
                    res.update(verdict="ok", bytes=len(out))
            else:
                sftp = cli.open_sftp()
                sftp.get_channel().settimeout(30)
                sftp.put(local, remote)
                sftp.get(remote, back)
                sftp.close()
                res.update(verdict="ok")   # the parent checks the files
        finally:
            cli.close()
    except Exception as e:
        res["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(res))


# ---------------------------------------------------------------- echo server


def echo_server(port, pidfile):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(port)))
    ls.listen(128)
    with open(pidfile, "w") as f:
        f.write("%d\n" % os.getpid())

    def serve(c):
        c.settimeout(120)
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            c.close()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


# ---------------------------------------------------------------- report

# How long after a Redis outage ends logins may still be refused: the
# gateway's reconnect backoff (at most 5 s, policy/redis.c) plus
# registry.cache_ttl (1 s).
REDIS_GRACE = 6.5
# A Studio restart: the listener is back when the event ends; a login that
# was half-way through the old one fails a little after.
STUDIO_GRACE = 2.0
# Clock slack between the soak's timestamps and the gateway log's.
SLACK = 0.5

LOGIN_REFUSED = re.compile(r"Permission denied|Registry unavailable|"
                           r"AuthenticationException|Authentication failed|"
                           r"master did not start")

LOGLINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z (\S+)\[(\d+)\]"
                     r" (\w+): (.*)$")
SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|Sanitizer: CHECK "
                       r"failed|runtime error:|AddressSanitizer:DEADLYSIGNAL")
PROTOCOL = re.compile(r"not permitted in state|malformed IPC message|"
                      r" repeated$|: bad [A-Z_]+")


def log_time(date, ms):
    return calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S")) + \
        int(ms) / 1000.0


def read_chaos(path):
    events = []
    if not os.path.exists(path):
        return events
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3:
            continue
        ev = {"type": parts[0], "start": float(parts[1]),
              "end": float(parts[2]), "detail": parts[3] if len(parts) > 3
              else ""}
        for kv in ev["detail"].split():
            if "=" in kv:
                k, v = kv.split("=", 1)
                ev[k] = v
        ev["peer_set"] = set(p for p in ev.get("peers", "").split(",") if p)
        events.append(ev)
    return events


def read_gateway_log(path, t_stop):
    """Worker deaths, refused logins, connections and sanitizer lines."""
    deaths = []       # (t, pid, conn, how, line)
    kills = []        # monitor's "killing worker" lines
    denials = []      # (t, addr, reason)
    sanitizer = []
    conns = {}        # conn id -> {"t", "addr", "how", "notes"}
    if not os.path.exists(path):
        return deaths, kills, denials, sanitizer, conns
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if SANITIZER.search(line):
            sanitizer.append(line)
        m = LOGLINE.match(line)
        if not m:
            continue
        t = log_time(m.group(1), m.group(2))
        if t > t_stop:
            continue      # the soak's own shutdown of the gateway
        msg = m.group(6)
        c = re.search(r"event=connection conn=(\d+) peer=([\d.]+):", msg)
        if c:
            conns[int(c.group(1))] = {"t": t, "addr": c.group(2), "how": "",
                                      "notes": []}
            continue
        c = re.search(r"event=session\.closed conn=(\d+) .*worker=\"([^\"]*)\"",
                      msg)
        if c and int(c.group(1)) in conns:
            conns[int(c.group(1))]["how"] = c.group(2)
        c = re.search(r"event=channel\.close conn=(\d+) .*channel=(\d+) .*"
                      r"bytes_out=(\d+) exit_status=(-?\d+)", msg)
        if c and int(c.group(1)) in conns:
            conns[int(c.group(1))]["notes"].append(
                "ch%s out=%s exit=%s" % (c.group(2), c.group(3), c.group(4)))
        d = re.match(r"worker (\d+) \(conn (\d+)\) (.*)$", msg)
        if d:
            deaths.append((t, int(d.group(1)), int(d.group(2)), d.group(3),
                           line))
            continue
        if msg.startswith("killing worker"):
            kills.append((t, line))
            continue
        a = re.search(r"event=auth\.denied .*peer=(\d+\.\d+\.\d+\.\d+):\d+ .*"
                      r"reason=(\S+)", msg)
        if a:
            denials.append((t, a.group(1), a.group(2)))
    return deaths, kills, denials, sanitizer, conns


def gateway_side(op, conns):
    """What the gateway logged about the connections this op's loop opened
    in its window: for reading an unexplained failure."""
    out = []
    for cid, c in sorted(conns.items()):
        if c["addr"] == op["addr"] and op["t0"] - 1 <= c["t"] <= op["end"]:
            out.append("conn %d %s [%s]" % (cid, c["how"] or "open",
                                            ", ".join(c["notes"][-4:])))
    return "; ".join(out[-3:])


def classify(op, events, denials):
    """Return the list of chaos events that explain a failed op."""
    why = []
    t0, start, end = op["t0"], op["start"], op["end"]
    for ev in events:
        if ev["type"] == "kill":
            # The killed worker served a connection from this loop (its
            # source address) while this op's connection was open.
            if ev.get("pid") is None:
                continue
            if ev["peer_set"] and op["addr"] not in ev["peer_set"]:
                continue
            if ev["start"] <= end + SLACK and ev["end"] >= t0 - SLACK:
                why.append("kill")
        elif ev["type"] == "studio":
            if ev.get("studio") != op["studio"]:
                continue
            if ev["start"] <= end + SLACK and \
                    ev["end"] + STUDIO_GRACE >= t0 - SLACK:
                why.append("studio")
        elif ev["type"] == "redis":
            if not op["login"]:
                continue
            if not (ev["start"] <= end + SLACK and
                    ev["end"] + REDIS_GRACE >= start - SLACK):
                continue
            refused = LOGIN_REFUSED.search(op["error"]) is not None or any(
                d[1] == op["addr"] and d[2] == "registry-unavailable" and
                start - SLACK <= d[0] <= end + SLACK for d in denials)
            if refused:
                why.append("redis")
        # "hup" (SIGHUP reload) explains nothing: a reload must not break
        # a login or a session.
    return why


def report(conf_path):
    c = json.load(open(conf_path))
    ops = []
    for name in sorted(os.listdir(c["ops_dir"])):
        if name.endswith(".jsonl"):
            for line in open(os.path.join(c["ops_dir"], name)):
                line = line.strip()
                if line:
                    try:
                        ops.append(json.loads(line))
                    except ValueError:
                        pass
    events = read_chaos(c["chaos_log"])
    stats = {}
    if os.path.exists(c["monitor_stats"]):
        for line in open(c["monitor_stats"]):
            p = line.split()
            if len(p) >= 3:
                stats[p[0]] = (p[1], p[2])
    t_stop = float(open(c["stop_time"]).read()) if os.path.exists(
        c["stop_time"]) else now()
    deaths, kills, denials, sanitizer, conns = read_gateway_log(c["gw_log"],
                                                                t_stop)
    roles = {}
    for op in ops:
        roles[op["addr"]] = "loop %d, %s" % (op["loop"], op["role"])
    killed = {int(ev["pid"]) for ev in events
              if ev["type"] == "kill" and ev.get("pid")}

    kinds = {}
    unexplained_ops, corrupted_ops = [], []
    for op in ops:
        k = kinds.setdefault(op["kind"], dict(attempted=0, ok=0, failed=0,
                                              explained=0, unexplained=0,
                                              corrupted=0, bytes=0))
        k["attempted"] += 1
        if op["verdict"] == "ok":
            k["ok"] += 1
            k["bytes"] += op["bytes"]
        elif op["verdict"] == "corrupted":
            k["corrupted"] += 1
            corrupted_ops.append(op)
        else:
            k["failed"] += 1
            op["why"] = classify(op, events, denials)
            if op["why"]:
                k["explained"] += 1
            else:
                k["unexplained"] += 1
                unexplained_ops.append(op)

    # Worker deaths the soak did not cause.
    crashes, protocol, other_kills, exits = [], [], [], {}
    for t, pid, conn, how, line in deaths:
        if conn in conns:
            line += "  [from %s]" % roles.get(conns[conn]["addr"],
                                              conns[conn]["addr"])
        if how.startswith("killed by signal"):
            if how == "killed by signal KILL" and pid in killed:
                continue
            crashes.append(line)
        elif how.startswith("killed by the sandbox"):
            crashes.append(line)
        elif how.startswith("killed by the monitor"):
            if PROTOCOL.search(how):
                protocol.append(line)
            else:
                other_kills.append(line)
        elif how.startswith("exited with status"):
            exits[how] = exits.get(how, 0) + 1

    out = []
    w = out.append
    dur = c.get("duration", 0)
    w("connect-sshd soak, %s, %d s, %d loops, chaos %s, build %s" % (
        time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(c["started"])), dur,
        c["loops"], ("every %s s" % c["chaos_s"]) if c["chaos"] else "off",
        c["build"]))
    w("")
    hdr = "%-14s %9s %7s %7s %9s %11s %9s %14s" % (
        "kind", "attempted", "ok", "failed", "explained", "unexplained",
        "corrupted", "bytes verified")
    w(hdr)
    w("-" * len(hdr))
    tot = dict(attempted=0, ok=0, failed=0, explained=0, unexplained=0,
               corrupted=0, bytes=0)
    order = ["exec", "cat-up", "cat-down", "sftp", "scp", "scp-O", "rsync",
             "pm-exec", "pm-sftp", "pty", "tunnel", "cm", "mux-exec",
             "mux-cat-up", "mux-cat-down", "mux-sftp"]
    for kind in order + sorted(set(kinds) - set(order)):
        if kind not in kinds:
            continue
        k = kinds[kind]
        for f in tot:
            tot[f] += k[f]
        w("%-14s %9d %7d %7d %9d %11d %9d %14d" % (
            kind, k["attempted"], k["ok"], k["failed"], k["explained"],
            k["unexplained"], k["corrupted"], k["bytes"]))
    w("-" * len(hdr))
    w("%-14s %9d %7d %7d %9d %11d %9d %14d" % (
        "total", tot["attempted"], tot["ok"], tot["failed"], tot["explained"],
        tot["unexplained"], tot["corrupted"], tot["bytes"]))
    w("")
    counts = {}
    for ev in events:
        key = ev["type"] + ("" if ev.get("pid") or ev["type"] != "kill"
                            else " (no serving worker)")
        counts[key] = counts.get(key, 0) + 1
    w("chaos events: %s" % (", ".join("%s %d" % kv for kv in sorted(
        counts.items())) if counts else "none"))
    why_counts = {}
    for op in ops:
        for y in op.get("why", []) or []:
            why_counts[y] = why_counts.get(y, 0) + 1
    if why_counts:
        w("failures explained by: %s" % ", ".join(
            "%s %d" % kv for kv in sorted(why_counts.items())))
    wd = [op for op in ops if op.get("wrong_data")]
    w("exit status as asked but data short or wrong: %d (corrupted %d; "
      "connection lost: explained %d, unexplained %d)" % (
          len(wd), sum(op["verdict"] == "corrupted" for op in wd),
          sum(op["verdict"] == "failed" and bool(op.get("why")) for op in wd),
          sum(op["verdict"] == "failed" and not op.get("why") for op in wd)))
    w("worker deaths: %d by the soak's kill -9, %d unexplained crashes, %d "
      "protocol violations, %d other monitor kills, exits: %s" % (
          sum(1 for d in deaths if d[3] == "killed by signal KILL" and
              d[1] in killed), len(crashes), len(protocol), len(other_kills),
          ", ".join("%s x%d" % kv for kv in sorted(exits.items())) or "none"))
    for line in crashes[:20]:
        w("  crash: " + line)
    for line in protocol[:20]:
        w("  protocol: " + line)
    for line in other_kills[:10]:
        w("  monitor kill: " + line)
    if c.get("sanitize"):
        w("sanitizer reports: %d" % len(sanitizer))
    for line in sanitizer[:20]:
        w("  sanitizer: " + line)

    def mstat(which):
        s = stats.get(which)
        return ("RSS %.1f MiB, %s fds" % (int(s[0]) / 1024.0, s[1])
                if s else "n/a")
    w("monitor: start %s; end %s%s" % (
        mstat("start"), mstat("end"),
        "" if stats.get("alive", ("1",))[0] == "1" else "; MONITOR DIED"))
    if unexplained_ops:
        w("")
        w("unexplained failures (first 40):")
        for op in unexplained_ops[:40]:
            w("  %s loop %d %s %s..%s (conn from %s): %s" % (
                op["kind"], op["loop"], op["studio"], fmt_t(op["start"]),
                fmt_t(op["end"]), fmt_t(op["t0"]), op["error"]))
            g = gateway_side(op, conns)
            if g:
                w("      gateway: " + g)
    if corrupted_ops:
        w("")
        w("corrupted (reported success, data wrong; first 40):")
        for op in corrupted_ops[:40]:
            # Never explained; the events that overlapped it are named
            # only to help find the cause.
            near = classify(dict(op, verdict="failed"), events, denials)
            w("  %s loop %d %s %s..%s (conn from %s): %s%s" % (
                op["kind"], op["loop"], op["studio"], fmt_t(op["start"]),
                fmt_t(op["end"]), fmt_t(op["t0"]), op["error"],
                "; overlapped chaos: " + ", ".join(near) if near else ""))
            g = gateway_side(op, conns)
            if g:
                w("      gateway: " + g)
    monitor_died = stats.get("alive", ("1",))[0] != "1"
    npass = tot["ok"] + tot["explained"]
    nfail = tot["unexplained"] + tot["corrupted"] + len(crashes) + \
        len(protocol) + len(sanitizer) + (1 if monitor_died else 0)
    if tot["attempted"] == 0 and c["loops"] > 0:
        w("no operation was attempted")
        nfail += 1
    w("")
    w("soak: %d passed, %d failed" % (npass, nfail))
    text = "\n".join(out) + "\n"
    os.makedirs(os.path.dirname(c["report"]), exist_ok=True)
    with open(c["report"], "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 1 if nfail else 0


def fmt_t(t):
    return time.strftime("%H:%M:%S", time.gmtime(t)) + (".%03d" % (
        int(t * 1000) % 1000))


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    cmd = sys.argv[1]
    if cmd == "loop":
        conf = json.load(open(sys.argv[2]))
        Loop(conf, int(sys.argv[3]), sys.argv[4]).main()
    elif cmd == "pm":
        paramiko_op(sys.argv[2:])
    elif cmd == "echo":
        echo_server(sys.argv[2], sys.argv[3])
    elif cmd == "report":
        sys.exit(report(sys.argv[2]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
