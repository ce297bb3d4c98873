"""tcpfault sysctl-check: bad input named clearly, the host only read, an unchanged proposal,
and one real behavioural change found by running a case under both settings."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tcpfault import sysctl_cases
from tcpfault.sysctl_check import exit_status
from tcpfault.sysctl_diff import Run, compare, failure_summary

CASES = pathlib.Path(__file__).resolve().parents[2] / "cases"
SEED_BLOCK = pathlib.Path(__file__).resolve().parents[2] / "ci" / "examples" / "seed-articles.conf"

# A key no case covers, so that a check of it runs nothing (fast): its default here is 2.
UNCOVERED = "net.ipv4.tcp_ecn"


def check(*args, tmp_path):
    """Runs the command; returns (exit status, its text with the lines joined, the JSON report)."""
    report = tmp_path / "report.json"
    env = dict(os.environ, TCPFAULT_CASES=str(CASES))
    out = subprocess.run([sys.executable, "-m", "tcpfault.cli", "sysctl-check", *map(str, args), "--json",
                          str(report)], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode in (0, 1, 2), out.stdout + out.stderr
    return out.returncode, " ".join(out.stdout.split()), json.loads(report.read_text())


def conf(tmp_path, text, name="proposed.conf"):
    path = tmp_path / name
    path.write_text(text)
    return path


def setting(report, key):
    return next(s for s in report["settings"] if s["key"] == key)


def test_malformed_line_names_file_line_and_what_is_wrong(tmp_path):
    path = conf(tmp_path, f"# a comment\n{UNCOVERED} = 1\nnet.ipv4.tcp_tw_reuse\n")
    code, out, report = check(path, tmp_path=tmp_path)
    assert code == 2
    assert f"{path}:3" in out and "MALFORMED: expected 'key = value' but found no '='" in out
    bad = [s for s in report["settings"] if s["status"] == "malformed"]
    assert len(bad) == 1 and bad[0]["line"] == 3 and bad[0]["invalid"]
    assert setting(report, UNCOVERED)["status"] == "ok"  # the reading went on past it


def test_unknown_key_is_named_with_the_likely_one(tmp_path):
    code, out, report = check(conf(tmp_path, "net.ipv4.tcp_fin_timout = 30\n"), tmp_path=tmp_path)
    assert code == 2
    assert "UNKNOWN KEY: unknown key net.ipv4.tcp_fin_timout" in out
    assert "did you mean net.ipv4.tcp_fin_timeout?" in out
    assert setting(report, "net.ipv4.tcp_fin_timout")["status"] == "unknown"


def test_removed_key_names_the_release_that_removed_it(tmp_path):
    code, out, report = check(conf(tmp_path, "net.ipv4.tcp_tw_recycle = 1\n"), tmp_path=tmp_path)
    assert code == 2
    assert "REMOVED: net.ipv4.tcp_tw_recycle was removed in Linux 4.12" in out
    assert setting(report, "net.ipv4.tcp_tw_recycle")["invalid"]


def test_out_of_range_value_gives_the_accepted_range(tmp_path):
    code, out, report = check(conf(tmp_path, "net.ipv4.tcp_tw_reuse = 3\nnet.ipv4.ip_local_port_range = 1024 70000\n"),
                              tmp_path=tmp_path)
    assert code == 2
    assert "net.ipv4.tcp_tw_reuse = '3' is refused by the kernel: out of range (3); this kernel accepts 0..2" in out
    ports = setting(report, "net.ipv4.ip_local_port_range")
    assert ports["status"] == "refused" and ports["accepted"][1] == [32768, 65535]
    assert "out of range (field 2 70000)" in ports["message"]


def test_a_dash_line_reports_its_error_without_failing(tmp_path):
    code, out, report = check(conf(tmp_path, "-net.ipv4.tcp_tw_recycle = 1\n-net.ipv4.no_such_key = 1\n"),
                              tmp_path=tmp_path)
    assert code == 0, out
    assert "(ignored: the line begins with '-')" in out
    assert all(s["ignore_errors"] and not s["invalid"] for s in report["settings"])


def test_a_directory_is_read_as_sysctl_d(tmp_path):
    d = tmp_path / "sysctl.d"
    d.mkdir()
    (d / "20-later.conf").write_text(f"{UNCOVERED}=1\n")
    (d / "10-first.conf").write_text(f"{UNCOVERED} = 0\n")
    (d / "README").write_text("not a conf file = 1\n")
    code, out, report = check(d, tmp_path=tmp_path)
    assert code == 0, out
    assert [pathlib.Path(s["source"]).name for s in report["settings"]] == ["10-first.conf", "20-later.conf"]
    assert report["keys"][UNCOVERED]["proposal"] == "1"  # the later file wins
    assert report["settings"][0]["overridden_by"].endswith("20-later.conf:1")
    assert "no case covers it" in report["keys"][UNCOVERED]["risk"]


def test_a_global_key_is_named_and_never_written(tmp_path):
    path = "/proc/sys/net/core/netdev_max_backlog"
    before = pathlib.Path(path).read_text()
    wanted = "3001" if before.strip() != "3001" else "3002"
    code, out, report = check(conf(tmp_path, f"net.core.netdev_max_backlog = {wanted}\n"), tmp_path=tmp_path)
    assert code == 0, out
    assert "NOT PER NAMESPACE: net.core.netdev_max_backlog is global to the machine" in out
    assert "the check cannot run it" in out
    assert setting(report, "net.core.netdev_max_backlog")["status"] == "not_per_netns"
    assert pathlib.Path(path).read_text() == before


def proc_sys_net():
    """Every readable value under /proc/sys/net/{ipv4,core} (the host's view)."""
    values = {}
    for top in ("/proc/sys/net/ipv4", "/proc/sys/net/core"):
        for root, _, files in os.walk(top):
            for name in files:
                try:
                    values[os.path.join(root, name)] = pathlib.Path(root, name).read_text()
                except OSError:
                    pass  # write-only (route/flush)
    return values


def test_host_baseline_reads_the_host_without_writing_it(tmp_path):
    before = proc_sys_net()
    code, out, report = check(conf(tmp_path, "net.ipv4.tcp_fin_timeout = 31\n"), "--baseline", "host",
                              "--family", "4", "--cases", "CL7", tmp_path=tmp_path)
    assert code == 0, out
    assert report["baseline"]["kind"] == "host"
    assert report["keys"]["net.ipv4.tcp_fin_timeout"]["baseline"] == before["/proc/sys/net/ipv4/tcp_fin_timeout"].strip()
    assert report["runs"]["tests"] == 2  # CL7 ran under both settings
    assert report["keys"]["net.ipv4.tcp_fin_timeout"]["pinned_by"] == {"CL7": {"client": ["1"]}}
    assert proc_sys_net() == before


def test_a_proposal_equal_to_the_baseline_reports_no_change(tmp_path):
    block = "net.ipv4.tcp_fin_timeout = 30\nnet.ipv4.ip_local_port_range = 10000\t65000\n"
    baseline = conf(tmp_path, block, "baseline.conf")
    proposal = conf(tmp_path, block.replace("\t", "   "))
    code, out, report = check(proposal, "--baseline", baseline, tmp_path=tmp_path)
    assert code == 0, out
    assert "no change: the proposal gives every key the baseline's value" in out
    assert not any(k["changed"] for k in report["keys"].values())
    assert report["runs"]["tests"] == 0 and report["differences"] == []


def test_no_time_wait_buckets_break_the_four_way_close(tmp_path):
    """End to end: CL1 under the defaults and under tcp_max_tw_buckets = 0."""
    code, out, report = check(conf(tmp_path, "net.ipv4.tcp_max_tw_buckets = 0\n"), "--family", "4",
                              "--cases", "CL1", tmp_path=tmp_path)
    assert code == 1, out
    diff, = report["differences"]
    assert diff["case"] == "CL1" and diff["verdict_changed"]
    assert diff["baseline"]["runs"] == ["pass", "pass"] and diff["proposal"]["runs"] == ["fail", "fail"]
    assert "TIME_WAIT" in diff["proposal"]["failure"] and "CLOSED" in diff["proposal"]["failure"]
    assert {"what": "client TcpExt.TCPTimeWaitOverflow", "baseline": "-", "proposal": "1"} in diff["observations"]
    assert "CL1 (four-way close" in report["keys"]["net.ipv4.tcp_max_tw_buckets"]["risk"]
    assert "baseline: passes" in out and "proposal: fails: expectation failed" in out


def test_the_seed_block_names_tcp_tw_recycle_as_removed(tmp_path):
    """Only the input check of the seed articles' block: its full run is the README's."""
    code, out, report = check(SEED_BLOCK, "--cases", "HS3", "--family", "4", tmp_path=tmp_path)
    assert code == 2
    assert setting(report, "net.ipv4.tcp_tw_recycle")["status"] == "removed"
    assert setting(report, "net.core.netdev_max_backlog")["status"] == "not_per_netns"
    assert report["keys"]["net.ipv4.tcp_syn_retries"]["changed"]


# ---- the parts, without running anything ----

def run(setting, verdict="pass", failure="", **observations):
    return Run(variant="t.py::test_x[IPv4]", setting=setting, case="XX1", title="x", family="IPv4", verdict=verdict,
               failure=failure, observations={k: {"value": v, "unit": ""} for k, v in observations.items()},
               pinned={}, duration_s=0.1)


def test_a_difference_counts_only_when_each_setting_agrees_with_itself():
    steady, = compare([run("baseline", n=1), run("baseline", n=1), run("proposal", n=2), run("proposal", n=2)])
    assert steady.changed and steady.confirmed and steady.observations[0][0] == "n"
    noisy, = compare([run("baseline", n=1), run("baseline", n=2), run("proposal", n=2), run("proposal", n=2)])
    assert not noisy.changed and noisy.unstable[0][0] == "n"


def test_durations_are_the_same_within_the_timer_tolerance():
    def timed(setting, seconds):
        r = run(setting)
        r.observations = {"delay": {"value": seconds, "unit": "s"}}
        return r
    close, = compare([timed("baseline", 1.000), timed("proposal", 1.020)])
    assert not close.changed
    apart, = compare([timed("baseline", 1.0), timed("proposal", 30.0)])
    assert apart.changed


def test_a_failure_is_summed_up_by_what_was_expected_and_seen():
    text = ("def test(net):\n>   net.expect(x)\nE   tcpfault.ExpectationFailed: expectation failed: client in TIME_WAIT\n"
            "E     expected: TIME_WAIT\nE     seen:     no socket (CLOSED)\nE   ladder of ...\n")
    assert failure_summary(text) == "expectation failed: client in TIME_WAIT; expected: TIME_WAIT; seen: no socket (CLOSED)"


def test_fail_on_chooses_which_changes_fail():
    verdict, = compare([run("baseline"), run("baseline"), run("proposal", "fail", "x"), run("proposal", "fail", "x")])
    detail, = compare([run("baseline", n=1), run("baseline", n=1), run("proposal", n=2), run("proposal", n=2)])
    keys = {"net.ipv4.tcp_tw_reuse": {"changed": True, "cases": {"XX1": "why"}}}
    assert exit_status([], [detail], keys, "any") == 1
    assert exit_status([], [detail], keys, "verdict") == 0
    assert exit_status([], [verdict], keys, "verdict") == 1
    assert exit_status([], [verdict], keys, "none") == 0
    assert exit_status([], [verdict], keys, ["XX1"]) == 1
    assert exit_status([], [verdict], keys, ["net.ipv4.tcp_tw_reuse"]) == 1
    assert exit_status([], [verdict], keys, ["TW5", "net.ipv4.tcp_fin_timeout"]) == 0
    assert exit_status(["an invalid line"], [], keys, "none") == 2


def test_every_case_the_map_names_exists():
    env = dict(os.environ, TCPFAULT_CASES=str(CASES))
    out = subprocess.run([sys.executable, "-m", "tcpfault.cli", "list"], env=env, capture_output=True, text=True,
                         timeout=120)
    listed = {line.split()[0] for line in out.stdout.splitlines()[1:]}
    named = {case for key in sysctl_cases.keys() for case in sysctl_cases.cases_for(key)}
    assert named <= listed, sorted(named - listed)
    assert not set(sysctl_cases.NOT_SHOWN) & set(sysctl_cases.COVERAGE)


@pytest.mark.parametrize("args, message", [
    (["--fail-on", ","], "--fail-on takes any, verdict, none, or a comma list"),
    (["--jobs", "0"], "--jobs must be 1 or more"),
])
def test_bad_arguments_say_what_is_wrong(tmp_path, args, message):
    env = dict(os.environ, TCPFAULT_CASES=str(CASES))
    out = subprocess.run([sys.executable, "-m", "tcpfault.cli", "sysctl-check", str(conf(tmp_path, "")), *args],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and message in out.stderr


# ---- the plugin's overlay, under pytester ----

pytest_plugins = ["pytester"]

OVERLAY_CASES = """
import pytest

KEY = "net.ipv4.tcp_fin_timeout"
EXPECTED = {"baseline": "60", "proposal": "7"}  # 60: a fresh namespace's default

def test_overlay_reaches_both_ends(net, tcpfault_sysctl_setting):
    assert net.sysctl("client", KEY) == net.sysctl("server", KEY) == EXPECTED[tcpfault_sysctl_setting]

@pytest.mark.sysctl(client={KEY: 3})
def test_the_case_keeps_its_own_value(net, tcpfault_sysctl_setting):
    assert net.sysctl("client", KEY) == "3"
    assert net.sysctl("server", KEY) == EXPECTED[tcpfault_sysctl_setting]
"""


def test_the_overlay_runs_each_test_per_setting_and_the_case_keeps_its_own_values(pytester):
    pytester.makepyfile(test_overlay=OVERLAY_CASES)
    overlay = pytester.path / "overlay.json"
    overlay.write_text(json.dumps({"baseline": {}, "proposal": {"client": {"net.ipv4.tcp_fin_timeout": "7"},
                                                                "server": {"net.ipv4.tcp_fin_timeout": "7"}}}))
    result = pytester.runpytest_subprocess("-p", "tcpfault.pytest_plugin", "-p", "no:cacheprovider", "-v",
                                           "--tcpfault-family", "4", "--tcpfault-sysctl-overlay", str(overlay))
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test_overlay_reaches_both_ends?baseline-IPv4? PASSED*",
                                 "*test_the_case_keeps_its_own_value?proposal-IPv4? PASSED*"])


def test_a_bad_overlay_file_is_a_usage_error(pytester):
    pytester.makepyfile(test_overlay=OVERLAY_CASES)
    overlay = pytester.path / "overlay.json"
    overlay.write_text(json.dumps({"Proposal!": {}}))
    result = pytester.runpytest_subprocess("-p", "tcpfault.pytest_plugin", "--tcpfault-sysctl-overlay", str(overlay))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*setting name 'Proposal!' must be lower-case letters*"])
