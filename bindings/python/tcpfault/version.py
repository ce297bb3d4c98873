"""tcpfault --version: the version and the commit it was built from (the build writes
_build_info.py; a source tree without it asks git)."""

import os
import subprocess


def build_info():
    try:
        from . import _build_info
        return _build_info.VERSION, _build_info.COMMIT
    except ImportError:
        top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        try:
            commit = subprocess.run(["git", "-C", top, "describe", "--always", "--dirty", "--abbrev=12"],
                                    capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            commit = ""
        return "unknown", commit or "unknown"


def text():
    version, commit = build_info()
    return f"tcpfault {version} (commit {commit})"
