"""tcpfault kernel-matrix: the conformance reports of several stacks side by side.

Each report is the JSON `tcpfault conformance --json FILE` wrote on one kernel (this
machine's, or one booted by `tcpfault vm`), against one target or several. The matrix has a
row per case and a column per stack: each kernel a report ran on, and each agent target
(lwip, gvisor) of a report; each cell sums up the case's tests there (both families, every
variant). Below it, every reason for a deviation or an n/a, said once with the stacks it
holds for, and every failure's first line. ci/kernel_matrix.sh makes the README's kernel
matrix with it, ci/target_matrix.sh its target matrix.
"""

import json
import re

from . import exit_codes
from .case_runs import NOT_APPLICABLE, case_sort_key

# The README's matrices sit between two such lines (--readme FILE replaces what is between).
SECTIONS = {"kernel-matrix": "ci/kernel_matrix.sh", "target-matrix": "ci/target_matrix.sh"}


def markers(section):
    return f"<!-- {section}: made by {SECTIONS[section]} -->", f"<!-- /{section} -->"


BEGIN, END = markers("kernel-matrix")


class MatrixError(ValueError):
    pass


def load(path):
    """One conformance report; a clear error for anything else."""
    try:
        with open(path) as f:
            report = json.load(f)
    except OSError as e:
        raise MatrixError(f"{path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise MatrixError(f"{path}: not JSON ({e}); give reports of tcpfault conformance --json FILE") from None
    if not isinstance(report, dict) or not isinstance(report.get("results"), list) or not report.get("kernel"):
        raise MatrixError(f"{path}: not a report of tcpfault conformance --json FILE (no kernel and results)")
    return report


def kernel_label(release):
    """"6.1.0-57-amd64" -> "6.1 (6.1.0-57-amd64)"."""
    match = re.match(r"\d+\.\d+", release)
    return f"{match.group(0)} ({release})" if match else release


def cell(rows):
    """What one kernel did with one case's tests: "pass", "deviation", "n/a", or the bad
    verdicts counted ("fail 2/4")."""
    verdicts = [r["verdict"] for r in rows]
    bad = [v for v in verdicts if v not in ("pass", "deviation", "n/a")]
    if bad:
        kinds = sorted(set(bad))
        return ", ".join(f"{k} {bad.count(k)}/{len(verdicts)}" for k in kinds)
    if "deviation" in verdicts:
        return "deviation"
    if "n/a" in verdicts:
        return "n/a" if all(v == "n/a" for v in verdicts) else "pass, n/a"
    return "pass"


def reason_of(row):
    if row["verdict"] == "deviation":
        return row.get("deviation") or "a known deviation"
    message = row.get("message") or ""
    if row["verdict"] == "n/a":
        return message[len(NOT_APPLICABLE):] if message.startswith(NOT_APPLICABLE) else message
    first = next((line for line in message.splitlines() if "expectation failed" in line or "Error" in line),
                 message.strip().splitlines()[0] if message.strip() else "")
    return re.sub(r"^E\s+", "", first.strip())[:300]  # pytest's "E   " before a failure's line


def totals(report):
    counts = {}
    for r in report["results"]:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    order = ("pass", "deviation", "n/a", "skip", "fail", "target failure", "error")
    said = ", ".join(f"{counts[v]} {v}" for v in order if v in counts)
    # On a virtual clock a run's duration is guest time: one scenario after another, every
    # wait in full, at no wall-time cost (README, "Virtual time").
    clock = " of virtual guest time" if report.get("clock") == "virtual" else ""
    return f"{said} in {report.get('duration_s', 0):.0f} s{clock}"


def columns(reports):
    """(label, report of that stack alone) for every kernel and agent target of the reports:
    a report against several targets gives a column per target."""
    out = []
    for report in reports:
        named = report.get("targets") or "kernel"
        targets = [named] if isinstance(named, str) else list(named)
        for target in targets:
            rows = [r for r in report["results"] if r.get("target", "kernel") == target]
            label = kernel_label(report["kernel"]) if target == "kernel" else target
            duration = report.get("target_durations_s", {}).get(target, report.get("duration_s", 0))
            out.append((label, {**report, "results": rows, "duration_s": duration}))
    labels = [label for label, _ in out]
    # The same agent on several kernels: say which kernel each column ran on.
    return [(f"{label} on {kernel_label(r['kernel']).split(' ')[0]}" if labels.count(label) > 1 and
             not label[0].isdigit() else label, r) for label, r in out]


def markdown(reports):
    """The matrix and the reasons, as Markdown."""
    kernels, reports = zip(*columns(reports)) if reports else ((), ())
    by_case = {}
    titles, main_titled = {}, set()
    for column, report in enumerate(reports):
        for row in report["results"]:
            by_case.setdefault(row["case"], [[] for _ in reports])[column].append(row)
            # The title of the case's main test (the catalogue's own), else of any of its tests.
            main = row.get("main", True)
            if row["case"] not in titles or (main and row["case"] not in main_titled):
                titles[row["case"]] = row.get("title", "")
            if main:
                main_titled.add(row["case"])
    lines = ["| case | title | " + " | ".join(kernels) + " |", "|---|---|" + "---|" * len(kernels)]
    for case in sorted(by_case, key=case_sort_key):
        cells = [cell(rows) if rows else "-" for rows in by_case[case]]
        lines.append(f"| {case} | {titles[case]} | " + " | ".join(cells) + " |")
    lines += ["", "| stack | tests |", "|---|---|"]
    lines += [f"| {label} | {totals(report)} |" for label, report in zip(kernels, reports)]

    reasons = {}  # (case, verdict, reason) -> kernels, in column order
    for label, report in zip(kernels, reports):
        for row in report["results"]:
            if row["verdict"] != "pass":
                kernels_of = reasons.setdefault((row["case"], row["verdict"], reason_of(row)), [])
                if label not in kernels_of:
                    kernels_of.append(label)
    if reasons:
        lines += ["", "Why a case is not a plain pass (on the stacks named; \"every stack\" when on all):", ""]
        for (case, verdict, reason), where in sorted(reasons.items(), key=lambda i: (case_sort_key(i[0][0]), i[0][1:])):
            on = "every stack" if len(where) == len(kernels) else ", ".join(k.split(" ")[0] for k in where)
            lines.append(f"- {case} {verdict} ({on}): {reason}")
    return "\n".join(lines) + "\n"


def replace_section(text, section, path="README", name="kernel-matrix"):
    """`text` with what lies between the named section's two lines replaced by `section`."""
    begin, end = markers(name)
    try:
        start = text.index(begin) + len(begin)
        stop = text.index(end, start)
    except ValueError:
        raise MatrixError(f"{path}: no matrix section: it needs the two lines {begin} and {end}") from None
    return text[:start] + "\n" + section + text[stop:]


def command(options):
    try:
        reports = [load(p) for p in options.reports]
        text = markdown(reports)
        if options.readme:
            with open(options.readme) as f:
                updated = replace_section(f.read(), text, options.readme, options.section)
            with open(options.readme, "w") as f:
                f.write(updated)
    except (MatrixError, OSError) as e:
        raise exit_codes.usage("kernel-matrix", str(e)) from None
    if options.markdown:
        with open(options.markdown, "w") as f:
            f.write(text)
    if not options.markdown and not options.readme:
        print(text, end="")
    return 0


def add_parser(commands):
    matrix = commands.add_parser(
        "kernel-matrix", help="the conformance reports of several kernels or targets side by side",
        usage="tcpfault kernel-matrix REPORT.json... [--markdown FILE] [--readme FILE [--section NAME]]",
        description="Read the JSON reports of tcpfault conformance --json FILE, one per kernel (this machine's or "
                    "one booted with tcpfault vm), each against one target or several, and print a case x stack "
                    "matrix as Markdown (a column per kernel and per agent target), with every reason for a "
                    "deviation or an n/a and every failure's first line.",
        **exit_codes.PARSER)
    matrix.add_argument("reports", nargs="+", metavar="REPORT.json", help="conformance reports, one per kernel")
    matrix.add_argument("--section", choices=sorted(SECTIONS), default="kernel-matrix",
                        help="the README section --readme replaces (default: kernel-matrix)")
    matrix.add_argument("--markdown", metavar="FILE", help="write the matrix to FILE instead of printing it")
    matrix.add_argument("--readme", metavar="FILE",
                        help=f"replace the matrix section of FILE (for kernel-matrix: between {BEGIN} and {END})")
    matrix.set_defaults(run=command)
