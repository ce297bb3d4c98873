"""The report of `tcpfault sysctl-check`: one JSON-ready dict, and its text.

Per setting line: what the kernel says of it. Per key: baseline and proposed values, the
cases that can show it, which of them set it themselves (overridden), every confirmed
behavioural difference its runs showed - each side in words, from what the case recorded
and its verdict - what ran without one, and a risk note made of what the cases showed.
Then what differed between runs of the same setting (noise).
"""

import platform
import re
import textwrap

from .. import guest_clock
from ..case_runs import case_sort_key
from .diff import shown

_TIME = re.compile(r"^-?[0-9.]+ m?s$")
_STATUS = {
    "malformed": "MALFORMED", "unknown": "UNKNOWN KEY", "removed": "REMOVED", "refused": "REFUSED",
    "read_only": "READ-ONLY", "unreadable": "UNREADABLE", "not_per_netns": "NOT PER NAMESPACE",
    "not_checked": "NOT CHECKED",
}


def _families(results):
    return sorted({r.family for r in results})


def _pinned_for(key, results):
    """{case: {host: [values it asked for]}} for the cases that set `key` themselves."""
    out = {}
    for r in results:
        for name, values in r.pinned().items():
            host, _, pinned_key = name.partition(" ")
            if pinned_key == key:
                out.setdefault(r.case, {})[host] = values
    return out


def _risk_clause(result, values):
    """One case's difference in a clause: 'TW3 (title): label EADDRNOTAVAIL -> ok; the case
    fails with 2, passes with 1'."""
    recorded = [o for o in result.observations if (o[1] or o[2] or {}).get("recorded")]
    changes = [f"{label} {shown(b)} -> {shown(p)}" for label, b, p in recorded or result.observations[:3]]
    if result.verdict_changed:
        verdicts = [f"{'passes' if run.verdict in ('pass', 'deviation') else 'fails'} with {value}"
                    for run, value in ((result.baseline[0], values[0]), (result.proposal[0], values[1]))]
        changes.append("the case " + " and ".join(verdicts))
    variant = _parameters(result.variant)
    return f"{result.case} ({result.title}{'; ' + variant if variant else ''}): " + ", ".join(changes)


def _failing_alike(results):
    """{case: 'where and what'} for the tests that fail the same way under both settings: the
    key's two values make no difference there, and neither lets the case's scenario pass."""
    out = {}
    for r in results:
        run = r.baseline[0]
        if run.verdict in ("fail", "error") and r.proposal[0].verdict == run.verdict and r.case not in out:
            plain = run.failure.startswith("assert ")  # a bare assert's text is only values
            out[r.case] = f"fails at {run.where}" if plain and run.where else f"fails: {run.in_short()}"
    return out


def _risk(key, info, results, differences, not_run):
    """A short note on what the cases showed about this key's proposed value."""
    if not info["changed"]:
        return "unchanged: the baseline has the same value, nothing to run"
    if not info["cases"]:
        return info["not_shown"] or "no case covers it: what it changes is not shown by this check"
    values = (" ".join(info["baseline"].split()), " ".join(info["proposal"].split()))
    ran = [r for r in results if r.key == key]
    found = [d for d in differences if d.key == key]
    notes, seen = [], set()
    for d in sorted(found, key=lambda d: case_sort_key(d.case)):
        test = d.variant.replace(d.family, "")
        if test not in seen:  # the other family says the same, but for a few ms
            seen.add(test)
            notes.append(_risk_clause(d, values))
    quiet = sorted({r.case for r in ran} - {d.case for d in found}, key=case_sort_key)
    if quiet:
        notes.append(f"no behavioural difference in {', '.join(quiet)} (their runs with {values[0]} and with "
                     f"{values[1]} agree)")
    alike = _failing_alike([r for r in ran if not r.changed])
    pinning = _pinned_for(key, [r for r in ran if r.case in alike])
    for case in alike:
        asked = "; ".join(", then ".join(v) for v in pinning.get(case, {}).values())
        notes.append(f"{case} fails under both alike" + (f": its scenario needs the value it sets itself ({asked})"
                                                         if asked else ""))
    for case in sorted(set(info["cases"]) & set(not_run), key=case_sort_key):
        notes.append(f"{case} not run: {not_run[case]}")
    if not ran:
        notes.append(f"so no case run here shows what {values[1]} does")
    return "; ".join(notes)


def build(options, started_at, proposal, baseline, keys, results, not_run, timings, log_dir):
    differences = [r for r in results if r.changed and r.confirmed]
    noise = [r for r in results if r.unstable or (r.changed and not r.confirmed)]
    key_reports = {}
    for key, info in keys.items():
        ran = [r for r in results if r.key == key]
        key_reports[key] = {
            **info,
            "pinned_by": _pinned_for(key, ran),
            "differences": sorted({d.case for d in differences if d.key == key}, key=case_sort_key),
            "no_difference": sorted({r.case for r in ran} - {d.case for d in differences if d.key == key},
                                    key=case_sort_key),
            "failing_alike": _failing_alike([r for r in ran if not r.changed]),
            "risk": _risk(key, info, results, differences, not_run),
        }
    order = list(keys)
    return {
        "kernel": platform.release(),
        "started": started_at,
        "clock": guest_clock.name(),
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
        "differences": [r.to_json() for r in sorted(differences, key=lambda r: (
            order.index(r.key) if r.key in order else len(order), case_sort_key(r.case), r.variant))],
        "noise": [{"key": r.key, "case": r.case, "test": r.variant, "family": r.family,
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
                cases += (f" ({', '.join(sorted(info['pinned_by'], key=case_sort_key))} set it themselves: "
                          "overridden)")
        lines.append(f"  {key:<{width}}  {_value(info['baseline']):<14}  {_value(info['proposal']):<14}  {cases}")
    return lines + [""]


def _value(text):
    return " ".join((text or "").split())


def _pin_line(found, key):
    """'the case sets it itself (client 0, then 1): the runs used the setting's value'."""
    asked = [f"{name.partition(' ')[0]} {', then '.join(values)}" for name, values in found["pinned"].items()
             if name.partition(" ")[2] == key]
    if not asked:
        return []
    return [_wrap(f"the case sets it itself ({'; '.join(asked)}), overridden: each run used its setting's value",
                  "      ")]


def _signature(d):
    """What two families must share to be shown as one: the observations' labels and values
    (times aside: they differ by a few ms), the verdicts and where each side failed."""
    seen = tuple((o["what"], _TIME.sub("", o["baseline"]), _TIME.sub("", o["proposal"])) for o in d["observations"])
    where = ("varies",) if d["failure_points"] else (d["baseline"]["failed_at"], d["proposal"]["failed_at"])
    return (d["key"], d["case"], d["test"].split("[")[0], _parameters(d["test"]), d["verdict_changed"], seen, where)


def _parameters(test):
    """'linear-0' of 'test_x.py::test_hs3[IPv4-linear-0]': what tells a test's variants apart."""
    inner = test.partition("[")[2].rstrip("]")
    return "-".join(p for p in inner.split("-") if p not in ("IPv4", "IPv6"))


def _difference_text(found, info):
    first = found[0]
    fams = ", ".join(sorted(d["family"] for d in found) + [p for p in [_parameters(first["test"])] if p])
    lines = [f"  {first['case']} [{fams}] {first['title']}"] + _pin_line(first, first["key"])
    for side in ("baseline", "proposal"):
        lines.append(_wrap(f"{side} {_value(info[side])}: {first[side]['in_words']}", "      "))
    if first["failure_points"]:
        lines.append(_wrap("(the failing side failed at different points over its runs: a race its scenario "
                           "leaves open; the JSON report has them)", "      "))
    # What the scenario showed by itself; not what one side never reached because it had failed.
    stopped = {side for side in ("baseline", "proposal") if first[side]["verdict"] in ("fail", "error")}
    others = [o for o in first["observations"] if not o["recorded"]
              and not any(o[side] == "-" for side in stopped)]
    if others:
        also = "; ".join(f"{o['what']} {o['baseline']} -> {o['proposal']}" for o in others[:4])
        more = f"; {len(others) - 4} more in the JSON report" if len(others) > 4 else ""
        lines.append(_wrap(f"also seen: {also}{more}", "      "))
    return lines


def _behaviour_text(report):
    runs = report["runs"]
    head = (f"Behaviour: each changed key on its own, at the baseline's value and at the proposed one, the rest "
            f"as under the baseline: {runs['tests']} test runs ({', '.join(runs['families'])}) in "
            f"{runs['wall_s']:.1f} s{guest_clock.label()}")
    if runs["confirm_tests"]:
        head += f", differences confirmed by {runs['confirm_tests']} more in {runs['confirm_wall_s']:.1f} s{guest_clock.label()}"
    out = [_wrap(head, "")]
    for key, info in report["keys"].items():
        if not info["changed"] or not info["cases"]:
            continue
        ran = info["differences"] or info["no_difference"]
        not_run = [c for c in info["cases"] if c in runs["not_run"]]
        if not ran and not not_run:
            continue
        out.append(f"{key}: {_value(info['baseline'])} -> {_value(info['proposal'])}")
        grouped = {}
        for d in report["differences"]:
            if d["key"] == key:
                grouped.setdefault(_signature(d), []).append(d)
        for found in grouped.values():
            out += _difference_text(found, info)
        if info["no_difference"]:
            out.append(_wrap("no difference: " + " ".join(info["no_difference"]), "  "))
        if info["failing_alike"]:
            out.append(_wrap("of which failing alike under both: " + "; ".join(
                f"{case} ({why})" for case, why in info["failing_alike"].items()), "  "))
        for case in not_run:
            out.append(f"  {case} not run: {runs['not_run'][case]}")
    if report["noise"]:
        noisy = " ".join(dict.fromkeys(f"{n['case']}" for n in report["noise"]))
        out.append(_wrap(f"not counted: {len(report['noise'])} test(s) of {noisy} differed between runs of the "
                         "same setting (timing-dependent details; the JSON report has the values)", ""))
    return out + [""]


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
        out += _behaviour_text(report)

    notes = [(k, i) for k, i in report["keys"].items() if i["changed"]]
    if notes:
        out.append("Risk notes (from what the cases showed)")
        for key, info in notes:
            out.append(_wrap(f"{key} = {_value(info['proposal'])} (baseline {_value(info['baseline'])}): "
                             f"{info['risk']}", "  "))
        out.append("")

    invalid = [s for s in report["settings"] + report["baseline_settings"] if s["invalid"]]
    differences = report["differences"]
    if differences:
        cases = {d["case"] for d in differences}
        summary = (f"{len(cases)} case(s) behave differently under {len({d['key'] for d in differences})} key(s)"
                   f" ({len({d['case'] for d in differences if d['verdict_changed']})} change verdict)")
    elif not any(k["changed"] for k in report["keys"].values()):
        summary = "no change: the proposal gives every key the baseline's value"
    else:
        summary = "no behavioural change"
    if invalid:
        summary += f"; {len(invalid)} invalid line(s)"
    out.append(f"Result: {summary} -> exit {report['exit_status']} (--fail-on {report['fail_on']}; "
               f"logs in {runs['logs']})")
    return "\n".join(out)
