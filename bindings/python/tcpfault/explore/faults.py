"""The faults explore puts on one segment, and where each applies.

A fault turns a Point (tcpfault.explore.conversation) into fault rules, as plain data the
pytest plugin hands to net.faults (tcpfault.explore.plugin.add_rule):

    {"action": "drop", "match": {"role": "FIN", "sent_by": "server", "not_role": "RETRANSMISSION"},
     "nth": 1, "count": 1}

The first rule of a fault is the one that must act: a variant whose first rule matched no
segment is reported as "fault did not act", never as a pass. To add a fault, register a
Fault here; docs/explore.md lists them.
"""

from dataclasses import dataclass
from typing import Callable

DELAY_SHORT_S = 0.05   # a fraction of an RTO (Linux's minimum RTO is 200 ms)
DELAY_LONG_S = 3.0     # several RTOs: the sender retransmits before the original arrives
SWAP_MAX_S = 1.0       # a swap whose sender sends nothing more lets the segment go after this
DROP_K = 3             # drop-k: the segment and its own next k retransmissions


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    applies: Callable      # (point, options) -> bool
    rules: Callable        # (point, options) -> [rule dict]; the first must act


def original(point):
    """The match of exactly that segment (with nth=point.ordinal): its role and sender, not a
    retransmission."""
    return {"role": point.role, "sent_by": point.sender, "not_role": "RETRANSMISSION"}


def once(point, action, **args):
    return {"action": action, "match": original(point), "nth": point.ordinal, "count": 1, **args}


def drop_k_rules(point, options):
    """The segment, then its own next k retransmissions: those at its sequence number (a
    retransmission of another segment is no part of this loss). A segment whose sequence
    number is not known (no SYN of its sender in its connection) is dropped once."""
    k = options.get("drop_k", DROP_K)
    if point.relative_seq is None:
        return [once(point, "drop")]
    again = {"role": f"{point.role}|RETRANSMISSION", "sent_by": point.sender, "relative_seq": point.relative_seq}
    return [once(point, "drop"),
            {"action": "drop", "match": again, "nth": point.retransmissions_before + 1, "count": k}]


def everywhere(point, options):
    return True


def crafted_rst_applies(point, options):
    # The receiver must have a connection whose sequence space the crafted segment uses:
    # not before the SYN-ACK, not after an RST.
    return point.role not in ("SYN", "RST")


def crafted_syn_applies(point, options):
    # A SYN in a synchronized connection (RFC 9293 3.10.7.4, RFC 5961 4): after the handshake.
    return point.role not in ("SYN", "SYN_ACK", "RST")


REGISTRY = {}


def register(fault):
    if fault.name in REGISTRY:
        raise ValueError(f"fault {fault.name!r} is registered twice")
    REGISTRY[fault.name] = fault
    return fault


register(Fault("drop", "lose the segment once (its retransmission passes)", everywhere,
               lambda p, o: [once(p, "drop")]))
register(Fault("drop-k", "lose the segment and its own next k retransmissions (k = --drop-k, 3 by default)",
               everywhere, drop_k_rules))
register(Fault("duplicate", "let it pass, then a copy of it", everywhere,
               lambda p, o: [once(p, "duplicate", copies=1)]))
register(Fault("delay-short", f"let it go {DELAY_SHORT_S * 1000:.0f} ms late (a fraction of an RTO)", everywhere,
               lambda p, o: [once(p, "delay", by=DELAY_SHORT_S)]))
register(Fault("delay-long", f"let it go {DELAY_LONG_S:.0f} s late (several RTOs: retransmitted before it arrives)",
               everywhere, lambda p, o: [once(p, "delay", by=DELAY_LONG_S)]))
register(Fault("swap", "hold it until its sender's next segment has passed (at most 1 s)",
               lambda p, o: p.has_later_from_sender,
               lambda p, o: [once(p, "hold", after=1, max=SWAP_MAX_S)]))
register(Fault("rst", "as it passes, an RST toward its receiver at the receiver's rcv_nxt, as if its sender sent it",
               crafted_rst_applies, lambda p, o: [once(p, "inject_on", toward=p.receiver, flags="R")]))
register(Fault("syn", "as it passes, a SYN toward its receiver at rcv_nxt, as if its sender sent it",
               crafted_syn_applies, lambda p, o: [once(p, "inject_on", toward=p.receiver, flags="S")]))


def names():
    return list(REGISTRY)


def parse(text):
    """--faults: a comma list of registered names ("all" or None: every one), in the
    registry's order. Raises ValueError saying which names are unknown."""
    if text in (None, "", "all"):
        return names()
    wanted = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in REGISTRY]
    if unknown or not wanted:
        raise ValueError(f"--faults: unknown fault {', '.join(unknown) or '(none given)'}; "
                         f"choose among {', '.join(names())} (comma-separated) or all")
    return [n for n in names() if n in wanted]
