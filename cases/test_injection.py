"""SEC: injection. SEC1 (RST injection, RFC 5961) and SEC2 (initial sequence numbers) of
the catalogue (docs/cases.md)."""

import pytest

from tcpfault import CLOSED, DATA, ESTABLISHED, HANDSHAKE_ACK, PURE_ACK, RST, SYN, SYN_ACK
from tcpfault.casekit import expect_counter_where_counted, fail, open_connection, wait_acknowledged

# An answer to an RST is sent at once or never (no timer is involved); the topology's
# round trip is well under a millisecond. This long without one means none.
ANSWER_TIME = 0.2
# Far outside any receive window, ahead of and behind rcv_nxt (2^30 of the 2^32 space).
OUT_OF_WINDOW = 2 ** 30
# Inside the window the server opens (at least 64 KB on Linux), but not at rcv_nxt.
IN_WINDOW = 1000


def server_sends_first(net):
    """A connection on which only the server has sent data yet, so the server has sent
    no pure ACK after the handshake: any pure ACK from it later answers an injection."""
    _, client, conn = open_connection(net)
    net.expect_ok(conn.send(b"from the server"))
    assert client.recv_exactly(15).data == b"from the server"
    net.expect_segments(PURE_ACK, sent_by="server", count=0)
    return client, conn


def expect_alive(net, client, conn, tag):
    """Data still flows both ways on the connection. The client's data comes last: it
    carries the client's acknowledgment of the server's. Once the server has read it and
    acknowledged it on the wire, no segment from the client is on its way and none is
    due (a later injection meets a quiet line). Reading is not enough: a stack that
    delays its ACK (lwIP's goes out on its 250 ms timer) may be reset first, and the
    client's retransmission of the unacknowledged data, one RTO later, would draw an RST
    from the closed server inside the quiet window that follows."""
    net.expect(conn).reaches(ESTABLISHED)
    net.expect_ok(conn.send(tag))
    assert client.recv_exactly(len(tag)).data == tag
    net.expect_ok(client.send(tag))
    assert conn.recv_exactly(len(tag)).data == tag
    wait_acknowledged(net, "client")


@pytest.mark.case("SEC1", "RST injection: out of window ignored, in window a challenge ACK, at rcv_nxt a reset",
                  ref="RFC 5961 3.2; Linux tcp_validate_incoming, tcp_send_challenge_ack")
def test_sec1_rst_injection(net):
    """SEC1 RST injection (RFC 5961 3.2, blind reset attack).

    The middlebox injects RSTs into a live connection, toward the server, as if the
    client had sent them:

    - out of the window (2^30 ahead of rcv_nxt, and 2^30 behind): silently discarded,
      no answer, no challenge ACK, the connection lives on;
    - in the window but not at rcv_nxt (rcv_nxt + 1000): not a reset but one challenge
      ACK, a pure ACK carrying the server's snd_nxt and rcv_nxt (TcpExt.TCPChallengeACK
      counts it), and the connection lives on;
    - exactly at rcv_nxt: the connection is reset (Tcp.EstabResets), the server socket
      is CLOSED and its recv fails with ECONNRESET, with nothing sent back.

    A pre-RFC 5961 stack (RFC 793 accepted any RST in the window) would be reset by the
    in-window RST; a stack that answered out-of-window RSTs would send ACKs for them; one
    that ignored RSTs altogether would survive the last one.
    """
    client, conn = server_sends_first(net)

    # Out of window: ignored, silently.
    for offset in (OUT_OF_WINDOW, -OUT_OF_WINDOW):
        net.faults.inject(conn, toward="server", flags="R", seq_offset=offset)
    net.expect_segments(RST, sent_by="middlebox", count=2)
    net.expect_no_segment(PURE_ACK, sent_by="server", during=ANSWER_TIME)
    net.expect(conn).reaches(ESTABLISHED)
    expect_counter_where_counted(net, "server", "TcpExt.TCPChallengeACK", at_least=0, at_most=0)

    # In window, not at rcv_nxt: one challenge ACK, and the connection survives.
    net.faults.inject(conn, toward="server", flags="R", seq_offset=IN_WINDOW)
    net.expect_segments(RST, sent_by="middlebox", count=3)
    net.expect_segments(PURE_ACK, sent_by="server", count=1)
    injected = net.trace.segments(RST, sent_by="middlebox")[-1]
    challenge, = net.trace.segments(PURE_ACK, sent_by="server")
    server_data = net.trace.segments(DATA, sent_by="server")[-1]
    want = (server_data.seq + server_data.payload_len, injected.seq - IN_WINDOW)
    if (challenge.seq, challenge.ack) != want:
        fail(net, "the challenge ACK carries the server's snd_nxt and rcv_nxt",
             f"seq {want[0]} ack {want[1]}", f"seq {challenge.seq} ack {challenge.ack}")
    expect_counter_where_counted(net, "server", "TcpExt.TCPChallengeACK", at_least=1, at_most=1)
    expect_counter_where_counted(net, "server", "Tcp.EstabResets", at_least=0, at_most=0)
    expect_alive(net, client, conn, b"still here")

    # At rcv_nxt: reset.
    net.faults.inject(conn, toward="server", flags="R")
    net.expect(conn).reaches(CLOSED)
    net.expect_error(conn.recv(), "ECONNRESET")
    expect_counter_where_counted(net, "server", "Tcp.EstabResets", at_least=1, at_most=1)
    expect_counter_where_counted(net, "server", "TcpExt.TCPChallengeACK", at_least=1, at_most=1)
    net.expect_no_segment(flags="R", sent_by="server", during=ANSWER_TIME)


# SEC2: how many connections, and what counts as predicting an ISN.
CONNECTIONS = 24
# A blind attacker must land in the receive window: a guess within 64 KB counts as a hit.
HIT = 65535
# The most hits the best constant offset may score among the successive differences.
# For uniformly distributed differences (n = 23) three within one 2 x 64 KB span happen
# with probability about C(23, 3) x 3 x (2^17 / 2^32)^2 = 5e-6: a false alarm in about
# 200 000 runs; a predictable stack scores all of them.
MAX_HITS = 2


def learned_isns(net):
    """Per connection, in order: (the client's ISN as the server learned it, the server's
    ISN as the client learned it), from the ACK numbers each end sent: the SYN-ACK
    acknowledges client ISN + 1, the handshake ACK server ISN + 1. (So an ISN the
    middlebox rewrote is seen the way the peer saw it.)"""
    synacks = {s.connection: s for s in net.trace.segments(SYN_ACK, sent_by="server")}
    acks = {s.connection: s for s in net.trace.segments(HANDSHAKE_ACK, sent_by="client")}
    return [((synacks[c].ack - 1) % 2 ** 32, (acks[c].ack - 1) % 2 ** 32) for c in sorted(synacks)]


def best_constant(isns):
    """The constant offset c (ISN[k+1] = ISN[k] + c) that predicts the most successive
    ISNs within HIT, chosen with hindsight from the differences themselves: (c, hits)."""
    diffs = [(b - a) % 2 ** 32 for a, b in zip(isns, isns[1:])]

    def near(x, y):
        d = (x - y) % 2 ** 32
        return min(d, 2 ** 32 - d) <= HIT

    return max(((c, sum(near(d, c) for d in diffs)) for c in diffs), key=lambda hit: hit[1])


def expect_unpredictable(net, who, isns):
    c, hits = best_constant(isns)
    if hits > MAX_HITS:
        fail(net, f"no constant offset predicts the {who}'s successive ISNs",
             f"the best constant hits at most {MAX_HITS} of {len(isns) - 1} (within ±{HIT})",
             f"+{c} hits {hits} of {len(isns) - 1}; ISNs {', '.join(str(i) for i in isns[:6])} ...")


def connect_and_reset(net, listener, **connect):
    """One short connection; the client aborts it (SO_LINGER 0: an RST, no TIME_WAIT), so
    the same 4-tuple can be used again at once."""
    client = net.client.connect(listener, **connect)
    net.expect_ok(client.connect_result)
    conn = listener.accept()
    net.expect_ok(client.set_linger(True, 0))
    net.expect_ok(client.close())
    net.expect(conn).reaches(CLOSED)
    conn.close()


@pytest.mark.case("SEC2", "ISNs of successive connections: no constant offset predicts them",
                  ref="RFC 6528 3 (ISN = M + F(4-tuple, secret)); RFC 9293 3.4.1; Linux secure_tcp_seq")
def test_sec2_isn_unpredictable(net):
    """SEC2 initial sequence numbers (RFC 9293 3.4.1, RFC 6528; Linux secure_tcp_seq).

    The client opens 24 successive connections to one listener, each from the next
    ephemeral port, as applications do. Linux picks an ISN as RFC 6528 says: a keyed
    hash (SipHash, with a secret made at boot) of the 4-tuple plus a clock counting
    64 ns ticks. A new source port is a new 4-tuple, so the hash part is independent
    from one connection to the next and the successive differences are uniform over
    2^32: no constant offset predicts them. The case takes, for the client's ISNs and
    for the server's, the one constant that predicts the most successive ISNs to within
    a 64 KB window (chosen with hindsight, the best an attacker could have guessed) and
    requires it to hit at most 2 of the 23 (a false alarm about once in 200 000 runs).

    The ISNs are taken as the peer learned them (from its ACK numbers). A stack with
    predictable ISNs - 4.2BSD's +64000 per connection, a plain counter, a clock alone -
    would give one constant (or one clock rate over a steady loop) that hits nearly all.
    """
    listener = net.server.listen(8080)
    for _ in range(CONNECTIONS):
        connect_and_reset(net, listener)
    isns = learned_isns(net)
    assert len(isns) == CONNECTIONS, isns
    expect_unpredictable(net, "client", [c for c, _ in isns])
    expect_unpredictable(net, "server", [s for _, s in isns])
    assert len({c for c, _ in isns}) == CONNECTIONS


# SEC2, the clock: one 4-tuple, reused.
REUSED_PORT = 40000
REUSES = 8
# TSval counts milliseconds: a difference of TSvals is the elapsed time to within 1 ms.
# The ISN and the TSval are read from the clock a few microseconds apart within connect()
# (more if the kernel is preempted there): 1 ms more for that. A clockless ISN hits such
# a 4 ms span of the 275 s its 2^32 ticks cover about once in 70 000 tries, per pair.
TS_RESOLUTION_MS = 1.0
SAMPLING_SLACK_MS = 1.0
ISN_TICK_NS = 64


def reused_tuple_syns(net):
    """Per connection from REUSED_PORT: (the client's ISN as the server learned it, the
    TSval of the client's SYN, when the middlebox saw the SYN in ms)."""
    synacks = {s.connection: s for s in net.trace.segments(SYN_ACK, sent_by="server", port=REUSED_PORT)}
    out = []
    for syn in net.trace.segments(SYN, sent_by="client", port=REUSED_PORT):
        if syn.connection in synacks:
            out.append(((synacks[syn.connection].ack - 1) % 2 ** 32, syn.tsval, syn.t_ms))
    return out


def expect_isn_follows_the_clock(net, syns):
    """Between successive connections of one 4-tuple the ISN advanced by the elapsed time
    in 64 ns ticks, the elapsed time read from the SYNs' own TSvals (the same kernel's
    clock). `syns`: (isn, tsval, t_ms) per connection, as reused_tuple_syns gives."""
    for (isn_a, ts_a, t_a), (isn_b, ts_b, t_b) in zip(syns, syns[1:]):
        by_isn_ms = ((isn_b - isn_a) % 2 ** 32) * ISN_TICK_NS / 1e6
        by_ts_ms = (ts_b - ts_a) % 2 ** 32
        if abs(by_isn_ms - by_ts_ms) > TS_RESOLUTION_MS + SAMPLING_SLACK_MS:
            fail(net, "a reused 4-tuple's ISN advances with the clock (64 ns ticks)",
                 f"the ISN advance, as time, within {TS_RESOLUTION_MS + SAMPLING_SLACK_MS:g} ms of the "
                 "TSval advance",
                 f"ISN +{(isn_b - isn_a) % 2 ** 32} = {by_isn_ms:.3f} ms, TSval +{by_ts_ms} ms "
                 f"(SYNs at +{t_a:.1f} and +{t_b:.1f} ms)")


@pytest.mark.case("SEC2", "ISN of a reused 4-tuple: the hash is the same, the clock moves it on",
                  ref="RFC 6528 3 (the timer M); Linux secure_tcp_seq (ktime >> 6)")
def test_sec2_reused_tuple_follows_the_clock(net):
    """SEC2, the other half of RFC 6528's formula: for one and the same 4-tuple the keyed
    hash does not change, so successive ISNs differ by the clock alone - 64 ns ticks on
    Linux (RFC 6528 asks for a timer of about 4 us, RFC 9293 3.4.1 for one that keeps
    successive incarnations of a connection apart; TW7's RFC 6191 check relies on it).

    The client reconnects eight times from port 40000 (SO_REUSEADDR; each connection
    aborted with SO_LINGER 0, so no TIME_WAIT holds the tuple). Each SYN carries a TSval
    from the same kernel's millisecond clock with the same per-address-pair offset, so
    the TSval difference of two SYNs is the time between them to within 1 ms; the ISN
    difference, in 64 ns ticks, must match it to within that and 1 ms for the two clock
    readings (measured: at most 0.96 ms apart in 210 pairs). What this means: to a party
    that knows when a 4-tuple is reused, its next ISN is predictable to within the timing
    uncertainty; the hash only keeps other 4-tuples' ISNs from telling it anything (the
    main SEC2 case). A stack with random ISNs, or a hash without the clock, would fail.
    """
    listener = net.server.listen(8080)
    for _ in range(REUSES):
        connect_and_reset(net, listener, local_port=REUSED_PORT, reuse_addr=True)
    syns = reused_tuple_syns(net)
    assert len(syns) == REUSES and all(tsval is not None for _, tsval, _ in syns), syns
    expect_isn_follows_the_clock(net, syns)
