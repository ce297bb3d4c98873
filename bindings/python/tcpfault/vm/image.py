"""The image QEMU boots: the uncompressed vmlinux inside a vmlinuz when it can be had (QEMU
starts it at its PVH entry, which under TCG saves the decompression in the guest), else the
vmlinuz itself. The logic of the kernel's scripts/extract-vmlinux: find a compressed stream
by its magic, inflate it, keep it if it is an ELF file."""

import lzma
import os
import shutil
import subprocess
import zlib

ELF = b"\x7fELF"
XZ = b"\xfd7zXZ\x00"
GZIP = b"\x1f\x8b\x08"
ZSTD = b"\x28\xb5\x2f\xfd"  # Debian's 6.12: inflated by the zstd program, when there is one


def inflate_at(data, offset, kind):
    if kind == "zstd":
        if not shutil.which("zstd"):
            return None
        try:  # the data after the frame makes zstd complain; what came before it counts
            return subprocess.run(["zstd", "-dcq"], input=data[offset:], capture_output=True, timeout=120).stdout
        except subprocess.TimeoutExpired:
            return None
    try:
        if kind == "xz":
            return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[offset:])
        return zlib.decompressobj(wbits=31).decompress(data[offset:])
    except (lzma.LZMAError, zlib.error, EOFError):
        return None


def extract_vmlinux(vmlinuz):
    """The ELF vmlinux inside a bzImage, or None (another compression, or not found)."""
    with open(vmlinuz, "rb") as f:
        data = f.read()
    if data.startswith(ELF):
        return data
    for magic, kind in ((XZ, "xz"), (GZIP, "gzip"), (ZSTD, "zstd")):
        offset = data.find(magic)
        while offset != -1:
            found = inflate_at(data, offset, kind)
            if found and found.startswith(ELF):
                return found
            offset = data.find(magic, offset + 1)
    return None


def has_pvh_note(elf):
    """Xen's PHYS32_ENTRY note (type 18) in a PT_NOTE segment: QEMU needs it to start an ELF kernel."""
    if len(elf) < 64 or elf[4] != 2:  # 64-bit ELF only
        return False
    phoff = int.from_bytes(elf[32:40], "little")
    phentsize = int.from_bytes(elf[54:56], "little")
    phnum = int.from_bytes(elf[56:58], "little")
    for i in range(phnum):
        ph = elf[phoff + i * phentsize: phoff + (i + 1) * phentsize]
        if int.from_bytes(ph[0:4], "little") != 4:  # PT_NOTE
            continue
        at, end = int.from_bytes(ph[8:16], "little"), 0
        end = at + int.from_bytes(ph[32:40], "little")
        while at + 12 <= end:
            namesz, descsz, kind = (int.from_bytes(elf[at + k: at + k + 4], "little") for k in (0, 4, 8))
            name = elf[at + 12: at + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and kind == 18:
                return True
            at += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def boot_image(kernel, work_dir):
    """The path QEMU is given: a cached vmlinux beside the package, one in work_dir, or the image."""
    with open(kernel.image, "rb") as f:
        if f.read(4) == ELF:
            return kernel.image
    cached = os.path.join(kernel.cache_dir or work_dir, f"vmlinux-{kernel.release}")
    if os.path.exists(cached):
        return cached
    elf = extract_vmlinux(kernel.image)
    if elf is None or not has_pvh_note(elf):
        return kernel.image
    partial = cached + f".{os.getpid()}.part"
    with open(partial, "wb") as f:
        f.write(elf)
    os.replace(partial, cached)
    return cached
