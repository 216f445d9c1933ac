#!/usr/bin/env python3
"""Search every readable mapping of a process for secret byte strings.

usage: memscan.py PID KEYFILE
Exits 0 if none of the secrets from KEYFILE (the Ed25519 seed, the
64-byte private half: seed and public key) is found, 1 if one is
(printed), 2 on error.  The test runs it against the monitor too, where
the seed must be found: that shows the scanner can see what it looks for.
"""
import base64
import re
import struct
import sys


def secrets(path):
    text = open(path).read()
    body = "".join(l for l in text.splitlines() if not l.startswith("-----"))
    der = base64.b64decode(body)
    off = len(b"openssh-key-v1\0")

    def string(o):
        n = struct.unpack(">I", der[o:o + 4])[0]
        return der[o + 4:o + 4 + n], o + 4 + n

    for _ in range(3):          # cipher, kdf, kdfoptions
        _, off = string(off)
    off += 4                    # nkeys
    _, off = string(off)        # public blob
    priv, _ = string(off)
    p = 8                       # checkints
    for _ in range(2):          # type, public key
        n = struct.unpack(">I", priv[p:p + 4])[0]
        p += 4 + n
    n = struct.unpack(">I", priv[p:p + 4])[0]
    sk = priv[p + 4:p + 4 + n]
    seed = sk[:32]
    # (The file's base64 text is no secret to look for: its first part is
    # the same for every unencrypted Ed25519 key, stub keys included.)
    return {"seed": seed, "private-half": sk}


CHUNK = 1 << 20
OVERLAP = 128
HUGE = 4 << 30


def main():
    pid, keyfile = sys.argv[1], sys.argv[2]
    wanted = secrets(keyfile)
    found = []
    skipped = []
    scanned = 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            start, end, perms = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
            if perms[0] != "r" or "[vvar]" in line or "[vsyscall]" in line:
                continue
            # A sanitizer build reserves terabytes of shadow memory: no
            # worker maps that much of its own, so skip such regions.
            if end - start > HUGE:
                skipped.append(line.split()[0])
                continue
            # In chunks that overlap by a secret's length, so none is
            # missed at a boundary and memory use stays small.
            pos, tail = start, b""
            while pos < end:
                try:
                    mem.seek(pos)
                    chunk = mem.read(min(CHUNK, end - pos))
                except OSError:
                    break
                if not chunk:
                    break
                data = tail + chunk
                scanned += len(chunk)
                for name, s in wanted.items():
                    if s in data:
                        found.append(f"{name} at {line.split()[0]} {line.split()[-1]}")
                tail = data[-OVERLAP:]
                pos += len(chunk)
    print(f"scanned {scanned} bytes of pid {pid}"
          + (f", skipped {len(skipped)} regions over 4 GiB" if skipped else ""))
    for f in found:
        print("FOUND " + f)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError, IndexError, MemoryError, struct.error) as e:
        print(f"memscan: {e}", file=sys.stderr)
        sys.exit(2)
