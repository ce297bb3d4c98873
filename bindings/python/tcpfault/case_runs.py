"""Running the catalogue's cases under pytest and reading their verdicts: where the
cases are, their order, a collector plugin that keeps what pytest reports about each
test, and the verdict (pass, deviation, n/a, fail ...) of each. `tcpfault conformance`
(tcpfault.cli) and `tcpfault sysctl-check` (tcpfault.sysctl.check) both run cases this
way."""

import contextlib
import os
import re

import pytest

from . import guest_clock

GROUP_ORDER = ("HS", "CL", "TW", "TM", "LD", "DT", "SEC")
VERDICTS = ("pass", "deviation", "n/a", "skip", "fail", "target failure", "error")
VERDICTS_OK = ("pass", "deviation", "n/a")
# A row shows the worst of its tests (a case may have several, such as CL2's variant).
SEVERITY = {v: n for n, v in enumerate(VERDICTS)}
NOT_APPLICABLE = "not applicable: "  # how the plugin words a skip for a case the target cannot run
TARGET_FAILURE = "target failure: "  # how the plugin words a broken agent


def cases_dir():
    path = os.environ.get("TCPFAULT_CASES")
    if not path or not os.path.isfile(os.path.join(path, "pytest.ini")):
        raise SystemExit(
            "tcpfault: cannot find the conformance cases: set TCPFAULT_CASES to the cases/ "
            "directory of a tcpfault checkout (the tcpfault launcher does this)"
        )
    return path


def default_jobs():
    """Scenarios run at once unless --jobs says: 4 per CPU, as cases mostly wait on timers;
    one on a virtual clock (tcpfault vm --virtual-time), where waiting costs no wall time
    and every pytest worker's start and bookkeeping is emulated CPU on the one vCPU."""
    return 1 if guest_clock.virtual() else 4 * (os.cpu_count() or 1)


JOBS_HELP = "scenarios run at once (default: 4 per CPU, as cases mostly wait on timers; 1 under tcpfault vm --virtual-time)"


def case_sort_key(case_id):
    """HS1 < HS2 < HS10 < CL1, groups in the catalogue's order."""
    match = re.match(r"([A-Z]+)(\d+)", case_id or "")
    if not match:
        return (len(GROUP_ORDER), case_id or "", 0)
    group, number = match.groups()
    order = GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)
    return (order, group, int(number))


class Collector:
    """A pytest plugin that keeps, per test, what the reports say about it."""

    def __init__(self):
        self.cases = {}     # case id -> (title, ref), from collection
        self.results = {}   # nodeid -> merged record

    def pytest_collection_modifyitems(self, items):
        for item in items:
            marker = item.get_closest_marker("case")
            if marker is not None:
                args = list(marker.args) + [None, None]
                case_id = marker.kwargs.get("id", args[0])
                # A case with variants (several tests) is named by its first test, the main one.
                self.cases.setdefault(case_id, (marker.kwargs.get("title", args[1]) or "", marker.kwargs.get("ref", "")))

    def pytest_runtest_logreport(self, report):
        record = self.results.setdefault(
            report.nodeid, {"nodeid": report.nodeid, "props": {}, "outcome": "passed", "duration": 0.0, "text": ""}
        )
        record["duration"] += report.duration
        record["props"].update(dict(report.user_properties))
        if report.failed:
            record["outcome"] = "failed" if report.when == "call" else "error"
            record["text"] += report.longreprtext + "\n"
        elif report.skipped and hasattr(report, "wasxfail"):
            # A known deviation of this target: the case failed the way the target's
            # deviation list says (tcpfault.targets).
            record["outcome"] = "xfailed"
            record["target_deviation"] = report.wasxfail
            record["text"] = report.longreprtext
        elif report.skipped and record["outcome"] == "passed":
            record["outcome"] = "skipped"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            record["text"] = reason.removeprefix("Skipped: ")


def run_pytest(args, plugin, log_path):
    """pytest.main with its own output sent to `log_path` (ours goes to the terminal)."""
    with open(log_path, "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        return pytest.main(args, plugins=[plugin])


def family_of(nodeid):
    match = re.search(r"\[(?:.*-)?(IPv[46])(?:-.*)?\]$", nodeid)
    return match.group(1) if match else "-"


def verdict_of(record):
    outcome = record["outcome"]
    if outcome == "passed":
        return "deviation" if "tcpfault_deviation" in record["props"] else "pass"
    if outcome == "xfailed":
        return "deviation"
    if outcome == "skipped" and record["text"].startswith(NOT_APPLICABLE):
        return "n/a"
    if outcome in ("failed", "error") and TARGET_FAILURE in record["text"]:
        return "target failure"
    return {"failed": "fail", "error": "error", "skipped": "skip"}[outcome]
