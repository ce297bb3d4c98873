"""The rules a run no one wrote assertions for is judged by, each with its RFC basis.

judge(record, events) -> [Violation]: `record` is the plugin's JSON line of one run
(tcpfault.explore.plugin), `events` its timeline's events (docs/artifacts.md). The case's
own assertions are judged apart (breaks()): which of them a fault breaks.
"""

from dataclasses import dataclass
from typing import Callable

from .replay import OPEN, REST, RETRANSMITTING
SYNCHRONIZED = ("ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT")
ANSWER_MS = 20.0  # an RST this soon after a segment reached its sender is taken as the answer to it


@dataclass(frozen=True)
class Violation:
    rule: str
    what: str

    def as_json(self):
        return {"rule": self.rule, "what": self.what}


@dataclass(frozen=True)
class Rule:
    name: str
    says: str
    basis: str
    check: Callable  # (record, events) -> [str]


# ---- bytes ----

def byte_counts(calls):
    """{host: {"sent", "received", "eof", "errors"}} from the calls' results."""
    out = {h: {"sent": 0, "received": 0, "eof": False, "errors": []} for h in ("client", "server")}
    for call in calls:
        host = out.setdefault(call["host"], {"sent": 0, "received": 0, "eof": False, "errors": []})
        name = call["call"].split("(", 1)[0]
        if call["errno"]:
            host["errors"].append(f"{name}: {call['errno']}")
        elif name == "send":
            host["sent"] += call["result"]
        elif name in ("recv", "recv_exactly"):
            host["received"] += call["result"]
            host["eof"] |= call["result"] == 0
    return out


def check_bytes(record, events):
    counts = byte_counts(record.get("calls", []))
    errors = [e for c in counts.values() for e in c["errors"]]
    found = []
    for sender, receiver in (("client", "server"), ("server", "client")):
        sent, got = counts[sender]["sent"], counts[receiver]["received"]
        if got > sent:
            found.append(f"{receiver} received {got} bytes, {sender} sent {sent}: bytes delivered twice")
        elif counts[receiver]["eof"] and got < sent and not errors:
            found.append(f"{receiver} read end-of-file after {got} of the {sent} bytes {sender} sent, and no call "
                         "reported an error: bytes lost silently")
    return found


# ---- rest ----

BACKOFF_SLACK = 2.5  # the next retransmission is due within twice the last gap (backoff), and a margin


def backoff_gap_ms(events, host):
    """The last interval between two transmissions of the same thing by `host` (a
    retransmission and what it repeats, or two retransmissions): the RTO its backoff had
    reached, as the wire shows it. None when it never retransmitted."""
    sent = [e for e in events if e.get("type") == "segment" and e.get("from") == host]
    retransmissions = [e for e in sent if "RETRANSMISSION" in (e.get("roles") or "").split("|")]
    if len(retransmissions) >= 2:
        return retransmissions[-1]["t_ms"] - retransmissions[-2]["t_ms"]
    if retransmissions:
        last = retransmissions[-1]
        same = [e for e in sent if e["t_ms"] < last["t_ms"] and e.get("seq") == last.get("seq")
                and e.get("flags") == last.get("flags")]
        return last["t_ms"] - same[-1]["t_ms"] if same else None
    return None


def check_rest(record, events):
    """An end in a retransmitting state is stuck when it has been silent longer than its
    timers allow: past the settle when it never retransmitted, else past BACKOFF_SLACK
    times the last interval its backoff showed (RFC 6298 5.5: the RTO doubles)."""
    found = []
    limit = record.get("settle_limit_s", 0)
    for end in record.get("ends", []):
        state = end["state"]
        if state in REST + OPEN or state not in RETRANSMITTING:
            continue  # FIN_WAIT2 waits for the peer's FIN (tcp_fin_timeout): pending, not stuck
        quiet = record.get("sent_while_settling", {}).get(end["host"], 0) == 0
        if not quiet or record.get("settled_s", 0) < limit:
            continue
        gap = backoff_gap_ms(events, end["host"])
        sent = [e["t_ms"] for e in events if e.get("type") == "segment" and e.get("from") == end["host"]]
        if gap is not None and sent and record.get("settle_end_ms") is not None:
            silent = record["settle_end_ms"] - sent[-1]
            if silent <= BACKOFF_SLACK * gap:
                continue  # its next retransmission is not due yet: pending
            found.append(f"{end['end']} {end['local']} stuck in {state}: silent {silent / 1000:.1f} s, though its "
                         f"backoff had reached {gap / 1000:.1f} s between retransmissions")
        else:
            found.append(f"{end['end']} {end['local']} stuck in {state}: nothing sent in the {limit:g} s settle, "
                         "though its retransmission timer should have fired")
    return found


def pending(record, events):
    """Ends not at rest after the settle that no rule calls stuck (a timer still running)."""
    stuck = check_rest(record, events)
    return [f"{e['end']} in {e['state']}" for e in record.get("ends", [])
            if e["state"] not in REST + OPEN and not any(f"{e['end']} {e['local']} stuck" in v for v in stuck)]


# ---- states ----

def check_states(record, events):
    wire = record.get("wire", {})
    if wire.get("unexplained"):
        lines = [line.strip() for line in wire.get("text", "").splitlines() if "unexplained" in line.lower()]
        return [f"{wire['unexplained']} step(s) of the stacks' states disagree with the wire, no known cause: "
                + ("; ".join(lines[:3]) or "see the record's wire text")]
    return []


# ---- segments no rule calls for ----

def _state_at(events, host, t_ms):
    state = None
    for e in events:
        if e.get("type") == "transition" and e["host"] == host and e["t_ms"] <= t_ms and not e["remote"].endswith(":0"):
            state = e["to"]
    return state


def check_rst(record, events):
    found = []
    segments = [e for e in events if e.get("type") == "segment"]
    for index, rst in enumerate(segments):
        if rst["from"] not in ("client", "server") or "R" not in rst.get("flags", ""):
            continue
        before = [s for s in segments[:index] if s.get("to") == rst["from"] and s.get("delivered_ms") is not None
                  and rst["t_ms"] - s["delivered_ms"] <= ANSWER_MS]
        if not before:
            continue
        trigger = before[-1]
        roles = set((trigger.get("roles") or "").split("|"))
        state = _state_at(events, rst["from"], rst["t_ms"])  # as the RST left: a socket gone by then is CLOSED
        if roles & {"COPY", "RETRANSMISSION"} and "RST" not in roles and state in SYNCHRONIZED:
            found.append(f"{rst['from']} sent an RST (segment #{rst['id']}) in {state} in answer to segment "
                         f"#{trigger['id']} ({trigger.get('roles')}), a repeat it should acknowledge or ignore")
    return found


RULES = (
    Rule("bytes", "the application's bytes arrive once each, or a call reports an error",
         "RFC 9293 3.4 and 3.10.7.4 (sequence numbers: reliable, duplicate-free delivery); 3.10.7.4 and 3.10.4 "
         "(a reset or an abort is signalled to the user). Counts from the calls' results; the bytes' content is "
         "the case's own assertions' to check", check_bytes),
    Rule("rest", "every end reaches CLOSED, TIME_WAIT or LISTEN, or keeps retransmitting while it cannot",
         "RFC 9293 3.3.2 (the state machine), 3.8.1 and RFC 6298 5 (the retransmission timer runs while anything "
         "is unacknowledged, its RTO doubling); an end in SYN_SENT, SYN_RECV, FIN_WAIT1, CLOSING or LAST_ACK "
         "that sent nothing during the whole settle (--settle) is stuck when it never retransmitted, or when "
         "its silence exceeds 2.5 times the last interval its own backoff showed; otherwise it is pending. "
         "FIN_WAIT2 waits for the peer's FIN (tcp_fin_timeout) and is reported pending, not stuck",
         check_rest),
    Rule("states", "the states a stack reports follow from the segments on the wire",
         "RFC 9293 3.3.2 (figure 5): the wire-inferred states (net.compare_wire_states) against the stack's; "
         "a disagreement no known cause explains", check_states),
    Rule("unsolicited-rst", "no RST in answer to a repeated segment in a synchronized state",
         "RFC 9293 3.10.7.4, first check (sequence number): in a synchronized state an unacceptable segment is "
         "answered with an ACK, a duplicate of an acceptable one is processed; in TIME_WAIT a retransmitted FIN "
         "is acknowledged and 2 MSL restarted. An RST sent within 20 ms of a COPY or RETRANSMISSION reaching "
         "its sender, in such a state, is flagged", check_rst),
)


def judge(record, events):
    if record.get("outcome") == "skipped" or record.get("acted") is False:
        return []
    return [Violation(rule.name, what) for rule in RULES for what in rule.check(record, events)]


def breaks(record, clean):
    """The case's assertion this variant broke (its failure's first line), or '' when it
    did not (the case passed, or failed the same way without the fault)."""
    if record.get("outcome") in ("passed", "skipped") or record.get("acted") is False:
        return ""
    if clean and clean.get("outcome") == record.get("outcome") and clean.get("failure") == record.get("failure"):
        return ""
    return record.get("failure") or record.get("outcome", "")
