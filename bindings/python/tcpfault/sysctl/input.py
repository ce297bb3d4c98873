"""sysctl.conf files as `tcpfault sysctl-check` reads them, each setting checked against
the running kernel.

A path is a file, or a directory read as sysctl.d(5) reads one: its *.conf files in
lexical order. Several paths are read in the order given; a key set again later
overrides its earlier value, as `sysctl -p` applying them in turn would. Every setting is
tried in a scratch namespace of its own (tcpfault.probe_sysctl); the host's sysctls are
only ever read.
"""

import difflib
import os
from dataclasses import dataclass, field

import tcpfault

# What each probe verdict means for the check: (status, invalid input?).
_VERDICTS = {
    "valid": ("ok", False),
    "malformed_key": ("malformed", True),
    "unknown": ("unknown", True),
    "removed": ("removed", True),
    "refused": ("refused", True),
    "read_only": ("read_only", True),
    "not_per_netns": ("not_per_netns", False),
    "other_interface": ("not_checked", False),
}


@dataclass
class Setting:
    """One `key = value` line (or a malformed line: key None), with what the kernel says."""
    source: str
    line: int
    key: str | None
    value: str | None
    ignore_errors: bool = False
    status: str = "ok"        # ok, or what is wrong: malformed, unknown, removed, refused, ...
    invalid: bool = False     # sysctl -p would fail on it (and the line has no leading '-')
    message: str = ""
    stored: str | None = None  # ok: the value as the kernel stores it
    default: str = ""          # a fresh namespace's value
    host: str = ""             # the host's value (only read)
    accepted: list = field(default_factory=list)
    overridden_by: str = ""    # "file:line" of a later setting of the same key

    @property
    def where(self):
        return f"{self.source}:{self.line}" if self.line else self.source

    def to_json(self):
        return {"source": self.source, "line": self.line, "key": self.key, "value": self.value,
                "ignore_errors": self.ignore_errors, "status": self.status, "invalid": self.invalid,
                "message": self.message, "stored": self.stored, "default": self.default, "host": self.host,
                "accepted": [list(r) for r in self.accepted], "overridden_by": self.overridden_by or None}


def conf_files(path):
    """The files a path stands for, or raise OSError saying why it cannot be read."""
    if os.path.isdir(path):
        files = sorted(os.path.join(path, name) for name in os.listdir(path) if name.endswith(".conf"))
        if not files:
            raise OSError(f"{path}: a directory without *.conf files (sysctl.d reads only those)")
        return files
    if not os.path.exists(path):
        raise OSError(f"{path}: no such file or directory")
    return [path]


def _suggestion(key):
    """' (did you mean net.ipv4.tcp_fin_timeout?)' for a misspelt key, from the host's names."""
    parent, _, name = key.rpartition(".")
    try:
        siblings = os.listdir("/proc/sys/" + parent.replace(".", "/"))
    except OSError:
        return ""
    close = difflib.get_close_matches(name, siblings, n=1, cutoff=0.75)
    return f" (did you mean {parent}.{close[0]}?)" if close else ""


def _probe(setting):
    probe = tcpfault.probe_sysctl(setting.key, setting.value)
    setting.key = probe.key
    setting.status, setting.invalid = _VERDICTS[probe.verdict]
    setting.message = probe.message
    setting.default, setting.host = probe.default_value, probe.host_value
    setting.accepted = probe.accepted
    if probe.verdict == "valid":
        setting.stored = probe.value
    if probe.verdict == "unknown":
        setting.message += _suggestion(probe.key)
    if probe.verdict == "not_per_netns" and probe.value_malformed:
        setting.status, setting.invalid = "malformed", True
    if setting.invalid and setting.ignore_errors:
        setting.invalid = False
        setting.message += " (ignored: the line begins with '-')"


def read_settings(paths):
    """Every line that sets something, and every malformed or unreadable input, in order."""
    out = []
    for path in paths:
        try:
            files = conf_files(path)
        except OSError as e:
            out.append(Setting(path, 0, None, None, status="unreadable", invalid=True, message=str(e)))
            continue
        for name in files:
            try:
                with open(name, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError as e:
                out.append(Setting(name, 0, None, None, status="unreadable", invalid=True,
                                   message=f"{name}: {e.strerror}"))
                continue
            conf = tcpfault.read_sysctl_conf(text)
            lines = [Setting(name, s.line, s.key, s.value, s.ignore_errors) for s in conf.settings]
            lines += [Setting(name, line, None, None, status="malformed", invalid=True,
                              message=message.removeprefix(f"line {line}: "))
                      for line, message in conf.errors]
            for setting in sorted(lines, key=lambda s: s.line):
                if setting.key is not None:
                    _probe(setting)
                out.append(setting)
    latest = {}  # the last valid setting of a key is the one in effect
    for setting in reversed(out):
        if setting.status != "ok":
            continue
        if setting.key in latest:
            setting.overridden_by = latest[setting.key].where
        else:
            latest[setting.key] = setting
    return out


def effective(settings):
    """{key: stored value} of the settings a namespace would end with (valid ones only)."""
    return {s.key: s.stored for s in settings if s.status == "ok" and not s.overridden_by}
