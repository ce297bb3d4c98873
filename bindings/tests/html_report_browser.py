"""The HTML report of a small real run, in a real browser: `tcpfault conformance --html`
over a few cases whose middlebox drops, holds, rewrites, crafts and duplicates segments,
opened in headless Chromium (headless_chromium.py). The page must raise no console error
and fetch nothing, its table must show the run's cases and verdicts, #case=CL2 must open
CL2 with its ladders drawn, other cases only when opened, and the filters must hide what
they leave out. The screenshot goes to <build>/html_report/html-report.png (the README's
docs/images/html-report.png is one). A broken page shows that the check does see errors.
Needs root (the cases run in namespaces) and Debian's chromium; ctest runs it as html_report."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

import tcpfault
from headless_chromium import Chromium

CASES = pathlib.Path(__file__).resolve().parents[2] / "cases"
# Each of these shows one thing the middlebox does (the fate the ladder must colour).
SELECTION = {"CL2": "k-dropped", "CL5": "k-held", "HS7": "k-rewritten", "SEC1": "k-crafted", "DT4": "k-duplicated"}
SEVERITY = ("pass", "deviation", "n/a", "skip", "fail", "target failure", "error")


def shots_dir(tmp_path):
    """<build>/html_report when the package is a build's (<build>/python/tcpfault), else tmp_path."""
    build = pathlib.Path(tcpfault.__file__).resolve().parents[2]
    if (build / "CMakeCache.txt").is_file():
        folder = build / "html_report"
        folder.mkdir(exist_ok=True)
        return folder
    return tmp_path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The report of a real run, with its artifacts beside it."""
    if os.geteuid() != 0:
        pytest.fail("this test runs real cases: run it as root (ctest -R html_report does)")
    out = tmp_path_factory.mktemp("html")
    expression = " or ".join(SELECTION)
    done = subprocess.run([sys.executable, "-m", "tcpfault.cli", "conformance", "--family", "4", "-k", expression,
                           "--jobs", "4", "--json", str(out / "r.json"), "--html", str(out / "report.html"),
                           "--artifacts", str(out / "run")],
                          env=dict(os.environ, TCPFAULT_CASES=str(CASES)), cwd=out,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: a case failed, still reported
    report = json.loads((out / "r.json").read_text())
    assert {r["case"] for r in report["results"]} == set(SELECTION), done.stdout
    return out, report


def expected_table(report):
    """case -> the worst verdict of its tests in IPv4, as the page must show it."""
    table = {}
    for r in report["results"]:
        seen = table.get(r["case"])
        table[r["case"]] = r["verdict"] if seen is None or SEVERITY.index(r["verdict"]) > SEVERITY.index(seen) else seen
    return table


ROWS = """Array.from(document.querySelectorAll("tr.case")).map((row) => ({
  id: row.dataset.case, hidden: row.hidden, open: row.getAttribute("aria-expanded") === "true",
  verdicts: Array.from(row.querySelectorAll("td.cell"), (cell) => cell.dataset.verdict || "-"),
  detailHidden: document.getElementById("detail-" + row.dataset.case).hidden,
  ladders: Array.from(document.querySelectorAll("#detail-" + row.dataset.case + " svg.ladder"), (svg) =>
    Array.from(svg.querySelectorAll("g.seg"), (g) => g.getAttribute("class"))),
  waiting: document.querySelectorAll("#detail-" + row.dataset.case + " div.ladder[data-ladder]").length,
}))"""


def rows_of(browser):
    return {row["id"]: row for row in browser.evaluate(ROWS)}


def click(*selectors):
    """A script that clicks each element a selector names."""
    return "".join(f"document.querySelector({json.dumps(selector)}).click();" for selector in selectors)


def set_text(value):
    return ('{ const box = document.getElementById("text"); box.value = ' + json.dumps(value) +
            '; box.dispatchEvent(new Event("input")); }')


def test_the_report_opens_in_chromium_without_errors_and_shows_the_run(run, tmp_path):
    out, report = run
    page = out / "report.html"
    ladders_of = {case: sum(1 for r in report["results"] if r["case"] == case and "json" in r["artifacts"])
                  for case in SELECTION}
    with Chromium(width=1400, height=1300) as browser:
        browser.open(page.as_uri() + "#case=CL2")
        assert browser.errors() == []
        assert browser.requests() == [page.as_uri()]  # nothing fetched but the page itself

        # The table: every case of the run with its verdict, in the catalogue's order.
        rows = rows_of(browser)
        assert {case: row["verdicts"] for case, row in rows.items()} == \
            {case: [verdict] for case, verdict in expected_table(report).items()}
        assert list(rows) == ["HS7", "CL2", "CL5", "DT4", "SEC1"]

        # #case=CL2 opened CL2 and drew a ladder per test, the dropped final ACK in it;
        # the other cases' ladders are still waiting to be drawn.
        assert rows["CL2"]["open"] and not rows["CL2"]["detailHidden"]
        assert len(rows["CL2"]["ladders"]) == ladders_of["CL2"] and all(rows["CL2"]["ladders"])
        assert any("seg k-dropped" in g for ladder in rows["CL2"]["ladders"] for g in ladder)
        for case in SELECTION.keys() - {"CL2"}:
            assert rows[case]["detailHidden"] and rows[case]["ladders"] == [], case
            assert rows[case]["waiting"] == ladders_of[case], case

        # Opening each other case by a click draws its ladders, with its fate among them.
        browser.evaluate(click(*(f"#case-{case}" for case in SELECTION if case != "CL2")))
        rows = rows_of(browser)
        for case, fate in SELECTION.items():
            assert rows[case]["open"] and rows[case]["waiting"] == 0, case
            assert len(rows[case]["ladders"]) == ladders_of[case], case
            assert any(f"seg {fate}" in g for ladder in rows[case]["ladders"] for g in ladder), (case, fate)
        assert browser.evaluate("location.hash") == "#case=" + ",".join(rows)

        # The filters: text, group, verdict.
        def visible(script):
            browser.evaluate(script)
            return sorted(case for case, row in rows_of(browser).items() if not row["hidden"])

        assert visible(set_text("rst injection")) == ["SEC1"]
        group_cl = 'fieldset[data-filter="group"] input[value="CL"]'
        assert visible(set_text("") + click(group_cl)) == ["DT4", "HS7", "SEC1"]
        verdicts = [f'fieldset[data-filter="verdict"] input[value="{v}"]' for v in set(expected_table(report).values())]
        assert visible(click(group_cl, *verdicts)) == []
        assert browser.evaluate('document.getElementById("none").hidden') is False
        assert visible(click(*verdicts)) == sorted(SELECTION)
        assert browser.errors() == []

        # The picture: the table with CL2 open under it.
        browser.evaluate(click(*(f"#case-{case}" for case in SELECTION if case != "CL2")) + "window.scrollTo(0, 0);")
        assert [case for case, row in rows_of(browser).items() if row["open"]] == ["CL2"]
        shot = shots_dir(tmp_path) / "html-report.png"
        browser.screenshot(shot)
        assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert browser.errors() == []


def test_the_browser_check_sees_console_errors_exceptions_and_fetches(tmp_path):
    """What the report's test relies on: a page that logs an error, throws, and asks for a
    file is caught at each (a file:// image, so nothing leaves the machine)."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><img src="missing.png">'
                    '<script>console.error("on purpose"); no_such_function();</script></body></html>')
    with Chromium(width=800, height=600) as browser:
        browser.open(page.as_uri())
        errors = browser.errors()
        assert any(e.startswith("console: on purpose") for e in errors), errors
        assert any(e.startswith("exception: ReferenceError: no_such_function") for e in errors), errors
        assert (tmp_path / "missing.png").as_uri() in browser.requests()
