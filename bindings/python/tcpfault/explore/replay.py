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
BUDGET_SPENT = "not run: the --budget was spent"  # a variant tcpfault explore did not start
POLL_S = 0.02  # the trace has no wait for "every end at rest": the settle looks this often


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
    """{end: the states its sockets entered, sorted}: every state change the trace holds,
    whatever the test's timing (a run whose test returned sooner meets the same ones later).
    Read after ends() or settle(), which catch the trace up."""
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


def kind_of(segment):
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
        out.append(next((kind_of(s) for s in net.trace.segments()
                         if s.sent_by.name.lower() in ("client", "server") and by_it.search(s.fate)), None))
    return out


def segment_kinds(net):
    """{"server FIN": 1, "server FIN RETRANSMISSION": 1, ...}: what each stack sent."""
    out = {}
    for segment in net.trace.segments():
        if segment.sent_by.name.lower() in ("client", "server") and "COPY" not in str(segment.roles):
            kind = kind_of(segment)
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


def end_states(observed, key="ends"):
    return sorted(f"{e['end']} {e['state']}" for e in observed.get(key, []))


def errnos(observed):
    return sorted({f"{c['host']} {c['call'].split('(', 1)[0]}: {c['errno']}" for c in observed["calls"] if c["errno"]})
