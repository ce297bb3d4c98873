"""The guest's first seconds: a tiny initramfs (busybox-static, the modules that reach the
root, an /init) that mounts the host's / read-only over 9p under a tmpfs overlay, lets the
run's setup mount its writable shares at their host paths, and hands over to the run's
command. It depends only on the kernel and busybox, so it is built once per kernel.

The shares (virtio-9p, see qemu.py): `hostroot` the host's /, read-only; `ctl` the run's
folder (setup.sh, command.sh, and exit-code written back), seen at /run/tcpfault-vm."""

import glob
import hashlib
import lzma
import os
import shutil
import subprocess

from .errors import VmError

BUSYBOX = "/bin/busybox"
# What reaches the root: the 9p shares behind virtio-pci, and overlayfs. Their dependencies
# (virtio, virtio_ring, netfs, fscache, ...) come from the kernel's modules.dep.
ROOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")
NINEP = "trans=virtio,version=9p2000.L,msize=262144"
GUEST_CTL = "/run/tcpfault-vm"

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
fail() { echo "tcpfault vm (guest): $*" >/dev/console; sync; poweroff -f; }
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
while read -r module; do
  insmod "/modules/$module" || fail "insmod $module failed"
done </modules/order
mount -t 9p -o @NINEP@ ctl /ctl || fail "cannot mount the run's share (ctl)"
mount -t 9p -o @NINEP@,ro,cache=loose hostroot /lower || fail "cannot mount the host's / over 9p"
mount -t tmpfs -o mode=0755 upper /rw || fail "tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
  || fail "cannot put an overlay on the host's /"
for fs in proc sys dev; do mount --move /$fs /newroot/$fs || fail "mount --move /$fs"; done
mount -t tmpfs -o mode=0755 run /newroot/run || fail "tmpfs /run"
# /tmp stays the host's under the overlay: a checkout or build there must be seen. What needs
# a tmpfs (overlayfs cannot truncate a file already unlinked: pytest's capture files) gets
# TMPDIR, a folder of /run (command.sh).
mkdir -p /newroot@GUEST_CTL@ && mount --move /ctl /newroot@GUEST_CTL@ || fail "mount --move /ctl"
. /newroot@GUEST_CTL@/setup.sh
exec switch_root /newroot /bin/sh @GUEST_CTL@/command.sh
fail "switch_root failed"
""".replace("@NINEP@", NINEP).replace("@GUEST_CTL@", GUEST_CTL)


def newc(entries):
    """A cpio archive in the newc format the kernel unpacks: (name, mode, data, rdev)."""
    out = bytearray()
    for ino, (name, mode, data, rdev) in enumerate(list(entries) + [("TRAILER!!!", 0, b"", (0, 0))], 1):
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        out += b"070701" + b"".join(b"%08X" % v for v in fields) + encoded
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def module_closure(modules_dir, names):
    """Module files to load, dependencies first; a module built into the kernel is skipped."""
    deps, by_name = {}, {}
    with open(os.path.join(modules_dir, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[path] = rest.split()
            by_name[module_name(path)] = path
    builtin = set()
    if os.path.exists(os.path.join(modules_dir, "modules.builtin")):
        with open(os.path.join(modules_dir, "modules.builtin")) as f:
            builtin = {module_name(line.strip()) for line in f}
    order = []

    def visit(path):
        if path in order:
            return
        for dep in deps.get(path, []):
            visit(dep)
        order.append(path)

    for name in names:
        if name in by_name:
            visit(by_name[name])
        elif name.replace("-", "_") not in builtin and name not in builtin:
            raise VmError(f"kernel in {modules_dir} has no module {name!r} (and it is not built in)")
    return order


def module_name(path):
    base = os.path.basename(path)
    return base[:base.index(".ko")] if ".ko" in base else base


def module_bytes(path):
    """The module, uncompressed (busybox's insmod takes plain .ko files)."""
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        import gzip
        return gzip.decompress(data)
    if path.endswith(".zst"):
        if not shutil.which("zstd"):
            raise VmError(f"{path} is zstd-compressed: apt-get install zstd")
        return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True, timeout=60).stdout
    return data


def build(kernel, work_dir):
    """The initramfs for this kernel (cached beside its package); returns its path."""
    if not os.path.isfile(BUSYBOX) or b"ELF" not in open(BUSYBOX, "rb").read(4):
        raise VmError(f"{BUSYBOX} not found: apt-get install busybox-static (run ci/setup.sh)")
    order = module_closure(kernel.modules, ROOT_MODULES)
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    key = hashlib.sha256(INIT.encode() + busybox + "\n".join(order).encode()).hexdigest()[:12]
    path = os.path.join(kernel.cache_dir or work_dir, f"initramfs-{kernel.release}-{key}.cpio")
    if os.path.exists(path):
        return path
    for older in glob.glob(os.path.join(os.path.dirname(path), f"initramfs-{kernel.release}-*.cpio")):
        os.unlink(older)  # made by another version of tcpfault or busybox
    entries = [(d, 0o40755, b"", (0, 0)) for d in ("bin", "dev", "proc", "sys", "ctl", "lower", "rw", "newroot",
                                                   "modules", "run", "tmp")]
    entries.append(("dev/console", 0o20600, b"", (5, 1)))
    entries.append(("bin/busybox", 0o100755, busybox, (0, 0)))
    entries.append(("bin/sh", 0o120777, b"busybox", (0, 0)))
    entries.append(("init", 0o100755, INIT.encode(), (0, 0)))
    names = []
    for rel in order:
        name = module_name(rel) + ".ko"
        names.append(name)
        entries.append((f"modules/{name}", 0o100644, module_bytes(os.path.join(kernel.modules, rel)), (0, 0)))
    entries.append(("modules/order", 0o100644, ("\n".join(names) + "\n").encode(), (0, 0)))
    partial = path + f".{os.getpid()}.part"
    with open(partial, "wb") as f:
        f.write(newc(entries))
    os.replace(partial, path)
    return path
