"""The variants of a conversation: one per (point, fault) where the fault applies, in
conversation order then the registry's order, and with --pairs N a seeded sample of pairs
of single variants on two different points. Ids are stable for the same conversation:
"drop@server.FIN.1", "delay-short@client.DATA.2+rst@server.FIN.1".
"""

import itertools
import random
from dataclasses import dataclass, field

from . import faults as fault_registry

CLEAN = "clean"


@dataclass
class Variant:
    id: str
    faults: list          # fault names, one per point
    points: list          # point names ("server FIN #1"), as many
    roles: list           # "server FIN" per point: the differential groups by them
    rules: list = field(default_factory=list)

    def as_json(self):
        return {"id": self.id, "faults": self.faults, "points": self.points, "roles": self.roles, "rules": self.rules}


def clean(repeat=1):
    """The clean run; repeat > 1: its repeats ("clean#2"), which measure what differs from
    one clean run to the next on a target (the differential's noise)."""
    return Variant(CLEAN if repeat == 1 else f"{CLEAN}#{repeat}", [], [], [], [])


def is_clean(variant_id):
    return variant_id == CLEAN or variant_id.startswith(CLEAN + "#")


def random_variation(variant_id, again_variation=0):
    """The variation of the case's own random rules a run takes: 0 for every first run but
    the clean run's repeats, where clean#N draws sequence N - 1 for the same seeds; a run
    again draws `again_variation`. A case with a seeded random rule (DT5) is then not the
    same from one clean run to the next, and what its draws alone change shows as noise
    (differential.noise): a variant moves the draws onto other segments, and what they do
    there is not the variant's fault. Run again on other draws, a finding that needed one
    sequence of them does not repeat."""
    if variant_id is None or not variant_id.startswith(CLEAN + "#"):
        return again_variation
    return int(variant_id[len(CLEAN) + 1:]) - 1


def again_variation(clean_runs):
    """The variation the first round of runs again draws: the first that no clean run
    drew (a second round draws the next)."""
    return clean_runs


def single(point, fault, options):
    # The first rule must act (tcpfault.explore.faults); the others (drop-k's on the
    # retransmissions) may find nothing to act on, and say so: a rule that does not say
    # counts as one that must act.
    rules = [{**rule, "primary": i == 0} for i, rule in enumerate(fault.rules(point, options))]
    return Variant(f"{fault.name}@{point.key}", [fault.name], [point.name], [f"{point.sender} {point.role}"], rules)


def singles(conversation, fault_names, options=None):
    options = options or {}
    out = []
    for point in conversation.selected():
        for name in fault_names:
            fault = fault_registry.REGISTRY[name]
            if fault.applies(point, options):
                out.append(single(point, fault, options))
    return out


def pairs(single_variants, n, seed):
    """n pairs of single variants on two different points, drawn with `seed` from every
    such pair in enumeration order: the same inputs give the same pairs."""
    candidates = [(a, b) for a, b in itertools.combinations(single_variants, 2) if a.points[0] != b.points[0]]
    chosen = sorted(random.Random(seed).sample(range(len(candidates)), min(n, len(candidates))))
    return [Variant(f"{a.id}+{b.id}", a.faults + b.faults, a.points + b.points, a.roles + b.roles,
                    a.rules + b.rules) for a, b in (candidates[i] for i in chosen)]


def enumerate_variants(conversation, fault_names, options=None, pair_count=0, seed=0):
    """[clean, singles..., pairs...]."""
    ones = singles(conversation, fault_names, options)
    return [clean()] + ones + (pairs(ones, pair_count, seed) if pair_count else [])
