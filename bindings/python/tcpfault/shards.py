"""Splitting a run over N machines: a stable partition of the tests, balanced by the
durations an earlier run recorded (a `tcpfault conformance --json` report; the suite
ships cases/durations.json).

Longest first, each test to the shard with the least work so far (ties: the lowest
shard), tests sorted by name where durations tie: the same tests and durations give the
same shards on every machine, which is what lets N CI jobs each run `--shard K/N`."""

import json
import re
import statistics

from .exit_codes import usage


def parse(command, text):
    """'2/4' -> (2, 4); K counts from 1."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise usage(command, f"--shard {text!r}: give K/N with 1 <= K <= N (e.g. --shard 2/4)")
    return int(match.group(1)), int(match.group(2))


def test_name(nodeid):
    """A test as durations name it: its node id without the folder ('test_close.py::test_cl2[IPv4]')."""
    path, sep, rest = nodeid.partition("::")
    return path.rsplit("/", 1)[-1] + sep + rest


def load_durations(path):
    """test name -> seconds, from a conformance JSON report (its results' test and duration_s).
    Several targets' rows of one test: the longest."""
    with open(path) as f:
        report = json.load(f)
    durations = {}
    for row in report.get("results", []):
        name = test_name(row["test"])
        durations[name] = max(durations.get(name, 0.0), float(row["duration_s"]))
    return durations


def partition(names, durations, count):
    """names -> list of `count` lists of names. A test no run recorded counts as the median."""
    known = [durations[n] for n in names if n in durations]
    guess = statistics.median(known) if known else 1.0
    cost = {n: durations.get(n, guess) for n in names}
    shards = [[] for _ in range(count)]
    load = [0.0] * count
    for name in sorted(names, key=lambda n: (-cost[n], n)):
        k = min(range(count), key=lambda i: (load[i], i))
        shards[k].append(name)
        load[k] += cost[name]
    return shards
