"""Verdict power of DT5: a corrupted byte must fail the integrity check at its offset,
and another seed must fail the same-schedule check."""

import importlib.util
import pathlib

import pytest

import tcpfault
from tcpfault import DATA, RETRANSMISSION
from tcpfault.casekit import assert_reports


def _case_module():
    """The case's own helpers, loaded from its file (controls/ is not a package)."""
    path = pathlib.Path(__file__).resolve().parents[1] / "test_data_random.py"
    spec = importlib.util.spec_from_file_location("data_random_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_case = _case_module()
PATTERN_SEED, SEED = _case.PATTERN_SEED, _case.SEED
expect_same_schedule, random_transfer = _case.expect_same_schedule, _case.random_transfer


def test_dt5_a_byte_changed_in_flight_fails_the_case(net):
    """The random faults and one payload byte XORed with 0xff on the client's 100th data
    segment (checksum fixed, so the kernel takes it): the transfer is not intact, and the
    failure names a wrong byte where that segment's byte 10 is in the stream.

    The 100th first transmission, not the 100th data segment: under the random faults
    that one is sometimes a retransmission of bytes the server already has, and a
    receiver discards a duplicate whatever its bytes say."""
    net.faults.modify(DATA, sent_by="client", not_role=RETRANSMISSION, nth=100, count=1, xor_payload=(10, b"\xff"))
    _, report = random_transfer(net, SEED, size=2_000_000)
    changed = [s for s in net.trace.segments(DATA, sent_by="client") if s.fate.startswith("rewritten")]
    assert len(changed) == 1
    isn = net.trace.segments("SYN", sent_by="client")[0].seq
    offset = (changed[0].seq - isn - 1) % 2**32 + 10
    assert report.first_bad is not None and report.first_bad.kind == "wrong", report
    assert report.first_bad.offset == offset, report
    assert report.first_bad.seen[:1] == bytes([tcpfault.pattern(PATTERN_SEED, offset, 1)[0] ^ 0xFF])
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_intact(report)
    assert_reports(failure, net, "expected: 2000000 bytes of the pattern (seed 1) in order, then EOF",
                   f"seen:     1 byte wrong at offset {offset}: expected ")


def test_dt5_another_seed_fails_the_same_schedule_check(net, net_factory):
    """Seeds 7 and 8 draw different faults: the schedule comparison must say where."""
    draws, _ = random_transfer(net, SEED, size=1_000_000)
    with net_factory("other-seed") as other:
        draws_other, _ = random_transfer(other, SEED + 1, size=1_000_000)
        with pytest.raises(tcpfault.ExpectationFailed) as failure:
            expect_same_schedule(net, draws, draws_other)
    assert_reports(failure, net, "expected: the same fault for each of the first",
                   "seen:     ", "first at matched segment")
