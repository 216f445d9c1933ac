#!/usr/bin/env python3
"""holdproxy.py PORT TARGET_PORT RELEASE_FILE [HOLD_FILE]

A TCP forwarder on 127.0.0.1:PORT to 127.0.0.1:TARGET_PORT, for one
connection: everything from the client goes through at once; what the
server (an SSH server) sends goes through up to its NEWKEYS, the last
unencrypted packet of the first key exchange, and is then held until
RELEASE_FILE exists (at most 30 s).  So the client's login and what
follows it reach the server, and the server's answers wait: a test can
look at what the client did before any answer came.  With HOLD_FILE,
what the server sends is held from when HOLD_FILE exists instead (the
test creates it when it is ready).  Prints "ready" once listening.
"""
import os
import socket
import struct
import sys
import threading
import time

NEWKEYS = 21


def pump(src, dst):
    """Client to server: everything, as it comes."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def held_pump(src, dst, release):
    """Server to client: up to NEWKEYS at once, then held until release."""
    buf = b""
    passed = 0          # bytes of buf already sent
    parsed = 0          # bytes of buf parsed (banner, packets)
    banner = False
    holding = False
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            buf += data
            while not holding:
                if not banner:
                    nl = buf.find(b"\n", parsed)
                    if nl < 0:
                        break
                    banner = buf[parsed:nl].startswith(b"SSH-")
                    parsed = nl + 1
                    continue
                if len(buf) - parsed < 6:
                    break
                (plen,) = struct.unpack(">I", buf[parsed:parsed + 4])
                if len(buf) - parsed < 4 + plen:
                    break
                ptype = buf[parsed + 5]
                parsed += 4 + plen
                if ptype == NEWKEYS:
                    holding = True
            if parsed > passed:
                dst.sendall(buf[passed:parsed])
                passed = parsed
            if holding:
                break
        if holding:
            deadline = time.monotonic() + 30
            while not os.path.exists(release) and time.monotonic() < deadline:
                time.sleep(0.02)
            dst.sendall(buf[passed:])
            pump(src, dst)
        else:
            dst.sendall(buf[passed:])
            dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def file_held_pump(src, dst, hold, release):
    """Server to client: at once until HOLD exists, then held until
    release."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if os.path.exists(hold):
                deadline = time.monotonic() + 30
                while (not os.path.exists(release) and
                       time.monotonic() < deadline):
                    time.sleep(0.02)
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def main():
    port, target, release = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    hold = sys.argv[4] if len(sys.argv) > 4 else None
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    print("ready", flush=True)
    ls.settimeout(60)
    client, _ = ls.accept()
    server = socket.create_connection(("127.0.0.1", target))
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    up = threading.Thread(target=pump, args=(client, server), daemon=True)
    up.start()
    if hold:
        file_held_pump(server, client, hold, release)
    else:
        held_pump(server, client, release)
    up.join(timeout=30)


if __name__ == "__main__":
    main()
