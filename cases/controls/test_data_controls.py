"""Verdict power of the DT cases: each control runs a case's driver and core check
against a behaviour that must fail it, and checks the failure says what was expected
and what was seen."""

import importlib.util
import pathlib

import pytest

import tcpfault
from tcpfault import DATA, RETRANSMISSION
from tcpfault.casekit import assert_reports


def the_cases():
    """cases/test_data.py, for its drivers and checks (the controls run beside it, not in it)."""
    path = pathlib.Path(__file__).parent.parent / "test_data.py"
    spec = importlib.util.spec_from_file_location("data_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dt = the_cases()


@pytest.mark.sysctl(client={"net.ipv4.tcp_sack": 0})
def test_dt1_without_sack_fails_the_case(net):
    """With SACK off on the client it is not negotiated: the server's duplicate ACKs
    carry no blocks, and DT1's SACK check must say so (the loss is still repaired, by
    NewReno's fast retransmit)."""
    run = dt.fast_retransmit(net)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        dt.expect_sack_blocks(net, run)
    # Seen: duplicate ACKs without blocks, or none beside the ACK of the segments before
    # the hole when the server acknowledged a backlog of them in one ACK.
    assert_reports(failure, net, "duplicate ACKs with SACK blocks after the hole", "expected: ",
                   "one block from", "seen:     ")
    assert "no SACK option" in str(failure.value) or "seen:     none" in str(failure.value)


def test_dt1_lost_retransmission_fails_the_case(net):
    """When the first two retransmissions are lost too (the fast retransmission, and a
    tail loss probe or the first RTO retransmission), the fifth segment goes again after
    the RTO: DT1's retransmission check must report more than one copy of it."""
    run = dt.fast_retransmit(
        net, more_faults=lambda n: n.faults.drop(DATA | RETRANSMISSION, sent_by="client", count=2))
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        dt.expect_fast_retransmit(net, run)
    assert_reports(failure, net, "expected: 1 retransmission of seq", "seen:     ['<Segment")
    assert net.counter_delta("client", "TcpExt.TCPTimeouts") >= 1


def test_dt2_reading_receiver_fails_the_case(net):
    """A receiver with the default buffer that reads at once never closes its window:
    DT2's zero-window check must report the smallest window it saw."""
    run = dt.zero_window(net, receiver_reads=True)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        dt.expect_zero_window(net, run)
    assert_reports(failure, net, "expected: an ACK with window 0", "seen:     smallest window field")


@pytest.mark.sysctl(server={"net.ipv4.tcp_rmem": dt.SMALL_RMEM}, client={"net.ipv4.tcp_retries2": 2})
def test_dt2_capped_backoff_fails_the_case(net):
    """tcp_retries2 = 2 caps the probe timer's backoff at 4 RTO (tcp_send_probe0): the
    fourth interval stays at 4 RTO where DT2 expects 8, and its schedule check must show
    the intervals it expected and those it saw."""
    run = dt.zero_window(net)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        dt.expect_probe_schedule(net, run)
    assert_reports(failure, net, "window probes on a doubling backoff", "expected: intervals",
                   "seen:     intervals")


def test_dt3_in_order_fails_the_case(net):
    """Without the hold the FIN comes after the data: DT3's order check must report
    when each passed."""
    run = dt.fin_before_data(net, hold=False)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        dt.expect_fin_first(net, run)
    assert_reports(failure, net, "the FIN passes before the last data segment", "expected: FIN at +",
                   "seen:     the data at +")


def test_dt4_no_duplication_fails_the_case(net):
    """Without the copying rule DT4's copy check must find no copies."""
    run = dt.duplicates(net, duplicate=False)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        dt.expect_every_segment_copied(net, run)
    assert_reports(failure, net, "expected: one copy of each segment", "seen:     0 of the first")


@pytest.mark.sysctl(client={"net.ipv4.tcp_dsack": 0}, server={"net.ipv4.tcp_dsack": 0})
def test_dt4_without_dsack_fails_the_case(net):
    """With D-SACK off (tcp_dsack = 0) duplicates are acknowledged but not reported:
    DT4's D-SACK check must say how many it expected and that none came."""
    run = dt.duplicates(net)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        dt.expect_dsack_per_duplicate(net, run)
    assert_reports(failure, net, "reports duplicates with D-SACKs", "expected: D-SACKs of some of the",
                   "seen:     0: []")
