"""What the suite needs of a kernel's build configuration, checked before booting it: one
error that names every missing option and what it is for."""

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
# The middlebox's rule goes in as one nf_tables batch (harness/intercept/nft_batch.*): an
# nf_tables chain whose rule calls the xtables NFQUEUE target through nft_compat.
FIREWALL = [
    ("CONFIG_NF_TABLES", "the middlebox's rule (an nf_tables batch)"),
    ("CONFIG_NF_TABLES_IPV4", "the rule's ip table"),
    ("CONFIG_NF_TABLES_IPV6", "the rule's ip6 table"),
    ("CONFIG_NFT_COMPAT", "the xtables NFQUEUE target in an nf_tables rule"),
]


def required():
    return BOOT + SUITE + FIREWALL


def parse(text):
    """option -> value ('y', 'm', '"text"'); '# X is not set' lines leave it out."""
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("CONFIG_") and "=" in line:
            key, value = line.split("=", 1)
            found[key] = value
    return found


def missing(config_text):
    options = parse(config_text)
    return [(key, why) for key, why in required() if options.get(key) not in ("y", "m")]


def check(kernel):
    """Raises VmError naming every missing option; a kernel without a config is taken on trust."""
    if kernel.config is None:
        return ["no config file beside the kernel: its options were not checked"]
    with open(kernel.config) as f:
        absent = missing(f.read())
    if absent:
        lines = "\n".join(f"  {key} ({why})" for key, why in absent)
        raise VmError(f"kernel {kernel.release} lacks what the suite needs ({kernel.config}):\n{lines}")
    return []
