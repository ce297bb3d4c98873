"""What a run says while it runs: a line per finished test (its case, family, verdict,
duration and title), or KTAP, the kselftest format (`--ktap`): a version line, the plan
once pytest has collected, then `ok N description [# SKIP|XFAIL reason]` per test, with a
failure's summary as `#` lines before its `not ok`; several targets are subtests.

It writes to a copy of the terminal made before pytest's output is sent to its log
(tcpfault.case_runs.run_pytest)."""

import os
import sys

from .case_runs import VERDICTS_OK, said_lines

INDENT = "    "  # a subtest's KTAP, as KUnit nests it


def terminal():
    try:
        return os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    except (AttributeError, OSError, ValueError):  # not a file (a test's captured stdout)
        return sys.stdout


class Progress:
    """A pytest plugin: pass it to run_pytest with a Collector whose on_finished is
    `finished`. `describe(record)` -> (case, family, verdict, duration_s, title, detail)."""

    def __init__(self, describe, ktap=False, targets=1, out=None):
        self.describe = describe
        self.ktap = ktap
        self.several = targets > 1  # a line names its target; KTAP nests a subtest per target
        self.target = None
        self.out = out or terminal()
        self.total = None
        self.done = 0
        self.indent = INDENT if self.several else ""
        if ktap:
            self.out.write("KTAP version 1\n" + (f"1..{targets}\n" if self.several else ""))

    # ---- one target's run ----

    def begin_target(self, target):
        self.target = target if self.several else None
        self.total, self.done = None, 0
        if self.ktap and self.several:
            self.out.write(f"{INDENT}KTAP version 1\n{INDENT}# Subtest: {target}\n")

    def end_target(self, number, ok):
        if self.ktap and self.several:
            self.out.write(f"{'ok' if ok else 'not ok'} {number} {self.target}\n")

    # ---- pytest hooks: how many tests ----

    def planned(self, count):
        if self.total is None:
            self.total = count
            if self.ktap:
                self.out.write(f"{self.indent}1..{count}\n")

    def pytest_collection_finish(self, session):
        if not session.config.pluginmanager.has_plugin("dsession"):  # without xdist: the tests are here
            self.planned(len(session.items))

    def pytest_xdist_node_collection_finished(self, node, ids):
        self.planned(len(ids))

    # ---- one finished test ----

    def finished(self, record):
        self.done += 1
        case, family, verdict, duration, title, detail = self.describe(record)
        if self.ktap:
            self.write_ktap(case, family, verdict, duration, record, detail)
        else:
            count = f"{self.done:>{len(str(self.total))}}/{self.total}" if self.total else f"{self.done}"
            where = f"  {self.target}" if self.target else ""
            self.out.write(f"  {count}  {case:<5} {family:<4}{where}  {verdict:<14} {duration:7.2f} s  {title}\n")

    def write_ktap(self, case, family, verdict, duration, record, detail):
        name = f"{case} {family} {record['nodeid'].split('::')[-1]}".replace("#", "")
        lines = [f"{self.indent}# {name}: {duration:.2f} s"]
        if verdict not in VERDICTS_OK:
            lines += [f"{self.indent}# {line}" for line in failure_lines(detail)]
        if verdict == "pass":
            lines.append(f"{self.indent}ok {self.done} {name}")
        elif verdict == "deviation":
            lines.append(f"{self.indent}ok {self.done} {name} # XFAIL {one_line(detail)}")
        elif verdict in ("n/a", "skip"):
            lines.append(f"{self.indent}ok {self.done} {name} # SKIP {one_line(detail)}")
        else:
            lines.append(f"{self.indent}not ok {self.done} {name}")
        self.out.write("\n".join(lines) + "\n")


def failure_lines(text, limit=12):
    """What a failure says (pytest's "E" lines: the expectation, what was expected and
    seen), else its last lines."""
    return (said_lines(text) or [line for line in text.splitlines() if line.strip()][-5:])[:limit]


def one_line(text):
    return " ".join((text or "").split())[:200]
