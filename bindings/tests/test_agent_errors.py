"""Agent targets that cannot or do not work: what the target side cannot do raises tcpfault.NotApplicable
naming the side, the target and the thing; a broken agent raises tcpfault.TargetFailure;
the pytest plugin turns them into a skip ("not applicable: ...") and a failure ("target
failure: ..."). The agent here is harness/testing/agents/fake_agent.py: it speaks the
protocol without a TCP stack (IPv4 only: it makes up its connections)."""

import pathlib
import time

import pytest

import tcpfault

FAKE = pathlib.Path(__file__).resolve().parents[2] / "harness" / "testing" / "agents" / "fake_agent.py"
pytest_plugins = ["pytester"]


def fake(args):
    return f"agent:{FAKE} {args}"


@pytest.fixture
def agent_net():
    """An IPv4 scenario whose client side is the fake agent (features: nodelay only)."""
    with tcpfault.Scenario(family=4, name="agent-target", target=fake("ok --features nodelay"),
                           target_side="client") as net:
        yield net


def test_the_scenario_and_its_endpoints_name_their_targets(agent_net):
    assert agent_net.target == "agent"
    assert agent_net.client.target == "agent"
    assert agent_net.server.target == "kernel"


@pytest.mark.parametrize("call, what", [
    (lambda net: net.set_sysctl("client", "net.ipv4.tcp_fin_timeout", 3), "has no Linux sysctl net.ipv4.tcp_fin_timeout"),
    (lambda net: net.sysctl("client", "net.ipv4.tcp_syn_retries"), "has no Linux sysctl net.ipv4.tcp_syn_retries"),
    (lambda net: net.apply_sysctl_conf("client", "net.ipv4.tcp_fin_timeout = 3"),
     "has no Linux sysctl net.ipv4.tcp_fin_timeout (its agent declares no knob of the stack for it) (sysctl.conf line 1)"),
    (lambda net: net.counters("client"), "has no Linux MIB counters"),
    (lambda net: net.counter_delta("client", "Tcp.RetransSegs"), "has no Linux MIB counters (Tcp.RetransSegs)"),
    (lambda net: net.expect_counter("client", "Tcp.RetransSegs", at_least=1), "has no Linux MIB counters (Tcp.RetransSegs)"),
    (lambda net: net.syn_schedule("client"), "has no Linux sysctl net.ipv4.tcp_syn_retries"),
], ids=["set_sysctl", "sysctl", "apply_sysctl_conf", "counters", "counter_delta", "expect_counter", "syn_schedule"])
def test_what_needs_linux_on_the_agents_side_is_not_applicable(agent_net, call, what):
    with pytest.raises(tcpfault.NotApplicable, match=r"^client: the agent target ") as failure:
        call(agent_net)
    assert what in str(failure.value)


def test_the_kernels_side_keeps_its_sysctls_and_counters(agent_net):
    agent_net.set_sysctl("server", "net.ipv4.tcp_fin_timeout", 3)
    assert agent_net.sysctl("server", "net.ipv4.tcp_fin_timeout") == "3"
    assert "Tcp.RetransSegs" in agent_net.counters("server")


def test_socket_calls_an_agent_cannot_make_are_not_applicable(agent_net):
    conn = agent_net.client.connect(8080)  # the fake agent makes a connection up
    agent_net.expect_ok(conn.connect_result)
    assert conn.state == tcpfault.CLOSED   # and its `sockets` knows none
    with pytest.raises(tcpfault.NotApplicable, match="client: the agent target has no TCP_INFO"):
        conn.tcp_info()
    with pytest.raises(tcpfault.NotApplicable, match="client: the agent target has no TCP_INFO"):
        agent_net.tcp_info(conn)
    with pytest.raises(tcpfault.NotApplicable, match="has no socket option TCP_CORK"):
        conn.set_option(6, 3, 1, "TCP_CORK")
    with pytest.raises(tcpfault.NotApplicable, match=r"does not support socket option 'linger' \(its agent's features: nodelay\)"):
        conn.set_linger(True, 0)
    with pytest.raises(tcpfault.NotApplicable, match="has no sock_diag"):
        agent_net.destroy_silently(conn)
    agent_net.expect_ok(conn.set_option(6, 1, 1, "TCP_NODELAY"))  # nodelay it has


def test_a_crash_is_a_target_failure_and_every_later_call_repeats_it():
    with tcpfault.Scenario(family=4, name="agent-crash", target=fake("crash listen")) as net:
        with pytest.raises(tcpfault.TargetFailure) as first:
            net.server.listen(8080)
        message = str(first.value)
        assert message.startswith("target failure: the server's agent (`")
        assert "crashed: it exited with status 3" in message
        assert "fake agent: crashing on listen" in message
        started = time.monotonic()
        with pytest.raises(tcpfault.TargetFailure) as again:
            net.server.connect(8080)
        assert str(again.value) == message
        assert time.monotonic() - started < 0.1


def test_an_unknown_target_and_a_middlebox_side_are_usage_errors():
    with pytest.raises(tcpfault.Error, match="unknown target 'bsd': use 'kernel' or 'agent:COMMAND'"):
        tcpfault.Scenario(target="bsd")
    with pytest.raises(ValueError, match="target_side must be 'server' or 'client'"):
        tcpfault.Scenario(target=fake("ok"), target_side="middlebox")
    with pytest.raises(tcpfault.Error, match="needs a command"):
        tcpfault.Scenario(target="agent:  ")


def test_lwip_says_where_it_looked_when_the_agent_is_not_built(monkeypatch, tmp_path):
    monkeypatch.setenv("TCPFAULT_LWIP_AGENT", str(tmp_path / "missing"))
    with pytest.raises(tcpfault.Error, match="TCPFAULT_LWIP_AGENT=.*missing is not an executable file"):
        tcpfault.Scenario(target="lwip")


# ---- the pytest plugin ----

CASES = """
import pytest

def test_needs_a_server_sysctl(net):
    net.set_sysctl("server", "net.ipv4.tcp_fin_timeout", 3)

@pytest.mark.sysctl(server={"net.ipv4.tcp_fin_timeout": 3})
def test_marked_with_a_server_sysctl(net):
    pass

def test_uses_the_client_only(net):
    net.set_sysctl("client", "net.ipv4.tcp_fin_timeout", 3)
"""


@pytest.fixture
def run(pytester, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(pytester.path))
    monkeypatch.delenv("TCPFAULT_ARTIFACTS", raising=False)

    def run_pytest(*args):
        return pytester.runpytest_subprocess("-p", "tcpfault.pytest_plugin", "-p", "no:cacheprovider",
                                             "--tcpfault-family", "4", *args)

    return run_pytest


def test_plugin_skips_what_is_not_applicable_with_the_reason(pytester, run):
    pytester.makepyfile(test_agent_cases=CASES)
    result = run("-rs", "--tcpfault-target", fake("ok"))
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines([
        "SKIPPED * not applicable: server: the agent target has no Linux sysctl net.ipv4.tcp_fin_timeout *",
        "SKIPPED * not applicable: server: the agent target has no Linux sysctl net.ipv4.tcp_fin_timeout *",
    ])


def test_plugin_runs_the_agent_on_the_side_asked(pytester, run):
    pytester.makepyfile(test_agent_cases=CASES)
    result = run("-rs", "--tcpfault-target", fake("ok"), "--tcpfault-target-side", "client")
    result.assert_outcomes(passed=2, skipped=1)


def test_plugin_fails_a_test_whose_agent_broke_with_the_report(pytester, run):
    pytester.makepyfile(test_agent_crash="""
        def test_listens(net):
            net.server.listen(8080)
    """)
    result = run("--tcpfault-target", fake("crash listen"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "target failure: the server's agent (`*crash listen`) crashed: it exited with status 3*",
        "*fake agent: crashing on listen",
    ])


def test_plugin_rejects_an_unknown_target_and_an_unbuilt_lwip(pytester, run, monkeypatch, tmp_path):
    result = run("--tcpfault-target", "bsd")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--tcpfault-target: unknown target 'bsd' (use kernel, lwip, gvisor or agent:COMMAND)*"])
    monkeypatch.setenv("TCPFAULT_LWIP_AGENT", str(tmp_path / "missing"))
    result = run("--tcpfault-target", "lwip")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--tcpfault-target lwip: TCPFAULT_LWIP_AGENT=*missing is not an executable file*"])
