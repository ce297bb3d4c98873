"""Choosing what runs: --case by exact id, --shard K/N (a stable split balanced by recorded
durations), and tcpfault merge joining the shards' reports into one run's."""

import json
import xml.etree.ElementTree as ElementTree

from cli_helpers import tcpfault
from tcpfault import exit_codes, shards


def test_case_ids_are_exact_and_repeatable(tmp_path):
    report = tmp_path / "r.json"
    out = tcpfault("conformance", "--case", "CL1", "--case", "HS5", "--family", "4", "--jobs", "2",
                   "--json", str(report))
    assert out.returncode == 0, out.stdout + out.stderr
    cases = sorted({r["case"] for r in json.loads(report.read_text())["results"]})
    assert cases == ["CL1", "HS5"]  # not CL10


def test_the_partition_is_stable_complete_and_balanced():
    names = [f"test_{i}" for i in range(20)]
    durations = {n: float(i % 7 + 1) for i, n in enumerate(names)}
    parts = shards.partition(names, durations, 3)
    assert parts == shards.partition(list(reversed(names)), dict(durations), 3)  # same on every machine
    assert sorted(n for p in parts for n in p) == sorted(names)  # each test in exactly one shard
    loads = [sum(durations[n] for n in p) for p in parts]
    assert max(loads) - min(loads) <= max(durations.values())
    # A test no run recorded counts as the median, so new cases spread too.
    parts = shards.partition(names + ["test_new_a", "test_new_b"], durations, 2)
    assert sorted(len(p) for p in parts) in ([11, 11], [10, 12])


def test_shards_cover_the_run_and_merge_into_one_report(tmp_path):
    select = ["--case", "CL2", "--case", "HS5", "--family", "4", "--jobs", "2"]
    durations = tmp_path / "durations.json"
    durations.write_text(json.dumps({"results": [
        {"test": "test_close.py::test_cl2_final_ack_lost[IPv4]", "duration_s": 3.0},
        {"test": "test_close.py::test_cl2_without_time_wait_the_second_fin_gets_rst[IPv4]", "duration_s": 2.0},
        {"test": "test_handshake.py::test_hs5_connect_to_closed_port[IPv4]", "duration_s": 1.0}]}))
    reports, junits = [], []
    for k in (1, 2):
        report, junit = tmp_path / f"shard{k}.json", tmp_path / f"shard{k}.xml"
        out = tcpfault("conformance", *select, "--shard", f"{k}/2", "--durations", str(durations),
                       "--json", str(report), "--junit", str(junit))
        assert out.returncode == 0, out.stdout + out.stderr
        reports.append(report)
        junits.append(junit)
    tests = [[r["test"] for r in json.loads(p.read_text())["results"]] for p in reports]
    assert tests[0] and tests[1] and not set(tests[0]) & set(tests[1])
    assert len(tests[0]) + len(tests[1]) == 3
    merged, merged_junit = tmp_path / "all.json", tmp_path / "all.xml"
    out = tcpfault("merge", *map(str, reports), "--json", str(merged),
                   "--junit-in", str(junits[0]), "--junit-in", str(junits[1]), "--junit", str(merged_junit))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 pass: 2 report(s) joined" in out.stdout
    assert len(json.loads(merged.read_text())["results"]) == 3
    root = ElementTree.parse(merged_junit).getroot()
    assert root.get("tests") == "3" and len(list(root.iter("testcase"))) == 3
    # The same shard twice is not a run: merge says so.
    out = tcpfault("merge", str(reports[0]), str(reports[0]))
    assert out.returncode == exit_codes.USAGE and "each test must come from one shard" in out.stderr


def test_an_empty_shard_is_not_an_error(tmp_path):
    out = tcpfault("conformance", "--case", "HS5", "--family", "4", "--shard", "2/2", "--jobs", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "shard 2/2 has no test" in out.stdout
