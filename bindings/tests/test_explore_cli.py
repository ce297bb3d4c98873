"""tcpfault explore end to end: bad input stops it before anything runs (exit 2, one line
that says what to do), a small conversation is explored with its report and progress, and
a fault that never meets its segment is reported as not having acted, never as a pass."""

import json
import re
import subprocess
import sys

import pytest

from cli_helpers import cases_dir, tcpfault
from tcpfault import exit_codes


@pytest.mark.parametrize("args, said", [
    ((), "name one conversation: --case ID"),
    (("--case", "CL2", "--test", "test_close.py::test_cl1_four_way_close"), "name one conversation"),
    (("--case", "CL99"), "--case CL99: no such case"),
    (("--case", "CL2", "--faults", "drop,nope"), "--faults: unknown fault nope; choose among drop, drop-k"),
    (("--case", "CL2", "--pairs", "-1"), "--pairs must be 0 or more, not -1"),
    (("--case", "CL2", "--jobs", "0"), "--jobs must be 1 or more"),
    (("--case", "CL2", "--transfer-timeout", "-5"), "--transfer-timeout must be 0 or more, not -5"),
    (("--case", "CL2", "--budget", "0"), "--budget takes a positive number of seconds"),
    (("--case", "CL2", "--target", "bsd"), "unknown target 'bsd'"),
    (("--case", "CL2", "--target", "kernel", "--target", "kernel"), "a target is given twice"),
    (("--test", "test_nowhere.py::test_x"), "--test test_nowhere.py::test_x: no file test_nowhere.py"),
    (("--test", "test_close.py"), "give FILE.py::TEST_FUNCTION"),
])
def test_bad_input_is_said_once_before_anything_runs(tmp_path, args, said):
    out = tcpfault("explore", *args, "--out", str(tmp_path / "out"))
    assert out.returncode == exit_codes.USAGE, out.stderr
    assert said in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert not (tmp_path / "out").exists()


def test_an_output_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    out = tcpfault("explore", "--case", "CL2", "--out", str(tmp_path / "file"))
    assert out.returncode == exit_codes.USAGE and "--out" in out.stderr and "is a file" in out.stderr


def test_a_small_conversation_is_explored_with_its_report(tmp_path):
    cases = cases_dir(tmp_path, "pass")
    out = tcpfault("explore", "--test", "test_kinds.py::test_passes", "--faults", "drop,duplicate", "--jobs", "2",
                   "--out", str(tmp_path / "out"), "--reproduce", "all", cases=cases)
    assert out.returncode in (exit_codes.OK, exit_codes.FAILED), out.stdout + out.stderr
    report = json.loads((tmp_path / "out" / "explore.json").read_text())
    results = report["results"]["kernel"]
    points = report["conversations"]["kernel"]["points"]
    assert points[:3] == ["client SYN #1", "server SYN_ACK #1", "client HANDSHAKE_ACK #1"]
    assert set(results) == {"clean"} | {f"{f}@{p.replace(' #', '.').replace(' ', '.')}"
                                        for p in points for f in ("drop", "duplicate")}
    assert results["drop@client.SYN.1"]["acted"] is True
    acted_on = {json.loads(line)["variant"]: json.loads(line)["acted_on"]
                for line in (tmp_path / "out" / "runs" / "kernel.jsonl").read_text().splitlines()}
    assert acted_on["drop@client.SYN.1"] == ["client SYN"] and acted_on["duplicate@server.SYN_ACK.1"] == ["server SYN_ACK"]
    assert results["drop@client.SYN.1"]["normalised"]["segments"].count("client SYN RETRANSMISSION") == 1
    # a line per finished run (the clean run's repeats too: their noise is all the results keep
    # of them; and per run again, before its reproducer), then the summary
    first = [line for line in out.stdout.splitlines() if re.match(r"\[\d+/\d+\] kernel [^ ]+: ", line)]
    again = [line for line in out.stdout.splitlines() if re.match(r"\[\d+/\d+\] kernel again [^ ]+: ", line)]
    repeats = report["options"]["clean_runs"] - 1
    assert repeats == 2 and "noise" in report, report["options"]
    assert len(first) == len(results) + repeats and len(again) == len(report["reproducers"]) > 0, out.stdout
    assert "tcpfault explore: " in out.stdout.splitlines()[-1]
    # --reproduce all: a reproducer for each run that tells its fault apart and did the same twice
    assert all(r["path"] or r["unstable"] for r in report["reproducers"])
    markdown = (tmp_path / "out" / "explore.md").read_text()
    assert "| client SYN #1 | ok | ok |" in markdown, markdown


def test_a_fault_that_never_meets_its_segment_did_not_act(tmp_path):
    cases = cases_dir(tmp_path, "pass")
    records = tmp_path / "records.jsonl"
    rules = [{"action": "drop", "match": {"role": "FIN", "sent_by": "server", "not_role": "RETRANSMISSION"},
              "nth": 5, "count": 1, "primary": True}]
    explore = tmp_path / "explore.json"
    explore.write_text(json.dumps({"tests": ["test_kinds.py::test_passes"], "records": str(records), "settle": 1.0,
                                   "variants": [{"id": "drop@server.FIN.5", "rules": rules}]}))
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-p", "tcpfault.pytest_plugin",
                          "--tcpfault-family", "4", "--tcpfault-explore", str(explore), str(cases / "test_kinds.py")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout
    record, = [json.loads(line) for line in records.read_text().splitlines()]
    assert record["variant"] == "drop@server.FIN.5" and record["outcome"] == "passed"
    assert record["acted"] is False and record["rules"][0]["applied"] == 0
    assert record["acted_on"] == [None]
