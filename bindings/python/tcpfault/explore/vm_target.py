"""A kernel in a VM as an explore target: `--target vm:VERSION` runs the target's variants
with pytest inside `tcpfault vm --kernel VERSION --virtual-time` (both ends on the guest's
kernel), so that the kernel a user deploys is compared with this one and with the agents.

The guest sees the host's files at the same paths and writes the exploration's folder
(shared): the records, timelines and artifacts land where a local target's do, and the
rest of explore reads them alike. On the guest's virtual clock a retransmission timer
costs no wall time; its one vCPU runs the variants one at a time.
"""

import os
import shutil
import sys

from ..vm import errors as vm_errors, kernel as vm_kernel, qemu

PREFIX = "vm:"
# The guest's own time limit for one batch of variants (boot included), in wall seconds.
BATCH_TIMEOUT_S = 3600


def is_vm(target):
    return target.startswith(PREFIX)


def version(target):
    return target[len(PREFIX):]


def pytest_target(target):
    """The --tcpfault-target the guest's pytest runs with: its own kernel."""
    return "kernel" if is_vm(target) else target


class Unusable(Exception):
    """The machine cannot boot it (no QEMU, the package cannot be fetched)."""


def check(target, say):
    """Said before any work: ValueError for bad input (no kernel named, an unknown version),
    Unusable when this machine cannot run it. The kernel is resolved (fetched once into the
    cache) here."""
    spec = version(target)
    if not spec.strip():
        raise ValueError(f"--target {target}: name the kernel after vm: (vm:6.1, a Debian package, or a path)")
    if shutil.which(qemu.QEMU) is None:
        raise Unusable(f"--target {target}: {qemu.QEMU} not found: apt-get install qemu-system-x86 (run ci/setup.sh)")
    try:
        vm_kernel.resolve(spec, None, say=say)
    except vm_errors.VmUsage as e:
        raise ValueError(f"--target {target}: {e}") from None
    except vm_errors.VmError as e:
        raise Unusable(f"--target {target}: {e}") from None


def command(target, pytest_args, out_dir):
    """The command line that runs `pytest pytest_args` in the guest (pytest_args without the
    interpreter), the exploration's folder writable there."""
    return [sys.executable, "-m", "tcpfault.cli", "vm", "--kernel", version(target), "--virtual-time",
            "--timeout", str(BATCH_TIMEOUT_S), "--share", os.path.abspath(out_dir), "--", "pytest", *pytest_args]


def run_line(target, file):
    """How a reproducer recorded on `target` is run."""
    if not is_vm(target):
        return f"pytest -p tcpfault.pytest_plugin --tcpfault-target {target} {file}"
    return (f"tcpfault vm --kernel {version(target)} --virtual-time -- "
            f"pytest -p tcpfault.pytest_plugin --tcpfault-target kernel {file}")
