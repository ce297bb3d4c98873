"""The expectation API's finer tools from Python: since= (segments after a point), nth= (the
n-th matching segment), and Rule.released() (a held segment has gone)."""

import socket

import pytest

import tcpfault
from tcpfault import CLOSE_WAIT, DATA, ESTABLISHED, FIN, RETRANSMISSION, SYN, Match


def sends(net, client, server, *parts):
    client.set_option(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1, "TCP_NODELAY")  # one send, one segment
    for part in parts:
        net.expect_ok(client.send(part))
        assert server.recv_exactly(len(part)).data == part


# ---- since= ----

def test_no_segment_since_a_segment(net, connection):
    client, server = connection
    sends(net, client, server, b"first")
    mark = net.trace.segments(DATA, sent_by="client")[-1]
    net.expect_no_segment(DATA, sent_by="client", since=mark)
    sends(net, client, server, b"second")
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_no_segment(DATA, sent_by="client", since=mark)
    first = str(failure.value).splitlines()[0]
    assert first.startswith("expectation failed: no DATA from client since segment #"), first
    assert "seen:     1 (at" in str(failure.value)


def test_no_segment_since_a_transition_or_a_call(net, connection):
    client, server = connection
    sends(net, client, server, b"data")
    established = net.trace.transitions(client)[-1]
    assert established.new == ESTABLISHED
    with pytest.raises(tcpfault.ExpectationFailed):
        net.expect_no_segment(DATA, since=established)
    net.expect_ok(client.close())
    net.expect(server).reaches(CLOSE_WAIT)
    closed = [c for c in net.trace.calls() if c.call == "close()"][-1]
    net.expect_no_segment(DATA, since=closed, during=0.1)


def test_since_takes_trace_events_only(net):
    with pytest.raises(TypeError, match="since takes a Segment"):
        net.expect_no_segment(DATA, since=1.5)


# ---- nth= ----

def test_nth_matching_segment(net, connection):
    client, server = connection
    sends(net, client, server, b"one", b"two", b"three")
    assert str(Match(DATA, sent_by="client", nth=3)) == "3rd DATA from client"
    third, = net.trace.segments(DATA, sent_by="client", not_role=RETRANSMISSION, nth=3)
    assert third.payload == b"three"
    net.expect_segments(DATA, sent_by="client", nth=2, count=1)
    net.expect_no_segment(DATA, sent_by="client", not_role=RETRANSMISSION, nth=4)
    client.close()
    net.expect(server).reaches(CLOSE_WAIT)
    net.expect(client).stays(tcpfault.FIN_WAIT1, until=Match(tcpfault.PURE_ACK, sent_by="server", nth=4))


def test_nth_is_checked_and_is_not_a_rules(net):
    with pytest.raises(ValueError, match=r"nth \(from 1\) must be"):
        Match(DATA, nth=0)
    with pytest.raises(tcpfault.Error, match="a rule's match takes no nth"):
        net.faults.drop(Match(DATA, nth=2))
    rule = net.faults.drop(DATA, nth=2, count=1)  # the rule's own occurrence, as before
    assert "from the 2nd occurrence" in rule.label


# ---- Rule.released ----

def test_released_waits_for_the_held_segment(net, connection):
    client, server = connection
    held = net.faults.hold(DATA, sent_by="client", until=Match(FIN, sent_by="client"), count=1)
    net.expect_ok(client.send(b"held"))
    net.expect_segments(DATA, sent_by="client", nth=1, count=1)
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        held.released(within=0.2)
    assert "seen:     still held since +" in str(failure.value)
    client.close()
    segment = held.released(within=3)
    assert segment.payload == b"held" and segment.released_ms >= segment.t_ms
    assert "let go after" in segment.fate


def test_released_is_for_rules_that_hold(net):
    rule = net.faults.drop(SYN)
    with pytest.raises(tcpfault.Error, match="never keeps a segment back") as failure:
        rule.released(within=0.1)
    assert not isinstance(failure.value, tcpfault.ExpectationFailed)
