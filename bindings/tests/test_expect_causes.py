"""Expectations that can no longer be met fail at once, and their first line says why
(harness/scenario/socket_end.h): the RST that reset the socket, the call that failed."""

import time

import pytest

import tcpfault
from tcpfault import CLOSE_WAIT, CLOSED, ESTABLISHED, FIN_WAIT1, LAST_ACK


def failure_of(expectation):
    """(first line of the failure, seconds it took)."""
    start = time.monotonic()
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        expectation()
    return str(failure.value).splitlines()[0], time.monotonic() - start


def test_a_reset_socket_fails_at_once_naming_the_rst(net, connection):
    client, server = connection
    net.expect_ok(client.set_linger(True, 0))
    net.expect_ok(client.close())
    net.expect(server).reaches(CLOSED)

    first, took = failure_of(lambda: net.expect(server).reaches(CLOSE_WAIT, within=3))
    assert took < 1, first
    assert "in CLOSE_WAIT within 3000 ms: the socket is gone, reset by the RST from the client at +" in first
    first, took = failure_of(lambda: net.expect(server).passes(CLOSE_WAIT, LAST_ACK, within=3))
    assert took < 1 and "reset by the RST from the client" in first, first
    first, took = failure_of(lambda: net.expect(client).passes(FIN_WAIT1, within=3))
    assert took < 1 and "the socket is gone, aborted: it sent an RST at +" in first, first


def test_a_refused_connect_names_its_errno(net):
    client = net.client.connect(9)  # nobody listens there
    net.expect_error(client.connect_result, "ECONNREFUSED")
    first, took = failure_of(lambda: net.expect(client).reaches(ESTABLISHED, within=3))
    assert took < 1, first
    assert "reset by the RST from the server" in first and "failed with ECONNREFUSED" in first, first


def test_a_socket_still_to_come_is_waited_for(net):
    listener = net.server.listen(8080)
    net.faults.delay(tcpfault.SYN, by=0.2, count=1)
    client = net.client.connect(listener)
    net.expect(client.peer).reaches(ESTABLISHED)  # the delay is no end
    first, took = failure_of(lambda: net.expect(client).reaches(CLOSE_WAIT, within=0.3))
    assert took >= 0.3 and "the socket is gone" not in first, first
