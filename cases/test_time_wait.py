"""TW: TIME_WAIT and the sysctls around it (tcp_tw_reuse, tcp_tw_reuse_delay,
tcp_max_tw_buckets, ip_local_port_range).

net.ipv4.tcp_* keys govern TCP over IPv6 too, so every case runs unchanged on both
families. Waits that depend on a timer are computed from the namespace's own sysctls.
"""

import time

import pytest

from tcpfault import (
    CLOSE_WAIT, CLOSED, ESTABLISHED, FIN, FIN_WAIT2, FINAL_ACK, LAST_ACK, PURE_ACK, RETRANSMISSION, RST, SYN,
    SYN_ACK, SYN_SENT, TIME_WAIT, Match,
)
from tcpfault.casekit import close_after_acking_fin, expect_counter_where_counted, tolerance
from tcpfault.observations import observe

PORT_RANGE = "net.ipv4.ip_local_port_range"
TW_REUSE = "net.ipv4.tcp_tw_reuse"
TW_REUSE_DELAY = "net.ipv4.tcp_tw_reuse_delay"
TIMESTAMPS = "net.ipv4.tcp_timestamps"

# Linux's TIME_WAIT length (TCP_TIMEWAIT_LEN, include/net/tcp.h): a constant, no sysctl.
TIME_WAIT_LEN = 60.0
# The sequence number a connection taking over a TIME_WAIT 4-tuple starts from:
# the old connection's snd_nxt + 65535 + 2 (tcp_twsk_unique, tcp_timewait_state_process).
TW_ISN_STEP = 65535 + 2
# The initial retransmission timeout of a SYN (TCP_TIMEOUT_INIT, RFC 6298 2.1).
INITIAL_RTO = 1.0
# How often a connect is retried while waiting for a TIME_WAIT socket to become reusable.
RETRY_EVERY = 0.02


def reuse_delay(net):
    """The client's tcp_tw_reuse_delay, in seconds (the sysctl is in ms): how long after
    TIME_WAIT began tcp_tw_reuse lets a connect take it over, at the latest. A kernel
    without the key (before Linux 6.14) behaves as with 1000 (netns/sysctl/sysctl_catalog.cpp)."""
    return int(net.sysctl_or_built_in("client", TW_REUSE_DELAY)) / 1000


def reuse_earliest(net, delay):
    """How soon after TIME_WAIT began tcp_tw_reuse may let a connect take it over, in
    seconds, for a reuse `delay`: that delay where the kernel has tcp_tw_reuse_delay.
    Before the key (Linux 6.14) the kernel compares whole seconds of the monotonic clock
    (tcp_twsk_unique: time_after32 of ktime_get_seconds and the TIME_WAIT socket's last
    timestamp's second), so the takeover comes at the next tick of that second: any time
    from 0 to 1 s."""
    return delay if net.has_sysctl("client", TW_REUSE_DELAY) else 0.0


def open_connection(net, listener, **how):
    client = net.client.connect(listener, **how)
    net.expect_ok(client.connect_result)
    return client, listener.accept()


def close_first(net, closer, other):
    """`closer` closes first, `other` closes once it has the FIN: `closer` ends in TIME_WAIT,
    and its final ACK (sent as TIME_WAIT began) is in the trace.

    `other` closes only after its ACK of the FIN has reached the middlebox
    (casekit.close_after_acking_fin says why)."""
    final_acks = len(net.trace.segments(FINAL_ACK, sent_by=closer.host))
    closer.close()
    net.expect(other).reaches(CLOSE_WAIT)  # the socket table says so at once
    close_after_acking_fin(net, other)
    net.expect(closer).reaches(TIME_WAIT)
    net.expect_segments(FINAL_ACK, sent_by=closer.host, count=final_acks + 1)


def connect_until_ok(net, listener, within, **how):
    """Retries connect() every RETRY_EVERY s until one succeeds or `within` s have passed.
    Returns every attempt, the last one first."""
    attempts = []
    deadline = time.monotonic() + within
    while True:
        attempt = net.client.connect(listener, **how)
        attempts.insert(0, attempt)
        if attempt.connect_result or time.monotonic() >= deadline:
            return attempts
        time.sleep(RETRY_EVERY)


def keeps_failing(net, listener, during, **how):
    """Retries connect() for `during` s; returns every attempt (all must have failed)."""
    attempts = connect_until_ok(net, listener, during, **how)
    failed = [a for a in attempts if not a.connect_result]
    assert len(failed) == len(attempts), (
        f"expected: every reconnect within {during:.3f} s to fail; "
        f"seen: {attempts[0].connect_result.call} succeeded after {len(failed)} failures")
    return attempts


def first_segment(net, match, **keywords):
    segments = net.trace.segments(match, **keywords)
    assert segments, f"expected: a segment {Match(match, **keywords)}; seen: none"
    return segments[0]


def last_segment(net, match, **keywords):
    segments = net.trace.segments(match, **keywords)
    assert segments, f"expected: a segment {Match(match, **keywords)}; seen: none"
    return segments[-1]


def first_segment_after(net, earlier, **keywords):
    later = [s for s in net.trace.segments(**keywords) if s.t_ms > earlier.t_ms]
    assert later, f"expected: a segment {Match(**keywords)} after +{earlier.t_ms:.1f} ms; seen: none"
    return later[0]


def reused_after(net, tw_entered_ms, delay, connect):
    """The reconnect went out no sooner than `delay` after TIME_WAIT began, and soon after.

    Both times are the middlebox's: the client's final ACK (sent as it enters TIME_WAIT)
    and its new SYN (sent once connect() found the 4-tuple reusable)."""
    observe(net, "reconnect while TIME_WAIT holds the port", connect.connect_result.errno_name or "ok")
    net.expect_ok(connect.connect_result)
    syn = last_segment(net, SYN, sent_by="client", not_role=RETRANSMISSION)
    waited = (syn.t_ms - tw_entered_ms) / 1000
    observe(net, "reconnect after TIME_WAIT began", waited, "s")
    slack = 0.005  # the kernel stamps TIME_WAIT in whole ms
    earliest = reuse_earliest(net, delay)
    latest = delay + tolerance(delay) + 2 * RETRY_EVERY
    assert earliest - slack <= waited <= latest, (
        f"expected: the reconnect's SYN {earliest:.3f} .. {latest:.3f} s after TIME_WAIT began "
        f"(tcp_tw_reuse_delay); seen: {waited:.3f} s")
    return syn


def expect_time_wait_lifetime(net, closer, began_before, began_after, margin=5):
    """`closer`'s TIME_WAIT, begun between the monotonic times `began_before` and
    `began_after`, is still there TIME_WAIT_LEN - margin s later and gone by + margin."""
    earliest, latest = TIME_WAIT_LEN - margin, TIME_WAIT_LEN + margin
    net.expect(closer).reaches(CLOSED, within=latest + 1)
    gone = time.monotonic()
    observe(net, "TIME_WAIT lasted", gone - (began_before + began_after) / 2, "s")
    assert gone - began_after >= earliest, (
        f"expected: TIME_WAIT still there {earliest:.0f} s after it began; "
        f"seen: gone after {gone - began_after:.1f} s")
    assert gone - began_before <= latest, (
        f"expected: TIME_WAIT gone {latest:.0f} s after it began; seen: gone after {gone - began_before:.1f} s")


def expect_takeover_isn(new_syn, old_fin):
    """A connection that took over a TIME_WAIT 4-tuple starts at the old snd_nxt + 65537."""
    isn = (old_fin.seq + 1 + TW_ISN_STEP) % 2**32
    assert new_syn.seq == isn, (
        f"expected: the new ISN at the old snd_nxt + {TW_ISN_STEP} ({isn}); seen: {new_syn.seq}")


@pytest.mark.case("TW1", "TIME_WAIT lasts 60 s", ref="RFC 9293 3.6 (2 MSL); Linux TCP_TIMEWAIT_LEN", target_side="client")
@pytest.mark.slow
def test_tw1_time_wait_lasts_60_seconds(net):
    """TW1 TIME_WAIT lasts 60 s (Linux TCP_TIMEWAIT_LEN; RFC 9293 3.6 asks for 2 MSL).

    Linux does not compute 2 x MSL: TIME_WAIT is the constant TCP_TIMEWAIT_LEN, 60 s, and
    no sysctl changes it (tcp_fin_timeout, often believed to, governs orphaned FIN_WAIT2
    only: it is set to 5 s here and must not shorten TIME_WAIT). The active closer's
    TIME_WAIT socket is still there 55 s after it began and gone 65 s after. A stack
    using RFC 793's 2 x 2 min would still hold it at 65 s; one that took tcp_fin_timeout
    for TIME_WAIT, or had none, would have lost it long before 55 s.
    """
    if net.client.target == "kernel":  # other stacks have no such sysctl to be mistaken for it
        net.set_sysctl("client", "net.ipv4.tcp_fin_timeout", 5)
    listener = net.server.listen(8080)
    client, conn = open_connection(net, listener)

    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)
    began_before = time.monotonic()  # TIME_WAIT begins when the server's FIN arrives
    close_after_acking_fin(net, conn)
    net.expect(client).reaches(TIME_WAIT)
    began_after = time.monotonic()

    expect_time_wait_lifetime(net, client, began_before, began_after)
    net.expect_no_segment(flags="R")


@pytest.mark.case("TW2", "TIME_WAIT holds the 4-tuple of a bound port",
                  ref="RFC 9293 3.6.1; Linux inet_csk_bind_conflict, tcp_tw_reuse", target_side="client")
@pytest.mark.deviation("tcp_tw_reuse only applies when connect() picks the port: a port the "
                       "application binds stays EADDRINUSE past tcp_tw_reuse_delay")
@pytest.mark.sysctl(client={TW_REUSE: 1})
def test_tw2_time_wait_holds_the_bound_port(net):
    """TW2 TIME_WAIT holds the 4-tuple (RFC 9293 3.6.1: a connection in TIME_WAIT keeps
    its socket pair from being reused).

    The client, bound to a fixed port without SO_REUSEADDR, closes first and binds the
    same port again: bind() fails with EADDRINUSE, no SYN leaves, the TIME_WAIT socket
    stays. A stack that freed the pair at once would reconnect.

    Deviation: the case was written expecting tcp_tw_reuse = 1 (timestamps on) to let the reconnect
    through once tcp_tw_reuse_delay has passed. On Linux tcp_tw_reuse is consulted only
    when connect() chooses the local port (__inet_hash_connect -> tcp_twsk_unique with a
    timewait to take over); a bind() without SO_REUSEADDR conflicts with the TIME_WAIT
    socket in the bind table whatever tcp_tw_reuse says. Seen on 6.18: bind() =
    EADDRINUSE for every attempt over reuse_delay + 12.5 %, tcp_tw_reuse 0, 1 or 2,
    timestamps on or off, IPv4 and IPv6; no second SYN in the capture.
    """
    listener = net.server.listen(8080)
    client, conn = open_connection(net, listener, local_port=40000)
    close_first(net, client, conn)

    delay = reuse_delay(net)
    attempts = keeps_failing(net, listener, delay + tolerance(delay), local_port=40000)
    for attempt in attempts:
        net.expect_error(attempt.connect_result, "EADDRINUSE")
    assert all(a.connect_result.call.startswith("bind(") for a in attempts)
    net.expect_segments(SYN, sent_by="client", count=1)  # the first connection's only
    net.expect(client).reaches(TIME_WAIT)


@pytest.mark.case("TW2", "SO_REUSEADDR takes over a TIME_WAIT 4-tuple at once",
                  ref="RFC 9293 3.6.1; RFC 6191; Linux tcp_twsk_unique", target_side="client")
@pytest.mark.deviation("with SO_REUSEADDR and timestamps the bound port is reused at once, "
                       "before tcp_tw_reuse_delay and with tcp_tw_reuse = 0")
@pytest.mark.sysctl(client={TW_REUSE: 0})
def test_tw2_reuse_addr_takes_over_time_wait(net):
    """TW2, bound port with SO_REUSEADDR (Linux tcp_twsk_unique; RFC 6191's timestamp rule).

    Deviation: the case was written expecting EADDRINUSE or EADDRNOTAVAIL while TIME_WAIT lasts, and
    reuse only after tcp_tw_reuse_delay with tcp_tw_reuse = 1. On Linux, when the
    application has bound the port itself (SO_REUSEADDR on both sockets), connect()
    checks the 4-tuple with no timewait to hand back (__inet_hash_connect with a port
    already set), and tcp_twsk_unique then lets it take over any TIME_WAIT socket that
    saw a timestamp, ignoring tcp_tw_reuse and its delay; the new connection starts at
    the old snd_nxt + 65537 so its segments are newer than the old ones. Seen on 6.18,
    IPv4 and IPv6, tcp_tw_reuse 0, 1 and 2: connect() = 0 within 2 ms of the final ACK,
    TWRecycled counted, the SYN's sequence number is exactly old snd_nxt + 65537. With
    timestamps off the same connect() fails (test_tw2_without_timestamps_*).

    A stack that ignored the TIME_WAIT socket would pick a fresh ISN and count nothing;
    one that honoured tcp_tw_reuse here would fail with EADDRNOTAVAIL.
    """
    listener = net.server.listen(8080)
    client, conn = open_connection(net, listener, local_port=40000, reuse_addr=True)
    close_first(net, client, conn)
    old_fin = first_segment(net, FIN, sent_by="client")
    final_ack = first_segment(net, FINAL_ACK, sent_by="client")

    again = net.client.connect(listener, local_port=40000, reuse_addr=True)
    net.expect_ok(again.connect_result)
    assert again.tuple == client.tuple
    new_syn = last_segment(net, SYN, sent_by="client")
    waited = (new_syn.t_ms - final_ack.t_ms) / 1000
    assert waited < reuse_delay(net), (
        f"expected: the reconnect before tcp_tw_reuse_delay ({reuse_delay(net):.3f} s); seen: after {waited:.3f} s")
    expect_takeover_isn(new_syn, old_fin)
    expect_counter_where_counted(net, "client", "TcpExt.TWRecycled", at_least=1, at_most=1)
    accepted = listener.accept()  # held: a Connection that Python drops closes its socket
    net.expect(accepted).reaches(ESTABLISHED)


@pytest.mark.case("TW2", "without timestamps TIME_WAIT holds the 4-tuple",
                  ref="RFC 9293 3.6.1; RFC 7323 5.8; Linux tcp_twsk_unique", target_side="client")
@pytest.mark.sysctl(client={TW_REUSE: 1, TIMESTAMPS: 0})
def test_tw2_without_timestamps_time_wait_holds_the_4_tuple(net):
    """TW2 without timestamps: nothing tells old segments from new ones, so TIME_WAIT
    holds the 4-tuple (RFC 9293 3.6.1; RFC 7323 5.8 makes timestamps the condition of
    an early reuse).

    Client timestamps off, tcp_tw_reuse = 1, SO_REUSEADDR on both sockets so that bind()
    passes: connect() from the same port fails with EADDRNOTAVAIL for as long as we try
    (past tcp_tw_reuse_delay), no SYN leaves, TIME_WAIT stays. A stack that reused the
    pair without timestamps would open the connection.
    """
    listener = net.server.listen(8080)
    client, conn = open_connection(net, listener, local_port=40000, reuse_addr=True)
    close_first(net, client, conn)

    delay = reuse_delay(net)
    attempts = keeps_failing(net, listener, delay + tolerance(delay), local_port=40000, reuse_addr=True)
    for attempt in attempts:
        net.expect_error(attempt.connect_result, "EADDRNOTAVAIL")
    net.expect_segments(SYN, sent_by="client", count=1)
    net.expect(client).reaches(TIME_WAIT)


@pytest.mark.case("TW3", "port exhaustion by TIME_WAIT",
                  ref="RFC 9293 3.6.1; Linux ip_local_port_range, tcp_tw_reuse", target_side="client")
@pytest.mark.sysctl(client={PORT_RANGE: "40000 40003", TW_REUSE: 0})
def test_tw3_port_exhaustion(net):
    """TW3 port exhaustion (RFC 9293 3.6.1; Linux ip_local_port_range, tcp_tw_reuse).

    With four local ports, four short connections the client closes first leave four
    TIME_WAIT sockets, and the fifth connect() fails with EADDRNOTAVAIL ("Cannot assign
    requested address") without a SYN. Then tcp_tw_reuse = 1 (timestamps on): the
    reconnect is refused until the oldest TIME_WAIT socket is tcp_tw_reuse_delay old,
    then goes through on one of the four ports (TWRecycled counts it). A stack that did
    not hold ports in TIME_WAIT would connect at once; one that ignored tcp_tw_reuse
    would go on failing; one that ignored the delay would reuse at once.
    """
    listener = net.server.listen(8080)
    ports = set()
    for _ in range(4):
        client, conn = open_connection(net, listener)
        close_first(net, client, conn)
        ports.add(client.local.port)
    assert ports == {40000, 40001, 40002, 40003}
    oldest = first_segment(net, FINAL_ACK, sent_by="client")

    fifth = net.client.connect(listener)
    observe(net, "connect #5 with every port in TIME_WAIT", fifth.connect_result.errno_name or "ok")
    net.expect_error(fifth.connect_result, "EADDRNOTAVAIL")
    net.expect_segments(SYN, sent_by="client", count=4)

    net.set_sysctl("client", TW_REUSE, 1)
    delay = reuse_delay(net)
    attempts = connect_until_ok(net, listener, delay + tolerance(delay) + 0.5)
    reused_after(net, oldest.t_ms, delay, attempts[0])
    for refused in attempts[1:]:
        net.expect_error(refused.connect_result, "EADDRNOTAVAIL")
    assert attempts[0].local.port in ports
    expect_counter_where_counted(net, "client", "TcpExt.TWRecycled", at_least=1, at_most=1)
    accepted = listener.accept()  # held: a Connection that Python drops closes its socket
    net.expect(accepted).reaches(ESTABLISHED)


@pytest.mark.case("TW4", "tcp_max_tw_buckets caps TIME_WAIT sockets",
                  ref="RFC 9293 3.6; Linux tcp_max_tw_buckets, TCPTimeWaitOverflow", target_side="client")
@pytest.mark.sysctl(client={"net.ipv4.tcp_max_tw_buckets": 2})
def test_tw4_max_tw_buckets(net):
    """TW4 tcp_max_tw_buckets = 2 (Linux inet_twsk_alloc: no bucket, no TIME_WAIT).

    After three active closes by the client only the first two connections are in
    TIME_WAIT; the third socket is destroyed instead and TCPTimeWaitOverflow counts it,
    once. A stack that ignored the limit would keep three; one that dropped TIME_WAIT
    silently would not count the overflow.
    """
    listener = net.server.listen(8080)
    clients = []
    for _ in range(3):
        client, conn = open_connection(net, listener)
        client.close()
        net.expect(conn).reaches(CLOSE_WAIT)
        close_after_acking_fin(net, conn)  # a stale ACK would end TIME_WAIT early
        net.expect(conn).reaches(CLOSED)
        clients.append(client)

    first, second, third = clients
    net.expect(first).reaches(TIME_WAIT)
    net.expect(second).reaches(TIME_WAIT)
    net.expect(third).reaches(CLOSED)
    net.expect(first).passes(FIN_WAIT2, TIME_WAIT)
    net.expect(second).passes(FIN_WAIT2, TIME_WAIT)
    net.expect(third).passes(FIN_WAIT2, CLOSED)  # no bucket: the socket is destroyed
    net.expect_counter("client", "TcpExt.TCPTimeWaitOverflow", at_least=1, at_most=1)


# A timestamp from the previous incarnation: TS ticks are ms on Linux, so 1 s older
# than the impersonated sender's latest.
STALE_TSVAL = -1000


def reopen_same_4_tuple(net, listener):
    """A connection the client closes first, then a new one on the same 4-tuple once
    tcp_tw_reuse lets the client take over its TIME_WAIT socket (a single local port)."""
    old, old_conn = open_connection(net, listener)
    close_first(net, old, old_conn)
    tw_began = first_segment(net, FINAL_ACK, sent_by="client")
    delay = reuse_delay(net)
    attempts = connect_until_ok(net, listener, delay + tolerance(delay) + 0.5)
    reused_after(net, tw_began.t_ms, delay, attempts[0])
    new = attempts[0]
    assert new.tuple == old.tuple
    return new, listener.accept()


@pytest.mark.case("TW5", "a stale RST resets a reused 4-tuple",
                  ref="RFC 7323 5.3 (PAWS), 5.5; RFC 9293 3.10.7.4; Linux tcp_validate_incoming", target_side="client")
@pytest.mark.sysctl(client={PORT_RANGE: "40000 40000", TW_REUSE: 1})
def test_tw5_stale_rst_after_reuse(net):
    """TW5 the stale RST, why tcp_tw_reuse is off by default (RFC 7323 5.3 / 5.5: PAWS
    discards old segments, but an RST is accepted whatever its timestamp).

    The client takes over its own TIME_WAIT 4-tuple. A data segment carrying a timestamp
    from the old incarnation is dropped by PAWS (PAWSEstab counts it, the client answers
    with a duplicate ACK, nothing is delivered). An RST with the same old timestamp, at
    the new connection's rcv_nxt, resets the new connection: ECONNRESET, CLOSED. A stack
    that applied PAWS to RST would survive it; one without PAWS would take the old data.
    """
    listener = net.server.listen(8080)
    client, conn = reopen_same_4_tuple(net, listener)
    acks_before = len(net.trace.segments(PURE_ACK, sent_by="client"))

    net.faults.inject(client, toward="client", flags="P.", payload=b"stale", tsval_offset=STALE_TSVAL)
    net.expect_segments(PURE_ACK, sent_by="client", count=acks_before + 1)  # the duplicate ACK
    expect_counter_where_counted(net, "client", "TcpExt.PAWSEstab", at_least=1, at_most=1)
    net.expect_ok(conn.send(b"fresh"))
    assert client.recv_exactly(5).data == b"fresh"  # not b"stale": nothing of it was taken

    net.faults.inject(client, toward="client", flags="R", tsval_offset=STALE_TSVAL)
    after_rst = client.recv()
    observe(net, "recv after an RST with an old timestamp", after_rst.errno_name or "ok")
    net.expect_error(after_rst, "ECONNRESET")
    net.expect(client).reaches(CLOSED)
    net.expect_segments(RST, sent_by="middlebox", count=1)


def expect_old_ack_then_rst(net, syn, old_fin):
    """The server answers `syn` with a bare ACK of the old connection (its ack is just past
    the client's old FIN), and the client answers that with an RST at the ACK's ack
    number. Returns the RST."""
    answer = first_segment_after(net, syn, sent_by="server")
    observe(net, "the server's answer to the SYN", f"[{answer.flags}]")
    old_rcv_nxt = (old_fin.seq + 1) % 2**32
    assert answer.flags == "." and answer.ack == old_rcv_nxt, (
        f"expected: a bare ACK of the old connection (ack {old_rcv_nxt}); "
        f"seen: [{answer.flags}] seq {answer.seq} ack {answer.ack}")
    reset = first_segment_after(net, answer, sent_by="client")
    assert reset.flags == "R" and reset.seq == answer.ack, (
        f"expected: an RST at seq {answer.ack}; seen: [{reset.flags}] seq {reset.seq}")
    return reset


@pytest.mark.case("TW6", "reuse after a lost final ACK",
                  ref="RFC 9293 3.10.7.3-4; RFC 5961 4; Linux tcp_tw_reuse, tcp_rcv_synsent_state_process", target_side="client")
@pytest.mark.deviation("the client retransmits its SYN about 2 jiffies after the RST, not after "
                       "the 1 s initial RTO")
@pytest.mark.sysctl(client={PORT_RANGE: "40000 40000", TW_REUSE: 1})
def test_tw6_reuse_after_lost_final_ack(net):
    """TW6 reuse after a lost final ACK, risk 2 of tcp_tw_reuse (RFC 5961 4.2: a SYN in a
    synchronized state gets a challenge ACK; RFC 9293 3.10.7.3: SYN-SENT answers an
    unacceptable ACK with an RST at its ack number).

    Every final ACK of the client is lost (and the server's retransmitted FINs too, so
    nothing else reaches the client), so the server stays in LAST_ACK while the client,
    in TIME_WAIT, takes over the 4-tuple after tcp_tw_reuse_delay. The server answers the
    new SYN with a bare ACK of the old connection (TCPSYNChallenge counts it); the
    client, in SYN_SENT, answers that with an RST at the ACK's ack number, which closes
    the server's LAST_ACK socket; the client's SYN retransmission then opens the
    connection. A stack that took the SYN in LAST_ACK for a new connection would answer
    with a SYN-ACK; one that ignored the SYN would leave the client on its SYN retries.

    Deviation: the case was written expecting the SYN retransmission about 1 s (the initial RTO) after
    the first SYN. Linux re-arms the SYN timer to TCP_TIMEOUT_MIN (2 jiffies) when an
    unacceptable ACK reaches a SYN_SENT socket that has not retransmitted yet
    (tcp_rcv_synsent_state_process: "Previous FIN/ACK or RST/ACK might be ignored"), so
    the retransmission follows the RST at once. Seen on 6.18 (HZ 250): SYN, ACK, RST,
    then the retransmitted SYN 9 to 12 ms after the first, on IPv4 and IPv6; the case
    asserts it comes well before the initial RTO (under a quarter of it).
    """
    listener = net.server.listen(8080)
    old, old_conn = open_connection(net, listener)
    net.faults.drop(FINAL_ACK, sent_by="client")
    net.faults.drop(FIN | RETRANSMISSION, sent_by="server")
    close_first(net, old, old_conn)
    net.expect(old_conn).reaches(LAST_ACK)
    old_fin = first_segment(net, FIN, sent_by="client")
    tw_began = first_segment(net, FINAL_ACK, sent_by="client")

    delay = reuse_delay(net)
    attempts = connect_until_ok(net, listener, delay + tolerance(delay) + 0.5, timeout=5)
    syn = reused_after(net, tw_began.t_ms, delay, attempts[0])
    client = attempts[0]
    assert client.tuple == old.tuple

    reset = expect_old_ack_then_rst(net, syn, old_fin)
    net.expect_counter("server", "TcpExt.TCPSYNChallenge", at_least=1, at_most=1)
    net.expect(old_conn).passes(LAST_ACK, CLOSED)

    retry = first_segment(net, SYN | RETRANSMISSION, sent_by="client")
    after = (retry.t_ms - syn.t_ms) / 1000
    observe(net, "SYN retransmitted after", after, "s")
    assert retry.t_ms > reset.t_ms and after < INITIAL_RTO / 4, (
        f"expected: the SYN retransmitted right after the RST, under {INITIAL_RTO / 4:.3f} s after the "
        f"first; seen: {after:.3f} s after it")
    net.expect_segments(SYN_ACK, sent_by="server", count=2)  # the old connection's and this one
    conn = listener.accept()
    net.expect(conn).reaches(ESTABLISHED)
    net.expect(client).passes(SYN_SENT, ESTABLISHED)


def server_closes_first(net, local_port=40000):
    """A connection from a fixed client port that the server closes first: the server
    ends in TIME_WAIT, the client's socket is gone and its port free."""
    listener = net.server.listen(8080)
    client, conn = open_connection(net, listener, local_port=local_port)
    close_first(net, conn, client)
    net.expect(client).reaches(CLOSED)
    return listener, client, conn


def expect_time_wait_accepts_syn(net, old_server_fin):
    """The server answers the new SYN with a SYN-ACK whose ISN is the old connection's
    snd_nxt + 65537, i.e. the TIME_WAIT socket handed the SYN to the listener (Linux
    tcp_timewait_state_process, TCP_TW_SYN); nothing is reset or retried."""
    syn = last_segment(net, SYN, sent_by="client", not_role=RETRANSMISSION)
    answer = first_segment_after(net, syn, sent_by="server")
    isn = (old_server_fin.seq + 1 + TW_ISN_STEP) % 2**32
    assert answer.flags == "S." and answer.seq == isn, (
        f"expected: a SYN-ACK with ISN {isn} (old snd_nxt + {TW_ISN_STEP}); "
        f"seen: [{answer.flags}] seq {answer.seq} ack {answer.ack}")
    net.expect_no_segment(flags="R")
    net.expect_no_segment(SYN | RETRANSMISSION)


@pytest.mark.case("TW7", "server TIME_WAIT accepts a newer SYN",
                  ref="RFC 6191; RFC 9293 3.6.1; Linux tcp_timewait_state_process")
def test_tw7_server_time_wait_accepts_new_syn(net):
    """TW7 server-side TIME_WAIT and a new SYN (RFC 6191: a SYN with a newer timestamp,
    or a higher sequence number, may reopen a connection in TIME_WAIT).

    The server closes first and keeps the TIME_WAIT socket; the client reconnects from
    the same port. Its SYN carries a newer timestamp and a higher ISN, so the TIME_WAIT
    socket gives way: the SYN-ACK's ISN is the old snd_nxt + 65537 (the kernel's mark of
    a takeover, not a fresh ISN), and the connection opens with no RST and no retry.
    A stack that kept TIME_WAIT strictly would answer with an ACK for the old connection
    (or drop the SYN), and the client would open only after an RST and its SYN retry.
    """
    listener, client, conn = server_closes_first(net)
    net.expect(conn).reaches(TIME_WAIT)
    old_fin = first_segment(net, FIN, sent_by="server")

    again = net.client.connect(listener, local_port=40000)
    net.expect_ok(again.connect_result)
    assert again.tuple == client.tuple
    expect_time_wait_accepts_syn(net, old_fin)
    accepted = listener.accept()  # held: a Connection that Python drops closes its socket
    net.expect(accepted).reaches(ESTABLISHED)


@pytest.mark.case("TW7", "server TIME_WAIT accepts a SYN with a higher sequence number",
                  ref="RFC 9293 3.6.1; RFC 6191 2; Linux tcp_timewait_state_process")
@pytest.mark.sysctl(client={TIMESTAMPS: 0})
def test_tw7_without_timestamps_higher_isn_reopens(net):
    """TW7 without timestamps (RFC 9293 3.6.1, RFC 6191 2: with no timestamps, a SYN
    whose sequence number is above the TIME_WAIT connection's may reopen it).

    The client sends no timestamps, so only its ISN, which grows with the clock, tells
    its SYN apart from the old connection; it is above the old rcv_nxt and the
    server's TIME_WAIT socket gives way as with timestamps. A stack that required
    timestamps would answer with an ACK for the old connection.
    """
    listener, client, conn = server_closes_first(net)
    net.expect(conn).reaches(TIME_WAIT)
    old_fin = first_segment(net, FIN, sent_by="server")

    again = net.client.connect(listener, local_port=40000)
    net.expect_ok(again.connect_result)
    expect_time_wait_accepts_syn(net, old_fin)
    accepted = listener.accept()  # held: a Connection that Python drops closes its socket
    net.expect(accepted).reaches(ESTABLISHED)
