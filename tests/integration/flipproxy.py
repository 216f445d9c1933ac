#!/usr/bin/env python3
"""flipproxy.py PORT TARGET_PORT OFFSET

A TCP forwarder on 127.0.0.1:PORT to 127.0.0.1:TARGET_PORT, for one
connection, that flips the lowest bit of byte OFFSET of what the client
sends (counted from the connection's first byte); everything else goes
through as it comes, both ways.  An SSH peer must then fail that packet's
MAC or tag and end the connection, and nothing of that packet may reach
anyone.  Prints "ready" once listening, and "flipped" once it has.
"""
import socket
import sys
import threading


def pump(src, dst, flip_at=None):
    """Copy src to dst; flip one bit at flip_at, if given."""
    seen = 0
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if flip_at is not None and seen <= flip_at < seen + len(data):
                i = flip_at - seen
                data = data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]
                print("flipped", flush=True)
            seen += len(data)
            dst.sendall(data)
    except OSError:
        pass
    # However this side ended (EOF, or a reset from a peer that closed
    # with data unread), pass the end on: a client left waiting on a
    # connection the gateway has ended hangs until the test is killed.
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def main():
    port, target, offset = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(1)
    print("ready", flush=True)
    client, _ = lsock.accept()
    server = socket.create_connection(("127.0.0.1", target))
    up = threading.Thread(target=pump, args=(client, server, offset))
    down = threading.Thread(target=pump, args=(server, client))
    up.start()
    down.start()
    up.join()
    down.join()


if __name__ == "__main__":
    main()
