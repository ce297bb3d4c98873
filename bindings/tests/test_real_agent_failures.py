"""The real agents broken on purpose: every named agent (lwip, gvisor) killed or stopped in
the middle of a scenario is a target failure found within its deadline, reported once and
repeated by every later call, and leaves no process behind. (harness/agent/tests covers the
same reports with a fake agent that misbehaves on cue; these show the real programs are
watched the same way.)"""

import os
import re
import signal
import time

import pytest

import tcpfault
from tcpfault import targets


@pytest.fixture(params=sorted(targets.AGENTS))
def agent(request):
    try:
        targets.agent(request.param)
    except tcpfault.Error as e:
        pytest.skip(f"the {request.param} agent is not built: {e}")
    return request.param


def agent_pid(net):
    """The agent's pid, from the note the scenario writes when it starts it."""
    for note in net.trace.notes():
        match = re.search(r"target: .*\(pid (\d+),", note)
        if match:
            return int(match.group(1))
    raise AssertionError(f"no note names the agent's pid: {net.trace.notes()}")


def gone(pid, within=3.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.01)
    return False


def connected(net):
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    return listener, client, listener.accept()


def test_an_agent_killed_mid_scenario_is_a_crash_reported_at_once(agent):
    with tcpfault.Scenario(family=4, name=f"{agent}-killed", target=agent) as net:
        _, _, conn = connected(net)
        pid = agent_pid(net)
        os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(tcpfault.TargetFailure) as first:
            conn.recv(timeout=5)
        assert time.monotonic() - started < 2, "a crash waited for the call's deadline"
        message = str(first.value)
        assert message.startswith(f"target failure: the server's {agent} agent (`")
        assert "crashed: it was killed by signal 9 (SIGKILL)" in message
        with pytest.raises(tcpfault.TargetFailure) as again:
            net.server.listen(8081)
        assert str(again.value) == message
    assert gone(pid)


def test_a_stopped_agent_is_a_hang_found_at_the_deadline_and_killed(agent):
    with tcpfault.Scenario(family=4, name=f"{agent}-stopped", target=agent) as net:
        _, _, conn = connected(net)
        pid = agent_pid(net)
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(tcpfault.TargetFailure) as hang:
            conn.recv(timeout=0.5)
        took = time.monotonic() - started
        # The deadline is counted in whole milliseconds from the request: allow their rounding.
        assert 2.45 <= took < 4.5, f"a hang reported after {took:.2f} s, not the call's 0.5 s plus 2 s"
        assert "hung: no reply to `recv`" in str(hang.value)
        assert gone(pid), "a hung agent is killed"


def test_a_well_behaved_agent_leaves_with_the_scenario(agent):
    with tcpfault.Scenario(family=6, name=f"{agent}-bye", target=agent, target_side="client") as net:
        connected(net)
        pid = agent_pid(net)
    assert gone(pid, within=0.5)
    assert not any("did not exit" in n for n in net.trace.notes()), net.trace.notes()
