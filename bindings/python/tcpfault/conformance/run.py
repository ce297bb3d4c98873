"""One target's run: pytest on the cases with the options asked for, a row per test as
it finishes (and a progress line or KTAP for it)."""

import json
import os
import platform
import re

from .. import case_runs
from ..case_runs import Collector, cases_dir, family_of, verdict_of


def target_slug(target):
    """A directory name for a target's artifacts: 'agent:/opt/x --v' -> 'agent-opt-x-v'."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", target).strip("-") or "target"


def pytest_args(options, target, artifacts, junit):
    args = [cases_dir(), "--ignore", os.path.join(cases_dir(), "controls"), "-p", "no:cacheprovider", "-q",
            "--tb=short", "--tcpfault-family", options.family, "-o", "junit_family=xunit2",
            "--tcpfault-target", target, "-p", "tcpfault.case_selection",
            # pytest's own temporary folders (tmp_path, basetemp) under the run's folder:
            # removed with it, never shared with another run.
            "--basetemp", os.path.join(artifacts, "pytest-tmp")]
    if options.jobs > 1:
        # loadgroup hands out one test at a time, round robin: the slow cases, sorted
        # first by the plugin, land on different workers and overlap everything else.
        args += ["-n", str(options.jobs), "--dist", "loadgroup"]
    if options.k:
        args += ["-k", options.k]
    if not options.slow:
        args += ["-m", "not slow"]
    for case in options.case or []:
        args += ["--tcpfault-case", case]
    if options.shard:
        args += ["--tcpfault-shard", options.shard, "--tcpfault-durations", options.durations]
    if junit:
        args += ["--junitxml", junit]
    args += ["--tcpfault-artifacts", artifacts]
    return args


def row_of(record, target, kernel):
    props = record["props"]
    return {
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
    }


def run_target(options, target, folder, junit, progress, rows):
    """Runs the suite against one target, its pytest log and artifacts in `folder`;
    appends a row to `rows` as each test finishes. Returns pytest's exit code and the
    log's path; raises case_runs.Interrupted after a Ctrl-C (`rows` has what finished)."""
    os.makedirs(folder, exist_ok=True)
    log_path = os.path.join(folder, "pytest.log")
    kernel = platform.release()

    def finished(record):
        row = row_of(record, target, kernel)
        rows.append(row)
        if progress:
            progress.finished(record)

    collector = Collector(on_finished=finished)
    plugins = [collector] + ([progress] if progress else [])
    code = case_runs.run_pytest(pytest_args(options, target, folder, junit), plugins, log_path)
    return code, log_path


def describe(record):
    """What a progress line says of a finished test."""
    props = record["props"]
    verdict = verdict_of(record)
    detail = record.get("target_deviation") or props.get("tcpfault_deviation") or record["text"].strip()
    if verdict == "n/a":
        detail = detail.removeprefix(case_runs.NOT_APPLICABLE)
    return (props.get("tcpfault_case", "?"), family_of(record["nodeid"]), verdict, record["duration"],
            props.get("tcpfault_title", ""), detail)
