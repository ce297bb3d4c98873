"""What a killed run may leave behind, and only what is attributable to it: other work
on the machine creates and frees namespaces, slots and temporary files all the time.

A run is one session (setsid). Frozen at the moment of the kill, it is photographed:
its processes, the network namespaces they hold (other than the one they started in),
the slot sockets they hold, the bind mounts of those namespaces, the NFQUEUE bindings
of its pids in this namespace. After the kill, a leftover is a process of the session
still alive, or one of those namespaces, sockets, mounts or bindings still there (a
namespace counts while a process of the session, a mount that already held it, or a
process that already held it at the kill still does: namespace inode numbers are
reused at once, so a newcomer holding the same number is someone else's namespace),
or a file in the run's own TMPDIR other than the artifacts kept by design. The host's
network setup (ci/host_state.sh, less its sections about concurrent work) must not
change at all. New /tmp/tcpfault* entries are only reported: /tmp is shared, and the
run's own temporary files go to its TMPDIR."""
import fnmatch
import os
import subprocess

import held
import procs

# Kept by design in a run's TMPDIR: scenario artifacts ($TMPDIR/tcpfault) and pytest's
# own temporary directories, which it keeps for its last three runs.
KEPT_IN_TMPDIR = ("tcpfault", "pytest-of-*")
# ci/host_state.sh sections that show concurrent work (checked above, attributed).
CONCURRENT_SECTIONS = ("## nfqueue", "## pinned namespaces", "## namespaces with processes", "## our processes")


def nfqueue_bindings():
    """(queue, portid) bound in this (the init) namespace."""
    try:
        with open("/proc/net/netfilter/nfnetlink_queue") as f:
            return {tuple(line.split()[:2]) for line in f if line.strip()}
    except OSError:
        return set()


def host_state(top):
    text = subprocess.run([f"{top}/ci/host_state.sh", "snapshot", "/dev/stdout"], capture_output=True,
                          text=True, timeout=60).stdout
    kept, skip = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            skip = line in CONCURRENT_SECTIONS
        if not skip:
            kept.append(line)
    return kept


def tmp_entries():
    return {e for e in os.listdir("/tmp") if e.startswith("tcpfault")}


class Before:
    """The machine before a run starts."""

    def __init__(self, top):
        self.host = host_state(top)
        self.tmp = tmp_entries()


class AtKill:
    """The frozen session, photographed."""

    def __init__(self, sid, pids):
        self.sid = sid
        self.pids = pids  # pid -> comm
        own = held.own_namespace()
        everyone = held.holders(procs.all_pids())
        ours = {link for link, by in everyone.items() if by & set(pids)}
        self.namespaces = {ns for ns in ours if ns.startswith("net:[") and ns != own}
        # Who else held them already (an escaped process would).
        self.foreign = {ns: everyone[ns] - set(pids) for ns in self.namespaces}
        mounts = held.mounted_namespaces()
        self.mounts = {ns: mounts[ns] for ns in self.namespaces if ns in mounts}
        slots = held.slot_sockets()
        self.slots = {s: slots[s] for s in ours if s in slots}
        self.nfqueue = {b for b in nfqueue_bindings() if int(b[1]) in pids}

    def summary(self):
        return (f"{len(self.pids)} processes, {len(self.namespaces)} namespaces, "
                f"{len(self.slots)} slots held")


def describe(pid):
    s = procs.stat(pid)
    return f"{pid} {s[0]}" if s else f"{pid} (gone)"


def remaining(kill, tmpdir):
    """What of the run is still there: a list of findings, empty when nothing."""
    found = []
    alive = procs.members(kill.sid)
    for pid in sorted(alive):
        found.append(f"process {describe(pid)}")
    everyone = held.holders(procs.all_pids())
    mounts = held.mounted_namespaces()
    for ns in sorted(kill.namespaces):
        by = everyone.get(ns, set())
        ours = by & (set(alive) | kill.foreign[ns])
        if ours:
            found.append(f"namespace {ns} held by " + ", ".join(describe(p) for p in sorted(ours)))
        if ns in kill.mounts and mounts.get(ns) == kill.mounts[ns]:
            found.append(f"namespace {ns} pinned at {kill.mounts[ns]}")
    slots = held.slot_sockets()
    for sock, name in sorted(kill.slots.items()):
        if sock in slots:
            found.append(f"slot socket {name} ({sock})")
    for queue, portid in sorted(kill.nfqueue & nfqueue_bindings()):
        found.append(f"NFQUEUE {queue} bound by portid {portid} in the host's namespace")
    for entry in sorted(os.listdir(tmpdir)):
        if not any(fnmatch.fnmatch(entry, k) for k in KEPT_IN_TMPDIR):
            found.append(f"temporary file {os.path.join(tmpdir, entry)}")
    return found


def host_changes(top, before):
    """The host's network setup, line by line, where it differs from before the run."""
    now = host_state(top)
    was, isnow = set(before.host), set(now)
    gone = [f"- {line}" for line in before.host if line not in isnow]
    new = [f"+ {line}" for line in now if line not in was]
    return gone + new


def new_tmp(before):
    return sorted(tmp_entries() - before.tmp)
