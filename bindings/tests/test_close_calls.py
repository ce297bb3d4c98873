"""net.close_calls: checks whose verdict an event close to their look would have turned
(harness/scenario/close_calls.h). A delay rule puts 300 ms between a check and the event
no call of the test caused, so whether a check is a close call is decided by the `within`
asked, not by the machine's speed; what a call of the test caused is never one."""

import gc
import socket

import pytest

import tcpfault
from tcpfault import CLOSE_WAIT, DATA, ESTABLISHED, FIN, PURE_ACK

HELD_S = 0.3  # how long the middlebox holds the client's segment back


def calls_on(net, within, text):
    return [c for c in net.close_calls(within=within) if text in c["check"]]


def send_held(net, client):
    """The client's data goes; the server's ACK of it comes HELD_S later, by itself."""
    net.faults.delay(DATA, sent_by="client", by=HELD_S)
    client.set_option(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1, "TCP_NODELAY")
    net.expect_ok(client.send(b"x"))


def test_a_check_that_passed_before_the_segment_that_would_fail_it(net, connection):
    client, server = connection
    send_held(net, client)
    net.expect_no_segment(PURE_ACK, sent_by="server")          # the ACK is 300 ms away
    net.expect_segments(PURE_ACK, sent_by="server", count=1)   # here it is
    call, = calls_on(net, 5.0, "no PURE_ACK from server")
    assert call["passed"] and call["gap_ms"] >= 100 and "Flags [.]" in call["event"], call
    assert not calls_on(net, 0.05, "no PURE_ACK from server")


def test_a_count_that_one_more_segment_would_have_broken(net, connection):
    client, server = connection
    send_held(net, client)
    net.expect_segments(PURE_ACK, sent_by="server", count=0)
    net.expect_segments(PURE_ACK, sent_by="server", count=1)
    call, = calls_on(net, 5.0, "0 x PURE_ACK from server")
    assert call["passed"] and call["gap_ms"] >= 100, call


def test_a_state_check_that_passed_before_the_step_out_of_it(net, connection):
    client, server = connection
    net.faults.delay(FIN, sent_by="client", by=HELD_S)
    net.expect_ok(client.close())
    net.expect(server).reaches(ESTABLISHED)                    # the FIN is 300 ms away
    net.expect(server).reaches(CLOSE_WAIT)
    call, = calls_on(net, 5.0, "in ESTABLISHED")
    assert call["passed"] and call["event"] == "ESTABLISHED -> CLOSE_WAIT" and call["gap_ms"] >= 100, call
    assert not calls_on(net, 0.05, "in ESTABLISHED")


def test_checks_that_failed_on_what_came_just_before_they_looked(net, connection):
    client, server = connection
    send_held(net, client)
    net.expect_segments(PURE_ACK, sent_by="server", count=1)
    with pytest.raises(tcpfault.ExpectationFailed, match="no PURE_ACK from server"):
        net.expect_no_segment(PURE_ACK, sent_by="server")
    failed = [c for c in net.close_calls(within=5.0) if not c["passed"]]
    assert [c["check"] for c in failed] == ["no PURE_ACK from server"], failed
    assert "Flags [.]" in failed[0]["event"]


def test_a_state_check_that_failed_just_after_the_socket_left_the_state(net, connection):
    client, server = connection
    net.faults.delay(FIN, sent_by="client", by=HELD_S)
    net.expect_ok(client.close())
    net.expect(server).reaches(CLOSE_WAIT)
    with pytest.raises(tcpfault.ExpectationFailed, match="in ESTABLISHED"):
        net.expect(server).reaches(ESTABLISHED, within=0)
    failed = [c for c in net.close_calls(within=5.0) if not c["passed"]]
    assert len(failed) == 1 and failed[0]["event"] == "ESTABLISHED -> CLOSE_WAIT", failed


def test_what_a_call_of_the_test_caused_is_no_close_call(net, connection):
    client, server = connection
    net.expect(server).reaches(ESTABLISHED)
    net.expect_no_segment(FIN)
    net.expect_ok(client.close())                              # the FIN and the step: the test's doing
    net.expect(server).reaches(CLOSE_WAIT)
    net.expect_segments(FIN, sent_by="client", count=1)
    net.expect_ok(server.set_option(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0, "SO_KEEPALIVE"))
    with pytest.raises(tcpfault.ExpectationFailed, match="no FIN"):
        net.expect_no_segment(FIN)                             # the FIN came before the last call
    assert net.close_calls(within=5.0) == []


def test_a_connection_whose_last_handle_goes_is_closed_by_the_test(net):
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    server = client.peer  # the server's end, by reference only
    net.expect(server).reaches(ESTABLISHED)
    del client
    gc.collect()                                               # its socket closes: a call of the test
    net.expect(server).reaches(CLOSE_WAIT)
    assert [c.call for c in net.trace.calls()][-1] == "close(), its handle dropped"
    assert net.close_calls(within=5.0) == []


@pytest.mark.parametrize("within, error", [(-1, ValueError), (11, ValueError), ("1", TypeError)])
def test_within_is_checked(net, within, error):
    with pytest.raises(error, match="within must be"):
        net.close_calls(within=within)
