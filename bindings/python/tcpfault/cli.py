"""The tcpfault command: list the conformance cases, run them, write the reports.

    tcpfault list
    tcpfault conformance [--target kernel|lwip|agent:COMMAND ...] [--family 4|6|both] [-k EXPR]
                         [--jobs N] [--slow] [--junit FILE] [--json FILE] [--markdown FILE]
                         [--artifacts DIR]
    tcpfault wire-states-report FILE
    tcpfault sysctl-check PROPOSED... [--baseline defaults|host|FILE] [--json FILE] ...
                         (tcpfault.sysctl.check)
    tcpfault vm --kernel VERSION|PACKAGE|PATH [--modules DIR] [--virtual-time] [--timeout S] -- COMMAND [ARGS...]
                         (tcpfault.vm: the command in a QEMU guest booting another kernel)

The cases are pytest tests (the directory in $TCPFAULT_CASES, set by the launcher);
this module runs pytest in-process with a small collector plugin and turns what it
reports into a table, JUnit XML and JSON.
"""

import argparse
import datetime
import json
import os
import platform
import re
import sys
import tempfile
import time

from . import case_runs, guest_clock, kernel_matrix
from .sysctl import check as sysctl_check
from .vm import command as vm_command
from .case_runs import (NOT_APPLICABLE, SEVERITY, VERDICTS, VERDICTS_OK, Collector,
                        case_sort_key, cases_dir, family_of, run_pytest, verdict_of)


def check_target(target):
    """kernel, lwip or agent:COMMAND; anything else is a usage error that says so."""
    if target in ("kernel", "lwip") or (target.startswith("agent:") and target[len("agent:"):].strip()):
        return target
    raise SystemExit(f"tcpfault conformance: unknown target {target!r}: use kernel, lwip, or agent:COMMAND "
                     "(a program that speaks docs/agent-protocol.md, e.g. agent:/opt/mystack/agent --verbose)")


def target_slug(target):
    """A directory name for a target's artifacts: 'agent:/opt/x --v' -> 'agent-opt-x-v'."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", target).strip("-") or "target"


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

def conformance_args(options, target, log_dir):
    args = [cases_dir(), "--ignore", os.path.join(cases_dir(), "controls"), "-p", "no:cacheprovider", "-q",
            "--tb=short", "--tcpfault-family", options.family, "-o", "junit_family=xunit2",
            "--tcpfault-target", target]
    if options.jobs > 1:
        # loadgroup hands out one test at a time, round robin: the slow cases, sorted
        # first by the plugin, land on different workers and overlap everything else.
        args += ["-n", str(options.jobs), "--dist", "loadgroup"]
    if options.k:
        args += ["-k", options.k]
    if not options.slow:
        args += ["-m", "not slow"]
    junit = options.junit
    if junit and len(options.target) > 1:
        stem, ext = os.path.splitext(junit)
        junit = f"{stem}.{target_slug(target)}{ext or '.xml'}"
    if junit:
        args += ["--junitxml", junit]
    args += ["--tcpfault-artifacts", os.path.join(log_dir, "artifacts")]
    return args


def worst(found):
    return max(found, key=lambda r: SEVERITY[r["verdict"]])


def summary_table(rows, columns, column_of):
    """case x column (a family, or a target) -> the worst verdict of the case's tests there."""
    ids = sorted({r["case"] for r in rows}, key=case_sort_key)
    # A case with variants is named by its main test's title.
    titles = {r["case"]: r["title"] for r in sorted(rows, key=lambda r: r.get("main", False))}
    id_width = max([len(i) for i in ids] + [4])
    title_width = min(max([len(titles[i]) for i in ids] + [5]), 56)
    cell = max([len(c) for c in columns] + [24])
    lines = [f"{'CASE':<{id_width}}  {'TITLE':<{title_width}}  " + "  ".join(f"{c:<{cell}}" for c in columns)]
    for case_id in ids:
        cells = []
        for column in columns:
            found = [r for r in rows if r["case"] == case_id and column_of(r) == column]
            if not found:
                cells.append(f"{'-':<{cell}}")
                continue
            text = f"{worst(found)['verdict']:<14} {sum(r['duration_s'] for r in found):6.2f} s"
            cells.append(f"{text:<{cell}}")
        lines.append(f"{case_id:<{id_width}}  {titles[case_id][:title_width]:<{title_width}}  " + "  ".join(cells))
    return "\n".join(lines)


def markdown_table(rows, columns, column_of):
    """The summary as a Markdown table (case x column -> worst verdict), for READMEs and CI pages."""
    ids = sorted({r["case"] for r in rows}, key=case_sort_key)
    titles = {r["case"]: r["title"] for r in sorted(rows, key=lambda r: r.get("main", False))}
    lines = ["| case | title | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for case_id in ids:
        cells = []
        for column in columns:
            found = [r for r in rows if r["case"] == case_id and column_of(r) == column]
            cells.append(worst(found)["verdict"] if found else "-")
        lines.append(f"| {case_id} | {titles[case_id]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_target(options, target, log_dir):
    """Runs the suite against one target; returns its rows and how long it took."""
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, "pytest.log")
    collector = Collector()
    started = time.time()
    code = run_pytest(conformance_args(options, target, log_dir), collector, log_path)
    elapsed = time.time() - started
    if code in (3, 4):  # internal error, usage error: nothing ran
        sys.stderr.write(open(log_path).read())
        raise SystemExit(f"tcpfault conformance: pytest could not run the cases against {target} (see {log_path})")
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
            "target": target,
            "verdict": verdict_of(record),
            "duration_s": round(record["duration"], 3),
            "kernel": kernel,
            "sysctls": json.loads(props.get("tcpfault_sysctls", "{}")),
            "deviation": record.get("target_deviation") or props.get("tcpfault_deviation"),
            "artifacts": {k: props[f"tcpfault_{k}"] for k in ("pcapng", "json", "ladder") if f"tcpfault_{k}" in props},
            "test": record["nodeid"],
            "message": record["text"].strip(),
        })
    return rows, elapsed, log_path


def print_target_details(rows, target, several):
    """Deviations and not-applicable cases with their reasons, then every failure in full."""
    label = f" on {target}" if several else ""
    deviations = sorted({(r["case"], r["deviation"]) for r in rows if r["verdict"] == "deviation"},
                        key=lambda d: case_sort_key(d[0]))
    if deviations:
        print(f"\nknown deviations{label} (the case checks what the target really does, or fails the way "
              "the target's deviation list says):")
        for case_id, reason in deviations:
            print(f"  {case_id}: {reason}")
    not_applicable = sorted({(r["case"], r["message"][len(NOT_APPLICABLE):]) for r in rows if r["verdict"] == "n/a"},
                            key=lambda d: case_sort_key(d[0]))
    if not_applicable:
        print(f"\nnot applicable{label}:")
        for case_id, reason in not_applicable:
            print(f"  {case_id}: {reason}")
    bad = [r for r in rows if r["verdict"] not in VERDICTS_OK]
    for r in sorted(bad, key=lambda r: (case_sort_key(r["case"]), r["family"])):
        print(f"\n==== {r['case']} [{r['family']}{label}] {r['verdict']}: {r['title']}\n{r['message']}")


def command_conformance(options):
    options.target = [check_target(t) for t in (options.target or ["kernel"])]
    if len(set(options.target)) != len(options.target):
        raise SystemExit("tcpfault conformance: a target is given twice")
    if options.jobs < 1:
        raise SystemExit("tcpfault conformance: --jobs must be 1 or more")
    base = options.artifacts or tempfile.mkdtemp(prefix="tcpfault-")
    several = len(options.target) > 1
    started = time.time()
    rows, logs = [], []
    for target in options.target:
        log_dir = os.path.join(base, target_slug(target)) if several else base
        found, elapsed, log_path = run_target(options, target, log_dir)
        rows += found
        logs.append(f"{target} {elapsed:.1f} s, pytest log {log_path}")
    elapsed = time.time() - started
    if not rows:
        print("no case was selected")
        return 1
    kernel = platform.release()
    if several:
        columns, column_of = options.target, (lambda r: r["target"])
    else:
        columns = [f"IPv{f}" for f in ("46" if options.family == "both" else options.family)]
        column_of = lambda r: r["family"]  # noqa: E731
    print(summary_table(rows, columns, column_of))
    if options.markdown:
        with open(options.markdown, "w") as out:
            out.write(markdown_table(rows, columns, column_of))
    for target in options.target:
        print_target_details([r for r in rows if r["target"] == target], target, several)
    bad = [r for r in rows if r["verdict"] not in VERDICTS_OK]
    counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in VERDICTS}
    print("\n" + ", ".join(f"{n} {v}" for v, n in counts.items() if n) +
          f" in {elapsed:.1f} s{guest_clock.label()} on Linux {kernel} ({'; '.join(logs)})")
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"targets": options.target, "kernel": kernel,
                       "started": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(),
                       "duration_s": round(elapsed, 3), "clock": guest_clock.name(),
                       "results": sorted(rows, key=lambda r: (case_sort_key(r["case"]), r["target"], r["family"]))},
                      out, indent=2)
    return 0 if not bad else 1


# ---- tcpfault wire-states-report ----

def command_wire_states_report(options):
    from tcpfault import wire_check

    if not os.path.isfile(options.file):
        raise SystemExit(f"tcpfault wire-states-report: no such file {options.file!r} (write one with "
                         "pytest --tcpfault-wire-states FILE)")
    return wire_check.report(options.file)


def add_wire_states_report(commands):
    report = commands.add_parser(
        "wire-states-report", help="sum up a run's wire-inferred states against the kernel's",
        usage="tcpfault wire-states-report FILE",
        description="Read the records pytest --tcpfault-wire-states FILE wrote and print, per case, the steps "
                    "where the wire-inferred states agree with the kernel's and the disagreements by cause, "
                    "then every unexplained one in full. Exit status 0 only when every disagreement is explained.",
    )
    report.add_argument("file", metavar="FILE", help="the records (one JSON line per test)")
    report.set_defaults(run=command_wire_states_report)


def parser():
    top = argparse.ArgumentParser(
        prog="tcpfault",
        usage="tcpfault [-h] {list,conformance,sysctl-check,wire-states-report,vm,kernel-matrix} ...",
        description="TCP fault injection and conformance: two real TCP stacks across a middlebox that "
                    "drops, delays, reorders, duplicates, rewrites or injects specific segments.",
    )
    commands = top.add_subparsers(dest="command", metavar="{list,conformance,sysctl-check,wire-states-report,vm,kernel-matrix}")
    commands.required = True
    listing = commands.add_parser("list", help="every case with its id, title and RFC reference",
                                  usage="tcpfault list",
                                  description="List every conformance case: id, one-line title, RFC or kernel reference.")
    listing.set_defaults(run=command_list)
    run = commands.add_parser(
        "conformance", help="run the suite and report",
        usage="tcpfault conformance [--target kernel|lwip|agent:COMMAND ...] [--family 4|6|both] [-k EXPR]\n"
              "                            [--jobs N] [--slow] [--junit FILE] [--json FILE] [--markdown FILE]\n"
              "                            [--artifacts DIR]",
        description="Run the conformance cases in parallel, print case x family (or, with several targets, "
                    "case x target) -> pass / known deviation / n/a / fail / target failure with durations, "
                    "then the reasons for deviations and not-applicable cases and each failure with its ladder. "
                    "Exit status 0 only when every selected case passed, is a documented known deviation, "
                    "or cannot apply to the target.",
    )
    run.add_argument("--target", action="append", metavar="TARGET",
                     help="the stack under test: kernel (default), lwip (the agent in agents/lwip), or "
                          "agent:COMMAND (any program speaking docs/agent-protocol.md); give it several "
                          "times for a case x target matrix")
    run.add_argument("--family", choices=("4", "6", "both"), default="both", help="address family (default: both)")
    run.add_argument("-k", metavar="EXPR", help="only cases whose test names match EXPR (pytest -k syntax)")
    run.add_argument("--jobs", type=int, default=case_runs.default_jobs(), metavar="N", help=case_runs.JOBS_HELP)
    run.add_argument("--slow", action="store_true", help="also run the slow cases (TIME_WAIT's minute)")
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML: one testcase per case and family")
    run.add_argument("--json", metavar="FILE", help="write the results as JSON")
    run.add_argument("--markdown", metavar="FILE",
                     help="write the summary table as Markdown (case x family, or case x target)")
    run.add_argument("--artifacts", metavar="DIR", help="keep every case's pcapng, JSON timeline and ladder in DIR")
    run.set_defaults(run=command_conformance)
    sysctl_check.add_parser(commands)
    add_wire_states_report(commands)
    vm_command.add_parser(commands)
    kernel_matrix.add_parser(commands)
    return top


def main(argv=None):
    options = parser().parse_args(argv)
    return options.run(options)


if __name__ == "__main__":
    sys.exit(main())
