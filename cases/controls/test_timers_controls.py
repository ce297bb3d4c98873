"""Verdict power of TM1 to TM4 (cases/test_timers.py): each control runs a case's core
assertion against a behaviour that must fail it, and checks that the failure says what
was expected and what was seen."""

import pytest

import tcpfault
from tcpfault import DATA, ESTABLISHED, KEEPALIVE, RST, Match, Schedule
from tcpfault.casekit import assert_reports, open_connection

PAYLOAD = b"x" * 1000
RETRANSMISSION_SYSCTLS = {"net.ipv4.tcp_rto_min_us": 800000}  # as the cases (test_timers.py)


@pytest.mark.sysctl(client=RETRANSMISSION_SYSCTLS)
def test_tm1_tail_loss_probe_breaks_the_timer_schedule(net):
    """A stack that sends a tail loss probe first (this kernel's default) must fail TM1's
    schedule of timer retransmissions at RTO, 2 x RTO, 4 x RTO: its second copy comes one
    RTO after the first, not two."""
    _, client, conn = open_connection(net)
    rto = net.tcp_info(client).rto_ms / 1000
    timer_only = Schedule.retransmission(rto, retries=15).first(4)
    net.faults.drop(DATA, sent_by="client", count=3)
    net.expect_ok(client.send(PAYLOAD))
    assert conn.recv_exactly(len(PAYLOAD)).data == PAYLOAD
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_schedule(DATA, timer_only, sent_by="client")
    assert_reports(failure, net, "expectation failed: DATA from client on the schedule of retransmissions by RTO",
                   "expected: 4 x DATA from client", "seen:     4 x DATA from client; off: retransmission 2 (+",
                   f"where +{2 * rto * 1000:.1f} ms")


@pytest.mark.sysctl(client={**RETRANSMISSION_SYSCTLS, "net.ipv4.tcp_retries2": 3})
def test_tm2_smaller_budget_fails_the_case(net):
    """A stack that gives up on a smaller budget (tcp_retries2 2 where the case read 3)
    must fail TM2's schedule: one copy fewer and ETIMEDOUT about 3.2 s early."""
    _, client, conn = open_connection(net)
    schedule = net.retransmission_schedule(client)  # for tcp_retries2 3
    net.set_sysctl("client", "net.ipv4.tcp_retries2", 2)  # read by the kernel at each timeout
    net.faults.drop(sent_by="server")
    net.expect_ok(client.send(PAYLOAD))
    net.expect_error(client.recv(timeout=schedule.gives_up + 2), "ETIMEDOUT")
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_schedule(DATA, schedule, sent_by="client", gives_up=(client, "ETIMEDOUT"), within=0)
    assert_reports(failure, net, "expected: 4 x DATA from client, then ETIMEDOUT",
                   "seen:     3 x DATA from client, then ETIMEDOUT; off: retransmission 2 (missing)")


def test_tm3_answered_keepalive_fails_the_case(net):
    """With the server's answers delivered the connection stays up: TM3's "three probes,
    then ETIMEDOUT" must fail, showing more probes and no ETIMEDOUT."""
    _, client, conn = open_connection(net)
    net.expect_ok(client.set_keepalive(idle=1, interval=1, count=3))
    schedule = net.keepalive_schedule(client)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_schedule(KEEPALIVE, schedule, sent_by="client", since=Match(sent_by="server"),
                            gives_up=(client, "ETIMEDOUT"), within=schedule.gives_up + 0.5)
    assert_reports(failure, net, "expected: 3 x KEEPALIVE from client, then ETIMEDOUT", "seen:     ",
                   "x KEEPALIVE from client, no ETIMEDOUT")
    assert client.state == ESTABLISHED


def test_tm3_live_peer_fails_the_variant(net):
    """When the server's socket is not destroyed, the probe is answered with an ACK: the
    variant's ECONNRESET must fail, showing the recv that got nothing."""
    _, client, conn = open_connection(net)
    net.expect_ok(client.set_keepalive(idle=1, interval=1, count=3))
    result = client.recv(timeout=1.5)
    net.expect_segments(KEEPALIVE, sent_by="client", count=1)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_error(result, "ECONNRESET")
    assert_reports(failure, net, "expected: ECONNRESET", "seen:     recv(65536) = -1 EAGAIN")
    net.expect_no_segment(RST)


def test_tm4_rst_let_through_fails_the_case(net):
    """When the destroyed socket's RST gets through (another rule acts on it first), the
    client is told at once: destroy_silently must say its RST was not lost, and TM4's
    "the client still ESTABLISHED" must fail, seeing it CLOSED."""
    _, client, conn = open_connection(net)
    net.faults.delay(RST, sent_by="server", by=0)  # tried first: the RST passes
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.destroy_silently(conn)
    assert_reports(failure, net, "expectation failed: the RST of the silently destroyed server",
                   "is lost in the middlebox", "expected: one flags [R] between", "from server, dropped",
                   "seen:     an RST ", "by rule #1")
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(client).reaches(ESTABLISHED, within=0.2)
    assert_reports(failure, net, "expected: ESTABLISHED", "seen:     no socket (CLOSED)")
