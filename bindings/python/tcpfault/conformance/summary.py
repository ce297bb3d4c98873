"""The end of a run: the table (a row per test: its case, full title and, per family or
target, verdict and duration), the reasons for deviations and not-applicable cases, every
failure in full, and the same table in Markdown and the rows in JSON."""

import datetime
import json
import re

from .. import guest_clock
from ..case_runs import NOT_APPLICABLE, SEVERITY, VERDICTS, VERDICTS_OK, case_sort_key

JSON_SCHEMA = "tcpfault-conformance/2"


def variant(row):
    """What tells a test from its case's others: its function and its parameters, the
    family left out ('test_hs3_server_unreachable[linear-0]')."""
    name = row["test"].split("::")[-1]
    base, _, params = name.partition("[")
    params = [p for p in params.rstrip("]").split("-") if p and p not in ("IPv4", "IPv6")] if params else []
    return base + (f"[{'-'.join(params)}]" if params else "")


def test_rows(rows):
    """[(case, title, variant)] in the catalogue's order, a case's main test first."""
    tests = {}
    for r in rows:
        key = (r["case"], variant(r))
        params = re.search(r"\[(.*)\]$", key[1])
        title = r["title"] + (f" [{params.group(1)}]" if params else "")
        tests.setdefault(key, (not r.get("main", False), title))
    order = sorted(tests, key=lambda k: (case_sort_key(k[0]), tests[k][0], k[1]))
    # A variant that shares its case's title is told apart by its test's name.
    shared = {}
    for case, v in order:
        shared.setdefault((case, tests[(case, v)][1]), []).append(v)
    named = []
    for case, v in order:
        title = tests[(case, v)][1]
        if len(shared[(case, title)]) > 1 and tests[(case, v)][0]:
            title += f" ({v.split('[')[0]})"
        named.append((case, title, v))
    return named


def cell_of(rows, case, v, column, column_of):
    found = [r for r in rows if r["case"] == case and variant(r) == v and column_of(r) == column]
    if not found:
        return None
    worst = max(found, key=lambda r: SEVERITY[r["verdict"]])
    return worst["verdict"], sum(r["duration_s"] for r in found)


def summary_table(rows, columns, column_of):
    tests = test_rows(rows)
    id_width = max([len(c) for c, _, _ in tests] + [4])
    cell = 24
    lines = ["  ".join([f"{'CASE':<{id_width}}"] + [f"{c:<{cell}}" for c in columns] + ["TITLE"])]
    for case, title, v in tests:
        cells = []
        for column in columns:
            found = cell_of(rows, case, v, column, column_of)
            cells.append(f"{'-':<{cell}}" if not found else f"{found[0]:<14} {found[1]:6.2f} s".ljust(cell))
        lines.append("  ".join([f"{case:<{id_width}}"] + cells + [title]))
    return "\n".join(lines)


def markdown_table(rows, columns, column_of):
    lines = ["| case | title | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for case, title, v in test_rows(rows):
        cells = []
        for column in columns:
            found = cell_of(rows, case, v, column, column_of)
            cells.append(found[0] if found else "-")
        lines.append(f"| {case} | {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def print_target_details(rows, target, several):
    """Deviations and not-applicable cases with their reasons, then every failure in full."""
    label = f" on {target}" if several else ""
    deviations = sorted({(r["case"], r["deviation"]) for r in rows if r["verdict"] == "deviation"},
                        key=lambda d: case_sort_key(d[0]))
    if deviations:
        print(f"\nknown deviations{label} (the case checks what the target really does, or fails the way "
              "the target's deviation list says):")
        for case_id, reason in deviations:
            print(f"  {case_id}: {reason}")
    not_applicable = sorted({(r["case"], r["message"][len(NOT_APPLICABLE):]) for r in rows if r["verdict"] == "n/a"},
                            key=lambda d: case_sort_key(d[0]))
    if not_applicable:
        print(f"\nnot applicable{label}:")
        for case_id, reason in not_applicable:
            print(f"  {case_id}: {reason}")
    bad = [r for r in rows if r["verdict"] not in VERDICTS_OK]
    for r in sorted(bad, key=lambda r: (case_sort_key(r["case"]), r["family"])):
        print(f"\n==== {r['case']} [{r['family']}{label}] {r['verdict']}: {r['title']}\n{r['message']}")


def counts_line(rows):
    counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in VERDICTS}
    return ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no test"


def sorted_rows(rows):
    return sorted(rows, key=lambda r: (case_sort_key(r["case"]), r["target"], r["test"]))


def report_of(targets, kernel, started, elapsed, rows, extra=None):
    """The run as the JSON report has it (the HTML report reads the same)."""
    return {"schema": JSON_SCHEMA, "targets": targets, "kernel": kernel,
            "started": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(),
            "duration_s": round(elapsed, 3), "clock": guest_clock.name(), **(extra or {}),
            "results": sorted_rows(rows)}


def write_json(path, report):
    with open(path, "w") as out:
        json.dump(report, out, indent=2)
