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

from .casekit import tolerance

BASELINE, PROPOSAL = "baseline", "proposal"
# Two durations are the same behaviour within the suite's timer tolerance, and never
# closer than this: on a loaded machine a softirq runs a few jiffies late (HZ 250: 4 ms
# each), while what a sysctl changes in a timer is a whole timeout (200 ms or more).
TIME_FLOOR = 0.025
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

    @property
    def outcome(self):
        """What is compared: pass, or the failure's first line without addresses (ports differ)."""
        if self.verdict in ("pass", "deviation"):
            return "pass"
        return f"{self.verdict}: " + without_addresses(self.failure.split(";")[0])

    def describe(self):
        return "passes" if self.verdict in ("pass", "deviation") else f"{self.verdict}s: {self.failure}"

    def in_short(self):
        """The failure in a few words: what was expected, without addresses, and what was seen."""
        parts = self.failure.split("; ")
        what = _PAIR.sub("", parts[0].removeprefix("expectation failed: "))
        seen = [p.removeprefix("seen:").strip() for p in parts[1:] if p.startswith("seen:")]
        return what + (f" (seen: {seen[0]})" if seen else "")


def without_addresses(text):
    """Addresses and ports differ between runs and families: compare text without them."""
    return _ADDRESS.sub("<address>", text or "")


def failure_summary(text, limit=400):
    """'expectation failed: ...; expected: ...; seen: ...' from a pytest failure report."""
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
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
    verdict_changed: bool = False
    observations: list = field(default_factory=list)  # (label, baseline value, proposal value)
    unstable: list = field(default_factory=list)  # (what, baseline values, proposal values) that
    #                                               differed between runs of one setting

    @property
    def changed(self):
        return self.verdict_changed or bool(self.observations)

    @property
    def confirmed(self):
        """Each setting ran at least twice (the first run and the confirmation)."""
        return len(self.baseline) > 1 and len(self.proposal) > 1

    def pinned(self):
        """{'client net.ipv4.tcp_tw_reuse': ['0', '1']}: what the case set itself (the same
        under both settings)."""
        return (self.baseline or self.proposal)[0].pinned

    def to_json(self):
        first_b, first_p = self.baseline[0], self.proposal[0]
        return {
            "case": self.case, "title": self.title, "family": self.family, "test": self.variant,
            "baseline": {"verdict": first_b.verdict, "failure": first_b.failure or None,
                         "runs": [r.verdict for r in self.baseline]},
            "proposal": {"verdict": first_p.verdict, "failure": first_p.failure or None,
                         "runs": [r.verdict for r in self.proposal]},
            "verdict_changed": self.verdict_changed,
            "observations": [{"what": label, "baseline": shown(b), "proposal": shown(p)}
                             for label, b, p in self.observations],
            "unstable": [{"what": w, "baseline": b, "proposal": p} for w, b, p in self.unstable],
            "pinned": self.pinned(),
        }


def compare(runs):
    """One VariantResult per test that ran under both settings, in the order first seen."""
    by_variant = {}
    for run in runs:
        by_variant.setdefault(run.variant, {BASELINE: [], PROPOSAL: []})[run.setting].append(run)
    results = []
    for variant, sides in by_variant.items():
        base, prop = sides[BASELINE], sides[PROPOSAL]
        if not base or not prop:
            continue
        r = VariantResult(variant, base[0].case, base[0].title, base[0].family, base, prop)
        base_outcomes, prop_outcomes = {b.outcome for b in base}, {p.outcome for p in prop}
        if len(base_outcomes) > 1 or len(prop_outcomes) > 1:
            r.unstable.append(("verdict", sorted(base_outcomes), sorted(prop_outcomes)))
        elif base_outcomes != prop_outcomes:
            r.verdict_changed = True
        failed = {side for side, outcomes in ((BASELINE, base_outcomes), (PROPOSAL, prop_outcomes))
                  if r.verdict_changed and outcomes != {"pass"}}
        for label in sorted({k for run in base + prop for k in run.observations}):
            b = [run.observations.get(label) for run in base]
            p = [run.observations.get(label) for run in prop]
            if not _agree(b) or not _agree(p):
                r.unstable.append((label, [shown(v) for v in b], [shown(v) for v in p]))
            elif (b[0] is None and BASELINE in failed) or (p[0] is None and PROPOSAL in failed):
                continue  # the failing run stopped before it: not a difference of behaviour
            elif not _same(b[0], p[0]):
                r.observations.append((label, b[0], p[0]))
        results.append(r)
    return results
