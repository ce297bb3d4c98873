"""The BPF state observer against live kernels: timewait minisockets and request sockets
recorded step by step with the kernel's times, no step from a state to itself, and the
perf fallback still at work when BPF is not used (TCPFAULT_OBSERVER=perf).

Times: Transition.t_ms is the kernel's CLOCK_MONOTONIC time of the step, segments' t_ms
the middlebox's, both from the scenario's start."""

import os
import subprocess
import sys
import textwrap

import pytest

from tcpfault import (
    CLOSE_WAIT, CLOSED, ESTABLISHED, FIN, FIN_WAIT1, FIN_WAIT2, FINAL_ACK, HANDSHAKE_ACK, LISTEN, SYN,
    SYN_ACK, SYN_RECV, TIME_WAIT,
)

RFC1337 = "net.ipv4.tcp_rfc1337"


def steps(transitions):
    return [(str(t.old), str(t.new)) for t in transitions]


def step(transitions, old, new):
    found = [t for t in transitions if t.old == old and t.new == new]
    assert len(found) == 1, f"one {old} -> {new} step expected, got {transitions}"
    return found[0]


def assert_no_same_state_step(net):
    same = [t for t in net.trace.transitions() if t.old == t.new]
    assert not same, f"steps from a state to itself: {same}"


def test_the_bpf_observer_is_in_use(net):
    notes = [n for n in net.trace.notes() if n.startswith("state observer:")]
    assert notes and notes[0].startswith("state observer: BPF"), net.trace.notes()


def test_time_wait_ended_by_an_rst_within_a_millisecond(net):
    """The RST comes right behind the client's final ACK: TIME_WAIT lasts well under the
    2 ms the polling fallback looked at it, and it is still recorded, with both times."""
    net.set_sysctl("client", RFC1337, 0)
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    conn = listener.accept()
    net.faults.inject_on(role=FINAL_ACK, sent_by="client", toward="client", flags="R", count=1)
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)
    conn.close()
    net.expect(client).passes(FIN_WAIT2, TIME_WAIT, CLOSED)
    mine = net.trace.transitions(client)
    assert steps(mine)[-3:] == [("FIN_WAIT1", "FIN_WAIT2"), ("FIN_WAIT2", "TIME_WAIT"), ("TIME_WAIT", "CLOSED")]
    entered, ended = step(mine, FIN_WAIT2, TIME_WAIT), step(mine, TIME_WAIT, CLOSED)
    assert "timewait minisocket" in entered.source or "handed to a timewait minisocket" in entered.source
    assert "an RST from the peer" in ended.source, ended.source
    final_ack = net.trace.segments(FINAL_ACK, sent_by="client")[-1]
    rst = [s for s in net.trace.segments(sent_by="middlebox") if "R" in s.flags][-1]
    # Kernel times, in order and where the wire puts them: TIME_WAIT before its final ACK
    # reached the middlebox, its end after the RST left it; well under a millisecond apart.
    assert entered.t_ms <= final_ack.t_ms <= rst.t_ms <= ended.t_ms
    assert ended.t_ms - entered.t_ms < 1.0, (entered, ended)
    assert_no_same_state_step(net)


def test_orphan_fin_wait2_goes_on_in_a_minisocket_then_time_wait(net):
    """close() with the peer still open: the orphan's full socket is handed to a FIN_WAIT2
    minisocket (a note, not a step), whose FIN_WAIT2 -> TIME_WAIT comes with the peer's FIN."""
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    conn = listener.accept()
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)
    net.expect(client).reaches(FIN_WAIT2)
    conn.close()
    net.expect(client).passes(FIN_WAIT1, FIN_WAIT2, TIME_WAIT)
    mine = net.trace.transitions(client)
    assert steps(mine)[-3:] == [("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2"), ("FIN_WAIT2", "TIME_WAIT")]
    assert_no_same_state_step(net)
    handover = [n for n in net.trace.notes() if "FIN_WAIT2 goes on" in n]
    assert len(handover) == 1 and "timewait minisocket" in handover[0], net.trace.notes()
    to_tw = step(mine, FIN_WAIT2, TIME_WAIT)
    assert "the peer's FIN" in to_tw.source, to_tw.source
    fin = net.trace.segments(FIN, sent_by="server")[-1]
    # Exactly: after the server's FIN crossed the middlebox, within a few ms of it.
    assert fin.t_ms <= to_tw.t_ms < fin.t_ms + 5, (fin, to_tw)


def test_request_socket_while_the_handshake_ack_is_held(net):
    """HS1's held handshake ACK: the server's SYN_RECV starts with the request socket, at
    the SYN; the full socket made at the ACK goes on from it (no second LISTEN -> SYN_RECV)."""
    listener = net.server.listen(8080)
    net.faults.delay(HANDSHAKE_ACK, sent_by="client", by=0.3, count=1)
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    net.expect(client.peer).reaches(SYN_RECV, within=0.25)
    conn = listener.accept(timeout=2)
    net.expect(conn).passes(SYN_RECV, ESTABLISHED)
    mine = net.trace.transitions(conn)
    assert steps(mine) == [("LISTEN", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED")], mine
    syn = net.trace.segments(SYN, sent_by="client")[0]
    syn_ack = net.trace.segments(SYN_ACK, sent_by="server")[0]
    ack = net.trace.segments(HANDSHAKE_ACK, sent_by="client")[0]
    assert "request socket" in mine[0].source
    assert syn.t_ms <= mine[0].t_ms <= syn_ack.t_ms
    assert mine[1].t_ms >= ack.t_ms + 250, "ESTABLISHED only once the held ACK was let go"
    assert_no_same_state_step(net)


def test_request_socket_reset_goes_back_to_listen(net):
    """An RST at the request's rcv_nxt, right behind its SYN-ACK, removes the request
    socket: SYN_RECV -> LISTEN, by an RST from the peer."""
    listener = net.server.listen(8080)
    net.faults.inject_on(role=SYN_ACK, sent_by="server", toward="server", flags="R", drop_trigger=True, count=1)
    client = net.client.connect(listener)
    peer = client.peer
    net.expect(peer).passes(SYN_RECV, LISTEN)
    mine = net.trace.transitions(peer)
    # (The client's SYN, retransmitted a second later, may have started another request.)
    assert steps(mine)[:2] == [("LISTEN", "SYN_RECV"), ("SYN_RECV", "LISTEN")], mine
    assert "an RST from the peer" in mine[1].source, mine[1].source
    rst = [s for s in net.trace.segments(sent_by="middlebox") if "R" in s.flags][0]
    assert rst.t_ms <= mine[1].t_ms < rst.t_ms + 5
    assert_no_same_state_step(net)


FALLBACK = textwrap.dedent("""
    import tcpfault
    from tcpfault import CLOSE_WAIT, FIN_WAIT2, TIME_WAIT
    with tcpfault.Scenario(family=4, name="observer-fallback") as net:
        listener = net.server.listen(8080)
        client = net.client.connect(listener)
        net.expect_ok(client.connect_result)
        conn = listener.accept()
        client.close()
        net.expect(conn).reaches(CLOSE_WAIT)
        net.expect(client).reaches(FIN_WAIT2)
        conn.close()
        net.expect(client).passes(FIN_WAIT2, TIME_WAIT)
        print([n for n in net.trace.notes() if n.startswith("state observer:")][0])
        for t in net.trace.transitions(client):
            print("STEP", t.old, t.new, t.source, sep="|")
""")


def test_fallback_perf_and_polling_when_bpf_is_not_used():
    env = dict(os.environ, TCPFAULT_OBSERVER="perf")
    out = subprocess.run([sys.executable, "-c", FALLBACK], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("state observer: perf tracepoint, completed by sock_diag polling"), lines[0]
    assert "the BPF observer is not used: TCPFAULT_OBSERVER=perf" in lines[0]
    got = [line.split("|")[1:] for line in lines if line.startswith("STEP")]
    assert [s[:2] for s in got][-3:] == [["ESTABLISHED", "FIN_WAIT1"], ["FIN_WAIT1", "FIN_WAIT2"],
                                         ["FIN_WAIT2", "TIME_WAIT"]], got
    assert "sock_diag" in got[-1][2] and not any(s[2].startswith("bpf:") for s in got), got


def test_bad_observer_choice_is_refused():
    env = dict(os.environ, TCPFAULT_OBSERVER="ftrace")
    script = "import tcpfault\nwith tcpfault.Scenario(family=4, name='observer-choice'): pass\n"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "TCPFAULT_OBSERVER must be auto, bpf or perf" in out.stderr
