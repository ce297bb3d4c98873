"""Roles of the segments the middlebox repeats (harness/roles/roles.h): a copy keeps every role of
its original and is marked COPY, never RETRANSMISSION; an end's own stack answering a copy
sends a RETRANSMISSION. The marker shows in the ladder and the JSON timeline."""

import json

from tcpfault import (
    CLOSE_WAIT, CLOSED, COPY, DATA, FIN, FINAL_ACK, LAST_ACK, PURE_ACK, RETRANSMISSION, Host, Match, Roles,
)


def test_copy_is_a_role_like_the_others():
    assert str(COPY) == "COPY"
    assert Roles("FINAL_ACK|COPY") == FINAL_ACK | COPY
    assert str(Match(DATA, not_role=COPY)) == "DATA not COPY"


def test_a_duplicated_final_ack_is_the_final_ack_and_a_copy(net, connection):
    client, server = connection
    net.faults.duplicate(FINAL_ACK, sent_by="client", count=1)
    client.close()
    net.expect(server).reaches(CLOSE_WAIT)
    server.close()
    net.expect(server).passes(LAST_ACK, CLOSED)
    net.expect_segments(FINAL_ACK, count=2)

    original, copy = net.trace.segments(FINAL_ACK)
    assert original.sent_by == Host.CLIENT and original.roles == FINAL_ACK | PURE_ACK
    assert copy.sent_by == Host.MIDDLEBOX and copy.roles == FINAL_ACK | PURE_ACK | COPY
    net.expect_no_segment(RETRANSMISSION)  # nobody's stack sent anything again
    assert "PURE_ACK|FINAL_ACK|COPY ~~>" in net.ladder()
    roles = [e["roles"] for e in json.loads(net.trace.json())["events"] if e["type"] == "segment"]
    assert roles.count("PURE_ACK|FINAL_ACK|COPY") == 1


def test_the_stack_answering_a_copied_fin_retransmits_its_final_ack(net, connection):
    client, server = connection
    net.faults.duplicate(FIN, sent_by="server", count=1)
    client.close()
    net.expect(server).reaches(CLOSE_WAIT)
    server.close()
    net.expect_segments(FIN | COPY, sent_by="middlebox", count=1)
    net.expect_segments(FINAL_ACK, sent_by="client", count=2)
    first, again = net.trace.segments(FINAL_ACK, sent_by="client")
    assert RETRANSMISSION not in first.roles and RETRANSMISSION in again.roles


def test_a_copy_of_data_is_no_retransmission(net, connection):
    client, server = connection
    net.faults.duplicate(DATA, sent_by="client", count=1)
    client.send(b"once")
    assert server.recv_exactly(4).data == b"once"
    net.expect_segments(DATA | COPY, sent_by="middlebox", count=1)
    net.expect_no_segment(DATA | RETRANSMISSION)
