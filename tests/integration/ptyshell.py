#!/usr/bin/env python3
"""ptyshell.py -- drive an interactive ssh session through a real terminal.

Usage: ptyshell.py ssh [args...]

Runs the command on a fresh pseudo-terminal (its controlling terminal, as
when a person types into it), and plays a short interactive session on the
remote shell: typing, the terminal type, the window size, a resize,
Ctrl-C interrupting a remote command, and the shell's exit status.  Prints
one "ok NAME" or "not ok NAME: why" line per step; exits 0 only if every
step passed.
"""
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

# Generous: the Studio's shell runs its user's start-up files (on a test
# machine, whatever root's ~/.bashrc does), and make check runs many
# topics at once on two cores.  A step that passes returns at once.
STEP_TIMEOUT = 60.0


class Term:
    def __init__(self, argv, rows, cols):
        self.master, slave = os.openpty()
        self.resize(rows, cols, slave)
        env = dict(os.environ, TERM="xterm-256color")

        def child_setup():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave,
                                     stderr=slave, env=env,
                                     preexec_fn=child_setup, close_fds=True)
        os.close(slave)
        self.seen = b""

    def resize(self, rows, cols, fd=None):
        # Setting the size on the terminal makes the kernel send SIGWINCH
        # to its foreground process group: ssh, which sends window-change.
        fcntl.ioctl(self.master if fd is None else fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))

    def send(self, text):
        os.write(self.master, text.encode())

    def expect(self, pattern, timeout=STEP_TIMEOUT):
        """Wait for pattern in what the terminal showed since the last
        match; returns the match or None."""
        rx = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.seen)
            if m:
                self.seen = self.seen[m.end():]
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.master], [], [], left)
            if not r:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                data = b""
            if not data:
                return rx.search(self.seen)
            self.seen += data

    def wait(self, timeout=STEP_TIMEOUT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    t = Term(sys.argv[1:], 24, 80)
    failed = 0

    def step(name, ok, why=""):
        nonlocal failed
        if ok:
            print("ok %s" % name)
        else:
            failed += 1
            tail = t.seen[-300:].decode(errors="replace")
            print("not ok %s: %s (screen tail: %r)" % (name, why, tail))

    # The echo of what we type shows the unexpanded text; only the
    # shell's output shows the sum.
    t.send("echo READY$((40+2))\r")
    step("the remote shell answers typed input",
         t.expect(r"READY42") is not None, "no READY42")
    t.send("echo TERM=$TERM\r")
    step("the terminal type reaches the Studio",
         t.expect(r"TERM=xterm-256color") is not None, "wrong TERM")
    t.send("stty size\r")
    step("the initial window size is 24x80",
         t.expect(r"[\r\n]24 80\r\n") is not None, "no '24 80'")
    # ssh notices SIGWINCH in its own time (under load, after what we
    # type next), so ask again until the new size shows or time is up.
    t.resize(33, 101)
    resized = False
    deadline = time.monotonic() + STEP_TIMEOUT
    while not resized and time.monotonic() < deadline:
        time.sleep(0.5)
        t.send("stty size\r")
        m = t.expect(r"[\r\n](\d+) (\d+)\r\n")
        resized = m is not None and m.group(1, 2) == (b"33", b"101")
    step("a resize reaches the Studio (stty size 33 101)", resized,
         "no '33 101'")
    t.send("tty\r")
    step("the remote shell runs on a pty",
         t.expect(r"/dev/pts/\d+") is not None, "no /dev/pts")
    t.send("sleep 100; echo AFTER$((1+1))\r")
    time.sleep(1.0)
    started = time.monotonic()
    t.send("\x03")
    t.send("echo INT$((2+3))\r")
    m = t.expect(r"INT5")
    step("Ctrl-C interrupts the remote command",
         m is not None and b"AFTER2" not in t.seen and
         time.monotonic() - started < STEP_TIMEOUT,
         "sleep was not interrupted")
    t.send("exit 5\r")
    rc = t.wait()
    step("the shell's exit status reaches the client (5)", rc == 5,
         "exit status %r" % rc)
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
