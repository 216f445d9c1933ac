#!/usr/bin/python3
"""Loopback echo service and probe for the forwarding checks.

  echo.py serve PORTFILE     listen on 127.0.0.1:0, write the port, echo forever
  echo.py probe PORT         connect (retrying for 10 s), send a line, expect it back
"""
import socket, sys, threading, time, os

def serve(portfile):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    def echo(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)
    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()

def probe(port):
    msg = b"compat-echo-%d\n" % os.getpid()
    deadline = time.time() + 10
    while True:
        try:
            c = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
            c.sendall(msg)
            got = b""
            while len(got) < len(msg):
                d = c.recv(4096)
                if not d:
                    break
                got += d
            c.close()
            if got == msg:
                print("echo ok")
                return 0
            print("echo mismatch: %r" % got)
        except OSError as e:
            print("probe: %s" % e)
        if time.time() > deadline:
            return 1
        time.sleep(0.3)

if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        sys.exit(probe(sys.argv[2]))
