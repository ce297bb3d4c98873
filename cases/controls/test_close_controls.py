"""Verdict power of the CL cases: each control runs a case's core assertion against a
behaviour that must fail it, and checks the failure says what was expected and seen.
Twins of the *_Control_* tests in cases/cpp/close_cases_test.cpp."""

import pytest

import tcpfault
from tcpfault import (
    CLOSE_WAIT, CLOSED, CLOSING, FIN, FIN_WAIT1, FIN_WAIT2, FINAL_ACK, LAST_ACK, RETRANSMISSION,
    TIME_WAIT,
)
from tcpfault.casekit import assert_reports, close_after_acking_fin, open_connection


def test_cl1_abortive_close_fails_the_case(net):
    """An abortive close (SO_LINGER {on, 0}) sends an RST and never passes FIN_WAIT1 ->
    FIN_WAIT2 -> TIME_WAIT; CL1's assertion must say so."""
    _, client, conn = open_connection(net)
    net.expect_ok(client.set_linger(True, 0))
    net.expect_ok(client.close())
    net.expect(conn).reaches(CLOSED)  # reset by the client's RST
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(client).passes(FIN_WAIT1, FIN_WAIT2, TIME_WAIT, within=1)
    assert_reports(failure, net, "expected: FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT",
                   "seen:     SYN_SENT -> ESTABLISHED -> CLOSED")


def test_cl2_no_fault_fails_the_case(net):
    """Without the lost final ACK there is no retransmitted FIN: CL2's assertion must
    report one FIN where it expected two."""
    _, client, conn = open_connection(net)
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    close_after_acking_fin(net, conn)
    net.expect(conn).passes(LAST_ACK, CLOSED)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_segments(FIN, sent_by="server", count=2, within=1.5)
    assert_reports(failure, net, "expectation failed: 2 x FIN from server",
                   "expected: exactly 2", "seen:     1")


def test_cl2_time_wait_kept_fails_the_no_buckets_variant(net):
    """With the default tcp_max_tw_buckets the client keeps TIME_WAIT and re-ACKs the
    retransmitted FIN: the no-buckets variant's RST assertion must fail, seeing none."""
    _, client, conn = open_connection(net)
    net.faults.drop(FINAL_ACK, sent_by="client", count=1)
    client.shutdown("SHUT_WR")  # as in the variant: only the buckets differ
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    close_after_acking_fin(net, conn)
    net.expect_segments(FIN | RETRANSMISSION, sent_by="server", count=1, within=5)
    net.expect(conn).passes(LAST_ACK, CLOSED)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_segments(flags="R", sent_by="client", count=1, within=0.5)
    assert_reports(failure, net, "expected: exactly 1", "seen:     0")


def test_cl3_no_fault_fails_the_case(net):
    """With the FIN delivered the first time there is no retransmission to see."""
    _, client, conn = open_connection(net)
    client.close()
    net.expect(client).passes(FIN_WAIT1, FIN_WAIT2)
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_segments(FIN | RETRANSMISSION, sent_by="client", count=1, within=1)
    assert_reports(failure, net, "expected: exactly 1", "seen:     0")


def test_cl5_sequential_close_fails_the_case(net):
    """Without the hold the server sees the client's FIN first and closes passively
    (CLOSE_WAIT -> LAST_ACK), never through CLOSING."""
    _, client, conn = open_connection(net)
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    close_after_acking_fin(net, conn)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(conn).passes(FIN_WAIT1, CLOSING, TIME_WAIT, within=1)
    assert_reports(failure, net, "expected: FIN_WAIT1 -> CLOSING -> TIME_WAIT", "CLOSE_WAIT -> LAST_ACK")
