"""A conversation: the segments the two stacks sent in one clean run, each named by its
sender, its primary role and its ordinal among that sender's segments of that role
("server FIN #1"). Read from a timeline JSON (docs/artifacts.md, tcpfault-timeline/2).

The ordinal counts what a fault rule counts: the sender's segments that play the role and
are not RETRANSMISSIONs, from the first segment of the scenario. So a rule
`Match(FIN, sent_by="server", not_role=RETRANSMISSION)` with nth=1 acts on "server FIN #1".
Segments the middlebox made (copies, crafted ones) are not part of the conversation.
"""

import json
from dataclasses import dataclass, field

# The role that names a segment: the first of these it plays (a SYN-ACK's, a FIN that
# also acknowledges the peer's FIN is a FIN, a pure ACK that is the final ACK a FINAL_ACK).
PRIMARY_ROLES = ("SYN_ACK", "SYN", "RST", "FIN", "HANDSHAKE_ACK", "FINAL_ACK", "ACK_OF_FIN",
                 "KEEPALIVE", "WINDOW_PROBE", "DATA", "PURE_ACK")
STACKS = ("client", "server")


@dataclass(frozen=True)
class Point:
    """One segment a stack sent, as a place to put a fault."""
    sender: str           # client or server
    role: str             # its primary role
    ordinal: int          # among the sender's non-retransmitted segments of that role, from 1
    segment_id: int       # its id in the clean run's timeline
    flags: str
    payload_len: int
    t_ms: float
    # Its sequence number relative to its sender's ISN in its connection (as a Match's
    # relative_seq); None where no SYN of its sender was seen there.
    relative_seq: int | None
    # The sender's retransmissions of this role at the same relative_seq before it: what
    # drop-k's rule on its own retransmissions counts on.
    retransmissions_before: int
    has_later_from_sender: bool  # a later segment of the same sender exists (swap applies)

    @property
    def name(self):
        return f"{self.sender} {self.role} #{self.ordinal}"

    @property
    def key(self):
        """The point's part of a variant id: server.FIN.1."""
        return f"{self.sender}.{self.role}.{self.ordinal}"

    @property
    def receiver(self):
        return "server" if self.sender == "client" else "client"


@dataclass
class Conversation:
    points: list                  # every Point, in arrival order
    segments: int = 0             # the stacks' segments in the clean run (retransmissions too)
    retransmissions: int = 0
    unnamed: int = 0              # segments with no primary role (never a fault's place)
    left_out: list = field(default_factory=list)  # points a bulk limit left out
    limit: int = 0                # first/last N of each sender's points of one role; 0: no limit

    def selected(self):
        left_out = set(self.left_out)  # a bulk conversation has thousands of points
        return [p for p in self.points if p not in left_out]


def primary_role(roles):
    names = set(roles.split("|")) if roles else set()
    for role in PRIMARY_ROLES:
        if role in names:
            return role
    return None


def relative_seqs(segments):
    """Each segment's sequence number relative to its sender's ISN (the first SYN it sent in
    that connection), as the engine's relative_seq counts it; None before such a SYN, or on
    no connection the middlebox knew (connection 0)."""
    isns, out = {}, []
    for event in segments:
        key = (event.get("connection"), event["from"])
        if event.get("connection") and "S" in event.get("flags", "") and "seq" in event:
            isns.setdefault(key, event["seq"])
        out.append((event["seq"] - isns[key]) % 2**32 if key in isns and "seq" in event else None)
    return out


def from_events(events, limit=0):
    """The conversation of a timeline's events (a list of dicts). `limit` > 0 keeps, of
    each sender's points of one role, only the first and last `limit`: a bulk transfer's
    thousands of DATA and PURE_ACK segments (or the RSTs its closing draws) become a few,
    and a conversation that repeats no role more than 2 x `limit` times keeps every point."""
    segments = [e for e in events if e.get("type") == "segment" and e.get("from") in STACKS
                and "COPY" not in (e.get("roles") or "").split("|")]
    counts, retransmitted, points = {}, {}, []
    unnamed = retransmissions = 0
    last_of = {e["from"]: index for index, e in enumerate(segments)}  # each sender's last segment
    for index, (event, relative_seq) in enumerate(zip(segments, relative_seqs(segments))):
        roles = set((event.get("roles") or "").split("|"))
        role = primary_role(event.get("roles") or "")
        if "RETRANSMISSION" in roles:
            retransmissions += 1
            for r in roles - {"RETRANSMISSION"}:
                key = (event["from"], r, relative_seq)
                retransmitted[key] = retransmitted.get(key, 0) + 1
            continue
        for r in roles:  # what a rule matching role r counts
            counts[(event["from"], r)] = counts.get((event["from"], r), 0) + 1
        if role is None:
            unnamed += 1
            continue
        points.append(Point(event["from"], role, counts[(event["from"], role)], event["id"], event.get("flags", ""),
                            event.get("payload_len", 0), event.get("t_ms", 0.0), relative_seq,
                            retransmitted.get((event["from"], role, relative_seq), 0), last_of[event["from"]] > index))
    conversation = Conversation(points, len(segments), retransmissions, unnamed, [], limit)
    if limit > 0:
        for sender in STACKS:
            for role in PRIMARY_ROLES:
                same = [p for p in points if p.sender == sender and p.role == role]
                conversation.left_out += same[limit:-limit] if len(same) > 2 * limit else []
    return conversation


def read(path, limit=0):
    with open(path) as f:
        timeline = json.load(f)
    return from_events(timeline.get("events", []), limit)
