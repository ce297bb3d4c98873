"""The tcpfault command: list the conformance cases, run them, write the reports.

    tcpfault list
    tcpfault conformance [--target kernel] [--family 4|6|both] [-k EXPR] [--jobs N]
                         [--slow] [--junit FILE] [--json FILE] [--artifacts DIR]
    tcpfault sysctl-check PROPOSED... [--baseline defaults|host|FILE] [--json FILE] ...
                         (tcpfault.sysctl_check)

The cases are pytest tests (the directory in $TCPFAULT_CASES, set by the launcher);
this module runs pytest in-process with a small collector plugin and turns what it
reports into a table, JUnit XML and JSON.
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import sys
import tempfile
import time

import pytest

TARGETS = ("kernel",)
GROUP_ORDER = ("HS", "CL", "TW", "TM", "LD", "DT", "SEC")
VERDICTS_OK = ("pass", "deviation")
# A row shows the worst of its tests (a case may have several, such as CL2's variant).
SEVERITY = {"pass": 0, "deviation": 1, "skip": 2, "fail": 3, "error": 4}


def cases_dir():
    path = os.environ.get("TCPFAULT_CASES")
    if not path or not os.path.isfile(os.path.join(path, "pytest.ini")):
        raise SystemExit(
            "tcpfault: cannot find the conformance cases: set TCPFAULT_CASES to the cases/ "
            "directory of a tcpfault checkout (the tcpfault launcher does this)"
        )
    return path


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
        elif report.skipped and record["outcome"] == "passed":
            record["outcome"] = "skipped"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            record["text"] = reason


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
    return {"failed": "fail", "error": "error", "skipped": "skip"}[outcome]


# ---- tcpfault list ----

def command_list(options):
    collector = Collector()
    with tempfile.TemporaryDirectory() as tmp:
        code = run_pytest(
            ["--collect-only", "-q", "-p", "no:cacheprovider", "--ignore", os.path.join(cases_dir(), "controls"),
             cases_dir()],
            collector, os.path.join(tmp, "pytest.log"),
        )
    if code not in (0, 5):
        raise SystemExit("tcpfault list: collecting the cases failed (run pytest on the cases directory to see why)")
    ids = sorted(collector.cases, key=case_sort_key)
    width = max([len(i) for i in ids] + [4])
    title_width = max([len(collector.cases[i][0]) for i in ids] + [5])
    print(f"{'CASE':<{width}}  {'TITLE':<{title_width}}  REFERENCE")
    for case_id in ids:
        title, ref = collector.cases[case_id]
        print(f"{case_id:<{width}}  {title:<{title_width}}  {ref}")
    return 0


# ---- tcpfault conformance ----

def conformance_args(options, log_dir):
    args = [cases_dir(), "--ignore", os.path.join(cases_dir(), "controls"), "-p", "no:cacheprovider", "-q",
            "--tb=short", "--tcpfault-family", options.family, "-o", "junit_family=xunit2"]
    if options.jobs > 1:
        # loadgroup hands out one test at a time, round robin: the slow cases, sorted
        # first by the plugin, land on different workers and overlap everything else.
        args += ["-n", str(options.jobs), "--dist", "loadgroup"]
    if options.k:
        args += ["-k", options.k]
    if not options.slow:
        args += ["-m", "not slow"]
    if options.junit:
        args += ["--junitxml", options.junit]
    args += ["--tcpfault-artifacts", options.artifacts or os.path.join(log_dir, "artifacts")]
    return args


def summary_table(rows, families):
    """case x family -> verdict and duration."""
    ids = sorted({r["case"] for r in rows}, key=case_sort_key)
    # A case with variants is named by its main test's title.
    titles = {r["case"]: r["title"] for r in sorted(rows, key=lambda r: r.get("main", False))}
    id_width = max([len(i) for i in ids] + [4])
    title_width = min(max([len(titles[i]) for i in ids] + [5]), 56)
    lines = [f"{'CASE':<{id_width}}  {'TITLE':<{title_width}}  " + "  ".join(f"{f:<17}" for f in families)]
    for case_id in ids:
        cells = []
        for family in families:
            found = [r for r in rows if r["case"] == case_id and r["family"] == family]
            if not found:
                cells.append(f"{'-':<17}")
                continue
            worst = max(found, key=lambda r: SEVERITY[r["verdict"]])
            cells.append(f"{worst['verdict']:<9} {sum(r['duration_s'] for r in found):6.2f} s")
        lines.append(f"{case_id:<{id_width}}  {titles[case_id][:title_width]:<{title_width}}  " + "  ".join(cells))
    return "\n".join(lines)


def command_conformance(options):
    if options.target not in TARGETS:
        raise SystemExit(f"tcpfault conformance: unknown target {options.target!r} (available: {', '.join(TARGETS)})")
    if options.jobs < 1:
        raise SystemExit("tcpfault conformance: --jobs must be 1 or more")
    log_dir = options.artifacts or tempfile.mkdtemp(prefix="tcpfault-")
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, "pytest.log")
    collector = Collector()
    started = time.time()
    code = run_pytest(conformance_args(options, log_dir), collector, log_path)
    elapsed = time.time() - started
    if code in (3, 4):  # internal error, usage error: nothing ran
        sys.stderr.write(open(log_path).read())
        raise SystemExit(f"tcpfault conformance: pytest could not run the cases (see {log_path})")

    kernel = platform.release()
    rows = []
    for record in collector.results.values():
        props = record["props"]
        rows.append({
            "case": props.get("tcpfault_case", record["nodeid"].split("::")[-1]),
            "title": props.get("tcpfault_title", ""),
            "main": props.get("tcpfault_main") == "1",
            "ref": props.get("tcpfault_ref", ""),
            "family": family_of(record["nodeid"]),
            "target": options.target,
            "verdict": verdict_of(record),
            "duration_s": round(record["duration"], 3),
            "kernel": kernel,
            "sysctls": json.loads(props.get("tcpfault_sysctls", "{}")),
            "deviation": props.get("tcpfault_deviation"),
            "artifacts": {k: props[f"tcpfault_{k}"] for k in ("pcapng", "json", "ladder") if f"tcpfault_{k}" in props},
            "test": record["nodeid"],
            "message": record["text"].strip(),
        })
    families = [f"IPv{f}" for f in ("46" if options.family == "both" else options.family)]
    if not rows:
        print("no case was selected")
        return 1
    print(summary_table(rows, families))
    bad = [r for r in rows if r["verdict"] not in VERDICTS_OK]
    deviations = sorted({(r["case"], r["deviation"]) for r in rows if r["verdict"] == "deviation"})
    if deviations:
        print("\nknown deviations (the kernel differs from the catalogue; the case checks what it does):")
        for case_id, reason in deviations:
            print(f"  {case_id}: {reason}")
    for r in sorted(bad, key=lambda r: (case_sort_key(r["case"]), r["family"])):
        print(f"\n==== {r['case']} [{r['family']}] {r['verdict']}: {r['title']}\n{r['message']}")
    counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in ("pass", "deviation", "fail", "error", "skip")}
    print("\n" + ", ".join(f"{n} {v}" for v, n in counts.items() if n) +
          f" in {elapsed:.1f} s on Linux {kernel} (pytest log: {log_path})")
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"target": options.target, "kernel": kernel,
                       "started": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(),
                       "duration_s": round(elapsed, 3), "results": sorted(rows, key=lambda r: (case_sort_key(r["case"]), r["family"]))},
                      out, indent=2)
    return 0 if not bad else 1


def parser():
    top = argparse.ArgumentParser(
        prog="tcpfault",
        usage="tcpfault [-h] {list,conformance,sysctl-check} ...",
        description="TCP fault injection and conformance: two real TCP stacks across a middlebox that "
                    "drops, delays, reorders, duplicates, rewrites or injects specific segments.",
    )
    commands = top.add_subparsers(dest="command", metavar="{list,conformance,sysctl-check}")
    commands.required = True
    listing = commands.add_parser("list", help="every case with its id, title and RFC reference",
                                  usage="tcpfault list",
                                  description="List every conformance case: id, one-line title, RFC or kernel reference.")
    listing.set_defaults(run=command_list)
    run = commands.add_parser(
        "conformance", help="run the suite and report",
        usage="tcpfault conformance [--target kernel] [--family 4|6|both] [-k EXPR] [--jobs N]\n"
              "                            [--slow] [--junit FILE] [--json FILE] [--artifacts DIR]",
        description="Run the conformance cases in parallel, print case x family -> pass / fail / skip / "
                    "known deviation with durations, then each failure with its ladder diagram. "
                    "Exit status 0 only when every selected case passed or is a documented known deviation.",
    )
    run.add_argument("--target", default="kernel", help="the stack under test (default: kernel)")
    run.add_argument("--family", choices=("4", "6", "both"), default="both", help="address family (default: both)")
    run.add_argument("-k", metavar="EXPR", help="only cases whose test names match EXPR (pytest -k syntax)")
    run.add_argument("--jobs", type=int, default=4 * (os.cpu_count() or 1), metavar="N",
                     help="scenarios run at once (default: 4 per CPU: cases mostly wait on timers)")
    run.add_argument("--slow", action="store_true", help="also run the slow cases (TIME_WAIT's minute)")
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML: one testcase per case and family")
    run.add_argument("--json", metavar="FILE", help="write the results as JSON")
    run.add_argument("--artifacts", metavar="DIR", help="keep every case's pcapng, JSON timeline and ladder in DIR")
    run.set_defaults(run=command_conformance)
    from tcpfault import sysctl_check  # here: it uses this module's runner
    sysctl_check.add_parser(commands)
    return top


def main(argv=None):
    options = parser().parse_args(argv)
    return options.run(options)


if __name__ == "__main__":
    sys.exit(main())
