"""tcpfault merge: the reports of a sharded run (`conformance --shard K/N` on N machines)
joined into one: the JSON reports into one report and its table, the JUnit files into one
file. The exit status is the joined run's (tcpfault.exit_codes): 1 when any test failed,
and 2 when the reports cannot be joined (a test in two of them, another kernel, not a
report)."""

import json
import os
import xml.etree.ElementTree as ElementTree

from . import exit_codes, preflight
from .case_runs import VERDICTS_OK
from .conformance import summary

COMMAND = "merge"


def load(path):
    try:
        with open(path) as f:
            report = json.load(f)
        report["results"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise exit_codes.usage(COMMAND, f"{path}: not a conformance JSON report ({e})") from None
    return report


def join(paths):
    reports = [load(p) for p in paths]
    kernels = sorted({r.get("kernel") for r in reports})
    if len(kernels) > 1:
        raise exit_codes.usage(COMMAND, f"the reports come from different kernels ({', '.join(map(str, kernels))}): "
                                        "merge the shards of one run")
    seen, rows = {}, []
    for path, report in zip(paths, reports):
        for row in report["results"]:
            key = (row["test"], row["target"])
            if key in seen:
                raise exit_codes.usage(COMMAND, f"{row['test']} on {row['target']} is in both {seen[key]} and {path}: "
                                                "each test must come from one shard")
            seen[key] = path
            rows.append(row)
    targets = []
    for report in reports:
        targets += [t for t in report.get("targets", []) if t not in targets]
    started = min((r.get("started", "") for r in reports), default="")
    return {"schema": summary.JSON_SCHEMA, "targets": targets, "kernel": kernels[0] if kernels else None,
            "started": started, "duration_s": round(max((r.get("duration_s", 0) for r in reports), default=0), 3),
            "clock": reports[0].get("clock", "real") if reports else "real",
            "merged_from": [os.path.abspath(p) for p in paths], "results": summary.sorted_rows(rows)}


def join_junit(paths, out):
    merged = ElementTree.Element("testsuites")
    for path in paths:
        try:
            root = ElementTree.parse(path).getroot()
        except (OSError, ElementTree.ParseError) as e:
            raise exit_codes.usage(COMMAND, f"{path}: not a JUnit XML file ({e})") from None
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        merged.extend(suites)
    for key in ("tests", "failures", "errors", "skipped"):
        merged.set(key, str(sum(int(s.get(key, 0)) for s in merged)))
    ElementTree.ElementTree(merged).write(out, encoding="utf-8", xml_declaration=True)


def command(options):
    if not options.reports and not options.junit_in:
        raise exit_codes.usage(COMMAND, "give the JSON reports to join (and --junit-in FILE for JUnit files)")
    preflight.output_file(COMMAND, "--json", options.json)
    preflight.output_file(COMMAND, "--junit", options.junit)
    if options.junit_in and not options.junit:
        raise exit_codes.usage(COMMAND, "--junit-in needs --junit OUT (where the joined JUnit goes)")
    status = exit_codes.OK
    if options.reports:
        report = join(options.reports)
        rows = report["results"]
        several = len(report["targets"]) > 1
        families = sorted({r["family"] for r in rows})
        if several:
            columns, column_of = report["targets"], (lambda r: r["target"])
        else:
            columns, column_of = families, (lambda r: r["family"])
        print(summary.summary_table(rows, columns, column_of))
        print(f"\n{summary.counts_line(rows)}: {len(options.reports)} report(s) joined")
        if options.json:
            with open(options.json, "w") as f:
                json.dump(report, f, indent=2)
        if any(r["verdict"] not in VERDICTS_OK for r in rows):
            status = exit_codes.FAILED
    if options.junit_in:
        join_junit(options.junit_in, options.junit)
    return status


def add_parser(commands):
    merge = commands.add_parser(
        COMMAND, help="join the reports of sharded runs",
        usage="tcpfault merge REPORT.json... [--json OUT] [--junit-in FILE ... --junit OUT]",
        description="Join the JSON reports (and JUnit files) of `tcpfault conformance --shard K/N` runs into one "
                    "report and print its table, as one run would have.",
        **exit_codes.PARSER)
    merge.add_argument("reports", nargs="*", metavar="REPORT.json", help="conformance --json reports")
    merge.add_argument("--json", metavar="OUT", help="write the joined JSON report")
    merge.add_argument("--junit-in", action="append", default=[], metavar="FILE", help="a JUnit file to join")
    merge.add_argument("--junit", metavar="OUT", help="write the joined JUnit XML")
    merge.set_defaults(run=command)
