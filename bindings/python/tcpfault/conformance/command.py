"""tcpfault conformance: checks everything it can before anything runs, runs the cases
against each target with a line (or KTAP) per finished test, then prints the table, the
reasons and the failures, writes the reports, and exits with tcpfault.exit_codes' status.
A Ctrl-C stops the run, sums up what finished, and exits 130."""

import os
import platform
import sys
import time

import tcpfault

from .. import case_runs, exit_codes, guest_clock, html_report, preflight, scratch, shards, targets
from ..case_runs import VERDICTS_OK, cases_dir
from ..exit_codes import usage
from ..progress import Progress
from . import run, summary

COMMAND = "conformance"
USAGE = ("tcpfault conformance [--target kernel|lwip|gvisor|agent:COMMAND ...] [--family 4|6|both]\n"
         "                            [--case ID ...] [-k EXPR] [--shard K/N [--durations FILE]] [--jobs N]\n"
         "                            [--slow] [--ktap] [--junit FILE] [--json FILE] [--markdown FILE]\n"
         "                            [--html FILE] [--artifacts DIR]")


def check_target(target):
    if target == "kernel" or target in targets.AGENTS or (target.startswith("agent:") and target[len("agent:"):].strip()):
        return target
    raise usage(COMMAND, f"unknown target {target!r}: use kernel, {', '.join(targets.AGENTS)}, or agent:COMMAND "
                         "(a program that speaks docs/agent-protocol.md, e.g. agent:/opt/mystack/agent --verbose)")


def default_durations():
    return os.path.join(cases_dir(), "durations.json")


def check(options):
    """Everything that can be wrong before the run: usage first (2), then what the
    machine lacks (3)."""
    options.target = [check_target(t) for t in (options.target or ["kernel"])]
    if len(set(options.target)) != len(options.target):
        raise usage(COMMAND, "a target is given twice")
    for target in options.target:
        if target in targets.AGENTS:
            try:
                targets.agent(target)
            except tcpfault.Error as e:
                raise exit_codes.cannot_run(COMMAND, f"--target {target}: {e}") from None
    if options.jobs < 1:
        raise usage(COMMAND, "--jobs must be 1 or more")
    preflight.keyword_expression(COMMAND, options.k)
    if options.shard:
        shards.parse(COMMAND, options.shard)
        options.durations = options.durations or default_durations()
        try:
            shards.load_durations(options.durations)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise usage(COMMAND, f"--durations {options.durations}: not a conformance JSON report ({e})") from None
    elif options.durations:
        raise usage(COMMAND, "--durations balances --shard: give --shard K/N too")
    for option in ("junit", "json", "markdown", "html"):
        preflight.output_file(COMMAND, f"--{option}", getattr(options, option))
    preflight.output_folder(COMMAND, "--artifacts", options.artifacts)
    if options.case:
        known = case_runs.case_ids()
        unknown = [c for c in options.case if c not in known]
        if unknown:
            raise usage(COMMAND, f"--case {', '.join(unknown)}: no such case (tcpfault list shows them; ids are "
                                 "exact: CL1 is not CL10)")
    preflight.need_root(COMMAND, "every scenario runs in network namespaces of its own, behind NFQUEUE")


def command(options):
    check(options)
    several = len(options.target) > 1
    base = options.artifacts or scratch.make(COMMAND)
    kept = bool(options.artifacts)
    rows, logs = [], []
    started = time.time()
    progress = Progress(run.describe, ktap=options.ktap, targets=len(options.target))
    try:
        for number, target in enumerate(options.target, 1):
            folder = os.path.join(base, run.target_slug(target)) if several else base
            junit = options.junit
            if junit and several:
                stem, ext = os.path.splitext(junit)
                junit = f"{stem}.{run.target_slug(target)}{ext or '.xml'}"
            progress.begin_target(target)
            before = len(rows)
            target_started = time.time()
            code, log_path = run.run_target(options, target, folder, junit, progress, rows)
            if code in (2, 3, 4):  # collection errors, pytest's internal or usage error: nothing ran
                sys.stderr.write(open(log_path).read()[-4000:])
                whole = f"; all of it: {log_path}" if kept else ""
                raise exit_codes.cannot_run(COMMAND, f"pytest could not run the cases against {target} "
                                                     f"(the end of its log is above{whole})")
            mine = rows[before:]
            progress.end_target(number, all(r["verdict"] in VERDICTS_OK for r in mine))
            logs.append((target, time.time() - target_started, log_path))
    except case_runs.Interrupted:
        finish(options, rows, logs, started, base, kept, interrupted=True)
        return exit_codes.INTERRUPTED
    except BaseException:
        if not kept:
            scratch.remove(base)
        raise
    return finish(options, rows, logs, started, base, kept, interrupted=False)


def finish(options, rows, logs, started, base, kept, interrupted):
    elapsed = time.time() - started
    several = len(options.target) > 1
    out = sys.stderr if options.ktap else sys.stdout  # stdout stays KTAP
    bad = [r for r in rows if r["verdict"] not in VERDICTS_OK]
    if not rows and not interrupted:
        if not kept:
            scratch.remove(base)
        if options.shard:
            print(f"shard {options.shard} has no test: there are fewer selected tests than shards", file=out)
            return exit_codes.OK
        raise usage(COMMAND, "no test matches the selection (--case, -k, --family, --slow); tcpfault list shows "
                             "the cases")
    report = summary.report_of(options.target, platform.release(), started, elapsed, rows,
                               {"interrupted": interrupted, "shard": options.shard,
                                # each target's own wall time (they run one after the other)
                                "target_durations_s": {t: round(s, 3) for t, s, _ in logs}})
    if options.html and rows:  # before what passed is removed: the page draws every test's ladder
        html_report.write(options.html, report, artifacts_kept=kept)
    if not kept:
        keep_failures_only(rows, base)
    if several:
        columns, column_of = options.target, (lambda r: r["target"])
    else:
        columns = [f"IPv{f}" for f in ("46" if options.family == "both" else options.family)]
        column_of = lambda r: r["family"]  # noqa: E731
    if rows:
        stdout, sys.stdout = sys.stdout, out
        try:
            print("\n" + summary.summary_table(rows, columns, column_of))
            for target in options.target:
                summary.print_target_details([r for r in rows if r["target"] == target], target, several)
        finally:
            sys.stdout = stdout
    if options.markdown:
        with open(options.markdown, "w") as f:
            f.write(summary.markdown_table(rows, columns, column_of))
    if options.json:
        summary.write_json(options.json, report)
    where = ("; ".join(f"{t} {s:.1f} s" for t, s, _ in logs) if several else "")
    if kept:
        where += ("; " if where else "") + f"pytest log and artifacts in {base}"
    elif bad:
        where += ("; " if where else "") + f"the failures' pytest log and artifacts kept in {base}"
    else:
        scratch.remove(base)
    tail = f" ({where})" if where else ""
    print(f"\n{summary.counts_line(rows)} in {elapsed:.1f} s{guest_clock.label()} on Linux {platform.release()}{tail}",
          file=out)
    if options.ktap:
        counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in ("pass", "deviation", "n/a", "skip")}
        print(f"# Totals: pass:{counts['pass']} fail:{len(bad)} xfail:{counts['deviation']} xpass:0 "
              f"skip:{counts['n/a'] + counts['skip']} error:0")
    if interrupted:
        print(f"interrupted: {len(rows)} test(s) had finished; the run was stopped (exit status 130)", file=out)
        return exit_codes.INTERRUPTED
    return exit_codes.FAILED if bad else exit_codes.OK


def keep_failures_only(rows, base):
    """Without --artifacts, what a passing test left is removed: the failures' artifacts
    are kept for the messages that name them."""
    for r in rows:
        if r["verdict"] in VERDICTS_OK:
            for path in r["artifacts"].values():
                if path.startswith(base + os.sep):
                    try:
                        os.remove(path)
                    except OSError:
                        pass
    scratch.remove(os.path.join(base, "pytest-tmp"))


def add_parser(commands):
    run_parser = commands.add_parser(
        COMMAND, help="run the suite and report", usage=USAGE,
        description="Run the conformance cases in parallel, with a line per test as it finishes (or KTAP), then "
                    "print a table of the tests x family (or, with several targets, x target) -> pass / known "
                    "deviation / n/a / fail / target failure with durations, the reasons for deviations and "
                    "not-applicable cases, and each failure with its ladder.",
        **exit_codes.PARSER)
    run_parser.add_argument("--target", action="append", metavar="TARGET",
                            help="the stack under test: kernel (default), lwip (the agent in agents/lwip), gvisor (the agent "
                                 "in agents/gvisor: gVisor's netstack), or "
                                 "agent:COMMAND (any program speaking docs/agent-protocol.md); give it several "
                                 "times for a case x target matrix")
    run_parser.add_argument("--family", choices=("4", "6", "both"), default="both",
                            help="address family (default: both)")
    run_parser.add_argument("--case", action="append", metavar="ID",
                            help="only this case, by its exact id (CL2; repeatable; tcpfault list shows them)")
    run_parser.add_argument("-k", metavar="EXPR", help="only tests whose names match EXPR (pytest -k syntax)")
    run_parser.add_argument("--shard", metavar="K/N",
                            help="only shard K of N: a stable split of the selected tests, balanced by recorded "
                                 "durations, for N CI jobs (tcpfault merge joins their reports)")
    run_parser.add_argument("--durations", metavar="FILE",
                            help="with --shard: the durations to balance by, from a conformance --json report "
                                 "(default: the cases' durations.json)")
    run_parser.add_argument("--jobs", type=int, default=case_runs.default_jobs(), metavar="N",
                            help=case_runs.JOBS_HELP)
    run_parser.add_argument("--slow", action="store_true", help="also run the slow cases (TIME_WAIT's minute)")
    run_parser.add_argument("--ktap", action="store_true",
                            help="stream KTAP (kselftest's format) on stdout; the table goes to stderr")
    run_parser.add_argument("--junit", metavar="FILE", help="write JUnit XML: one testcase per test and family")
    run_parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    run_parser.add_argument("--markdown", metavar="FILE",
                            help="write the summary table as Markdown (test x family, or test x target)")
    run_parser.add_argument("--html", metavar="FILE",
                            help="write a self-contained HTML report: the table with filters, each case opening to "
                                 "its tests' ladders (links to the artifacts are relative when DIR of --artifacts "
                                 "is beside FILE)")
    run_parser.add_argument("--artifacts", metavar="DIR",
                            help="keep the pytest log and every test's pcapng, JSON timeline and ladder in DIR "
                                 "(without it they go to a temporary folder, removed at the end but for the "
                                 "failures')")
    run_parser.set_defaults(run=command)


