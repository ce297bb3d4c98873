"""Verdict power of the SEC cases: each control runs a case's core assertion against a
behaviour that must fail it, and checks the failure says what was expected and seen."""

import importlib.util
import pathlib

import pytest

import tcpfault
from tcpfault import CLOSED, ESTABLISHED, PURE_ACK, SYN
from tcpfault.casekit import assert_reports


def the_case():
    """cases/test_injection.py, for its helpers (the controls run beside it, not in it)."""
    path = pathlib.Path(__file__).parent.parent / "test_injection.py"
    spec = importlib.util.spec_from_file_location("injection_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sec1_in_window_rst_fails_the_out_of_window_check(net):
    """An RST inside the window is answered with a challenge ACK: SEC1's "out of window:
    no answer" must fail, showing that ACK."""
    case = the_case()
    client, conn = case.server_sends_first(net)
    net.faults.inject(conn, toward="server", flags="R", seq_offset=case.IN_WINDOW)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_no_segment(PURE_ACK, sent_by="server", during=case.ANSWER_TIME)
    assert_reports(failure, net, "expected: none", "seen:     1 (at", "Flags [.]")


def test_sec1_rst_at_rcv_nxt_fails_the_challenge_check(net):
    """An RST at rcv_nxt resets the connection: SEC1's in-window step ("a challenge ACK,
    and the connection survives") must fail, seeing no ACK and the socket gone."""
    case = the_case()
    client, conn = case.server_sends_first(net)
    net.faults.inject(conn, toward="server", flags="R")
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_segments(PURE_ACK, sent_by="server", count=1, within=case.ANSWER_TIME)
    assert_reports(failure, net, "expected: exactly 1", "seen:     0")
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(conn).reaches(ESTABLISHED, within=0.2)
    assert_reports(failure, net, "expected: ESTABLISHED", "seen:     no socket")


def test_sec1_rst_off_rcv_nxt_fails_the_reset_check(net):
    """An RST one byte past rcv_nxt only draws a challenge ACK: SEC1's last step ("the
    connection is reset") must fail, seeing it still ESTABLISHED."""
    case = the_case()
    client, conn = case.server_sends_first(net)
    net.faults.inject(conn, toward="server", flags="R", seq_offset=1)
    net.expect_segments(PURE_ACK, sent_by="server", count=1)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(conn).reaches(CLOSED, within=0.3)
    assert_reports(failure, net, "expected: CLOSED", "seen:     ESTABLISHED")


def test_sec2_predictable_isns_fail_the_case(net):
    """A stack with 4.2BSD's ISN rule (+64000 per connection), presented by a middlebox
    that gives each connection of the client that ISN and keeps both ends in step: SEC2's
    check must fail, finding the constant that predicts every one."""
    case = the_case()
    net.faults.rewrite_isn(SYN, sent_by="client", first=1_000_000, step=64_000)
    listener = net.server.listen(8080)
    for _ in range(case.CONNECTIONS):
        case.connect_and_reset(net, listener)
    isns = case.learned_isns(net)
    assert [c for c, _ in isns[:3]] == [1_000_000, 1_064_000, 1_128_000]
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        case.expect_unpredictable(net, "client", [c for c, _ in isns])
    n = case.CONNECTIONS - 1
    assert_reports(failure, net, "no constant offset predicts the client's successive ISNs",
                   f"expected: the best constant hits at most {case.MAX_HITS} of {n}", f"seen:     +64000 hits {n} of {n}")
    case.expect_unpredictable(net, "server", [s for _, s in isns])  # the server's own are untouched


def test_sec2_clockless_isns_fail_the_clock_check(net):
    """A stack whose ISNs follow no clock (random-looking: each connection's ISN a large
    odd step from the last), presented by the middlebox on the reused 4-tuple: the SEC2
    clock check must fail, showing an ISN advance far from the TSval advance."""
    case = the_case()
    net.faults.rewrite_isn(SYN, sent_by="client", first=7, step=0x9E3779B9)
    listener = net.server.listen(8080)
    for _ in range(case.REUSES):
        case.connect_and_reset(net, listener, local_port=case.REUSED_PORT, reuse_addr=True)
    syns = case.reused_tuple_syns(net)
    assert len(syns) == case.REUSES
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        case.expect_isn_follows_the_clock(net, syns)
    assert_reports(failure, net, "a reused 4-tuple's ISN advances with the clock",
                   "expected: the ISN advance, as time, within 2 ms of the TSval advance",
                   f"seen:     ISN +{0x9E3779B9}")
