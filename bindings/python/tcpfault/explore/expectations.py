"""What a reproducer expects of its run, and how a run is compared with it: the case's
outcome and failure, and of the rest what the fault changed against every clean run (each
end's state as the test returned, along its course; the calls' errors; the kinds of
segment the fault made appear or vanish, counted to the settle's end).
"""

import pytest

from . import races, replay

# States the application holds an end in: where one run's end was in one of these as the
# test returned and another run's was elsewhere, the runs did different things (a reset, a
# close); between two closing states they may only have looked at different moments.
HELD = replay.OPEN + ("LISTEN",)


def expected(record, cleans):
    """What a reproducer asserts: the case's outcome and failure, and of the rest what the
    fault changed against every clean run (`cleans`, the target's clean runs; what some
    clean run shows too is not the fault's doing): every end's state as the test returned,
    unless some clean run's ends were on the same course (same_course: only looked
    at another moment); the calls' errors; the kinds of segment sent during the test that
    no clean run sent by its settle's end (must_see), and the kinds every clean run sent
    during its test that this one never sent (must_not_see). Kinds count to the settle's
    end: a test that returns sooner or later than the recorded one moves a retransmission
    across its end, not out of the run."""
    out = {"outcome": record["outcome"], "failure": record.get("failure", "")}
    ends = replay.end_states(record, "body_ends")
    if not any(same_course(ends, record.get("passed"), replay.end_states(c, "body_ends"), c.get("passed"))
               for c in cleans):
        out["body_ends"] = ends
        if record.get("passed") is not None:
            out["passed"] = {end: record["passed"][end] for end in sorted(by_end(ends))
                             if end in record["passed"]}
    if not any(replay.errnos(record) == replay.errnos(c) for c in cleans):
        out["errnos"] = replay.errnos(record)
    clean_sent = set().union(*(sent_kinds(c) for c in cleans))
    clean_always = set.intersection(*(body_kinds(c) for c in cleans)) if cleans else set()
    out["must_see"] = sorted(body_kinds(record) - clean_sent)
    out["must_not_see"] = sorted(clean_always - sent_kinds(record))
    return out


def tells_fault_apart(record, cleans):
    """Whether the expectations differ from the clean runs': only then can the reproducer
    fail when its fault is removed."""
    if not cleans:
        return True
    mine, clean = expected(record, cleans), cleans[0]
    return bool(mine["outcome"] != clean["outcome"] or "body_ends" in mine or "errnos" in mine or mine["must_see"]
                or mine["must_not_see"] or replay.masked(mine["failure"]) != replay.masked(clean.get("failure", "")))


def body_kinds(observed):
    """The kinds of segment a run sent during its test."""
    return {k for k, n in observed.get("kinds", {}).items() if n}


def sent_kinds(observed):
    """The kinds of segment a run sent by the end of its settle (by its test's end, for a
    record without them): a retransmission that a quicker test returned before still counts."""
    return {k for k, n in observed.get("settled_kinds", observed.get("kinds", {})).items() if n}


def verdict_differs(expected, result):
    """Whether the case's outcome, or its failure with the numbers masked, is not the recorded one."""
    return result["outcome"] != expected["outcome"] or bool(
        expected["failure"] and replay.masked(result["failure"]) != replay.masked(expected["failure"]))


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
    elif verdict_differs(expected, result):
        out.append(f"the case's test failed otherwise: {result['failure']!r}, expected {expected['failure']!r}")
    if "body_ends" in expected and not same_course(expected["body_ends"], expected.get("passed"),
                                                   replay.end_states(observed, "body_ends"), observed.get("passed")):
        out.append(f"states as the test returned {replay.end_states(observed, 'body_ends')}, "
                   f"expected {expected['body_ends']} (or later or earlier on the same course)")
    if "errnos" in expected and replay.errnos(observed) != expected["errnos"]:
        out.append(f"errors {replay.errnos(observed)}, expected {expected['errnos']}")
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
    # Without its fault (acted None) a reproducer must fail: no race excuses it.
    race = races.lost_race(expected, result, close_calls) if acted and verdict_differs(expected, result) else None
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
