"""Temporary folders of a run: made under $TMPDIR with the owner's pid in the name, removed
when the run ends, and, if a run was killed before it could (kill -9), removed by the next
run that finds its owner gone."""

import glob
import os
import re
import shutil
import tempfile

PREFIX = "tcpfault-"


def make(what):
    sweep()
    return tempfile.mkdtemp(prefix=f"{PREFIX}{what}.{os.getpid()}.")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep():
    """Removes the folders of runs whose process is gone."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*.*.*")):
        match = re.fullmatch(re.escape(PREFIX) + r"[a-z-]+\.(\d+)\.[^/]+", os.path.basename(path))
        if match and os.path.isdir(path) and os.stat(path).st_uid == os.geteuid() and not alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def remove(path):
    shutil.rmtree(path, ignore_errors=True)
