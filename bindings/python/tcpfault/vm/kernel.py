"""Which kernel to boot: a Debian kernel package fetched into a cache without installing it,
or a tree or image the user already has.

    resolve("6.1")                       -> the newest linux-image-6.1.0-N-amd64 apt knows
    resolve("6.12")                      -> the newest linux-image-6.12.N+debM-amd64
    resolve("linux-image-6.1.0-57-amd64") or a .deb file
    resolve("/srv/k/6.1")                -> an extracted package (boot/vmlinuz-*, lib/modules/*)
    resolve("/srv/vmlinux", modules=DIR) -> an image and its modules (lib/modules/RELEASE or RELEASE)

A package is never installed: `apt-get download`, `dpkg-deb -x` and `depmod -b` into
CACHE/kernels/PACKAGE (see cache(); installing one would rebuild the host's initramfs and change its boot).
"""

import dataclasses
import fcntl
import glob
import os
import re
import shutil
import subprocess
import tempfile

from .errors import VmError, VmUsage



def cache():
    """Where kernels and runs' folders go ($TCPFAULT_VM_CACHE, default /var/cache/tcpfault)."""
    return os.environ.get("TCPFAULT_VM_CACHE", "/var/cache/tcpfault")


# A version as users write it: 6.1, 6.12, 6.1.0-57, 6.12.118+deb12.
VERSION = re.compile(r"^\d+\.\d+(?:\.\d+)?(?:[-+][0-9a-z.+~-]+)?$")
# The generic amd64 flavour only: -cloud has no 9p, -rt is another scheduler, -dbg and
# -unsigned are not kernels to boot (the signed one is the same image).
FLAVOUR = "-amd64"
APT_TIMEOUT = 600


@dataclasses.dataclass
class Kernel:
    name: str           # what the user asked for, or the package
    release: str        # uname -r in the guest, e.g. 6.1.0-57-amd64
    image: str          # vmlinuz (bzImage) or vmlinux
    modules: str        # the directory lib/modules/RELEASE
    config: str | None  # boot/config-RELEASE, when known
    cache_dir: str | None = None  # where derived files (vmlinux, initramfs) may be kept


def run(argv, what, timeout=APT_TIMEOUT, cwd=None):
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise VmError(f"{what}: {argv[0]} not found (run ci/setup.sh, or apt-get install {argv[0]})") from None
    except subprocess.TimeoutExpired:
        raise VmError(f"{what}: {argv[0]} took more than {timeout} s") from None
    if done.returncode != 0:
        raise VmError(f"{what}: {' '.join(argv)} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def version_key(text):
    """'6.1.0-57' < '6.1.0-100'; '6.12.118+deb12' < '6.12.200+deb12'."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def available_packages(names):
    """Those of `names` apt can download (a name can be known without a candidate)."""
    if not names:
        return []
    out = run(["apt-cache", "policy", *names], "looking the kernel packages up", timeout=120)
    found, current = [], None
    for line in out.splitlines():
        if line and not line.startswith(" "):
            current = line.rstrip(":")
        elif current and line.strip().startswith("Candidate:") and line.split()[-1] != "(none)":
            found.append(current)
    return found


def package_for_version(version, names=None):
    """The newest generic amd64 kernel package of `version` (a prefix: 6.1 matches
    6.1.0-57, not 6.12). `names` is apt's list of package names (for tests)."""
    if names is None:
        names = run(["apt-cache", "pkgnames", "linux-image-"], "listing the kernel packages", timeout=120).split()
    pattern = re.compile(r"^linux-image-(" + re.escape(version) + r"(?:[.+-][0-9a-z.+~]*?)?)(-\d+)?" + FLAVOUR + "$")
    matching = []
    for name in names:
        m = pattern.match(name)
        # The ABI part (-57 or +deb12) says it is a kernel, not a meta-package like linux-image-6.12-amd64.
        if m and re.search(r"(-\d+|\+deb\d+)" + FLAVOUR + "$", name) and not name.endswith(("-dbg", "-unsigned")):
            matching.append(name)
    matching.sort(key=lambda n: version_key(n[len("linux-image-"):]), reverse=True)
    return matching


def resolve_version(version):
    candidates = package_for_version(version)
    available = set(available_packages(candidates[:20]))
    for name in candidates:
        if name in available:
            return name
    # Offline, or apt's lists gone: the newest package of that version already fetched.
    kernels = os.path.join(cache(), "kernels")
    cached = [name for name in package_for_version(version, os.listdir(kernels) if os.path.isdir(kernels) else [])
              if os.path.exists(os.path.join(kernels, name, ".complete"))]
    if cached:
        return cached[0]
    raise VmUsage(f"no Debian kernel package for version {version!r}: apt knows no linux-image-{version}*{FLAVOUR} "
                  "(try 6.1 or 6.12, a package name, or a path; `apt-get update` if the lists are old)")


class CacheLock:
    """One fetch of a package at a time, across tcpfault processes (flock, freed by the kernel
    when a killed process's descriptor closes)."""

    def __init__(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def __enter__(self):
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def lock_path(tree):
    """The lock of a kernel's folder in the cache: its fetch, and the files made from it."""
    return os.path.join(os.path.dirname(tree), f".{os.path.basename(tree)}.lock")


def fetch_package(package, deb=None, say=print):
    """CACHE/kernels/PACKAGE with the package's files, modules.dep made; fetched once."""
    kernels = os.path.join(cache(), "kernels")
    tree = os.path.join(kernels, package)
    done = os.path.join(tree, ".complete")
    with CacheLock(lock_path(tree)):
        if os.path.exists(done):
            return tree
        # A fetch that died half-way left partial folders: start again.
        for stale in glob.glob(os.path.join(kernels, f".fetch-{package}-*")) + [tree]:
            shutil.rmtree(stale, ignore_errors=True)
        work = tempfile.mkdtemp(prefix=f".fetch-{package}-", dir=kernels)
        try:
            if deb is None:
                say(f"tcpfault vm: downloading {package} (not installed: only unpacked in {tree})")
                os.chmod(work, 0o755)
                run(["apt-get", "download", "-q", package], f"downloading {package}", cwd=work)
                debs = glob.glob(os.path.join(work, "*.deb"))
                if len(debs) != 1:
                    raise VmError(f"downloading {package}: apt-get download gave {len(debs)} files")
                deb = debs[0]
            extracted = os.path.join(work, "tree")
            run(["dpkg-deb", "-x", deb, extracted], f"unpacking {deb}")
            releases = os.listdir(os.path.join(extracted, "lib", "modules")) \
                if os.path.isdir(os.path.join(extracted, "lib", "modules")) else []
            if len(releases) != 1:
                raise VmError(f"{package} is not a kernel image package (it has {len(releases)} lib/modules trees)")
            run(["depmod", "-b", extracted, releases[0]], f"indexing the modules of {package}")
            os.rename(extracted, tree)
            with open(done, "w") as f:
                f.write(package + "\n")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return tree


def from_tree(tree, name, cache_dir=None):
    """An extracted package: boot/vmlinuz-RELEASE (or vmlinux-), lib/modules/RELEASE."""
    modules_root = os.path.join(tree, "lib", "modules")
    releases = sorted(os.listdir(modules_root)) if os.path.isdir(modules_root) else []
    if len(releases) != 1:
        raise VmError(f"{tree}: expected one kernel in lib/modules/, found {len(releases)} "
                      "(give an extracted linux-image package, or an image with --modules DIR)")
    release = releases[0]
    image = next((p for p in (os.path.join(tree, "boot", f"{k}-{release}") for k in ("vmlinux", "vmlinuz"))
                  if os.path.isfile(p)), None)
    if image is None:
        raise VmError(f"{tree}: no boot/vmlinuz-{release} or boot/vmlinux-{release}")
    config = os.path.join(tree, "boot", f"config-{release}")
    return Kernel(name, release, image, os.path.join(modules_root, release),
                  config if os.path.isfile(config) else None, cache_dir)


def from_image(image, modules):
    """A vmlinuz or vmlinux and its modules: DIR is lib/modules/RELEASE itself, or holds one RELEASE."""
    if modules is None:
        raise VmUsage(f"{image} is a kernel image: give its modules with --modules DIR "
                      "(lib/modules/RELEASE of the same build)")
    if not os.path.exists(os.path.join(modules, "modules.order")):
        inner = [d for d in os.listdir(modules) if os.path.isfile(os.path.join(modules, d, "modules.order"))]
        if len(inner) != 1:
            raise VmUsage(f"--modules {modules}: not a lib/modules/RELEASE directory (no modules.order)")
        modules = os.path.join(modules, inner[0])
    if not os.path.exists(os.path.join(modules, "modules.dep")):
        raise VmError(f"--modules {modules}: no modules.dep (run depmod -b on its tree first)")
    release = os.path.basename(os.path.normpath(modules))
    config = next((c for c in (os.path.join(os.path.dirname(image), f"config-{release}"),
                               os.path.join(modules, "build", ".config")) if os.path.isfile(c)), None)
    return Kernel(image, release, image, modules, config)


def check_spec(spec):
    """Bad input, found before any work: what kind of spec this is, or VmError."""
    if os.sep in spec or spec.startswith("."):
        if not os.path.exists(spec):
            raise VmUsage(f"--kernel {spec}: no such file or directory")
        if spec.endswith(".deb"):
            return "deb"
        return "tree" if os.path.isdir(spec) else "image"
    if spec.startswith("linux-image-"):
        return "package"
    if VERSION.match(spec):
        return "version"
    raise VmUsage(f"--kernel {spec!r}: not a version (6.1, 6.12), a package (linux-image-6.1.0-57-amd64), "
                  "a .deb, or a path to an extracted package or a kernel image")


def resolve(spec, modules=None, say=print):
    kind = check_spec(spec)
    if modules and not os.path.isdir(modules):
        raise VmUsage(f"--modules {modules}: no such directory")
    if kind == "tree":
        if modules:
            raise VmUsage("--modules is for a kernel image; an extracted package has its own lib/modules")
        return from_tree(os.path.abspath(spec), spec)
    if kind == "image":
        return from_image(os.path.abspath(spec), modules and os.path.abspath(modules))
    if kind == "deb":
        package = os.path.basename(spec)[:-len(".deb")]
        tree = fetch_package(package, deb=os.path.abspath(spec), say=say)
        return from_tree(tree, package, tree)
    package = resolve_version(spec) if kind == "version" else spec
    if kind == "package" and not available_packages([package]):
        raise VmUsage(f"--kernel {package}: apt has no such package (apt-cache policy {package})")
    tree = fetch_package(package, say=say)
    return from_tree(tree, package, tree)
