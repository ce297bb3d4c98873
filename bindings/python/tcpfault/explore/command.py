"""tcpfault explore: every single fault on every segment of one conversation, on one or more
targets, judged by the oracle, compared across targets, with reproducers.

    tcpfault explore (--case ID | --test FILE.py::TEST) [--target T ...] [--faults LIST]
                     [--pairs N --seed S] [--jobs N] [--budget SECONDS] [--settle SECONDS]
                     [--clean-runs N] [--data-segments N] [--transfer-bytes N] [--transfer-timeout S] [--drop-k K]
                     [--family 4|6] [--out DIR] [--reproducers DIR] [--reproduce findings|all]
                     [--known FILE]

1. Record: the test once per target, clean (no fault of explore's), its timeline read into a
   Conversation (tcpfault.explore.conversation).
2. Enumerate the variants (tcpfault.explore.variants) and run them, one pytest process per
   target with --tcpfault-explore (tcpfault.explore.plugin), the targets at the same time, a
   line per finished run (read from the records the plugin writes).
3. Judge every run (tcpfault.explore.oracle), compare the targets (tcpfault.explore.differential),
   write a reproducer per violation and difference group (tcpfault.explore.reproducer), and the
   report (tcpfault.explore.report): OUT/explore.json and OUT/explore.md.
Exit status: 0 no violation and no difference the findings file does not know (known.py),
1 some, 2 bad input, 3 could not run.
"""

import json
import os
import subprocess
import sys
import time

from .. import case_runs, exit_codes, preflight, targets as target_programs
from ..conformance.command import check_target
from ..progress import terminal
from . import conversation as conversations, differential, faults as fault_registry, oracle, report as reports
from . import expectations, known as known_findings, races, replay, reproducer, variants as variant_enum, vm_target

COMMAND = "explore"
PROGRESS_S = 0.2  # how long a look for new records waits on a run's end
DEFAULT_CLEAN_RUNS = 3  # what differs between a target's clean runs is not a fault's doing
# A case that draws random faults of its own (DT5) varies from run to run in ways three runs
# rarely all show (whether an old duplicate still on its way resets TIME_WAIT): it gets more.
RANDOM_CASE_CLEAN_RUNS = 8
# How often each finding runs again before its reproducer is written: once, and twice for
# a case with random rules of its own, each time on other draws (a finding that needed
# where one sequence of draws fell repeats on a second by chance often enough to matter).
AGAIN_ROUNDS, RANDOM_CASE_AGAIN_ROUNDS = 1, 2
DEFAULT_TRANSFER_BYTES = 1_000_000  # a bulk case's faults are on its first and last segments; the rest is time
DEFAULT_TRANSFER_TIMEOUT = 120  # s: a transfer's long tail (limits) is not the variant's fault
USAGE = ("tcpfault explore (--case ID | --test FILE.py::TEST) [--target T ...] [--faults LIST] [--pairs N --seed S]\n"
         "                        [--jobs N] [--budget SECONDS] [--settle SECONDS] [--clean-runs N] [--data-segments N]\n"
         "                        [--transfer-bytes N] [--transfer-timeout S] [--drop-k K] [--family 4|6] [--out DIR]\n"
         "                        [--reproducers DIR] [--reproduce findings|all] [--known FILE]")


def usage(message):
    return exit_codes.usage(COMMAND, message)


# ---- checks before any work ----

def check(options):
    if bool(options.case) == bool(options.test):
        raise usage("name one conversation: --case ID (tcpfault list shows them) or --test FILE.py::TEST")
    options.target = [t if vm_target.is_vm(t) else check_target(t) for t in (options.target or ["kernel"])]
    if len(set(options.target)) != len(options.target):
        raise usage("a target is given twice")
    try:
        options.fault_names = fault_registry.parse(options.faults)
    except ValueError as e:
        raise usage(str(e)) from None
    for name, value, least in (("--pairs", options.pairs, 0), ("--jobs", options.jobs, 1),
                               ("--clean-runs", 1 if options.clean_runs is None else options.clean_runs, 1),
                               ("--data-segments", options.data_segments, 0), ("--transfer-bytes", options.transfer_bytes, 0),
                               ("--transfer-timeout", options.transfer_timeout, 0),
                               ("--drop-k", options.drop_k, 1)):
        if value < least:
            raise usage(f"{name} must be {least} or more, not {value}")
    for name, value in (("--budget", options.budget), ("--settle", options.settle)):
        if value is not None and value <= 0:
            raise usage(f"{name} takes a positive number of seconds, not {value}")
    options.out = options.out or f"explore-{(options.case or 'test').lower()}"
    options.reproducers = options.reproducers or os.path.join(options.out, "reproducers")
    preflight.output_folder(COMMAND, "--out", options.out)
    preflight.output_folder(COMMAND, "--reproducers", options.reproducers)
    options.test = resolve_test(options)
    try:
        options.findings = load_findings(options)
    except known_findings.FindingsError as e:
        raise usage(f"--known: {e}") from None
    preflight.need_root(COMMAND, "every scenario runs in network namespaces of its own, behind NFQUEUE")
    for target in options.target:
        if vm_target.is_vm(target):
            try:
                vm_target.check(target, say=lambda text: print(f"tcpfault explore: {text}", file=sys.stderr))
            except ValueError as e:
                raise usage(str(e)) from None
            except vm_target.Unusable as e:
                raise exit_codes.cannot_run(COMMAND, str(e)) from None
        if target in target_programs.AGENTS:
            try:
                target_programs.agent(target)
            except Exception as e:  # noqa: BLE001 - tcpfault.Error: the agent is not built
                raise exit_codes.cannot_run(COMMAND, f"--target {target}: {e}") from None


def load_findings(options):
    """The known findings: --known FILE, else the cases folder's (none when it has no file)."""
    path = options.known or known_findings.default_path(case_runs.cases_dir())
    if options.known is None and not os.path.exists(path):
        return []
    options.known = path
    return known_findings.load(path)


def resolve_test(options):
    """The node id of the test to explore: a case's main test (its first), or --test."""
    if options.test:
        path = options.test.split("::")[0]
        if "::" not in options.test or "[" in options.test:
            raise usage(f"--test {options.test}: give FILE.py::TEST_FUNCTION, without parameters")
        full = path if os.path.isabs(path) else os.path.join(case_runs.cases_dir(), path)
        if not os.path.isfile(full) and os.path.isfile(path):
            full = os.path.abspath(path)
        if not os.path.isfile(full):
            raise usage(f"--test {options.test}: no file {path} (here or in {case_runs.cases_dir()})")
        return full + "::" + options.test.split("::", 1)[1]
    collector = case_runs.collect_in_scratch()
    if options.case not in collector.tests:
        raise usage(f"--case {options.case}: no such case (tcpfault list shows them; ids are exact)")
    name, info = next(iter(collector.tests[options.case].items()))
    return os.path.join(case_runs.cases_dir(), info["file"]) + "::" + name


# ---- running ----

def again_label(again):
    """How the runs of round `again` (0: the first runs) are named: "", "again", "again #2"."""
    return "" if not again else "again" if again == 1 else f"again #{again}"


def again_file_name(again):
    """again_label() as a file name: "", "again", "again2"."""
    return again_label(again).replace(" #", "")


def records_path(options, target, again=0):
    name = target.replace("/", "_").replace(":", "_") + ("." + again_file_name(again) if again else "")
    return os.path.join(options.out, "runs", f"{name}.jsonl")


def start_run(options, target, variants, deadline, name, records, again=0):
    """Starts one pytest process running the test under `variants` on `target` (it appends
    a record per run to `records`); returns (process, its log's path). A run again (round
    `again`) draws the case's random rules another way (variant_enum.again_variation),
    each round its own."""
    folder = os.path.join(options.out, "runs", target.replace("/", "_").replace(":", "_"))
    os.makedirs(folder, exist_ok=True)
    explore_file = os.path.join(folder, f"{name}.json")
    with open(explore_file, "w") as out:
        json.dump({"tests": [options.test.split(os.sep)[-1]], "variants": [v.as_json() for v in variants],
                   "records": os.path.abspath(records), "settle": options.settle,
                   "deadline": deadline, "transfer_bytes": options.transfer_bytes or None,
                   "transfer_timeout": options.transfer_timeout or None,
                   "random_variation": variant_enum.again_variation(options.clean_runs) + again - 1
                   if again else 0}, out)
    pytest_args = [options.test, "-p", "no:cacheprovider", "-q", "--tb=line",
                   "--tcpfault-family", str(options.family), "--tcpfault-target", vm_target.pytest_target(target),
                   "--tcpfault-explore", os.path.abspath(explore_file),
                   # a run again keeps the first's
                   "--tcpfault-artifacts", os.path.abspath(os.path.join(folder, f"{name}-artifacts"))]
    if vm_target.is_vm(target):
        # In the guest: its own temporary folder, one vCPU (the variants one at a time).
        args = vm_target.command(target, pytest_args, options.out)
    else:
        args = [sys.executable, "-m", "pytest", *pytest_args, "--basetemp", os.path.join(folder, f"{name}-tmp")]
        if options.jobs > 1 and len(variants) > 1:
            args += ["-n", str(min(options.jobs, len(variants)))]
    log = os.path.join(folder, f"{name}.log")
    with open(log, "w") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL), log


def run_all(options, batches, lines, name, deadline=None, again=0):
    """Runs every (target, variants) batch at once, one pytest process each (the targets'
    runs mostly wait on timers: they overlap), printing a line per record as it is written.
    Stops them all on Ctrl-C."""
    records = {target: records_path(options, target, again) for target, _ in batches}
    running = {target: start_run(options, target, variants, deadline, name, records[target], again)
               for target, variants in batches}
    try:
        while running:
            for target, (process, log) in list(running.items()):
                try:
                    process.wait(timeout=PROGRESS_S)
                except subprocess.TimeoutExpired:
                    pass
                lines.new_records(f"{target} {again_label(again)}".strip(), records[target])
                if process.returncode is not None:
                    del running[target]
                    if process.returncode in (2, 3, 4):  # collection error, pytest's internal or usage error
                        raise exit_codes.cannot_run(COMMAND, f"pytest could not run {options.test} on {target} "
                                                             f"(see {log})")
    finally:
        for process, _ in running.values():
            process.terminate()  # only the processes this command started
            process.wait()


def read_records(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                out[record["variant"]] = record
    return out


def draws_its_own_faults(record):
    """Whether the case added random fault rules of its own in this run (its timeline's rules)."""
    try:
        with open(record["timeline"]) as f:
            rules = json.load(f).get("rules", [])
    except (OSError, KeyError, TypeError, ValueError):
        return False
    return any(str(r.get("label", "")).startswith("random") for r in rules)


def timeline_events(record):
    """The run's timeline events; sets record["settle_end_ms"], when the settle ended on the
    timeline's clock (what the rest rule measures silence against)."""
    path = record.get("timeline")
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        timeline = json.load(f)
    if record.get("settle_end_ns") and timeline.get("monotonic_origin_ns"):
        record["settle_end_ms"] = (record["settle_end_ns"] - timeline["monotonic_origin_ns"]) / 1e6
    return timeline.get("events", [])


class Lines:
    """A line per finished run on the terminal, read from the records as the runs write
    them (pytest's own output goes to the logs)."""

    def __init__(self, total):
        self.out = terminal()
        self.total = total
        self.done = 0
        self.offsets = {}  # records file -> how much of it was printed

    def new_records(self, target, path):
        """Prints the records written to `path` since the last look (a line not finished
        yet waits for the next)."""
        if not os.path.exists(path):
            return
        offset = self.offsets.get(path, 0)
        with open(path) as f:
            f.seek(offset)
            for line in f:
                if not line.endswith("\n"):
                    break
                offset += len(line.encode())
                self.line(target, json.loads(line))
        self.offsets[path] = offset

    def line(self, target, record):
        self.done += 1
        acted = "" if record.get("acted") is not False else ", the fault never acted"
        failure = f" - {record['failure'][:100]}" if record.get("failure") else ""
        self.out.write(f"[{self.done}/{self.total}] {target} {record['variant']}: {record['outcome']} "
                       f"({record.get('body_s', 0):.1f} s{acted}){failure}\n")


# ---- the command ----

def command(options):
    check(options)
    started = time.monotonic()
    deadline = time.time() + options.budget if options.budget else None
    os.makedirs(options.out, exist_ok=True)
    if os.path.isdir(options.reproducers):  # an earlier run's reproducers would pass for this one's
        for name in os.listdir(options.reproducers):
            if name.startswith("test_explore_") and name.endswith(".py"):
                os.remove(os.path.join(options.reproducers, name))
    bulk = {"drop_k": options.drop_k}
    convs, enumerated, results_raw = {}, {}, {}
    asked, options.clean_runs = options.clean_runs, options.clean_runs or DEFAULT_CLEAN_RUNS
    lines = Lines(len(options.target) * options.clean_runs)
    for target in options.target:
        for again in range(RANDOM_CASE_AGAIN_ROUNDS + 1):
            if os.path.exists(records_path(options, target, again)):
                os.remove(records_path(options, target, again))
    cleans = [variant_enum.clean(n) for n in range(1, options.clean_runs + 1)]
    run_all(options, [(t, cleans) for t in options.target], lines, "clean")  # 1. clean, and its repeats
    random_case = any(draws_its_own_faults(read_records(records_path(options, t)).get("clean")) for t in options.target)
    if asked is None and random_case:
        more = [variant_enum.clean(n) for n in range(options.clean_runs + 1, RANDOM_CASE_CLEAN_RUNS + 1)]
        options.clean_runs = RANDOM_CASE_CLEAN_RUNS
        lines.total += len(options.target) * len(more)
        run_all(options, [(t, more) for t in options.target], lines, "clean-more")
    for target in options.target:
        clean = read_records(records_path(options, target)).get("clean")
        if clean is None or not clean.get("timeline") or not os.path.exists(clean["timeline"]):
            raise exit_codes.cannot_run(COMMAND, f"the clean run of {options.test} on {target} left no timeline "
                                                 f"(see {os.path.join(options.out, 'runs')})")
        convs[target] = conversations.read(clean["timeline"], options.data_segments)
        enumerated[target] = variant_enum.enumerate_variants(convs[target], options.fault_names, bulk,
                                                             options.pairs, options.seed)
    lines.total = len(options.target) * options.clean_runs + sum(len(v) - 1 for v in enumerated.values())
    run_all(options, [(t, enumerated[t][1:]) for t in options.target if len(enumerated[t]) > 1],  # 2. variants
            lines, "variants", deadline)
    for target in options.target:
        results_raw[target] = read_records(records_path(options, target))
        for variant in enumerated[target]:  # a variant the budget kept from starting left no record
            results_raw[target].setdefault(variant.id, {"variant": variant.id, "outcome": "skipped",
                                                        "failure": replay.BUDGET_SPENT, "acted": None})
    report = judge(options, convs, enumerated, results_raw, 0)
    wanted = report.pop("wanted")
    # 3. what a reproducer would assert must happen again: each wanted run once more (twice
    # for a case with random rules of its own)
    batches = [(t, [v for v in enumerated[t] if (t, v.id) in wanted]) for t in options.target]
    batches = [(t, vs) for t, vs in batches if vs]
    rounds = RANDOM_CASE_AGAIN_ROUNDS if random_case else AGAIN_ROUNDS
    lines.total += rounds * sum(len(vs) for _, vs in batches)
    again = []
    for n in range(1, rounds + 1):
        if batches:
            run_all(options, batches, lines, again_file_name(n), deadline, again=n)
        again.append({t: read_records(records_path(options, t, n)) for t in options.target})
    mark_races(report, results_raw, again, options.target)
    # Classed once the races are known: what raced needs no finding to explain it.
    known_findings.classify(options.findings, options.case or "", report["violations"], report["differences"],
                            options.target)
    count_new(report)
    write_reproducers(options, report, wanted, results_raw, again, enumerated)
    report["wall_s"] = round(time.monotonic() - started, 1)
    reports.write_json(os.path.join(options.out, "explore.json"), report)
    with open(os.path.join(options.out, "explore.md"), "w") as out:
        out.write(reports.markdown(report))
    s = report["summary"]
    sys.stdout.write(f"tcpfault explore: {s['variants_run']} runs, {s['violations']} violations "
                     f"({s['new_violations']} new), {s['difference_groups']} difference groups "
                     f"({s['new_difference_groups']} new, {s.get('raced_difference_groups', 0)} races), "
                     f"{s['not_run']} not run, {report['wall_s']:.0f} s; "
                     f"report {os.path.join(options.out, 'explore.md')}, "
                     f"{sum(1 for r in report['reproducers'] if r['path'])} reproducers in "
                     f"{options.reproducers}\n")
    return exit_codes.FAILED if s["new_violations"] or s["new_difference_groups"] else exit_codes.OK


def clean_runs(records):
    """A target's clean runs that ran, the first one first."""
    return [r for v, r in sorted(records.items(), key=lambda item: item[0] != variant_enum.CLEAN)
            if variant_enum.is_clean(v) and r.get("outcome") != "skipped"]


def judge(options, convs, enumerated, raw, wall):
    by_id = {}
    for target in options.target:
        for v in enumerated[target]:
            by_id.setdefault(v.id, v.as_json())
    results, violations, outcomes, not_run, wanted, noisy = {}, [], {}, [], {}, {}
    case = options.case or ""
    for target in options.target:
        clean = raw[target].get("clean")
        results[target], outcomes[target] = {}, {}
        noisy[target] = differential.noise([differential.normalise(r, clean) for r in clean_runs(raw[target])])
        for variant_id, record in sorted(raw[target].items(), key=lambda item: item[0] != "clean"):
            if variant_enum.is_clean(variant_id) and variant_id != variant_enum.CLEAN:
                continue  # a repeat of the clean run: only its noise counts
            if record.get("outcome") == "skipped":
                not_run.append({"target": target, "variant": variant_id})
            events = timeline_events(record)
            found = oracle.judge(record, events)
            results[target][variant_id] = {
                "outcome": record.get("outcome"), "failure": record.get("failure", ""), "acted": record.get("acted"),
                "breaks": oracle.breaks(record, clean) if variant_id != "clean" else "",
                "violations": [v.as_json() for v in found], "pending": oracle.pending(record, events),
                "timeline": record.get("timeline"), "normalised": differential.normalise(record, clean),
                "harness_error": (record.get("wire") or {}).get("error", "")}
            if record.get("outcome") != "skipped":
                outcomes[target][variant_id] = results[target][variant_id]["normalised"]
            # --reproduce all: the runs whose fault acted during the test body; what happens as the
            # sockets it leaves open all close at once is a race the case leaves open.
            if found or (options.reproduce == "all" and variant_id != "clean" and record.get("outcome") != "skipped"
                         and record.get("acted_in_body")
                         and expectations.tells_fault_apart(record, clean_runs(raw[target]))):
                wanted.setdefault((target, variant_id), "; ".join(f"{v.rule}: {v.what}" for v in found)
                                  or "--reproduce all")
            seen_clean = {(v["rule"], replay.masked(v["what"])) for v in results[target].get("clean", {}).get(
                "violations", [])} if variant_id != "clean" else set()
            violations += [{"target": target, "variant": variant_id, **v.as_json(), "reproducer": None,
                            "also_clean": (v.rule, replay.masked(v.what)) in seen_clean} for v in found]
    met = {t: {v: r.get("acted_on") for v, r in raw[t].items()} for t in options.target}
    apart = differential.met_apart(met, options.target) if len(options.target) > 1 else {}
    differences = differential.compare(outcomes, options.target, noisy, apart) if len(options.target) > 1 else {}
    groups = differential.group(differences, [by_id[v] for v in by_id])
    for g in groups:
        g["representative_fields"] = differences[g["representative"]]
        g["reproducers"] = []
        for target in options.target:
            wanted.setdefault((target, g["representative"]), f"differs between targets in {', '.join(g['fields'])} "
                                                             f"({g['fault']} on {g['role']})")
    points, seen = [], set()
    for target in options.target:
        for p in convs[target].selected():
            if p.key not in seen:
                seen.add(p.key)
                points.append({"name": p.name, "key": p.key})
    return {
        "schema": "tcpfault-explore/1", "case": case, "test": options.test, "family": options.family,
        "targets": options.target, "faults": options.fault_names, "pairs": options.pairs, "seed": options.seed,
        "options": {"settle_s": options.settle, "budget_s": options.budget, "clean_runs": options.clean_runs,
                    "data_segments": options.data_segments,
                    "transfer_bytes": options.transfer_bytes, "transfer_timeout": options.transfer_timeout,
                    "known": options.known, "drop_k": options.drop_k, "jobs": options.jobs},
        "wall_s": round(wall, 1),
        "conversations": {t: {"segments": c.segments, "retransmissions": c.retransmissions,
                              "points": [p.name for p in c.points], "left_out": [p.name for p in c.left_out],
                              "limit": c.limit} for t, c in convs.items()},
        "points": points, "variants": list(by_id.values()), "rules": [
            {"name": r.name, "says": r.says, "basis": r.basis} for r in oracle.RULES],
        "noise": {t: {f: sorted(v) if isinstance(v, set) else v for f, v in n.items()} for t, n in noisy.items()},
        "results": results, "violations": violations, "differences": groups, "not_run": not_run,
        "met_apart": [{"variant": v, "met": kinds} for v, kinds in apart.items()],
        "reproducers": [], "wanted": wanted,
        "sight": {t: sight(rs) for t, rs in results.items()},
        "summary": {"variants_run": sum(1 for rs in results.values() for r in rs.values() if r["outcome"] != "skipped"),
                    "violations": len(violations), "difference_groups": len(groups), "not_run": len(not_run),
                    "met_apart": len(apart)},
    }


def mark_races(report, raw, again, targets):
    """A difference group's fields whose value on some target was not the same when its
    representative ran again (`again`: a {target: records} per round), on other draws of
    the case's random faults if it has any, and its verdict where a close call decided it
    ("raced_fields"): a race the fault leaves open, or where the draws fell, not a
    difference of the targets. A group whose every field raced is a race ("raced": not
    new, listed apart in the report)."""
    for g in report["differences"]:
        variant, raced = g["representative"], set()
        for target in targets:
            first = raw[target].get(variant)
            for round_ in again:
                second = round_.get(target, {}).get(variant)
                if not first or not second or second.get("outcome") == "skipped":
                    continue
                a = report["results"][target][variant]["normalised"]
                b = differential.normalise(second, raw[target].get("clean"))
                raced |= {f for f in g["representative_fields"] if a.get(f) != b.get(f)}
        # A verdict a fraction of a millisecond decided (races.deciding_close_call) is a race
        # between the case's checks and the wire, even when the second run went the same way.
        if "verdict" in g["representative_fields"] and any(
                raw[t].get(variant) and races.deciding_close_call(raw[t][variant], raw[t][variant].get("close_calls", []))
                for t in targets):
            raced.add("verdict")
        g["raced_fields"] = sorted(raced)
        g["raced"] = bool(raced) and raced >= set(g["representative_fields"])


def count_new(report):
    """The summary's counts of races, of what is new and of what the findings class how."""
    s = report["summary"]
    s["new_violations"] = sum(1 for v in report["violations"] if not v["known"])
    s["raced_difference_groups"] = sum(1 for g in report["differences"] if g["raced"])
    s["new_difference_groups"] = sum(1 for g in report["differences"] if not g["known"] and not g["raced"])
    s["known_by_class"] = known_by_class(report["violations"], report["differences"])


def known_by_class(violations, groups):
    """{class: how many violations and difference groups the findings file classes so}."""
    counts = {}
    for finding in violations + groups:
        for klass in sorted({k["class"] for k in finding["known"]}):
            counts[klass] = counts.get(klass, 0) + 1
    return counts


def same_again(record, agains, cleans):
    """'' when every run again (`agains`, one record per round) did what a reproducer would
    assert of the first run, else what differed (a run that depends on a race makes no
    reproducer)."""
    expected = expectations.expected(record, cleans)
    for n, again in enumerate(agains, start=2):
        if again is None or again.get("outcome") == "skipped":
            return "it did not run again (the --budget was spent)"
        differ = expectations.problems(expected, again, again)
        if differ:
            return f"its run #{n} differed: " + "; ".join(differ)
    return ""


def write_reproducers(options, report, wanted, raw, again, enumerated):
    """A reproducer for each wanted run whose second run did the same; the others are
    listed with what differed."""
    by_id = {v.id: v.as_json() for t in options.target for v in enumerated[t]}
    written = {}
    for (target, variant_id), why in wanted.items():
        record, cleans = raw[target][variant_id], clean_runs(raw[target])
        unstable = same_again(record, [round_[target].get(variant_id) for round_ in again], cleans)
        entry = {"target": target, "variant": variant_id, "why": why, "path": None, "unstable": unstable,
                 "tells_fault_apart": bool(expectations.tells_fault_apart(record, cleans))}
        if not unstable:
            entry["path"] = reproducer.write(options.reproducers, options.case or "", options.test, target,
                                             options.family, by_id[variant_id], record, cleans, why, options.settle,
                                             case_runs.cases_dir(), options.transfer_bytes or None,
                                             options.transfer_timeout or None)
            written[(target, variant_id)] = entry["path"]
        report["reproducers"].append(entry)
    for v in report["violations"]:
        v["reproducer"] = written.get((v["target"], v["variant"]))
    for g in report["differences"]:
        g["reproducers"] = [written[(t, g["representative"])] for t in options.target
                            if (t, g["representative"]) in written]


def sight(results):
    """How much the case can see: of the variants whose fault acted, how many broke one of
    its assertions, and how many broke an oracle rule while the case passed (its blind spots)."""
    acted = [v for v, r in results.items() if v != "clean" and r["outcome"] != "skipped" and r.get("acted")]
    return {"acted": len(acted), "broke_the_case": sum(1 for v in acted if results[v]["breaks"]),
            "unseen_violations": sorted(v for v in acted if results[v]["violations"] and not results[v]["breaks"])}


def add_parser(commands):
    p = commands.add_parser(
        COMMAND, help="every single fault on every segment of a conversation, across targets, with reproducers",
        usage=USAGE, description="Run a case's conversation (or any test's) once clean, then once per (segment, "
        "fault) with exactly that fault; judge each run by the oracle's RFC rules, compare the targets, write a "
        "reproducer per violation and difference group, and a JSON and Markdown report (docs/explore.md).",
        **exit_codes.PARSER)
    p.add_argument("--case", metavar="ID", help="a case id (tcpfault list): its main test's conversation")
    p.add_argument("--test", metavar="FILE.py::TEST", help="any pytest test that uses `net`: FILE.py::TEST (FILE under the cases folder, or a path)")
    p.add_argument("--target", action="append", metavar="T", help="kernel (default), lwip, gvisor, agent:COMMAND, or vm:KERNEL (a kernel booted in a "
                        "VM: vm:6.1, as tcpfault vm --kernel takes it); repeat for several")
    p.add_argument("--faults", default="all", metavar="LIST", help=f"comma list among {', '.join(fault_registry.names())} (default all)")
    p.add_argument("--pairs", type=int, default=0, metavar="N", help="also N pairs of faults on two segments, drawn with --seed")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="the seed of --pairs (default 0)")
    p.add_argument("--jobs", type=int, default=case_runs.default_jobs(), metavar="N",
                   help="variants of each target run at once (the targets run at the same time; default: 4 per CPU)")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS", help="seconds after which no variant starts (reported not run)")
    p.add_argument("--settle", type=float, default=5.0, metavar="SECONDS",
                   help="seconds every end gets after the test body to reach rest (default 5)")
    p.add_argument("--clean-runs", type=int, default=None, metavar="N",
                   help=f"run the conversation clean N times (default {DEFAULT_CLEAN_RUNS}, or {RANDOM_CASE_CLEAN_RUNS} "
                        "for a case that draws random faults of its own): what differs between them on a target is "
                        "its noise, left out of the comparison and of the reproducers' expectations")
    p.add_argument("--data-segments", type=int, default=3, metavar="N",
                   help="of each sender's segments of one role (a bulk transfer's DATA and PURE_ACK), explore only the "
                        "first and last N (default 3; 0: all)")
    p.add_argument("--transfer-bytes", type=int, default=DEFAULT_TRANSFER_BYTES, metavar="N",
                   help="a bulk transfer the case sizes through casekit.bulk_bytes (DT5's 10 MB) moves at most N bytes "
                        f"(default {DEFAULT_TRANSFER_BYTES}; 0: the case's own size)")
    p.add_argument("--transfer-timeout", type=int, default=DEFAULT_TRANSFER_TIMEOUT, metavar="SECONDS",
                   help="a bulk transfer whose deadline the case gives through casekit.bulk_timeout (DT5's 600 s) "
                        f"gives up after at most SECONDS (default {DEFAULT_TRANSFER_TIMEOUT}; 0: the case's own)")
    p.add_argument("--drop-k", type=int, default=fault_registry.DROP_K, metavar="K",
                   help=f"drop-k drops the segment and its own next K retransmissions (default {fault_registry.DROP_K})")
    p.add_argument("--family", type=int, choices=(4, 6), default=4, help="the address family (default 4)")
    p.add_argument("--out", metavar="DIR", help="the report's folder (default ./explore-<case>)")
    p.add_argument("--reproducers", metavar="DIR", help="where the reproducers go (default OUT/reproducers)")
    p.add_argument("--reproduce", choices=("findings", "all"), default="findings",
                   help="write a reproducer per violation and difference group (findings, the default), or also "
                        "one per run whose outcome tells its fault apart from the clean run (all: regression tests "
                        "of everything explored)")
    p.add_argument("--known", metavar="FILE",
                   help="the known findings, each classed (docs/explore.md; default: the cases folder's "
                        "explore/findings.toml): the report puts the others first, and only they fail the run")
    p.set_defaults(run=command)
