"""How the pytest plugin is configured, tested from outside as test_plugin.py does: it
loads with every warning an error (python -W error, filterwarnings = error), and each of
its options is also an ini option, the command line winning."""

import pytest

pytest_plugins = ["pytester"]

ONE_CONNECTION = """
import tcpfault

def test_connects(net, tcpfault_family):
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    listener.accept()
"""


@pytest.fixture
def run(pytester, monkeypatch):
    """Runs pytest with the plugin in a subprocess on the files written in `pytester`."""
    monkeypatch.setenv("TMPDIR", str(pytester.path))

    def run_pytest(*args):
        return pytester.runpytest_subprocess("-p", "tcpfault.pytest_plugin", "-p", "no:cacheprovider", *args)

    return run_pytest


def test_loads_under_python_w_error(pytester, run, monkeypatch):
    # python -W error: a warning while pytest configures the plugin stops pytest at once.
    monkeypatch.setenv("PYTHONWARNINGS", "error")
    pytester.makepyfile(test_one=ONE_CONNECTION)
    result = run("--tcpfault-family", "4")
    result.assert_outcomes(passed=1)
    assert "already imported" not in result.stdout.str() + result.stderr.str()


def test_loads_under_filterwarnings_error(pytester, run):
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(test_one=ONE_CONNECTION)
    result = run("--tcpfault-family", "4", "-W", "error")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*warnings summary*")


@pytest.mark.parametrize(
    "ini, option, ids",
    [
        ("tcpfault_family = 4", [], ["IPv4"]),
        ("tcpfault_family = 6", [], ["IPv6"]),
        ("tcpfault_family = 4", ["--tcpfault-family", "6"], ["IPv6"]),  # the command line wins
        ("", [], ["IPv4", "IPv6"]),  # neither: both, the default
    ],
    ids=["ini-4", "ini-6", "command-line-wins", "default"],
)
def test_family_from_the_ini_file(pytester, run, ini, option, ids):
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_one=ONE_CONNECTION)
    result = run("-v", *option)
    result.assert_outcomes(passed=len(ids))
    result.stdout.fnmatch_lines([f"*test_one.py::test_connects[[]{i}[]] PASSED*" for i in ids])


def test_ini_family_outside_its_choices_is_a_usage_error(pytester, run):
    pytester.makeini("[pytest]\ntcpfault_family = 5\n")
    pytester.makepyfile(test_one=ONE_CONNECTION)
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*tcpfault_family = 5 in *tox.ini: use one of 4, 6, both "
                                 "(or give --tcpfault-family on the command line)*"])


def test_ini_target_is_checked_as_the_option_is(pytester, run):
    pytester.makeini("[pytest]\ntcpfault_target = bogus\n")
    pytester.makepyfile(test_one=ONE_CONNECTION)
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--tcpfault-target: unknown target 'bogus' (use kernel, lwip, gvisor or agent:COMMAND)*"])


def test_ini_artifacts_directory_is_relative_to_the_ini_file(pytester, run, monkeypatch):
    pytester.makeini("[pytest]\ntcpfault_artifacts = saved\ntcpfault_family = 4\n")
    pytester.makepyfile(test_one=ONE_CONNECTION)
    monkeypatch.chdir(pytester.mkdir("elsewhere"))  # pytest runs from another folder
    run(str(pytester.path / "test_one.py")).assert_outcomes(passed=1)
    saved = list((pytester.path / "saved").iterdir())
    assert any(p.name.endswith(".pcapng") for p in saved), saved


def test_help_names_the_ini_options(pytester, run):
    result = run("--help")
    result.stdout.fnmatch_lines(["*--tcpfault-family={4,6,both}*", "*(ini option:*",  # options, then ini options
                                 "*tcpfault_family (string):*", "*tcpfault_target (string):*"])
