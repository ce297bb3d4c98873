"""DT: the data path. DT1-DT4 of the catalogue (shared/CASES.md).

Each case is a driver (it sets the scene and runs the transfer) and checks (they read
what the kernels did and raise tcpfault.ExpectationFailed with what was expected and
seen). cases/controls/test_data_controls.py runs the same drivers and checks against
behaviours that must fail them.
"""

import time

import pytest

import tcpfault
from tcpfault import (
    ACK_OF_FIN, CLOSE_WAIT, DATA, FIN, FIN_WAIT2, PURE_ACK, RETRANSMISSION, TIME_WAIT,
    WINDOW_PROBE, Host, Match,
)
from tcpfault.casekit import open_connection, tolerance


# ---- shared by the DT cases ----


def pattern(n, salt):
    """n known bytes that are not all the same, so that a byte delivered twice, lost or
    out of place changes what the receiver reads."""
    return bytes((k * 131 + salt * 29 + (k >> 8)) & 0xFF for k in range(n))


def fail(net, what, expected, seen):
    """Fail as the harness does: what was expected, what was seen, then the ladder."""
    net.trace.note(f"expectation failed: {what}")
    raise tcpfault.ExpectationFailed(
        f"expectation failed: {what}\n  expected: {expected}\n  seen:     {seen}\n{net.ladder()}")


def expect_bytes(net, what, got, want):
    """The receiver read exactly `want`: same length, same bytes, nothing twice."""
    if got == want:
        return
    first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    fail(net, what, f"{len(want)} bytes as sent",
         f"{len(got)} bytes, first difference at byte {first}")


def read_all_then_eof(net, conn, want, what):
    """Reads `want` exactly, then EOF: the data intact and then the end, nothing more."""
    got = conn.recv_exactly(len(want))
    net.expect_ok(got)
    expect_bytes(net, what, got.data, want)
    eof = conn.recv(timeout=2)
    if not (eof.ok and eof.value == 0):
        extra = f"{eof.value} more bytes" if eof.ok else eof.errno_name or "no EOF in 2 s"
        fail(net, f"{what}, then EOF", "recv() = 0 (EOF)", extra)


def expect_grew(net, host, key, since, at_least, at_most):
    """The counter grew by at_least..at_most since the snapshot `since` (net.counters)."""
    grew = net.counters(host)[key] - since[key]
    if not at_least <= grew <= at_most:
        span = f"{at_least}" if at_least == at_most else f"{at_least}..{at_most}"
        fail(net, f"{host} counter {key} grows by {span} during the transfer", span, grew)


def wait_for(net, what, predicate, within):
    """Polls `predicate` (a kernel view, such as tcp_info, that no trace event announces)
    until it holds or `within` seconds pass."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            fail(net, what, f"within {within} s", "not yet")
        time.sleep(0.001)


def before(a, b):
    """Sequence number a comes before b (modulo 2^32, RFC 9293 3.4)."""
    return a != b and ((a - b) & 0xFFFFFFFF) >= 0x80000000


def rel(seq, base):
    return (seq - base) & 0xFFFFFFFF


def blocks_text(segment, base):
    return " ".join(f"{rel(a, base)}:{rel(b, base)}" for a, b in segment.sack_blocks) or "no SACK option"


# ---- DT1 fast retransmit ----

FLIGHT = 20  # segments sent in one burst
LOST = 5     # the one the network loses (1-based)


def warm_up(net, client, server):
    """Grows the client's congestion window past a flight of FLIGHT segments: one 96 kB
    transfer in slow start (the window grows by one segment per segment acknowledged),
    then waits until all of it is acknowledged, so the flight starts on an idle pipe."""
    blob = pattern(96 * 1024, 1)
    net.expect_ok(client.send(blob))
    got = server.recv_exactly(len(blob))
    expect_bytes(net, "the warm-up transfer", got.data, blob)
    wait_for(net, "the warm-up acknowledged", lambda: client.tcp_info().unacked == 0, within=2)
    return client.tcp_info()


def fast_retransmit(net, more_faults=None):
    """DT1's driver: a flight of FLIGHT MSS-sized segments in one send, the LOST-th lost
    in the network (and whatever `more_faults(net)` adds). Returns what the checks read."""
    _, client, server = open_connection(net)
    info = warm_up(net, client, server)
    mss = info.snd_mss
    if info.snd_cwnd < FLIGHT or info.snd_wnd < FLIGHT * mss:
        fail(net, "room for a flight", f"cwnd >= {FLIGHT} and a window of {FLIGHT * mss} bytes",
             info)
    warm_segments = len(net.trace.segments(DATA, sent_by="client"))
    counters = {host: net.counters(host) for host in ("client", "server")}
    net.faults.drop(DATA, sent_by="client", nth=LOST, count=1)
    if more_faults:
        more_faults(net)
    flight_bytes = pattern(FLIGHT * mss, 2)
    net.expect_ok(client.send(flight_bytes))
    got = server.recv_exactly(len(flight_bytes), timeout=10)
    expect_bytes(net, "the flight, fifth segment retransmitted", got.data, flight_bytes)
    wait_for(net, "the flight acknowledged", lambda: client.tcp_info().unacked == 0, within=2)
    flight = net.trace.segments(DATA, sent_by="client", not_role=RETRANSMISSION)[warm_segments:]
    return {"client": client, "server": server, "info": info, "mss": mss, "flight": flight,
            "counters": counters}


def expect_flight(net, run):
    """FLIGHT MSS-sized segments, in sequence, the LOST-th dropped by the middlebox."""
    flight, mss = run["flight"], run["mss"]
    sizes = [s.payload_len for s in flight]
    if sizes != [mss] * FLIGHT:
        fail(net, f"a flight of {FLIGHT} segments of one MSS (offloads off)",
             f"{FLIGHT} x {mss} bytes", f"{len(sizes)} segments: {sizes}")
    fates = [i + 1 for i, s in enumerate(flight) if s.fate.startswith("dropped")]
    if fates != [LOST]:
        fail(net, "the network loses the fifth segment", f"segment {LOST} dropped", f"dropped: {fates}")


def dup_acks(net, run):
    """The server's duplicate ACKs of the hole: the ACKs that repeat its sequence number,
    up to the first that moves past it, less the one that acknowledged the segments
    before the hole (the first, when it reports nothing out of order)."""
    hole = run["flight"][LOST - 1]
    out = []
    for s in net.trace.segments(PURE_ACK, sent_by="server"):
        if s.t_ms < hole.t_ms or before(s.ack, hole.seq):
            continue  # the flight's first segments acknowledged
        if s.ack != hole.seq:
            break
        out.append(s)
    if out and not out[0].sack_blocks:
        out = out[1:]
    return out


def expect_sack_blocks(net, run):
    """Every duplicate ACK carries one SACK block that starts right after the hole and
    ends at the end of a flight segment, growing (RFC 2018 4); the first three report
    segments 6, 6-7 and 6-8: Linux acknowledges the first three out-of-order segments
    at once (RFC 5681 4.2) and only then may compress SACKs (tcp_comp_sack_*)."""
    flight = run["flight"]
    base = flight[0].seq
    after_hole = flight[LOST].seq
    ends = [s.seq + s.payload_len for s in flight[LOST:]]
    dups = dup_acks(net, run)
    seen = [blocks_text(s, base) for s in dups]
    first = [f"{rel(after_hole, base)}:{rel(e, base)}" for e in ends[:3]]
    if len(dups) < 3 or seen[:3] != first:
        fail(net, "duplicate ACKs with SACK blocks after the hole (RFC 2018, RFC 5681 4.2)",
             f"at least 3, the first SACKing {', '.join(first)}", f"{len(dups)}: {seen}")
    rights = []
    for s in dups:
        if len(s.sack_blocks) != 1 or s.sack_blocks[0][0] != after_hole or s.sack_blocks[0][1] not in ends:
            fail(net, "each SACK block covers the segments after the hole",
                 f"one block from {rel(after_hole, base)} to the end of a flight segment",
                 f"{blocks_text(s, base)} in {s!r}")
        rights.append(rel(s.sack_blocks[0][1], base))
    if rights != sorted(rights) or len(dups) > FLIGHT - LOST:
        fail(net, "SACK blocks grow, one duplicate ACK at most per out-of-order segment",
             f"growing right edges, at most {FLIGHT - LOST} ACKs", rights)
    net.trace.note(f"{len(dups)} duplicate ACKs, SACK right edges {rights}")


def expect_fast_retransmit(net, run):
    """The fifth segment is sent again once, after SACK information came back and well
    before the RTO (a quarter of it), as a fast retransmission; the ACK that follows
    acknowledges the whole flight, which the receiver had kept."""
    flight, client = run["flight"], run["client"]
    hole = flight[LOST - 1]
    rto_ms = run["info"].rto_us / 1000
    retx = net.trace.segments(DATA | RETRANSMISSION, sent_by="client")
    if [(s.seq, s.payload_len) for s in retx] != [(hole.seq, hole.payload_len)]:
        fail(net, "the fifth segment, and only it, retransmitted once",
             f"1 retransmission of seq {rel(hole.seq, flight[0].seq)}",
             [repr(s) for s in retx] or "none")
    retx = retx[0]
    dups = dup_acks(net, run)
    after = retx.t_ms - hole.t_ms
    if not dups or dups[0].t_ms > retx.t_ms or after > rto_ms / 4:
        fail(net, "fast retransmission: after a SACK came back, well before the RTO",
             f"after the first duplicate ACK and within {rto_ms / 4:.1f} ms (RTO {rto_ms:.1f} ms / 4)",
             f"{after:.1f} ms after the loss, first duplicate ACK at "
             f"{'none' if not dups else f'{dups[0].t_ms - hole.t_ms:.1f} ms'}")
    flight_end = flight[-1].seq + flight[-1].payload_len
    acks = [s for s in net.trace.segments(sent_by="server") if s.t_ms > retx.t_ms and s.ack != hole.seq]
    if not acks or acks[0].ack != flight_end:
        fail(net, "the ACK after the retransmission covers the whole flight",
             f"ack {rel(flight_end, flight[0].seq)}", repr(acks[0]) if acks else "no ACK")
    before = sum(1 for s in dups if s.t_ms < retx.t_ms)
    net.trace.note(f"retransmitted {after:.3f} ms after the loss, after {before} duplicate ACKs")
    client_before, server_before = run["counters"]["client"], run["counters"]["server"]
    for key, grows in (("TcpExt.TCPSackRecovery", 1), ("TcpExt.TCPFastRetrans", 1), ("Tcp.RetransSegs", 1),
                       ("TcpExt.TCPTimeouts", 0), ("TcpExt.TCPLossProbes", 0)):
        expect_grew(net, "client", key, client_before, grows, grows)
    expect_grew(net, "server", "TcpExt.TCPOFOQueue", server_before, FLIGHT - LOST, FLIGHT - LOST)


@pytest.mark.case("DT1", "fast retransmit: one of a flight of 20 lost, SACKed and resent before the RTO",
                  ref="RFC 5681 3.2; RFC 6675; RFC 2018; RFC 8985 (RACK-TLP)")
def test_dt1_fast_retransmit(net):
    """DT1 fast retransmit (RFC 5681 3.2, RFC 6675 loss recovery, RFC 2018 SACK; Linux
    detects the loss with RACK, RFC 8985).

    A warm-up transfer grows the client's congestion window past 20 segments (Linux
    starts at 10, RFC 6928), so one send puts a flight of 20 MSS-sized segments on the
    wire at once (tcp_info shows cwnd >= 20 and a wide enough window first). The
    middlebox loses the fifth. The server answers each out-of-order segment with a
    duplicate ACK whose SACK block covers the segments after the hole (the first three at
    once, segment by segment; Linux may then compress SACKs); the client retransmits the
    fifth, and only it, a fraction of a millisecond later instead of after its RTO (about
    200 ms, read from tcp_info), in SACK recovery (TCPSackRecovery, TCPFastRetrans, no
    TCPTimeouts, no loss probe); the next ACK acknowledges the whole flight, which the
    receiver had queued (TCPOFOQueue 15), and the bytes arrive intact.

    A stack without SACK would send duplicate ACKs without blocks; one without fast
    retransmit would wait for its RTO (TCPTimeouts); one that retransmitted more than the
    hole, or whose receiver dropped out-of-order segments, would resend them.

    The client retransmits as the third duplicate ACK reaches it (RACK's reordering
    window is 0 once three segments are SACKed), or earlier if RACK's reordering timer
    (one jiffy) runs out first; the case requires only that a SACK came back before the
    retransmission, and notes the count in the trace.
    """
    run = fast_retransmit(net)
    expect_flight(net, run)
    expect_sack_blocks(net, run)
    expect_fast_retransmit(net, run)
