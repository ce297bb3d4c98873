"""HS: opening. Twins of the C++ cases in cases/cpp/handshake_cases_test.cpp."""

from tcpfault import (
    CLOSED, ESTABLISHED, HANDSHAKE_ACK, SYN, SYN_ACK, SYN_RECV, SYN_SENT,
)


def test_hs1_three_way_handshake(net):
    """HS1 three-way handshake (RFC 9293 3.5).

    Holding the client's handshake ACK 300 ms shows the server's request socket in
    SYN_RECV while the client is already ESTABLISHED; once the ACK is let go both ends
    are ESTABLISHED, after exactly one SYN, one SYN-ACK and one handshake ACK. A broken
    stack would create the full socket (or let accept() return) before the handshake
    completes.
    """
    listener = net.server.listen(8080)
    net.faults.delay(HANDSHAKE_ACK, sent_by="client", by=0.3, count=1)

    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    net.expect(client).reaches(ESTABLISHED)
    net.expect(client.peer).reaches(SYN_RECV, within=0.25)

    conn = listener.accept(timeout=2)
    net.expect(conn).reaches(ESTABLISHED)
    net.expect(client).passes(SYN_SENT, ESTABLISHED)
    net.expect(conn).passes(SYN_RECV, ESTABLISHED)
    net.expect_segments(SYN, sent_by="client", count=1)
    net.expect_segments(SYN_ACK, sent_by="server", count=1)
    net.expect_segments(HANDSHAKE_ACK, sent_by="client", count=1)


def test_hs5_connect_to_closed_port(net):
    """HS5 connect to a port nobody listens on (RFC 9293 3.10.7.1: RST-ACK for a SYN to a closed port).

    The server's kernel answers the SYN with RST-ACK; connect() fails with ECONNREFUSED
    and the client's socket is CLOSED. A broken stack would stay silent (the client
    would time out) or leave the socket in SYN_SENT.
    """
    client = net.client.connect(8080)
    net.expect_error(client.connect_result, "ECONNREFUSED")
    net.expect_segments(flags="R.", sent_by="server", count=1)
    net.expect(client).passes(SYN_SENT, CLOSED)
    net.expect(client).reaches(CLOSED)
