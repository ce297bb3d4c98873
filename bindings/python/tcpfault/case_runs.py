"""Running the catalogue's cases under pytest and reading their verdicts: where the
cases are, their order, a collector plugin that keeps what pytest reports about each
test, and the verdict (pass, deviation, n/a, fail ...) of each. `tcpfault conformance`
(tcpfault.cli) and `tcpfault sysctl-check` (tcpfault.sysctl.check) both run cases this
way."""

import os
import re
import signal
import sys

import pytest

from . import exit_codes, guest_clock, scratch

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
    """A pytest plugin that keeps, per test, what the reports say about it, and calls
    `on_finished(record)` as each test's last report (its teardown) comes in."""

    def __init__(self, on_finished=None):
        self.cases = {}     # case id -> (title, ref), from collection
        self.tests = {}     # case id -> {test function: {file, title, doc, slow}}, from collection
        self.results = {}   # nodeid -> merged record
        self.on_finished = on_finished

    def pytest_collection_modifyitems(self, items):
        for item in items:
            marker = item.get_closest_marker("case")
            if marker is not None:
                args = list(marker.args) + [None, None]
                case_id = marker.kwargs.get("id", args[0])
                title = marker.kwargs.get("title", args[1]) or ""
                # A case with variants (several tests) is named by its first test, the main one.
                self.cases.setdefault(case_id, (title, marker.kwargs.get("ref", "")))
                function = getattr(item, "function", None)
                self.tests.setdefault(case_id, {}).setdefault(item.originalname if hasattr(item, "originalname") else item.name, {
                    "file": os.path.basename(str(item.fspath)), "title": title,
                    "doc": (function.__doc__ or "") if function else "",
                    "slow": item.get_closest_marker("slow") is not None})

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
        if report.when == "teardown":
            record["finished"] = True
            if self.on_finished:
                self.on_finished(record)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a pytest run: raised once pytest has wound down and our output is back."""


def run_pytest(args, plugins, log_path):
    """pytest.main, its output sent to `log_path`: Python's and anything written on file
    descriptors 1 and 2 (pytest-xdist's workers, the engine), so that a Ctrl-C's
    tracebacks land there too (tcpfault.progress keeps its own copy of the terminal).
    Raises Interrupted after a Ctrl-C."""
    plugins = plugins if isinstance(plugins, list) else [plugins]
    interrupted = []

    def on_sigint(signum, frame):
        interrupted.append(signum)
        signal.default_int_handler(signum, frame)

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with open(log_path, "w") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            code = pytest.main(args, plugins=plugins)
            sys.stdout.flush()
            sys.stderr.flush()
    finally:
        signal.signal(signal.SIGINT, previous)
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
    if interrupted:
        raise Interrupted()
    return code


def collect(log_path):
    """The cases as pytest collects them (no test runs): a Collector whose `cases` maps
    each case id to (title, reference)."""
    collector = Collector()
    code = run_pytest(["--collect-only", "-q", "-p", "no:cacheprovider", "--ignore",
                       os.path.join(cases_dir(), "controls"), cases_dir()], collector, log_path)
    if code not in (0, 5):
        raise exit_codes.cannot_run("list", f"collecting the cases failed (see {log_path}, or run pytest on "
                                            f"{cases_dir()} to see why)")
    return collector


def collect_in_scratch():
    """collect(), its log in a temporary folder removed afterwards."""
    folder = scratch.make("collect")
    try:
        return collect(os.path.join(folder, "collect.log"))
    finally:
        scratch.remove(folder)


def case_ids():
    return set(collect_in_scratch().cases)


def said_lines(text):
    """What a pytest failure report says (its "E" lines), each stripped, blank ones left out."""
    return [line[1:].strip() for line in text.splitlines() if line.startswith("E ") and line[1:].strip()]


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
