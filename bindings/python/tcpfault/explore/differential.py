"""The same variants on several targets: outcomes normalised and compared, differences
grouped by (fault, role) with one representative each.

A normalised outcome leaves out what differs from run to run on one target (addresses,
ports, raw times, how many times a segment was retransmitted): the case's verdict, the
final state of every end, the errors calls reported, bytes sent and received per end,
which kinds of segment each stack sent, and the run's timing class.
"""

from . import oracle, replay

TIMING_CLASSES = ((0.5, "under 0.5 s"), (2.0, "0.5-2 s"), (10.0, "2-10 s"))


def timing_class(seconds):
    for limit, name in TIMING_CLASSES:
        if seconds < limit:
            return name
    return "10 s or more"


def normalise(record):
    counts = oracle.byte_counts(record.get("calls", []))
    return {
        "verdict": record.get("outcome", "error"),
        "ends": replay.end_states(record) if "ends" in record else [],
        "errnos": replay.errnos(record) if "calls" in record else [],
        "bytes": {h: {"sent": c["sent"], "received": c["received"]} for h, c in sorted(counts.items())},
        "segments": sorted(k for k, n in record.get("kinds", {}).items() if n),
        "timing": timing_class(record.get("body_s", 0.0)),
    }


def compare(outcomes, targets):
    """outcomes: {target: {variant id: normalised}}. Returns {variant id: {field: {target:
    value}}} for the fields that differ between targets, leaving out a field that differs
    the same way in the clean run (a difference of the targets, not of the fault)."""
    clean = {t: outcomes.get(t, {}).get("clean") for t in targets}
    ids = [v for v in outcomes.get(targets[0], {}) if all(v in outcomes.get(t, {}) for t in targets[1:])]
    found = {}
    for variant in ids:
        if variant == "clean":
            continue
        fields = {}
        for field in outcomes[targets[0]][variant]:
            values = {t: outcomes[t][variant][field] for t in targets}
            if len({repr(v) for v in values.values()}) < 2:
                continue
            if all(clean[t] is not None for t in targets) and values == {t: clean[t][field] for t in targets}:
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
