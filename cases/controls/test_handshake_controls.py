"""Verdict power of the HS cases: each control runs a case's core assertion against a
behaviour that must fail it, and checks the failure says what was expected and seen.
Twins of the *_Control_* tests in cases/cpp/handshake_cases_test.cpp."""

import pytest

import tcpfault
from tcpfault import ESTABLISHED, SYN_RECV


def assert_reports(failure, net, *fragments):
    """The failure message names what was expected and seen, and carries this scenario's ladder."""
    message = str(failure.value)
    for fragment in (*fragments, f"ladder of {net.name} "):
        assert fragment in message, f"{fragment!r} missing from:\n{message}"


def test_hs1_no_hold_fails_the_case(net):
    """Without the held handshake ACK the request socket is promoted at once: HS1's
    SYN_RECV observation must fail, seeing ESTABLISHED."""
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    conn = listener.accept()  # held: a Connection that Python drops closes its socket
    net.expect(conn).reaches(ESTABLISHED)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(client.peer).reaches(SYN_RECV, within=0.2)
    assert_reports(failure, net, "expected: SYN_RECV", "seen:     ESTABLISHED")


def test_hs5_listener_fails_the_case(net):
    """With a listener on the port the connect succeeds: HS5's errno assertion must
    fail, showing the successful connect()."""
    listener = net.server.listen(8080)  # held: a Listener that Python drops stops listening
    client = net.client.connect(listener)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_error(client.connect_result, "ECONNREFUSED")
    assert_reports(failure, net, "expected: ECONNREFUSED", "seen:     connect(")
