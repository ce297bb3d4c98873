"""What processes hold: network namespaces (their threads', open namespace fds, nsfs
bind mounts) and the abstract unix sockets that claim topology slots."""
import os

SLOT_PREFIX = "@tcpfault/"


def links(pid):
    """'net:[...]' and 'socket:[...]' links of a process: its threads' namespaces, its fds."""
    out = set()
    base = f"/proc/{pid}"
    try:
        tids = os.listdir(f"{base}/task")
        fds = os.listdir(f"{base}/fd")
    except OSError:
        return out
    paths = [f"{base}/task/{t}/ns/net" for t in tids] + [f"{base}/fd/{fd}" for fd in fds]
    for path in paths:
        try:
            target = os.readlink(path)
        except OSError:
            continue
        if target.startswith(("net:[", "socket:[")):
            out.add(target)
    return out


def holders(pids):
    """link -> the pids among `pids` that hold it."""
    out = {}
    for pid in pids:
        for link in links(pid):
            out.setdefault(link, set()).add(pid)
    return out


def mounted_namespaces():
    """Network namespaces held by a bind mount (an `ip netns` pin): 'net:[...]' -> mount point."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if " nsfs " in line and "net:[" in fields[3]:
                out[fields[3][fields[3].index("net:["):]] = fields[4]
    return out


def slot_sockets():
    """'socket:[inode]' -> name of every abstract unix socket named @tcpfault/... here."""
    out = {}
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[7].startswith(SLOT_PREFIX):
                out[f"socket:[{fields[6]}]"] = fields[7]
    return out


def own_namespace():
    return os.readlink("/proc/self/ns/net")
