#!/usr/bin/env python3
"""A compromised connect-sshd-lookup, run by the real monitor (lookup.sh).

It speaks the lookup protocol (connect-sshd-ipc(7), LOOKUP PROCESS) on fd 3
and lies in one way, named by its argument:

  lie-host     grants every login, routed to a DNS name (never numeric)
  wrong-id     answers a question with another question's id
  garbage      answers with a datagram that does not decode
  unsolicited  sends facts before any question is asked
  silent       reads questions and never answers

The monitor must kill it (or, silent, answer "unavailable" itself and
then replace it), refuse the login, and keep serving.
"""
import socket
import struct
import sys

L_INIT, L_READY, L_ACCESS, L_FACTS, L_STARTUP, L_COUNTED = range(20, 26)


def string(b):
    return struct.pack(">I", len(b)) + b


def facts(qid, host=b"10.0.0.5"):
    body = struct.pack(">Qiiq", qid, 1, 0, 1)
    body += string(host) + string(b"22") + string(b"") + string(b"")
    body += struct.pack(">III", 0, 0, 0)             # auth, users_set, n
    body += struct.pack(">iiIiii", 1, 1, 1, 1, 0, 1)  # allowed..claimed
    body += struct.pack(">13QI", *([0] * 13), 1)
    return struct.pack(">H", L_FACTS) + body


def main():
    mode = sys.argv[1]
    s = socket.socket(fileno=3)
    msg = s.recv(16384)
    assert struct.unpack(">H", msg[:2])[0] == L_INIT
    s.send(struct.pack(">H", L_READY))
    if mode == "unsolicited":
        s.send(facts(1))
    while True:
        msg = s.recv(16384)
        if not msg:
            return
        (kind,) = struct.unpack(">H", msg[:2])
        if kind != L_ACCESS:
            continue
        (qid,) = struct.unpack(">Q", msg[2:10])
        if mode == "lie-host":
            s.send(facts(qid, b"studio.internal"))
        elif mode == "wrong-id":
            s.send(facts(qid + 1000))
        elif mode == "garbage":
            s.send(struct.pack(">H", L_FACTS) + b"\x01")
        # silent: nothing


main()
