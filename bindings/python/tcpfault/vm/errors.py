"""tcpfault vm's errors: each says what is wrong and how to fix it, and which exit status
(tcpfault.exit_codes) it ends the command with."""

from ..exit_codes import CANNOT_RUN, USAGE


class VmError(Exception):
    """The VM cannot run the command: a missing program, a download that failed, a kernel
    that lacks what the suite needs."""
    status = CANNOT_RUN


class VmUsage(VmError):
    """Bad usage or input: an option, a kernel name, a folder that does not exist."""
    status = USAGE
