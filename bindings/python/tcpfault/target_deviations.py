"""Known deviations of a stack under test, found by running the suite against it.

A target other than the kernel may do something else than a case asserts (lwIP keeps
TIME_WAIT for 2 x MSL, has no SYN cookies ...), and so may an older kernel series than
the one the cases were written on. Such a case keeps asserting what the catalogue says;
the target's deviation list (``cases/targets/<target>.toml``, for the kernel
``cases/targets/kernel-<series>.toml`` of the kernel it runs on: kernel-6.1.toml) says
which test fails on that target, why, and what its failure message must contain:

    [[deviation]]
    test = "test_tw1_time_wait_lasts_60_seconds"       # the test function's name
    reason = "lwIP keeps TIME_WAIT for 2 x TCP_MSL = 120 s"
    match = "TIME_WAIT .* 120"                         # a regular expression

A listed test that fails with a matching message is reported as a known deviation with
the reason. One that fails otherwise is a failure (the deviation would hide a new
fault), and one that passes is a failure too: the list is stale.
"""

import dataclasses
import os
import re
import tomllib


@dataclasses.dataclass(frozen=True)
class Deviation:
    test: str
    reason: str
    match: re.Pattern
    family: str | None = None  # "IPv4" / "IPv6": only there; None: both

    def applies_to(self, test_name, family):
        return self.test == test_name and self.family in (None, family)


class DeviationListError(ValueError):
    pass


def load(path):
    """The deviations in a TOML file; a clear error for anything malformed."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise DeviationListError(f"{path}: not valid TOML: {e}") from None
    found = []
    for n, entry in enumerate(data.get("deviation", []), start=1):
        where = f"{path}: deviation #{n}"
        missing = [k for k in ("test", "reason", "match") if not isinstance(entry.get(k), str) or not entry[k]]
        if missing:
            raise DeviationListError(f"{where}: needs {', '.join(missing)} (strings; see tcpfault/target_deviations.py)")
        unknown = set(entry) - {"test", "reason", "match", "family"}
        if unknown:
            raise DeviationListError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        if entry.get("family") not in (None, "IPv4", "IPv6"):
            raise DeviationListError(f"{where}: family is IPv4 or IPv6, not {entry['family']!r}")
        try:
            pattern = re.compile(entry["match"], re.S)
        except re.error as e:
            raise DeviationListError(f"{where}: match is not a regular expression: {e}") from None
        found.append(Deviation(entry["test"], entry["reason"], pattern, entry.get("family")))
    return found


def kernel_series(release=None):
    """"6.1" of the running kernel's release "6.1.0-57-amd64" (or of `release`)."""
    match = re.match(r"(\d+)\.(\d+)", release or os.uname().release)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def list_path(cases_dir, target, release=None):
    """Where a target's deviations are listed: cases/targets/<name>.toml for a named
    target, cases/targets/kernel-<series>.toml for the kernel this runs on (the kernel's
    own behaviour is what the cases assert; a series that differs lists how); None for
    an agent given by its command."""
    if target.startswith("agent:"):
        return None
    if target == "kernel":
        series = kernel_series(release)
        return os.path.join(cases_dir, "targets", f"kernel-{series}.toml") if series else None
    return os.path.join(cases_dir, "targets", f"{target}.toml")


def for_target(cases_dir, target, release=None):
    """The deviation list of a target (see list_path), or none."""
    path = list_path(cases_dir, target, release)
    return load(path) if path and os.path.isfile(path) else []


def find(deviations, test_name, family):
    return next((d for d in deviations if d.applies_to(test_name, family)), None)
