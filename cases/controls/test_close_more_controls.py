"""Verdict power of CL4 and CL6 to CL10 (cases/test_close_more.py): each control runs a
case's core assertion against a behaviour that must fail it, and checks that the failure
says what was expected and what was seen."""

import importlib.util
import pathlib
import re
import socket

import pytest

import tcpfault
from tcpfault import (
    ACK_OF_FIN, CLOSE_WAIT, CLOSED, DATA, ESTABLISHED, FIN, FIN_WAIT1, FIN_WAIT2, PURE_ACK, RST,
    TIME_WAIT, Match, Schedule,
)
from tcpfault.casekit import assert_reports


def _load_cases():
    """The cases' own helpers (tolerances, the FIN_WAIT2 and orphan schedules), so that a
    control checks the very assertion its case makes."""
    path = pathlib.Path(__file__).resolve().parents[1] / "test_close_more.py"
    spec = importlib.util.spec_from_file_location("close_more_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cases = _load_cases()
open_connection = cases.open_connection


def seen_ms(failure):
    """The number of ms a timing failure says it saw."""
    return float(re.search(r"seen: +([0-9.]+) ms", str(failure.value)).group(1))


def test_cl4_ack_delivered_fails_the_case(net):
    """With the server's bare ACK delivered, the client moves to FIN_WAIT2 on it, before the
    server's FIN: CL4's "FIN_WAIT1 until the server's FIN" must fail."""
    _, client, conn = open_connection(net)
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    net.expect_segments(ACK_OF_FIN | PURE_ACK, sent_by="server", count=1)
    net.expect(client).reaches(FIN_WAIT2)
    conn.close()
    net.expect(client).reaches(TIME_WAIT)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(client).stays(FIN_WAIT1, until=Match(FIN, sent_by="server"))
    assert_reports(failure, net, "stays FIN_WAIT1 until FIN from server",
                   "expected: in FIN_WAIT1 from before", "seen:     entered at")


@pytest.mark.sysctl(client={"net.ipv4.tcp_fin_timeout": 2})
def test_cl6_fin_wait2_without_timeout_fails_the_case(net):
    """A socket whose FIN_WAIT2 never times out (here a half-closed one, which Linux never
    times out) must fail CL6's "the orphan is gone after tcp_fin_timeout"."""
    _, client, conn = open_connection(net)
    fin_timeout = int(net.sysctl("client", "net.ipv4.tcp_fin_timeout"))
    net.expect_ok(client.shutdown("SHUT_WR"))
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    net.expect(client).reaches(FIN_WAIT2)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(client).reaches(CLOSED, within=fin_timeout + cases.tolerance(fin_timeout) + 1)
    assert_reports(failure, net, "in CLOSED within", "expected: CLOSED", "seen:     FIN_WAIT2")


@pytest.mark.sysctl(client={"net.ipv4.tcp_fin_timeout": 2})
def test_cl6_other_fin_wait2_timeout_fails_the_case(net):
    """An orphan whose FIN_WAIT2 lasts something else than tcp_fin_timeout (TCP_LINGER2 of
    3 s on the socket overrides the sysctl) must fail CL6's timing."""
    _, client, conn = open_connection(net)
    fin_timeout = int(net.sysctl("client", "net.ipv4.tcp_fin_timeout"))
    net.expect_ok(client.set_option(socket.IPPROTO_TCP, socket.TCP_LINGER2, 3, "TCP_LINGER2"))
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    net.expect(client).reaches(FIN_WAIT2)
    net.expect(client).reaches(CLOSED, within=5)
    net.expect(client).passes(FIN_WAIT2, CLOSED)
    lasted = (cases.step_time(net, client, FIN_WAIT2, CLOSED)
              - cases.step_time(net, client, FIN_WAIT1, FIN_WAIT2))
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        cases.expect_interval(net, "the orphan's FIN_WAIT2 lasts tcp_fin_timeout", lasted, fin_timeout)
    assert_reports(failure, net, "expectation failed: the orphan's FIN_WAIT2 lasts tcp_fin_timeout",
                   "expected: 2000.0 ms (± 250.0 ms)")
    assert 2750 < seen_ms(failure) < 3500


@pytest.mark.sysctl(client={"net.ipv4.tcp_fin_timeout": 1})
def test_cl7_orphan_instead_of_half_close_fails_the_case(net):
    """close() instead of shutdown(SHUT_WR): the orphan's FIN_WAIT2 times out before the
    server's data, so CL7's "FIN_WAIT2 until the server's data" must fail."""
    _, client, conn = open_connection(net)
    fin_timeout = int(net.sysctl("client", "net.ipv4.tcp_fin_timeout"))
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    net.expect(client).reaches(FIN_WAIT2)
    net.expect_no_segment(RST, during=fin_timeout + cases.tolerance(fin_timeout) + 0.25)
    net.expect_ok(conn.send(b"reply"))
    net.expect_segments(RST, sent_by="client", count=1)  # nobody there any more
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(client).stays(FIN_WAIT2, until=Match(DATA, sent_by="server"))
    assert_reports(failure, net, "stays FIN_WAIT2 until DATA from server",
                   "expected: in FIN_WAIT2 from before", "seen:     entered at", "left at +")


def test_cl8_data_read_fails_the_case(net):
    """With the data read before close() the close is graceful: a FIN and no RST, so CL8's
    RST must be missing."""
    _, client, conn = open_connection(net)
    net.expect_ok(conn.send(b"read first"))
    assert client.recv_exactly(10).data == b"read first"
    net.expect_ok(client.close())
    net.expect_segments(FIN, sent_by="client", count=1)
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_segments(RST, sent_by="client", flags="R.", count=1, within=0.5)
    assert_reports(failure, net, "expectation failed: 1 x RST flags [R.] from client", "expected: exactly 1",
                   "seen:     0")


def test_cl9_graceful_close_fails_the_case(net):
    """Without SO_LINGER {on, 0} close() sends a FIN and the client passes FIN_WAIT1, so
    CL9's "ESTABLISHED straight to CLOSED" must fail."""
    _, client, conn = open_connection(net)
    net.expect_ok(client.close())
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    net.expect(client).reaches(FIN_WAIT2)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(client).passes(ESTABLISHED, CLOSED, within=0.5)
    assert_reports(failure, net, "expected: ESTABLISHED -> CLOSED",
                   "seen:     SYN_SENT -> ESTABLISHED -> FIN_WAIT1 -> FIN_WAIT2")


def orphan_gives_up(net, client, conn, retries):
    """CL10's run, with the client's tcp_orphan_retries = `retries`: the client closes,
    everything from the server is lost, and the orphan gives up."""
    net.set_sysctl("client", "net.ipv4.tcp_orphan_retries", retries)
    net.faults.drop(sent_by="server")
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)  # the server has the FIN; its ACKs are lost
    net.expect(client).passes(FIN_WAIT1, CLOSED, within=8)
    net.expect(client).reaches(CLOSED)
    return client


def gave_up_after_ms(failure):
    """The interval before the give-up that a schedule failure says it saw."""
    return float(re.search(r"gives up \(\+([0-9.]+) ms where", str(failure.value)).group(1))


def test_cl10_capped_backoff_fails_the_case(net):
    """A stack whose backoff stops doubling (here the RTO capped at 1 s with tcp_rto_max_ms,
    set before the connection: a socket takes it when created) must fail CL10's schedule,
    computed without the cap: the last timeout is 1 s where doubling gives about 1.6 s."""
    net.set_sysctl("client", "net.ipv4.tcp_rto_max_ms", 1000)  # NotApplicable before Linux 6.15
    _, client, conn = open_connection(net)
    rto = net.tcp_info(client).rto_ms / 1000
    uncapped = Schedule.retransmission(rto, retries=2, probe_timeout=rto)  # the case's model for 2
    client = orphan_gives_up(net, client, conn, retries=2)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_schedule(FIN, uncapped, sent_by="client", gives_up=(client, CLOSED), within=0)
    assert_reports(failure, net, "expected: 5 x FIN from client, then gives up",
                   "seen:     5 x FIN from client, then gives up; off: gives up (+")
    assert 950 < gave_up_after_ms(failure) < 1150


def test_cl10_fewer_retries_fails_the_case(net):
    """A stack that gives up on a smaller budget (tcp_orphan_retries = 1, checked against
    the schedule for 2) must fail CL10's schedule: one FIN fewer, and gone sooner."""
    net.set_sysctl("client", "net.ipv4.tcp_orphan_retries", 2)
    _, client, conn = open_connection(net)
    schedule = net.retransmission_schedule(client, orphan=True)  # for tcp_orphan_retries 2
    client = orphan_gives_up(net, client, conn, retries=1)  # read by the kernel at each timeout
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_schedule(FIN, schedule, sent_by="client", gives_up=(client, CLOSED), within=0)
    assert_reports(failure, net, "expected: 5 x FIN from client, then socket gone",
                   "seen:     4 x FIN from client, then socket gone; off: retransmission 3 (missing)")
