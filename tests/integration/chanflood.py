#!/usr/bin/python3
"""chanflood.py GW_PORT KEY USER MONITOR_PID NCHAN SECONDS [up]

A client that opens NCHAN direct-tcpip channels through the gateway to a
listener on the Studio side (127.0.0.1 here) that sends data forever, and
then never reads again: not the channels and not even its TCP socket, so
that neither its channel windows nor TCP flow control drain what the
gateway sends.  With "up", the other direction: the listener never reads,
and the client sends on every channel as fast as the windows let it.
For SECONDS (with "up": at most, until the gateway ends the connection)
it samples the resident size of the monitor's worker children and prints

    channels=N refused=R peak_rss_kib=K peak_hwm_kib=H peak_data_kib=D
    opened_rss_kib=O ended=E

(R: opens the gateway refused; D: VmData, what RLIMIT_DATA counts; O: the
resident size once all were tried; E: 1 if the gateway ended the
connection while channels were still being opened).

paramiko, so /usr/bin/python3 (the python3 on PATH may not have it).
"""
import os
import socket
import sys
import threading
import time

import paramiko


def sender(conn):
    chunk = b"x" * 65536
    try:
        while True:
            conn.sendall(chunk)
    except OSError:
        pass
    finally:
        conn.close()


def sink(conn):
    """Accept and never read: the Studio-side end of "up"."""
    SINKS.append(conn)


SINKS = []


def listener(target=sender):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if target is sink:
        # A small receive buffer (inherited by what it accepts): what
        # the Studio's sshd cannot deliver stays in its channel windows
        # and the gateway, not in 128 autotuned kernel buffers, which
        # cost the test half a gigabyte of sending first.
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind(("127.0.0.1", 0))
    ls.listen(256)

    def loop():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=target, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return ls, ls.getsockname()[1]


class StallingSocket:
    """A socket whose recv() blocks for good once stall is set: the
    client then stops reading its TCP connection altogether."""

    def __init__(self, sock):
        self.sock = sock
        self.stall = threading.Event()
        self.never = threading.Event()

    def recv(self, n):
        if self.stall.is_set():
            self.never.wait()
        return self.sock.recv(n)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def workers(mpid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            ppid = int(st.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == mpid:
            out.append(int(d))
    return out


def status(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    port, key, user, mpid, nchan, secs = sys.argv[1:7]
    port, mpid, nchan, secs = int(port), int(mpid), int(nchan), float(secs)
    mode = sys.argv[7] if len(sys.argv) > 7 else ""
    up = mode in ("up", "upz")
    ls, lport = listener(sink if up else sender)
    s = socket.create_connection(("127.0.0.1", port))
    ss = StallingSocket(s)
    t = paramiko.Transport(ss)
    # upz: the same flood, compressed (zlib@openssh.com): each byte on the
    # wire becomes hundreds in the worker's channel buffers.
    t.use_compression(mode == "upz")
    t.start_client(timeout=20)
    t.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(key))
    chans = []
    refused = ended = 0
    peak = {"VmRSS": 0, "VmHWM": 0, "VmData": 0}

    def sample():
        for w in workers(mpid):
            for field in peak:
                peak[field] = max(peak[field], status(w, field))
    for _ in range(nchan):
        # Sampled while opening too: the gateway may end the connection
        # before the last open.
        sample()
        try:
            chans.append(t.open_channel("direct-tcpip", ("127.0.0.1", lport),
                                        ("127.0.0.1", 40000), timeout=20))
        except paramiko.ChannelException:
            refused += 1
        except (paramiko.SSHException, EOFError, OSError):
            # The gateway ended the connection: its channels came to
            # hold its bound (relay.c, RELAY_HOLD_MAX) before it
            # refused one (paramiko may see its end as any of these).
            if t.is_active():
                raise
            ended = 1
            break
    if not up:
        ss.stall.set()
    else:
        chunk = b"y" * 32768

        def pusher():
            while True:
                for c in chans:
                    try:
                        if c.send_ready():
                            c.send(chunk)
                    except Exception:
                        pass
                time.sleep(0.001)
        threading.Thread(target=pusher, daemon=True).start()
    opened = max([status(w, "VmRSS") for w in workers(mpid)] + [0])
    # Up, SECS is at most: the worker ends the connection once its
    # channels hold its bound, sooner on a fast machine than a loaded one.
    end = time.monotonic() + secs
    while time.monotonic() < end and ((not up and not ended) or
                                      t.is_active()):
        sample()
        time.sleep(0.2)
    print("channels=%d refused=%d peak_rss_kib=%d peak_hwm_kib=%d "
          "peak_data_kib=%d opened_rss_kib=%d compression=%s ended=%d" %
          (len(chans), refused, peak["VmRSS"], peak["VmHWM"], peak["VmData"],
           opened, t.local_compression, ended))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
