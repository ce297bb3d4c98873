"""What conformance says while it runs: a line per finished test, KTAP with --ktap, and a
clean stop on Ctrl-C with a summary and exit status 130."""

import os
import re
import selectors
import signal
import tempfile
import time

from cli_helpers import CASES, cases_dir, tcpfault, tcpfault_process
from tcpfault import exit_codes


def test_a_line_per_finished_test_before_the_table(tmp_path):
    out = tcpfault("conformance", "--family", "both", "--jobs", "2",
                   cases=cases_dir(tmp_path, "pass", "fail", "n/a", "deviation"))
    lines = out.stdout.splitlines()
    progress = [line for line in lines if re.match(r"\s+\d+/8\s", line)]
    assert len(progress) == 8, out.stdout
    assert {line.split()[1] for line in progress} == {"XP1", "XF1", "XN1", "XD1"}
    verdicts = {(line.split()[1], line.split()[2]): line.split()[3] for line in progress}
    assert verdicts[("XP1", "IPv4")] == "pass" and verdicts[("XF1", "IPv6")] == "fail"
    assert verdicts[("XN1", "IPv4")] == "n/a" and verdicts[("XD1", "IPv6")] == "deviation"
    assert all(re.search(r"\d+\.\d\d s  a case", line) for line in progress), progress
    table = lines.index(next(line for line in lines if line.startswith("CASE ")))
    assert table > lines.index(progress[-1])


def test_ktap_streams_a_plan_and_a_result_per_test(tmp_path):
    out = tcpfault("conformance", "--family", "4", "--jobs", "1", "--ktap",
                   cases=cases_dir(tmp_path, "pass", "fail", "n/a", "deviation"))
    assert out.returncode == exit_codes.FAILED
    lines = out.stdout.splitlines()
    assert lines[0] == "KTAP version 1" and lines[1] == "1..4", lines
    results = [line for line in lines if re.match(r"(not )?ok \d+ ", line)]
    assert [int(line.split()[1 if line.startswith("ok") else 2]) for line in results] == [1, 2, 3, 4]
    by_case = {re.search(r" (X\w\d) ", line).group(1): line for line in results}
    assert by_case["XP1"].startswith("ok ") and "#" not in by_case["XP1"]
    assert by_case["XF1"].startswith("not ok ")
    assert by_case["XN1"].startswith("ok ") and "# SKIP the target has no such knob" in by_case["XN1"]
    assert by_case["XD1"].startswith("ok ") and "# XFAIL this kernel does it its own way" in by_case["XD1"]
    # The failure's summary comes as diagnostics before its result line.
    failed_at = lines.index(by_case["XF1"])
    diagnostics = lines[lines.index(by_case["XP1"]) + 1:failed_at]
    assert "# expected: exactly 1" in diagnostics and all(line.startswith("# ") for line in diagnostics), lines
    assert lines[-1].startswith("# Totals: pass:1 fail:1 xfail:1")
    # Every other line of stdout is KTAP; the table went to stderr.
    assert all(re.match(r"(KTAP version 1|1\.\.\d+|(not )?ok \d+ |# )", line) for line in lines), lines
    assert "CASE " in out.stderr


def test_ctrl_c_stops_cleanly_with_a_summary_and_130(tmp_path):
    before = set(os.listdir(tempfile.gettempdir()))
    process = tcpfault_process("conformance", "--family", "4", "--jobs", "2",
                               cases=cases_dir(tmp_path, "pass", "wait"))
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    seen, deadline = "", time.monotonic() + 60
    while "XP1" not in seen:  # the quick test has finished; the other one waits
        assert time.monotonic() < deadline, "no progress line within 60 s: " + seen
        if selector.select(timeout=1):
            seen += process.stdout.readline()
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    out, err = process.communicate(timeout=60)
    out = seen + out
    assert process.returncode == exit_codes.INTERRUPTED, out + err
    assert "interrupted: 1 test(s) had finished" in out, out
    assert re.search(r"^XP1\s+pass", out, re.M), out  # the summary table of what finished
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, out + err
    left = {p for p in set(os.listdir(tempfile.gettempdir())) - before if p.startswith("tcpfault-conformance.")}
    assert not left, left


def test_ktap_nests_a_subtest_per_target():
    """Two targets: each is a subtest of its own, indented, whose result line closes it."""
    agent = CASES.parent / "harness" / "testing" / "agents" / "kernel_agent.py"
    out = tcpfault("conformance", "--case", "HS5", "--family", "4", "--jobs", "1", "--ktap",
                   "--target", "kernel", "--target", f"agent:{agent} --state-events")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[:5] == ["KTAP version 1", "1..2", "    KTAP version 1", "    # Subtest: kernel", "    1..1"], lines
    assert re.match(r"    ok 1 HS5 IPv4 test_hs5_connect_to_closed_port\[IPv4\]$", lines[6]), lines
    assert lines[7] == "ok 1 kernel" and lines[-2].startswith("ok 2 agent:"), lines
