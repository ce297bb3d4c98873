"""The process table from /proc, and freezing then killing one session whole."""
import os
import signal
import time


def stat(pid):
    """(comm, state, ppid, pgid, sid) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except OSError:
        return None
    # comm is in parentheses and may itself contain spaces and ')'.
    comm = data[data.index("(") + 1:data.rindex(")")]
    fields = data[data.rindex(")") + 2:].split()
    return comm, fields[0], int(fields[1]), int(fields[2]), int(fields[3])


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def members(sid):
    """The processes of session (or process group) `sid` that are not zombies: pid -> stat."""
    out = {}
    for pid in all_pids():
        s = stat(pid)
        if s and sid in (s[3], s[4]) and s[1] != "Z":
            out[pid] = s
    return out


def signal_each(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def freeze(sid, within=3.0):
    """SIGSTOPs the session until no new process appears and all are stopped (a process
    forking while we look shows up in the next round). Returns pid -> comm."""
    deadline = time.monotonic() + within
    seen = {}
    while True:
        found = members(sid)
        signal_each([p for p in found if p not in seen], signal.SIGSTOP)
        seen.update({p: s[0] for p, s in found.items()})
        settled = all(s[1] in "Tt" for s in found.values())
        if (settled and set(found) <= set(seen)) or time.monotonic() > deadline:
            return seen
        time.sleep(0.01)  # polling the stop, which has no event to wait on


def kill(sid, pids):
    """SIGKILLs the group, every process that was in the session, and any newcomer."""
    try:
        os.killpg(sid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    signal_each(pids, signal.SIGKILL)
    signal_each(members(sid), signal.SIGKILL)


def kill_leader(sid, pids):
    """SIGKILLs the session's leader alone and lets the rest of the frozen session run
    on: what it started must end by itself."""
    try:
        os.kill(sid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    signal_each([p for p in pids if p != sid], signal.SIGCONT)
