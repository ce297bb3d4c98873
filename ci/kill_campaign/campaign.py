"""Starts tcpfault N times, SIGKILLs each run at a random moment, and counts what each
run left behind (leftovers.py says what counts). One line per run, then the total;
exit status 1 if any run left something.
    campaign.py TOP [--build DIR] [--runs N] [--seed S] [--min SECONDS] [--max SECONDS]
                    [--settle SECONDS] [--command SHELL-COMMAND]"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import leftovers
import procs


def commands(build, top, run_dir):
    """The four kinds of run, in turn: (label, argv, whether only the leader is killed).
    The conformance command on the kernel and on the lwIP agent, and pytest on the cases
    with four xdist workers, lose their whole session at once. pytest alone on the lwIP
    agent loses only its own process, the harness: its agents must die by themselves
    (PR_SET_PDEATHSIG) and whatever it started must end."""
    tcpfault = [f"{build}/bin/tcpfault", "conformance", "--family", "both", "--artifacts", f"{run_dir}/artifacts"]
    pytest = ["/usr/bin/python3", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "not slow"]
    return [
        ("conformance", tcpfault, False),
        ("conformance --target lwip", tcpfault + ["--target", "lwip"], False),
        ("pytest -n 4", pytest + ["-n", "4", f"{top}/cases"], False),
        ("pytest lwip, harness only", pytest + ["--tcpfault-target", "lwip", f"{top}/cases"], True),
    ]


def one_run(options, work, number, delay):
    top = options.top
    run_dir = os.path.join(work, f"run-{number:03d}")
    tmpdir = os.path.join(run_dir, "tmp")
    os.makedirs(tmpdir)
    if options.command:
        label, argv, leader_only = "command", ["/bin/sh", "-c", options.command], False
    else:
        label, argv, leader_only = commands(options.build, top, run_dir)[number % 4]
    before = leftovers.Before(top)
    env = dict(os.environ, TMPDIR=tmpdir, PYTHONPATH=f"{options.build}/python")
    with open(os.path.join(run_dir, "output.log"), "w") as log:
        child = subprocess.Popen(argv, cwd=run_dir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    started = time.monotonic()
    try:
        child.wait(timeout=delay)
        how = f"ended by itself (exit {child.returncode}) before its kill at {delay:.2f} s"
    except subprocess.TimeoutExpired:
        how = f"killed after {delay:.2f} s"
    frozen = procs.freeze(child.pid)
    at_kill = leftovers.AtKill(child.pid, frozen)
    if leader_only:
        procs.kill_leader(child.pid, frozen)
    else:
        procs.kill(child.pid, frozen)
    child.wait()
    killed = time.monotonic()

    # Wait, with a deadline, for what dies asynchronously.
    while True:
        found = leftovers.remaining(at_kill, tmpdir)
        if not found or time.monotonic() - killed > options.settle:
            break
        time.sleep(0.1)  # polling for absence: nothing signals that a namespace is gone
    cleared = time.monotonic() - killed
    procs.kill(child.pid, procs.members(child.pid))  # a leftover process is counted, then ended
    found += [f"host: {line}" for line in leftovers.host_changes(top, before)]
    notes = [f"/tmp/{e} appeared (not counted: /tmp is shared)" for e in leftovers.new_tmp(before)]
    line = f"run {number + 1:3d} {label:<26} {how}; {at_kill.summary()}"
    if found:
        line += f"; LEFT after {cleared:.1f} s: " + "; ".join(found)
    else:
        line += f"; nothing left ({cleared:.2f} s)"
        shutil.rmtree(run_dir, ignore_errors=True)
    if notes:
        line += "; note: " + "; ".join(notes)
    print(line, flush=True)
    return bool(found), bool(at_kill.namespaces), "ended by itself" in how


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("top")
    parser.add_argument("--build", help="the build to run (default TOP/build)")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--min", type=float, default=0.2, help="earliest kill, seconds after the start")
    # With 8 xdist workers on a loaded 2-core machine the first scenarios start 4-7 s in:
    # kills up to 12 s land before, during and between them.
    parser.add_argument("--max", type=float, default=12.0, help="latest kill")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="how long leftovers get to vanish (agents die asynchronously, by PR_SET_PDEATHSIG)")
    parser.add_argument("--command", help="run this shell command instead of tcpfault (the self-test)")
    options = parser.parse_args()
    options.build = options.build or os.path.join(options.top, "build")
    if not 0 < options.min <= options.max <= 60:
        sys.exit("kill campaign: need 0 < --min <= --max <= 60")
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(1 << 32)
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="kill-campaign-", dir=options.build)
    print(f"kill campaign: {options.runs} runs, kills between {options.min} and {options.max} s, seed {seed}, "
          f"runs in {work}", flush=True)
    started = time.monotonic()
    dirty = mid_scenario = ended = 0
    for number in range(options.runs):
        left, had_namespaces, ended_itself = one_run(options, work, number, rng.uniform(options.min, options.max))
        dirty += left
        mid_scenario += had_namespaces
        ended += ended_itself
    print(f"{options.runs} runs, {dirty} left something behind ({mid_scenario} killed while holding namespaces, "
          f"{ended} ended before their kill; {time.monotonic() - started:.0f} s; "
          f"{'the runs that did are kept in ' + work if dirty else 'nothing kept'})")
    if not dirty:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
