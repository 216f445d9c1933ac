#!/usr/bin/python3
"""check.py [--man FILE] [--top DIR]

The monitor's contract with its workers is written twice: as code (the
dispatch table of monitor/dispatch.c, the state transitions of
monitor/pool.c, the agent table of monitor/agent.c, the bounds of
monitor/monitor.h) and in connect-sshd-ipc(7), which auditors read.  This
reads both and fails, naming every difference, when they disagree.  A
table row it cannot read is a failure too: the tables are written one row
per line so that they stay readable by this and by people.
"""
import re
import sys

errors = []


def fail(msg):
    errors.append(msg)


def read(path):
    with open(path) as f:
        return f.read()


def args():
    top, man = ".", None
    a = sys.argv[1:]
    while a:
        if a[0] == "--man" and len(a) > 1:
            man, a = a[1], a[2:]
        elif a[0] == "--top" and len(a) > 1:
            top, a = a[1], a[2:]
        else:
            sys.exit(__doc__)
    return top, man or top + "/man/connect-sshd-ipc.7"


def c_array(src, name, path):
    """The body of `static const ... name[] = { ... };`."""
    m = re.search(r"\b" + re.escape(name) + r"\[\w*\]\s*=\s*\{(.*?)\n\};",
                  src, re.S)
    if m is None:
        fail("%s: no table %s[]" % (path, name))
        return ""
    # Comments out, so that a row's fields are all that is left.
    return re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)


def rows(body, path, name):
    """The { ... } rows of a table body, each as a list of fields."""
    out = []
    for m in re.finditer(r"\{([^{}]*)\}", body):
        fields = [f.strip() for f in re.split(r",(?![^()]*\))", m.group(1))]
        out.append([f for f in fields if f])
    if not out:
        fail("%s: %s[] has no rows" % (path, name))
    return out


def defines(src):
    return {m.group(1): m.group(2) for m in
            re.finditer(r"^#define\s+(\w+)\s+(.+?)\s*(?:/\*.*)?$", src, re.M)}


def number(expr, defs, where):
    expr = expr.strip().strip("()")
    if expr.isdigit():
        return int(expr)
    if expr in defs:
        return number(defs[expr], defs, where)
    fail("%s: cannot read %r as a number" % (where, expr))
    return -1


def main():
    top, man_path = args()
    mh = read(top + "/monitor/monitor.h")
    mc = read(top + "/monitor/pool.c")
    dc = read(top + "/monitor/dispatch.c")
    ac = read(top + "/monitor/agent.c")
    man = read(man_path)
    defs = defines(mh)
    defs.update(defines(dc))

    # ---- states, in enum order, and their names ----
    em = re.search(r"enum wstate \{(.*?)\};", mh, re.S)
    states = re.findall(r"\b(WS_\w+)", re.sub(r"/\*.*?\*/", "", em.group(1),
                                             flags=re.S)) if em else []
    states = [s for s in states if s != "WS_NSTATES"]
    names = dict(re.findall(r"\[(WS_\w+)\]\s*=\s*\"([^\"]+)\"", mc))
    for s in states:
        if s not in names:
            fail("monitor/pool.c: state %s has no name" % s)

    def state_set(expr, where):
        expr = expr.strip()
        if expr == "S_ANY":
            return set(states)
        if expr in defs and expr.startswith("S_"):
            expr = defs[expr]
        bits = re.findall(r"WS_BIT\((WS_\w+)\)", expr)
        if not bits:
            fail("%s: cannot read states %r" % (where, expr))
        return set(bits)

    # S_* defines may span lines (backslash continuations).
    for m in re.finditer(r"^#define\s+(S_\w+)\s+((?:.*\\\n)*.*)$", dc, re.M):
        defs[m.group(1)] = m.group(2).replace("\\\n", " ")

    def render_states(ss):
        if ss == set(states):
            return "every state"
        return ", ".join(names.get(s, s) for s in states if s in ss)

    # ---- the dispatch table ----
    counters = dict(re.findall(r"\[(WC_\w+)\]\s*=\s*\"([^\"]+)\"", dc))
    table = []
    for r in rows(c_array(dc, "handlers", "monitor/dispatch.c"),
                  "monitor/dispatch.c", "handlers"):
        where = "monitor/dispatch.c: handlers[] row %s" % r[0]
        if len(r) != 4 or not r[0].startswith("IPC_W_"):
            fail("%s: not {type, states, limit, handler}" % where)
            continue
        lim = re.match(r"(\w+)(?:\((.*)\))?$", r[2])
        if lim is None:
            fail("%s: cannot read limit %r" % (where, r[2]))
            continue
        kind = lim.group(1)
        largs = [a.strip() for a in (lim.group(2) or "").split(",") if a.strip()]
        table.append({"type": r[0][len("IPC_"):],
                      "states": state_set(r[1], where),
                      "kind": kind, "args": largs, "where": where})

    def render_limit(row):
        k, a = row["kind"], row["args"]
        if k == "ONCE":
            return "once"
        if k == "NO_LIMIT":
            return "no limit"
        if k == "DROP":
            return "%d a second, the excess dropped" % number(a[0], defs,
                                                            row["where"])
        if k == "BUCKET":
            return "%d at once, %d a second" % (number(a[0], defs, row["where"]),
                                              number(a[1], defs, row["where"]))
        if k == "COUNT":
            n = number(a[0], defs, row["where"])
            others = [o["type"] for o in table if o is not row and
                      o["kind"] == "COUNT" and o["args"][1:] == a[1:]]
            if not others:
                return "%d" % n
            if a[1] not in counters:
                fail("%s: counter %s has no name" % (row["where"], a[1]))
            return "%d %s, with %s" % (n, counters.get(a[1], a[1]),
                                       " and ".join(others))
        fail("%s: unknown limit kind %s" % (row["where"], k))
        return "?"

    code_rows = {r["type"]: (render_states(r["states"]), render_limit(r))
                 for r in table}
    # BUCKET and DROP state lives in one set of worker fields each.
    for kind in ("BUCKET", "DROP"):
        users = [r["type"] for r in table if r["kind"] == kind]
        if len(users) > 1:
            fail("monitor/dispatch.c: %s is used by %s; its state is one "
                 "set of worker fields, for one row" % (kind, ", ".join(users)))

    # ---- the same table in ipc(7) ----
    m = re.search(r"The requests each state permits.*?\n\.Bl -column[^\n]*\n"
                  r"(.*?)\n\.El", man, re.S)
    man_rows = {}
    if m is None:
        fail("%s: no request table after 'The requests each state permits'"
             % man_path)
    else:
        for line in m.group(1).split("\n"):
            r = re.match(r"\.It Dv (W_\w+) Ta (.*?) Ta (.*)$", line)
            if r:
                man_rows[r.group(1)] = (r.group(2).strip(), r.group(3).strip())
            elif not line.startswith(".It Sy"):
                fail("%s: request table: cannot read %r" % (man_path, line))
    for t in sorted(set(code_rows) | set(man_rows)):
        c, d = code_rows.get(t), man_rows.get(t)
        if c is None:
            fail("ipc(7) lists %s, the dispatch table does not" % t)
        elif d is None:
            fail("the dispatch table has %s, ipc(7) does not list it "
                 "(want: .It Dv %s Ta %s Ta %s)" % (t, t, c[0], c[1]))
        elif c != d:
            fail("%s: the code says permitted in '%s', '%s'; ipc(7) says "
                 "'%s', '%s'" % (t, c[0], c[1], d[0], d[1]))

    # ---- transitions ----
    code_tr = set()
    for r in rows(c_array(mc, "transitions", "monitor/pool.c"),
                  "monitor/pool.c", "transitions"):
        if len(r) != 2 or r[0] not in names or r[1] not in names:
            fail("monitor/pool.c: transitions[]: cannot read %r" % r)
            continue
        code_tr.add((names[r[0]], names[r[1]]))
    m = re.search(r"The transitions.*?\n\.Bd -literal[^\n]*\n(.*?)\n\.Ed",
                  man, re.S)
    man_tr, any_closing = set(), False
    if m is None:
        fail("%s: no transitions block" % man_path)
    else:
        for line in m.group(1).split("\n"):
            r = re.match(r"(.+?) --.*--> (\S+)$", line.strip())
            if r is None:
                fail("%s: transitions: cannot read %r" % (man_path, line))
            elif r.group(1) == "any state" and r.group(2) == "closing":
                any_closing = True
            else:
                man_tr.add((r.group(1), r.group(2)))
    if not any_closing:
        fail("ipc(7) does not say that any state may go to closing, "
             "as worker_set_state() allows")
    for a, b in sorted(code_tr - man_tr):
        fail("transition %s -> %s is in the code, not in ipc(7)" % (a, b))
    for a, b in sorted(man_tr - code_tr):
        if b != "closing":
            fail("transition %s -> %s is in ipc(7), not in the code" % (a, b))

    # ---- the agent table ----
    code_ag = {}
    for r in rows(c_array(ac, "agent_handlers", "monitor/agent.c"),
                  "monitor/agent.c", "agent_handlers"):
        if len(r) != 5 or not r[0].startswith("AGENTC_"):
            fail("monitor/agent.c: agent_handlers[]: cannot read %r" % r)
            continue
        code_ag["SSH_" + r[0]] = "%d" % number(r[2], defs, "monitor/agent.c")
    m = re.search(r"\.Sh AGENT PROTOCOL.*?\n\.Bl -column[^\n]*\n(.*?)\n\.El",
                  man, re.S)
    man_ag = {}
    if m is None:
        fail("%s: no request table in AGENT PROTOCOL" % man_path)
    else:
        for line in m.group(1).split("\n"):
            r = re.match(r"\.It Dv (SSH_AGENTC_\w+) Ta (.*)$", line)
            if r:
                man_ag[r.group(1)] = r.group(2).strip()
            elif not line.startswith(".It Sy"):
                fail("%s: agent table: cannot read %r" % (man_path, line))
    if code_ag != man_ag:
        fail("agent requests: the code says %s; ipc(7) says %s" %
             (sorted(code_ag.items()), sorted(man_ag.items())))

    # ---- every MON_* bound ipc(7) quotes has the code's value ----
    for m in re.finditer(r"Dv (MON_\w+) No = (\d+)", man):
        name, val = m.group(1), int(m.group(2))
        if name not in defs:
            fail("ipc(7) quotes %s, which monitor/monitor.h does not define"
                 % name)
        elif number(defs[name], defs, "monitor/monitor.h") != val:
            fail("ipc(7) says %s = %d; monitor/monitor.h says %s" %
                 (name, val, defs[name]))

    for e in errors:
        print("contract: " + e)
    if errors:
        print("contract: the code and %s disagree (%d)" % (man_path,
                                                           len(errors)))
        return 1
    print("contract: %d requests, %d transitions, %d agent requests: the "
          "code and %s agree" % (len(code_rows), len(code_tr), len(code_ag),
                                 man_path))
    return 0


sys.exit(main())
