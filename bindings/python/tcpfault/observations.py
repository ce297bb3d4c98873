"""Short facts about what the stacks did in one scenario, for comparing runs.

    from tcpfault.observations import observe
    observe(net, "connect #5", "EADDRNOTAVAIL")
    observe(net, "TIME_WAIT port reused after", 1.003, "s")

A case records what its assertions are about; each observation is a note in the
scenario's timeline ("observed: connect #5 = EADDRNOTAVAIL"), so the ladder and the JSON
show it too. `summary(net)` adds what every scenario shows by itself: the outcomes of each
kind of socket call and the MIB counters that mark a decision of the stack (not state
paths or segment counts: the end of a test races with its sockets' tear-down, and
retransmissions with the machine's load). `tcpfault sysctl-check` compares both between
the runs of a case under two settings. What depends on a race the case allows is named
with `racy(net, label, why=...)` and left out.
"""

import errno
import re

from . import _tcpfault as _tf

_NOTE = re.compile(r"observed: (?P<what>.+?) = (?P<value>.*?)(?: \[(?P<unit>[a-z]+)\])?$")
TIME_UNITS = ("s", "ms")

# Counters that count a decision of the stack (a socket refused, a TIME_WAIT skipped, a
# cookie sent), not traffic volume: a difference in them is a difference in behaviour.
DECISION_COUNTERS = (
    "TcpExt.TCPTimeWaitOverflow", "TcpExt.TWRecycled", "TcpExt.TWKilled",
    "TcpExt.ListenOverflows", "TcpExt.ListenDrops", "TcpExt.TCPReqQFullDrop", "TcpExt.TCPReqQFullDoCookies",
    "TcpExt.SyncookiesSent", "TcpExt.SyncookiesRecv", "TcpExt.SyncookiesFailed",
    "TcpExt.PAWSEstab", "TcpExt.PAWSActive", "TcpExt.TCPSYNChallenge", "TcpExt.TCPChallengeACK",
    "TcpExt.EmbryonicRsts", "TcpExt.TCPAbortOnClose", "TcpExt.TCPAbortOnData", "TcpExt.TCPAbortOnTimeout",
    "TcpExt.TCPAbortOnLinger", "TcpExt.TCPAbortOnMemory", "TcpExt.TCPAbortFailed",
    "Tcp.AttemptFails", "Tcp.EstabResets",
    # A timewait socket (TIME_WAIT, or an orphan's FIN_WAIT2) put on a timer of more than 4 s;
    # TWKilled: of 4 s or less. The kernel counts them as the timer is set.
    "TcpExt.TW",
)

def observe(net, what, value, unit=""):
    """Records one fact: `what` (a short label, no ' = '), its value (a number or a short
    text) and, for a number, its unit ('s', 'ms', or '' for a count)."""
    if " = " in what or not what.strip():
        raise ValueError(f"observe: the label must be short text without ' = ', not {what!r}")
    if unit and unit not in TIME_UNITS:
        raise ValueError(f"observe: unit {unit!r} is not one of {', '.join(TIME_UNITS)} (or '' for a count)")
    if isinstance(value, float):
        value = f"{value:.3f}"
    net.trace.note(f"observed: {what} = {value}" + (f" [{unit}]" if unit else ""))


def racy(net, *labels, why):
    """Says that what the scenario shows by itself under these labels ('client connect()',
    a counter's 'server TcpExt.ListenDrops') depends on a race the case allows, so a
    comparison must not count it: the RST may reach a socket before or after connect()
    returns."""
    if not labels or not why.strip():
        raise ValueError("racy: name at least one label, and say why (why='the RST races connect()')")
    for label in labels:
        net.trace.note(f"not compared: {label} ({why})")


_RACY = re.compile(r"not compared: (?P<label>.+?) \(.*\)$")


def _number(text):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def recorded(notes):
    """{label: {"value": ..., "unit": ..., "recorded": True}} from a timeline's notes (the
    last value wins)."""
    out = {}
    for note in notes:
        match = _NOTE.match(note)
        if match:
            number = _number(match["value"])
            out[match["what"]] = {"value": match["value"] if number is None else number, "unit": match["unit"] or "",
                                  "recorded": True}
    return out


def _errno_name(code):
    return errno.errorcode.get(code, str(code))


def _calls(trace):
    outcomes = {}
    for call in trace.calls():
        name = call.call.split("(", 1)[0]
        result = "ok" if call.result >= 0 else _errno_name(call.errno)
        outcomes.setdefault(f"{call.host.name.lower()} {name}()", set()).add(result)
    return {label: ", ".join(sorted(results)) for label, results in outcomes.items()}


def _counters(net):
    out = {}
    for host in ("client", "server"):
        for name in DECISION_COUNTERS:
            try:
                delta = net.counter_delta(host, name)
            except _tf.Error:
                continue  # a counter this kernel does not have
            if delta:
                out[f"{host} {name}"] = delta
    return out


def summary(net):
    """What the scenario shows by itself, plus what the case recorded, as
    {label: {"value": ..., "unit": ...}}. Counters are read from the live namespaces:
    call it before the scenario closes."""
    notes = net.trace.notes()
    racy_labels = {m["label"] for m in map(_RACY.match, notes) if m}
    out = {label: {"value": value, "unit": ""} for label, value in {**_calls(net.trace), **_counters(net)}.items()
           if label not in racy_labels}
    out.update(recorded(notes))
    return out
