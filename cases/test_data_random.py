"""DT: the data path under random faults (DT5 of the catalogue, docs/cases.md)."""

import collections

import pytest

import tcpfault
from tcpfault.casekit import bulk_bytes, bulk_timeout, open_connection

SEED = 7               # the fault schedule's seed
PATTERN_SEED = 1       # the transferred bytes' seed
SIZE = 10_000_000      # bytes
CHANCE = 0.05          # of each fault, per segment
FAULTS = ("drop", "delay", "duplicate", "reorder")
# A lost retransmission, or the ACK it brings lost, doubles the sender's RTO each time,
# so the transfer's length has a long tail: slow is not a failure, stuck is. Against a
# receiver without SACK or timestamps (lwIP) the tail is long: after a timeout the Linux
# sender resends the window, and one loss among those resends means another timeout with
# the RTO doubled again, with no RTT sample to reset it until new data is acknowledged
# (Karn's rule, RFC 6298 5.5). Measured: RTO chains of 0.85, 1.7, 3.3 and 6.6 s, a 13 s
# stall in a 30 s transfer, transfers of over 60 s in all in CI, and once a chain up to
# 53 s whose next retransmission was lost too: 130 s with no byte moving while the sender
# kept trying. So the transfer counts a segment the middlebox lost as movement (the wait
# after it is the sender's timer): nothing moving or lost for longer than the longest RTO
# (Linux's TCP_RTO_MAX, 120 s; RFC 6298 2.5 lets a stack cap it anywhere from 60 s) is
# stuck, as is a receiver that stops answering, and fails after STALL seconds of that;
# TIMEOUT bounds the whole.
STALL = 130
TIMEOUT = 600
# The schedule check's second transfer: its first thousand-odd draws are as telling as ten
# thousand, and on a slow stack (lwIP: 14-37 s per 10 MB here) the whole size doubled the case.
AGAIN_SIZE = 1_000_000


def random_transfer(net, seed, size=SIZE):
    """Opens a connection, puts the random rule on every segment of it (both directions),
    sends `size` checked bytes from the client (less under tcpfault explore's
    --transfer-bytes, and given up after at most its --transfer-timeout), then takes the
    rule away and closes the connection after its faults (close_after_the_faults);
    returns (what the rule drew: drawn(), report)."""
    listener, client, server = open_connection(net)
    rule = net.faults.random(None, drop=CHANCE, delay=CHANCE, duplicate=CHANCE, reorder=CHANCE, seed=seed)
    report = net.transfer(client, server, bulk_bytes(size), seed=PATTERN_SEED,
                          timeout=bulk_timeout(TIMEOUT), stall_timeout=STALL)
    draws = drawn(rule)
    net.faults.remove(rule)
    close_after_the_faults(net, report, listener, client, server)
    return draws, report


def close_after_the_faults(net, report, listener, client, server):
    """Closes the ends once the server has acknowledged the client's FIN (the client in
    FIN_WAIT2), the faults gone: what they left behind (a resent segment the server
    already has, one they still held) then meets a server still open, and the close goes
    the same way on every run whatever the draws. Closed at once, such a segment reached
    a closed server on some runs, and its RST ended the client's TIME_WAIT. A transfer
    that never reached EOF closes at once: its report says what went wrong."""
    if report.eof:
        net.expect(client).reaches(tcpfault.FIN_WAIT2, within=STALL)
    for end in (listener, client, server):
        end.close()


def drawn(rule):
    """(how many segments the rule matched, {ordinal: fault} for what it did to them): read
    before the rule is removed. Counts first: the log read after them holds every draw up
    to those counts (more segments may still come, the connections are alive)."""
    matched = rule.matched
    return matched, {d.ordinal: d.action for d in rule.log if d.ordinal <= matched}


def expect_same_schedule(net, first, second):
    """Two runs' rules (drawn()) did the same thing to the nth segment they matched, for
    every n both saw. The runs' timing differs (retransmissions, ACKs), so the segments
    behind an ordinal may differ, and the run that matched more segments has a longer log."""
    (first_matched, a), (second_matched, b) = first, second
    common = min(first_matched, second_matched)
    diff = [n for n in range(1, common + 1) if a.get(n, "pass") != b.get(n, "pass")]
    if not diff:
        return
    n = diff[0]
    summary = "the same seed gives the same fault schedule"
    net.trace.note("expectation failed: " + summary)
    raise tcpfault.ExpectationFailed(
        f"expectation failed: {summary}\n"
        f"  expected: the same fault for each of the first {common} matched segments\n"
        f"  seen:     {len(diff)} differ; first at matched segment {n}: {a.get(n, 'pass')} vs {b.get(n, 'pass')}\n"
        + net.ladder(max_rows=200)
    )


def expect_fault_mix(net, draws):
    """Each fault was drawn for about CHANCE of the matched segments (within half of it:
    the counts are ~500 +- 22 for 10k segments)."""
    matched, faults = draws
    counts = collections.Counter(faults.values())
    want = CHANCE * matched
    off = {f: counts[f] for f in FAULTS if not 0.5 * want <= counts[f] <= 1.5 * want}
    if off:
        raise tcpfault.ExpectationFailed(
            "expectation failed: each fault comes about for 5 % of the segments\n"
            f"  expected: about {want:.0f} of each among {matched} matched segments\n"
            f"  seen:     {dict(counts)}\n" + net.ladder(max_rows=200)
        )


@pytest.mark.case("DT5", "integrity under seeded random faults",
                  ref="RFC 9293 3.4 and 3.10.7.4 (sequence numbers: in-order, duplicate-free delivery); "
                      "RFC 6298 (retransmission)")
def test_dt5_integrity_under_random_faults(net, net_factory):
    """DT5 integrity under random faults.

    A 10 MB transfer (the seeded byte pattern, checked as it arrives) crosses a
    middlebox that drops, delays (20 ms), duplicates and reorders (held until two later
    segments of the same sender passed) 5 % of the segments each, in both directions,
    with a fixed seed. TCP's sequence numbers, retransmissions and duplicate detection
    must deliver exactly the bytes sent, in order, then EOF. The faults end with the
    transfer: once the server has acknowledged the client's FIN, the connection closes
    without them. A 1 MB transfer in a second topology (the same target) with the same
    seed must get the same fault schedule for the segments both matched: the draw for
    the nth matched segment depends on (seed, n) only.

    A broken stack would show a byte wrong, missing or repeated at some offset (a
    duplicate delivered twice, a hole skipped), or no EOF; a broken schedule (time or
    state in the draw) a different fault for some segment number. A transfer may be
    slow (a lost retransmission backs the timer off) but not stuck: it fails when for
    130 s no byte moved and the middlebox lost no segment of it (longer than Linux's
    largest RTO), or after 10 minutes in all.
    """
    first, report = random_transfer(net, SEED)
    net.expect_intact(report)
    expect_fault_mix(net, first)
    assert any(f"seed {SEED}" in note for note in net.trace.notes()), "the trace records the seed"

    with net_factory("again") as again:
        second, report_again = random_transfer(again, SEED, size=AGAIN_SIZE)
        again.expect_intact(report_again)
        expect_same_schedule(net, first, second)
        again.expect_no_undecided_drops()
