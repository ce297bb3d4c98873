"""Known findings: violations and differences that were investigated, each classed as a
stack's bug or a choice the RFCs leave to the stack, with the reason and its evidence.

An exploration run again finds what an earlier one found. The findings file (by default
the cases folder's explore/findings.toml, or --known FILE) says what each one is, so that
the report puts the new ones first and the exit status says whether anything is new:

    [[finding]]
    id = "lwip-syn-rto-3s"                 # unique, named after the behaviour
    class = "rfc-permitted"                # or "stack-bug"
    target = "lwip"                        # whose behaviour it is
    kind = "difference"                    # or "violation"
    cases = ["CL2", "HS1"]                 # optional: only in these cases' conversations
    variants = ["drop@client.SYN.*"]       # optional: fnmatch patterns on the variant id
    fields = ["timing"]                    # a difference: the fields it explains
    rule = "unsolicited-rst"               # a violation: the oracle rule
    match = "2-10 s"                       # optional: a regular expression the target's value
                                           #   of those fields (a violation: its text) contains
    why = "lwIP's first RTO is 3 s ..."    # what the stack does, and the RFC that allows or forbids it
    evidence = "capture: ..."              # how it was confirmed

A violation is known when an entry for its target, rule and variant matches its text. A
difference group is known when each field its representative differs in is explained by
an entry for one of the targets that matches that target's value there. A harness problem
is fixed, not listed.
"""

import dataclasses
import fnmatch
import os
import re
import tomllib

from . import report

CLASSES = ("stack-bug", "rfc-permitted")
KINDS = ("violation", "difference")
KEYS = {"id", "class", "target", "kind", "cases", "variants", "fields", "rule", "match", "why", "evidence"}


class FindingsError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Finding:
    id: str
    klass: str
    target: str
    kind: str
    why: str
    evidence: str
    cases: tuple = ()
    variants: tuple = ()
    fields: tuple = ()
    rule: str = ""
    match: re.Pattern | None = None

    def _in_scope(self, case, variant):
        return (not self.cases or case in self.cases) and \
            (not self.variants or any(fnmatch.fnmatchcase(variant, p) for p in self.variants))

    def explains_violation(self, case, violation):
        return (self.kind == "violation" and self.target == violation["target"] and self.rule == violation["rule"]
                and self._in_scope(case, violation["variant"])
                and (self.match is None or self.match.search(violation["what"]) is not None))

    def explains_field(self, case, variant, field, shown):
        """shown: {target: the field's value there, as the report shows it}."""
        return (self.kind == "difference" and field in self.fields and self.target in shown
                and self._in_scope(case, variant)
                and (self.match is None or self.match.search(shown[self.target]) is not None))

    def as_json(self):
        return {"id": self.id, "class": self.klass, "target": self.target, "why": self.why,
                "evidence": self.evidence}


def default_path(cases_dir):
    return os.path.join(cases_dir, "explore", "findings.toml")


def _strings(entry, key, where):
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise FindingsError(f"{where}: {key} is a list of strings")
    return tuple(value)


def load(path):
    """The findings in a TOML file; one clear error for anything malformed."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise FindingsError(f"{path}: cannot read it: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise FindingsError(f"{path}: not valid TOML: {e}") from None
    unknown_tables = set(data) - {"finding"}
    if unknown_tables:
        raise FindingsError(f"{path}: unknown table(s) {', '.join(sorted(unknown_tables))}; entries are [[finding]]")
    found, ids = [], set()
    for n, entry in enumerate(data.get("finding", []), start=1):
        where = f"{path}: finding #{n}" + (f" ({entry['id']})" if isinstance(entry.get("id"), str) else "")
        unknown = set(entry) - KEYS
        if unknown:
            raise FindingsError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        missing = [k for k in ("id", "class", "target", "kind", "why", "evidence")
                   if not isinstance(entry.get(k), str) or not entry[k]]
        if missing:
            raise FindingsError(f"{where}: needs {', '.join(missing)} (strings; see tcpfault/explore/known.py)")
        if entry["id"] in ids:
            raise FindingsError(f"{where}: the id {entry['id']} is used twice")
        ids.add(entry["id"])
        if entry["class"] not in CLASSES:
            raise FindingsError(f"{where}: class is one of {', '.join(CLASSES)}, not {entry['class']!r} "
                                "(a harness problem is fixed, not listed)")
        if entry["kind"] not in KINDS:
            raise FindingsError(f"{where}: kind is violation or difference, not {entry['kind']!r}")
        fields = _strings(entry, "fields", where)
        if entry["kind"] == "difference" and not fields:
            raise FindingsError(f"{where}: a difference names the fields it explains (fields = [\"timing\"])")
        if entry["kind"] == "violation" and not (isinstance(entry.get("rule"), str) and entry["rule"]):
            raise FindingsError(f"{where}: a violation names its oracle rule (rule = \"states\")")
        try:
            pattern = re.compile(entry["match"], re.S) if "match" in entry else None
        except (re.error, TypeError) as e:
            raise FindingsError(f"{where}: match is not a regular expression: {e}") from None
        found.append(Finding(id=entry["id"], klass=entry["class"], target=entry["target"], kind=entry["kind"],
                             why=entry["why"], evidence=entry["evidence"], cases=_strings(entry, "cases", where),
                             variants=_strings(entry, "variants", where), fields=fields,
                             rule=entry.get("rule", ""), match=pattern))
    return found


def classify(findings, case, violations, groups, targets):
    """Marks each violation and difference group with "known": the findings that explain it
    ([] when none does; a group needs one for each field its representative differs in,
    matched against each target's value as the report shows it, but for the fields that
    took another value when it ran again: "raced_fields", a race, not the stacks')."""
    for v in violations:
        v["known"] = [f.as_json() for f in findings if f.explains_violation(case, v)]
    for g in groups:
        known, whole, raced = [], True, set(g.get("raced_fields", []))
        for field, values in (g.get("representative_fields") or {}).items():
            shown = {t: report.shown(values, t) for t in targets}
            here = [f for f in findings if f.explains_field(case, g["representative"], field, shown)]
            whole = whole and (bool(here) or field in raced)
            known += [f.as_json() for f in here if f.as_json() not in known]
        g["known"] = known if whole else []
        g["partly_known"] = [] if whole else known
