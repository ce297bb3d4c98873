"""The pytest plugin, tested from outside: each test writes a small test file, runs
pytest on it in a subprocess (which finds tcpfault through the inherited PYTHONPATH)
and checks the outcomes and the report."""

import json

import pytest

pytest_plugins = ["pytester"]

PCAPNG_MAGIC = bytes.fromhex("0a0d0d0a")  # a Section Header Block starts every pcapng file


@pytest.fixture
def run(pytester, monkeypatch):
    """Runs pytest with the plugin on the files written in `pytester`."""
    # A failing scenario writes its artifacts under $TMPDIR: keep them in this test's directory.
    monkeypatch.setenv("TMPDIR", str(pytester.path))
    monkeypatch.delenv("TCPFAULT_ARTIFACTS", raising=False)

    def run_pytest(*args):
        return pytester.runpytest_subprocess("-p", "tcpfault.pytest_plugin", "-p", "no:cacheprovider", *args)

    return run_pytest


FAMILY_TEST = """
import tcpfault

def test_family(net, tcpfault_family):
    expected = {4: tcpfault.Family.V4, 6: tcpfault.Family.V6}[tcpfault_family]
    assert net.family == expected
    assert net.server.at(8080).family == expected
"""


@pytest.mark.parametrize(
    "option, ids",
    [
        (["--tcpfault-family", "4"], ["IPv4"]),
        (["--tcpfault-family", "6"], ["IPv6"]),
        (["--tcpfault-family", "both"], ["IPv4", "IPv6"]),
        ([], ["IPv4", "IPv6"]),  # both is the default
    ],
    ids=["4", "6", "both", "default"],
)
def test_family_option_gives_ids_and_counts(pytester, run, option, ids):
    pytester.makepyfile(test_families=FAMILY_TEST)
    result = run("-v", *option)
    result.assert_outcomes(passed=len(ids))
    result.stdout.fnmatch_lines([f"*test_families.py::test_family[[]{i}[]] PASSED*" for i in ids])
    for other in {"IPv4", "IPv6"} - set(ids):
        result.stdout.no_fnmatch_line(f"*[[]{other}[]]*")


def test_family_option_rejects_other_values(run):
    result = run("--tcpfault-family", "5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--tcpfault-family: invalid choice: '5'*"])


def test_sysctl_marker_sets_values_for_one_test(pytester, run):
    pytester.makepyfile(test_sysctls="""
        import pytest

        @pytest.mark.sysctl(client={"net.ipv4.tcp_fin_timeout": 7},
                            server={"net.ipv4.tcp_synack_retries": 2},
                            middlebox={"net.ipv4.tcp_fin_timeout": 9})
        def test_marked(net):
            assert net.sysctl("client", "net.ipv4.tcp_fin_timeout") == "7"
            assert net.sysctl("server", "net.ipv4.tcp_synack_retries") == "2"
            assert net.sysctl("middlebox", "net.ipv4.tcp_fin_timeout") == "9"

        def test_unmarked_gets_fresh_namespaces(net):
            assert net.sysctl("client", "net.ipv4.tcp_fin_timeout") != "7"
    """)
    run("--tcpfault-family", "4").assert_outcomes(passed=2)


def test_sysctl_marker_rejects_unknown_host_and_positional_use(pytester, run):
    pytester.makepyfile(test_bad_markers="""
        import pytest

        @pytest.mark.sysctl(router={"net.ipv4.tcp_fin_timeout": 7})
        def test_unknown_host(net):
            pass

        @pytest.mark.sysctl({"net.ipv4.tcp_fin_timeout": 7})
        def test_positional(net):
            pass
    """)
    result = run("--tcpfault-family", "4")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([
        "*sysctl marker: unknown host 'router' (use client, server, middlebox)*",
        "*the sysctl marker takes keywords*",
    ])


def test_sysctl_marker_with_a_removed_key_errors(pytester, run):
    pytester.makepyfile(test_removed_key="""
        import pytest

        @pytest.mark.sysctl(client={"net.ipv4.tcp_tw_recycle": 1})
        def test_recycle(net):
            pass
    """)
    result = run("--tcpfault-family", "4")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*tcp_tw_recycle: removed in Linux 4.12*"])


ARTIFACT_TESTS = """
from tcpfault import FIN

def test_passes(net):
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)

def test_fails(net):
    net.expect_segments(FIN, count=1, within=0.1)
"""


def test_artifacts_of_a_passing_test(pytester, run):
    pytester.makepyfile(test_artifacts=ARTIFACT_TESTS)
    directory = pytester.path / "artifacts"
    run("--tcpfault-family", "4", "--tcpfault-artifacts", str(directory), "-k", "passes").assert_outcomes(passed=1)

    stem = "test_artifacts.test_passes-IPv4"
    assert (directory / f"{stem}.pcapng").read_bytes()[:4] == PCAPNG_MAGIC
    timeline = json.loads((directory / f"{stem}.json").read_text())
    assert timeline, "the JSON timeline is empty"
    ladder = (directory / f"{stem}.ladder.txt").read_text()
    assert "ladder of test_artifacts.test_passes-IPv4" in ladder
    assert "connect(" in ladder


def test_artifacts_of_a_failing_test_are_named_in_the_report(pytester, run):
    pytester.makepyfile(test_artifacts=ARTIFACT_TESTS)
    directory = pytester.path / "artifacts"
    result = run("--tcpfault-family", "4", "--tcpfault-artifacts", str(directory), "-k", "fails")
    result.assert_outcomes(failed=1)

    stem = directory / "test_artifacts.test_fails-IPv4"
    result.stdout.fnmatch_lines([
        "*- tcpfault artifacts -*",
        f"json: {stem}.json",
        f"ladder: {stem}.ladder.txt",
        f"pcapng: {stem}.pcapng",
    ])
    for suffix in (".json", ".ladder.txt", ".pcapng"):
        assert (directory / (stem.name + suffix)).is_file(), suffix


def test_no_artifacts_section_without_the_option(pytester, run):
    pytester.makepyfile(test_artifacts=ARTIFACT_TESTS)
    result = run("--tcpfault-family", "4", "-k", "fails")
    result.assert_outcomes(failed=1)
    result.stdout.no_fnmatch_line("*tcpfault artifacts*")


def test_without_the_option_a_failure_writes_under_pytests_own_temporary_folder(pytester, run):
    """Never a fixed folder every run shares: this run's --basetemp (or pytest-of-USER/pytest-N)."""
    pytester.makepyfile(test_artifacts=ARTIFACT_TESTS)
    basetemp = pytester.path / "basetemp"
    result = run("--tcpfault-family", "4", "-k", "fails", "--basetemp", str(basetemp))
    result.assert_outcomes(failed=1)
    stem = basetemp / "tcpfault" / "test_artifacts.test_fails-IPv4"
    result.stdout.fnmatch_lines([f"*trace: ladder: {stem}.ladder.txt, pcapng: {stem}.pcapng, json: {stem}.json*"])
    assert (basetemp / "tcpfault" / (stem.name + ".pcapng")).is_file()


def test_failed_expectation_is_a_failure_with_the_ladder(pytester, run):
    pytester.makepyfile(test_expectation="""
        import pytest
        from tcpfault import FIN

        def test_fails(net):
            net.expect_segments(FIN, sent_by="server", count=2, within=0.1)

        def test_is_an_assertion_error(net):
            with pytest.raises(AssertionError):
                net.expect_segments(FIN, count=1, within=0.1)
    """)
    result = run("--tcpfault-family", "4")
    result.assert_outcomes(failed=1, passed=1, errors=0)
    result.stdout.fnmatch_lines([
        "*tcpfault.ExpectationFailed: expectation failed: 2 x FIN from server within 100 ms",
        "*expected: exactly 2",
        "*seen:     0",
        "*ladder of test_expectation.test_fails-IPv4 *",
        "FAILED test_expectation.py::test_fails[[]IPv4[]] - tcpfault.ExpectationFailed*",
    ])


def test_two_tests_pass_under_xdist(pytester, run):
    pytester.makepyfile(test_parallel="""
        from tcpfault import CLOSE_WAIT, FIN, TIME_WAIT
        from tcpfault.casekit import close_after_acking_fin

        def close_once(net, port):
            listener = net.server.listen(port)
            client = net.client.connect(listener)
            net.expect_ok(client.connect_result)
            conn = listener.accept()
            client.close()
            net.expect(conn).reaches(CLOSE_WAIT)
            close_after_acking_fin(net, conn)
            net.expect(client).reaches(TIME_WAIT)
            net.expect_segments(FIN, count=2)

        def test_first(net):
            close_once(net, 8080)

        def test_second(net):
            close_once(net, 8080)
    """)
    result = run("--tcpfault-family", "4", "-n", "2", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["gw0 [[]2[]] / gw1 [[]2[]]"])
    result.stdout.fnmatch_lines(["[[]gw[01][]] [[]*%[]] PASSED test_parallel.py::test_*"])
