#!/usr/bin/python3
"""The compatibility matrix's Python clients: Paramiko and AsyncSSH.

  pyclient.py paramiko|asyncssh CHECK

Everything else comes from the environment the runner sets (CX_HOST,
CX_PORT, CX_USER, CX_KEY, CX_KNOWN_HOSTS, CX_ECHO, CX_WORK, CX_TAG, CX_DATA,
CX_ECHO_PY, CX_AGENT_FP).  Exit 0 when the check works, 1 when it fails
(with the reason on stderr), 3 when the library cannot do it at all.
"""
import hashlib, logging, os, socket, sys, threading

E = os.environ
HOST, PORT, USER = E["CX_HOST"], int(E["CX_PORT"]), E["CX_USER"]
KEY, KH = E["CX_KEY"], E["CX_KNOWN_HOSTS"]
WORK, TAG, DATA = E["CX_WORK"], E["CX_TAG"], E["CX_DATA"]

def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()

def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)

def expect(cond, msg):
    if not cond:
        fail(msg)

UP = os.path.join(WORK, "up-" + TAG)
DOWN = os.path.join(E["CX_LOCAL"], "down-" + TAG)
LINK = os.path.join(WORK, "lnk-" + TAG)
TARGET = os.path.join(WORK, "tgt-" + TAG)
PROBE = "/usr/bin/python3 %s probe " % E["CX_ECHO_PY"]

# ---------------------------------------------------------------- paramiko
def paramiko_main(check):
    import paramiko
    if check == "rekey":
        # Rekey after every 256 KiB sent or received, and on request below.
        paramiko.packet.Packetizer.REKEY_BYTES = 256 * 1024
    c = paramiko.SSHClient()
    c.load_host_keys(KH)
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    c.connect(HOST, PORT, USER, key_filename=KEY, allow_agent=False,
              look_for_keys=False, timeout=15)
    t = c.get_transport()

    def run(cmd, pty=False, stdin=None):
        ch = t.open_session()
        if pty:
            ch.get_pty()
        ch.exec_command(cmd)
        if stdin is not None:
            ch.sendall(stdin)
            ch.shutdown_write()
        out = b""
        while True:
            d = ch.recv(65536)
            if not d:
                break
            out += d
        return ch.recv_exit_status(), out.decode(errors="replace")

    if check == "exec":
        st, out = run("echo compat-out; exit 3")
        expect(st == 3 and out.strip() == "compat-out", "exec: %r %r" % (st, out))
    elif check == "pty":
        st, out = run("tty", pty=True)
        expect(st == 0 and out.strip().startswith("/dev/pts/"), "pty: %r %r" % (st, out))
    elif check == "sftp":
        s = c.open_sftp()
        s.put(DATA, UP)
        s.get(UP, DOWN)
        expect(sha(DATA) == sha(UP) == sha(DOWN), "sftp: sha256 differs")
    elif check == "symlink":
        s = c.open_sftp()
        s.symlink(TARGET, LINK)      # paramiko: symlink(source, dest)
    elif check == "fwd_l":
        ch = t.open_channel("direct-tcpip", ("127.0.0.1", int(E["CX_ECHO"])),
                            ("127.0.0.1", 0))
        ch.sendall(b"ping-L\n")
        got = b""
        while len(got) < 7:
            d = ch.recv(100)
            if not d:
                break
            got += d
        expect(got == b"ping-L\n", "fwd_l: %r" % got)
    elif check == "fwd_r":
        def handler(ch, origin, server):
            up = socket.create_connection(("127.0.0.1", int(E["CX_ECHO"])))
            def pump(a, b, sendf, recvf):
                try:
                    while True:
                        d = recvf(65536)
                        if not d:
                            break
                        sendf(d)
                except OSError:
                    pass
            threading.Thread(target=pump, args=(ch, up, up.sendall, ch.recv), daemon=True).start()
            threading.Thread(target=pump, args=(up, ch, ch.sendall, up.recv), daemon=True).start()
        port = t.request_port_forward("127.0.0.1", 0, handler)
        st, out = run(PROBE + str(port))
        expect(st == 0, "fwd_r: probe of port %d: %r %r" % (port, st, out))
    elif check == "agent":
        from paramiko.agent import AgentRequestHandler
        ch = t.open_session()
        AgentRequestHandler(ch)
        ch.exec_command("ssh-add -l")
        out = b""
        while True:
            d = ch.recv(65536)
            if not d:
                break
            out += d
        st = ch.recv_exit_status()
        expect(st == 0 and E["CX_AGENT_FP"] in out.decode(), "agent: %r %r" % (st, out))
    elif check == "rekey":
        n0 = 0
        for i in range(10):
            t.renegotiate_keys()
            n0 += 1
        with open(DATA, "rb") as f:
            data = f.read()
        st, out = run("sha256sum", stdin=data)
        expect(st == 0 and out.split()[0] == hashlib.sha256(data).hexdigest(),
               "rekey: %r %r" % (st, out))
    else:
        sys.exit(3)
    c.close()

# ---------------------------------------------------------------- asyncssh
def asyncssh_main(check):
    import asyncio, asyncssh

    kex = [0]
    last = []       # the last log lines, for the failure message
    class Count(logging.Handler):
        def emit(self, rec):
            m = rec.getMessage()
            if "Beginning key exchange" in m:
                kex[0] += 1
            if rec.levelno >= logging.INFO:
                last[:] = (last + [m])[-3:]
    lg = logging.getLogger("asyncssh")
    lg.setLevel(logging.DEBUG)
    lg.addHandler(Count())
    lg.propagate = False

    async def main():
        opts = dict(username=USER, client_keys=[KEY], known_hosts=KH,
                    agent_path=None)
        if check == "rekey":
            opts["rekey_bytes"] = 256 * 1024
        if check == "agent":
            opts["agent_path"] = E["SSH_AUTH_SOCK"]
            opts["agent_forwarding"] = True
        async with asyncssh.connect(HOST, PORT, **opts) as c:
            if check == "exec":
                r = await c.run("echo compat-out; exit 3")
                expect(r.exit_status == 3 and r.stdout.strip() == "compat-out",
                       "exec: %r %r" % (r.exit_status, r.stdout))
            elif check == "pty":
                r = await c.run("tty", term_type="xterm")
                expect(r.exit_status == 0 and r.stdout.strip().startswith("/dev/pts/"),
                       "pty: %r %r" % (r.exit_status, r.stdout))
            elif check == "sftp":
                async with c.start_sftp_client() as s:
                    await s.put(DATA, UP)
                    await s.get(UP, DOWN)
                expect(sha(DATA) == sha(UP) == sha(DOWN), "sftp: sha256 differs")
            elif check == "symlink":
                async with c.start_sftp_client() as s:
                    await s.symlink(TARGET, LINK)   # symlink(oldpath, newpath)
            elif check == "fwd_l":
                rd, wr = await c.open_connection("127.0.0.1", int(E["CX_ECHO"]))
                wr.write(b"ping-L\n")
                got = await rd.readexactly(7)
                expect(got == b"ping-L\n", "fwd_l: %r" % got)
                wr.close()
            elif check == "fwd_r":
                lst = await c.forward_remote_port("127.0.0.1", 0, "127.0.0.1",
                                                  int(E["CX_ECHO"]))
                r = await c.run(PROBE + str(lst.get_port()))
                expect(r.exit_status == 0, "fwd_r: %r %r" % (r.exit_status, r.stdout))
            elif check == "agent":
                r = await c.run("ssh-add -l")
                expect(r.exit_status == 0 and E["CX_AGENT_FP"] in r.stdout,
                       "agent: %r %r %r" % (r.exit_status, r.stdout, r.stderr))
            elif check == "rekey":
                with open(DATA, "rb") as f:
                    data = f.read()
                r = await c.run("sha256sum", input=data, encoding=None)
                expect(r.exit_status == 0 and
                       r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest(),
                       "rekey: exit %r after %d key exchanges; %s" %
                       (r.exit_status, kex[0], " | ".join(last)))
                # AsyncSSH keeps sending while its rekey runs and starts
                # no new one before it ends, so how many fit in 4 MiB
                # depends on how long a (post-quantum) key exchange takes:
                # 3 both directly and through the gateway here.  Two
                # rekeys mid-transfer are what this checks.
                expect(kex[0] >= 3, "rekey: only %d key exchanges" % kex[0])
            else:
                sys.exit(3)
    try:
        asyncio.run(main())
    except (OSError, asyncssh.Error) as e:
        fail("%s: %s; %s" % (type(e).__name__, e, " | ".join(last)))

if __name__ == "__main__":
    lib, check = sys.argv[1], sys.argv[2]
    try:
        {"paramiko": paramiko_main, "asyncssh": asyncssh_main}[lib](check)
    except SystemExit:
        raise
    except BaseException as e:
        fail("%s: %s" % (type(e).__name__, e))
