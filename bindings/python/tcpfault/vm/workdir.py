"""The run's own folder, CACHE/runs/PID-XXXX: the guest's control share (setup.sh,
command.sh, exit-code) and QEMU's log. Removed when the run ends; a run killed with -9
leaves it behind, so each run first removes every folder no live run holds (a run holds
its folder's .lock with flock until its process is gone)."""

import fcntl
import os
import shutil
import tempfile

from .kernel import cache


def runs_dir():
    return os.path.join(cache(), "runs")


def remove_stale(runs):
    """Folders of runs that are gone; returns how many were removed."""
    removed = 0
    for entry in os.listdir(runs) if os.path.isdir(runs) else []:
        path = os.path.join(runs, entry)
        try:
            fd = os.open(os.path.join(path, ".lock"), os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = None  # killed between mkdtemp and the lock: nobody can hold it
        except OSError:
            continue
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live run
        finally:
            if fd is not None:
                os.close(fd)
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed


class RunDir:
    def __init__(self, runs=None):
        runs = runs or runs_dir()
        os.makedirs(runs, exist_ok=True)
        remove_stale(runs)
        self.path = tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=runs)
        os.chmod(self.path, 0o755)
        self.lock = os.open(os.path.join(self.path, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(self.lock, fcntl.LOCK_EX)

    def file(self, name):
        return os.path.join(self.path, name)

    def close(self):
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self.lock)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
