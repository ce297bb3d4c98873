"""What a scenario writes (docs/artifacts.md), read as a user's tools read it: the JSON
timeline's header (schema, start time on both clocks, rules) and a rewritten segment in
it; the pcapng's interfaces (what was delivered, dropped, rewritten) read by tshark."""

import calendar
import json
import re
import shutil
import subprocess
import time

import pytest

from tcpfault import DATA, FIN


def tshark_rows(path, *fields):
    """Rows of tshark's fields; put the one that may hold "|" (a comment) last."""
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-E", "separator=|"]
                         + [a for f in fields for a in ("-e", f)],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return [line.split("|", len(fields) - 1) for line in out.splitlines()]  # the last may hold "|"


@pytest.fixture
def written(net, connection, tmp_path):
    """A connection whose first data segment is rewritten and whose client FIN is dropped once."""
    client, server = connection
    net.faults.modify(DATA, sent_by="client", count=1, write_payload=(0, b"HELLO"))
    net.faults.drop(FIN, sent_by="client", count=1)
    net.expect_ok(client.send(b"hello world"))
    assert server.recv_exactly(11).data == b"HELLO world"
    net.expect_ok(client.close())
    net.expect_segments(FIN, sent_by="client", count=2)  # dropped, then retransmitted
    return net.trace.write(str(tmp_path))


def test_the_json_timeline_says_its_schema_start_and_rules(net, written):
    with open(written["json"]) as f:
        timeline = json.load(f)
    assert timeline["schema"] == "tcpfault-timeline/2"
    assert timeline["scenario"] == net.name
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z", timeline["started_at"])
    assert match, timeline["started_at"]
    started = calendar.timegm(time.strptime(match[1], "%Y-%m-%dT%H:%M:%S")) + int(match[2]) / 1e9
    assert time.time() - 120 < started <= time.time(), timeline["started_at"]
    assert timeline["monotonic_origin_ns"] <= time.monotonic_ns()
    assert [(r["id"], r["removed_ms"]) for r in timeline["rules"]] == [(1, None), (2, None)]
    assert "modify" in timeline["rules"][0]["label"]

    rewritten = [e for e in timeline["events"] if e["type"] == "segment" and "delivered" in e]
    assert len(rewritten) == 1, rewritten
    assert rewritten[0]["payload_len"] == rewritten[0]["delivered"]["payload_len"] == 11
    assert rewritten[0]["delivered_ms"] == rewritten[0]["t_ms"]
    dropped = [e for e in timeline["events"] if e["type"] == "segment" and e["fate"].startswith("dropped")]
    assert len(dropped) == 1 and dropped[0]["delivered_ms"] is None


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (apt-get install tshark)")
def test_the_pcapng_puts_each_fate_on_its_interface(written):
    rows = tshark_rows(written["pcapng"], "frame.interface_name", "tcp.payload", "tcp.flags.fin", "frame.comment")
    payloads = {(name, payload) for name, payload, _, _ in rows if payload}
    assert ("before-rewrite", b"hello world".hex()) in payloads, rows
    assert ("delivered", b"HELLO world".hex()) in payloads, rows
    assert ("delivered", b"hello world".hex()) not in payloads, "the receiver never got the original"
    dropped = [(fin, comment) for name, _, fin, comment in rows if name == "dropped"]
    assert len(dropped) == 1 and dropped[0][0] in ("1", "True"), rows
    assert "dropped by rule #2 [rule #2: " in dropped[0][1]
