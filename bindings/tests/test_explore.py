"""tcpfault explore's pure parts: naming a conversation's segments, the fault registry and
the enumeration, the oracle's rules, normalising and grouping, reproducers' expectations,
the report. (test_explore_run.py runs the command itself.)"""

import json
import types

import pytest

from tcpfault.explore import (conversation, differential, expectations, faults, oracle, plugin, races, replay, report,
                              reproducer, variants)


def segment(n, sender, roles, flags=".", payload=0, t=None, to=None, delivered=None, seq=None, connection=None):
    event = {"type": "segment", "id": n, "from": sender, "to": to or ("server" if sender == "client" else "client"),
             "flags": flags, "payload_len": payload, "roles": roles, "t_ms": float(t if t is not None else n),
             "delivered_ms": float(delivered if delivered is not None else (t if t is not None else n) + 0.1)}
    if seq is not None:
        event.update(seq=seq, connection=1 if connection is None else connection)
    return event


# CL2's conversation as the kernel has it: the case drops the final ACK, the server retransmits its FIN.
# The client's ISN is 1000, the server's 5000.
CL2 = [segment(1, "client", "SYN", "S", seq=1000), segment(2, "server", "SYN_ACK", "S.", seq=5000),
       segment(3, "client", "HANDSHAKE_ACK|PURE_ACK", seq=1001), segment(4, "client", "FIN", "F.", seq=1001),
       segment(5, "server", "PURE_ACK|ACK_OF_FIN", seq=5001), segment(6, "server", "FIN", "F.", seq=5001),
       segment(7, "client", "PURE_ACK|FINAL_ACK", seq=1002), segment(8, "server", "FIN|RETRANSMISSION", "F.", seq=5001),
       segment(9, "client", "PURE_ACK|FINAL_ACK|RETRANSMISSION", seq=1002),
       segment(10, "middlebox", "FIN|COPY", "F.", seq=5001)]


def test_segments_are_named_by_sender_primary_role_and_ordinal():
    conv = conversation.from_events(CL2)
    assert [p.name for p in conv.points] == [
        "client SYN #1", "server SYN_ACK #1", "client HANDSHAKE_ACK #1", "client FIN #1", "server ACK_OF_FIN #1",
        "server FIN #1", "client FINAL_ACK #1"]
    assert conv.segments == 9 and conv.retransmissions == 2  # the middlebox's copy is no stack's segment
    final_ack = conv.points[-1]
    assert final_ack.key == "client.FINAL_ACK.1" and final_ack.receiver == "server"
    assert not final_ack.has_later_from_sender or final_ack.segment_id < 9


def test_the_ordinal_counts_what_a_rule_counts():
    # The second pure ACK of the client is its PURE_ACK #2 although its first was the handshake's.
    events = [segment(1, "client", "HANDSHAKE_ACK|PURE_ACK"), segment(2, "client", "PURE_ACK"),
              segment(3, "client", "DATA", "P.", 10), segment(4, "client", "DATA|RETRANSMISSION", "P.", 10),
              segment(5, "client", "DATA", "P.", 10)]
    points = conversation.from_events(events).points
    assert [p.name for p in points] == ["client HANDSHAKE_ACK #1", "client PURE_ACK #2", "client DATA #1",
                                        "client DATA #2"]
    assert points[-1].retransmissions_before == 1  # drop-k's second rule starts after it


def test_a_bulk_conversation_keeps_the_first_and_last_few_data_segments():
    events = [segment(i, "client", "DATA", "P.", 100) for i in range(1, 21)] + [segment(21, "client", "FIN", "F.")]
    conv = conversation.from_events(events, limit=3)
    kept = [p.name for p in conv.selected()]
    assert kept == ["client DATA #1", "client DATA #2", "client DATA #3", "client DATA #18", "client DATA #19",
                    "client DATA #20", "client FIN #1"]
    assert len(conv.left_out) == 14
    assert len(conversation.from_events(events, limit=0).selected()) == 21
    # Any role a sender repeats: the RSTs a kernel answers late duplicates with.
    rsts = [segment(i, "server", "RST", "R") for i in range(1, 11)]
    assert [p.ordinal for p in conversation.from_events(rsts, limit=2).selected()] == [1, 2, 9, 10]


def test_enumeration_is_deterministic_and_faults_apply_where_they_can():
    conv = conversation.from_events(CL2)
    ids = [v.id for v in variants.enumerate_variants(conv, faults.names())]
    assert ids == [v.id for v in variants.enumerate_variants(conversation.from_events(CL2), faults.names())]
    assert ids[0] == "clean"
    assert "drop@client.SYN.1" in ids and "rst@client.SYN.1" not in ids and "syn@server.SYN_ACK.1" not in ids
    assert "syn@client.FIN.1" in ids and "rst@server.SYN_ACK.1" in ids
    assert "swap@client.FINAL_ACK.1" in ids  # the client sends again after it (its retransmission)
    # 7 points x 8 faults, less rst on the SYN and syn on the SYN and SYN-ACK
    assert len(ids) == 1 + 7 * 8 - 3


def test_a_fault_becomes_rules_on_exactly_that_segment():
    conv = conversation.from_events(CL2)
    server_fin = next(p for p in conv.points if p.name == "server FIN #1")
    drop_k = variants.single(server_fin, faults.REGISTRY["drop-k"], {"drop_k": 2})
    assert drop_k.id == "drop-k@server.FIN.1"
    first, again = drop_k.rules
    assert first == {"action": "drop", "match": {"role": "FIN", "sent_by": "server", "not_role": "RETRANSMISSION"},
                     "nth": 1, "count": 1, "primary": True}
    assert again["match"] == {"role": "FIN|RETRANSMISSION", "sent_by": "server", "relative_seq": 1}
    assert again["nth"] == 1 and again["count"] == 2
    # drop-k acted when its first drop did, whether or not a retransmission came to drop
    assert again["primary"] is False
    applied = lambda n: types.SimpleNamespace(applied=n)  # noqa: E731
    assert plugin.acted({"rules": [(first, applied(1)), (again, applied(0))]}) is True
    assert plugin.acted({"rules": [(first, applied(0)), (again, applied(0))]}) is False
    rst = variants.single(server_fin, faults.REGISTRY["rst"], {})
    assert rst.rules[0]["action"] == "inject_on" and rst.rules[0]["toward"] == "client"


def test_drop_k_follows_only_the_retransmissions_of_its_own_segment():
    # The client's first two data segments are both retransmitted; drop-k on the second must
    # not take the first one's retransmission (sent before its own) for one of its own.
    events = [segment(1, "client", "SYN", "S", seq=1000), segment(2, "server", "SYN_ACK", "S.", seq=5000),
              segment(3, "client", "HANDSHAKE_ACK|PURE_ACK", seq=1001),
              segment(4, "client", "DATA", "P.", 100, seq=1001), segment(5, "client", "DATA", "P.", 100, seq=1101),
              segment(6, "client", "DATA|RETRANSMISSION", "P.", 100, seq=1001),
              segment(7, "client", "DATA|RETRANSMISSION", "P.", 100, seq=1101)]
    second = conversation.from_events(events).points[-1]
    assert second.name == "client DATA #2"
    _, again = variants.single(second, faults.REGISTRY["drop-k"], {"drop_k": 3}).rules
    assert again["match"] == {"role": "DATA|RETRANSMISSION", "sent_by": "client", "relative_seq": 101}
    assert again["nth"] == 1 and again["count"] == 3 and again["primary"] is False
    # As the plugin hands it to the engine.
    assert str(replay._match(again["match"])) == "DATA|RETRANSMISSION seq 101 from client"


def test_relative_sequence_numbers_count_from_each_connections_syn():
    # A second connection on a new ISN: its segments count from its own SYN, and drop-k on its
    # SYN skips the first connection's SYN retransmission (the same relative 0).
    events = [segment(1, "client", "SYN", "S", seq=1000, connection=1),
              segment(2, "client", "SYN|RETRANSMISSION", "S", seq=1000, connection=1),
              segment(3, "server", "SYN_ACK", "S.", seq=5000, connection=1),
              segment(4, "client", "FIN", "F.", seq=1001, connection=1),
              segment(5, "client", "SYN", "S", seq=4294967000, connection=2),
              segment(6, "client", "DATA", "P.", 500, seq=4294967001, connection=2),
              segment(7, "client", "FIN", "F.", seq=205, connection=2)]
    points = {p.name: p for p in conversation.from_events(events).points}
    assert points["client FIN #1"].relative_seq == 1
    assert points["client DATA #1"].relative_seq == 1
    assert points["client FIN #2"].relative_seq == 501  # across 2^32
    syn = points["client SYN #2"]
    assert syn.relative_seq == 0 and syn.retransmissions_before == 1
    _, again = variants.single(syn, faults.REGISTRY["drop-k"], {}).rules
    assert again["nth"] == 2 and again["match"]["relative_seq"] == 0


def test_drop_k_without_a_known_sequence_number_is_one_drop():
    # An RST on no connection the middlebox knows: no SYN of its sender to count from.
    rst = conversation.from_events([segment(1, "server", "RST", "R", seq=777, connection=0)]).points[0]
    assert rst.relative_seq is None
    assert [r["action"] for r in variants.single(rst, faults.REGISTRY["drop-k"], {}).rules] == ["drop"]


def test_pairs_are_sampled_with_the_seed():
    ones = variants.singles(conversation.from_events(CL2), ["drop", "duplicate"])
    a, b = variants.pairs(ones, 5, seed=7), variants.pairs(ones, 5, seed=7)
    assert [v.id for v in a] == [v.id for v in b] and len(a) == 5
    assert [v.id for v in variants.pairs(ones, 5, seed=8)] != [v.id for v in a]
    assert all(v.points[0] != v.points[1] and len(v.rules) == 2 for v in a)
    assert len(variants.pairs(ones, 10_000, seed=1)) == sum(
        1 for i, x in enumerate(ones) for y in ones[i + 1:] if x.points != y.points)


def test_fault_names_are_checked():
    assert faults.parse("all") == faults.names()
    assert faults.parse("rst,drop") == ["drop", "rst"]  # the registry's order
    with pytest.raises(ValueError, match="unknown fault bogus; choose among drop, drop-k"):
        faults.parse("drop,bogus")


def test_a_fault_registered_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        faults.register(faults.REGISTRY["drop"])


# ---- the oracle ----

def record(**fields):
    base = {"variant": "drop@server.FIN.1", "outcome": "passed", "failure": "", "acted": True, "calls": [],
            "ends": [], "settled_s": 0.0, "settle_limit_s": 5.0, "sent_while_settling": {"client": 0, "server": 0},
            "wire": {"unexplained": 0}, "kinds": {}}
    return {**base, **fields}


def call(host, name, result, err=""):
    return {"host": host, "call": f"{name}(3)", "result": result, "errno": err}


def test_bytes_lost_silently_or_delivered_twice_are_violations():
    lost = record(calls=[call("client", "send", 6), call("server", "recv", 3), call("server", "recv", 0)])
    assert oracle.check_bytes(lost, []) == [
        "server read end-of-file after 3 of the 6 bytes client sent, and no call reported an error: bytes lost silently"]
    told = record(calls=lost["calls"] + [call("client", "send", -1, "ECONNRESET")])
    assert oracle.check_bytes(told, []) == []
    twice = record(calls=[call("client", "send", 3), call("server", "recv_exactly", 6)])
    assert "delivered twice" in oracle.check_bytes(twice, [])[0]
    assert oracle.check_bytes(record(calls=[call("client", "send", 3), call("server", "recv", 3)]), []) == []


def end(host, state):
    return {"end": host, "host": host, "local": "198.18.0.1:1", "remote": "198.18.0.2:2", "state": state}


def test_an_end_silent_in_a_retransmitting_state_is_stuck():
    stuck = record(ends=[end("server", "LAST_ACK")], settled_s=5.0)
    assert oracle.check_rest(stuck, []) == [
        "server 198.18.0.1:1 stuck in LAST_ACK: nothing sent in the 5 s settle, though its retransmission timer "
        "should have fired"]
    retrying = record(ends=[end("server", "LAST_ACK")], settled_s=5.0, sent_while_settling={"server": 2})
    assert oracle.check_rest(retrying, []) == []
    waiting = record(ends=[end("client", "FIN_WAIT2")], settled_s=0.0)
    assert oracle.check_rest(waiting, []) == [] and oracle.pending(waiting, []) == ["client in FIN_WAIT2"]
    assert oracle.check_rest(record(ends=[end("client", "TIME_WAIT"), end("server", "CLOSE_WAIT")]), []) == []


def test_the_rest_budget_follows_the_backoff_the_end_showed():
    # lwIP's FIN: sent at 0, again at 3 s and 9 s (RTO 3 s, doubled): 6 s between the last two.
    events = [segment(1, "client", "FIN", "F.", t=0), segment(2, "client", "FIN|RETRANSMISSION", "F.", t=3000),
              segment(3, "client", "FIN|RETRANSMISSION", "F.", t=9000)]
    assert oracle.backoff_gap_ms(events, "client") == 6000
    assert oracle.backoff_gap_ms(events[:2], "client") == 3000
    assert oracle.backoff_gap_ms(events[:1], "client") is None
    closing = [end("client", "CLOSING")]
    due_later = record(ends=closing, settled_s=5.0, settle_end_ms=20000.0)   # 11 s silent, 12 s next due
    assert oracle.check_rest(due_later, events) == [] and oracle.pending(due_later, events) == ["client in CLOSING"]
    overdue = record(ends=closing, settled_s=5.0, settle_end_ms=30000.0)    # 21 s silent > 2.5 x 6 s
    assert oracle.check_rest(overdue, events) == [
        "client 198.18.0.1:1 stuck in CLOSING: silent 21.0 s, though its backoff had reached 6.0 s between "
        "retransmissions"]
    assert oracle.pending(overdue, events) == []


def test_an_unexplained_state_disagreement_is_a_violation():
    text = "connection 1\n  unexplained: no rule explains the kernel's FIN_WAIT1 -> CLOSED"
    found = oracle.check_states(record(wire={"unexplained": 1, "text": text}), [])
    assert found == ["1 step(s) of the stacks' states disagree with the wire, no known cause: unexplained: no rule "
                     "explains the kernel's FIN_WAIT1 -> CLOSED"]


def transition(host, new, t):
    return {"type": "transition", "host": host, "local": "a:1", "remote": "b:2", "from": "X", "to": new, "t_ms": t}


def test_an_rst_in_answer_to_a_repeat_in_a_synchronized_state_is_flagged():
    copy = segment(5, "middlebox", "FIN|COPY", "F.", t=10, to="client", delivered=10.1)
    rst = segment(6, "client", "RST", "R", t=10.5)
    events = [transition("client", "TIME_WAIT", 9), copy, rst]
    assert oracle.check_rst(record(), events) == [
        "client sent an RST (segment #6) in TIME_WAIT in answer to segment #5 (FIN|COPY), a repeat it should "
        "acknowledge or ignore"]
    # No socket any more (the kernel kept no TIME_WAIT): an RST is what RFC 9293 asks for.
    assert oracle.check_rst(record(), [transition("client", "CLOSED", 9), copy, rst]) == []
    # Too late to be the answer to it.
    late = segment(6, "client", "RST", "R", t=200)
    assert oracle.check_rst(record(), [transition("client", "TIME_WAIT", 9), copy, late]) == []


def test_a_fault_that_never_acted_is_judged_by_nothing():
    assert oracle.judge(record(acted=False, ends=[end("server", "LAST_ACK")], settled_s=5.0), []) == []
    assert oracle.breaks(record(acted=False, outcome="failed", failure="x"), record()) == ""


def test_which_case_assertion_a_fault_breaks():
    clean = record(variant="clean")
    assert oracle.breaks(record(outcome="failed", failure="expectation failed: 2 x FIN"), clean) == \
        "expectation failed: 2 x FIN"
    assert oracle.breaks(record(), clean) == ""
    same = record(outcome="failed", failure="boom")
    assert oracle.breaks(same, {**clean, "outcome": "failed", "failure": "boom"}) == ""


def test_every_rule_says_its_rfc_basis():
    assert [r.name for r in oracle.RULES] == ["bytes", "rest", "states", "unsolicited-rst"]
    assert all("RFC" in r.basis for r in oracle.RULES)


# ---- the differential view ----

def test_normalised_outcomes_leave_out_addresses_and_raw_times():
    a = differential.normalise(record(ends=[end("client", "TIME_WAIT")], body_s=0.31, kinds={"server FIN": 1},
                                      calls=[call("client", "connect", -1, "ECONNREFUSED")]))
    assert a == {"verdict": "passed", "ends": ["client TIME_WAIT"], "errnos": ["client connect: ECONNREFUSED"],
                 "bytes": {"client": {"sent": 0, "received": 0}, "server": {"sent": 0, "received": 0}},
                 "segments": ["server FIN"], "timing": "+under 0.5 s"}
    assert differential.timing_class(3.2) == "2-10 s"
    # An end the test left ESTABLISHED closes with the others at once: TIME_WAIT or CLOSED
    # is which FIN went first, not the fault's doing.
    raced = record(ends=[end("client", "TIME_WAIT")], body_ends=[end("client", "ESTABLISHED")])
    assert differential.normalise(raced)["ends"] == ["client CLOSED or TIME_WAIT"]
    # Still closing when the settle ended: LAST_ACK after its FIN went second, CLOSING after
    # both went at once.
    for state in ("LAST_ACK", "CLOSING"):
        still = record(ends=[end("server", state)], body_ends=[end("server", "ESTABLISHED")])
        assert differential.normalise(still)["ends"] == ["server closing (FIN_WAIT1, CLOSING or LAST_ACK)"]
    closed_in_body = record(ends=[end("client", "TIME_WAIT")], body_ends=[end("client", "FIN_WAIT2")])
    assert differential.normalise(closed_in_body)["ends"] == ["client TIME_WAIT"]
    # Timing is what the fault cost against the target's clean run: a lost SYN's second
    # is the same class on a target whose clean run took 3 s as on one that took 0.1 s.
    slow_clean, fast_clean = record(body_s=3.0), record(body_s=0.1)
    assert differential.normalise(record(body_s=4.1), slow_clean)["timing"] == "+0.5-2 s"
    assert differential.normalise(record(body_s=1.2), fast_clean)["timing"] == "+0.5-2 s"
    assert differential.normalise(record(body_s=0.2), slow_clean)["timing"] == "-2-10 s"


def test_differences_leave_out_what_the_clean_run_shows_and_group_by_fault_and_role():
    def n(ends, verdict="passed"):
        return {"verdict": verdict, "ends": ends}
    outcomes = {
        "kernel": {"clean": n(["client TIME_WAIT"]), "drop@server.FIN.1": n(["client TIME_WAIT"]),
                   "drop@server.FIN.2": n(["client TIME_WAIT"], "failed"), "dup@x": n(["client TIME_WAIT"])},
        "lwip": {"clean": n(["client CLOSED"]), "drop@server.FIN.1": n(["client CLOSED"]),
                 "drop@server.FIN.2": n(["client CLOSED"]), "dup@x": n(["client CLOSED"], "failed")}}
    found = differential.compare(outcomes, ["kernel", "lwip"])
    assert set(found) == {"drop@server.FIN.2", "dup@x"}  # the ends differ as in the clean run: not the fault's
    assert found["drop@server.FIN.2"] == {"verdict": {"kernel": "failed", "lwip": "passed"}}
    listed = [{"id": "drop@server.FIN.1", "faults": ["drop"], "roles": ["server FIN"]},
              {"id": "drop@server.FIN.2", "faults": ["drop"], "roles": ["server FIN"]},
              {"id": "dup@x", "faults": ["duplicate"], "roles": ["client DATA"]}]
    groups = differential.group(found, listed)
    assert [(g["fault"], g["role"], g["representative"], g["variants"]) for g in groups] == [
        ("drop", "server FIN", "drop@server.FIN.2", ["drop@server.FIN.2"]),
        ("duplicate", "client DATA", "dup@x", ["dup@x"])]


def test_a_variant_whose_fault_met_another_kind_of_segment_on_each_target_is_not_compared():
    # DT5's "client PURE_ACK #3": the final ACK on the kernel, a plain ACK on lwIP.
    met = {"kernel": {"clean": None, "rst@client.PURE_ACK.3": ["client FINAL_ACK"],
                      "rst@client.PURE_ACK.2": ["client PURE_ACK"], "drop@server.FIN.1": [None]},
           "lwip": {"clean": None, "rst@client.PURE_ACK.3": ["client PURE_ACK"],
                    "rst@client.PURE_ACK.2": ["client PURE_ACK"], "drop@server.FIN.1": ["server FIN"]}}
    apart = differential.met_apart(met, ["kernel", "lwip"])
    assert apart == {"rst@client.PURE_ACK.3": {"kernel": ["client FINAL_ACK"], "lwip": ["client PURE_ACK"]}}
    n = {"verdict": "passed", "segments": ["client FINAL_ACK"]}
    outcomes = {"kernel": {"clean": n, "rst@client.PURE_ACK.3": {**n, "segments": []},
                           "rst@client.PURE_ACK.2": {**n, "segments": []}},
                "lwip": {"clean": n, "rst@client.PURE_ACK.3": n, "rst@client.PURE_ACK.2": n}}
    assert set(differential.compare(outcomes, ["kernel", "lwip"], apart=apart)) == {"rst@client.PURE_ACK.2"}
    assert set(differential.compare(outcomes, ["kernel", "lwip"])) == {"rst@client.PURE_ACK.2",
                                                                        "rst@client.PURE_ACK.3"}


# ---- reproducers and the report ----

def test_a_reproducer_expects_what_appeared_and_vanished_because_of_the_fault():
    clean = record(variant="clean", kinds={"server FIN": 1, "client FINAL_ACK": 1}, ends=[end("client", "TIME_WAIT")])
    run = record(outcome="failed", failure="expectation failed: 2 x FIN from server within 3000 ms",
                 kinds={"server FIN": 1, "server FIN RETRANSMISSION": 1}, ends=[end("client", "TIME_WAIT")])
    expected = expectations.expected(run, [clean])
    assert expected["must_see"] == ["server FIN RETRANSMISSION"] and expected["must_not_see"] == ["client FINAL_ACK"]
    assert "body_ends" not in expected  # as in the clean run: not the fault's doing
    reset = record(body_ends=[end("client", "CLOSED")], calls=[call("client", "recv", -1, "ECONNRESET")])
    assert expectations.expected(reset, [{**clean, "body_ends": [end("client", "ESTABLISHED")]}])["body_ends"] == [
        "client CLOSED"]
    assert expectations.expected(reset, [clean])["errnos"] == ["client recv: ECONNRESET"]
    assert expectations.tells_fault_apart(run, [clean])
    assert not expectations.tells_fault_apart(clean, [clean])
    assert reproducer.file_name("lwip", "drop-k@server.FIN.1") == "test_explore_lwip_drop_k_server_fin_1.py"


def test_a_reproducer_counts_kinds_to_the_settles_end_and_leaves_out_what_any_clean_run_did():
    # DT5 on the kernel: the server's FIN dropped; the test returned 60 ms later alone, before
    # the FIN went again (200 ms), and 300 ms later under the explorer's load, after it.
    clean = record(variant="clean", kinds={"server FIN": 1, "client FINAL_ACK": 1, "server RST": 1},
                   settled_kinds={"server FIN": 1, "client FINAL_ACK": 1, "server RST": 1})
    quiet_clean = record(variant="clean#2", kinds={"server FIN": 1, "client FINAL_ACK": 1},
                         settled_kinds={"server FIN": 1, "client FINAL_ACK": 1})
    recorded = record(outcome="passed", kinds={"server FIN": 1, "server FIN RETRANSMISSION": 1},
                      settled_kinds={"server FIN": 1, "server FIN RETRANSMISSION": 1, "client FINAL_ACK": 1})
    expected = expectations.expected(recorded, [clean, quiet_clean])
    # The final ACK came after the test returned: it did not vanish. One clean run's RSTs
    # (the case's random faults) are not the fault's to take away.
    assert expected["must_see"] == ["server FIN RETRANSMISSION"] and expected["must_not_see"] == []
    sooner = record(kinds={"server FIN": 1}, settled_kinds={"server FIN": 1, "server FIN RETRANSMISSION": 1})
    assert expectations.problems(expected, sooner, sooner) == []
    never = record(kinds={"server FIN": 1}, settled_kinds={"server FIN": 1, "client FINAL_ACK": 1})
    assert expectations.problems(expected, never, never) == ["no server FIN RETRANSMISSION sent (the fault's effect)"]
    # A kind every clean run sent during its test and the faulted run never sent must not appear.
    gone = expectations.expected(record(kinds={"server FIN": 1}, settled_kinds={"server FIN": 1}), [clean, quiet_clean])
    assert gone["must_not_see"] == ["client FINAL_ACK"]


def test_states_as_the_test_returned_are_compared_along_their_course():
    closing = {"client": ["ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "SYN_SENT", "TIME_WAIT"],
               "server": ["CLOSED", "CLOSE_WAIT", "ESTABLISHED", "LAST_ACK"]}
    recorded = ["client TIME_WAIT", "server CLOSED"]
    # A test that returned before the server's FIN went again: the same course, seen sooner.
    assert expectations.same_course(recorded, closing, ["client FIN_WAIT2", "server LAST_ACK"], closing)
    # An end the fault reset while the test held it open, or one that never reached the
    # recorded state, is another course.
    reset = {"client": ["CLOSED", "ESTABLISHED", "SYN_SENT"], "server": closing["server"]}
    assert not expectations.same_course(["client CLOSED", "server CLOSED"], reset, ["client ESTABLISHED", "server CLOSED"],
                                  closing)
    assert not expectations.same_course(recorded, closing, ["client FIN_WAIT2", "server LAST_ACK"],
                                  {**closing, "server": ["CLOSE_WAIT", "ESTABLISHED", "LAST_ACK"]})
    assert not expectations.same_course(recorded, None, ["client FIN_WAIT2", "server LAST_ACK"], closing)
    # A clean run on the same course makes the ends no fault's doing; one on another makes them expected.
    faulted = record(body_ends=[end("client", "TIME_WAIT"), end("server", "CLOSED")], passed=closing)
    slow_clean = record(variant="clean", body_ends=[end("client", "FIN_WAIT2"), end("server", "LAST_ACK")],
                        passed=closing)
    assert "body_ends" not in expectations.expected(faulted, [slow_clean])
    open_clean = record(variant="clean", body_ends=[end("client", "ESTABLISHED"), end("server", "ESTABLISHED")],
                        passed={"client": ["ESTABLISHED"], "server": ["ESTABLISHED"]})
    expected = expectations.expected(faulted, [open_clean])
    assert expected["body_ends"] == recorded and expected["passed"] == closing
    sooner = record(body_ends=[end("client", "FIN_WAIT2"), end("server", "LAST_ACK")], passed=closing)
    assert expectations.problems(expected, sooner, sooner) == []


def test_a_case_with_random_rules_of_its_own_is_seen_from_its_clean_timeline(tmp_path):
    from tcpfault.explore import command
    dt5 = tmp_path / "dt5.json"
    dt5.write_text(json.dumps({"rules": [{"id": 1, "label": "random (seed 7): drop 5%, delay 5% (20 ms) any segment"}]}))
    cl3 = tmp_path / "cl3.json"
    cl3.write_text(json.dumps({"rules": [{"id": 1, "label": "drop FIN from client (once)"}]}))
    assert command.draws_its_own_faults({"timeline": str(dt5)})
    assert not command.draws_its_own_faults({"timeline": str(cl3)})
    assert not command.draws_its_own_faults({"timeline": str(tmp_path / "gone.json")})
    assert not command.draws_its_own_faults(None)
    assert command.RANDOM_CASE_CLEAN_RUNS > command.DEFAULT_CLEAN_RUNS


def test_a_finding_makes_a_reproducer_only_when_its_second_run_meets_its_expectations():
    from tcpfault.explore import command
    clean = record(variant="clean", kinds={"server FIN": 1}, settled_kinds={"server FIN": 1})
    first = record(outcome="failed", failure="expectation failed: 1 x FIN within 3000 ms (seen 2)",
                   kinds={"server FIN": 1, "server FIN RETRANSMISSION": 1})
    again = record(outcome="failed", failure="expectation failed: 1 x FIN within 3000 ms (seen 3)",
                   kinds={"server FIN": 1}, settled_kinds={"server FIN": 1, "server FIN RETRANSMISSION": 2})
    assert command.same_again(first, [again], [clean]) == ""
    passed = record(kinds={"server FIN": 1}, settled_kinds={"server FIN": 1})
    assert command.same_again(first, [passed], [clean]).startswith("its run #2 differed: the case's test passed")
    assert command.same_again(first, [again, passed], [clean]).startswith("its run #3 differed")
    assert "did not run again" in command.same_again(first, [again, None], [clean])


def test_the_markdown_report_puts_violations_first_and_tables_segment_by_fault():
    result = {"outcome": "failed", "failure": "x", "acted": True, "breaks": "expectation failed: x",
              "violations": [], "pending": []}
    data = {"case": "CL2", "test": "test_close.py::test_cl2_final_ack_lost", "family": 4, "targets": ["kernel"],
            "faults": ["drop", "rst"], "pairs": 0, "seed": 0, "wall_s": 3.0,
            "summary": {"variants_run": 2, "violations": 1, "difference_groups": 0, "new_violations": 1,
                        "new_difference_groups": 0, "known_by_class": {}},
            "conversations": {"kernel": {"segments": 9, "points": ["server FIN #1"], "left_out": [], "limit": 3}},
            "not_run": [], "points": [{"name": "server FIN #1", "key": "server.FIN.1"}],
            "sight": {"kernel": {"acted": 2, "broke_the_case": 2, "unseen_violations": []}},
            "violations": [{"target": "kernel", "variant": "rst@server.FIN.1", "rule": "rest",
                            "what": "server stuck in LAST_ACK", "reproducer": "r.py", "also_clean": False}],
            "differences": [],
            "results": {"kernel": {"drop@server.FIN.1": result,
                                   "rst@server.FIN.1": {**result, "violations": [{"rule": "rest", "what": "w"}]}}}}
    text = report.markdown(data)
    assert text.index("## Violations") < text.index("## Differences") < text.index("## Segment x fault")
    assert "| kernel | `rst@server.FIN.1` | rest | server stuck in LAST_ACK | NEW | r.py |" in text
    assert "- 1 violations (1 new), 0 difference groups (0 new)." in text
    assert "| server FIN #1 | breaks | VIOLATION |" in text
    assert "- kernel: the case's assertions caught 2 of the 2 faults that acted; 0 broke an oracle rule" in text
    assert "- kernel `drop@server.FIN.1`: expectation failed: x" in text


def test_items_only_one_targets_clean_run_shows_are_left_out_of_list_fields():
    outcomes = {
        "kernel": {"clean": {"ends": ["client TIME_WAIT", "server listener CLOSED"]},
                   "rst@server.FIN.1": {"ends": ["client CLOSED", "server listener CLOSED"]},
                   "rst@client.FIN.1": {"ends": ["client CLOSED", "server listener CLOSED"]}},
        "lwip": {"clean": {"ends": ["client TIME_WAIT"]},
                 "rst@server.FIN.1": {"ends": ["client CLOSED"]},
                 "rst@client.FIN.1": {"ends": ["client FIN_WAIT2"]}}}
    found = differential.compare(outcomes, ["kernel", "lwip"])
    assert found == {"rst@client.FIN.1": {"ends": {"kernel": ["client CLOSED"], "lwip": ["client FIN_WAIT2"]}}}


def test_an_item_of_one_targets_clean_run_that_both_show_under_a_variant_is_no_difference():
    """DT5: the kernel's clean run ends with the client's RST and lwIP's does not; under a
    crafted RST both clients send one. Leaving it out of the kernel's list alone made
    "kernel lacks client RST, lwip has it" of two identical lists."""
    outcomes = {
        "kernel": {"clean": {"segments": ["client DATA", "client RST", "client FIN"]},
                   "rst@server.PURE_ACK.1": {"segments": ["client DATA", "client RST"]},
                   "drop@client.FIN.1": {"segments": ["client DATA", "client RST", "client FIN"]}},
        "lwip": {"clean": {"segments": ["client DATA", "client FIN"]},
                 "rst@server.PURE_ACK.1": {"segments": ["client DATA", "client RST"]},
                 "drop@client.FIN.1": {"segments": ["client DATA", "client FIN"]}}}
    found = differential.compare(outcomes, ["kernel", "lwip"])
    assert "rst@server.PURE_ACK.1" not in found, found
    assert "drop@client.FIN.1" not in found, found  # the kernel's own RST, as in its clean run


def test_a_difference_shows_what_each_target_has_or_lacks():
    values = {"kernel": ["client FIN", "server RST"], "lwip": ["client FIN"]}
    assert report.shown(values, "kernel") == "has server RST"
    assert report.shown(values, "lwip") == "lacks server RST"
    # Three targets: each differs from some other, none alone has anything.
    three = {"kernel": ["A"], "lwip": ["B"], "gvisor": ["A", "B"]}
    assert report.shown(three, "kernel") == "has A; lacks B"
    assert report.shown(three, "gvisor") == "has A, B"
    two_against_one = {"kernel": ["A"], "lwip": ["A"], "gvisor": []}
    assert report.shown(two_against_one, "kernel") == "has A"
    assert report.shown(two_against_one, "gvisor") == "lacks A"
    assert report.shown({"kernel": "passed", "lwip": "failed"}, "lwip") == "failed"


# ---- a kernel in a VM as a target ----

def test_a_vm_target_runs_its_variants_in_tcpfault_vm_on_the_guests_kernel():
    from tcpfault.explore import vm_target
    assert vm_target.is_vm("vm:6.1") and not vm_target.is_vm("kernel") and not vm_target.is_vm("lwip")
    assert vm_target.pytest_target("vm:6.1") == "kernel" and vm_target.pytest_target("lwip") == "lwip"
    line = vm_target.command("vm:6.1", ["case.py::test_x", "--tcpfault-target", "kernel"], "/tmp/out")
    at = line.index("vm")
    assert line[at:at + 4] == ["vm", "--kernel", "6.1", "--virtual-time"]
    assert line[line.index("--share") + 1] == "/tmp/out"
    assert line[line.index("--") + 1:] == ["pytest", "case.py::test_x", "--tcpfault-target", "kernel"]
    assert vm_target.run_line("vm:6.1", "t.py").startswith("tcpfault vm --kernel 6.1 --virtual-time -- pytest")
    assert vm_target.run_line("lwip", "t.py") == "pytest -p tcpfault.pytest_plugin --tcpfault-target lwip t.py"
    with pytest.raises(ValueError, match=r"--target vm:: name the kernel after vm:"):
        vm_target.check("vm:", say=print)


def test_a_reproducer_recorded_in_a_vm_runs_only_on_that_kernel(tmp_path):
    timeline = tmp_path / "run.json"
    timeline.write_text(json.dumps({"kernel": {"sysname": "Linux", "release": "6.1.0-99-amd64"}}))
    rec = record(timeline=str(timeline), kinds={"server FIN": 1}, body_ends=[])
    variant = {"id": "drop@server.FIN.1", "rules": [{"action": "drop", "match": {"role": "FIN"}, "nth": 1, "count": 1}]}
    path = reproducer.write(str(tmp_path), "CL2", "test_close.py::test_cl2_final_ack_lost", "vm:6.1", 4, variant,
                            rec, [], "why", 5.0, "/cases")
    text = open(path).read()
    assert "TARGET = 'kernel'" in text and "RELEASE = '6.1.0-99-amd64'" in text
    assert "Run it as is: tcpfault vm --kernel 6.1 --virtual-time -- pytest" in text
    compile(text, path, "exec")
    local = reproducer.write(str(tmp_path), "CL2", "test_close.py::test_cl2_final_ack_lost", "kernel", 4, variant,
                             rec, [], "why", 5.0, "/cases")
    assert "RELEASE = None" in open(local).read()


def test_a_difference_that_does_not_repeat_is_a_race_not_a_new_finding():
    from tcpfault.explore import command
    reset = record(calls=[call("client", "connect", -1, "ECONNRESET")])
    connected = record(calls=[call("client", "connect", 0)])
    variant = "rst@server.SYN_ACK.1"
    group = {"representative": variant, "known": [], "fields": ["errnos"], "fault": "rst", "role": "server SYN_ACK",
             "variants": [variant],
             "representative_fields": {"errnos": {"kernel": ["client connect: ECONNRESET"], "lwip": []}}}
    # The second runs swapped: the reset won on lwIP, the connect on the kernel.
    raw = {"kernel": {variant: reset, "clean": connected}, "lwip": {variant: connected, "clean": connected}}
    results = {t: {variant: {"normalised": differential.normalise(raw[t][variant], connected)}} for t in raw}
    report = {"differences": [group], "violations": [], "summary": {}, "results": results}
    again = {"kernel": {variant: connected}, "lwip": {variant: reset}}
    command.mark_races(report, raw, [again], ["kernel", "lwip"])
    command.count_new(report)
    assert group["raced"] and group["raced_fields"] == ["errnos"]
    assert report["summary"] == {"new_violations": 0, "raced_difference_groups": 1, "new_difference_groups": 0,
                                 "known_by_class": {}}
    assert "## Differences that did not repeat (races)" in report_markdown(report)
    # The same on its second run: a difference of the targets, new.
    command.mark_races(report, raw, [{"kernel": {variant: reset}, "lwip": {variant: connected}}], ["kernel", "lwip"])
    command.count_new(report)
    assert not group["raced"] and report["summary"]["new_difference_groups"] == 1


# CL2's rst@client.FIN.1 on the kernel: the crafted RST behind the client's FIN resets the
# server a fraction of a millisecond around the case's look for CLOSE_WAIT.
CLOSE_WAIT_CHECK = "server 198.18.4.1:8080 > 198.18.3.1:50136 in CLOSE_WAIT within 3000 ms"
RESET_FAILURE = ("expectation failed: " + CLOSE_WAIT_CHECK + ": the socket is gone, reset by the RST from the "
                 "middlebox at +5.0 ms (CLOSE_WAIT -> CLOSED at +5.1 ms)")


def close_call(check, passed, gap_ms, event="CLOSE_WAIT -> CLOSED"):
    return {"check": check, "passed": passed, "at": "+5.0 ms", "gap_ms": gap_ms, "event": event, "event_at": "+5.1 ms"}


def test_a_reproducer_whose_verdict_went_the_other_way_of_a_close_call_skips_saying_so():
    expected = {"outcome": "failed", "failure": RESET_FAILURE, "must_see": [], "must_not_see": []}
    observed = {"kinds": {}, "calls": []}
    # This run looked just before the reset: its CLOSE_WAIT check passed by 0.08 ms, and a
    # later check of the case failed instead. Ports differ from run to run.
    other_side = {"outcome": "failed", "failure": "expectation failed: the server acknowledges the FIN before it closes"}
    passed_by_a_hair = [close_call(CLOSE_WAIT_CHECK.replace("50136", "41234"), True, 0.08)]
    with pytest.raises(pytest.skip.Exception, match=r"verdict was a race this run went the other way: .*in CLOSE_WAIT"
                                                     r".* passed before CLOSE_WAIT -> CLOSED 0\.080 ms apart"):
        expectations.check(expected, other_side, observed, acted=True, close_calls=passed_by_a_hair)
    # Without its fault, or without a close call that decided it, a differing verdict fails.
    for acted, calls in ((None, passed_by_a_hair), (True, []), (True, None)):
        with pytest.raises(AssertionError, match="the case's test failed otherwise"):
            expectations.check(expected, other_side, observed, acted=acted, close_calls=calls)
    # The recorded run passed; this one failed on an RST that came 0.2 ms before its look.
    passed = {"outcome": "passed", "failure": "", "must_see": [], "must_not_see": []}
    failed = {"outcome": "failed", "failure": "expectation failed: no RST"}
    with pytest.raises(pytest.skip.Exception, match="'no RST' failed on .* 0.200 ms apart"):
        expectations.check(passed, failed, observed, acted=True, close_calls=[close_call("no RST", False, 0.2, "RST")])
    # A failure on another check than the close call's is the stack's doing.
    with pytest.raises(AssertionError, match="the case's test failed"):
        expectations.check(passed, failed, observed, acted=True, close_calls=[close_call("1 x FIN", False, 0.2)])
    # The same verdict: the close call changes nothing.
    expectations.check(expected, {"outcome": "failed", "failure": RESET_FAILURE}, observed, acted=True,
                 close_calls=[close_call(CLOSE_WAIT_CHECK, False, 0.05)])


def sent(host, roles, t_ms, released_ms=None, fate="passed", to="server", flags="."):
    return types.SimpleNamespace(sent_by=types.SimpleNamespace(name=host.upper()), roles=roles, arrived_ms=t_ms,
                                 t_ms=t_ms, released_ms=released_ms, fate=fate,
                                 to=types.SimpleNamespace(name=to.upper()), flags=flags)


def test_two_timers_firing_together_make_a_differing_reproducer_skip():
    # HS1 delay-long@server.SYN_ACK.1 on the kernel: the client's SYN timer and the server's
    # SYN-ACK timer, both 1 s, fire in the same tick; which segment goes first decides.
    segments = [sent("client", "SYN", 42.9), sent("server", "SYN_ACK", 43.1),
                sent("client", "SYN|RETRANSMISSION", 1043.013), sent("server", "SYN_ACK|RETRANSMISSION", 1043.134),
                sent("client", "DATA|RETRANSMISSION", 1043.2), sent("server", "PURE_ACK|RETRANSMISSION", 1043.3)]
    net = types.SimpleNamespace(trace=types.SimpleNamespace(segments=lambda: segments))
    ties = races.wire_ties(net)
    assert ties == ["client SYN RETRANSMISSION and server SYN_ACK RETRANSMISSION 0.121 ms apart"]
    segments[3] = sent("server", "SYN_ACK|RETRANSMISSION", 1046.0)  # a tick later: no tie
    assert races.wire_ties(net) == []
    # A swap's 1 s hold of the SYN-ACK, let go as the client's SYN timer fires.
    segments[1] = sent("server", "SYN_ACK", 43.1, released_ms=1043.5, fate="held by rule #1, let go after 1000.4 ms "
                                                                            "(time is up)")
    assert races.wire_ties(net) == ["client SYN RETRANSMISSION and server SYN_ACK let go 0.487 ms apart"]
    segments[1] = sent("server", "SYN_ACK", 43.1)
    # Two ends' first sends answer each other (the SYN-ACK 0.2 ms after the SYN): no race.
    assert all("client SYN and" not in tie for tie in races.wire_ties(net))
    expected = {"outcome": "failed", "failure": "expectation failed: the server in SYN_RECV", "must_see": [],
                "must_not_see": []}
    other = {"outcome": "failed", "failure": "expectation failed: 1 x SYN from client within 3000 ms"}
    observed = {"kinds": {}, "calls": []}
    with pytest.raises(pytest.skip.Exception, match="whose order the machine decides came together .*0.121 ms apart"):
        expectations.check(expected, other, observed, acted=True, ties=ties)
    for acted, run_ties in ((None, ties), (True, [])):  # without its fault, or without a tie, it fails
        with pytest.raises(AssertionError, match="the case's test failed otherwise"):
            expectations.check(expected, other, observed, acted=acted, ties=run_ties)
    expectations.check(expected, dict(expected), observed, acted=True, ties=ties)  # the same run passes


def test_a_crafted_segment_and_its_receivers_fin_together_are_a_tie():
    # CL5 rst@client.FIN.1: the RST crafted behind the client's FIN and the server's own FIN
    # as the test closes it; which the server met first decides its close.
    segments = [sent("server", "SYN_ACK", 38.75, to="client"), sent("client", "FIN", 39.005),
                sent("middlebox", "RST", 39.057, fate="injected: crafted by rule #1", flags="R"),
                sent("server", "FIN|ACK_OF_FIN", 39.079, to="client")]
    net = types.SimpleNamespace(trace=types.SimpleNamespace(segments=lambda: segments))
    assert races.wire_ties(net) == ["the crafted R toward the server and server FIN 0.022 ms apart"]
    segments[3] = sent("server", "FIN|ACK_OF_FIN", 45.0, to="client")  # its FIN well after: the RST came first
    assert races.wire_ties(net) == []


def test_a_verdict_a_close_call_decided_is_a_race_in_the_differential_view():
    from tcpfault.explore import command
    variant = "rst@client.FIN.1"
    reset = record(outcome="failed", failure=RESET_FAILURE, close_calls=[close_call(CLOSE_WAIT_CHECK, False, 0.05)])
    fin_acked = record()
    clean = record()
    group = {"representative": variant, "known": [], "fields": ["verdict"], "fault": "rst", "role": "client FIN",
             "variants": [variant], "representative_fields": {"verdict": {"kernel": "failed", "lwip": "passed"}}}
    raw = {"kernel": {variant: reset, "clean": clean}, "lwip": {variant: fin_acked, "clean": clean}}
    results = {t: {variant: {"normalised": differential.normalise(raw[t][variant], clean)}} for t in raw}
    report = {"differences": [group], "violations": [], "summary": {}, "results": results}
    command.mark_races(report, raw, [{"kernel": {variant: reset}, "lwip": {variant: fin_acked}}], ["kernel", "lwip"])
    assert group["raced"] and group["raced_fields"] == ["verdict"]
    # Decided by 5 ms, outside the window net.close_calls was asked for: no close call, no race.
    reset["close_calls"] = []
    command.mark_races(report, raw, [{"kernel": {variant: reset}, "lwip": {variant: fin_acked}}], ["kernel", "lwip"])
    assert not group["raced"]
    # A field that differs in any round of runs again raced (DT5 runs each finding again twice).
    group["representative_fields"], group["fields"] = {"segments": {"kernel": [], "lwip": ["server RST"]}}, ["segments"]
    results["lwip"][variant]["normalised"] = differential.normalise({**fin_acked, "kinds": {"server RST": 1}}, clean)
    same = {"kernel": {variant: reset}, "lwip": {variant: {**fin_acked, "kinds": {"server RST": 1}}}}
    command.mark_races(report, raw, [same, same], ["kernel", "lwip"])
    assert not group["raced"]
    command.mark_races(report, raw, [same, {"kernel": {variant: reset}, "lwip": {variant: fin_acked}}],
                       ["kernel", "lwip"])
    assert group["raced"] and group["raced_fields"] == ["segments"]


def report_markdown(differences_report):
    full = {"case": "CL5", "test": "t.py::t", "family": 4, "targets": ["kernel", "lwip"], "faults": ["rst"],
            "pairs": 0, "seed": 0, "wall_s": 1, "conversations": {}, "not_run": [], "violations": [],
            "points": [], "results": {}, "summary": {"variants_run": 2, "violations": 0, "difference_groups": 1,
                                                    **differences_report["summary"]},
            "differences": differences_report["differences"]}
    return report.markdown(full)


def test_only_the_clean_runs_repeats_vary_the_cases_random_draws():
    assert [variants.random_variation(v) for v in ("clean", "clean#2", "clean#3", "drop@client.FIN.1", None)] == \
        [0, 1, 2, 0, 0]
    assert [variants.random_variation(variants.clean(n).id) for n in (1, 2, 3)] == [0, 1, 2]


def test_a_run_again_draws_a_variation_no_clean_run_drew():
    again = variants.again_variation(3)
    assert again not in [variants.random_variation(variants.clean(n).id) for n in (1, 2, 3)]
    assert [variants.random_variation(v, again) for v in ("clean", "drop@client.FIN.1", "clean#2")] == [again, again, 1]
