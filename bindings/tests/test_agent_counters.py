"""Linux counters on an agent's side (docs/agent-protocol.md, "Linux counters"): those the
agent declares in hello are read with its `counters` request, counted from the scenario's
start like the kernel's; any other is not applicable; a broken declaration or reply is
the agent's failure. The agent is harness/testing/agents/fake_agent.py with --counters:
each read returns the next of the values given."""

import json
import pathlib

import pytest

import tcpfault

FAKE = pathlib.Path(__file__).resolve().parents[2] / "harness" / "testing" / "agents" / "fake_agent.py"


def scenario(counters):
    return tcpfault.Scenario(family=4, name="agent-counters", target_side="client",
                             target=f"agent:{FAKE} ok --counters '{json.dumps(counters)}'")


def test_a_declared_counter_counts_from_the_scenarios_start():
    # Read once at the start (2), then 5 and 9: deltas of 3 and 7.
    with scenario({"TcpExt.ListenOverflows": [2, 5, 9]}) as net:
        assert net.counter_delta("client", "TcpExt.ListenOverflows") == 3
        net.expect_counter("client", "TcpExt.ListenOverflows", at_least=7, at_most=7)
        assert net.counters("client") == {"TcpExt.ListenOverflows": 9}


def test_a_counter_the_agent_does_not_declare_is_not_applicable_and_names_those_it_does():
    with scenario({"Tcp.ActiveOpens": [0]}) as net:
        with pytest.raises(tcpfault.NotApplicable,
                           match=r"^client: the agent target has no Linux MIB counter TcpExt.TCPSynRetrans "
                                 r"\(its agent counts only Tcp.ActiveOpens\)"):
            net.expect_counter("client", "TcpExt.TCPSynRetrans", at_least=1)
        assert "Tcp.RetransSegs" in net.counters("server")  # the kernel's side keeps all its own


def test_an_expectation_on_a_declared_counter_fails_as_on_the_kernel():
    with scenario({"Tcp.AttemptFails": [0, 1]}) as net:
        with pytest.raises(tcpfault.ExpectationFailed, match="client counter Tcp.AttemptFails grows by 2"):
            net.expect_counter("client", "Tcp.AttemptFails", at_least=2, at_most=2)


@pytest.mark.parametrize("counters, says", [
    (["Tcp.ActiveOpens"], r"hello \"counters\" is not an object"),
    ({"ActiveOpens": "x"}, r"hello \"counters\" has \"ActiveOpens\", not a Linux counter as nstat names it"),
    ({"Tcp.ActiveOpens": 3}, r"hello \"counters\" entry Tcp.ActiveOpens is not a string"),
], ids=["not-an-object", "not-a-name", "not-a-string"])
def test_a_broken_declaration_is_a_target_failure(counters, says):
    with pytest.raises(tcpfault.TargetFailure, match="sent garbage: " + says):
        scenario(counters)


def test_gvisor_counts_what_it_declares():
    """The gVisor agent's declared counters are netstack's statistics: a connect counts one
    Tcp.ActiveOpens on its side, as on Linux."""
    from tcpfault import targets
    try:
        targets.agent("gvisor")
    except tcpfault.Error as e:
        pytest.skip(f"the gvisor agent is not built: {e}")
    with tcpfault.Scenario(family=6, name="gvisor-counters", target="gvisor", target_side="client") as net:
        listener = net.server.listen(8080)
        client = net.client.connect(listener)
        net.expect_ok(client.connect_result)
        net.expect_counter("client", "Tcp.ActiveOpens", at_least=1, at_most=1)
        net.expect_counter("client", "Tcp.EstabResets", at_least=0, at_most=0)
