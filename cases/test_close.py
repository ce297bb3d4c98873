"""CL: closing. Twins of the C++ cases in cases/cpp/close_cases_test.cpp."""

from tcpfault import (
    CLOSE_WAIT, CLOSED, CLOSING, FIN, FIN_WAIT1, FIN_WAIT2, FINAL_ACK, LAST_ACK, RETRANSMISSION,
    TIME_WAIT, Match,
)


def open_connection(net, port=8080):
    listener = net.server.listen(port)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    return listener, client, listener.accept()


def test_cl2_final_ack_lost(net):
    """CL2 the final ACK is lost (RFC 9293 3.6: TIME_WAIT re-acknowledges a retransmitted FIN).

    The passive closer stays in LAST_ACK and retransmits its FIN after its RTO; the active
    closer, in TIME_WAIT, ACKs it again; no RST anywhere. A stack without TIME_WAIT
    answers the second FIN with an RST.
    """
    _, client, conn = open_connection(net)
    net.faults.drop(FINAL_ACK, sent_by="client", count=1)
    client.close()
    net.expect(conn).passes(CLOSE_WAIT)
    conn.close()
    net.expect(conn).passes(CLOSE_WAIT, LAST_ACK, CLOSED, within=5)
    net.expect(client).reaches(TIME_WAIT)
    net.expect_segments(FIN, sent_by="server", count=2)
    net.expect_segments(FIN | RETRANSMISSION, sent_by="server", count=1)
    net.expect_segments(FINAL_ACK, sent_by="client", count=2)
    net.expect_no_segment(flags="R")
