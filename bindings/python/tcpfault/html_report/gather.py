"""What the HTML report shows, gathered from the conformance run's report (the document
`tcpfault conformance --json` writes) and each test's artifacts: the case x (target, family)
table, the filters' choices, and per test its verdict, reasons, links and timeline."""

import json
import os
import pathlib
import re
import urllib.parse

from ..case_runs import SEVERITY, VERDICTS, VERDICTS_OK, case_sort_key
from .ladder_svg import render as render_ladder

FAMILIES = ("IPv4", "IPv6")


def group_of(case_id):
    """A case's group: the letters of its id (CL2 -> CL)."""
    match = re.match(r"[A-Za-z]+", case_id or "")
    return match.group(0) if match else "-"


def artifact_link(path, report_dir):
    """(href, where) for an artifact: a relative link when it is in the report's folder or
    below ("beside": the two move together); else an absolute file:// link, valid on the
    machine that ran the suite ("elsewhere"); no link when the test wrote none ("not
    written", as a case that cannot apply) or the file has gone since ("gone"). ("removed":
    what a run without --artifacts removes after the reports, see _test_of.)"""
    if not path:
        return None, "not written"
    absolute = os.path.abspath(path)
    if not os.path.isfile(absolute):
        return None, "gone"
    relative = os.path.relpath(absolute, report_dir)
    if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
        return urllib.parse.quote(relative.replace(os.sep, "/")), "beside"
    return pathlib.Path(absolute).as_uri(), "elsewhere"


def load_timeline(path):
    """A test's timeline, or (None, why not)."""
    if not path:
        return None, "this test wrote no timeline"
    try:
        with open(path, encoding="utf-8") as source:
            return json.load(source), ""
    except FileNotFoundError:
        return None, f"its timeline {path} is gone (its folder was removed)"
    except (OSError, ValueError) as error:
        return None, f"its timeline {path} could not be read: {error}"


def columns_of(report, results):
    """(target, family) pairs, in the run's order of targets and then IPv4, IPv6."""
    targets = list(report.get("targets") or []) or sorted({r["target"] for r in results})
    families = [f for f in FAMILIES if any(r["family"] == f for r in results)]
    families += sorted({r["family"] for r in results} - set(FAMILIES))
    return [(t, f) for t in targets for f in families if any(r["target"] == t and r["family"] == f for r in results)]


def cell_of(tests):
    """The table's cell for a case's tests in one column: the worst verdict, how many tests, their time."""
    if not tests:
        return None
    verdict = max((t["verdict"] for t in tests), key=lambda v: SEVERITY.get(v, len(VERDICTS)))
    return {"verdict": verdict, "tests": len(tests), "duration_s": round(sum(t["duration_s"] for t in tests), 3)}


def _test_of(row, number, report_dir, artifacts_kept):
    links = {}
    # A run without --artifacts removes what passed once the reports are written.
    removed = not artifacts_kept and row.get("verdict") in VERDICTS_OK
    for kind in ("pcapng", "json"):
        path = row.get("artifacts", {}).get(kind)
        href, where = (None, "removed") if removed and path else artifact_link(path, report_dir)
        links[kind] = {"href": href, "where": where}
    # Drawn now and kept as text: a full run's timelines together would not fit in memory.
    timeline, missing = load_timeline(row.get("artifacts", {}).get("json"))
    segments = sum(1 for e in timeline.get("events", []) if e.get("type") == "segment") if timeline else 0
    return {
        "number": number,
        "test": row.get("test", ""),
        "title": row.get("title", ""),
        "main": row.get("main", False),
        "family": row.get("family", "-"),
        "target": row.get("target", ""),
        "verdict": row.get("verdict", ""),
        "duration_s": row.get("duration_s", 0.0),
        "sysctls": row.get("sysctls") or {},
        "deviation": row.get("deviation") or "",
        "message": row.get("message") or "",
        "links": links,
        "ladder": render_ladder(timeline) if timeline else None,
        "ladder_missing": missing,
        "segments": segments,
    }


def page_model(report, report_path, artifacts_kept=True):
    """The page's model: run facts, columns, cases with their cells and tests, filters."""
    results = list(report.get("results", []))
    report_dir = os.path.dirname(os.path.abspath(report_path))
    columns = columns_of(report, results)
    by_case = {}
    for row in results:
        by_case.setdefault(row["case"], []).append(row)
    cases = []
    number = 0
    for case_id in sorted(by_case, key=case_sort_key):
        # The main test first; a test's runs side by side in the table's column order.
        rows = sorted(by_case[case_id], key=lambda r: (not r.get("main", False), r.get("test", "").split("[")[0],
                                                       columns.index((r["target"], r["family"])), r.get("test", "")))
        tests = []
        for row in rows:
            tests.append(_test_of(row, number, report_dir, artifacts_kept))
            number += 1
        main = rows[0]
        cells = [cell_of([t for t in tests if (t["target"], t["family"]) == column]) for column in columns]
        searchable = " ".join([case_id, main.get("title", ""), main.get("ref", "")]
                              + [t["test"] + " " + t["title"] + " " + t["deviation"] + " " + t["message"]
                                 for t in tests])
        cases.append({"id": case_id, "group": group_of(case_id), "title": main.get("title", ""),
                      "ref": main.get("ref", ""), "cells": cells, "tests": tests, "text": searchable.lower()})
    counts = {v: sum(1 for r in results if r.get("verdict") == v) for v in VERDICTS}
    links = [t["links"][k]["where"] for c in cases for t in c["tests"] for k in t["links"]]
    return {
        "run": {key: report.get(key) for key in ("targets", "kernel", "started", "duration_s", "clock",
                                                 "interrupted", "shard")},
        "columns": columns,
        "cases": cases,
        "counts": {v: n for v, n in counts.items() if n},
        "filters": filters_of(cases, columns),
        "links": {where: links.count(where) for where in ("beside", "elsewhere", "removed", "gone")
                  if where in links},
    }


def filters_of(cases, columns):
    """The choices each filter offers: only what the run has, in the table's order."""
    verdicts = {t["verdict"] for c in cases for t in c["tests"]}
    groups = []
    for c in cases:
        if c["group"] not in groups:
            groups.append(c["group"])
    return {
        "verdict": [v for v in VERDICTS if v in verdicts] + sorted(verdicts - set(VERDICTS)),
        "group": groups,
        "family": [f for f in dict.fromkeys(f for _, f in columns)],
        "target": [t for t in dict.fromkeys(t for t, _ in columns)],
    }
