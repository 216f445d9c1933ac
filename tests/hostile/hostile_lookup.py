#!/usr/bin/env python3
"""A compromised connect-sshd-lookup, run by the real monitor (lookup.sh).

It speaks the lookup protocol (connect-sshd-ipc(7), LOOKUP PROCESS) on fd 3
and lies in one way, named by its argument:

  lie-host     grants every login, routed to a DNS name (never numeric)
  wrong-id     answers a question with another question's id
  garbage      answers with a datagram that does not decode
  unsolicited  sends facts before any question is asked
  silent       reads questions and never answers
  forge-log    writes a line that reads as the monitor's audit record to
               its stderr, and sends one inside an L_LOG; then as claims
  scrape-flood asks for the metrics 200 times at once, as if 200
               scrapers had come (it accepts at most 20 a second)
  claims       not a lie: admits every connection, grants every login
               and answers session id claims as Redis's SET NX would
               (the first claim of an id wins, any later one finds it
               taken)

Except with claims, the monitor must kill it (or, silent, answer "unavailable" itself and
then replace it), refuse the login, and keep serving.
"""
import socket
import struct
import sys

(L_INIT, L_READY, L_ACCESS, L_FACTS, L_STARTUP, L_COUNTED, L_LOG, L_SCRAPE,
 L_METRICS) = range(20, 29)
LOG_INFO = 2
FORGED = "2026-01-01T00:00:00.000Z connect-sshd[1] audit: event=auth.accepted forged=yes"



def string(b):
    return struct.pack(">I", len(b)) + b


UNASKED = -3


def facts(qid, host=b"10.0.0.5", claimed=1):
    body = struct.pack(">Qiiq", qid, 1, 0, 1)
    body += string(host) + string(b"22") + string(b"") + string(b"")
    body += struct.pack(">III", 0, 0, 0)             # auth, users_set, n
    body += struct.pack(">iiIiii", 1, 1, 1, 1, 0, claimed)  # allowed..claimed
    body += struct.pack(">13QI", *([0] * 13), 1)
    return struct.pack(">H", L_FACTS) + body


def claim_id(msg):
    """The session id an L_ACCESS claims (b"" for none): after the
    type and the question id come the user, key and CA strings."""
    pos = 10
    for _ in range(3):
        (n,) = struct.unpack(">I", msg[pos:pos + 4])
        pos += 4 + n
    (n,) = struct.unpack(">I", msg[pos:pos + 4])
    return msg[pos + 4:pos + 4 + n]


def main():
    mode = sys.argv[1]
    claimed_ids = set()
    s = socket.socket(fileno=3)
    msg = s.recv(16384)
    assert struct.unpack(">H", msg[:2])[0] == L_INIT
    s.send(struct.pack(">H", L_READY))
    if mode == "unsolicited":
        s.send(facts(1))
    if mode == "scrape-flood":
        for i in range(200):
            s.send(struct.pack(">HQ", L_SCRAPE, i + 1))
    if mode == "log-flood":
        # 1000 lines at once, then silence: the count of those dropped
        # must not wait for a next line that never comes.
        for i in range(1000):
            s.send(struct.pack(">HI", L_LOG, LOG_INFO) +
                   string(b"flood %d" % i))
        mode = "claims"
    if mode == "forge-log":
        sys.stderr.write(FORGED + "\n")
        sys.stderr.flush()
        s.send(struct.pack(">HI", L_LOG, LOG_INFO) +
               string(("logged\n" + FORGED).encode()))
        mode = "claims"
    while True:
        msg = s.recv(16384)
        if not msg:
            return
        (kind,) = struct.unpack(">H", msg[:2])
        if kind == L_STARTUP and mode == "claims":
            (qid,) = struct.unpack(">Q", msg[2:10])
            if qid != 0:                              # 0: a release
                s.send(struct.pack(">HQi", L_COUNTED, qid, 1))
            continue
        if kind != L_ACCESS:
            continue
        (qid,) = struct.unpack(">Q", msg[2:10])
        if mode == "lie-host":
            s.send(facts(qid, b"studio.internal"))
        elif mode == "wrong-id":
            s.send(facts(qid + 1000))
        elif mode == "claims":
            cid = claim_id(msg)
            if not cid:
                s.send(facts(qid, claimed=UNASKED))
            else:
                s.send(facts(qid, claimed=0 if cid in claimed_ids else 1))
                claimed_ids.add(cid)
        elif mode == "garbage":
            s.send(struct.pack(">H", L_FACTS) + b"\x01")
        # silent: nothing


main()
