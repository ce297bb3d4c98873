"""The report of `tcpfault sysctl-check`: one JSON-ready dict, and its text.

Per setting line: what the kernel says of it. Per key: baseline and proposed values, the
cases that can show it, which of them set it themselves, the differences found, and a
risk note made of what the cases showed. Then every confirmed behavioural difference,
what ran without one, and what differed between runs of the same setting (noise).
"""

import platform
import textwrap

from .cli import case_sort_key
from .sysctl_diff import shown, without_addresses

_STATUS = {
    "malformed": "MALFORMED", "unknown": "UNKNOWN KEY", "removed": "REMOVED", "refused": "REFUSED",
    "read_only": "READ-ONLY", "unreadable": "UNREADABLE", "not_per_netns": "NOT PER NAMESPACE",
    "not_checked": "NOT CHECKED",
}


def _families(results):
    return sorted({r.family for r in results})


def _by_case(results):
    out = {}
    for r in results:
        out.setdefault(r.case, []).append(r)
    return out


def _pinned_for(key, results):
    """{case: {host: [values]}} for the cases that set `key` themselves."""
    out = {}
    for r in results:
        for name, values in r.pinned().items():
            host, _, pinned_key = name.partition(" ")
            if pinned_key == key:
                out.setdefault(r.case, {})[host] = values
    return out


def _change_line(result, short=False):
    """What changed in one test, in a line."""
    b, p = result.baseline[0], result.proposal[0]
    if result.verdict_changed and short:
        failed = p if p.verdict not in ("pass", "deviation") else b
        side = "the proposal" if failed is p else "the baseline"
        return f"fails under {side}: {failed.in_short()}"
    if result.verdict_changed:
        return f"baseline {b.describe()}; proposal {p.describe()}"
    changes = "; ".join(f"{label}: {shown(bv)} -> {shown(pv)}" for label, bv, pv in result.observations[:2 if short else 3])
    return f"shows {changes}" if short else changes


def _recorded(result):
    """The case's own observations under the proposal, as 'label = value' text."""
    obs = result.proposal[0].observations
    return "; ".join(f"{label} = {shown(v)}" for label, v in obs.items() if v.get("recorded"))


def _pinning_tests(key, results):
    """{test function: (a result of it, {host: [values it set]})} for tests that set `key`."""
    out = {}
    for r in results:
        hosts = {name.partition(" ")[0]: values for name, values in r.pinned().items()
                 if name.partition(" ")[2] == key}
        if hosts:
            out.setdefault(r.variant.split("[")[0], (r, hosts))
    return out


def _risk(key, info, results, differences, not_run):
    """A short note on what the cases showed about this key's proposed value."""
    if not info["changed"]:
        return "unchanged: the baseline has the same value, nothing to run"
    if not info["cases"]:
        return info["not_shown"] or "no case covers it: what it changes is not shown by this check"
    covered = [r for r in results if r.case in info["cases"]]
    notes = []
    changed = _by_case([d for d in differences if d.case in info["cases"]])
    for case, found in sorted(changed.items(), key=lambda item: case_sort_key(item[0])):
        notes.append(f"{case} ({found[0].title}) {_change_line(found[0], short=True)}")

    proposed = " ".join(info["proposal"].split())
    as_proposed, elsewhere = [], {}
    for r, hosts in _pinning_tests(key, covered).values():
        values = [" ".join(v.split()) for vs in hosts.values() for v in vs]
        if proposed in values:
            verdict = "passes" if r.proposal[0].verdict in ("pass", "deviation") else "fails"
            seen = _recorded(r)
            as_proposed.append(f"{r.case} ({r.title}) {verdict}" + (f": {seen}" if seen else ""))
        else:
            elsewhere.setdefault(r.case, {}).update(dict.fromkeys(values))
    if as_proposed:
        notes.append("tests that set the proposed value themselves show what it does: " + "; ".join(as_proposed))
    if elsewhere:
        notes.append("tests that set other values themselves, which the proposal does not reach: " +
                     ", ".join(f"{case} ({', '.join(values)})" for case, values in elsewhere.items()))
    pinned_everywhere = {r.case for r in covered} - {r.case for r in covered if not _pinning_tests(key, [r])}
    quiet = sorted({r.case for r in covered} - set(changed) - pinned_everywhere, key=case_sort_key)
    if quiet:
        notes.append("no behavioural difference in " + ", ".join(quiet))
    for case in sorted(set(info["cases"]) & set(not_run), key=case_sort_key):
        notes.append(f"{case} not run: {not_run[case]}")
    if not (changed or as_proposed or quiet):
        notes.append(f"so no case run here shows what {proposed} does")
    return "; ".join(notes)


def build(options, started_at, proposal, baseline, keys, results, not_run, timings, log_dir):
    differences = [r for r in results if r.changed and r.confirmed]
    noise = [r for r in results if r.unstable or (r.changed and not r.confirmed)]
    key_reports = {}
    for key, info in keys.items():
        covered = [r for r in results if r.case in info["cases"]]
        key_reports[key] = {
            **info,
            "pinned_by": _pinned_for(key, covered),
            "differences": sorted({d.case for d in differences if d.case in info["cases"]}),
            "risk": _risk(key, info, results, differences, not_run),
        }
    return {
        "kernel": platform.release(),
        "started": started_at,
        "proposal": options.proposed,
        "baseline": {"kind": baseline.kind, "description": baseline.label,
                     "host_differs_from_defaults": {k: {"host": h, "default": d}
                                                    for k, (h, d) in baseline.host_differs.items()}},
        "settings": [s.to_json() for s in proposal],
        "baseline_settings": [s.to_json() for s in baseline.settings],
        "keys": key_reports,
        "runs": {"families": _families(results), "tests": timings.get("tests", 0),
                 "wall_s": round(timings.get("run_s", 0.0), 3),
                 "confirm_tests": timings.get("confirm_tests", 0),
                 "confirm_wall_s": round(timings.get("confirm_s", 0.0), 3),
                 "not_run": not_run, "logs": log_dir},
        "differences": [r.to_json() for r in sorted(differences, key=lambda r: (case_sort_key(r.case), r.variant))],
        "unchanged": sorted({r.case for r in results} - {r.case for r in differences}, key=case_sort_key),
        "noise": [{"case": r.case, "test": r.variant, "family": r.family,
                   "differed": [{"what": w, "baseline": b, "proposal": p} for w, b, p in r.unstable]
                   or [{"what": "not confirmed", "baseline": [], "proposal": []}]}
                  for r in noise],
        "fail_on": options.fail_on,
    }


# ---- text ----

def _wrap(text, indent):
    return textwrap.fill(text, width=110, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False, break_long_words=False)


def _overridden_by_another_value(s, settings):
    later = [o for o in settings if s["overridden_by"] == (f"{o['source']}:{o['line']}")]
    return bool(later) and " ".join(later[0]["value"].split()) != " ".join(s["value"].split())


def _settings_text(title, settings):
    problems = [s for s in settings if s["status"] != "ok" or
                (s["overridden_by"] and _overridden_by_another_value(s, settings))]
    if not problems:
        return []
    lines = [title]
    for s in problems:
        where = f"{s['source']}:{s['line']}" if s["line"] else s["source"]
        shown_line = f"{s['key']} = {s['value']}" if s["key"] else ""
        lines.append(f"  {where}  {shown_line}".rstrip())
        if s["status"] != "ok":
            lines.append(_wrap(f"{_STATUS.get(s['status'], s['status'].upper())}: {s['message']}", "      "))
        else:
            lines.append(f"      overridden by {s['overridden_by']}, which sets another value")
    return lines + [""]


def _keys_text(keys):
    if not keys:
        return ["No valid per-namespace setting in the proposal: nothing to run.", ""]
    width = max(len(k) for k in keys)
    lines = ["Keys", f"  {'KEY':<{width}}  {'BASELINE':<14}  {'PROPOSAL':<14}  CASES THAT CAN SHOW IT"]
    for key, info in keys.items():
        if not info["changed"]:
            cases = "unchanged: not run"
        elif not info["cases"]:
            cases = "none" + (" (see the note)" if info["not_shown"] else "")
        else:
            cases = " ".join(info["cases"])
            if info["pinned_by"]:
                cases += f" (tests of {', '.join(sorted(info['pinned_by'], key=case_sort_key))} set it themselves)"
        lines.append(f"  {key:<{width}}  {' '.join(info['baseline'].split()):<14}  "
                     f"{' '.join(info['proposal'].split()):<14}  {cases}")
    return lines + [""]


def _difference_text(found):
    first = found[0]
    fams = ", ".join(sorted(d["family"] for d in found))
    lines = [f"  {first['case']} [{fams}] {first['title']}"]
    if first["verdict_changed"]:
        for side in ("baseline", "proposal"):
            v = first[side]
            text = "passes" if v["verdict"] in ("pass", "deviation") else f"{v['verdict']}s: {v['failure']}"
            lines.append(_wrap(f"{side}: {text}", "      "))
    for o in first["observations"][:6]:
        lines.append(_wrap(f"{o['what']}: {o['baseline']} -> {o['proposal']}", "      "))
    if len(first["observations"]) > 6:
        lines.append(f"      ... {len(first['observations']) - 6} more in the JSON report")
    return lines


def text(report):
    runs = report["runs"]
    out = [f"tcpfault sysctl-check {' '.join(report['proposal'])}",
           f"baseline: {report['baseline']['description']}"]
    for key, d in report["baseline"]["host_differs_from_defaults"].items():
        out.append(f"  the host differs from a fresh namespace: {key} = {d['host']} (default {d['default']})")
    out.append("")
    out += _settings_text("Lines to look at", report["settings"])
    out += _settings_text("Baseline lines to look at", report["baseline_settings"])
    out += _keys_text(report["keys"])

    if runs["tests"]:
        head = (f"Behaviour: {runs['tests']} test runs ({', '.join(runs['families'])}; baseline and proposal) "
                f"in {runs['wall_s']:.1f} s")
        if runs["confirm_tests"]:
            head += f", differences confirmed by {runs['confirm_tests']} more in {runs['confirm_wall_s']:.1f} s"
        out.append(head)
        grouped = {}
        for d in report["differences"]:
            grouped.setdefault((d["case"], d["test"].split("[")[0], repr(d["verdict_changed"]), repr(d["observations"]),
                                without_addresses(d["proposal"]["failure"])), []).append(d)
        if not grouped:
            out.append("  no behavioural difference")
        for found in grouped.values():
            out += _difference_text(found)
        if report["unchanged"]:
            out.append(_wrap("no difference: " + " ".join(report["unchanged"]), "  "))
        for case, why in runs["not_run"].items():
            out.append(f"  {case}: {why}")
        if report["noise"]:
            noisy = " ".join(dict.fromkeys(f"{n['case']}" for n in report["noise"]))
            out.append(_wrap(f"not counted: {len(report['noise'])} test(s) of {noisy} differed between runs of the "
                             "same setting (timing-dependent details; the JSON report has the values)", "  "))
        out.append("")

    notes = [(k, i) for k, i in report["keys"].items() if i["changed"]]
    if notes:
        out.append("Risk notes (from what the cases showed)")
        for key, info in notes:
            out.append(_wrap(f"{key} = {' '.join(info['proposal'].split())} (baseline "
                             f"{' '.join(info['baseline'].split())}): {info['risk']}", "  "))
        out.append("")

    invalid = [s for s in report["settings"] + report["baseline_settings"] if s["invalid"]]
    verdict_changes = {d["case"] for d in report["differences"] if d["verdict_changed"]}
    if report["differences"]:
        summary = (f"{len({d['case'] for d in report['differences']})} case(s) behave differently"
                   f" ({len(verdict_changes)} change verdict)")
    elif not any(k["changed"] for k in report["keys"].values()):
        summary = "no change: the proposal gives every key the baseline's value"
    else:
        summary = "no behavioural change"
    if invalid:
        summary += f"; {len(invalid)} invalid line(s)"
    out.append(f"Result: {summary} -> exit {report['exit_status']} (--fail-on {report['fail_on']}; "
               f"logs in {runs['logs']})")
    return "\n".join(out)
