"""What tcpfault explore scales down in the case it runs: a bulk transfer's size.

Exploring a bulk case puts its faults on the first and last few segments of each kind
(--data-segments); the middle of a 10 MB transfer only costs time, on an agent most of
all (lwIP moves about 1 MB/s under DT5's faults). A case that asks casekit.bulk_bytes for
its size gets at most --transfer-bytes while it runs under explore; outside explore, and
with --transfer-bytes 0, it gets its own size.
"""

_transfer_bytes = None


def set_transfer_bytes(nbytes):
    """The cap for the test about to run (None or 0: none). The plugin sets it per test."""
    global _transfer_bytes
    _transfer_bytes = nbytes or None


def bulk_bytes(size):
    """`size`, or the cap when one is set and smaller."""
    return size if _transfer_bytes is None else min(size, _transfer_bytes)
