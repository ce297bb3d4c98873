"""One exit status scheme for every command (tcpfault.exit_codes), and everything that can
be checked said once, before anything runs."""

import os
import re
import subprocess
import sys

import pytest

from cli_helpers import CASES, cases_dir, tcpfault
from tcpfault import exit_codes, preflight

SEED = CASES.parent / "ci" / "examples" / "seed-articles.conf"


@pytest.mark.parametrize("args, message", [
    (["conformance", "--case", "XX9"], "--case XX9: no such case"),
    (["conformance", "-k", "cl2 and ("], "-k 'cl2 and (': at column"),
    (["conformance", "--json", "/no/such/folder/r.json"], "--json /no/such/folder/r.json: no folder /no/such/folder"),
    (["conformance", "--junit", "/"], "--junit /: is a folder"),
    (["conformance", "--shard", "3/2"], "--shard '3/2': give K/N with 1 <= K <= N"),
    (["conformance", "--durations", "x.json"], "--durations balances --shard"),
    (["conformance", "--target", "bogus"], "unknown target 'bogus'"),
    (["conformance", "--bogus"], "unrecognized arguments: --bogus"),
    (["sysctl-check", str(SEED), "--fail-on", "bogus,XX9"], "--fail-on: bogus, XX9 is neither a case id"),
    (["sysctl-check", str(SEED), "--baseline", "/no/such.conf"], "--baseline /no/such.conf: no such file"),
    (["sysctl-check", str(SEED), "--json", "/no/such/folder/r.json"], "--json /no/such/folder/r.json: no folder"),
    (["merge", "/no/such/report.json"], "/no/such/report.json: not a conformance JSON report"),
    (["wire-states-report", "/no/such/records"], "no such file '/no/such/records'"),
])
def test_bad_usage_is_2_said_once_before_anything_runs(tmp_path, args, message):
    out = tcpfault(*args, cwd=tmp_path)
    assert out.returncode == exit_codes.USAGE, out.stdout + out.stderr
    assert message in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) <= 3 and "Traceback" not in out.stderr, out.stderr
    assert "pass" not in out.stdout and not list(tmp_path.iterdir())  # nothing ran, nothing written


def test_not_root_is_3_said_once(tmp_path):
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    env = dict(os.environ, TCPFAULT_CASES=str(CASES), PYTHONPATH=os.environ["PYTHONPATH"])
    out = subprocess.run(nobody + [sys.executable, "-m", "tcpfault.cli", "conformance", "--case", "CL2"],
                         env=env, capture_output=True, text=True, timeout=120, cwd="/")
    assert out.returncode == exit_codes.CANNOT_RUN, out.stdout + out.stderr
    assert out.stderr.strip().splitlines() == [
        "tcpfault conformance: needs root (every scenario runs in network namespaces of its own, behind NFQUEUE): "
        "run it with sudo"], out.stderr
    assert out.stdout == ""


def test_a_failing_case_is_1_and_a_passing_run_0(tmp_path):
    (tmp_path / "a").mkdir()
    cases = cases_dir(tmp_path / "a", "pass", "fail")
    out = tcpfault("conformance", "--family", "4", "--jobs", "1", cases=cases)
    assert out.returncode == exit_codes.FAILED, out.stdout + out.stderr
    out = tcpfault("conformance", "--family", "4", "--jobs", "1", "--case", "XP1", cases=cases)
    assert out.returncode == exit_codes.OK, out.stdout + out.stderr


def test_every_command_lists_the_scheme_in_its_help():
    for command in ("conformance", "sysctl-check", "merge", "vm", "kernel-matrix", "list", "wire-states-report"):
        out = tcpfault(command, "--help")
        assert out.returncode == 0 and "exit status (the same for every command):" in out.stdout, command
        assert "130  interrupted" in out.stdout, command


def test_version_names_the_commit():
    out = tcpfault("--version")
    assert out.returncode == 0
    assert re.fullmatch(r"tcpfault \d+\.\d+\.\d+ \(commit [0-9a-f]{7,}(-dirty)?\)\n", out.stdout), out.stdout
