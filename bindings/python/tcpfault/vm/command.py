"""tcpfault vm: run a tcpfault command in a QEMU guest booting another kernel, over the
host's files (same paths), with its output on our terminal and its exit status as ours."""

import argparse
import glob
import os
import shlex
import sys
import tempfile
import time

from .. import exit_codes, guest_clock
from . import config_check, image, initramfs, kernel, qemu, workdir
from .errors import VmError, VmUsage

USAGE = ("tcpfault vm --kernel VERSION|PACKAGE|PATH [--modules DIR] [--virtual-time] [--timeout S]\n"
         "                   [--memory MIB] [--share DIR ...] [--boot-log] -- COMMAND [ARGS...]")
# Exit status when the guest could not say its own: it did not boot, died, or ran out of time.
VM_FAILED = 3
DEFAULT_TIMEOUT = 3600
# Options of tcpfault commands whose value is written on the host: their folder is shared
# writable (the value is a file; --artifacts a folder that may not exist yet).
OUTPUT_OPTIONS = ("--json", "--junit", "--markdown", "--artifacts", "--junitxml", "--tcpfault-artifacts")
GUEST_TMP = "/run/tmp"
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def add_parser(commands):
    vm = commands.add_parser(
        "vm", help="run a tcpfault command in a VM booting another kernel (a Debian package, fetched)",
        usage=USAGE,
        description="Boot KERNEL in a QEMU guest over the host's files (read-only, with a throwaway layer "
                    "on top; the current folder, --share folders and the folders of --json, --junit, "
                    "--markdown and --artifacts writable at their host paths), run `tcpfault COMMAND "
                    "ARGS...` (or `pytest ARGS...`) there and pass its output and exit status through. KERNEL is a version "
                    "(6.1: the newest Debian linux-image-6.1.0-N-amd64 apt knows; 6.12), a package name or "
                    ".deb (downloaded and unpacked into /var/cache/tcpfault/kernels, never installed), an "
                    "unpacked package's folder, or a vmlinuz/vmlinux with --modules DIR. Exit status: the "
                    "command's; 3 when the guest did not give one (it failed to boot, died, or ran out of "
                    "time) or the kernel cannot run the suite (the missing options are named); 2 for bad usage.",
        **exit_codes.PARSER)
    vm.add_argument("--kernel", required=True, metavar="VERSION|PACKAGE|PATH", help="the kernel to boot")
    vm.add_argument("--modules", metavar="DIR", help="the modules of a kernel image (lib/modules/RELEASE)")
    vm.add_argument("--virtual-time", action="store_true",
                    help="run the guest on a virtual clock: QEMU TCG with -icount shift=0,sleep=off and one "
                         "vCPU (never KVM: icount is TCG's alone). Whenever the guest is idle its clock jumps to "
                         "its next timer, so TIME_WAIT's minute or a retransmission backoff costs no wall time; "
                         "everything the guest measures (timers, the harness's deadlines, the durations it "
                         "prints) is then guest time, and CPU-bound work runs on one host thread")
    vm.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                    help=f"stop the VM after S seconds of wall time on the host, boot included, with or "
                         f"without --virtual-time (default {DEFAULT_TIMEOUT})")
    vm.add_argument("--memory", type=int, default=3072, metavar="MIB", help="the guest's memory (default 3072)")
    vm.add_argument("--share", action="append", default=[], metavar="DIR",
                    help="a host folder the guest may write, at the same path (the current folder always is)")
    vm.add_argument("--boot-log", action="store_true", help="show the guest kernel's boot messages")
    vm.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                    help="the tcpfault command to run (conformance, sysctl-check, list...), or pytest ARGS")
    vm.set_defaults(run=run)


def guest_command(words):
    """The tcpfault command line after `--` (a leading `tcpfault` is allowed)."""
    if words and words[0] == "--":
        words = words[1:]
    if words and os.path.basename(words[0]) == "tcpfault":
        words = words[1:]
    if not words:
        raise VmUsage("nothing to run: give a tcpfault command after --, e.g. "
                      "tcpfault vm --kernel 6.1 -- conformance -k cl2")
    if words[0] == "vm":
        raise VmUsage("tcpfault vm inside tcpfault vm: give the command to run in the guest after --")
    return words


def with_host_artifacts(words):
    """conformance and sysctl-check keep their artifacts in a new temporary folder when given
    no --artifacts; in the guest that folder would vanish with the VM, so it is made on the
    host and given to the command: the report's paths are then host paths."""
    if words[0] not in ("conformance", "sysctl-check") or any(
            w == "--artifacts" or w.startswith("--artifacts=") for w in words):
        return words
    return words + ["--artifacts", tempfile.mkdtemp(prefix="tcpfault-")]


def output_folders(words, cwd, extra=()):
    """Host folders the guest writes into: cwd, --share DIRs, the folders of output options.
    Nested ones are left out (their parent is shared)."""
    wanted = [cwd] if cwd != "/" else []
    for folder in extra:
        path = os.path.abspath(folder)
        if not os.path.isdir(path):
            raise VmUsage(f"--share {folder}: no such folder")
        wanted.append(path)
    for i, word in enumerate(words):
        option, eq, value = word.partition("=")
        if option not in OUTPUT_OPTIONS:
            continue
        if not eq:
            if i + 1 >= len(words):
                continue  # the command itself will say the value is missing
            value = words[i + 1]
        path = os.path.abspath(os.path.join(cwd, value))
        folder = path if option.endswith("artifacts") and os.path.isdir(path) else os.path.dirname(path)
        while folder != "/" and not os.path.isdir(folder) and option.endswith("artifacts"):
            folder = os.path.dirname(folder)  # made by the command, inside a shared folder
        if not os.path.isdir(folder):
            raise VmUsage(f"{option} {value}: the folder {folder} does not exist on the host")
        wanted.append(folder)
    if "/" in wanted:
        raise VmUsage("the guest cannot write / itself: give outputs in a folder below it")
    shares = []
    for path in sorted(set(wanted), key=len):
        if not any(path.startswith(parent.rstrip("/") + "/") for parent in shares):
            shares.append(path)
    return shares


def package_path():
    """The folder holding the tcpfault package, and the cases folder, as the guest must see them."""
    import tcpfault
    from tcpfault.case_runs import cases_dir
    return os.path.dirname(os.path.dirname(os.path.abspath(tcpfault.__file__))), os.path.abspath(cases_dir())


def setup_script(kern, shares):
    """Sourced by the initramfs's /init before switch_root (busybox sh; `fail` says why and stops)."""
    q = shlex.quote
    lines = [f"mkdir -p /newroot/lib/modules/{q(kern.release)}",
             f"mount --bind /lower{q(kern.modules)} /newroot/lib/modules/{q(kern.release)} "
             f"|| fail 'cannot show the kernel modules at /lib/modules/{kern.release}'"]
    for n, path in enumerate(shares):
        lines.append(f"mkdir -p /newroot{q(path)} && mount -t 9p -o {initramfs.NINEP} out{n} /newroot{q(path)} "
                     f"|| fail {q('cannot mount the writable share ' + path)}")
    return "\n".join(lines) + "\n"


def command_script(words, cwd, virtual_time=False):
    """PID 1 after switch_root (the host's /bin/sh): runs the command, writes its exit status."""
    q = shlex.quote
    pythonpath, cases = package_path()
    ctl = initramfs.GUEST_CTL
    env = {"PATH": GUEST_PATH, "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": pythonpath, "TCPFAULT_CASES": cases,
           # The guest's own: a shared host folder (9p) cannot truncate a file already unlinked,
           # which is what pytest's capture files are.
           "TMPDIR": GUEST_TMP}
    if virtual_time:
        env[guest_clock.VIRTUAL] = "1"  # the durations the command prints say they are guest time
    # `pytest ARGS` runs pytest itself (cases with the plugin, with the same package); anything
    # else is a tcpfault command.
    argv = [sys.executable, "-m", "pytest", *words[1:]] if words[0] == "pytest" else \
        [sys.executable, "-m", "tcpfault.cli", *words]
    return "\n".join([
        "#!/bin/sh",
        f"mkdir -p /dev/pts /dev/shm && mkdir -m 1777 {GUEST_TMP}",
        "mount -t devpts devpts /dev/pts",
        "mount -t tmpfs -o mode=1777 shm /dev/shm",
        "mount -t bpf bpf /sys/fs/bpf 2>/dev/null",
        f"cut -d' ' -f1 /proc/uptime > {ctl}/started",
        f"cd {q(cwd)} || echo 'tcpfault vm (guest): no folder {cwd}'",
        "env -i " + " ".join(f"{k}={q(v)}" for k, v in env.items()) + " " + " ".join(map(q, argv))
        + " </dev/null >/dev/console 2>&1",
        "code=$?",
        f"cut -d' ' -f1 /proc/uptime > {ctl}/finished",
        f"echo $code > {ctl}/exit-code.part && mv {ctl}/exit-code.part {ctl}/exit-code",
        "sync",
        "/bin/busybox poweroff -f || echo o > /proc/sysrq-trigger",
        "",
    ])


def boot_files(kern, run_dir):
    """The image QEMU boots and the initramfs, made once per kernel in its cache folder (under
    the kernel's lock; a half-written file a killed run left is removed), else in the run's."""
    if kern.cache_dir is None:
        return image.boot_image(kern, run_dir), initramfs.build(kern, run_dir)
    with kernel.CacheLock(kernel.lock_path(kern.cache_dir)):
        for partial in glob.glob(os.path.join(kern.cache_dir, "*.part")):
            os.unlink(partial)
        return image.boot_image(kern, run_dir), initramfs.build(kern, run_dir)


def kernel_cmdline(boot_log):
    quiet = "loglevel=7" if boot_log else "quiet loglevel=1"
    return f"console=ttyS0 {quiet} panic=-1 rdinit=/init mitigations=off"


def ran_note(kern, boot_s, finished, wall, virtual_time):
    """The last line of a run: the guest's clock for the boot and the command, ours for the whole."""
    clock = "guest clock, virtual" if virtual_time else "guest clock"
    return (f"Linux {kern.release}: booted in {float(boot_s):.1f} s, the command ran "
            f"{float(finished) - float(boot_s):.1f} s ({clock}), {wall:.1f} s of wall time in all")


def say(text):
    print(f"tcpfault vm: {text}", file=sys.stderr, flush=True)


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def run(options):
    started = time.monotonic()
    try:
        if os.geteuid() != 0:
            raise VmError("needs root (QEMU's 9p shares write as the host's users; the suite in the guest is root)")
        words = guest_command(options.command)
        if options.timeout <= 0:
            raise VmUsage("--timeout must be more than 0 seconds")
        cwd = os.getcwd()
        output_folders(words, cwd, options.share)  # bad input, said before any work
        kern = kernel.resolve(options.kernel, options.modules, say=say)  # its input checked first
        for note in config_check.check(kern):
            say(note)
        if options.virtual_time and qemu.use_kvm():
            say("--virtual-time: the guest runs under TCG, not KVM (icount, the virtual clock, is TCG's alone)")
        words = with_host_artifacts(words)
        shares = output_folders(words, cwd, options.share)
        with workdir.RunDir() as run_dir:
            boot, initrd = boot_files(kern, run_dir.path)
            with open(run_dir.file("setup.sh"), "w") as f:
                f.write(setup_script(kern, shares))
            with open(run_dir.file("command.sh"), "w") as f:
                f.write(command_script(words, cwd, options.virtual_time))
            all_shares = [("hostroot", "/", False), ("ctl", run_dir.path, True)]
            all_shares += [(f"out{n}", path, True) for n, path in enumerate(shares)]
            argv = qemu.command_line(boot, initrd, kernel_cmdline(options.boot_log), all_shares,
                                     memory_mb=options.memory, virtual_time=options.virtual_time)
            left = options.timeout - (time.monotonic() - started)
            status, timed_out = qemu.run(argv, run_dir.file("qemu.log"), max(left, 1))
            code = read(run_dir.file("exit-code"))
            boot_s, finished = read(run_dir.file("started")), read(run_dir.file("finished"))
            if code is not None and code.isdigit():
                if boot_s and finished:
                    say(ran_note(kern, boot_s, finished, time.monotonic() - started, options.virtual_time))
                return int(code)
            log = (read(run_dir.file("qemu.log")) or "").splitlines()[-10:]
            if timed_out:
                say(f"timed out after {options.timeout:g} s: the VM was stopped (raise --timeout)")
            else:
                say(f"the guest stopped without an exit status (QEMU exit status {status}); "
                    "rerun with --boot-log to see the kernel's messages" + ("".join("\n  " + x for x in log)))
            return VM_FAILED
    except VmError as e:
        raise exit_codes.Stop(e.status, f"tcpfault vm: {e}") from None
    except qemu.Stopped as e:
        say("stopped by a signal: the VM was stopped")
        return 128 + e.signum
    except KeyboardInterrupt:
        say("interrupted: the VM was stopped")
        return 130
