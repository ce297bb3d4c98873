"""What the machine, not the fault, decided in a run: a case's check and the wire a
fraction of a millisecond apart (net.close_calls), and two events of two parties whose
order no one chose (two timers that fired together, a crafted segment and what its
receiver sent meanwhile). A reproducer whose run went the other way of one of these skips,
saying so (tcpfault.explore.expectations.check), and the differential view counts a verdict
a close call decided as raced.
"""

from . import replay

# A check decided within this of the segment or state change that would have turned its
# verdict was decided by which of the test's thread and the wire came first (net.close_calls).
CLOSE_CALL_S = 0.002


def failed_at(failure, call):
    """Whether a failure's first line is the close call's check failing (numbers masked)."""
    return replay.masked(failure).startswith(replay.masked("expectation failed: " + call["check"]))


def deciding_close_call(result, close_calls):
    """The close call (net.close_calls) that decided the case's verdict, if one did: of a
    failure, the failing check's own (the event came just before it looked); of a pass, the
    first passed check's (an event just after it would have failed it)."""
    if result.get("outcome") == "passed":
        return next((c for c in close_calls if c["passed"]), None)
    return next((c for c in close_calls if not c["passed"] and failed_at(result.get("failure", ""), c)), None)


def lost_race(expected, result, close_calls):
    """Why this run's verdict is the other side of a race from the recorded one, or None:
    it passed the check the recorded run failed on a fraction of a millisecond before the
    event that failed it there (whatever it did next), or its own failing check met its
    event a fraction of a millisecond before it looked."""
    if close_calls is None:
        return None
    call = next((c for c in close_calls if c["passed"] and expected["failure"] and failed_at(expected["failure"], c)),
                None)
    if call is None and result["outcome"] != "passed":
        call = deciding_close_call(result, close_calls)
    if call is None:
        return None
    side = "passed before" if call["passed"] else "failed on"
    return (f"the case's verdict was a race this run went the other way: '{call['check']}' {side} "
            f"{call['event']} {call['gap_ms']:.3f} ms apart (the recorded run {expected['outcome']}"
            f"{': ' + expected['failure'] if expected['failure'] else ''}); what the fault did is judged on a "
            "run whose verdict went the recorded way: run it again")


# Segments whose order against another party's decides how a close or a handshake goes.
DECIDING = ("SYN", "SYN_ACK", "FIN")


def _tie_events(net):
    """(ms, party, what, kind of event, the end a crafted segment went to) of every event
    wire_ties() pairs."""
    events = []
    for segment in net.trace.segments():
        host = segment.sent_by.name.lower()
        roles = str(segment.roles).split("|")
        fate = str(segment.fate)
        if host in ("client", "server") and any(r in DECIDING for r in roles):
            retransmission = "RETRANSMISSION" in roles
            kind = replay.kind_of(segment)
            events.append((segment.arrived_ms, host, kind, "timer" if retransmission else "sent", None))
        if segment.released_ms is not None and "time is up" in fate:
            events.append((segment.released_ms, "middlebox", f"{replay.kind_of(segment)} let go", "timer", None))
        if host == "middlebox" and "crafted" in fate:
            to = segment.to.name.lower()
            events.append((segment.t_ms, "middlebox", f"the crafted {segment.flags} toward the {to}", "crafted", to))
    return sorted(events)


def _ties(a, b):
    """Whether two events of different parties race: two timers (a retransmission, a held
    segment let go at its limit) but two ends' first sends, which answer each other; or a
    crafted segment and what its receiver sent after it was crafted, perhaps before it met
    it (what the receiver sent before is what the crafted segment met)."""
    if a[1] == b[1]:
        return False
    for x, y in ((a, b), (b, a)):
        if x[3] == "crafted":
            return y[1] == x[4] and y[0] >= x[0]
    return "timer" in (a[3], b[3]) and (a[1] == "middlebox" or b[1] == "middlebox" or a[3] == b[3] == "timer")


def wire_ties(net, within=CLOSE_CALL_S):
    """Each pair of events of two parties within `within` seconds of each other whose order
    the machine decides: two timers that fired together (the two ends' SYN, SYN-ACK or FIN
    retransmissions: HS1's client SYN and server SYN-ACK timers, both 1 s and started 0.15 ms
    apart, end in the same clock tick; a held segment let go because its time was up, a
    swap's 1 s against the client's 1 s SYN timer), or a crafted segment and a SYN, SYN-ACK
    or FIN its receiver sent (CL5's RST behind the client's FIN and the server's own FIN as
    the test closes it). Times are when the middlebox received or let go each. ["client SYN
    RETRANSMISSION and server SYN_ACK RETRANSMISSION 0.121 ms apart", ...]"""
    events, out = _tie_events(net), []
    for i, a in enumerate(events):
        for b in events[i + 1:]:
            if b[0] - a[0] > within * 1000:
                break
            if _ties(a, b):
                out.append(f"{a[2]} and {b[2]} {b[0] - a[0]:.3f} ms apart")
    return out
