"""What the conformance cases and their controls share.

    from tcpfault.casekit import assert_reports, fail, open_connection, tolerance
"""

import time

import tcpfault
from tcpfault.explore import limits


def open_connection(net, port=8080):
    """The client connects to a listener on the server: (listener, client end, server end)."""
    listener = net.server.listen(port)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    return listener, client, listener.accept()


def tolerance(interval):
    """packetdrill's rule for timer checks: the larger of 5 ms and 12.5 % of the interval
    (both in seconds)."""
    return max(0.005, 0.125 * interval)


def step_time(net, conn, old, new):
    """When (s) the socket first went from `old` to `new`, from its recorded transitions."""
    for t in net.trace.transitions(conn):
        if t.old == old and t.new == new:
            return t.t_ms / 1000
    raise AssertionError(f"no {old.name} -> {new.name} step among {net.trace.transitions(conn)}")


def expect_syn_recv_while_peer_established(net, server, client, hold):
    """HS1's core: the server's end was in SYN_RECV (its request socket) while the client
    was ESTABLISHED, for `hold` seconds (the handshake ACK's hold). Read from the recorded
    steps, not from the socket table during the hold: a slow guest (tcpfault vm, TCG on a
    busy machine) asked it only after the hold, 380 to 600 ms after connect() returned.
    The overlap is what counts, not which step came first: an agent's steps are dated
    when it reports them, after the client's ESTABLISHED. On the kernel this needs the
    BPF observer (the fallback sees no request sockets)."""
    client_up = step_time(net, client, tcpfault.SYN_SENT, tcpfault.ESTABLISHED)
    server_in = step_time(net, server, tcpfault.LISTEN, tcpfault.SYN_RECV)
    server_up = step_time(net, server, tcpfault.SYN_RECV, tcpfault.ESTABLISHED)
    least = hold - tolerance(hold)
    both = server_up - max(server_in, client_up)
    if both < least:
        fail(net, "the server in SYN_RECV while the client is ESTABLISHED, as long as the ACK is held",
             f">= {least * 1000:.1f} ms of both",
             f"{max(both, 0) * 1000:.1f} ms (SYN_RECV from {(server_in - client_up) * 1000:+.1f} ms to "
             f"{(server_up - client_up) * 1000:+.1f} ms of the client's ESTABLISHED)")


def wait_on_trace(net, what, expected, within, predicate):
    """Waits until `predicate` holds for the trace, or fails saying `what` was `expected`
    within `within` seconds. No event names one segment of a connection, so the trace is
    looked at again every millisecond, for a bounded time."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            fail(net, what, f"{expected} within {within} s", "none")
        time.sleep(0.001)


def wait_acknowledged(net, sender, within=2.0):
    """Waits until the peer of `sender` ("client" or "server") has acknowledged, on the
    wire, every sequence number `sender` has sent so far; fails if it has not within
    `within` seconds. The wire, not the socket, is asked, so that it works whatever stack
    is behind either end."""
    peer = "server" if sender == "client" else "client"
    end = None  # the farthest sequence number sent, in modulo 2^32 order ("." is the ACK flag)
    for s in net.trace.segments(sent_by=sender):
        if "R" in s.flags:
            continue
        e = (s.seq + s.payload_len + ("S" in s.flags) + ("F" in s.flags)) % 2**32
        if end is None or (e - end) % 2**32 < 2**31:
            end = e
    if end is None:
        return
    wait_on_trace(net, f"the {peer} acknowledges everything the {sender} sent", f"an ACK of {end}", within,
                  lambda: any("." in s.flags and (s.ack - end) % 2**32 < 2**31 for s in net.trace.segments(sent_by=peer)))


def close_after_acking_fin(net, end):
    """Closes `end` (a Connection whose peer closed first) once its ACK of the peer's FIN
    has reached the middlebox.

    Closed at once, the end may send its FIN from one CPU while its ACK of the peer's FIN,
    built in softirq on the other, still waits in that CPU's backlog: the FIN overtakes
    the ACK on the link. The stale ACK then reaches the peer in TIME_WAIT, which answers
    it; a closed end answers that with an RST, and the RST ends TIME_WAIT (tcp_rfc1337 =
    0). In LAST_ACK the answer is a second final ACK. Cases about the close, not about
    that race, order the two this way."""
    peer = tcpfault.Host.SERVER if end.host == tcpfault.Host.CLIENT else tcpfault.Host.CLIENT
    fins = net.trace.segments(tcpfault.FIN, sent_by=peer)
    if not fins:
        fail(net, f"the {peer} closed first", "its FIN on the wire", "no FIN")
    connection = fins[-1].connection  # the FIN that just put `end` in CLOSE_WAIT
    wait_on_trace(net, f"the {end.host} acknowledges the FIN before it closes", "a bare ACK of the FIN", 3,
                  lambda: any(s.connection == connection for s in
                              net.trace.segments(tcpfault.ACK_OF_FIN | tcpfault.PURE_ACK, sent_by=end.host)))
    return end.close()


def assert_reports(failure, net, *fragments):
    """A control's failure (pytest.raises info) names what was expected and seen, and
    carries this scenario's ladder."""
    message = str(failure.value)
    for fragment in (*fragments, f"ladder of {net.name} "):
        assert fragment in message, f"{fragment!r} missing from:\n{message}"


def fail(net, what, expected, seen):
    """Fails a check the harness has no expectation for, the way its expectations fail:
    what, expected, seen, and the ladder (the note marks the spot in the timeline)."""
    net.trace.note(f"expectation failed: {what}")
    raise tcpfault.ExpectationFailed(
        f"expectation failed: {what}\n  expected: {expected}\n  seen:     {seen}\n{net.ladder()}")


def expect_counter_where_counted(net, host, key, at_least, at_most=None):
    """A Linux MIB counter that corroborates what the wire and the states already show
    (TCPChallengeACK beside the challenge ACK itself, TCPSynRetrans beside the
    retransmitted SYN-ACK): checked where `host`'s stack counts it, the kernel or an agent
    that declares it (docs/agent-protocol.md, "Linux counters"). Elsewhere the case stands
    on the wire alone, and the trace says the counter was not checked."""
    try:
        net.expect_counter(host, key, at_least=at_least, at_most=at_most)
    except tcpfault.NotApplicable as absent:
        net.trace.note(f"not checked: {host} {key} ({absent})")


def bulk_bytes(size):
    """A bulk transfer's size: `size`, or tcpfault explore's smaller --transfer-bytes while
    the case runs under explore (its faults go on the first and last segments of each kind;
    the middle only costs time). Conformance runs always get `size`."""
    return limits.bulk_bytes(size)


def bulk_timeout(seconds):
    """A bulk transfer's deadline: `seconds`, or tcpfault explore's smaller
    --transfer-timeout while the case runs under explore. Conformance runs always get
    `seconds`."""
    return limits.bulk_timeout(seconds)
