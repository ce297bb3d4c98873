"""tcpfault sysctl-check: what a proposed sysctl block changes, found by running the cases.

    tcpfault sysctl-check PROPOSED... [--baseline defaults|host|FILE] [--json FILE]
                          [--fail-on any|verdict|none|LIST] [--family 4|6|both] [--cases LIST]
                          [--jobs N] [--slow] [--artifacts DIR]

1. Read the proposal (files, or sysctl.d directories) and check every line against the
   running kernel, each in a scratch namespace (tcpfault.sysctl.input).
2. The baseline: a fresh namespace's defaults, the host's current values (only read), or
   a file. The proposal is the baseline with the proposed block applied on top, as
   `sysctl -p PROPOSED` would on a machine in the baseline's state.
3. For each key whose value changes, run the cases that can show it
   (tcpfault.sysctl.cases) with that key at the baseline's value and at the proposed one,
   everything else as under the baseline (tcpfault.sysctl.overlay holds the key against
   the case's own setting of it; the other keys the case sets keep its values): what the
   key's value does in each case's scenario. Every key's runs go in one parallel pytest
   run; what differed runs again to confirm it (tcpfault.sysctl.diff).
4. Report (tcpfault.sysctl.report) and exit: 0 no behavioural change, 1 changes found
   (as --fail-on selects), 2 invalid input.
"""

import datetime
import json
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field

import tcpfault

from .. import case_runs, exit_codes, preflight, scratch
from ..progress import Progress
from . import cases as sysctl_cases, input as sysctl_input, report as sysctl_report
from .diff import BASELINE, PROPOSAL, Run, compare, failure_location, failure_summary

FAIL_ON = ("any", "verdict", "none")
# Exit statuses (tcpfault.exit_codes): no behavioural change, changes found, invalid input
# (also bad arguments), and the check itself could not run (pytest failed to start, not root).
NO_CHANGE, CHANGES, INVALID, BROKEN = exit_codes.OK, exit_codes.FAILED, exit_codes.USAGE, exit_codes.CANNOT_RUN


def stop(status, message):
    raise exit_codes.Stop(status, f"tcpfault sysctl-check: {message}")


@dataclass
class Baseline:
    kind: str                 # defaults, host or file
    label: str                # for the report
    overlay: dict = field(default_factory=dict)   # key -> value written under the baseline
    settings: list = field(default_factory=list)  # a file's settings (its problems count)
    host_differs: dict = field(default_factory=dict)  # host: key -> (host value, default)


def normal(value):
    """Values compared as the kernel prints them: fields separated by one space."""
    return " ".join((value or "").split())


def read_baseline(spec, proposal_keys):
    if spec == "defaults":
        return Baseline("defaults", f"the defaults of a fresh network namespace on Linux {platform.release()}")
    if spec == "host":
        baseline = Baseline("host", f"this host's current values (read from /proc/sys, never written), "
                                    f"Linux {platform.release()}")
        for key in sorted(set(proposal_keys) | set(sysctl_cases.keys())):
            probe = tcpfault.probe_sysctl(key)
            if probe.verdict == "valid" and probe.host_value:
                baseline.overlay[key] = probe.host_value
                if normal(probe.host_value) != normal(probe.default_value):
                    baseline.host_differs[key] = (probe.host_value, probe.default_value)
        return baseline
    settings = sysctl_input.read_settings([spec])
    return Baseline("file", spec, sysctl_input.effective(settings), settings)


# ---- running the cases ----

def collect_cases(log_dir=None):
    """case id -> {"title", "tests": {function node id: slow?}}; the collection's log in
    log_dir, or in a temporary folder without one."""
    collector = (case_runs.collect(os.path.join(log_dir, "collect.log")) if log_dir
                 else case_runs.collect_in_scratch())
    cases = {}
    for case_id, tests in collector.tests.items():
        cases[case_id] = {"title": collector.cases[case_id][0],
                          "tests": {f"{t['file']}::{name}": t["slow"] for name, t in tests.items()}}
    return cases


def run_cases(nodeids, items, overlay_path, options, log_dir, name):
    """Runs the tests (`items` of them once parametrized) under both settings; returns
    (Runs, wall time)."""
    args = [os.path.join(case_runs.cases_dir(), n) for n in nodeids] + [
        "-p", "no:cacheprovider", "-q", "--tb=short", "--tcpfault-family", options.family,
        "--tcpfault-sysctl-overlay", overlay_path,
        "--tcpfault-artifacts", os.path.join(options.artifacts or log_dir, name),
        # pytest's own temporary folders under the run's, never shared with another run
        "--basetemp", os.path.join(log_dir, f"{name}-pytest-tmp")]
    if options.jobs > 1:
        args += ["-n", str(min(options.jobs, items)), "--dist", "loadgroup"]
    progress = Progress(describe_run)
    collector = case_runs.Collector(on_finished=progress.finished)
    log_path = os.path.join(log_dir, f"{name}.log")
    started = time.monotonic()
    code = case_runs.run_pytest(args, [collector, progress], log_path)
    wall = time.monotonic() - started
    if code in (2, 3, 4):  # collection errors, pytest's internal or usage error
        sys.stderr.write(open(log_path).read())
        stop(BROKEN, f"pytest could not run the cases (see {log_path})")
    runs = []
    for record in collector.results.values():
        props = record["props"]
        if "tcpfault_sysctl_setting" not in props:
            continue
        verdict = case_runs.verdict_of(record)
        runs.append(Run(
            variant=props["tcpfault_variant"], setting=props["tcpfault_sysctl_setting"].rpartition("_")[2],
            group=props.get("tcpfault_sysctl_group", ""),
            case=props.get("tcpfault_case", ""), title=props.get("tcpfault_title", ""),
            family=case_runs.family_of(record["nodeid"]), verdict=verdict,
            failure=failure_summary(record["text"]) if verdict in ("fail", "error") else "",
            where=failure_location(record["text"]) if verdict in ("fail", "error") else "",
            observations=json.loads(props.get("tcpfault_observations", "{}")),
            pinned=json.loads(props.get("tcpfault_pinned", "{}")),
            overridden=json.loads(props.get("tcpfault_overridden", "{}")), duration_s=record["duration"],
            nodeid=record["nodeid"]))
    return runs, wall


def describe_run(record):
    """A progress line of one run: its case and family, verdict, duration, and the key's
    value it ran under."""
    props = record["props"]
    side = props.get("tcpfault_sysctl_setting", "").rpartition("_")[2]
    return (props.get("tcpfault_case", "?"), case_runs.family_of(record["nodeid"]), case_runs.verdict_of(record),
            record["duration"], f"{props.get('tcpfault_sysctl_group', '')} {side}: {props.get('tcpfault_title', '')}",
            record["text"].strip())


# ---- the command ----

def select_cases(changed, known, options):
    """{case id: [function node ids to run]} and {case id: 'why not run'}."""
    wanted = {case for key in changed for case in sysctl_cases.cases_for(key)}
    if options.cases:
        wanted &= set(options.cases)
    to_run, not_run = {}, {}
    for case in sorted(wanted, key=case_runs.case_sort_key):
        if case not in known:
            not_run[case] = "not among the cases here"
            continue
        tests = [t for t, slow in known[case]["tests"].items() if options.slow or not slow]
        if tests:
            to_run[case] = tests
        if len(tests) < len(known[case]["tests"]):
            not_run[case] = "slow (--slow runs it)" if not tests else "its slow tests not run (--slow runs them)"
    return to_run, not_run


def parse_fail_on(text):
    if text in FAIL_ON:
        return text
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        stop(INVALID, "--fail-on takes any, verdict, none, or a comma list of case ids and keys "
                      "(TW5,net.ipv4.tcp_tw_reuse)")
    return items


def check_names(fail_on, cases, known_cases, proposed_keys):
    """--fail-on's case ids and keys, and --cases' ids, are ones this run can meet."""
    if cases:
        unknown = sorted(set(cases) - known_cases, key=case_runs.case_sort_key)
        if unknown:
            stop(INVALID, f"--cases: no case {', '.join(unknown)} (tcpfault list shows them)")
    if isinstance(fail_on, list):
        unknown = [item for item in fail_on if item not in known_cases and item not in proposed_keys]
        if unknown:
            stop(INVALID, f"--fail-on: {', '.join(unknown)} is neither a case id (tcpfault list shows them) nor a "
                          "key the proposal sets; use any, verdict, none, or such names (TW5,net.ipv4.tcp_tw_reuse)")


def exit_status(invalid, differences, keys, fail_on):
    if invalid:
        return INVALID
    if fail_on == "none":
        return NO_CHANGE
    if fail_on == "verdict":
        return CHANGES if any(d.verdict_changed for d in differences) else NO_CHANGE
    if fail_on == "any":
        return CHANGES if differences else NO_CHANGE
    hit = set(fail_on)
    return CHANGES if any(d.case in hit or d.key in hit for d in differences) else NO_CHANGE


def setting_name(key, side):
    """'ipv4_tcp_tw_reuse_baseline': a setting of the overlay file (a part of test ids)."""
    return re.sub(r"[^a-z0-9]+", "_", key.lower().removeprefix("net.")).strip("_") + "_" + side


def overlay_settings(keys, baseline, tests_of_key):
    """Two settings per changed key: the baseline, and the baseline with that key at its
    proposed value. Both name every proposed key (at the baseline's value where it is not
    the one compared), so that the overlay holds exactly that key against a case's own
    setting of it; the case keeps its own values of the others."""
    base = {**{k: info["baseline"] for k, info in keys.items() if info["baseline"]}, **baseline.overlay}
    settings = {}
    for key, tests in tests_of_key.items():
        for side, values in ((BASELINE, base), (PROPOSAL, {**base, key: keys[key]["proposal"]})):
            settings[setting_name(key, side)] = {"client": values, "server": values, "group": key, "tests": tests}
    return settings


def command_sysctl_check(options):
    started = time.monotonic()
    started_at = datetime.datetime.now(datetime.timezone.utc).isoformat()
    fail_on = parse_fail_on(options.fail_on)
    if options.jobs < 1:
        stop(INVALID, "--jobs must be 1 or more")
    preflight.output_file("sysctl-check", "--json", options.json)
    preflight.output_folder("sysctl-check", "--artifacts", options.artifacts)
    tcpfault_root_check()

    proposal = sysctl_input.read_settings(options.proposed)
    proposed = sysctl_input.effective(proposal)
    baseline = read_baseline(options.baseline, proposed)
    bad_baseline = [s for s in baseline.settings if s.invalid]
    if bad_baseline:
        stop(INVALID, f"--baseline {options.baseline}: " + "; ".join(
            (f"{s.where}: " if s.line else "") + (s.message or s.status).removeprefix(f"{s.source}: ")
            for s in bad_baseline[:5]) +
            (f" (and {len(bad_baseline) - 5} more)" if len(bad_baseline) > 5 else "") +
            ": the baseline must be a block the kernel accepts (fix it, or use --baseline defaults or host)")
    known = None  # the cases, collected once: here when names must be checked, else when keys changed
    if isinstance(fail_on, list) or options.cases:
        known = collect_cases()
        check_names(fail_on, options.cases, set(known), set(proposed))

    defaults = {s.key: s.default for s in proposal if s.status == "ok"}
    keys = {}
    for key, value in proposed.items():
        before = baseline.overlay.get(key, defaults.get(key, ""))
        keys[key] = {"baseline": before, "proposal": value, "changed": normal(before) != normal(value),
                     "cases": sysctl_cases.cases_for(key), "not_shown": sysctl_cases.NOT_SHOWN.get(key)}
    changed = [k for k, info in keys.items() if info["changed"]]

    # With --artifacts the logs go beside the runs' artifacts: in a tcpfault vm guest that
    # folder is the host's, where a temporary one would vanish with the VM.
    if options.artifacts:
        log_dir = options.artifacts
        os.makedirs(log_dir, exist_ok=True)
    else:
        log_dir = scratch.make("sysctl-check")
    try:
        report = check_and_report(options, started, started_at, proposal, baseline, keys, changed, fail_on, log_dir,
                                  known)
    except case_runs.Interrupted:
        print("tcpfault sysctl-check: interrupted: the runs were stopped before any difference was confirmed "
              "(the lines above are the runs that had finished); exit status 130")
        if not options.artifacts:
            scratch.remove(log_dir)
        return exit_codes.INTERRUPTED
    except BaseException:
        if not options.artifacts:
            scratch.remove(log_dir)
        raise
    if not options.artifacts and report["exit_status"] == NO_CHANGE:
        scratch.remove(log_dir)  # nothing to look into
    return report["exit_status"]


def check_and_report(options, started, started_at, proposal, baseline, keys, changed, fail_on, log_dir, known):
    results, not_run, timings = [], {}, {}
    if changed:
        known = known or collect_cases(log_dir)
        to_run, not_run = select_cases(changed, known, options)
        tests_of_key = {k: [t for case in keys[k]["cases"] if case in to_run for t in to_run[case]] for k in changed}
        tests_of_key = {k: tests for k, tests in tests_of_key.items() if tests}
        if tests_of_key:
            overlay_path = os.path.join(log_dir, "overlay.json")
            with open(overlay_path, "w") as f:
                json.dump(overlay_settings(keys, baseline, tests_of_key), f, indent=2)
            nodeids = sorted({t for tests in tests_of_key.values() for t in tests})
            families = 2 if options.family == "both" else 1
            items = 2 * families * sum(len(tests) for tests in tests_of_key.values())
            runs, timings["run_s"] = run_cases(nodeids, items, overlay_path, options, log_dir, "run")
            timings["tests"] = len(runs)
            differing = [v for v in compare(runs) if v.changed or v.unstable]
            if differing:
                # The longest first: they then overlap the others, and the run lasts about as long as they do.
                again = {r.nodeid: r.duration_s for v in differing for r in v.baseline + v.proposal}
                again = sorted(again, key=lambda n: -again[n])
                more, timings["confirm_s"] = run_cases(again, len(again), overlay_path, options, log_dir,
                                                       "confirm")
                timings["confirm_tests"] = len(more)
                runs += more
            results = compare(runs)

    report = sysctl_report.build(
        options=options, started_at=started_at, proposal=proposal, baseline=baseline, keys=keys,
        results=results, not_run=not_run, timings=timings, log_dir=log_dir)
    invalid = [s for s in proposal + baseline.settings if s.invalid]
    differences = [r for r in results if r.changed and r.confirmed]
    report["exit_status"] = exit_status(invalid, differences, keys, fail_on)
    report["duration_s"] = round(time.monotonic() - started, 3)
    print(sysctl_report.text(report))
    if options.json:
        with open(options.json, "w") as out:
            json.dump(report, out, indent=2)
    return report


def tcpfault_root_check():
    if os.geteuid() != 0:
        stop(BROKEN, "needs root: it checks each value in a network namespace of its own and runs the "
                     "cases in namespaces (run it with sudo)")


def add_parser(commands):
    check = commands.add_parser(
        "sysctl-check", help="what a proposed sysctl block changes, found by running the cases",
        usage="tcpfault sysctl-check PROPOSED... [--baseline defaults|host|FILE] [--json FILE]\n"
              "                             [--fail-on any|verdict|none|LIST] [--family 4|6|both]\n"
              "                             [--cases LIST] [--jobs N] [--slow] [--artifacts DIR]",
        description="Check a proposed sysctl block (sysctl.conf files or sysctl.d directories) against the "
                    "running kernel, run the cases that can show each changed key with the key at the "
                    "baseline's value and at the proposed one - even where a case sets the key itself - "
                    "each run in namespaces of its own (the host is only read), and report what behaves "
                    "differently. Exit status: 0 no behavioural change, 1 changes found (see "
                    "--fail-on), 2 invalid input (a malformed line, an unknown or removed key, a value the "
                    "kernel refuses; a line beginning with '-' is reported but not counted; also a bad "
                    "argument), 3 the check could not run.",
        **exit_codes.PARSER)
    check.add_argument("proposed", nargs="+", metavar="PROPOSED",
                       help="sysctl.conf files or directories (their *.conf files), applied in this order")
    check.add_argument("--baseline", default="defaults", metavar="defaults|host|FILE",
                       help="what the proposal is compared with: a fresh namespace's defaults (default), the "
                            "host's current values (only read), or a sysctl.conf file or directory")
    check.add_argument("--json", metavar="FILE", help="write the report as JSON")
    check.add_argument("--fail-on", default="any", metavar="any|verdict|none|LIST",
                       help="which behavioural changes make the exit status 1: any (default); verdict: only a "
                            "case that passes under one setting and fails under the other; none: never; or a "
                            "comma list of case ids and keys (a change in those cases, or in a case one of "
                            "those keys can affect)")
    check.add_argument("--family", choices=("4", "6", "both"), default="both",
                       help="address family of the runs (default: both)")
    check.add_argument("--cases", type=lambda t: [c.strip() for c in t.split(",") if c.strip()],
                       metavar="LIST", help="run only these of the affected cases (CL1,TW3)")
    check.add_argument("--jobs", type=int, default=case_runs.default_jobs(), metavar="N",
                       help=case_runs.JOBS_HELP)
    check.add_argument("--slow", action="store_true", help="also run the slow cases (TW1's minute)")
    check.add_argument("--artifacts", metavar="DIR",
                       help="keep every run's pcapng, JSON timeline and ladder in DIR, and the pytest logs")
    check.set_defaults(run=command_sysctl_check)
