"""Verdict power of the TW cases: each control runs a case's core assertion against a
behaviour that must fail it, and checks the failure says what was expected and seen.

The core assertions are the helpers of cases/test_time_wait.py itself, loaded from
that file, so a control fails the very check the case makes."""

import importlib.util
import pathlib
import time

import pytest

import tcpfault
from tcpfault import CLOSE_WAIT, CLOSED, ESTABLISHED, FIN, FINAL_ACK, SYN, TIME_WAIT
from tcpfault.casekit import close_after_acking_fin

_spec = importlib.util.spec_from_file_location(
    "time_wait_cases", pathlib.Path(__file__).resolve().parent.parent / "test_time_wait.py")
tw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tw)


def assert_reports(failure, *fragments):
    """The failure message says what was expected and what was seen."""
    message = str(failure.value)
    for fragment in ("expected", "seen", *fragments):
        assert fragment in message, f"{fragment!r} missing from:\n{message}"


def assert_reports_ladder(failure, net, *fragments):
    """As assert_reports, for a harness expectation: it also carries the scenario's ladder."""
    assert_reports(failure, *fragments, f"ladder of {net.name} ")


@pytest.mark.sysctl(client={"net.ipv4.tcp_rfc1337": 0})
def test_tw1_assassinated_time_wait_fails_the_case(net):
    """An in-window RST kills a TIME_WAIT socket (RFC 1337's hazard, allowed with
    tcp_rfc1337 = 0): gone long before 55 s, TW1's lifetime check must say so."""
    listener = net.server.listen(8080)
    client, conn = tw.open_connection(net, listener)
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)
    began_before = time.monotonic()
    close_after_acking_fin(net, conn)
    net.expect(client).reaches(TIME_WAIT)
    began_after = time.monotonic()

    net.faults.inject(client, toward="client", flags="R")
    with pytest.raises(AssertionError) as failure:
        tw.expect_time_wait_lifetime(net, client, began_before, began_after)
    assert_reports(failure, "still there 55 s after it began", "gone after 0.")


@pytest.mark.sysctl(client={"net.ipv4.tcp_max_tw_buckets": 0})
def test_tw2_no_time_wait_fails_the_bound_port_case(net):
    """Without a TIME_WAIT socket (no buckets) the bound port is free at once: TW2's
    "every reconnect fails" must report the success."""
    listener = net.server.listen(8080)
    client, conn = tw.open_connection(net, listener, local_port=40000)
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)
    close_after_acking_fin(net, conn)
    net.expect(client).reaches(CLOSED)
    with pytest.raises(AssertionError) as failure:
        tw.keeps_failing(net, listener, 0.2, local_port=40000)
    assert_reports(failure, "every reconnect within 0.200 s to fail", "connect(", "succeeded")


@pytest.mark.sysctl(client={tw.TIMESTAMPS: 0})
def test_tw2_no_timestamps_fails_the_reuse_addr_case(net):
    """Without timestamps SO_REUSEADDR cannot take over TIME_WAIT: the deviation case's
    successful reconnect must fail with what connect() said."""
    listener = net.server.listen(8080)
    client, conn = tw.open_connection(net, listener, local_port=40000, reuse_addr=True)
    tw.close_first(net, client, conn)
    again = net.client.connect(listener, local_port=40000, reuse_addr=True)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_ok(again.connect_result)
    assert_reports_ladder(failure, net, "Cannot assign requested address")


@pytest.mark.sysctl(client={"net.ipv4.tcp_max_tw_buckets": 0})
def test_tw2_no_time_wait_fails_the_takeover_check(net):
    """Without a TIME_WAIT socket to take over, the reconnect from the same port gets a
    fresh ISN: the takeover ISN check of the SO_REUSEADDR case must fail, naming both."""
    listener = net.server.listen(8080)
    client, conn = tw.open_connection(net, listener, local_port=40000, reuse_addr=True)
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)
    close_after_acking_fin(net, conn)
    net.expect(client).reaches(CLOSED)
    old_fin = tw.first_segment(net, FIN, sent_by="client")
    again, accepted = tw.open_connection(net, listener, local_port=40000, reuse_addr=True)
    new_syn = tw.last_segment(net, SYN, sent_by="client")
    with pytest.raises(AssertionError) as failure:
        tw.expect_takeover_isn(new_syn, old_fin)
    assert_reports(failure, "the new ISN at the old snd_nxt + 65537", f"seen: {new_syn.seq}")


@pytest.mark.sysctl(client={tw.PORT_RANGE: "40000 40003", tw.TW_REUSE: 1, tw.TW_REUSE_DELAY: 100})
def test_tw3_shorter_reuse_delay_fails_the_case(net):
    """A stack that reuses TIME_WAIT after 100 ms where 1 s is expected: TW3's timing
    check, run with the default delay, must report the early reconnect."""
    listener = net.server.listen(8080)
    for _ in range(4):
        client, conn = tw.open_connection(net, listener)
        tw.close_first(net, client, conn)
    oldest = tw.first_segment(net, FINAL_ACK, sent_by="client")
    attempts = tw.connect_until_ok(net, listener, 2)
    with pytest.raises(AssertionError) as failure:
        tw.reused_after(net, oldest.t_ms, 1.0, attempts[0])
    assert_reports(failure, "the reconnect's SYN 1.000 .. ", "seen: 0.1")


@pytest.mark.sysctl(client={tw.PORT_RANGE: "40000 40003", "net.ipv4.tcp_max_tw_buckets": 0})
def test_tw3_no_time_wait_fails_the_case(net):
    """Without TIME_WAIT sockets the four ports are free again: the fifth connect()
    succeeds and TW3's EADDRNOTAVAIL assertion must fail."""
    listener = net.server.listen(8080)
    for _ in range(4):
        client, conn = tw.open_connection(net, listener)
        client.close()
        net.expect(conn).reaches(CLOSE_WAIT)
        close_after_acking_fin(net, conn)
        net.expect(client).reaches(CLOSED)
    fifth = net.client.connect(listener)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_error(fifth.connect_result, "EADDRNOTAVAIL")
    assert_reports_ladder(failure, net, "expected: EADDRNOTAVAIL", "seen:     connect(")


def test_tw4_default_buckets_fail_the_case(net):
    """With the default tcp_max_tw_buckets the third connection keeps its TIME_WAIT:
    TW4's CLOSED assertion must see TIME_WAIT, and its counter assertion nothing."""
    listener = net.server.listen(8080)
    clients = []
    for _ in range(3):
        client, conn = tw.open_connection(net, listener)
        tw.close_first(net, client, conn)
        clients.append(client)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(clients[2]).reaches(CLOSED, within=0.2)
    assert_reports_ladder(failure, net, "expected: CLOSED", "seen:     TIME_WAIT")
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_counter("client", "TcpExt.TCPTimeWaitOverflow", at_least=1, at_most=1)
    assert_reports_ladder(failure, net, "TCPTimeWaitOverflow")


@pytest.mark.sysctl(client={tw.PORT_RANGE: "40000 40000", tw.TW_REUSE: 1})
def test_tw5_rst_off_rcv_nxt_fails_the_case(net):
    """The stale RST placed in the window but not at rcv_nxt gets a challenge ACK (RFC
    5961 3.2) and the reused connection survives: TW5's reset assertion must see it
    ESTABLISHED."""
    listener = net.server.listen(8080)
    client, conn = tw.reopen_same_4_tuple(net, listener)
    net.faults.inject(client, toward="client", flags="R", seq_offset=1000, tsval_offset=tw.STALE_TSVAL)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect(client).reaches(CLOSED, within=0.3)
    assert_reports_ladder(failure, net, "expected: CLOSED", "seen:     ESTABLISHED")


@pytest.mark.sysctl(client={tw.PORT_RANGE: "40000 40000", tw.TW_REUSE: 1})
def test_tw5_current_timestamp_fails_the_paws_check(net):
    """Data with a current timestamp passes PAWS: TW5's PAWSEstab assertion must fail."""
    listener = net.server.listen(8080)
    client, conn = tw.reopen_same_4_tuple(net, listener)
    net.faults.inject(client, toward="client", flags="P.", payload=b"fresh", tsval_offset=1)
    assert client.recv_exactly(5).data == b"fresh"
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_counter("client", "TcpExt.PAWSEstab", at_least=1, at_most=1)
    assert_reports_ladder(failure, net, "PAWSEstab")


@pytest.mark.sysctl(client={tw.PORT_RANGE: "40000 40000", tw.TW_REUSE: 1})
def test_tw6_server_not_in_last_ack_fails_the_case(net):
    """With the final ACK delivered the server's socket is gone when the reused SYN
    comes: it answers with a SYN-ACK, and TW6's old-ACK assertion must say so."""
    listener = net.server.listen(8080)
    old, old_conn = tw.open_connection(net, listener)
    tw.close_first(net, old, old_conn)
    old_fin = tw.first_segment(net, FIN, sent_by="client")
    tw_began = tw.first_segment(net, FINAL_ACK, sent_by="client")
    delay = tw.reuse_delay(net)
    attempts = tw.connect_until_ok(net, listener, delay + tw.tolerance(delay) + 0.5)
    syn = tw.reused_after(net, tw_began.t_ms, delay, attempts[0])
    with pytest.raises(AssertionError) as failure:
        tw.expect_old_ack_then_rst(net, syn, old_fin)
    assert_reports(failure, "a bare ACK of the old connection", "seen: [S.]")


@pytest.mark.sysctl(client={tw.TIMESTAMPS: 0})
def test_tw7_older_syn_fails_the_case(net):
    """A SYN below the TIME_WAIT connection's rcv_nxt, without timestamps, is not let
    through (RFC 6191 needs it newer): the TIME_WAIT socket answers with an ACK of the
    old connection, and TW7's SYN-ACK assertion must say so."""
    listener, client, conn = tw.server_closes_first(net)
    net.expect(conn).reaches(TIME_WAIT)
    old_fin = tw.first_segment(net, FIN, sent_by="server")
    net.faults.modify(SYN, sent_by="client", seq_offset=-2**30, count=1)
    again = net.client.connect(listener, local_port=40000)
    net.expect_ok(again.connect_result)  # after the RST that clears TIME_WAIT, the retry gets in
    with pytest.raises(AssertionError) as failure:
        tw.expect_time_wait_accepts_syn(net, old_fin)
    assert_reports(failure, "a SYN-ACK with ISN", "seen: [.]")
    accepted = listener.accept()  # held: a Connection that Python drops closes its socket
    net.expect(accepted).reaches(ESTABLISHED)
