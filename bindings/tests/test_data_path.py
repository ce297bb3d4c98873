"""The data path from Python: a queue overflow is counted and reported, a transfer where
nothing moves ends at its stall timeout, a random rule's log is the same for the same
seed, the pattern tells wrong, missing and repeated bytes apart."""

import pytest

import tcpfault
from tcpfault import DATA, _tcpfault


def open_connection(net):
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    return client, listener.accept()


def test_a_queue_overflow_is_counted_noted_and_fails_the_check():
    with tcpfault.Scenario(family=4, name="overflow", queue_max_len=4) as net:
        client, server = open_connection(net)
        # The first flight waits at the middlebox: 4 packets fill the queue, the kernel
        # drops the rest without asking.
        net.faults.delay(DATA, sent_by="client", by=0.3, count=10)
        report = net.transfer(client, server, 300_000, timeout=20)
        net.expect_intact(report)  # TCP repairs the loss
        stats = net.faults.stats
        assert stats.queue_dropped > 0 and stats.undecided_drops == stats.queue_dropped + stats.user_dropped
        assert any("queue was full" in note for note in net.trace.notes())
        with pytest.raises(tcpfault.ExpectationFailed, match=r"dropped with the queue full \(queue_max_len 4\)"):
            net.expect_no_undecided_drops()


def test_a_transfer_where_nothing_moves_ends_at_its_stall_timeout():
    with tcpfault.Scenario(family=4, name="stalled") as net:
        client, server = open_connection(net)
        net.faults.drop(DATA, sent_by="client")  # no byte ever arrives
        report = net.transfer(client, server, 50_000_000, timeout=120, stall_timeout=1)
        assert report.stalled and not report.deadline_passed and not report.intact, str(report)
        # the client's losses, 0.2, 0.4 and 0.8 s apart, kept it going; the first wait longer
        # than the stall timeout ended it
        assert 1.5 < report.duration < 60, str(report)
        with pytest.raises(tcpfault.ExpectationFailed,
                           match=r"nothing moved, and the middlebox lost none of its segments, "
                                 r"for 1\.0 s \(the stall timeout\)"):
            net.expect_intact(report)


def test_the_same_seed_logs_the_same_draws():
    logs = []
    for _ in range(2):
        with tcpfault.Scenario(family=4, name="seeded") as net:
            client, server = open_connection(net)
            rule = net.faults.random(DATA, sent_by="client", drop=0.1, duplicate=0.1, seed=11)
            net.expect_intact(net.transfer(client, server, 500_000))
            matched = rule.matched
            logs.append((matched, {d.ordinal: d.action for d in rule.log if d.ordinal <= matched}))
    common = min(logs[0][0], logs[1][0])
    first, second = ({n: a for n, a in log.items() if n <= common} for _, log in logs)
    assert first == second and first


def test_an_explore_variation_draws_another_sequence_for_the_same_seed_in_every_scenario():
    """What tcpfault explore sets for a clean run's repeat: every random rule made while it
    is set (the test's second topology too) draws sequence 1 of its seed, and says so."""
    def draws(variation):
        _tcpfault._set_random_variation(variation)
        try:
            with tcpfault.Scenario(family=4, name="varied") as net:
                client, server = open_connection(net)
                rule = net.faults.random(DATA, sent_by="client", drop=0.1, duplicate=0.1, seed=11)
                net.expect_intact(net.transfer(client, server, 300_000))
                notes = [n for n in net.trace.notes() if "random (seed 11" in n]
                matched = rule.matched
                return {d.ordinal: d.action for d in rule.log if d.ordinal <= matched}, matched, notes
        finally:
            _tcpfault._set_random_variation(0)

    own, own_matched, own_notes = draws(0)
    varied, varied_matched, varied_notes = draws(1)
    again, again_matched, _ = draws(1)
    assert any("random (seed 11):" in n for n in own_notes), own_notes
    assert any("random (seed 11, variation 1):" in n for n in varied_notes), varied_notes
    common = min(own_matched, varied_matched, again_matched)
    first = {n: a for n, a in varied.items() if n <= common}
    assert first == {n: a for n, a in again.items() if n <= common} and first
    assert first != {n: a for n, a in own.items() if n <= common}


@pytest.mark.parametrize("change, kind, offset, count", [
    (lambda b: b[:500] + bytes([b[500] ^ 1]) + b[501:], "wrong", 500, 1),
    (lambda b: b[:500] + b[501:], "missing", 500, 1),
    (lambda b: b[:500] + b[499:], "repeated", 500, 1),
])
def test_the_pattern_classifies_a_changed_stream(change, kind, offset, count):
    sent = tcpfault.pattern(1, 0, 4000)
    assert sent[499] != sent[500] and sent[500] != sent[501]  # no ambiguity at the edit
    bad = tcpfault.check_stream(1, 4000, change(sent))
    assert (bad.kind, bad.offset, bad.count) == (kind, offset, count), str(bad)
    assert tcpfault.check_stream(1, 4000, sent) is None
