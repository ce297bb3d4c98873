"""Booting the guest and watching it: QEMU's command line, a child that dies with tcpfault
(PR_SET_PDEATHSIG), the guest's console copied to our stdout, everything bounded in time."""

import ctypes
import os
import re
import select
import signal
import subprocess
import sys
import time

from .errors import VmError

# $TCPFAULT_VM_QEMU replaces it (the tests give a stand-in that boots nothing).
QEMU = os.environ.get("TCPFAULT_VM_QEMU", "qemu-system-x86_64")
PR_SET_PDEATHSIG = 1


def use_kvm(cpuinfo="/proc/cpuinfo"):
    """KVM only on a CPU with hardware virtualization: a /dev/kvm without vmx or svm is a
    software virtualizer on which stock kernels crash."""
    if not os.path.exists("/dev/kvm"):
        return False
    try:
        with open(cpuinfo) as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "vmx" in flags or "svm" in flags


# Virtual time: the guest's clock counts executed instructions (icount), and when the guest
# is idle it jumps to its next timer instead of waiting for it (sleep=off), so a minute of
# TIME_WAIT costs no wall time. icount is TCG's alone, and only with one TCG thread, hence
# one vCPU. shift=0: an instruction is worth 1 ns, always, so the guest sees one steady
# CPU about as fast as hardware. shift=auto would raise the shift whenever the guest is
# busy (its clock falls behind ours) and the guest would then see a CPU up to 1000 times
# slower at random moments: measured, SEC2's two clock reads within one connect() came
# 3-8 ms apart under auto and well under 1 ms with shift=0 (the case allows 2 ms).
# $TCPFAULT_VM_ICOUNT replaces it (QEMU's -icount syntax), to try another.
ICOUNT = os.environ.get("TCPFAULT_VM_ICOUNT", "shift=0,sleep=off")
# The CPU TCG emulates: x86-64's baseline (SSE2, no AVX). With `max`, glibc and the kernel
# pick their AVX2 string and memory routines, which TCG runs through helpers: measured in a
# virtual-time guest, 100 scenarios set up and torn down took 30-31 s of wall time with
# `max`, 21 s with Nehalem's features and 18-26 s with qemu64. The kernels and programs the
# suite runs need nothing above the baseline. (KVM passes the host's CPU through.)
TCG_CPU = "qemu64"


def command_line(image, initrd, append, shares, memory_mb=3072, cpus=2, kvm=None, virtual_time=False):
    """shares: (tag, host path, writable). virtual_time: TCG with icount and one vCPU, never KVM."""
    kvm = False if virtual_time else (use_kvm() if kvm is None else kvm)
    argv = [QEMU, "-M", "pc", "-nodefaults", "-no-user-config", "-display", "none", "-nic", "none",
            "-no-reboot", "-m", str(memory_mb), "-smp", str(1 if virtual_time else cpus),
            "-serial", "stdio", "-monitor", "none",
            "-kernel", image, "-initrd", initrd, "-append", append]
    if virtual_time:
        argv += ["-accel", "tcg,thread=single", "-cpu", TCG_CPU, "-icount", ICOUNT]
    else:
        argv += ["-accel", "kvm", "-cpu", "host"] if kvm else ["-accel", "tcg,thread=multi", "-cpu", TCG_CPU]
    for tag, path, writable in shares:
        model = "passthrough" if writable else "none,readonly=on"
        path = path.replace(",", ",,")  # QEMU's escape for a comma in an option's value
        argv += ["-virtfs", f"local,path={path},mount_tag={tag},security_model={model},multidevs=remap"]
    return argv


def die_with_parent(parent):
    def preexec():
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the prctl
            os._exit(1)
    return preexec


class Stopped(Exception):
    """A signal asked tcpfault to stop (SIGTERM, SIGHUP): the VM goes down with it."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def run(argv, log_path, timeout, out=None):
    """Runs QEMU until it exits; copies the console to `out`. Returns (QEMU's status, timed_out).
    QEMU has a process group of its own, so the terminal's Ctrl-C reaches tcpfault only, which
    stops the VM; it stays in tcpfault's session."""
    out = out or sys.stdout.buffer
    previous = {}

    def stop(signum, frame):
        raise Stopped(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, stop)
    try:
        with open(log_path, "wb") as log:
            try:
                child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                                         process_group=0, preexec_fn=die_with_parent(os.getpid()))
            except FileNotFoundError:
                raise VmError(f"{QEMU} not found: apt-get install qemu-system-x86 (run ci/setup.sh)") from None
        try:
            return copy_until_exit(child, out, time.monotonic() + timeout)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# The kernel's last word when the guest powers off (printed whatever the log level).
POWER_DOWN = re.compile(rb"^\[ *\d+\.\d+\] reboot: Power down$")


def console_lines(pending, chunk):
    """(complete lines to show, what is left): the serial console's CR LF made LF, the power-off note dropped."""
    pending += chunk.replace(b"\r", b"")
    *lines, rest = pending.split(b"\n")
    text = b"".join(line + b"\n" for line in lines if not POWER_DOWN.match(line))
    if not rest.startswith(b"["):  # a partial line (pytest's progress dots) shows at once
        return text + rest, b""
    return text, rest


def copy_until_exit(child, out, deadline):
    fd = child.stdout.fileno()
    pending = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            child.kill()
            child.wait()
            return child.returncode, True
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:  # QEMU closed its console: it is exiting
            if pending and not POWER_DOWN.match(pending):
                out.write(pending)
                out.flush()
            try:
                child.wait(timeout=max(0.1, min(30, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return child.returncode, False
        text, pending = console_lines(pending, chunk)
        if text:
            out.write(text)
            out.flush()
