"""The wire-inferred states against the stacks' (net.compare_wire_states), in a forked
child: a crash of the comparison (an engine bug) then costs one record's "wire" field, not
the whole pytest run and every variant after it. The child only reads the trace it
inherited and writes a JSON summary on a pipe; the parent waits for it with a deadline
and kills it past that (a lock another thread held at the fork stays held in the child)."""

import json
import os
import select
import signal
import time

TIMEOUT_S = 20.0  # a bulk conversation's comparison takes a few seconds
TIMED_OUT = "the wire-state comparison took more than"


def _summary(comparison):
    return {"agreements": comparison.agreements, "disagreements": comparison.disagreements,
            "unexplained": comparison.unexplained, "text": str(comparison) if comparison.unexplained else ""}


def _child(net, out):
    status = 0
    try:
        data = json.dumps(_summary(net.compare_wire_states(settle=0))).encode()
    except Exception as error:  # noqa: BLE001 - said to the parent
        data = json.dumps({"error": f"{type(error).__name__}: {error}"}).encode()
    try:
        while data:
            data = data[os.write(out, data):]
    except OSError:
        status = 1
    os._exit(status)


def compare(net, timeout=TIMEOUT_S):
    """{"agreements", "disagreements", "unexplained", "text"}, or {"error": what went wrong}."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _child(net, write)
    os.close(write)
    chunks, deadline, killed = [], time.monotonic() + timeout, False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
            ready, _, _ = select.select([read], [], [], left)
            if ready:
                chunk = os.read(read, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read)
        _, status = os.waitpid(pid, 0)
    if killed:
        return {"error": f"{TIMED_OUT} {timeout:g} s"}
    if os.WIFSIGNALED(status):
        return {"error": f"the wire-state comparison crashed ({signal.Signals(os.WTERMSIG(status)).name}): "
                         "an engine bug; net.compare_wire_states() on this run's trace reproduces it"}
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return {"error": "the wire-state comparison said nothing"}
