"""The report of one exploration: JSON (everything), and Markdown: the violations and the
differences first, then the table segment x fault -> outcome per target."""

import json

from . import oracle

# A run's outcome in a table cell.
CELL = {"pass": "ok", "breaks": "breaks", "violation": "VIOLATION", "not acted": "no-act", "not run": "not run",
        "error": "error"}


def cell_outcome(result):
    """pass, breaks (a case assertion), violation, not acted, not run, error."""
    if result is None:
        return None
    if result["outcome"] == "skipped":
        return "not run"
    if result.get("acted") is False:
        return "not acted"
    if result["violations"]:
        return "violation"
    if result["outcome"] == "error" and not result.get("breaks"):
        return "error"
    return "breaks" if result.get("breaks") else "pass"


def write_json(path, report):
    with open(path, "w") as out:
        json.dump(report, out, indent=1, sort_keys=False)
        out.write("\n")


def _escape(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _only_here(values, target):
    """A field's value on `target` as the table shows it: of a list, only the items no other
    target has (what makes it differ); anything else whole."""
    mine = values[target]
    if not isinstance(mine, list):
        return str(mine)
    others = set().union(*(set(v) for t, v in values.items() if t != target and isinstance(v, list)))
    only = [item for item in mine if item not in others]
    return ("only " + ", ".join(only)) if only else "nothing the others lack"


def markdown(report):
    targets = report["targets"]
    lines = [f"# tcpfault explore: {report['case'] or report['test']}", "",
             f"Test `{report['test']}`, IPv{report['family']}, targets {', '.join(targets)}; faults "
             f"{', '.join(report['faults'])}" + (f"; {report['pairs']} pairs (seed {report['seed']})" if report['pairs'] else "")
             + f". {report['summary']['variants_run']} runs in {report['wall_s']:.0f} s.", ""]
    for target, conv in report["conversations"].items():
        lines.append(f"- {target}: {conv['segments']} segments, {len(conv['points'])} places for a fault"
                     + (f" ({len(conv['left_out'])} left out: of each sender's segments of one role, only the "
                        f"first and last {conv['limit']} are explored)" if conv["left_out"] else "") + ".")
    for target, seen in report.get("sight", {}).items():
        lines.append(f"- {target}: the case's assertions caught {seen['broke_the_case']} of the {seen['acted']} "
                     f"faults that acted; {len(seen['unseen_violations'])} broke an oracle rule while the case passed.")
    if report["not_run"]:
        lines.append(f"- not run (the --budget was spent): {len(report['not_run'])} variants.")
    lines += ["", "## Violations", ""]
    if report["violations"]:
        lines += ["| target | variant | rule | what | reproducer |", "|---|---|---|---|---|"]
        for v in sorted(report["violations"], key=lambda v: v.get("also_clean", False)):
            lines.append(f"| {v['target']} | `{v['variant']}` | {v['rule']} | {_escape(v['what'])} | "
                         f"{v.get('reproducer') or '(did not repeat)'}{' (the clean run too)' if v.get('also_clean') else ''} |")
    else:
        lines.append("None.")
    lines += ["", "## Differences between targets", ""]
    if report["differences"]:
        lines += ["| fault | role | fields | variants | representative | " + " | ".join(targets) + " | reproducers |",
                  "|---|---|---|---|---|" + "---|" * len(targets) + "---|"]
        for g in report["differences"]:
            rep = g["representative_fields"]
            per_target = [_escape("; ".join(f"{f}: {_only_here(rep[f], t)}" for f in rep)) for t in targets]
            lines.append(f"| {g['fault']} | {g['role']} | {', '.join(g['fields'])} | {len(g['variants'])} | "
                         f"`{g['representative']}` | " + " | ".join(per_target) + f" | {', '.join(g.get('reproducers', []))} |")
    elif len(targets) < 2:
        lines.append("One target: nothing to compare.")
    else:
        lines.append("None beyond those the clean run shows too.")
    lines += ["", "## Segment x fault", "",
              "Each cell: the outcome per target (" + ", ".join(f"{t}" for t in targets) + "): ok (the case passed, "
              "no rule broken), breaks (a case assertion failed), VIOLATION (an oracle rule), no-act (the fault "
              "never met its segment), not run (budget), - (does not apply).", ""]
    faults = report["faults"]
    lines += ["| segment | " + " | ".join(faults) + " |", "|---|" + "---|" * len(faults)]
    for point in report["points"]:
        cells = []
        for fault in faults:
            variant = f"{fault}@{point['key']}"
            outcomes = [cell_outcome(report["results"].get(t, {}).get(variant)) for t in targets]
            cells.append(" / ".join(CELL[o] if o else "-" for o in outcomes) if any(outcomes) else "-")
        lines.append(f"| {point['name']} | " + " | ".join(cells) + " |")
    broken = [(t, v, r["breaks"]) for t, rs in report["results"].items() for v, r in rs.items() if r.get("breaks")]
    lines += ["", "## The case's assertions each fault breaks", ""]
    lines += [f"- {t} `{v}`: {_escape(b)}" for t, v, b in broken] or ["None."]
    unstable = [r for r in report.get("reproducers", []) if r.get("unstable")]
    if unstable:
        lines += ["", "## Findings that did not repeat (no reproducer)", "",
                  "Each finding's run went once more; these did otherwise the second time (a race the fault "
                  "leaves open), so no reproducer could assert them.", ""]
        lines += [f"- {r['target']} `{r['variant']}`: {_escape(r['unstable'])}" for r in unstable]
    unjudged = [(t, v, r["harness_error"]) for t, rs in report["results"].items() for v, r in rs.items()
                if r.get("harness_error")]
    if unjudged:
        lines += ["", "## Runs the states rule could not judge", ""]
        lines += [f"- {t} `{v}`: {_escape(e)}" for t, v, e in unjudged]
    lines += ["", "## The oracle's rules", ""]
    lines += [f"- **{r.name}**: {r.says}. Basis: {r.basis}." for r in oracle.RULES]
    return "\n".join(lines) + "\n"
