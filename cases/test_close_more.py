"""CL: closing, continued. CL4 and CL6 to CL10 of the catalogue (docs/cases.md)."""

import pytest

import tcpfault
from tcpfault import (
    ACK_OF_FIN, CLOSE_WAIT, CLOSED, DATA, ESTABLISHED, FIN, FIN_WAIT1, FIN_WAIT2, FINAL_ACK,
    HANDSHAKE_ACK, LAST_ACK, PURE_ACK, RETRANSMISSION, RST, TIME_WAIT, Match,
)
from tcpfault.casekit import expect_counter_where_counted, open_connection, step_time, tolerance, wait_acknowledged
from tcpfault.observations import observe


def expect_interval(net, what, seen, want):
    """`seen` seconds is `want` seconds, within tolerance; else fail as the harness does."""
    if abs(seen - want) <= tolerance(want):
        return
    net.trace.note(f"expectation failed: {what}")
    raise tcpfault.ExpectationFailed(
        f"expectation failed: {what}\n"
        f"  expected: {want * 1000:.1f} ms (± {tolerance(want) * 1000:.1f} ms)\n"
        f"  seen:     {seen * 1000:.1f} ms\n{net.ladder()}"
    )


@pytest.mark.case("CL4", "FIN_WAIT1 to TIME_WAIT on the peer's FIN (its bare ACK lost)",
                  ref="RFC 9293 3.10.7.4 (FIN-WAIT-1: our FIN ACKed and a FIN); Linux tcp_rcv_state_process", target_side="client")
@pytest.mark.deviation(
    "Linux handles the ACK field of the peer's FIN before its FIN bit, so the socket passes "
    "FIN_WAIT2 for the few microseconds between the two (FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT, "
    "both steps made by that one segment) instead of skipping it"
)
def test_cl4_fin_wait1_to_time_wait(net):
    """CL4 FIN_WAIT1 straight to TIME_WAIT (RFC 9293 3.10.7.4, FIN-WAIT-1 and FIN bit).

    The passive closer's bare ACK of the client's FIN is lost; its own FIN, which also
    acknowledges the client's, gets through. The client must stay in FIN_WAIT1 until
    that FIN and go from it to TIME_WAIT, answering with one final ACK. A broken stack
    would move to FIN_WAIT2 without an ACK of its FIN, ignore a FIN that arrives in
    FIN_WAIT1, or reset.

    Deviation: RFC 9293 has FIN-WAIT-1 enter TIME-WAIT directly when the FIN acknowledges
    ours. Linux (tcp_rcv_state_process) processes the segment's ACK first and sets
    FIN_WAIT2, then its FIN (tcp_fin) sets TIME_WAIT. The transition trace shows
    FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT with the two steps less than 0.1 ms apart, both after
    the server's FIN reached the middlebox and with no other segment to the client in
    between (capture: [F.] ... FIN, then the client's [.] FINAL_ACK). So the case asserts
    that FIN_WAIT1 lasts until the server's FIN and that this one FIN takes the client on
    to TIME_WAIT, and accepts the FIN_WAIT2 step in between.
    """
    _, client, conn = open_connection(net)
    lost_ack = net.faults.drop(ACK_OF_FIN | PURE_ACK, sent_by="server")
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    net.expect_segments(ACK_OF_FIN | PURE_ACK, sent_by="server", count=1)  # sent, and lost
    conn.close()

    # The client leaves FIN_WAIT1 only on the server's FIN, and that FIN takes it to TIME_WAIT.
    server_fin = Match(FIN, sent_by="server")
    net.expect(client).reaches(TIME_WAIT)
    net.expect(client).stays(FIN_WAIT1, until=server_fin)
    net.expect(client).passes(FIN_WAIT1, FIN_WAIT2, TIME_WAIT)
    net.expect(conn).passes(CLOSE_WAIT, LAST_ACK, CLOSED)
    assert lost_ack.applied == 1

    # After the handshake the server sent the lost ACK and its FIN, nothing else: that one
    # FIN acknowledged the client's and was answered by the one final ACK.
    net.expect_segments(server_fin, count=1)
    net.expect_segments(Match(sent_by="server", without_flags="S"), count=2)
    net.expect_segments(FINAL_ACK, sent_by="client", count=1)
    net.expect_no_segment(flags="R")


@pytest.mark.case("CL6", "the application never closes: CLOSE_WAIT stays, the orphan's FIN_WAIT2 times out",
                  ref="RFC 9293 3.6 (CLOSE-WAIT waits for the user); Linux tcp_fin_timeout, tcp_reset")
@pytest.mark.sysctl(client={"net.ipv4.tcp_fin_timeout": 2})
def test_cl6_close_wait_leak(net):
    """CL6 the application never closes (RFC 9293 3.6: CLOSE-WAIT lasts until the user closes;
    Linux: an orphan's FIN_WAIT2 lasts tcp_fin_timeout).

    The client closes; the server's application never does. The server stays in
    CLOSE_WAIT for good, while the orphaned client (a timewait minisocket in FIN_WAIT2,
    killed by the fast timewait timer: TWKilled) is gone tcp_fin_timeout after its FIN was
    acknowledged. When the server finally writes, the client has no socket and answers
    with an RST; the server's socket is reset from CLOSE_WAIT, which Linux reports as EPIPE
    (tcp_reset), so its next send fails with EPIPE. A broken stack would keep the orphan
    in FIN_WAIT2 forever (or drop it at once), let CLOSE_WAIT end by itself, or accept the
    late data.
    """
    _, client, conn = open_connection(net)
    fin_timeout = int(net.sysctl("client", "net.ipv4.tcp_fin_timeout"))

    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    net.expect(client).reaches(FIN_WAIT2)
    net.expect(client).reaches(CLOSED, within=fin_timeout + tolerance(fin_timeout) + 1)
    net.expect(client).passes(FIN_WAIT2, CLOSED)
    lasted = step_time(net, client, FIN_WAIT2, CLOSED) - step_time(net, client, FIN_WAIT1, FIN_WAIT2)
    observe(net, "the orphan's FIN_WAIT2 lasted", lasted, "s")
    expect_interval(net, "the orphan's FIN_WAIT2 lasts tcp_fin_timeout", lasted, fin_timeout)
    net.expect_counter("client", "TcpExt.TWKilled", at_least=1, at_most=1)

    # The server is still in CLOSE_WAIT: nothing ends it but the application.
    net.expect(conn).reaches(CLOSE_WAIT)
    assert [t.new for t in net.trace.transitions(conn)][-1] == CLOSE_WAIT

    # Its late write finds no socket at the client: an RST, and the server is reset.
    net.expect_ok(conn.send(b"late reply"))
    net.expect_segments(DATA, sent_by="server", count=1)
    net.expect_segments(RST, sent_by="client", count=1)
    net.expect(conn).reaches(CLOSED)
    net.expect(conn).passes(CLOSE_WAIT, CLOSED)
    net.expect_error(conn.send(b"more"), "EPIPE")


@pytest.mark.case("CL7", "half-close: FIN_WAIT2 without a timeout, data still flows the other way",
                  ref="RFC 9293 3.6 (half-closed connection); Linux: tcp_fin_timeout applies to orphans only")
@pytest.mark.sysctl(client={"net.ipv4.tcp_fin_timeout": 1})
def test_cl7_half_close(net):
    """CL7 half-close (RFC 9293 3.6: after its FIN a side may still receive; Linux shutdown(2)).

    The client shuts down its sending side: its FIN goes out and it waits in FIN_WAIT2 with
    no timer, for longer than tcp_fin_timeout (shortened to 1 s so that the wait means
    something; that timeout is for orphans only). The server can still send, and the
    client reads every byte; when the server closes, the client reaches TIME_WAIT. A
    broken stack would time out the half-closed socket (the data would then be answered
    with an RST), drop data received after its FIN, or refuse to send it.
    """
    _, client, conn = open_connection(net)
    fin_timeout = int(net.sysctl("client", "net.ipv4.tcp_fin_timeout"))

    net.expect_ok(client.shutdown("SHUT_WR"))
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    net.expect(client).reaches(FIN_WAIT2)
    assert conn.recv().value == 0  # the server reads EOF

    # Longer than tcp_fin_timeout: nobody resets, and the client is still in FIN_WAIT2.
    net.expect_no_segment(RST, during=fin_timeout + tolerance(fin_timeout) + 0.25)
    net.expect(client).reaches(FIN_WAIT2)

    reply = bytes(range(256)) * 256  # 64 KiB, many segments
    net.expect_ok(conn.send(reply))
    got = client.recv_exactly(len(reply))
    net.expect_ok(got)
    assert got.data == reply
    net.expect(client).stays(FIN_WAIT2, until=Match(DATA, sent_by="server"))

    # The server closes once all its data is acknowledged. With data in flight its FIN
    # would be probed 2 RTT + 2 jiffies later (a tail loss probe); a FIN held that long
    # in a busy CPU's backlog then reaches the client together with its probe, the
    # client's second ACK meets the closed server, and the server's RST ends the
    # client's TIME_WAIT (tcp_rfc1337 = 0). Alone in flight, a FIN is probed only after
    # 200 ms (TCP_RTO_MIN). The race is the kernel's, not this case's subject.
    wait_acknowledged(net, "server")
    conn.close()
    assert client.recv().value == 0  # then EOF
    net.expect(client).reaches(TIME_WAIT)
    net.expect(client).passes(ESTABLISHED, FIN_WAIT1, FIN_WAIT2, TIME_WAIT)
    net.expect(conn).passes(CLOSE_WAIT, LAST_ACK, CLOSED)
    net.expect_segments(FIN, sent_by="client", count=1)
    net.expect_segments(FIN, sent_by="server", count=1)
    net.expect_no_segment(RST)


@pytest.mark.case("CL8", "close() with unread data sends an RST, not a FIN",
                  ref="RFC 2525 2.17; RFC 9293 3.10.4 (ABORT); Linux tcp_close, TCPAbortOnClose", target_side="client")
def test_cl8_close_with_unread_data(net):
    """CL8 close() with unread data (RFC 2525 2.17: data would be lost, so reset; Linux tcp_close).

    The server's bytes sit unread in the client's receive buffer when the client closes:
    the client aborts. It sends one RST (acknowledging the unread bytes) and no FIN, goes
    from ESTABLISHED straight to CLOSED with no TIME_WAIT, and counts TCPAbortOnClose; the
    server's recv fails with ECONNRESET. A broken stack would close gracefully (a FIN, then
    FIN_WAIT1), silently dropping the data the peer believes was delivered.
    """
    _, client, conn = open_connection(net)
    net.expect_ok(conn.send(b"never read"))
    net.expect_segments(PURE_ACK, sent_by="client", not_role=HANDSHAKE_ACK, count=1)  # it arrived
    net.expect_ok(client.close())

    net.expect_segments(RST, sent_by="client", flags="R.", count=1)
    net.expect_no_segment(FIN)
    expect_counter_where_counted(net, "client", "TcpExt.TCPAbortOnClose", at_least=1, at_most=1)
    net.expect_error(conn.recv(), "ECONNRESET")
    net.expect(client).reaches(CLOSED)
    net.expect(conn).reaches(CLOSED)
    net.expect(client).passes(ESTABLISHED, CLOSED)
    net.expect(conn).passes(ESTABLISHED, CLOSED)


@pytest.mark.case("CL9", "SO_LINGER {on, 0}: close sends RST, no TIME_WAIT",
                  ref="RFC 9293 3.6 (abort); Linux SO_LINGER", target_side="client")
def test_cl9_linger_zero(net):
    """CL9 SO_LINGER {on, 0} (RFC 9293 3.10.4 ABORT; socket(7) SO_LINGER; Linux tcp_close).

    With a zero linger time close() aborts: one RST and no FIN on the wire, the client
    goes from ESTABLISHED straight to CLOSED (no FIN_WAIT1, no TIME_WAIT) and Linux counts
    it as TCPAbortOnData (its counter for a zero-linger close; TCPAbortOnClose is for
    unread data and stays 0). The server's recv fails with ECONNRESET. A broken stack
    would ignore the linger setting and close gracefully into TIME_WAIT.
    """
    _, client, conn = open_connection(net)
    net.expect_ok(client.set_linger(True, 0))
    net.expect_ok(client.close())

    net.expect_segments(RST, sent_by="client", flags="R.", count=1)
    net.expect_no_segment(FIN)
    net.expect_error(conn.recv(), "ECONNRESET")
    net.expect(client).reaches(CLOSED)
    net.expect(conn).reaches(CLOSED)
    net.expect(client).passes(ESTABLISHED, CLOSED)
    net.expect(conn).passes(ESTABLISHED, CLOSED)
    expect_counter_where_counted(net, "client", "TcpExt.TCPAbortOnData", at_least=1, at_most=1)
    expect_counter_where_counted(net, "client", "TcpExt.TCPAbortOnClose", at_least=0, at_most=0)


@pytest.mark.case("CL10", "orphan retries: FIN retransmitted on the backoff, then the socket is gone",
                  ref="RFC 9293 3.8.1 (retransmission timeout); RFC 6298 5.5; Linux tcp_orphan_retries", target_side="client")
@pytest.mark.deviation(
    "tcp_orphan_retries = 2 gives four FIN retransmissions, not two: a tail loss probe "
    "(not an RTO retransmission), then three timer retransmissions, because the kernel turns "
    "the retries into a time budget of (2^3 - 1) x 200 ms counted from the first timer "
    "retransmission and gives up at the first expiry past it"
)
@pytest.mark.sysctl(client={"net.ipv4.tcp_orphan_retries": 2})
def test_cl10_orphan_retries(net):
    """CL10 orphan retries (RFC 9293 3.8.1 and RFC 6298 5.5: back off the RTO on each
    retransmission; Linux tcp_orphan_retries, tcp_write_timeout).

    The client closes and everything the server sends is lost. The orphaned client sends
    its FIN again on a doubling schedule, then gives up: the socket is gone without an RST,
    and TCPAbortOnTimeout counts it. A broken stack would retransmit without backing off,
    keep the orphan forever, or give up far from the budget.

    Deviation: the catalogue expects tcp_orphan_retries = 2 retransmissions. On this
    kernel the capture shows four FIN retransmissions at about 0.21, 0.42, 0.85 and 1.68 s,
    and the socket gone at about 3.34 s (sock_diag and the FIN_WAIT1 -> CLOSED step):
    - the first is a tail loss probe (TCPLossProbes), sent one RTO after the FIN,
      without backing off the timer; the next comes one RTO later;
    - tcp_write_timeout does not count retransmissions: retransmits_timed_out compares
      the time since the first timer retransmission (retrans_stamp, which the probe does
      not set) with (2^(retries+1) - 1) x TCP_RTO_MIN = 1.4 s. At the expiry about 1.25 s
      after it the budget is not spent (one more retransmission); at the next, about 2.9 s
      after, it is, and the orphan is gone.
    So the case asserts that schedule, from the harness's backoff model fed with the
    connection's RTO and RTT (TCP_INFO, read before the close: the probe waits
    2 x SRTT + tcp_rto_min, capped at the RTO) and the namespace's tcp_orphan_retries.
    """
    _, client, conn = open_connection(net)
    schedule = net.retransmission_schedule(client, orphan=True)  # it is an orphan once closed
    assert schedule.labels[1] == "tail loss probe", schedule
    net.faults.drop(sent_by="server")

    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)  # the server has the FIN; its ACKs are lost
    # Wait as long as the schedule check allows the give-up to be late (its last interval's
    # tolerance): with the default tcp_orphan_retries (0, which means 8) the last timeouts
    # are tens of seconds, and a long timer fires late by the timer wheel's granularity.
    wait = schedule.gives_up + tolerance(schedule.gives_up - schedule.times[-1]) + 2
    net.expect(client).passes(FIN_WAIT1, CLOSED, within=wait)
    net.expect(client).reaches(CLOSED)
    observe(net, "FIN retransmissions before the orphan was gone",
            len(net.trace.segments(FIN | RETRANSMISSION, sent_by="client")))
    net.expect_schedule(FIN, schedule, sent_by="client", gives_up=(client, CLOSED))
    net.expect_segments(FIN | RETRANSMISSION, sent_by="client", count=len(schedule) - 1)
    net.expect_counter("client", "TcpExt.TCPLossProbes", at_least=1, at_most=1)
    net.expect_counter("client", "TcpExt.TCPAbortOnTimeout", at_least=1, at_most=1)
    net.expect_no_segment(RST)
