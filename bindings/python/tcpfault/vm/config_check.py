"""What the suite needs of a kernel's build configuration, checked before booting it: one
error that names every missing option and what it is for."""

import os

from .errors import VmError

# (option, what needs it). y or m both do: the guest loads modules from the kernel's own tree.
BOOT = [
    ("CONFIG_BLK_DEV_INITRD", "the initramfs that mounts the host's files"),
    ("CONFIG_DEVTMPFS", "/dev in the guest"),
    ("CONFIG_TMPFS", "the writable layer over the host's files"),
    ("CONFIG_SERIAL_8250_CONSOLE", "the console the command's output comes back on"),
    ("CONFIG_VIRTIO_PCI", "the 9p shares (virtio-9p-pci)"),
    ("CONFIG_NET_9P", "the host's files over 9p"),
    ("CONFIG_NET_9P_VIRTIO", "the host's files over 9p"),
    ("CONFIG_9P_FS", "the host's files over 9p (Debian's -cloud kernels have none: use the generic -amd64)"),
    ("CONFIG_OVERLAY_FS", "the writable layer over the host's files"),
]
SUITE = [
    ("CONFIG_NET_NS", "a network namespace per host of each scenario"),
    ("CONFIG_VETH", "the links between the namespaces"),
    ("CONFIG_TUN", "TAP links to an agent's stack"),
    ("CONFIG_IPV6", "the cases on IPv6"),
    ("CONFIG_NETFILTER_ADVANCED", "the NFQUEUE target"),
    ("CONFIG_NETFILTER_NETLINK_QUEUE", "NFQUEUE: the middlebox's verdict loop"),
    ("CONFIG_NETFILTER_XT_TARGET_NFQUEUE", "the FORWARD rule that queues every TCP segment"),
    ("CONFIG_INET_DIAG", "sock_diag: reading the kernel's sockets"),
    ("CONFIG_INET_TCP_DIAG", "sock_diag for TCP"),
    ("CONFIG_INET_DIAG_DESTROY", "sock_diag destroy (the faults that kill a socket)"),
    ("CONFIG_BPF_SYSCALL", "the BPF state observer"),
    ("CONFIG_BPF_EVENTS", "the observer's tracepoint programs"),
    ("CONFIG_DEBUG_INFO_BTF", "the observer's tp_btf programs (compiled against the kernel's BTF)"),
    ("CONFIG_TRACEPOINTS", "the state tracepoints (inet_sock_set_state)"),
]
# The middlebox rule goes in with the host's iptables-restore (the guest runs the host's
# programs): iptables-nft needs nf_tables and its xtables bridge, iptables-legacy ip(6)_tables.
IPTABLES_NFT = [
    ("CONFIG_NF_TABLES", "iptables-nft (the host's iptables) speaks nf_tables"),
    ("CONFIG_NF_TABLES_IPV4", "iptables-nft on IPv4"),
    ("CONFIG_NF_TABLES_IPV6", "iptables-nft on IPv6"),
    ("CONFIG_NFT_COMPAT", "iptables-nft's xtables targets (NFQUEUE)"),
]
IPTABLES_LEGACY = [
    ("CONFIG_IP_NF_IPTABLES", "iptables-legacy (the host's iptables)"),
    ("CONFIG_IP_NF_FILTER", "the filter table's FORWARD chain"),
    ("CONFIG_IP6_NF_IPTABLES", "ip6tables-legacy"),
    ("CONFIG_IP6_NF_FILTER", "the IPv6 filter table's FORWARD chain"),
]


def iptables_flavour():
    """'nft' or 'legacy': what the host's iptables-restore is (the guest runs the same)."""
    for directory in ("/usr/sbin", "/sbin", "/usr/bin"):
        path = os.path.join(directory, "iptables-restore")
        if os.path.exists(path):
            return "legacy" if "legacy" in os.path.realpath(path) else "nft"
    return "nft"


def required(flavour=None):
    firewall = IPTABLES_LEGACY if (flavour or iptables_flavour()) == "legacy" else IPTABLES_NFT
    return BOOT + SUITE + firewall


def parse(text):
    """option -> value ('y', 'm', '"text"'); '# X is not set' lines leave it out."""
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("CONFIG_") and "=" in line:
            key, value = line.split("=", 1)
            found[key] = value
    return found


def missing(config_text, flavour=None):
    options = parse(config_text)
    return [(key, why) for key, why in required(flavour) if options.get(key) not in ("y", "m")]


def check(kernel, flavour=None):
    """Raises VmError naming every missing option; a kernel without a config is taken on trust."""
    if kernel.config is None:
        return ["no config file beside the kernel: its options were not checked"]
    with open(kernel.config) as f:
        absent = missing(f.read(), flavour)
    if absent:
        lines = "\n".join(f"  {key} ({why})" for key, why in absent)
        raise VmError(f"kernel {kernel.release} lacks what the suite needs ({kernel.config}):\n{lines}")
    return []
