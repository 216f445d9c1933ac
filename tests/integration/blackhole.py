#!/usr/bin/env python3
"""blackhole.py PORT_FILE RELEASE_FILE

A TCP destination slow to connect to, on loopback: it listens on an
ephemeral port of 127.0.0.1 with a backlog of 0 and fills its own accept
queue, so that the kernel drops the SYNs of any further connect() and
the connecting side retries them (after 1, 3, 7, 15, 31 s ...), as with
a destination behind a firewall that drops packets.  Writes the port to
PORT_FILE once the queue is full.  Once RELEASE_FILE exists it accepts
every connection, sends each "late-hello\n" and closes it: the next SYN
retry then connects.  Exits after 120 s whatever happens.
"""
import os
import socket
import sys
import time


def main():
    port_file, release = sys.argv[1], sys.argv[2]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    time.sleep(0.3)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(port_file + ".tmp", port_file)
    end = time.time() + 120
    while not os.path.exists(release) and time.time() < end:
        time.sleep(0.1)
    for s in fillers:
        s.close()
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
