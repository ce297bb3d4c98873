"""A case's Linux sysctls on an agent's side, from Python: net.set_sysctl, net.sysctl,
net.has_sysctl and the schedules go to the knobs the agent declared in hello
(docs/agent-protocol.md, "Linux sysctls"). The agent is
harness/testing/agents/fake_agent.py with --sysctls (no TCP stack: IPv4 only)."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

import tcpfault
from tcpfault import pytest_plugin

FAKE = pathlib.Path(__file__).resolve().parents[2] / "harness" / "testing" / "agents" / "fake_agent.py"

DECLARED = {
    "net.ipv4.tcp_keepalive_time": {"value": "7200", "fixed": False, "means": "keep_idle of new connections",
                                    "lacks": ["0"]},
    "net.ipv4.tcp_syn_retries": {"value": "6"},
    "net.ipv4.tcp_syn_linear_timeouts": {"value": "0", "fixed": True},
    "net.ipv4.tcp_rto_max_ms": {"value": "120000", "fixed": True},
    "net.ipv4.tcp_sack": {"value": "0", "fixed": True, "means": "no SACK in this stack"},
}


def scenario(sysctls):
    return tcpfault.Scenario(family=4, name="agent-sysctls", target_side="client",
                             target=f"agent:{FAKE} ok --sysctls '{json.dumps(sysctls)}'")


@pytest.fixture
def net():
    with scenario(DECLARED) as net:
        yield net


def test_a_declared_key_is_set_and_read_through_the_agent(net):
    assert net.sysctl("client", "net.ipv4.tcp_keepalive_time") == "7200"
    net.set_sysctl("client", "net.ipv4.tcp_keepalive_time", 30)
    assert net.sysctl("client", "net.ipv4.tcp_keepalive_time") == "30"
    assert net.has_sysctl("client", "net.ipv4.tcp_keepalive_time")
    assert net.sysctl_or_built_in("client", "net.ipv4.tcp_keepalive_time") == "30"
    # The kernel's side keeps its own, and what the pytest plugin reports names both.
    net.set_sysctl("server", "net.ipv4.tcp_keepalive_time", 40)
    assert net.sysctl("server", "net.ipv4.tcp_keepalive_time") == "40"
    assert pytest_plugin._sysctls_set(net) == {"client net.ipv4.tcp_keepalive_time": "30",
                                               "server net.ipv4.tcp_keepalive_time": "40"}


def test_a_value_the_stack_refuses_is_an_error_quoting_the_agent(net):
    with pytest.raises(tcpfault.Error, match=r"^sysctl net.ipv4.tcp_keepalive_time = 'soon' refused by the agent "
                                             r"target on the client: EINVAL: .*takes whole numbers") as refused:
        net.set_sysctl("client", "net.ipv4.tcp_keepalive_time", "soon")
    assert not isinstance(refused.value, tcpfault.NotApplicable)
    assert net.sysctl("client", "net.ipv4.tcp_keepalive_time") == "7200"


def test_a_value_the_stack_lacks_is_not_applicable(net):
    with pytest.raises(tcpfault.NotApplicable, match=r"^client: the agent target cannot set "
                                                     r"net.ipv4.tcp_keepalive_time to '0' \(the agent says: "):
        net.set_sysctl("client", "net.ipv4.tcp_keepalive_time", 0)
    assert net.sysctl("client", "net.ipv4.tcp_keepalive_time") == "7200"


def test_a_fixed_key_is_fine_at_its_own_value_and_not_applicable_at_another(net):
    net.set_sysctl("client", "net.ipv4.tcp_sack", 0)
    assert "sysctl client net.ipv4.tcp_sack = 0 (the agent target behaves so and cannot change it: " \
           "no SACK in this stack)" in net.trace.notes()
    assert pytest_plugin._sysctls_set(net) == {"client net.ipv4.tcp_sack": "0"}
    with pytest.raises(tcpfault.NotApplicable, match=r"^client: the agent target cannot change net.ipv4.tcp_sack: "
                                                     r"it behaves as 0 \(no SACK in this stack\)$"):
        net.set_sysctl("client", "net.ipv4.tcp_sack", 1)


@pytest.mark.parametrize("call", [
    lambda net: net.set_sysctl("client", "net.ipv4.tcp_retries2", 3),
    lambda net: net.sysctl("client", "net.ipv4.tcp_retries2"),
    lambda net: net.has_sysctl("client", "net.ipv4.tcp_retries2"),
    lambda net: net.sysctl_or_built_in("client", "net.ipv4.tcp_retries2"),
], ids=["set_sysctl", "sysctl", "has_sysctl", "sysctl_or_built_in"])
def test_an_undeclared_key_is_not_applicable(net, call):
    with pytest.raises(tcpfault.NotApplicable, match=r"^client: the agent target has no Linux sysctl "
                                                     r"net.ipv4.tcp_retries2 \(its agent declares no knob"):
        call(net)


def test_a_dash_line_of_sysctl_conf_skips_what_the_stack_lacks(net):
    net.apply_sysctl_conf("client", "-net.ipv4.tcp_retries2 = 3\nnet.ipv4.tcp_keepalive_time = 60\n")
    assert net.sysctl("client", "net.ipv4.tcp_keepalive_time") == "60"
    assert any(n.startswith("sysctl client net.ipv4.tcp_retries2 ignored ('-' line): ") for n in net.trace.notes())


def test_the_syn_schedule_comes_from_the_declared_knobs(net):
    net.set_sysctl("client", "net.ipv4.tcp_syn_retries", 2)
    schedule = net.syn_schedule("client")
    assert schedule.times == tcpfault.Schedule.syn(retries=2).times == [0.0, 1.0, 3.0]
    with pytest.raises(tcpfault.NotApplicable, match="has no Linux sysctl net.ipv4.tcp_synack_retries"):
        net.synack_schedule("client")


def test_garbage_sysctls_in_hello_are_a_target_failure():
    with pytest.raises(tcpfault.TargetFailure, match=r"sent garbage: hello \"sysctls\" entry net.ipv4.tcp_sack "
                                                     r"needs a string \"value\""):
        scenario({"net.ipv4.tcp_sack": {"value": 0}})


# ---- the whole path: cases whose schedules come from sysctls, on an agent that declares them ----

KERNEL_AGENT = pathlib.Path(__file__).resolve().parents[2] / "harness" / "testing" / "agents" / "kernel_agent.py"
CASES = pathlib.Path(__file__).resolve().parents[2] / "cases"
SCHEDULE_KEYS = ("net.ipv4.tcp_syn_retries", "net.ipv4.tcp_syn_linear_timeouts", "net.ipv4.tcp_rto_max_ms",
                 "net.ipv4.tcp_synack_retries")


def conformance(tmp_path, target, *cases):
    report = tmp_path / "r.json"
    args = [sys.executable, "-m", "tcpfault.cli", "conformance", "--family", "4", "--jobs", "4",
            "--target", target, "--json", str(report)]
    for case in cases:
        args += ["--case", case]
    out = subprocess.run(args, env=dict(os.environ, TCPFAULT_CASES=str(CASES)), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode in (0, 1), out.stdout + out.stderr
    return {r["test"]: r for r in json.loads(report.read_text())["results"]}


def test_cases_timed_by_sysctls_run_on_an_agent_that_declares_them(tmp_path):
    """The kernel agent (the Linux kernel of its own namespace behind the protocol, with its
    state events) with
    the schedules' keys declared: HS7's SYN-ACK schedule and HS3's SYN schedule (with the
    case's tcp_syn_retries 2 and both tcp_syn_linear_timeouts variants) are met on the
    wire, as on the kernel. HS3 then stops at the MIB counter an agent has not; without
    the keys, both stop at the first sysctl."""
    agent = f"agent:{KERNEL_AGENT} --state-events"
    declared = conformance(tmp_path, f"{agent} --sysctls {','.join(SCHEDULE_KEYS)}", "HS3", "HS7")
    assert declared["test_handshake.py::test_hs7_rst_in_syn_recv[IPv4]"]["verdict"] == "pass"
    hs3 = [r for test, r in declared.items() if test.startswith("test_handshake.py::test_hs3_server_unreachable")]
    assert len(hs3) == 2
    for r in hs3:
        assert r["verdict"] == "n/a" and "has no Linux MIB counters (TcpExt.TCPSynRetrans)" in r["message"], r
        assert r["sysctls"]["client net.ipv4.tcp_syn_retries"] == "2"

    undeclared = conformance(tmp_path, agent, "HS3", "HS7")
    assert {r["verdict"] for r in undeclared.values()} == {"n/a"}
    assert "has no Linux sysctl net.ipv4.tcp_synack_retries" in \
        undeclared["test_handshake.py::test_hs7_rst_in_syn_recv[IPv4]"]["message"]
