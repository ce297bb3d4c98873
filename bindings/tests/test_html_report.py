"""The HTML report's pure-Python parts (tcpfault.html_report): fates, the SVG ladder of a
synthetic timeline with every fate, the table and the filters' data, artifact links, the
page, and --html's check of its file. html_report_browser.py opens a real run's page in
Chromium."""

import json
import pathlib
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from tcpfault import html_report
from tcpfault.html_report import fates, gather, ladder_svg, page

SVG = "{http://www.w3.org/2000/svg}"
CASES = pathlib.Path(__file__).resolve().parents[2] / "cases"
CLIENT_ISN, SERVER_ISN = 1000, 5000


def segment(t, sender, receiver, flags, seq, ack, fate="passed", length=0, roles="", **extra):
    """A segment as trace_json.cpp writes it, its summary in the engine's relative numbers."""
    side = sender if sender != "middlebox" else ("client" if receiver == "server" else "server")
    own, peer = (CLIENT_ISN, SERVER_ISN) if side == "client" else (SERVER_ISN, CLIENT_ISN)
    shown = f", seq {seq - own}" if length or set(flags) & set("SFR") else ""
    shown += f", ack {ack - peer}" if "." in flags else ""
    return {"type": "segment", "t_ms": t, "from": sender, "to": receiver, "flags": flags, "seq": seq, "ack": ack,
            "window": 64, "payload_len": length, "roles": roles, "connection": 1, "id": int(t * 10),
            "fate": fate, "rule": "", "summary": f"a > b: Flags [{flags}]{shown}, win 64, length {length}", **extra}


def every_fate_timeline():
    c, s = CLIENT_ISN, SERVER_ISN
    return {"scenario": "every-fate", "bulk_segments": [], "fault_log": [], "events": [
        {"type": "note", "t_ms": 0.5, "text": "rule #1 added: drop FINAL_ACK from client (once)"},
        {"type": "transition", "t_ms": 1.0, "host": "client", "local": "a", "remote": "b", "from": "CLOSED",
         "to": "SYN_SENT", "source": "bpf: inet_sock_set_state"},
        segment(1.1, "client", "server", "S", c, 0, roles="SYN"),
        {"type": "transition", "t_ms": 1.2, "host": "server", "local": "b", "remote": "a", "from": "LISTEN",
         "to": "SYN_RECV", "source": "bpf: request socket, hashed for a SYN"},
        segment(1.3, "server", "client", "S.", s, c + 1, roles="SYN_ACK"),
        segment(1.4, "client", "server", ".", c + 1, s + 1, fate="held by rule #2 (delay 50 ms), let go after 50.1 ms "
                "(its time came)", roles="HANDSHAKE_ACK", released_ms=51.5),
        segment(2.0, "client", "server", "P.", c + 1, s + 1, fate="passed, then duplicated x1 by rule #3", length=10,
                roles="DATA"),
        segment(2.1, "middlebox", "server", "P.", c + 1, s + 1, fate="injected: copy made by rule #3", length=10,
                roles="DATA|RETRANSMISSION"),
        segment(3.0, "server", "client", ".", s + 1, c + 11, fate="dropped by rule #1", roles="PURE_ACK"),
        segment(4.0, "middlebox", "server", "R", c + 11, 0, fate="injected: crafted by rule #4", roles="RST"),
        segment(5.0, "client", "server", ".", c + 11, s + 1, fate="rewritten by rule #5 to: a > b: Flags [R], seq 11",
                roles="PURE_ACK"),
        {"type": "call", "t_ms": 6.0, "host": "client", "call": "recv(100)", "result": -1, "errno": 104,
         "duration_ms": 0.1},
        {"type": "call", "t_ms": 6.5, "host": "server", "call": "close()", "result": 0, "errno": 0, "duration_ms": 0.1},
    ]}


def svg_of(timeline, **options):
    return ElementTree.fromstring(ladder_svg.render(timeline, **options))


def segments_of(svg):
    return [g for g in svg.iter(f"{SVG}g") if "seg" in g.get("class", "").split()]


def texts_of(element):
    """Each text element's shown text (its tooltip title left out)."""
    return ["".join(t.itertext()) if t.find(f"{SVG}title") is None else (t.find(f"{SVG}title").tail or "")
            for t in element.iter(f"{SVG}text")]


@pytest.mark.parametrize("fate, kind", [
    ("passed", "passed"), ("", "passed"), ("passed, then answered by rule #2", "passed"),
    ("dropped by rule #1", "dropped"), ("dropped and answered by rule #1", "dropped"),
    ("dropped: reply to flood #1", "dropped"),
    ("held by rule #1", "held"), ("held by rule #1, let go after 3 ms (released)", "held"),
    ("delayed by rule #1, let go after 200 ms (its time came)", "held"),
    ("passed, then duplicated x2 by rule #1", "duplicated"), ("injected: copy made by rule #1", "duplicated"),
    ("injected: crafted by rule #1", "crafted"), ("flood #1: sent", "crafted"),
    ("rewritten by rule #1 to: a > b", "rewritten"), ("ISN rewritten by rule #1 to 5", "rewritten"),
    ("passed, shifted (seq +100)", "rewritten"),
    ("lost in a way nobody wrote yet", "other"),
])
def test_each_fate_the_engine_writes_has_its_kind(fate, kind):
    assert fates.kind_of(fate) == kind


def test_the_ladder_draws_every_fate_in_its_own_colour_and_place():
    svg = svg_of(every_fate_timeline())
    kinds = [g.get("class").split()[1] for g in segments_of(svg)]
    # Six segments plus the held one's release, in time order (the release at 51.5 ms last).
    assert kinds == ["k-passed", "k-passed", "k-held", "k-duplicated", "k-duplicated", "k-dropped", "k-crafted",
                     "k-rewritten", "k-held"]
    by_kind = {}
    for g in segments_of(svg):
        by_kind.setdefault(g.get("class").split()[1], []).append(g)

    def ends(g):
        line = g.find(f"{SVG}line")
        return float(line.get("x1")), float(line.get("x2"))

    # Lost and held segments stop at the middlebox, under a mark; what passes reaches the peer.
    dropped, held = by_kind["k-dropped"][0], by_kind["k-held"][0]
    assert ends(dropped) == (ladder_svg.X_SERVER, ladder_svg.X_MIDDLEBOX) and dropped.find(f"{SVG}path") is not None
    assert ends(held) == (ladder_svg.X_CLIENT, ladder_svg.X_MIDDLEBOX) and held.find(f"{SVG}rect") is not None
    assert ends(by_kind["k-passed"][0]) == (ladder_svg.X_CLIENT, ladder_svg.X_SERVER)
    # The release goes on from the middlebox, dashed; crafted segments and copies start there too.
    release = by_kind["k-held"][1]
    assert ends(release) == (ladder_svg.X_MIDDLEBOX, ladder_svg.X_SERVER)
    assert release.find(f"{SVG}line").get("stroke-dasharray")
    assert any(t.startswith("let go: ") for t in texts_of(release))
    for g in (by_kind["k-crafted"][0], by_kind["k-duplicated"][1]):
        assert ends(g) == (ladder_svg.X_MIDDLEBOX, ladder_svg.X_SERVER)
        assert g.find(f"{SVG}line").get("stroke-dasharray")
    assert by_kind["k-rewritten"][0].find(f"{SVG}polygon[@class='mark']") is not None
    # Every fate but a plain pass is written under its arrow.
    for kind in ("k-dropped", "k-held", "k-duplicated", "k-crafted", "k-rewritten"):
        assert any(t.startswith(("dropped", "held", "passed, then", "injected", "rewritten"))
                   for g in by_kind[kind] for t in texts_of(g)), kind
    assert not any(t == "passed" for g in by_kind["k-passed"] for t in texts_of(g))
    # A rewrite shows the packet as delivered without the addresses it kept.
    assert "rewritten by rule #5 to: Flags [R], seq 11" in texts_of(by_kind["k-rewritten"][0])


def test_the_ladder_shows_relative_numbers_states_calls_and_notes_on_their_side():
    svg = svg_of(every_fate_timeline())
    labels = [t for g in segments_of(svg) for t in texts_of(g)]
    assert "[S] seq 0 win 64 SYN" in labels and "[S.] seq 0 ack 1 win 64 SYN_ACK" in labels
    # A pure ACK has no seq in its summary: the direction's offset, learnt from the SYN, serves.
    assert "[.] seq 1 ack 1 win 64 HANDSHAKE_ACK" in labels
    assert "[P.] seq 1:11 ack 1 win 64 len 10 DATA" in labels

    def placed(text):
        element = next(t for t in svg.iter(f"{SVG}text") if "".join(t.itertext()) == text)
        return float(element.get("x")), element.get("text-anchor"), element.get("class")

    assert placed("CLOSED \u2192 SYN_SENT") == (ladder_svg.X_CLIENT - 8, "end", "step")
    assert placed("LISTEN \u2192 SYN_RECV (request sock)") == (ladder_svg.X_SERVER + 8, "start", "step")
    assert placed(f"recv(100) = -1 {os.strerror(104)}") == (ladder_svg.X_CLIENT - 8, "end", "call")
    assert placed("close() = 0") == (ladder_svg.X_SERVER + 8, "start", "call")
    assert placed("# rule #1 added: drop FINAL_ACK from client (once)")[2] == "note"


def test_a_long_ladder_is_cut_with_a_note_saying_how_much():
    c, s = CLIENT_ISN, SERVER_ISN
    events = [segment(1.0 + i, "client", "server", "P.", c + 1 + 100 * i, s + 1, length=100, roles="DATA")
              for i in range(3000)]
    svg = svg_of({"scenario": "bulk", "events": events, "bulk_segments": [{}] * 7}, max_rows=400)
    drawn = segments_of(svg)
    assert len(drawn) == 400
    texts = texts_of(svg)
    assert "\u2026 2600 events left out here (the JSON timeline has them all)" in texts
    assert "7 segments of a flood kept out of the ladder (the JSON timeline has them)" in texts
    # The first quarter, then the last three quarters.
    assert texts_of(drawn[0])[1].startswith("[P.] seq 1:101 ")
    assert texts_of(drawn[99])[1].startswith("[P.] seq 9901:10001 ")
    assert texts_of(drawn[100])[1].startswith(f"[P.] seq {2700 * 100 + 1}:")
    assert texts_of(drawn[-1])[1].startswith(f"[P.] seq {2999 * 100 + 1}:")


def write_artifacts(folder, name, timeline):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(timeline))
    (folder / f"{name}.pcapng").write_bytes(b"")
    return {"json": str(folder / f"{name}.json"), "pcapng": str(folder / f"{name}.pcapng")}


def result(case, family, target, verdict, test, artifacts=None, main=True, duration=0.5, **extra):
    return {"case": case, "title": f"title of {case}", "main": main, "ref": "RFC 9293", "family": family,
            "target": target, "verdict": verdict, "duration_s": duration, "kernel": "6.1", "sysctls": {},
            "deviation": None, "artifacts": artifacts or {}, "test": test, "message": "", **extra}


def a_report(tmp_path):
    art = write_artifacts(tmp_path / "out" / "run", "cl2", every_fate_timeline())
    elsewhere = write_artifacts(tmp_path / "elsewhere", "hs1", every_fate_timeline())
    results = [
        result("HS1", "IPv4", "kernel", "pass", "t.py::test_hs1[IPv4]", elsewhere),
        result("HS1", "IPv6", "kernel", "pass", "t.py::test_hs1[IPv6]"),
        result("HS1", "IPv4", "lwip", "n/a", "t.py::test_hs1[IPv4]", message="not applicable: no IPv6 here"),
        result("CL2", "IPv4", "kernel", "pass", "t.py::test_cl2[IPv4]", art, duration=0.25),
        result("CL2", "IPv4", "kernel", "fail", "t.py::test_cl2_variant[IPv4]", main=False, duration=0.5,
               message="expected: exactly 1 FIN </script><b>bold</b>"),
        result("CL2", "IPv4", "lwip", "deviation", "t.py::test_cl2[IPv4]", deviation="lwIP sends no RST"),
        result("TW10", "IPv6", "lwip", "target failure", "t.py::test_tw10[IPv6]",
               artifacts={"json": str(tmp_path / "gone.json")}),
    ]
    return {"targets": ["kernel", "lwip"], "kernel": "6.1", "started": "2026-12-05T08:00:00+00:00",
            "duration_s": 12.5, "clock": "real", "results": results}


def test_the_table_has_a_cell_per_case_target_and_family_with_the_worst_verdict(tmp_path):
    model = gather.page_model(a_report(tmp_path), str(tmp_path / "out" / "report.html"))
    assert model["columns"] == [("kernel", "IPv4"), ("kernel", "IPv6"), ("lwip", "IPv4"), ("lwip", "IPv6")]
    assert [c["id"] for c in model["cases"]] == ["HS1", "CL2", "TW10"]  # the catalogue's order
    cells = {c["id"]: [cell and cell["verdict"] for cell in c["cells"]] for c in model["cases"]}
    assert cells == {"HS1": ["pass", "pass", "n/a", None], "CL2": ["fail", None, "deviation", None],
                     "TW10": [None, None, None, "target failure"]}
    cl2 = next(c for c in model["cases"] if c["id"] == "CL2")
    assert cl2["cells"][0] == {"verdict": "fail", "tests": 2, "duration_s": 0.75}
    assert [t["test"] for t in cl2["tests"]][0] == "t.py::test_cl2[IPv4]"  # the main test first
    hs1 = next(c for c in model["cases"] if c["id"] == "HS1")
    assert [(t["target"], t["family"]) for t in hs1["tests"]] == [("kernel", "IPv4"), ("kernel", "IPv6"),
                                                                   ("lwip", "IPv4")]  # the columns' order
    assert model["counts"] == {"pass": 3, "deviation": 1, "n/a": 1, "fail": 1, "target failure": 1}


def test_the_filters_offer_what_the_run_has_in_the_table_order(tmp_path):
    model = gather.page_model(a_report(tmp_path), str(tmp_path / "out" / "report.html"))
    assert model["filters"] == {"verdict": ["pass", "deviation", "n/a", "fail", "target failure"],
                                "group": ["HS", "CL", "TW"], "family": ["IPv4", "IPv6"], "target": ["kernel", "lwip"]}
    cl2 = next(c for c in model["cases"] if c["id"] == "CL2")
    assert "lwip sends no rst" in cl2["text"] and "expected: exactly 1 fin" in cl2["text"]


def test_artifact_links_are_relative_beside_the_report_absolute_elsewhere_and_absent_when_gone(tmp_path):
    model = gather.page_model(a_report(tmp_path), str(tmp_path / "out" / "report.html"))
    tests = {(t["test"], t["target"]): t for c in model["cases"] for t in c["tests"]}
    beside = tests[("t.py::test_cl2[IPv4]", "kernel")]["links"]
    assert beside["json"] == {"href": "run/cl2.json", "where": "beside"}
    elsewhere = tests[("t.py::test_hs1[IPv4]", "kernel")]["links"]["pcapng"]
    assert elsewhere == {"href": (tmp_path / "elsewhere" / "hs1.pcapng").as_uri(), "where": "elsewhere"}
    gone = tests[("t.py::test_tw10[IPv6]", "lwip")]
    assert gone["links"]["json"]["href"] is None and gone["ladder"] is None
    assert "is gone" in gone["ladder_missing"]
    assert model["links"] == {"beside": 2, "elsewhere": 2, "gone": 1}  # the rest were never written
    note = page.links_note(model["links"])
    assert "absolute file:// links" in note and "1 artifact a test wrote had gone" in note


def test_the_page_holds_everything_and_keeps_each_ladder_inert_until_opened(tmp_path):
    report_path = tmp_path / "out" / "report.html"
    html_report.write(str(report_path), a_report(tmp_path))
    text = report_path.read_text()
    # Nothing to fetch: no external script, stylesheet, image or font.
    assert "<link" not in text and " src=" not in text and "@import" not in text and "url(" not in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    # The failure text is shown as text, never as markup.
    assert "expected: exactly 1 FIN &lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in text and "<b>bold" not in text
    # Two tests with timelines: their ladders wait in inert scripts, referred to by their boxes.
    assert text.count('<script type="text/x-tcpfault-ladder"') == 2
    assert text.count('<div class="ladder" data-ladder="ladder-') == 2
    for verdict in ("pass", "deviation", "n/a", "fail", "target failure"):
        assert f'<input type="checkbox" value="{verdict}" checked>' in text
    assert '<tr class="case" id="case-TW10" data-case="TW10" data-group="TW"' in text
    assert 'class="cell v-target-failure"' in text and 'class="cell v-n-a"' in text


def test_without_artifacts_the_passed_tests_keep_their_ladders_but_lose_their_links(tmp_path):
    """A run without --artifacts removes what passed after the reports: the page is written
    first, draws every ladder, and links only the failures' files."""
    model = gather.page_model(a_report(tmp_path), str(tmp_path / "out" / "report.html"), artifacts_kept=False)
    tests = {(t["test"], t["target"]): t for c in model["cases"] for t in c["tests"]}
    passed = tests[("t.py::test_cl2[IPv4]", "kernel")]
    assert passed["ladder"] and passed["links"]["json"] == {"href": None, "where": "removed"}
    assert model["links"]["removed"] == 4
    assert "Give --artifacts DIR to keep them all" in page.links_note(model["links"])


def test_an_unwritable_html_destination_is_refused_before_anything_runs(tmp_path):
    """The command's checks before a run (tcpfault.preflight) cover --html: a usage error, at once."""
    for path, message in ((tmp_path / "missing" / "r.html", "no folder"), (tmp_path, "is a folder")):
        out = subprocess.run([sys.executable, "-m", "tcpfault.cli", "conformance", "--html", str(path)],
                             env=dict(os.environ, TCPFAULT_CASES=str(CASES)), capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 2 and f"--html {path}: {message}" in out.stderr, out.stderr
        assert out.stdout == ""
