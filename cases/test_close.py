"""CL: closing. Twins of the C++ cases in cases/cpp/close_cases_test.cpp."""

import pytest

from tcpfault import (
    ACK_OF_FIN, PURE_ACK, CLOSE_WAIT, CLOSED, CLOSING, FIN, FIN_WAIT1, FIN_WAIT2, FINAL_ACK, LAST_ACK, RETRANSMISSION,
    TIME_WAIT, Match,
)
from tcpfault.casekit import close_after_acking_fin, open_connection


@pytest.mark.case("CL1", "four-way close: FIN_WAIT1, FIN_WAIT2, TIME_WAIT / CLOSE_WAIT, LAST_ACK", ref="RFC 9293 3.6", target_side="client")
def test_cl1_four_way_close(net):
    """CL1 four-way close (RFC 9293 3.6, figure 12).

    The active closer passes FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT, the passive closer
    CLOSE_WAIT -> LAST_ACK -> CLOSED, with one FIN each way and one final ACK. A broken
    stack would skip TIME_WAIT or leave the passive side in LAST_ACK.
    """
    _, client, conn = open_connection(net)
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    # Four segments: the server's ACK of the FIN goes before its own FIN. Closed at once,
    # the server would send them as one FIN-ACK, and a stack may then go from FIN_WAIT1
    # straight to TIME_WAIT (RFC 9293's other path, CL4).
    net.expect_segments(ACK_OF_FIN | PURE_ACK, sent_by="server", count=1)
    conn.close()

    net.expect(client).passes(FIN_WAIT1, FIN_WAIT2, TIME_WAIT)
    net.expect(conn).passes(CLOSE_WAIT, LAST_ACK, CLOSED)
    net.expect(client).reaches(TIME_WAIT)
    net.expect_segments(FIN, sent_by="client", count=1)
    net.expect_segments(FIN, sent_by="server", count=1)
    net.expect_segments(FINAL_ACK, sent_by="client", count=1)
    net.expect_no_segment(flags="R")


@pytest.mark.case("CL2", "the final ACK is lost: LAST_ACK retransmits its FIN, TIME_WAIT re-ACKs it", ref="RFC 9293 3.6, 3.10.7.4")
def test_cl2_final_ack_lost(net):
    """CL2 the final ACK is lost (RFC 9293 3.6: TIME_WAIT re-acknowledges a retransmitted FIN).

    The passive closer stays in LAST_ACK and retransmits its FIN after its RTO; the active
    closer, in TIME_WAIT, ACKs it again; no RST anywhere. A stack without TIME_WAIT
    answers the second FIN with an RST.
    """
    _, client, conn = open_connection(net)
    net.faults.drop(FINAL_ACK, sent_by="client", count=1)
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    close_after_acking_fin(net, conn)
    net.expect(conn).passes(CLOSE_WAIT, LAST_ACK, CLOSED, within=5)
    net.expect(client).reaches(TIME_WAIT)
    net.expect_segments(FIN, sent_by="server", count=2)
    net.expect_segments(FIN | RETRANSMISSION, sent_by="server", count=1)
    net.expect_segments(FINAL_ACK, sent_by="client", count=2)
    net.expect_no_segment(flags="R")


@pytest.mark.case("CL2", "the final ACK is lost: LAST_ACK retransmits its FIN, TIME_WAIT re-ACKs it", ref="RFC 9293 3.6, 3.10.7.4")
@pytest.mark.sysctl(client={"net.ipv4.tcp_max_tw_buckets": 0})
def test_cl2_without_time_wait_the_second_fin_gets_rst(net):
    """CL2's counterpart: why TIME_WAIT exists (RFC 9293 3.6; Linux tcp_max_tw_buckets).

    With tcp_max_tw_buckets = 0 the active closer keeps no TIME_WAIT socket (the kernel
    counts TCPTimeWaitOverflow instead), so the retransmitted FIN finds no socket and is
    answered with an RST. A stack that kept TIME_WAIT anyway would re-ACK the FIN and
    send no RST; one that ignored the FIN would leave the server in LAST_ACK.

    The client half-closes (shutdown SHUT_WR) rather than close(): an orphaned socket
    in FIN_WAIT2 with no timewait bucket is destroyed as soon as its FIN is
    acknowledged (Linux tcp_time_wait overflow), so whether the server's FIN found
    a socket would depend on whether the server ACKed separately. A full socket in
    FIN_WAIT2 waits for the FIN, sends the final ACK, and only then finds no bucket.
    """
    _, client, conn = open_connection(net)
    net.faults.drop(FINAL_ACK, sent_by="client", count=1)
    client.shutdown("SHUT_WR")
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    close_after_acking_fin(net, conn)

    net.expect_segments(FIN | RETRANSMISSION, sent_by="server", count=1, within=5)
    net.expect_segments(flags="R", sent_by="client", count=1)
    net.expect(conn).passes(LAST_ACK, CLOSED)
    net.expect(client).reaches(CLOSED)
    net.expect_counter("client", "TcpExt.TCPTimeWaitOverflow", at_least=1)


@pytest.mark.case("CL3", "the first FIN is lost: retransmitted, FIN_WAIT1 until ACKed", ref="RFC 9293 3.10.7.4", target_side="client")
def test_cl3_first_fin_lost(net):
    """CL3 the first FIN is lost (RFC 9293 3.10.7.4: a FIN occupies sequence space).

    The active closer retransmits its FIN and stays in FIN_WAIT1 until the retransmission
    is acknowledged. A broken stack would move to FIN_WAIT2 without an ACK of its FIN,
    or never retransmit it.
    """
    _, client, conn = open_connection(net)
    net.faults.drop(FIN, sent_by="client", count=1)
    client.close()

    retransmitted_fin = Match(FIN | RETRANSMISSION, sent_by="client")
    net.expect_segments(retransmitted_fin, count=1, within=5)
    net.expect(client).stays(FIN_WAIT1, until=retransmitted_fin)
    net.expect(client).passes(FIN_WAIT1, FIN_WAIT2)
    net.expect(conn).reaches(CLOSE_WAIT)  # the socket table says so at once
    net.expect_segments(FIN, sent_by="client", count=2)


@pytest.mark.case("CL5", "simultaneous close: FIN_WAIT1, CLOSING, TIME_WAIT on both ends", ref="RFC 9293 3.6 (figure 13)")
def test_cl5_simultaneous_close(net):
    """CL5 simultaneous close (RFC 9293 3.6, figure 13).

    The middlebox holds the client's FIN until the server's FIN is seen, so the FINs
    cross: both ends pass FIN_WAIT1 -> CLOSING -> TIME_WAIT, and nobody resets. A broken
    stack would take the peer's FIN for an ACK of its own and skip CLOSING.
    """
    _, client, conn = open_connection(net)
    net.faults.hold(FIN, sent_by="client", until=Match(FIN, sent_by="server"), count=1)
    client.close()
    net.expect_segments(FIN, sent_by="client", count=1)
    conn.close()

    net.expect(client).passes(FIN_WAIT1, CLOSING, TIME_WAIT)
    net.expect(conn).passes(FIN_WAIT1, CLOSING, TIME_WAIT)
    net.expect(client).reaches(TIME_WAIT)
    net.expect(conn).reaches(TIME_WAIT)
    net.expect_no_segment(flags="R")
