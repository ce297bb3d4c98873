#!/usr/bin/python3
"""Real time against virtual time, side by side in one run: each workload runs in
`tcpfault vm --kernel K` and in `tcpfault vm --kernel K --virtual-time`, one after the
other; the bench prints the wall time of each, their ratio, and whether the findings are
the same (conformance: every test's verdict per family; sysctl-check: the confirmed
differences per key, case, test and family, and the exit status).

    bindings/bench/vm_virtual_time_bench.py [--tcpfault build/bin/tcpfault] [--kernel 6.1]
        [--out DIR] [--only sysctl-check|conformance-slow ...] [-k EXPR]

The workloads: `sysctl-check ci/examples/seed-articles.conf` (baseline: the kernel's
defaults), `conformance --slow` (-k EXPR narrows it) and the slow case alone
(`conformance --slow --case TW1`). The goal: the same findings in at most a quarter of the
wall time, which a run that mostly waits meets and one that mostly computes cannot. Needs
root (tcpfault vm does).
"""

import argparse
import json
import os
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOAL = 0.25


def workloads(options):
    """name -> (the guest's command, given the report path and the artifacts folder; a reader of its findings)."""
    seed = os.path.join(TOP, "ci", "examples", "seed-articles.conf")
    slow = ["conformance", "--slow"] + (["-k", options.k] if options.k else [])
    return {
        "sysctl-check": (lambda report, art: ["sysctl-check", seed, "--baseline", "defaults", "--json", report,
                                              "--artifacts", art], sysctl_findings),
        "conformance-slow": (lambda report, art: slow + ["--json", report, "--artifacts", art],
                             conformance_findings),
        # The slow case alone: TW1's minute of TIME_WAIT, what --slow adds to the suite.
        "slow-case-TW1": (lambda report, art: ["conformance", "--slow", "--case", "TW1", "--json", report,
                                               "--artifacts", art], conformance_findings),
    }


def conformance_findings(report):
    """(test, family) -> verdict, for every test the run had."""
    return {f"{r['test']} [{r['family']}]": r["verdict"] for r in report["results"]}


def sysctl_findings(report):
    """The confirmed differences, each named by key, case, test and family with the verdicts of
    both sides, and the exit status."""
    found = {f"{d['key']} {d['case']} {d['test']} [{d['family']}]":
             f"{d['baseline']['verdict']} -> {d['proposal']['verdict']}" for d in report["differences"]}
    found["exit status"] = str(report["exit_status"])
    return found


def run_one(options, name, command, virtual):
    mode = "virtual" if virtual else "real"
    folder = os.path.join(options.out, f"{name}.{mode}")
    os.makedirs(folder, exist_ok=True)
    report = os.path.join(folder, "report.json")
    argv = [options.tcpfault, "vm", "--kernel", options.kernel, "--timeout", str(options.timeout)]
    argv += (["--virtual-time"] if virtual else []) + ["--"] + command(report, os.path.join(folder, "artifacts"))
    print(f"\n== {name}, {mode} time: {' '.join(argv)}", flush=True)
    started = time.monotonic()
    with open(os.path.join(folder, "output.txt"), "w") as log:
        # The run's own bound is tcpfault vm's --timeout (wall time); this one only backs it up.
        code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, timeout=options.timeout + 120).returncode
    wall = time.monotonic() - started
    print(f"   exit {code}, {wall:.1f} s of wall time; output in {folder}/output.txt", flush=True)
    try:
        with open(report) as f:
            return wall, json.load(f)
    except (OSError, ValueError):
        return wall, None


def compare(real, virtual):
    """The findings that differ: name -> (real, virtual)."""
    return {k: (real.get(k, "-"), virtual.get(k, "-")) for k in sorted(set(real) | set(virtual))
            if real.get(k) != virtual.get(k)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tcpfault", default=os.path.join(TOP, "build", "bin", "tcpfault"))
    parser.add_argument("--kernel", default="6.1")
    parser.add_argument("--out", default=os.path.join(TOP, "build", "vm_virtual_time_bench"))
    parser.add_argument("--only", action="append", choices=("sysctl-check", "conformance-slow", "slow-case-TW1"))
    parser.add_argument("-k", help="conformance-slow: only the tests matching EXPR (pytest -k)")
    parser.add_argument("--timeout", type=float, default=3600, help="each run's --timeout (wall time)")
    options = parser.parse_args()
    os.makedirs(options.out, exist_ok=True)
    rows, same = [], True
    for name, (command, findings) in workloads(options).items():
        if options.only and name not in options.only:
            continue
        real_wall, real = run_one(options, name, command, virtual=False)
        virtual_wall, virtual = run_one(options, name, command, virtual=True)
        if real is None or virtual is None:
            rows.append((name, real_wall, virtual_wall, "no report"))
            same = False
            continue
        differ = compare(findings(real), findings(virtual))
        same = same and not differ
        rows.append((name, real_wall, virtual_wall,
                     f"same ({len(findings(real))} findings)" if not differ else f"{len(differ)} differ"))
        for what, (r, v) in differ.items():
            print(f"   differs: {what}: real {r}, virtual {v}")
    print(f"\nLinux {options.kernel}      real (s)  virtual (s)  virtual/real  findings  goal")
    for name, real_wall, virtual_wall, verdict in rows:
        ratio = virtual_wall / real_wall
        print(f"{name:<18} {real_wall:8.1f}  {virtual_wall:11.1f}  {ratio:12.2f}  {verdict}  "
              f"{'met' if ratio <= GOAL and verdict.startswith('same') else 'not met'}")
    print(f"goal: the same findings in at most {GOAL:.0%} of the wall time. The exit status says only "
          "whether the findings were the same: a run that mostly computes cannot meet the goal (README, "
          "'Virtual time')")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
