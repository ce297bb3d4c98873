"""Verdict power of the LD cases: each control runs a case's core assertion against a
behaviour that must fail it, and checks the failure says what was expected and seen."""

import importlib.util
import pathlib

import pytest

import tcpfault
from tcpfault import RST, SYN_ACK, SYN_RECV, Match
from tcpfault.casekit import assert_reports


def the_case():
    """cases/test_load.py, for its helpers (the controls run beside it, not in it)."""
    path = pathlib.Path(__file__).parent.parent / "test_load.py"
    spec = importlib.util.spec_from_file_location("load_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.sysctl(server={"net.ipv4.tcp_syncookies": 0})
def test_ld1_without_cookies_fails_the_cookie_case(net):
    """Without syncookies the flood's requests fill the queue and the real client's SYNs
    are dropped: LD1's "the client still connects" must fail, showing the connect() that
    did not complete, and its cookie count must see none."""
    case = the_case()
    listener, flood = case.flood_the_listener(net)
    client = net.client.connect(listener, timeout=1.5)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_ok(client.connect_result)
    assert_reports(failure, net, "expected: success", "seen:     connect(", "EINPROGRESS")
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        case.expect_answered(net, flood, case.FLOOD_COUNT)
    assert_reports(failure, net, f"expected: {case.FLOOD_COUNT}", f"seen:     {case.LD1_REQUESTS} (")
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_counter("server", "TcpExt.SyncookiesSent", at_least=1)
    assert_reports(failure, net, "TcpExt.SyncookiesSent", "expected: >= 1", "seen:     0")


@pytest.mark.sysctl(server={"net.ipv4.tcp_syncookies": 1, "net.ipv4.tcp_synack_retries": 1})
def test_ld1_cookies_fail_the_drop_case(net):
    """With syncookies the client's first SYN is answered despite the full queue: LD1's
    "the first SYN is dropped, a later one answered after the flood's requests expired"
    must fail, showing the one SYN."""
    case = the_case()
    listener, _ = case.flood_the_listener(net)
    client = net.client.connect(listener, timeout=3)
    net.expect_ok(client.connect_result)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        case.expect_answered_late(net, case.request_lifetime(1))
    assert_reports(failure, net, "the client's first SYN is dropped",
                   "expected: 2 or more client SYNs", "seen:     1 SYN(s)")


@pytest.mark.sysctl(server={"net.ipv4.tcp_syncookies": 1})
def test_ld1_late_answer_check_fails_an_early_answer(net):
    """The lower bound of the no-cookie case ("no SYN-ACK for the client before the
    flood's requests expire") must fail for a client answered at once."""
    case = the_case()
    listener, _ = case.flood_the_listener(net)
    client = net.client.connect(listener, timeout=3)
    net.expect_ok(client.connect_result)
    synack, = net.trace.segments(SYN_ACK, sent_by="server")
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        case.expect_not_before(net, "the client's SYN-ACK", (synack.t_ms - case.flood_began_ms(net)) / 1000, 3.0)
    assert_reports(failure, net, "expected: >= 3.000 s", "seen:     0.")


@pytest.mark.sysctl(server={"net.ipv4.tcp_abort_on_overflow": 1})
def test_ld2_abort_fails_the_ignore_case(net):
    """With tcp_abort_on_overflow = 1 the overflowing final ACK gets an RST and the
    request is gone: LD2's "the request stays in SYN_RECV" must fail, seeing no socket."""
    case = the_case()
    listener, (first, second, third) = case.fill_the_accept_queue(net)  # held, as above
    net.expect_segments(Match(RST, sent_by="server", port=case.LD2_PORTS[2]), count=1)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(third.peer).reaches(SYN_RECV, within=0.3)
    assert_reports(failure, net, "expected: SYN_RECV", "seen:     no socket")


@pytest.mark.sysctl(server={"net.ipv4.tcp_abort_on_overflow": 0})
def test_ld2_ignore_fails_the_abort_case(net):
    """With tcp_abort_on_overflow = 0 the overflowing final ACK is ignored: the abort
    variant's RST count must report none."""
    case = the_case()
    listener, clients = case.fill_the_accept_queue(net)  # held: dropped handles close their sockets
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_segments(Match(RST, sent_by="server", port=case.LD2_PORTS[2]), count=1, within=0.5)
    assert_reports(failure, net, "expected: exactly 1", "seen:     0")


def test_ld2_room_in_the_accept_queue_fails_the_syn_drop_case(net):
    """With backlog 2 the accept queue has room for the third client: the variant's "no
    answer to the third SYN" must fail, showing the SYN-ACK."""
    case = the_case()
    listener = net.server.listen(8080, backlog=2)
    clients = [net.client.connect(listener, local_port=port) for port in case.LD2_PORTS]
    for client in clients:
        net.expect_ok(client.connect_result)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_no_segment(Match(sent_by="server", port=case.LD2_PORTS[2]))
    assert_reports(failure, net, "expected: none", "seen:     1 (at", "Flags [S.]")
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_counter("server", "TcpExt.ListenOverflows", at_least=1, at_most=1)
    assert_reports(failure, net, "TcpExt.ListenOverflows", "expected: 1", "seen:     0")
