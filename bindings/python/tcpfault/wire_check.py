"""The wire-inferred states against the stacks' own, over a whole pytest run.

With ``--tcpfault-wire-states FILE`` the pytest plugin compares, at the teardown of every
test that used ``net``, the states the wire shows with those each stack recorded
(``net.compare_wire_states()``): the kernel's observer on a kernel side, the state events
on an agent's side (an agent without them has only the wire's states: nothing to
compare), and appends one JSON line per test to FILE, with the target it ran on. xdist
workers append to the same file under a lock. ``tcpfault wire-states-report
FILE`` (or :func:`report`) sums them up: per case, the steps that agree, the
disagreements by cause, and the unexplained ones in full. On an agent's records the
report names the stack by its target ("gvisor-only" where a kernel's say "kernel-only").
"""

import collections
import fcntl
import json
import os
import re

import pytest

from tcpfault import exit_codes

RECORD_VERSION = 1
# Right after a test's last call a segment may still be on its way to the middlebox, or
# a kernel step not read yet: an unexplained disagreement waits this long to settle.
SETTLE_S = 2.0


def _ms(value):
    return None if value is None else round(value, 3)


def _step(step):
    out = {
        "agreement": step.agreement,
        "from": step.old.name,
        "to": step.new.name,
        "kernel_t_ms": _ms(step.kernel_t_ms),
        "wire_t_ms": _ms(step.wire_t_ms),
    }
    if step.kernel_source:
        out["kernel_source"] = step.kernel_source
    if step.wire_t_ms is not None:
        out["wire_segment"] = step.wire_segment
        out["wire_reason"] = step.wire_reason
    if step.cause is not None:
        out["cause"] = step.cause
        out["explanation"] = step.explanation
    return out


def _end(end):
    return {
        "end": end.end if end.on_wire else None,
        "host": end.host.name.lower(),
        "stack": end.stack,
        "local": f"{end.local}",
        "remote": f"{end.remote}",
        "kernel_sockets": end.kernel_sockets,
        "steps": [_step(s) for s in end.steps],
    }


def comparison_record(comparison):
    """A WireStateComparison as plain data (what one JSON line holds besides the test)."""
    return {
        "agreements": comparison.agreements,
        "disagreements": comparison.disagreements,
        "unexplained": comparison.unexplained,
        "connections": [
            {"id": c.id, "ends": [_end(c.opener), _end(c.acceptor)]} for c in comparison.connections
        ],
        "kernel_only_sockets": [_end(e) for e in comparison.kernel_only_sockets],
        "text": str(comparison),
    }


def observer_record(trace):
    """Which state observer recorded the kernel's steps, and any step from a state to itself
    (none may be: a step that changes no state is written as a note)."""
    notes = [n for n in trace.notes() if n.startswith("state observer: ")]
    same = [f"{t.host.name.lower()} {t.local}: {t.old.name} -> {t.new.name} ({t.source})"
            for t in trace.transitions() if t.old == t.new]
    return {"observer": notes[0].split(" ")[2] if notes else None, "same_state_steps": same}


def append_record(path, record):
    """One JSON line, appended under an exclusive lock (xdist workers share the file)."""
    line = json.dumps(record, sort_keys=True) + "\n"
    with open(path, "a") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        try:
            out.write(line)
            out.flush()
        finally:
            fcntl.flock(out, fcntl.LOCK_UN)


def _case_of(item):
    marker = item.get_closest_marker("case")
    if marker is None:
        return None
    return marker.kwargs.get("id", (list(marker.args) + [None])[0])


def _family_of(nodeid):
    match = re.search(r"\[(?:.*-)?(IPv[46])(?:-.*)?\]$", nodeid)
    return match.group(1) if match else None


class Recorder:
    """A pytest plugin: at each test's teardown, before the `net` fixture closes the
    scenario, compares and appends the record."""

    def __init__(self, path):
        self.path = path

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call":
            item._tcpfault_wire_outcome = report.outcome

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item):
        net = getattr(item, "_tcpfault_net", None)
        if net is not None and not net.closed:
            record = {
                "version": RECORD_VERSION,
                "target": item.config.getoption("tcpfault_target", default="kernel"),
                "test": item.nodeid,
                "case": _case_of(item),
                "family": _family_of(item.nodeid),
                "outcome": getattr(item, "_tcpfault_wire_outcome", "not run"),
            }
            try:
                record.update(comparison_record(net.compare_wire_states(settle=SETTLE_S)))
                record.update(observer_record(net.trace))
            except Exception as error:  # noqa: BLE001 - a broken comparison is reported, not hidden
                record["error"] = f"{type(error).__name__}: {error}"
            append_record(self.path, record)
        yield


def configure(config, path):
    """Called by the plugin's pytest_configure with the option's value."""
    if path is None:
        return
    path = os.path.abspath(path)
    if not hasattr(config, "workerinput"):
        # The controller (or a run without xdist) starts the file; workers append.
        open(path, "w").close()
    config.pluginmanager.register(Recorder(path), "tcpfault-wire-states")


# ---- the report ----


def read_records(path):
    records = []
    with open(path) as lines:
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise exit_codes.usage("wire-states-report", f"{path}:{number}: not a JSON record ({error})") from None
    return records


def _disagreements(record):
    for connection in record.get("connections", []):
        for end in connection["ends"]:
            for step in end["steps"]:
                if step["agreement"] != "agree":
                    yield connection["id"], end, step
    for end in record.get("kernel_only_sockets", []):
        for step in end["steps"]:
            yield None, end, step


def stack_name(records):
    """Whose record the wire was compared with: "kernel", the agent target's name when all
    records are of one agent target ("gvisor"), else "stack"."""
    targets = {r.get("target", "kernel") for r in records}
    if targets == {"kernel"} or not targets:
        return "kernel"
    return targets.pop() if len(targets) == 1 else "stack"


def _agreement(step, stack):
    """'kernel-only' in a record is the compared stack's step: 'gvisor-only' on gVisor's."""
    return f"{stack}-only" if step["agreement"] == "kernel-only" else step["agreement"]


def _row_key(record):
    """A case's row, or for a test without a case (a control) its name without the family."""
    if record.get("case"):
        return record["case"]
    name = record["test"].split("::")[-1]
    return re.sub(r"\[(IPv[46])\]$", "", name)


def summarise(records):
    """Per case and in total: tests, connections, steps that agree, disagreements by cause."""
    cases = collections.OrderedDict()
    totals = collections.Counter()
    causes = collections.Counter()
    examples = {}
    unexplained = []
    errors = []
    offsets = []  # (wire - kernel time in ms, test, end, step) of each agreeing step
    for record in sorted(records, key=lambda r: (r.get("case") or "~", r["test"])):
        key = _row_key(record)
        row = cases.setdefault(key, {"tests": 0, "connections": 0, "agree": 0, "disagree": 0,
                                     "causes": collections.Counter()})
        row["tests"] += 1
        totals["tests"] += 1
        if "error" in record:
            errors.append(record)
            continue
        connections = len(record["connections"])
        row["connections"] += connections
        totals["connections"] += connections
        row["agree"] += record["agreements"]
        totals["agree"] += record["agreements"]
        for connection in record["connections"]:
            for end in connection["ends"]:
                for step in end["steps"]:
                    if step["agreement"] == "agree":
                        offsets.append((step["wire_t_ms"] - step["kernel_t_ms"], record["test"], end["end"], step))
        for connection, end, step in _disagreements(record):
            cause = step.get("cause", "unexplained")
            row["disagree"] += 1
            row["causes"][cause] += 1
            totals["disagree"] += 1
            causes[cause] += 1
            examples.setdefault(cause, (record["test"], step))
            if cause == "unexplained":
                unexplained.append((record, connection, end, step))
    offsets.sort(key=lambda o: abs(o[0]))
    return {"cases": cases, "totals": totals, "causes": causes, "examples": examples,
            "unexplained": unexplained, "errors": errors, "offsets": offsets}


def report(path, out=None, tolerated=None):
    """Prints the summary of a records file; returns 0 when every disagreement is explained.
    `tolerated(record)`: a reason (the test is a known deviation of its target) to list that
    test's unexplained disagreements as known rather than fail on them; None: fail."""
    import sys

    out = out or sys.stdout
    records = read_records(path)
    if not records:
        raise exit_codes.usage("wire-states-report", f"{path}: no records (was the run made with "
                                                     "--tcpfault-wire-states?)")
    stack = stack_name(records)
    s = summarise(records)
    if stack != "kernel":
        print(f"the wire's states against the {stack} stack's own (its state events)\n", file=out)
    width = max(len(k) for k in s["cases"]) + 2
    print(f"{'CASE':<{width}}{'TESTS':>6}{'CONNS':>7}{'AGREE':>7}{'DISAGREE':>10}  CAUSES", file=out)
    for key, row in s["cases"].items():
        causes = ", ".join(f"{c} x{n}" for c, n in sorted(row["causes"].items()))
        verdict = causes or "-"
        print(f"{key:<{width}}{row['tests']:>6}{row['connections']:>7}{row['agree']:>7}{row['disagree']:>10}  {verdict}",
              file=out)
    t = s["totals"]
    print(f"\n{t['tests']} tests, {t['connections']} connections, {t['agree']} steps agree, "
          f"{t['disagree']} disagree", file=out)
    for cause, n in s["causes"].most_common():
        test, step = s["examples"][cause]
        print(f"  {cause}: {n}  e.g. {test}: {step['from']} -> {step['to']} ({_agreement(step, stack)}): "
              f"{step.get('explanation', '')}", file=out)
    if s["offsets"]:
        # A step the wire dates by its first visible consequence (a SYN_RECV by the SYN, a
        # close() by a FIN that waited behind data) can lie far from the kernel's.
        median = s["offsets"][len(s["offsets"]) // 2][0]
        print(f"agreeing steps: the wire's time minus the {stack}'s is {abs(median):.3f} ms in the median (by size); the largest:",
              file=out)
        for offset, test, end, step in reversed(s["offsets"][-3:]):
            print(f"  {offset:+.1f} ms  {test}: {end} {step['from']} -> {step['to']} ({step.get('wire_reason', '')})",
                  file=out)
    observers = collections.Counter(r.get("observer") or "unknown" for r in records)
    print("state observer: " + ", ".join(f"{o} in {n} test(s)" for o, n in sorted(observers.items())), file=out)
    same = [(r["test"], step) for r in records for step in r.get("same_state_steps", [])]
    for test, step in same:
        print(f"\nSAME-STATE STEP {test}: {step}", file=out)
    for record in s["errors"]:
        print(f"\nERROR {record['test']}: the comparison failed: {record['error']}", file=out)
    shown = set()
    failing = 0
    for record, connection, end, step in s["unexplained"]:
        where = f"connection {connection} {end['end']}" if connection else f"{stack} socket not on the wire"
        known = tolerated(record) if tolerated else None
        failing += known is None
        what = f"KNOWN DEVIATION ({known})" if known else "UNEXPLAINED"
        print(f"\n{what} {record['test']}: {where} {end['host']} {end['local']}: "
              f"{step['from']} -> {step['to']} ({_agreement(step, stack)}): {step.get('explanation', '')}", file=out)
        if record["test"] not in shown:  # the whole comparison once per test
            shown.add(record["test"])
            print(record["text"], file=out)
    return 0 if not failing and not s["errors"] and not same else 1
