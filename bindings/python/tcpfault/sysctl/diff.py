"""What changed between the runs of a case under the baseline and under the proposal.

Every test ran under both settings (and, where they differed, once more under both to
confirm it). For each test (a variant: one test function, one family, its own
parameters) this compares the verdicts - with the failure's own words when a case fails,
since cases assert the kernel's defaults and a proposal may legitimately break what they
assert - and the observations (tcpfault.observations). A difference counts only when each
setting's runs agree among themselves: what differs between two runs of the same setting
is noise, and is reported as such.
"""

import re
from dataclasses import dataclass, field

from ..case_runs import said_lines
from ..casekit import tolerance

BASELINE, PROPOSAL = "baseline", "proposal"
# Two durations are the same behaviour within the suite's timer tolerance, and never
# closer than this: on a loaded machine a softirq runs a few jiffies late (HZ 250: 4 ms
# each), while what a sysctl changes in a timer is a whole timeout (200 ms or more).
TIME_FLOOR = 0.025
_STRERROR = re.compile(r"\b(E[A-Z]+) \([A-Z][a-z][^()]*\)")  # 'EADDRNOTAVAIL (Cannot assign ...)'
_PAIR = re.compile(r"\s*\S+:\d+ > \S+:\d+")  # "198.18.1.1:40000 > 198.18.2.1:8080"
_ADDRESS = re.compile(r"\[?[0-9a-f:]*:[0-9a-f:]*\]?:\d+|\d+\.\d+\.\d+\.\d+(:\d+)?")


@dataclass
class Run:
    """One test under one setting, as its reports told it."""
    variant: str
    setting: str
    case: str
    title: str
    family: str
    verdict: str  # pass, deviation, fail, error, skip
    failure: str  # the failure's message in short ('' when it passed)
    observations: dict
    pinned: dict
    duration_s: float
    nodeid: str = ""
    group: str = ""  # the key whose values the two settings compare ('' for the whole block)
    where: str = ""  # a failure's place: "test_time_wait.py:103 in reused_after"
    overridden: dict = field(default_factory=dict)  # {"client K": value run with} where the case asked otherwise

    @property
    def outcome(self):
        """What is compared: pass, or where the case failed and what it expected there. Not
        what it saw: that is the observations' part, and a plain assert's text shows only
        values ('assert {40123, ...} == {40000, ...}'), which differ from run to run."""
        if self.verdict in ("pass", "deviation"):
            return "pass"
        what = without_addresses(self.failure.split(";")[0])
        where = f" at {self.where}" if self.where else ""
        return f"{self.verdict}{where}" + ("" if what.startswith("assert ") and where else f": {what}")

    def describe(self):
        return "passes" if self.verdict in ("pass", "deviation") else f"{self.verdict}s: {self.failure}"

    def in_short(self):
        """The failure in a few words, without addresses: what was checked, what was expected
        and what was seen ('connect() succeeds: expected success, seen connect() = -1 EADDRNOTAVAIL')."""
        parts = [p.strip() for p in self.failure.split("; ")]
        what = parts[0].removeprefix("expectation failed: ")
        told = {p.partition(":")[0]: p.partition(":")[2].strip() for p in parts if p.startswith(("expected:", "seen:"))}
        if what.startswith("expected:"):  # an assert's own message: 'expected: ...; seen: ...'
            what = ""
        said = ", ".join(f"{k} {told[k]}" for k in ("expected", "seen") if told.get(k))
        text = f"{what}: {said}" if what and said else what or said
        return _STRERROR.sub(r"\1", without_addresses(text, ""))


def without_addresses(text, instead="<address>"):
    """Addresses and ports differ between runs and families: compare text without them
    ('connect(198.18.2.1:8080)' -> 'connect(<address>)', or 'connect()' with instead='')."""
    text = _PAIR.sub("", text or "") if not instead else text or ""
    return " ".join(_ADDRESS.sub(instead, text).split())


_ENTRY = re.compile(r"^(?:\S*/)?(test_\w+\.py):(\d+): in (\w+)$", re.M)


def failure_location(text):
    """The innermost place in a case file of a --tb=short failure report."""
    entries = _ENTRY.findall(text or "")
    return f"{entries[-1][0]}:{entries[-1][1]} in {entries[-1][2]}" if entries else ""


def failure_summary(text, limit=400):
    """'expectation failed: ...; expected: ...; seen: ...' from a pytest failure report."""
    lines = said_lines(text)
    if not lines:
        rest = [line.strip() for line in text.splitlines() if line.strip()]
        return (rest[-1] if rest else "")[:limit]
    first = re.sub(r"^[\w.]*(Error|Failed|Exception|Interrupt)\w*: ", "", lines[0])
    parts = [first] + [line for line in lines[1:4] if line.startswith(("expected:", "seen:"))]
    summary = " ".join("; ".join(parts).split())
    return summary if len(summary) <= limit else summary[: limit - 3] + "..."


def _same(a, b):
    if a is None or b is None:
        return a is b
    if a["unit"] != b["unit"]:
        return False
    x, y = a["value"], b["value"]
    if a["unit"] in ("s", "ms") and isinstance(x, (int, float)) and isinstance(y, (int, float)):
        scale = 1000.0 if a["unit"] == "ms" else 1.0
        return abs(x - y) / scale <= max(TIME_FLOOR, tolerance(max(abs(x), abs(y)) / scale))
    return x == y


def _agree(values):
    return all(_same(values[0], v) for v in values[1:])


def shown(value):
    if value is None:
        return "-"
    return f"{value['value']}{' ' + value['unit'] if value['unit'] else ''}"


@dataclass
class VariantResult:
    variant: str
    case: str
    title: str
    family: str
    baseline: list
    proposal: list
    key: str = ""  # the run's group: the key whose values it compares
    verdict_changed: bool = False
    observations: list = field(default_factory=list)  # (label, baseline value, proposal value)
    unstable: list = field(default_factory=list)  # (what, baseline values, proposal values) that
    #                                               differed between runs of one setting
    failed_at: list = field(default_factory=list)  # (baseline outcomes, proposal outcomes) when a side
    #                                                always failed, but not always at the same point

    @property
    def changed(self):
        return self.verdict_changed or bool(self.observations)

    @property
    def confirmed(self):
        """Each setting ran at least twice (the first run and the confirmation)."""
        return len(self.baseline) > 1 and len(self.proposal) > 1

    def pinned(self):
        """{'client net.ipv4.tcp_tw_reuse': ['0', '1']}: what the case set itself, in any of
        its runs (a run that failed early set less)."""
        out = {}
        for run in self.baseline + self.proposal:
            for name, values in run.pinned.items():
                if len(values) > len(out.get(name, [])):
                    out[name] = values
        return out

    def overridden(self, side):
        """{'client net.ipv4.tcp_tw_reuse': '2'}: where the runs of `side` kept the setting's
        value instead of the case's own."""
        out = {}
        for run in self.baseline if side == BASELINE else self.proposal:
            out.update(run.overridden)
        return out

    def in_words(self, side):
        """What one side did: what the case recorded where the sides differ (else what the
        scenario showed by itself), then its verdict."""
        run = (self.baseline if side == BASELINE else self.proposal)[0]
        index = 1 if side == BASELINE else 2
        recorded = [o for o in self.observations if (o[1] or o[2] or {}).get("recorded")]
        said = [f"{o[0]} = {shown(o[index])}" for o in recorded or self.observations[:3] if o[index] is not None]
        verdict = "passes" if run.verdict in ("pass", "deviation") else f"fails: {run.in_short()}"
        return "; ".join(said + [verdict])

    def to_json(self):
        first_b, first_p = self.baseline[0], self.proposal[0]
        return {
            "key": self.key, "case": self.case, "title": self.title, "family": self.family, "test": self.variant,
            "baseline": {"verdict": first_b.verdict, "failure": first_b.failure or None,
                         "failed_at": first_b.where or None, "runs": [r.verdict for r in self.baseline],
                         "in_words": self.in_words(BASELINE),
                         "overridden": self.overridden(BASELINE)},
            "proposal": {"verdict": first_p.verdict, "failure": first_p.failure or None,
                         "failed_at": first_p.where or None, "runs": [r.verdict for r in self.proposal],
                         "in_words": self.in_words(PROPOSAL),
                         "overridden": self.overridden(PROPOSAL)},
            "verdict_changed": self.verdict_changed,
            "observations": [{"what": label, "baseline": shown(b), "proposal": shown(p),
                              "recorded": bool((b or p or {}).get("recorded"))}
                             for label, b, p in self.observations],
            "unstable": [{"what": w, "baseline": b, "proposal": p} for w, b, p in self.unstable],
            "failure_points": [{"baseline": b, "proposal": p} for b, p in self.failed_at],
            "pinned": self.pinned(),
        }


def _status(outcome):
    return "pass" if outcome == "pass" else "fail"


def compare(runs):
    """One VariantResult per test (and key) that ran under both settings, in the order first seen."""
    by_variant = {}
    for run in runs:
        by_variant.setdefault((run.group, run.variant), {BASELINE: [], PROPOSAL: []})[run.setting].append(run)
    results = []
    for (group, variant), sides in by_variant.items():
        base, prop = sides[BASELINE], sides[PROPOSAL]
        if not base or not prop:
            continue
        r = VariantResult(variant, base[0].case, base[0].title, base[0].family, base, prop, key=group)
        base_outcomes, prop_outcomes = {b.outcome for b in base}, {p.outcome for p in prop}
        base_status, prop_status = {_status(o) for o in base_outcomes}, {_status(o) for o in prop_outcomes}
        if len(base_outcomes) == 1 and len(prop_outcomes) == 1:
            r.verdict_changed = base_outcomes != prop_outcomes
        elif len(base_status) == 1 and len(prop_status) == 1 and base_status != prop_status:
            # Passes under one setting every time, fails under the other every time, though
            # not always at the same point (a race the failing scenario leaves open).
            r.verdict_changed = True
            r.failed_at.append((sorted(base_outcomes), sorted(prop_outcomes)))
        else:
            r.unstable.append(("verdict", sorted(base_outcomes), sorted(prop_outcomes)))
        for label in dict.fromkeys(k for run in base + prop for k in run.observations):  # as recorded
            b = [run.observations.get(label) for run in base]
            p = [run.observations.get(label) for run in prop]
            if not _agree(b) or not _agree(p):
                r.unstable.append((label, [shown(v) for v in b], [shown(v) for v in p]))
            elif not _same(b[0], p[0]):  # also where one side failed before it: it says how far each got
                r.observations.append((label, b[0], p[0]))
        results.append(r)
    return results
