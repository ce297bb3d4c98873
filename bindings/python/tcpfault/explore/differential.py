"""The same variants on several targets: outcomes normalised and compared, differences
grouped by (fault, role) with one representative each.

A normalised outcome leaves out what differs from run to run on one target (addresses,
ports, raw times, how many times a segment was retransmitted, which end's FIN goes first
when the test returns with both open): the case's verdict, the final state of every end, the errors calls reported, bytes sent and received per end,
which kinds of segment each stack sent, and the timing class of what the fault cost: the
run's time against the target's clean run (a lost SYN costs a second on every target,
whether its clean run took 0.1 s or 3 s).
"""

from . import oracle, replay

TIMING_CLASSES = ((0.5, "under 0.5 s"), (2.0, "0.5-2 s"), (10.0, "2-10 s"))


def timing_class(seconds):
    for limit, name in TIMING_CLASSES:
        if seconds < limit:
            return name
    return "10 s or more"


def cost_class(seconds, clean_seconds):
    """What a run took beyond its target's clean run, as a class: "+0.5-2 s", "+under 0.5 s"
    (no cost worth naming), "-2-10 s" (it ended sooner: an abort)."""
    delta = seconds - clean_seconds
    return ("-" if delta <= -TIMING_CLASSES[0][0] else "+") + timing_class(abs(delta))


# Of an end still ESTABLISHED as the test returned, the states its close may end in, named
# together: its sockets all close at once then, and which FIN goes first is a race the case
# leaves open (a simultaneous close or not), so the end's path says nothing of the fault.
RACED_ENDS = {"CLOSED": "CLOSED or TIME_WAIT", "TIME_WAIT": "CLOSED or TIME_WAIT",
              # still retransmitting its FIN when the settle ended: the close under way
              "FIN_WAIT1": "closing (FIN_WAIT1, CLOSING or LAST_ACK)",
              "CLOSING": "closing (FIN_WAIT1, CLOSING or LAST_ACK)",
              "LAST_ACK": "closing (FIN_WAIT1, CLOSING or LAST_ACK)"}


def _ends(record):
    """Every end's final state; of an end still ESTABLISHED as the test returned, only how
    far its close got (RACED_ENDS)."""
    open_at_return = {(e["host"], e["local"], e["remote"]) for e in record.get("body_ends", [])
                      if e["state"] == "ESTABLISHED"}
    return sorted(f"{e['end']} {RACED_ENDS[e['state']]}"
                  if (e["host"], e["local"], e["remote"]) in open_at_return and e["state"] in RACED_ENDS
                  else f"{e['end']} {e['state']}" for e in record["ends"])


def normalise(record, clean=None):
    """The outcome as the targets are compared on it; `clean`: the target's clean run's
    record, which timing is measured against (None: the run is the clean run)."""
    counts = oracle.byte_counts(record.get("calls", []))
    return {
        "verdict": record.get("outcome", "error"),
        "ends": _ends(record) if "ends" in record else [],
        "errnos": replay.errnos(record) if "calls" in record else [],
        "bytes": {h: {"sent": c["sent"], "received": c["received"]} for h, c in sorted(counts.items())},
        "segments": sorted(k for k, n in record.get("kinds", {}).items() if n),
        "timing": cost_class(record.get("body_s", 0.0), (clean or record).get("body_s", 0.0)),
    }


def _own_baseline(clean, targets, field):
    """{target: items of a list field its clean run has and some other target's has not}:
    what the target always shows (a listener an agent reports no state of), left out."""
    if any(clean[t] is None or not isinstance(clean[t][field], list) for t in targets):
        return {t: set() for t in targets}
    common = set.intersection(*(set(clean[t][field]) for t in targets))
    return {t: set(clean[t][field]) - common for t in targets}


def noise(cleans):
    """What differs from one clean run to the next on one target, from its clean runs'
    normalised outcomes: {field: True} for a value that varies, {field: set of items} for
    the items of a list some clean runs have and others not. A case whose conversation is
    not the same twice (DT5's random faults, a race the case leaves open) shows it here,
    and the comparison leaves it out: a difference there is not the fault's."""
    out = {}
    if len(cleans) < 2:
        return out
    for field, value in cleans[0].items():
        values = [c.get(field) for c in cleans]
        if isinstance(value, list):
            sets = [set(v or []) for v in values]
            varying = set.union(*sets) - set.intersection(*sets)
            if varying:
                out[field] = varying
        elif any(repr(v) != repr(value) for v in values):
            out[field] = True
    return out


def met_apart(met, targets):
    """met: {target: {variant id: the kinds of segment its faults first acted on}}. Returns
    {variant id: {target: kinds}} for the variants whose faults met another kind of segment
    on some target: a place named by its ordinal ("client PURE_ACK #3") can be another
    segment where the targets' conversations differ, and what the fault did there is not
    the same fault. Those are not compared."""
    ids = [v for v in met.get(targets[0], {}) if all(v in met.get(t, {}) for t in targets[1:])]
    return {v: {t: met[t][v] for t in targets} for v in ids
            if all(met[t][v] and None not in met[t][v] for t in targets)
            and len({tuple(met[t][v]) for t in targets}) > 1}


def compare(outcomes, targets, noisy=None, apart=()):
    """outcomes: {target: {variant id: normalised}}. Returns {variant id: {field: {target:
    value}}} for the fields that differ between targets. What differs the same way in the
    clean run is a difference of the targets, not of the fault, and is left out: a field
    whose values are the clean run's, and in a list (ends, errors, segments) the items a
    target's clean run alone shows. Timing is compared only where the case passed on every
    target (a failed expectation waits out its own within=). noisy: {target: noise(...)}: a field that varies
    between a target's clean runs is not compared, nor the items of a list that do. apart:
    variants not compared (met_apart)."""
    noisy = noisy or {}
    clean = {t: outcomes.get(t, {}).get("clean") for t in targets}
    ids = [v for v in outcomes.get(targets[0], {}) if all(v in outcomes.get(t, {}) for t in targets[1:])]
    found = {}
    for variant in ids:
        if variant == "clean" or variant in apart:
            continue
        fields = {}
        for field in outcomes[targets[0]][variant]:
            if any(noisy.get(t, {}).get(field) is True for t in targets):
                continue
            if field == "timing" and any(outcomes[t][variant]["verdict"] != "passed" for t in targets):
                continue  # a failed expectation's time is its own within=, not the stack's
            own = _own_baseline(clean, targets, field)
            values = {t: outcomes[t][variant][field] for t in targets}
            if all(isinstance(v, list) for v in values.values()):
                left_out = set().union(*(noisy.get(t, {}).get(field) or set() for t in targets))
                # An item only this target's clean run shows is its own, left out; unless
                # another target shows it under this variant too: then both have it.
                values = {t: [item for item in v if item not in left_out and
                              (item not in own[t] or any(item in values[u] for u in targets if u != t))]
                          for t, v in values.items()}
            if len({repr(v) for v in values.values()}) < 2:
                continue
            if all(clean[t] is not None for t in targets) and \
                    {t: outcomes[t][variant][field] for t in targets} == {t: clean[t][field] for t in targets}:
                continue
            fields[field] = values
        if fields:
            found[variant] = fields
    return found


def group(differences, variants):
    """[{"fault", "role", "fields", "variants", "representative"}]: the differences by the
    variant's faults and the roles of their points, in enumeration order; the first variant
    of each group represents it."""
    groups = {}
    for variant in variants:
        if variant["id"] not in differences:
            continue
        key = ("+".join(variant["faults"]), "+".join(variant["roles"]))
        entry = groups.setdefault(key, {"fault": key[0], "role": key[1], "fields": [], "variants": [],
                                        "representative": variant["id"]})
        entry["variants"].append(variant["id"])
        for field in differences[variant["id"]]:
            if field not in entry["fields"]:
                entry["fields"].append(field)
    return list(groups.values())
