"""tcpfault sysctl-check: bad input named clearly, the host only read, an unchanged proposal,
and one real behavioural change found by running a case under both settings."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tcpfault.sysctl import cases as sysctl_cases
from tcpfault.sysctl.check import exit_status
from tcpfault.sysctl.diff import Run, compare, failure_location, failure_summary

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
    """TW4 pins tcp_max_tw_buckets 2; run with the host's value and with 100 instead, it
    fails the same way under both (three TIME_WAIT sockets): no difference."""
    key = "net.ipv4.tcp_max_tw_buckets"
    before = proc_sys_net()
    code, out, report = check(conf(tmp_path, f"{key} = 100\n"), "--baseline", "host", "--family", "4",
                              "--cases", "TW4", tmp_path=tmp_path)
    assert code == 0, out
    assert report["baseline"]["kind"] == "host"
    assert report["keys"][key]["baseline"] == before["/proc/sys/net/ipv4/tcp_max_tw_buckets"].strip()
    assert report["runs"]["tests"] == 2  # TW4 ran under both settings
    assert report["keys"][key]["pinned_by"] == {"TW4": {"client": ["2"]}}
    assert report["keys"][key]["no_difference"] == ["TW4"]
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
    artifacts = tmp_path / "artifacts"
    code, out, report = check(conf(tmp_path, "net.ipv4.tcp_max_tw_buckets = 0\n"), "--family", "4",
                              "--cases", "CL1", "--artifacts", artifacts, tmp_path=tmp_path)
    assert code == 1, out
    assert f"logs in {artifacts})" in out and (artifacts / "run.log").is_file()  # beside the runs' artifacts
    diff, = report["differences"]
    assert diff["case"] == "CL1" and diff["verdict_changed"]
    assert diff["baseline"]["runs"] == ["pass", "pass"] and diff["proposal"]["runs"] == ["fail", "fail"]
    assert "TIME_WAIT" in diff["proposal"]["failure"] and "CLOSED" in diff["proposal"]["failure"]
    assert {"what": "client TcpExt.TCPTimeWaitOverflow", "baseline": "-", "proposal": "1",
            "recorded": False} in diff["observations"]
    assert "CL1 (four-way close" in report["keys"]["net.ipv4.tcp_max_tw_buckets"]["risk"]
    baseline = report["keys"]["net.ipv4.tcp_max_tw_buckets"]["baseline"]
    assert f"baseline {baseline}: client TcpExt.TW = 1; passes" in out  # a TIME_WAIT on its 60 s timer
    assert "proposal 0: client TcpExt.TCPTimeWaitOverflow = 1; fails: client passes FIN_WAIT1 -> FIN_WAIT2 -> " \
           "TIME_WAIT" in out


def test_a_proposal_overrides_the_key_a_case_pins_and_says_what_each_side_did(tmp_path):
    """End to end: TW3 pins tcp_tw_reuse (0, then 1). Run with the baseline's 2 (reuse on
    loopback only) its reconnect stays refused and the case fails; with the proposed 1 it
    takes a TIME_WAIT port after tcp_tw_reuse_delay and passes."""
    code, out, report = check(conf(tmp_path, "net.ipv4.tcp_tw_reuse = 1\n"), "--family", "4", "--cases", "TW3",
                              tmp_path=tmp_path)
    assert code == 1, out
    diff, = report["differences"]
    assert diff["key"] == "net.ipv4.tcp_tw_reuse" and diff["case"] == "TW3" and diff["verdict_changed"]
    assert diff["pinned"]["client net.ipv4.tcp_tw_reuse"] == ["0", "1"]
    assert diff["baseline"]["overridden"] == {"client net.ipv4.tcp_tw_reuse": "2"}
    assert diff["proposal"]["overridden"] == {"client net.ipv4.tcp_tw_reuse": "1"}  # the marker's 0
    assert diff["baseline"]["runs"] == ["fail", "fail"] and diff["proposal"]["runs"] == ["pass", "pass"]
    assert diff["baseline"]["in_words"].startswith("reconnect while TIME_WAIT holds the port = EADDRNOTAVAIL; "
                                                   "fails: connect() succeeds")
    assert diff["proposal"]["in_words"].startswith("reconnect while TIME_WAIT holds the port = ok; "
                                                   "reconnect after TIME_WAIT began = 1.0")
    assert "TW3 set it themselves: overridden" in out
    assert "the case sets it itself (client 0, then 1), overridden" in out
    assert "the case fails with 2 and passes with 1" in report["keys"]["net.ipv4.tcp_tw_reuse"]["risk"]


def test_the_seed_block_names_tcp_tw_recycle_as_removed(tmp_path):
    """Only the input check of the seed articles' block: its full run is the README's."""
    code, out, report = check(SEED_BLOCK, "--cases", "HS1", "--family", "4", tmp_path=tmp_path)  # HS1: unchanged
    assert code == 2 and report["runs"]["tests"] == 0
    assert setting(report, "net.ipv4.tcp_tw_recycle")["status"] == "removed"
    assert setting(report, "net.core.netdev_max_backlog")["status"] == "not_per_netns"
    assert report["keys"]["net.ipv4.tcp_syn_retries"]["changed"]


# ---- the parts, without running anything ----

def run(setting, verdict="pass", failure="", where="", **observations):
    return Run(variant="t.py::test_x[IPv4]", setting=setting, case="XX1", title="x", family="IPv4", verdict=verdict,
               failure=failure, observations={k: {"value": v, "unit": ""} for k, v in observations.items()},
               pinned={}, duration_s=0.1, group="net.ipv4.tcp_tw_reuse", where=where)


def test_a_difference_counts_only_when_each_setting_agrees_with_itself():
    steady, = compare([run("baseline", n=1), run("baseline", n=1), run("proposal", n=2), run("proposal", n=2)])
    assert steady.changed and steady.confirmed and steady.observations[0][0] == "n"
    noisy, = compare([run("baseline", n=1), run("baseline", n=2), run("proposal", n=2), run("proposal", n=2)])
    assert not noisy.changed and noisy.unstable[0][0] == "n"


def test_a_side_that_always_fails_counts_though_not_always_at_one_point():
    """LD2 with tcp_abort_on_overflow = 1: the RST races the connect, so the case fails at
    one of two assertions; it passes every time with 0."""
    raced, = compare([run("baseline"), run("baseline"), run("proposal", "fail", "x", where="t.py:1 in a"),
                      run("proposal", "fail", "y", where="t.py:2 in b")])
    assert raced.verdict_changed and raced.changed and not raced.unstable and raced.failed_at
    flaky, = compare([run("baseline"), run("baseline", "fail", "x", where="t.py:1 in a"), run("proposal"),
                      run("proposal")])
    assert not flaky.changed and flaky.unstable[0][0] == "verdict"


def test_an_observation_one_side_never_reached_is_part_of_the_difference():
    cut, = compare([run("baseline", "fail", "x", where="t.py:1 in a", first="EADDRNOTAVAIL"),
                    run("baseline", "fail", "x", where="t.py:1 in a", first="EADDRNOTAVAIL"),
                    run("proposal", first="ok", later=1), run("proposal", first="ok", later=1)])
    assert [label for label, _, _ in cut.observations] == ["first", "later"]
    assert cut.in_words("baseline") == "first = EADDRNOTAVAIL; fails: x"
    assert cut.in_words("proposal") == "first = ok; later = 1; passes"


def test_a_failure_is_placed_by_the_innermost_line_in_a_case_file():
    text = ("../cases/test_time_wait.py:294: in test_tw3_port_exhaustion\n    reused_after(...)\n"
            "../cases/test_time_wait.py:104: in reused_after\n    net.expect_ok(connect.connect_result)\n"
            "E   tcpfault.ExpectationFailed: expectation failed: connect(198.18.2.1:8080) succeeds\n")
    assert failure_location(text) == "test_time_wait.py:104 in reused_after"
    plain = run("proposal", "fail", "assert {40123} == {40000}", where="t.py:9 in test_x")
    assert plain.outcome == "fail at t.py:9 in test_x"  # a plain assert's values are not compared


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
    keys = {"net.ipv4.tcp_tw_reuse": {"changed": True, "cases": {"XX1": "why"}},
            "net.ipv4.tcp_fin_timeout": {"changed": True, "cases": {"XX1": "why"}}}  # not the runs' key
    assert exit_status([], [detail], keys, "any") == 1
    assert exit_status([], [detail], keys, "verdict") == 0
    assert exit_status([], [verdict], keys, "verdict") == 1
    assert exit_status([], [verdict], keys, "none") == 0
    assert exit_status([], [verdict], keys, ["XX1"]) == 1
    assert exit_status([], [verdict], keys, ["net.ipv4.tcp_tw_reuse"]) == 1
    assert exit_status([], [verdict], keys, ["TW5", "net.ipv4.tcp_fin_timeout"]) == 0  # XX1 differs under tw_reuse
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
RANGE = "net.ipv4.ip_local_port_range"

def test_overlay_reaches_both_ends(net, tcpfault_sysctl_setting):
    assert net.sysctl("client", KEY) == net.sysctl("server", KEY) == EXPECTED[tcpfault_sysctl_setting]

@pytest.mark.sysctl(client={KEY: 3, RANGE: "40000 40003"})
def test_a_key_that_differs_outranks_the_case(net, tcpfault_sysctl_setting):
    held = EXPECTED.get(tcpfault_sysctl_setting)  # None: the settings agree on KEY, nothing is held
    assert net.sysctl("client", KEY) == (held or "3")  # the marker's 3, unless held
    assert net.sysctl("client", RANGE).split() == ["40000", "40003"]  # the same in every setting: the case's
    net.set_sysctl("client", KEY, 5)
    net.apply_sysctl_conf("client", KEY + " = 6")
    assert net.sysctl("client", KEY) == (held or "6")
    notes = [n for n in net.trace.notes() if KEY in n]
    if tcpfault_sysctl_setting == "proposal":
        assert notes[-3:] == [f"sysctl client {KEY} = 7 (sysctl-check: the case asked for {v})" for v in (3, 5, 6)]
"""


def overlay_run(pytester, settings, *args):
    pytester.makepyfile(test_overlay=OVERLAY_CASES)
    overlay = pytester.path / "overlay.json"
    overlay.write_text(json.dumps(settings))
    return pytester.runpytest_subprocess("-p", "tcpfault.pytest_plugin", "-p", "no:cacheprovider", "-v",
                                         "--tcpfault-family", "4", "--tcpfault-sysctl-overlay", str(overlay), *args)


def test_the_overlay_runs_each_test_per_setting_and_holds_the_keys_that_differ(pytester):
    ranged = {"net.ipv4.ip_local_port_range": "32768 60999"}
    result = overlay_run(pytester, {
        "baseline": {"client": ranged, "server": {}},
        "proposal": {"client": {**ranged, "net.ipv4.tcp_fin_timeout": "7"}, "server": {"net.ipv4.tcp_fin_timeout": "7"}}})
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test_overlay_reaches_both_ends?baseline-IPv4? PASSED*",
                                 "*test_a_key_that_differs_outranks_the_case?proposal-IPv4? PASSED*"])


def test_settings_compare_within_their_group_and_run_only_the_tests_they_name(pytester):
    def setting(value, group):
        return {"client": {"net.ipv4.tcp_fin_timeout": value}, "server": {"net.ipv4.tcp_fin_timeout": value},
                "group": group, "tests": ["test_overlay.py::test_a_key_that_differs_outranks_the_case"]}
    # Group "a" compares 60 with 7 (held); group "b" has 7 twice: not held, the case's 3 stays.
    result = overlay_run(pytester, {"baseline": setting("60", "a"), "proposal": setting("7", "a"),
                                    "same_one": setting("7", "b"), "same_two": setting("7", "b")}, "-k", "baseline or proposal")
    result.assert_outcomes(passed=2)
    result = overlay_run(pytester, {"same_one": setting("7", "b"), "same_two": setting("7", "b")})
    result.assert_outcomes(passed=2, skipped=1)  # test_overlay_reaches_both_ends: no setting names it


def test_hold_sysctl_outranks_later_settings_and_notes_what_was_asked():
    import tcpfault
    key = "net.ipv4.tcp_tw_reuse"
    with tcpfault.Scenario(family=4, name="hold") as net:
        net.hold_sysctl("client", key, 1, "sysctl-check")
        net.set_sysctl("client", "net/ipv4/tcp_tw_reuse", 0)
        net.apply_sysctl_conf("client", f"{key} = 2\n")
        net.set_sysctl("client", key, 1)  # what is held: an ordinary setting
        net.set_sysctl("server", key, 0)  # another host: not held
        assert net.sysctl("client", key) == "1" and net.sysctl("server", key) == "0"
        assert [n for n in net.trace.notes() if key in n or "tw_reuse" in n] == [
            f"sysctl client {key} = 1 (held by sysctl-check)",
            "sysctl client net/ipv4/tcp_tw_reuse = 1 (sysctl-check: the case asked for 0)",
            f"sysctl client {key} = 1 (sysctl-check: the case asked for 2)",
            f"sysctl client {key} = 1",
            f"sysctl server {key} = 0"]
        with pytest.raises(tcpfault.Error, match="refused by the kernel"):
            net.hold_sysctl("client", key, 7, "sysctl-check")
        assert net.sysctl("client", key) == "1"


def test_a_bad_overlay_file_is_a_usage_error(pytester):
    pytester.makepyfile(test_overlay=OVERLAY_CASES)
    overlay = pytester.path / "overlay.json"
    overlay.write_text(json.dumps({"Proposal!": {}}))
    result = pytester.runpytest_subprocess("-p", "tcpfault.pytest_plugin", "--tcpfault-sysctl-overlay", str(overlay))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*setting name 'Proposal!' must be lower-case letters*"])
