#!/usr/bin/env python3
"""flood.py PORT IDLE STALLED HOLD_SECONDS READY_FILE [SOURCE]

Opens IDLE TCP connections to 127.0.0.1:PORT that never send a byte and
STALLED ones that send an SSH version line and then nothing (a client stuck
mid-handshake), all from SOURCE (default 127.0.0.1; any 127.0.0.0/8
address works on Linux); holds them for HOLD_SECONDS, touching
READY_FILE once all are open; then prints how many the gateway closed on
its own (refused) and how many it kept open.
"""
import resource
import selectors
import socket
import sys
import time


def main():
    port, idle, stalled, hold = (int(a) for a in sys.argv[1:5])
    ready = sys.argv[5]
    source = sys.argv[6] if len(sys.argv) > 6 else "127.0.0.1"
    want = idle + stalled + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    socks = []
    for i in range(idle + stalled):
        s = socket.socket()
        s.bind((source, 0))
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        if i >= idle:
            s.sendall(b"SSH-2.0-OpenSSH_9.2 flood\r\n")
        s.setblocking(False)
        socks.append(s)
    open(ready, "w").close()
    sel = selectors.DefaultSelector()       # epoll: no FD_SETSIZE limit
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    refused = told = 0
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if b"Too many connections" in data:
                told += 1
            if not data or b"Too many connections" in data:
                refused += 1
                sel.unregister(s)
    print("opened=%d refused=%d told=%d kept=%d" %
          (len(socks), refused, told, len(socks) - refused))
    for s in socks:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
