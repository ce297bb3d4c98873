"""The tcpfault command: list, conformance, its reports and its exit status."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree

import pytest

CASES = pathlib.Path(__file__).resolve().parents[2] / "cases"


def tcpfault(*args, cases=CASES):
    env = dict(os.environ, TCPFAULT_CASES=str(cases))
    return subprocess.run([sys.executable, "-m", "tcpfault.cli", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_list_names_every_case_with_title_and_reference():
    out = tcpfault("list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["CASE", "TITLE", "REFERENCE"]
    cl2 = next(line for line in lines if line.startswith("CL2 "))
    assert "final ACK is lost" in cl2 and "RFC 9293" in cl2
    ids = [line.split()[0] for line in lines[1:]]
    assert ids.index("CL1") < ids.index("CL2") < ids.index("CL5")


def test_conformance_reports_as_junit_and_json(tmp_path):
    junit, report, artifacts = tmp_path / "r.xml", tmp_path / "r.json", tmp_path / "art"
    out = tcpfault("conformance", "-k", "cl2", "--family", "both", "--jobs", "2",
                   "--junit", str(junit), "--json", str(report), "--artifacts", str(artifacts))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("CASE ")):]
    assert table[0].split() == ["CASE", "IPv4", "IPv6", "TITLE"]
    # A row per test, each with its own durations and its case's whole title (73 characters).
    cl2 = [line for line in table if line.startswith("CL2 ")]
    assert len(cl2) == 2 and all(line.count("pass") == 2 for line in cl2), table
    assert all("the final ACK is lost: LAST_ACK retransmits its FIN, TIME_WAIT re-ACKs it" in line for line in cl2)
    assert "(test_cl2_without_time_wait_the_second_fin_gets_rst)" in cl2[1]

    testcases = ElementTree.parse(junit).getroot().iter("testcase")
    names = sorted(case.get("name") for case in testcases)
    assert len(names) == 4 and all(n.endswith(("[IPv4]", "[IPv6]")) for n in names)

    results = json.loads(report.read_text())
    assert results["targets"] == ["kernel"] and results["kernel"] == os.uname().release
    fields = {"case", "title", "ref", "family", "target", "verdict", "duration_s", "kernel", "sysctls",
              "artifacts", "deviation"}
    for row in results["results"]:
        assert fields <= row.keys()
        assert row["case"] == "CL2" and row["verdict"] == "pass" and row["family"] in ("IPv4", "IPv6")
        assert all(pathlib.Path(p).is_file() for p in row["artifacts"].values()), row["artifacts"]
    no_buckets = [r for r in results["results"] if "without_time_wait" in r["test"]]
    assert no_buckets and all(r["sysctls"] == {"client net.ipv4.tcp_max_tw_buckets": "0"} for r in no_buckets)


def test_a_failing_case_fails_the_run_and_shows_its_ladder(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p tcpfault.pytest_plugin\n")
    (tmp_path / "test_broken.py").write_text(textwrap.dedent("""
        import pytest
        from tcpfault import FIN

        @pytest.mark.case("XX1", "a case that expects a FIN nobody sends", ref="none")
        def test_expects_a_fin(net):
            net.expect_segments(FIN, count=1, within=0.2)
    """))
    out = tcpfault("conformance", "--family", "4", "--jobs", "1", cases=tmp_path)
    assert out.returncode == 1
    assert "XX1" in out.stdout and "fail" in out.stdout
    assert "expected: exactly 1" in out.stdout and "ladder of" in out.stdout


def test_several_targets_give_a_case_by_target_matrix(tmp_path):
    """Two targets side by side: the kernel, and an agent whose stack is another kernel
    (harness/testing/agents/kernel_agent.py), which must reach the same verdicts."""
    agent = CASES.parent / "harness" / "testing" / "agents" / "kernel_agent.py"
    report = tmp_path / "r.json"
    out = tcpfault("conformance", "-k", "cl2_final or hs5", "--family", "4", "--jobs", "2",
                   "--target", "kernel", "--target", f"agent:{agent} --state-events", "--json", str(report),
                   "--markdown", str(tmp_path / "matrix.md"))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("CASE ")):]
    header = table[0].split()
    assert header[:2] == ["CASE", "kernel"] and header[2].startswith("agent:") and header[-1] == "TITLE"
    rows = {line.split()[0]: line for line in table[1:3]}
    assert set(rows) == {"HS5", "CL2"} and all(line.count("pass") == 2 for line in rows.values())
    markdown = (tmp_path / "matrix.md").read_text().splitlines()
    assert markdown[0].startswith("| case | title | kernel | agent:") and markdown[1].startswith("|---|")
    assert any(line.startswith("| CL2 |") and line.endswith("| pass | pass |") for line in markdown)
    results = json.loads(report.read_text())
    assert len(results["targets"]) == 2
    assert {r["target"] for r in results["results"]} == set(results["targets"])


@pytest.mark.parametrize("args, message", [
    (["--target", "bogus"], "unknown target 'bogus': use kernel, lwip, gvisor, or agent:COMMAND"),
    (["--target", "agent:"], "unknown target 'agent:'"),
    (["--target", "kernel", "--target", "kernel"], "a target is given twice"),
    (["--jobs", "0"], "--jobs must be 1 or more"),
])
def test_bad_arguments_say_what_is_wrong(args, message):
    out = tcpfault("conformance", *args)
    assert out.returncode != 0
    assert message in out.stderr
