"""net.close_calls: checks whose verdict an event close to their look would have turned
(harness/scenario/close_calls.h). The events here come at known points of the test, so
each close call's presence is decided by the `within` asked, not by timing."""

import socket

import pytest

import tcpfault
from tcpfault import CLOSED, ESTABLISHED, RST


def reset(net, client):
    """The client aborts: one RST, the client's socket CLOSED."""
    net.expect_ok(client.set_linger(True, 0))
    net.expect_ok(client.close())
    net.expect_segments(RST, sent_by="client", count=1)


def checks(calls, passed):
    return [c["check"] for c in calls if c["passed"] == passed]


def test_a_check_that_passed_before_the_segment_that_would_fail_it(net, connection):
    client, server = connection
    net.expect_no_segment(RST)
    # At least 100 ms between the look and the RST: a wait that is itself a check.
    net.expect_no_segment(tcpfault.FIN, during=0.1)
    reset(net, client)
    calls = net.close_calls(within=5.0)
    assert checks(calls, True)[0] == "no RST", calls
    call = calls[0]
    assert call["gap_ms"] >= 100 and "Flags [R." in call["event"], call
    assert "no RST" not in checks(net.close_calls(within=0.05), True)


def test_a_state_check_that_passed_before_the_step_out_of_it(net, connection):
    client, server = connection
    net.expect(client).reaches(ESTABLISHED)
    net.expect_no_segment(tcpfault.FIN, during=0.1)
    reset(net, client)
    net.expect(client).reaches(CLOSED)
    state_calls = [c for c in net.close_calls(within=5.0) if c["check"].endswith("in ESTABLISHED within 3000 ms")]
    assert len(state_calls) == 1 and state_calls[0]["passed"], state_calls
    assert state_calls[0]["event"] == "ESTABLISHED -> CLOSED" and state_calls[0]["gap_ms"] >= 100, state_calls


def test_a_check_that_failed_on_a_segment_that_came_before_it_looked(net, connection):
    client, server = connection
    reset(net, client)
    net.expect_no_segment(tcpfault.FIN, during=0.1)
    with pytest.raises(tcpfault.ExpectationFailed, match="no RST"):
        net.expect_no_segment(RST)
    failed = [c for c in net.close_calls(within=5.0) if not c["passed"]]
    assert [c["check"] for c in failed] == ["no RST"] and failed[0]["gap_ms"] >= 100, failed
    assert not [c for c in net.close_calls(within=0.05) if not c["passed"]]


def test_a_state_check_that_failed_just_after_the_socket_left_the_state(net, connection):
    client, server = connection
    reset(net, client)
    net.expect(client).reaches(CLOSED)
    with pytest.raises(tcpfault.ExpectationFailed, match="in ESTABLISHED"):
        net.expect(client).reaches(ESTABLISHED, within=0)
    failed = [c for c in net.close_calls(within=5.0) if not c["passed"]]
    assert len(failed) == 1 and failed[0]["event"] == "ESTABLISHED -> CLOSED", failed


def test_a_count_that_one_more_segment_would_have_broken(net, connection):
    client, server = connection
    client.set_option(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1, "TCP_NODELAY")
    net.expect_ok(client.send(b"one"))
    net.expect_segments(tcpfault.DATA, sent_by="client", count=1)
    net.expect_ok(client.send(b"two"))
    assert server.recv_exactly(6).data == b"onetwo"
    counted = [c for c in net.close_calls(within=5.0) if c["check"].startswith("1 x DATA from client")]
    assert len(counted) == 1 and counted[0]["passed"], counted
    assert counted[0]["event"].endswith("length 3"), counted  # "two", which a later look would have counted


def test_no_event_no_close_call(net, connection):
    client, server = connection
    net.expect_no_segment(RST)
    net.expect(client).reaches(ESTABLISHED)
    assert net.close_calls(within=5.0) == []


@pytest.mark.parametrize("within, error", [(-1, ValueError), (11, ValueError), ("1", TypeError)])
def test_within_is_checked(net, within, error):
    with pytest.raises(error, match="within must be"):
        net.close_calls(within=within)
