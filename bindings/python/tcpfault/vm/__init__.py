"""tcpfault vm: the suite on another kernel, in a QEMU guest over the host's files.

    tcpfault vm --kernel 6.1 -- conformance -k cl2 --family 4 --json /srv/out/r.json
    tcpfault vm --kernel 6.12 -- pytest cases/test_close.py

A module per job: kernel (fetch and cache a Debian kernel package, or take a tree or an
image), config_check (what the suite needs of the kernel's config), image (the vmlinux
QEMU boots), initramfs (busybox and the modules that reach the root), workdir (the run's
folder, and the removal of those a killed run left), qemu (the VM, bound to tcpfault's
life and to a deadline, on a real or a virtual clock), command (the subcommand that puts them together).
"""
