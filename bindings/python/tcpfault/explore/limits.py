"""What tcpfault explore scales down in the case it runs: a bulk transfer's size, and how
long it may take.

Exploring a bulk case puts its faults on the first and last few segments of each kind
(--data-segments); the middle of a 10 MB transfer only costs time, on an agent most of
all (lwIP moves about 1 MB/s under DT5's faults). A case that asks casekit.bulk_bytes for
its size gets at most --transfer-bytes while it runs under explore; outside explore, and
with --transfer-bytes 0, it gets its own size. Likewise casekit.bulk_timeout: a
transfer's deadline is at most --transfer-timeout under explore. A transfer's length has a
long tail (a sender whose timer stands at Linux's 120 s ceiling moves a few segments per
timeout), and one variant that waits out a 600 s deadline is most of an exploration's time.
"""

_transfer_bytes = None
_transfer_timeout = None


def set_transfer_bytes(nbytes):
    """The cap for the test about to run (None or 0: none). The plugin sets it per test."""
    global _transfer_bytes
    _transfer_bytes = nbytes or None


def set_transfer_timeout(seconds):
    """The cap on a transfer's deadline for the test about to run (None or 0: none)."""
    global _transfer_timeout
    _transfer_timeout = seconds or None


def bulk_bytes(size):
    """`size`, or the cap when one is set and smaller."""
    return size if _transfer_bytes is None else min(size, _transfer_bytes)


def bulk_timeout(seconds):
    """`seconds`, or the cap when one is set and smaller."""
    return seconds if _transfer_timeout is None else min(seconds, _transfer_timeout)
