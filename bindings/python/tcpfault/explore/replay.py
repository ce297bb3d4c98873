"""What a variant's run and a generated reproducer share: adding a fault rule from its
JSON form, running a test body so that its sockets close even when it fails, observing
the scenario afterwards (every end's final state after a bounded settle, the calls'
results and errnos, the kinds of segments each stack sent), and a reproducer's check.
"""

import errno
import gc
import re
import sys
import time
import traceback

import pytest

import tcpfault

from .conversation import primary_role

REST = ("CLOSED", "TIME_WAIT", "LISTEN")          # an end that needs nothing more (RFC 9293 3.3.2)
OPEN = ("ESTABLISHED", "CLOSE_WAIT")               # still open: the application never closed it
# States in which an end has something unacknowledged and its retransmission timer runs.
RETRANSMITTING = ("SYN_SENT", "SYN_RECV", "FIN_WAIT1", "CLOSING", "LAST_ACK")
# States the application holds an end in: where one run's end was in one of these as the
# test returned and another run's was elsewhere, the runs did different things (a reset, a
# close); between two closing states they may only have looked at different moments.
HELD = OPEN + ("LISTEN",)
BUDGET_SPENT = "not run: the --budget was spent"  # a variant tcpfault explore did not start
POLL_S = 0.02  # the trace has no wait for "every end at rest": the settle looks this often
# A check decided within this of the segment or state change that would have turned its
# verdict was decided by which of the test's thread and the wire came first (net.close_calls).
CLOSE_CALL_S = 0.002


# ---- rules ----

def _match(spec):
    keywords = {k: v for k, v in spec.items() if k != "role"}
    if "not_role" in keywords:
        keywords["not_role"] = tcpfault.Roles(keywords["not_role"])
    return tcpfault.Match(tcpfault.Roles(spec["role"]) if spec.get("role") else None, **keywords)


def add_rule(net, rule):
    """net.faults.<action>(Match, nth, count, **args) from a rule's JSON form
    (tcpfault.explore.faults); returns the engine's Rule."""
    args = {k: v for k, v in rule.items() if k not in ("action", "match", "primary")}
    action = getattr(net.faults, rule["action"])
    return action(_match(rule["match"]), **args)


# ---- the test body ----

def first_line(text):
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def masked(line):
    """A failure's first line with its numbers masked: what stays the same run after run."""
    return re.sub(r"\d+(\.\d+)?", "N", line)


def run_body(function, kwargs, at_return=None):
    """Calls the test function; returns {"outcome": passed|failed|error, "failure": first
    line, "exception": the exception (its frames cleared) or None}, and what `at_return()`
    (a dict) said as the function returned or raised: then its locals still hold their
    sockets, which close as the frame goes (what they send then is the case's tear-down,
    racing with any later look). The frames' locals are cleared after a failure so that the
    sockets close then too, as after a pass: what the ends do afterwards is the same kind of
    thing whatever the outcome."""
    code, said = getattr(function, "__code__", None), {}

    def profiler(frame, event, arg):
        if event == "return" and frame.f_code is code and not said:
            said.update(at_return() or {"at_return": True})

    previous = sys.getprofile()
    if at_return is not None and code is not None:
        sys.setprofile(profiler)
    try:
        function(**kwargs)
        return {"outcome": "passed", "failure": "", "exception": None, **said}
    except (AssertionError, tcpfault.Error) as failure:
        outcome = "failed" if isinstance(failure, (AssertionError, tcpfault.ExpectationFailed)) else "error"
        kept = failure
    except Exception as failure:  # noqa: BLE001 - any other exception is the test's error
        outcome, kept = "error", failure
    finally:
        sys.setprofile(previous)
    text = f"{type(kept).__name__}: {kept}" if outcome == "error" else str(kept)
    traceback.clear_frames(kept.__traceback__)
    kept.__traceback__ = None
    gc.collect()
    return {"outcome": outcome, "failure": first_line(text), "exception": kept, **said}


# ---- observing the scenario ----

def _end_label(host, remote):
    return f"{host} listener" if remote.endswith(":0") else host


def ends(net):
    """Every socket the trace saw a state of: [{"end", "host", "local", "remote", "state"}],
    every state change made before the call included (an agent's events may lag)."""
    net.catch_up_states()
    last = {}
    for t in net.trace.transitions():
        host = t.host.name.lower()
        last[(host, str(t.local), str(t.remote))] = t.new.name
    return [{"end": _end_label(h, r), "host": h, "local": l, "remote": r, "state": s}
            for (h, l, r), s in sorted(last.items())]


def passed_through(net):
    """{end: the states its sockets entered, sorted}: every state change so far, whatever
    the test's timing (a run whose test returned sooner meets the same ones later)."""
    net.catch_up_states()
    out = {}
    for t in net.trace.transitions():
        end = _end_label(t.host.name.lower(), str(t.remote))
        out.setdefault(end, set()).add(t.new.name)
    return {end: sorted(states) for end, states in sorted(out.items())}


def settle(net, seconds):
    """Waits up to `seconds` while any end is in a state its retransmission timer drives
    (what the oracle's rest rule judges) or the middlebox still holds a segment (a delay
    fault's segment is let go while the run is watched, not as the scenario ends, which
    would make the delay a drop); returns (ends, waited s). An end in FIN_WAIT2 waits for
    its peer, on a timer of minutes: it is not waited for."""
    started = time.monotonic()
    held_before = False
    while True:
        held = net.faults.stats.held_now > 0
        now = ends(net)
        waited = time.monotonic() - started
        # One more look after the last held segment went: the stack takes it a moment later.
        resting = not any(e["state"] in RETRANSMITTING for e in now) and not held and not held_before
        if resting or waited >= seconds:
            return now, waited
        held_before = held
        time.sleep(POLL_S)


def _kind(segment):
    roles = str(segment.roles).split("|")
    role = primary_role("|".join(r for r in roles if r != "RETRANSMISSION")) or "OTHER"
    return f"{segment.sent_by.name.lower()} {role}" + (" RETRANSMISSION" if "RETRANSMISSION" in roles else "")


def acted_on(net, handles):
    """Per rule handle, the kind of the first segment of a stack's it acted on ("client
    PURE_ACK"), None when it acted on none: the same variant id may meet another segment
    on another target (its third pure ACK is a FINAL_ACK there)."""
    out = []
    for handle in handles:
        by_it = re.compile(rf"\brule #{handle.id}\b")
        out.append(next((_kind(s) for s in net.trace.segments()
                         if s.sent_by.name.lower() in ("client", "server") and by_it.search(s.fate)), None))
    return out


def segment_kinds(net):
    """{"server FIN": 1, "server FIN RETRANSMISSION": 1, ...}: what each stack sent."""
    out = {}
    for segment in net.trace.segments():
        if segment.sent_by.name.lower() in ("client", "server") and "COPY" not in str(segment.roles):
            kind = _kind(segment)
            out[kind] = out.get(kind, 0) + 1
    return out


def calls(net):
    """The calls: [{"host", "call", "result", "errno"}] ("errno" a name, "" when none)."""
    return [{"host": c.host.name.lower(), "call": c.call, "result": c.result,
             "errno": errno.errorcode.get(c.errno, str(c.errno)) if c.result < 0 else ""}
            for c in net.trace.calls()]


def sent_during(net, hosts, since_count):
    """Segments each host sent after the first `since_count[host]` it had sent."""
    out = {}
    for host in hosts:
        out[host] = len(net.trace.segments(tcpfault.Match(sent_by=host))) - since_count.get(host, 0)
    return out


def observe(net, settle_s, body_kinds, body_ends):
    """What a variant's run shows after its test body: the ends after at most `settle_s` of
    settling, how long that took, what each host sent meanwhile, the calls, and the kinds of
    segment sent up to the body's end (`body_kinds`, segment_kinds() taken then: what the
    sockets the body leaves open send as they close at once is a race the case leaves open,
    which end's FIN goes first), every end's state as the body returned (`body_ends`), and,
    as the settle ended, the kinds sent in all (`settled_kinds`) and the states each end
    passed through (`passed`)."""
    before = {h: len(net.trace.segments(tcpfault.Match(sent_by=h))) for h in ("client", "server")}
    final, waited = settle(net, settle_s)
    return {"ends": final, "settled_s": round(waited, 3), "settle_limit_s": settle_s,
            "settle_end_ns": time.monotonic_ns(),  # on the timeline's clock (its monotonic_origin_ns)
            "sent_while_settling": sent_during(net, ("client", "server"), before),
            "calls": calls(net), "kinds": body_kinds, "body_ends": body_ends,
            "settled_kinds": segment_kinds(net), "passed": passed_through(net)}


# ---- a reproducer's check ----

def _failed_at(failure, call):
    """Whether a failure's first line is the close call's check failing (numbers masked)."""
    return masked(failure).startswith(masked("expectation failed: " + call["check"]))


def deciding_close_call(result, close_calls):
    """The close call (net.close_calls) that decided the case's verdict, if one did: of a
    failure, the failing check's own (the event came just before it looked); of a pass, the
    first passed check's (an event just after it would have failed it)."""
    if result.get("outcome") == "passed":
        return next((c for c in close_calls if c["passed"]), None)
    return next((c for c in close_calls if not c["passed"] and _failed_at(result.get("failure", ""), c)), None)


def _lost_race(expected, result, close_calls):
    """Why this run's verdict is the other side of a race from the recorded one, or None:
    it passed the check the recorded run failed on a fraction of a millisecond before the
    event that failed it there (whatever it did next), or its own failing check met its
    event a fraction of a millisecond before it looked."""
    if close_calls is None:
        return None
    call = next((c for c in close_calls if c["passed"] and expected["failure"] and _failed_at(expected["failure"], c)),
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
            events.append((segment.arrived_ms, host, _kind(segment), "timer" if retransmission else "sent", None))
        if getattr(segment, "released_ms", None) is not None and "time is up" in fate:
            events.append((segment.released_ms, "middlebox", f"{_kind(segment)} let go", "timer", None))
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


def end_states(observed, key="ends"):
    return sorted(f"{e['end']} {e['state']}" for e in observed.get(key, []))


def errnos(observed):
    return sorted({f"{c['host']} {c['call'].split('(', 1)[0]}: {c['errno']}" for c in observed["calls"] if c["errno"]})


def sent_kinds(observed):
    """The kinds of segment a run sent by the end of its settle (by its test's end, for a
    record without them): a retransmission that a quicker test returned before still counts."""
    kinds = observed.get("settled_kinds", observed.get("kinds", {}))
    return {k for k, n in kinds.items() if n}


def by_end(states):
    out = {}
    for item in states:
        end, state = item.rsplit(" ", 1)
        out.setdefault(end, []).append(state)
    return {end: sorted(s) for end, s in out.items()}


def same_course(states, passed, other_states, other_passed):
    """Whether two runs' ends, as their tests returned (end_states lists), differ only in when
    the test looked: for every end whose state differs, neither state is one the application
    holds (HELD) and each run's end also passed through the other's state (`passed`, as
    passed_through() gives). A test that returns sooner than the recorded one meets a closing
    end before its retransmission timer fired, one that returns later meets it after: the
    same course. Without `passed` (None) the states must be the same."""
    mine, theirs = by_end(states), by_end(other_states)
    for end in sorted(set(mine) | set(theirs)):
        a, b = mine.get(end, []), theirs.get(end, [])
        if a == b:
            continue
        if passed is None or other_passed is None or len(a) != len(b) or any(s in HELD for s in a + b):
            return False
        if not (set(a) <= set(other_passed.get(end, ())) and set(b) <= set(passed.get(end, ()))):
            return False
    return True


def problems(expected, result, observed):
    """Every way a run (its test's result, and what observe() saw) differs from `expected`
    (a reproducer's record of what the target did under its fault): the case's outcome and
    failure (numbers masked); where the fault changed them, every end's state as the test
    returned (on the same course: same_course) and the calls' errors; and the kinds of
    segment the fault made appear or vanish, counted to the settle's end."""
    out = []
    if result["outcome"] != expected["outcome"]:
        out.append(f"the case's test {result['outcome']} ({result['failure'] or 'no failure'}), "
                   f"expected {expected['outcome']} ({expected['failure'] or 'no failure'})")
    elif expected["failure"] and masked(result["failure"]) != masked(expected["failure"]):
        out.append(f"the case's test failed otherwise: {result['failure']!r}, expected {expected['failure']!r}")
    if "body_ends" in expected and not same_course(expected["body_ends"], expected.get("passed"),
                                                   end_states(observed, "body_ends"), observed.get("passed")):
        out.append(f"states as the test returned {end_states(observed, 'body_ends')}, "
                   f"expected {expected['body_ends']} (or later or earlier on the same course)")
    if "errnos" in expected and errnos(observed) != expected["errnos"]:
        out.append(f"errors {errnos(observed)}, expected {expected['errnos']}")
    kinds = sent_kinds(observed)
    missing = [k for k in expected["must_see"] if k not in kinds]
    extra = [k for k in expected["must_not_see"] if k in kinds]
    if missing:
        out.append(f"no {', '.join(missing)} sent (the fault's effect)")
    if extra:
        out.append(f"{', '.join(extra)} sent (the fault's effect is that none is)")
    return out


def check(expected, result, observed, acted=None, close_calls=None, ties=None):
    """Raises AssertionError listing every way this run differs from `expected` (problems()).
    `acted` is False when the fault's rule matched nothing (checked unless None: with the
    fault removed). `close_calls` (net.close_calls(CLOSE_CALL_S)): when the case's verdict
    differs and a close call decided it (_lost_race), the test is skipped, saying so: the
    verdict is a race between the test's checks and the wire, and what the test saw as it
    returned went with it. `ties` (wire_ties()): when this run differs and two events of
    two parties whose order the machine decides came together (two timers, a crafted
    segment and its receiver's FIN), the test is skipped the same way."""
    found = []
    if acted is False:
        found.append("the fault's rule never acted: the conversation did not reach its segment")
    verdict_differs = result["outcome"] != expected["outcome"] or (
        expected["failure"] and masked(result["failure"]) != masked(expected["failure"]))
    # Without its fault (acted None) a reproducer must fail: no race excuses it.
    race = _lost_race(expected, result, close_calls) if verdict_differs and acted else None
    if race:
        pytest.skip(race)
    differs = problems(expected, result, observed)
    if differs and acted and ties:
        pytest.skip(f"two events whose order the machine decides came together ({'; '.join(ties)}), and this "
                    f"run went otherwise than the recorded one ({'; '.join(differs)}): which went first is a "
                    "race the fault leaves open; run it again")
    found += differs
    if found:
        raise AssertionError("the target no longer does what it did under this fault:\n  " + "\n  ".join(found))
