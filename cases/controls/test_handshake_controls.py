"""Verdict power of the HS cases: each control runs a case's core assertion against a
behaviour that must fail it, and checks the failure says what was expected and seen.
Twins of the *_Control_* tests in cases/cpp/handshake_cases_test.cpp."""

import pytest

import tcpfault
from tcpfault import (
    DATA, ESTABLISHED, HANDSHAKE_ACK, RETRANSMISSION, SYN, SYN_ACK, SYN_RECV, SYN_SENT, Schedule,
)
from tcpfault.casekit import assert_reports, expect_syn_recv_while_peer_established


def test_hs1_no_hold_fails_the_case(net):
    """Without the held handshake ACK the request socket is promoted at once: HS1's
    SYN_RECV-while-the-client-is-ESTABLISHED check must fail, seeing the two overlap a
    few ms at most."""
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    conn = listener.accept()  # held: a Connection that Python drops closes its socket
    net.expect(conn).passes(SYN_RECV, ESTABLISHED)
    net.expect(client).passes(SYN_SENT, ESTABLISHED)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        expect_syn_recv_while_peer_established(net, conn, client, hold=0.3)
    assert_reports(failure, net, "expected: >= 262.5 ms of both", "seen:     ")


def test_hs5_listener_fails_the_case(net):
    """With a listener on the port the connect succeeds: HS5's errno assertion must
    fail, showing the successful connect()."""
    listener = net.server.listen(8080)  # held: a Listener that Python drops stops listening
    client = net.client.connect(listener)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_error(client.connect_result, "ECONNREFUSED")
    assert_reports(failure, net, "expected: ECONNREFUSED", "seen:     connect(")


def test_hs2_no_loss_fails_the_case(net):
    """With the SYN-ACK delivered there is nothing to retransmit: HS2's count of SYN-ACK
    retransmissions must report none where it expects one."""
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    conn = listener.accept()  # held: a Connection that Python drops closes its socket
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_segments(SYN_ACK | RETRANSMISSION, sent_by="server", count=1, within=1.5)
    assert_reports(failure, net, "expected: exactly 1", "seen:     0")
    assert conn.state == ESTABLISHED


@pytest.mark.sysctl(client={"net.ipv4.tcp_syn_retries": 1})
def test_hs3_other_schedule_fails_the_case(net):
    """A client that gives up after another number of retries (tcp_syn_retries 1 where the
    case computed the schedule of 2): HS3's schedule check must fail, showing both."""
    actual = net.syn_schedule("client")  # what this client does: tcp_syn_retries 1
    linear = int(net.sysctl_or_built_in("client", "net.ipv4.tcp_syn_linear_timeouts"))
    schedule = Schedule.syn(retries=2, linear_timeouts=linear)  # what the case expects
    net.faults.drop(SYN)
    client = net.client.connect(net.client.peer_at(8080), timeout=schedule.gives_up + 2)
    net.expect_error(client.connect_result, "ETIMEDOUT")
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_schedule(SYN, schedule, sent_by="client", gives_up=(client, "ETIMEDOUT"), within=0)
    assert_reports(failure, net, "expectation failed: SYN from client on the schedule of SYN retransmissions "
                   "(tcp_syn_retries 2", f"expected: {len(schedule)} x SYN from client, then ETIMEDOUT",
                   f"seen:     {len(actual)} x SYN from client, then ETIMEDOUT; off: ")


def test_hs4_ack_delivered_fails_the_case(net):
    """With the handshake ACK delivered the request is promoted at once and no SYN-ACK is
    retransmitted: HS4's SYN-ACK count must report one where it expects three."""
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    conn = listener.accept()
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_segments(SYN_ACK, sent_by="server", count=3, within=1.5)
    assert_reports(failure, net, "expected: exactly 3", "seen:     1")
    assert conn.state == ESTABLISHED


def test_hs4_data_lost_too_fails_the_variant(net):
    """When the data segment is lost with the pure ACK, nothing completes the handshake:
    the variant's ESTABLISHED expectation must fail, seeing the request in SYN_RECV."""
    listener = net.server.listen(8080)  # held: a Listener that Python drops stops listening
    net.faults.drop(any_role=[HANDSHAKE_ACK, DATA], sent_by="client")
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    net.expect_ok(client.send(b"hello"))
    net.expect_segments(DATA, sent_by="client", count=1)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(client.peer).reaches(ESTABLISHED, within=0.5)
    assert_reports(failure, net, "expected: ESTABLISHED", "seen:     NEW_SYN_RECV (request socket)")


def test_hs6_ordinary_open_fails_the_case(net):
    """An ordinary open (listen, connect) never passes SYN_RECV on the connecting side:
    HS6's transition check must fail, showing SYN_SENT -> ESTABLISHED."""
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    conn = listener.accept()
    net.expect(conn).reaches(ESTABLISHED)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(client).passes(SYN_SENT, SYN_RECV, ESTABLISHED, within=0.5)
    assert_reports(failure, net, "expected: SYN_SENT -> SYN_RECV -> ESTABLISHED",
                   "seen:     SYN_SENT -> ESTABLISHED")


def test_hs7_no_rst_fails_the_case(net):
    """With the handshake ACK delivered no request socket is reset: HS7's EmbryonicRsts
    check must fail, seeing none."""
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    conn = listener.accept()
    net.expect(conn).reaches(ESTABLISHED)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_counter("server", "TcpExt.EmbryonicRsts", at_least=1, at_most=1)
    assert_reports(failure, net, "TcpExt.EmbryonicRsts", "expected:", "seen:")
