"""States inferred from the wire, from Python (bindings/bind_wire_states.cpp), their
comparison with the kernel's record, the pytest option that records it for every test and
the report that sums it up (tcpfault.wire_check)."""

import io
import os
import subprocess
import sys

import pytest

from tcpfault import (
    CLOSE_WAIT,
    CLOSED,
    ESTABLISHED,
    FIN_WAIT1,
    FIN_WAIT2,
    LAST_ACK,
    LISTEN,
    SYN,
    SYN_RECV,
    SYN_SENT,
    TIME_WAIT,
    wire_check,
)
from tcpfault import exit_codes
from tcpfault.casekit import close_after_acking_fin

pytest_plugins = ["pytester"]


def close_both(net, client, conn):
    net.expect_ok(client.close())
    net.expect(conn).reaches(CLOSE_WAIT)
    net.expect_ok(close_after_acking_fin(net, conn))
    net.expect(conn).passes(LAST_ACK, CLOSED)
    net.expect(client).reaches(TIME_WAIT)


def test_wire_states_of_a_four_way_close(net, connection):
    client, conn = connection
    close_both(net, client, conn)
    [c] = net.wire_states()
    assert c.id == 1
    assert c.opener.states == [CLOSED, SYN_SENT, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, TIME_WAIT]
    assert c.acceptor.states == [LISTEN, SYN_RECV, ESTABLISHED, CLOSE_WAIT, LAST_ACK, CLOSED]
    assert c.opener.address == client.local and c.acceptor.address == conn.local
    assert c.opener.end == "opener" and c.acceptor.host == conn.host and c.opener.seen
    assert c.acceptor.initial == LISTEN and "assumed" in c.acceptor.initial_reason
    times = [s.t_ms for s in c.opener.steps]
    assert times == sorted(times)
    assert {s.evidence for s in c.opener.steps} == {"sent", "received"}
    assert all(s.reason and s.segment >= 1 for s in c.opener.steps)
    assert any("TIME_WAIT" in n for n in c.opener.notes)
    assert c.opener.final_state == TIME_WAIT
    assert "opener" in str(c)


def test_the_comparison_agrees_on_a_four_way_close(net, connection):
    client, conn = connection
    close_both(net, client, conn)
    result = net.compare_wire_states(settle=2)
    assert (result.agreements, result.disagreements, result.unexplained) == (10, 0, 0), str(result)
    [c] = result.connections
    assert c.opener.local == client.local and c.opener.on_wire and c.opener.kernel_sockets == 1
    for step in c.opener.steps + c.acceptor.steps:
        assert step.agrees and step.agreement == "agree" and step.cause is None
        assert step.kernel_t_ms is not None and step.wire_t_ms is not None and step.kernel_source
    assert [s.new for s in c.acceptor.steps] == [SYN_RECV, ESTABLISHED, CLOSE_WAIT, LAST_ACK, CLOSED]
    assert "5 agree, 0 disagree" in str(result)


def test_the_comparison_puts_a_request_socket_down_to_its_cause(net):
    # Nothing but the SYN of the client gets through: the server's request socket never
    # becomes a full socket. The BPF observer records the request socket's own step, and
    # it agrees with the wire; the fallback (the perf tracepoint) records no state for
    # it, and the wire's step is put down to its cause.
    listener = net.server.listen(8080)
    net.faults.drop(not_role=SYN, sent_by="client")
    client = net.client.connect(listener)
    net.expect_ok(client.connect_result)
    result = net.compare_wire_states()
    [c] = result.connections
    if any(str(n).startswith("state observer: BPF") for n in net.trace.notes()):
        assert c.acceptor.kernel_sockets == 1
        [step] = c.acceptor.steps
        assert (step.agreement, step.old, step.new, step.cause) == ("agree", LISTEN, SYN_RECV, None)
        assert result.unexplained == 0 and result.kernel_only_sockets == []
        return
    assert c.acceptor.kernel_sockets == 0
    [step] = c.acceptor.steps
    assert (step.agreement, step.old, step.new, step.cause) == ("wire-only", LISTEN, SYN_RECV, "request-socket")
    assert step.kernel_t_ms is None and "request socket" in step.explanation
    assert result.unexplained == 0 and result.kernel_only_sockets == []


def test_settle_takes_seconds(net):
    with pytest.raises(ValueError, match="settle"):
        net.compare_wire_states(settle=-1)
    with pytest.raises(TypeError, match="settle"):
        net.compare_wire_states(settle="1")


# ---- the records and their report ----

def record(test, case, causes):
    steps = [{"agreement": "kernel-only", "from": "FIN_WAIT2", "to": "CLOSED", "kernel_t_ms": 1.0, "wire_t_ms": None,
              "cause": cause, "explanation": f"because {cause}"} for cause in causes]
    steps.append({"agreement": "agree", "from": "CLOSED", "to": "SYN_SENT", "kernel_t_ms": 0.5, "wire_t_ms": 0.7})
    end = {"end": "opener", "host": "client", "local": "198.18.1.1:40000", "remote": "198.18.2.1:8080",
           "kernel_sockets": 1, "steps": steps}
    return {"version": 1, "test": test, "case": case, "family": "IPv4", "outcome": "passed", "agreements": 1,
            "disagreements": len(causes), "unexplained": causes.count("unexplained"),
            "connections": [{"id": 1, "ends": [end]}], "kernel_only_sockets": [], "text": f"the comparison of {test}"}


def write_records(path, records):
    for r in records:
        wire_check.append_record(str(path), r)


def report_of(path):
    out = io.StringIO()
    return wire_check.report(str(path), out), out.getvalue()


def test_report_sums_up_per_case_and_cause(tmp_path):
    path = tmp_path / "records.jsonl"
    write_records(path, [record("a.py::test_x[IPv4]", "CL6", ["orphan-fin-wait2-timeout"]),
                         record("a.py::test_x[IPv6]", "CL6", ["orphan-fin-wait2-timeout"]),
                         record("controls/b.py::test_y[IPv4]", None, [])])
    status, text = report_of(path)
    assert status == 0, text
    lines = text.splitlines()
    assert lines[0].split() == ["CASE", "TESTS", "CONNS", "AGREE", "DISAGREE", "CAUSES"]
    assert lines[1].split() == ["CL6", "2", "2", "2", "2", "orphan-fin-wait2-timeout", "x2"]
    assert lines[2].split()[:2] == ["test_y", "1"]  # a control: its name without the family
    assert "3 tests, 3 connections, 3 steps agree, 2 disagree" in text
    assert "orphan-fin-wait2-timeout: 2  e.g. a.py::test_x[IPv4]: FIN_WAIT2 -> CLOSED" in text


def test_report_fails_on_an_unexplained_disagreement_and_shows_it(tmp_path):
    path = tmp_path / "records.jsonl"
    write_records(path, [record("a.py::test_x[IPv4]", "CL6", ["unexplained", "timer-gave-up"])])
    status, text = report_of(path)
    assert status == 1
    assert "UNEXPLAINED a.py::test_x[IPv4]: connection 1 opener client 198.18.1.1:40000: FIN_WAIT2 -> CLOSED" in text
    assert "the comparison of a.py::test_x[IPv4]" in text


def test_report_of_an_agents_records_names_its_stack(tmp_path):
    path = tmp_path / "records.jsonl"
    agent = record("a.py::test_x[IPv4]", "CL2", ["stack-deviation", "unexplained"])
    agent["target"] = "gvisor"
    write_records(path, [agent])
    status, text = report_of(path)
    assert status == 1
    assert "against the gvisor stack's own" in text
    assert "stack-deviation: 1  e.g. a.py::test_x[IPv4]: FIN_WAIT2 -> CLOSED (gvisor-only)" in text
    assert "UNEXPLAINED a.py::test_x[IPv4]: connection 1 opener client 198.18.1.1:40000: FIN_WAIT2 -> CLOSED " \
           "(gvisor-only)" in text
    assert "kernel-only" not in text


def test_report_tolerates_unexplained_steps_only_where_told(tmp_path):
    path = tmp_path / "records.jsonl"
    listed, other = (record(f"a.py::test_{n}[IPv4]", n.upper(), ["unexplained"]) for n in ("sec1", "dt1"))
    write_records(path, [listed, other])
    known = {"a.py::test_sec1[IPv4]": "an in-window RST resets it"}
    out = io.StringIO()
    assert wire_check.report(str(path), out, tolerated=lambda r: known.get(r["test"])) == 1
    assert "KNOWN DEVIATION (an in-window RST resets it) a.py::test_sec1[IPv4]" in out.getvalue()
    assert "UNEXPLAINED a.py::test_dt1[IPv4]" in out.getvalue()
    known["a.py::test_dt1[IPv4]"] = "listed too"
    assert wire_check.report(str(path), io.StringIO(), tolerated=lambda r: known.get(r["test"])) == 0


def test_report_of_bad_files(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(exit_codes.Stop, match=r"empty.jsonl: no records") as stop:
        report_of(empty)
    assert stop.value.status == exit_codes.USAGE
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(exit_codes.Stop, match=r"broken.jsonl:1: not a JSON record") as stop:
        report_of(broken)
    assert stop.value.status == exit_codes.USAGE
    cli = subprocess.run([sys.executable, "-m", "tcpfault.cli", "wire-states-report", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == exit_codes.USAGE and "no such file" in cli.stderr and "--tcpfault-wire-states" in cli.stderr


# ---- the pytest option, under xdist ----

TWO_CLOSES = """
import pytest
from tcpfault import CLOSE_WAIT, CLOSED, LAST_ACK, TIME_WAIT
from tcpfault.casekit import close_after_acking_fin

@pytest.mark.case("XX1", "a close", ref="none")
@pytest.mark.parametrize("first", ["client", "server"])
def test_close(net, first):
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    conn = listener.accept()
    a, b = (client, conn) if first == "client" else (conn, client)
    net.expect_ok(a.close())
    net.expect(b).reaches(CLOSE_WAIT)
    net.expect_ok(close_after_acking_fin(net, b))
    net.expect(b).passes(LAST_ACK, CLOSED)
    net.expect(a).reaches(TIME_WAIT)
"""


def test_option_records_every_test_from_every_worker(pytester, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(pytester.path))
    pytester.makepyfile(test_closes=TWO_CLOSES)
    out = pytester.path / "wire.jsonl"
    out.write_text("left from an earlier run\n")  # the run starts the file afresh
    result = pytester.runpytest_subprocess("-p", "tcpfault.pytest_plugin", "-p", "no:cacheprovider",
                                           "--tcpfault-family", "4", "-n", "2", f"--tcpfault-wire-states={out}")
    result.assert_outcomes(passed=2)
    records = wire_check.read_records(str(out))
    assert sorted(r["test"] for r in records) == ["test_closes.py::test_close[IPv4-client]",
                                                  "test_closes.py::test_close[IPv4-server]"]
    for r in records:
        assert (r["case"], r["family"], r["outcome"]) == ("XX1", "IPv4", "passed")
        assert (r["agreements"], r["disagreements"], r["unexplained"]) == (10, 0, 0), r["text"]
        [c] = r["connections"]
        assert [e["end"] for e in c["ends"]] == ["opener", "acceptor"]
        assert all(s["agreement"] == "agree" for e in c["ends"] for s in e["steps"])
    report = subprocess.run([sys.executable, "-m", "tcpfault.cli", "wire-states-report", str(out)],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert report.returncode == 0, report.stdout + report.stderr
    assert report.stdout.splitlines()[1].split() == ["XX1", "2", "2", "20", "0", "-"]


def test_without_the_option_nothing_is_compared(pytester, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(pytester.path))
    pytester.makepyfile(test_closes=TWO_CLOSES)
    result = pytester.runpytest_subprocess("-p", "tcpfault.pytest_plugin", "-p", "no:cacheprovider",
                                           "--tcpfault-family", "4", "-k", "client")
    result.assert_outcomes(passed=1)
    assert not list(pytester.path.glob("*.jsonl"))
