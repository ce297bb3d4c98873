"""HS: opening. Twins of the C++ cases in cases/cpp/handshake_cases_test.cpp (HS1, HS5)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

import tcpfault
from tcpfault import (
    CLOSED, DATA, ESTABLISHED, HANDSHAKE_ACK, PURE_ACK, RETRANSMISSION, SYN, SYN_ACK, SYN_RECV,
    SYN_SENT, Match,
)
from tcpfault.casekit import expect_counter_where_counted, expect_syn_recv_while_peer_established, fail, tolerance
from tcpfault.observations import observe

def first_synack_timeout(net):
    """When the server's request socket first retransmits its SYN-ACK, in seconds (1 s:
    TCP_TIMEOUT_INIT, RFC 6298 2.1), from the harness's backoff model."""
    return net.synack_schedule("server").times[1]


@pytest.mark.case("HS1", "three-way handshake", ref="RFC 9293 3.5")
def test_hs1_three_way_handshake(net):
    """HS1 three-way handshake (RFC 9293 3.5).

    Holding the client's handshake ACK 300 ms shows the server's request socket in
    SYN_RECV while the client is already ESTABLISHED; once the ACK is let go both ends
    are ESTABLISHED, after exactly one SYN, one SYN-ACK and one handshake ACK. A broken
    stack would create the full socket (or let accept() return) before the handshake
    completes.
    """
    hold = 0.3
    listener = net.server.listen(8080)
    net.faults.delay(HANDSHAKE_ACK, sent_by="client", by=hold, count=1)

    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    net.expect(client).reaches(ESTABLISHED)

    conn = listener.accept(timeout=2)
    net.expect(conn).reaches(ESTABLISHED)
    net.expect(client).passes(SYN_SENT, ESTABLISHED)
    net.expect(conn).passes(SYN_RECV, ESTABLISHED)
    expect_syn_recv_while_peer_established(net, conn, client, hold)
    net.expect_segments(SYN, sent_by="client", count=1)
    net.expect_segments(SYN_ACK, sent_by="server", count=1)
    net.expect_segments(HANDSHAKE_ACK, sent_by="client", count=1)


@pytest.mark.case("HS2", "one SYN-ACK lost: the SYN-ACK is retransmitted after 1 s",
                  ref="RFC 9293 3.8.1; RFC 6298 2.1; Linux reqsk timer (TCP_TIMEOUT_INIT)")
def test_hs2_syn_ack_lost(net):
    """HS2 one SYN-ACK lost (RFC 9293 3.8.1: an unacknowledged SYN is retransmitted; RFC
    6298 2.1: the first timeout is 1 s).

    The server's request socket retransmits its SYN-ACK after 1 s and the connection
    opens then, with one handshake ACK, no RST and one accepted connection. A stack that
    did not retransmit the SYN-ACK (or kept no request socket) would leave the server
    without a connection; one with another initial timeout would miss the 1 s mark.

    On Linux the client's SYN timer and the server's SYN-ACK timer both start at 1 s and
    expire in the same timer tick, so the client's SYN retransmission crosses the
    SYN-ACK retransmission on the wire (measured: SYN-ACK at +1007..1035 ms, SYN 2-7 ms
    later), and the server answers it with a third SYN-ACK. To make every segment
    count exact, the middlebox loses that SYN retransmission too, if the client sends
    one: the case is then the server's SYN-ACK retransmission opening the connection.
    """
    listener = net.server.listen(8080)
    lost = net.faults.drop(SYN_ACK, sent_by="server", count=1)
    net.faults.drop(SYN | RETRANSMISSION, sent_by="client")

    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    conn = listener.accept()
    net.expect(conn).reaches(ESTABLISHED)
    net.expect(client).reaches(ESTABLISHED)
    assert lost.applied == 1

    net.expect_segments(SYN_ACK, sent_by="server", count=2)
    net.expect_segments(SYN_ACK | RETRANSMISSION, sent_by="server", count=1)
    first, again = net.trace.segments(SYN_ACK, sent_by="server")
    interval = (again.arrived_ms - first.arrived_ms) / 1000  # the kernel's stamps: the server's timer
    if abs(interval - 1.0) > tolerance(1.0):
        fail(net, "the lost SYN-ACK is retransmitted after the initial timeout of 1 s",
             f"1000 ms ± {tolerance(1.0) * 1000:.0f} ms after the first", f"{interval * 1000:.0f} ms after the first")
    net.expect_segments(HANDSHAKE_ACK, sent_by="client", count=1)
    net.expect_segments(SYN, sent_by="client", not_role=RETRANSMISSION, count=1)
    assert len(net.trace.segments(SYN | RETRANSMISSION, sent_by="client")) <= 1
    net.expect_no_segment(flags="R")

    # The SYN-ACK and its first retransmission, one initial timeout apart.
    net.expect_schedule(SYN_ACK, net.synack_schedule("server").first(2), sent_by="server")
    expect_counter_where_counted(net, "server", "TcpExt.TCPSynRetrans", at_least=1, at_most=1)


@pytest.mark.case("HS3", "server unreachable: SYN retries then ETIMEDOUT",
                  ref="RFC 9293 3.8.1; Linux tcp_syn_retries, tcp_syn_linear_timeouts", target_side="client")
@pytest.mark.sysctl(client={"net.ipv4.tcp_syn_retries": 2})
@pytest.mark.parametrize("linear", [None, 0], ids=["linear-default", "linear-0"])
def test_hs3_server_unreachable(net, linear):
    """HS3 server unreachable (RFC 9293 3.8.1; Linux tcp_syn_retries and
    tcp_syn_linear_timeouts).

    Every SYN is lost. The client retransmits it on the schedule its sysctls give (the
    first tcp_syn_linear_timeouts timeouts 1 s each, then doubling) and connect() fails
    with ETIMEDOUT when the time tcp_syn_retries doubling timeouts take (1+2+4 = 7 s for
    2) has run out: with linear timeouts 4 that is six SYNs one second apart, with 0
    three SYNs at 0, 1, 3 s; ETIMEDOUT at 7 s either way. The socket ends CLOSED. A
    broken stack would retry forever, give up early or late, send another number of
    SYNs, or report another errno.
    """
    if linear is not None:
        net.set_sysctl("client", "net.ipv4.tcp_syn_linear_timeouts", linear)
    schedule = net.syn_schedule("client")  # from the client's own sysctls
    net.faults.drop(SYN)

    # Wait as long as the schedule check below allows the give-up to be late (its last
    # interval's tolerance): a long timer fires late by the timer wheel's granularity, up to
    # 2 s for the 64 s timeout of tcp_syn_retries 6 at HZ 250.
    wait = schedule.gives_up + tolerance(schedule.gives_up - schedule.times[-1]) + 2
    client = net.client.connect(net.client.peer_at(8080), timeout=wait)
    observe(net, "SYNs sent before connect() gave up", len(net.trace.segments(SYN, sent_by="client")))
    net.expect_error(client.connect_result, "ETIMEDOUT")
    net.expect(client).reaches(CLOSED)

    syns = len(schedule)
    net.expect_segments(SYN, sent_by="client", count=syns)
    net.expect_segments(SYN | RETRANSMISSION, sent_by="client", count=syns - 1)
    net.expect_schedule(SYN, schedule, sent_by="client", gives_up=(client, "ETIMEDOUT"))
    net.expect_counter("client", "TcpExt.TCPSynRetrans", at_least=syns - 1, at_most=syns - 1)
    net.expect_counter("client", "Tcp.AttemptFails", at_least=1, at_most=1)


PURE_HANDSHAKE_ACK = Match(HANDSHAKE_ACK | PURE_ACK, sent_by="client")


@pytest.mark.case("HS4", "handshake ACK lost for good: SYN-ACK retries, then the request is dropped",
                  ref="RFC 9293 3.8.1; Linux tcp_synack_retries, reqsk timer")
@pytest.mark.sysctl(server={"net.ipv4.tcp_synack_retries": 2})
def test_hs4_handshake_ack_lost(net):
    """HS4 handshake ACK lost for good (RFC 9293 3.8.1; Linux tcp_synack_retries).

    Every pure handshake ACK is lost. The client is ESTABLISHED as soon as it sent its
    ACK. The server's request socket retransmits the SYN-ACK on its doubling schedule
    (1 s, 2 s: at 0, 1, 3 s for tcp_synack_retries 2), the client answers each copy with
    another ACK (a SYN in ESTABLISHED gets a challenge ACK, RFC 5961 4; TCPSYNChallenge
    counts it), lost too, and the request socket is dropped when the last timeout ends
    (1+2+4 = 7 s); nothing is accepted and the client never learns of it. A broken stack
    would promote the connection without the ACK, give up early or late, or send
    another number of SYN-ACKs.
    """
    retries = int(net.sysctl("server", "net.ipv4.tcp_synack_retries"))
    schedule = net.synack_schedule("server")  # from the server's own sysctls
    listener = net.server.listen(8080)
    net.faults.drop(PURE_HANDSHAKE_ACK)

    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    net.expect(client).reaches(ESTABLISHED)
    net.expect(client.peer).reaches(SYN_RECV)

    net.expect_segments(SYN_ACK, sent_by="server", count=len(schedule), within=schedule.times[-1] + 1)
    observe(net, "SYN-ACKs sent", len(net.trace.segments(SYN_ACK, sent_by="server")))
    net.expect(client.peer).reaches(SYN_RECV)  # still there after the last SYN-ACK
    # The SYN-ACKs, then the request socket gone (read from the socket table while waiting).
    net.expect_schedule(SYN_ACK, schedule, sent_by="server", gives_up=(client.peer, CLOSED))
    net.expect_segments(SYN_ACK | RETRANSMISSION, sent_by="server", count=retries)
    net.expect_segments(PURE_HANDSHAKE_ACK, count=len(schedule))  # one per SYN-ACK, all lost
    net.expect_counter("server", "TcpExt.TCPSynRetrans", at_least=retries, at_most=retries)
    net.expect_counter("client", "TcpExt.TCPSYNChallenge", at_least=retries, at_most=retries)
    net.expect_no_segment(flags="R")
    net.expect(client).reaches(ESTABLISHED)  # the client never learns
    with pytest.raises(tcpfault.Error, match="no connection arrived"):
        listener.accept(timeout=0)


@pytest.mark.case("HS4", "handshake ACK lost, data follows: the data's ACK completes the handshake",
                  ref="RFC 9293 3.10.7.3 (SYN-RECEIVED: an acceptable ACK moves to ESTABLISHED)")
@pytest.mark.sysctl(server={"net.ipv4.tcp_synack_retries": 2})
def test_hs4_data_completes_the_handshake(net):
    """HS4, variant: the pure handshake ACK is lost but the client sends data at once
    (RFC 9293 3.10.7.3: any acceptable ACK completes the handshake in SYN-RECEIVED).

    The data segment carries the ACK the server waits for: the request socket becomes
    an ESTABLISHED connection, accept() returns it, the data arrives intact, and the
    server never retransmits its SYN-ACK. A broken stack would drop data received in
    SYN_RECV, or wait for a pure ACK (retransmitting the SYN-ACK).
    """
    listener = net.server.listen(8080)
    net.faults.drop(PURE_HANDSHAKE_ACK)

    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    net.expect_segments(PURE_HANDSHAKE_ACK, count=1)  # lost
    net.expect_ok(client.send(b"hello"))

    conn = listener.accept()
    assert conn.recv_exactly(5).data == b"hello"
    net.expect(conn).passes(SYN_RECV, ESTABLISHED)
    net.expect_segments(DATA, sent_by="client", count=1)
    net.expect_segments(SYN_ACK, sent_by="server", count=1)
    first_timeout = first_synack_timeout(net)
    net.expect_no_segment(SYN_ACK | RETRANSMISSION, during=first_timeout + tolerance(first_timeout))
    net.expect_counter("server", "TcpExt.TCPSynRetrans", at_least=0, at_most=0)


@pytest.mark.case("HS5", "connect to a closed port: RST-ACK, ECONNREFUSED", ref="RFC 9293 3.10.7.1")
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


CLIENT_PORT, SERVER_PORT = 40001, 40002


@pytest.mark.case("HS6", "simultaneous open: SYN_SENT -> SYN_RECV -> ESTABLISHED on both ends",
                  ref="RFC 9293 3.5, figure 7")
@pytest.mark.deviation("each end also sends one ACK with a D-SACK for the peer's SYN, "
                       "repeated in the SYN-ACK (RFC 9293's figure shows none)")
def test_hs6_simultaneous_open(net):
    """HS6 simultaneous open (RFC 9293 3.5, figure 7).

    Both ends bind a fixed port and connect to each other. The middlebox holds the
    client's SYN until the server's SYN is seen, so the two SYNs cross: each end gets a
    SYN in SYN_SENT, answers with a SYN-ACK (its own SYN again, now acknowledging the
    peer's) and goes SYN_SENT -> SYN_RECV -> ESTABLISHED; on the wire SYN, SYN, SYN-ACK,
    SYN-ACK and no RST. A broken stack would refuse the SYN (an RST: nobody listens),
    treat it as a new passive open, or skip SYN_RECV.

    Deviation: Linux then sends one more segment from each end, a pure ACK carrying a
    D-SACK block {0:1}: the SYN-ACK repeats the SYN already received in SYN_SENT, and
    the repeated sequence number is reported as a duplicate (TCPDSACKOldSent counts one
    on each end). Seen on every run, IPv4 and IPv6; the catalogue (and the RFC's
    figure) list no third segment. The case asserts exactly that one ACK per end.

    The server's connect() is started while the client's waits for its handshake (from
    a second thread: connect() releases the interpreter while it waits).
    """
    net.faults.hold(SYN, sent_by="client", until=Match(SYN, sent_by="server"), count=1)
    with ThreadPoolExecutor(max_workers=1) as side:
        connecting = side.submit(net.client.connect, net.client.peer_at(SERVER_PORT),
                                 local_port=CLIENT_PORT)
        net.expect_segments(SYN, sent_by="client", count=1)  # held
        server = net.server.connect(net.server.peer_at(CLIENT_PORT), local_port=SERVER_PORT)
        client = connecting.result(timeout=10)

    for end in (client, server):
        net.expect_ok(end.connect_result)
        net.expect(end).reaches(ESTABLISHED)
        net.expect(end).passes(SYN_SENT, SYN_RECV, ESTABLISHED)
    assert client.local.port == server.remote.port == CLIENT_PORT

    handshake = [s.flags for s in net.trace.segments(any_role=[SYN, SYN_ACK])]
    assert handshake == ["S", "S", "S.", "S."], f"expected SYN, SYN, SYN-ACK, SYN-ACK; seen {handshake}"
    for end in ("client", "server"):
        net.expect_segments(SYN, sent_by=end, count=1)
        net.expect_segments(SYN_ACK, sent_by=end, count=1)
        net.expect_segments(PURE_ACK, sent_by=end, count=1)  # the D-SACK of the repeated SYN
        expect_counter_where_counted(net, end, "TcpExt.TCPDSACKOldSent", at_least=1, at_most=1)
    net.expect_no_segment(flags="R")


@pytest.mark.case("HS7", "RST in SYN_RECV: the request socket goes, the listener stays",
                  ref="RFC 9293 3.10.7.3 (SYN-RECEIVED, RST: back to LISTEN); Linux tcp_check_req")
def test_hs7_rst_in_syn_recv(net):
    """HS7 RST in SYN_RECV (RFC 9293 3.10.7.3: a passive open that receives an RST
    returns to LISTEN).

    The client's handshake ACK is rewritten into an RST at the same sequence number. The
    server's request socket is dropped at once (EmbryonicRsts and Tcp.AttemptFails
    count it; no SYN-ACK retransmission follows), nothing is accepted from it, and the
    listener still accepts the next client. A broken stack would keep the request (and
    retransmit its SYN-ACK), accept the reset connection, or close the listener.
    """
    listener = net.server.listen(8080)
    net.faults.modify(HANDSHAKE_ACK, sent_by="client", set_flags="R", clear_flags=".", count=1)
    first = net.client.connect(listener)
    net.expect_ok(first.connect_result)  # the client saw the SYN-ACK
    net.expect_segments(HANDSHAKE_ACK, sent_by="client", count=1)

    net.expect(first.peer).reaches(CLOSED)
    expect_counter_where_counted(net, "server", "TcpExt.EmbryonicRsts", at_least=1, at_most=1)
    expect_counter_where_counted(net, "server", "Tcp.AttemptFails", at_least=1, at_most=1)
    first_timeout = first_synack_timeout(net)
    net.expect_no_segment(SYN_ACK | RETRANSMISSION, during=first_timeout + tolerance(first_timeout))

    second = net.client.connect(listener)
    net.expect_ok(second.connect_result)
    conn = listener.accept()
    assert conn.remote == second.local
    net.expect(conn).reaches(ESTABLISHED)
    with pytest.raises(tcpfault.Error, match="no connection arrived"):
        listener.accept(timeout=0)
