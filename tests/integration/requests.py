#!/usr/bin/python3
"""requests.py MODE PORT KEY USER [MARKER HOLD RELEASE]

Session requests in flight, sent as OpenSSH's client sends a login's:
back to back on one channel, without waiting for their answers.  The
answers (SSH_MSG_CHANNEL_SUCCESS or _FAILURE) must come in the order the
requests were sent (RFC 4254 5.4), one for each request that wanted one.

  order   Sends, without waiting: env CSSHD_TEST_A=alpha (answer wanted),
          keepalive@openssh.com (wanted; the gateway's libssh answers it
          itself, at once: it must wait its turn behind the env's),
          env NOT_ACCEPTED_A=1 (wanted), env CSSHD_TEST_B=beta (not
          wanted), pty-req (wanted), subsystem no-such-subsystem
          (wanted), window-change (not wanted: RFC 4254 6.7), then exec
          of a command that prints both variables and whether its stdin
          is a terminal (wanted).  Prints

              answers=S,F,F,S,F,S output=A=alpha B=beta tty=yes status=0

          Run against the gateway and straight against a Studio, the two
          lines must be the same.
  held    env CSSHD_TEST_A (wanted) and its answer, so the Studio's side
          of the channel is open; then creates HOLD (holdproxy.py holds
          what the Studio sends from then on), sends env CSSHD_TEST_B
          (wanted), keepalive@openssh.com (wanted; the gateway answers it
          itself, and must not before the held env's answer) and exec
          "touch MARKER" (wanted), and waits at most 20 s for MARKER: it
          appears only if the exec reached the Studio while the env's
          answer was held.  Then creates RELEASE.  Prints

              marker=yes answers=S,S,F,S status=0 held_answers=0

          (held_answers: answers that came while the Studio's were held.)

  flood   As held, then 300 env requests (answers wanted) while the
          Studio's answers are held: more answers owed on one channel
          than the gateway keeps (128).  Waits at most 30 s for the
          connection to end, then creates RELEASE.  Prints

              ended=yes

  second  env CSSHD_TEST_A (wanted) on a first session channel and its
          answer; then creates HOLD, opens a second session channel and
          waits at most 10 s for its confirmation, which must come while
          the Studio's answer to the gateway's open is held; then exec
          "echo second" on it (wanted), creates RELEASE and reads the
          output.  Prints

              confirmed_while_held=yes output=second status=0

  asked   pty-req and exec "echo started; sleep 2" (answers wanted);
          once "started" is read, window-change and signal TERM, each
          asking for an answer, which RFC 4254 (6.7, 6.9) says a client
          should not do, but sshd answers.  Waits at most 15 s for the
          four answers.  Prints

              answers=S,S,S,S

          through the gateway.  Straight from a Studio the last may be F:
          sshd refuses a signal it cannot deliver.

paramiko, so /usr/bin/python3 (the python3 on PATH may not have it).
"""
import logging
import os
import socket
import sys
import time

import paramiko
from paramiko.common import (MSG_CHANNEL_FAILURE, MSG_CHANNEL_SUCCESS,
                             cMSG_CHANNEL_REQUEST)

TIMEOUT = 60.0


def connect(port, key, user):
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
    t = paramiko.Transport(sock)
    t.start_client(timeout=30)
    t.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(key))
    return t


def record_answers(t):
    """paramiko tracks one request at a time; record every answer, in
    the order they arrive, instead."""
    answers = []
    table = dict(t._channel_handler_table)
    table[MSG_CHANNEL_SUCCESS] = lambda chan, m: answers.append("S")
    table[MSG_CHANNEL_FAILURE] = lambda chan, m: answers.append("F")
    t._channel_handler_table = table
    return answers


def request(t, chan, name, want_reply, *fields):
    m = paramiko.Message()
    m.add_byte(cMSG_CHANNEL_REQUEST)
    m.add_int(chan.remote_chanid)
    m.add_string(name)
    m.add_boolean(want_reply)
    for f in fields:
        if isinstance(f, int):
            m.add_int(f)
        else:
            m.add_string(f)
    t._send_user_message(m)


def wait_for(cond, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def output_of(chan):
    out = b""
    chan.settimeout(TIMEOUT)
    while True:
        try:
            data = chan.recv(65536)
        except socket.timeout:
            out += b" (timed out)"
            break
        if not data:
            break
        out += data
    return out.decode(errors="replace").replace("\r", "").strip()


def exit_status(chan):
    """sshd may send the exit status after the output's EOF."""
    if not wait_for(chan.exit_status_ready, 30):
        return -1
    return chan.recv_exit_status()


def order(t, chan, answers):
    request(t, chan, "env", True, "CSSHD_TEST_A", "alpha")
    request(t, chan, "keepalive@openssh.com", True)
    request(t, chan, "env", True, "NOT_ACCEPTED_A", "1")
    request(t, chan, "env", False, "CSSHD_TEST_B", "beta")
    # pty-req: TERM, cols, rows, width and height in pixels, no modes
    request(t, chan, "pty-req", True, "vt100", 80, 24, 0, 0, b"\x00")
    request(t, chan, "subsystem", True, "no-such-subsystem")
    request(t, chan, "window-change", False, 100, 30, 0, 0)
    request(t, chan, "exec", True,
            'echo "A=$CSSHD_TEST_A B=$CSSHD_TEST_B tty=$(test -t 0 && '
            'echo yes || echo no)"')
    out = output_of(chan)
    wait_for(lambda: len(answers) >= 6, 5)
    return "answers=%s output=%s status=%d" % (
        ",".join(answers), out, exit_status(chan))


def held(t, chan, answers, marker, hold, release):
    request(t, chan, "env", True, "CSSHD_TEST_A", "alpha")
    if not wait_for(lambda: len(answers) >= 1):
        return "marker=no answers=%s (no answer to the first env)" % (
            ",".join(answers))
    # Every answer to what follows reaches the proxy after HOLD exists.
    open(hold, "w").close()
    request(t, chan, "env", True, "CSSHD_TEST_B", "beta")
    request(t, chan, "keepalive@openssh.com", True)
    request(t, chan, "exec", True, "touch %s" % marker)
    seen = wait_for(lambda: os.path.exists(marker), 20)
    held_answers = len(answers)
    open(release, "w").close()
    output_of(chan)
    wait_for(lambda: len(answers) >= 4, 5)
    return "marker=%s answers=%s status=%d held_answers=%d" % (
        "yes" if seen else "no", ",".join(answers), exit_status(chan),
        held_answers - 1)


def flood(t, chan, answers, hold, release):
    # The gateway ends the connection under paramiko's writes: its
    # transport thread reports that, which is the point.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    request(t, chan, "env", True, "CSSHD_TEST_A", "alpha")
    if not wait_for(lambda: len(answers) >= 1):
        return "ended=no (no answer to the first env)"
    open(hold, "w").close()
    try:
        for i in range(300):
            request(t, chan, "env", True, "CSSHD_TEST_%d" % i, "x")
    except (paramiko.SSHException, EOFError, OSError):
        pass
    ended = wait_for(lambda: not t.is_active(), 30)
    open(release, "w").close()
    return "ended=%s" % ("yes" if ended else "no")


def second(t, chan, answers, hold, release):
    request(t, chan, "env", True, "CSSHD_TEST_A", "alpha")
    if not wait_for(lambda: len(answers) >= 1):
        return "confirmed_while_held=no (no answer to the first env)"
    open(hold, "w").close()
    try:
        chan2 = t.open_session(timeout=10)
        confirmed = "yes"
    except paramiko.SSHException:
        chan2 = None
        confirmed = "no"
    if chan2 is None:
        open(release, "w").close()
        return "confirmed_while_held=no"
    request(t, chan2, "exec", True, "echo second")
    open(release, "w").close()
    out = output_of(chan2)
    return "confirmed_while_held=%s output=%s status=%d" % (
        confirmed, out, exit_status(chan2))


def asked(t, chan, answers):
    request(t, chan, "pty-req", True, "vt100", 80, 24, 0, 0, b"\x00")
    request(t, chan, "exec", True, "echo started; sleep 2")
    chan.settimeout(TIMEOUT)
    out = b""
    while b"started" not in out:
        data = chan.recv(1024)
        if not data:
            break
        out += data
    request(t, chan, "window-change", True, 100, 30, 0, 0)
    request(t, chan, "signal", True, "TERM")
    wait_for(lambda: len(answers) >= 4, 15)
    return "answers=%s" % ",".join(answers)


def main():
    mode, port, key, user = sys.argv[1:5]
    t = connect(port, key, user)
    answers = record_answers(t)
    chan = t.open_session(timeout=30)
    if mode == "order":
        print(order(t, chan, answers))
    elif mode == "held":
        print(held(t, chan, answers, *sys.argv[5:8]))
    elif mode == "second":
        print(second(t, chan, answers, *sys.argv[6:8]))
    elif mode == "asked":
        print(asked(t, chan, answers))
    else:
        print(flood(t, chan, answers, *sys.argv[6:8]))
    t.close()


if __name__ == "__main__":
    main()
