"""Whose seconds a printed duration is. Under `tcpfault vm --virtual-time` the guest's clock
is virtual (it jumps over the guest's idle waits), so the durations a command measures and
prints there are guest time, far from the wall time they cost. tcpfault vm sets
$TCPFAULT_VIRTUAL_TIME in such a guest; the reports then say so, in text and in JSON."""

import os

VIRTUAL = "TCPFAULT_VIRTUAL_TIME"


def virtual():
    return os.environ.get(VIRTUAL) == "1"


def label():
    """Said after a duration: nothing on a real clock."""
    return " of virtual guest time" if virtual() else ""


def name():
    """The reports' "clock": real, or virtual (a tcpfault vm --virtual-time guest's)."""
    return "virtual" if virtual() else "real"
