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


def shown(values, target):
    """A field's value on `target` as the table shows it: of a list, what makes it differ
    (the items it has that not every target has, and those it lacks that another has);
    anything else whole."""
    mine = values[target]
    if not isinstance(mine, list):
        return str(mine)
    lists = [set(v) for v in values.values() if isinstance(v, list)]
    common, anywhere = set.intersection(*lists), set.union(*lists)
    has = [item for item in mine if item not in common]
    lacks = sorted(anywhere - set(mine))
    said = (["has " + ", ".join(has)] if has else []) + (["lacks " + ", ".join(lacks)] if lacks else [])
    return "; ".join(said) if said else "as the others"


def _known(found):
    """The findings file's classes for a finding: "stack-bug: lwip-tw-rst-to-syn-ack", or NEW."""
    return "NEW" if not found else ", ".join(f"{k['class']}: {k['id']}" for k in found)


def _group_table(groups, targets):
    lines = ["| fault | role | fields | variants | representative | " + " | ".join(targets) + " | known | reproducers |",
             "|---|---|---|---|---|" + "---|" * len(targets) + "---|---|"]
    for g in sorted(groups, key=lambda g: bool(g.get("known"))):
        rep = g["representative_fields"]
        raced = set(g.get("raced_fields", []))
        per_target = [_escape("; ".join(f"{f}{' (raced)' if f in raced else ''}: {shown(rep[f], t)}" for f in rep))
                      for t in targets]
        lines.append(f"| {g['fault']} | {g['role']} | {', '.join(g['fields'])} | {len(g['variants'])} | "
                     f"`{g['representative']}` | " + " | ".join(per_target) + f" | {_known(g.get('known'))} | "
                     f"{', '.join(g.get('reproducers', []))} |")
    return lines


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
    summary = report["summary"]
    by_class = ", ".join(f"{n} {k}" for k, n in sorted(summary.get("known_by_class", {}).items()))
    lines.append(f"- {summary['violations']} violations ({summary.get('new_violations', summary['violations'])} new), "
                 f"{summary['difference_groups']} difference groups "
                 f"({summary.get('new_difference_groups', summary['difference_groups'])} new"
                 + (f", {summary['raced_difference_groups']} races" if summary.get("raced_difference_groups") else "")
                 + ")"
                 + (f", {summary['met_apart']} variants not compared (the fault met another segment on each "
                    "target)" if summary.get("met_apart") else "")
                 + (f"; known ({report.get('options', {}).get('known')}): {by_class}" if by_class else "") + ".")
    lines += ["", "## Violations", ""]
    if report["violations"]:
        lines += ["| target | variant | rule | what | known | reproducer |", "|---|---|---|---|---|---|"]
        for v in sorted(report["violations"], key=lambda v: (bool(v.get("known")), v.get("also_clean", False))):
            lines.append(f"| {v['target']} | `{v['variant']}` | {v['rule']} | {_escape(v['what'])} | "
                         f"{_known(v.get('known'))} | "
                         f"{v.get('reproducer') or '(did not repeat)'}{' (the clean run too)' if v.get('also_clean') else ''} |")
    else:
        lines.append("None.")
    lines += ["", "## Differences between targets", ""]
    stable = [g for g in report["differences"] if not g.get("raced")]
    raced = [g for g in report["differences"] if g.get("raced")]
    if stable:
        lines += _group_table(stable, targets)
    elif len(targets) < 2:
        lines.append("One target: nothing to compare.")
    else:
        lines.append("None beyond those the clean run shows too.")
    if raced:
        lines += ["", "## Differences that did not repeat (races)", "",
                  "The representative ran a second time on every target, and each of these fields took another "
                  "value on some target: a race the fault leaves open (which of two segments a stack takes first, "
                  "whether a call returns before a reset), or where the case's own random faults fell (the second "
                  "run draws another sequence of their seed), not a difference of the stacks.", ""]
        lines += _group_table(raced, targets)
    if report.get("met_apart"):
        lines += ["", "## Not compared: the fault met another segment on each target", "",
                  "A place is named by its ordinal in the clean run; where the targets' conversations differ, "
                  "the same variant can act on another kind of segment on each (a third pure ACK that is the "
                  "final ACK on one). What it did there is not the same fault, so these are not compared.", ""]
        lines += [f"- `{m['variant']}`: " + "; ".join(f"{t} {', '.join(k or 'nothing' for k in m['met'][t])}"
                                                      for t in targets) for m in report["met_apart"]]
    met = {}
    for finding in report["violations"] + report["differences"]:
        for k in finding.get("known", []):
            met.setdefault(k["id"], k)
    if met:
        lines += ["", "## Known findings met", ""]
        lines += [f"- **{k['id']}** ({k['class']}, {k['target']}): {_escape(k['why'])} Evidence: {_escape(k['evidence'])}"
                  for k in met.values()]
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
