#!/usr/bin/env python3
"""blackhole.py PORT_FILE RELEASE_FILE

A TCP destination slow to connect to, on loopback: it listens on an
ephemeral port of 127.0.0.1 with a backlog of 0 and fills its own accept
queue, so that the kernel drops the SYNs of any further connect() and
the connecting side retries them (after 1, 3, 7, 15, 31 s ...), as with
a destination behind a firewall that drops packets.  Writes the port to
PORT_FILE once a probe connect() no longer completes.  Once RELEASE_FILE
exists it listens afresh on the same port, accepts every connection,
sends each "late-hello\\n" and closes it: the next SYN retry connects.
Exits after 120 s whatever happens, and at once (status 1) if the queue
cannot be filled.
"""
import os
import socket
import sys
import time


def connect_nowait(port):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    return s


def completes(s):
    """Has s's connect() completed within half a second?"""
    end = time.time() + 0.5
    while time.time() < end:
        try:
            s.getpeername()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def main():
    port_file, release = sys.argv[1], sys.argv[2]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    while True:
        probe = connect_nowait(port)
        fillers.append(probe)
        if not completes(probe):
            break
        if len(fillers) > 16:
            sys.exit("blackhole.py: the accept queue does not fill")
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(port_file + ".tmp", port_file)
    end = time.time() + 120
    while not os.path.exists(release) and time.time() < end:
        time.sleep(0.1)
    listener.close()
    for s in fillers:
        s.close()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    listener.settimeout(0.5)
    while time.time() < end:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        try:
            conn.sendall(b"late-hello\n")
        except OSError:
            pass
        conn.close()


if __name__ == "__main__":
    main()
