#!/usr/bin/python3
"""What each failed ctest entry said, again, at the end of the run.

ctest --output-on-failure prints a failed test's output where the test ended, often
hundreds of lines before the summary; a CI log cut to its head and tail loses it. This
reads Testing/Temporary/LastTest.log and prints, for every test of LastTestsFailed.log,
the lines that say what failed and the output's last lines, bounded per test.

    failure_digest.py BUILD_DIR
"""

import re
import sys
from pathlib import Path

# Lines that name a failure in the outputs of this project's tests: gtest, pytest,
# the conformance report, the wire-state comparison, the shell checks.
FAILURE = re.compile(r"\bfail(ed|s|ure)?\b|FAILED|Error|error:|expectation|assert|disagree|Traceback|"
                     r"target failure|timed out|no longer seen|^E\s", re.IGNORECASE)
MOST_MATCHES = 40
LAST_LINES = 15


def outputs(log_text):
    """{test name: its output lines} from ctest's LastTest.log."""
    found = {}
    name, lines, inside = None, [], False
    for line in log_text.splitlines():
        start = re.match(r"^\d+/\d+ Testing: (.+)$", line)
        if start:
            name, lines, inside = start.group(1).strip(), [], False
        elif name is not None and line == "Output:":
            inside = True
        elif inside and line == "<end of output>":
            found[name] = lines
            name, inside = None, False
        elif inside and not (not lines and set(line) == {"-"}):
            lines.append(line)
    return found


def digest(name, lines):
    body = [l for l in lines if l.strip()]
    hits = [l for l in body if FAILURE.search(l)]
    shown = hits[:MOST_MATCHES]
    out = [f"== {name}: {len(body)} line(s) of output, {len(hits)} naming a failure"]
    out += [f"  {l}" for l in shown]
    if len(hits) > MOST_MATCHES:
        out.append(f"  ... {len(hits) - MOST_MATCHES} more")
    tail = [l for l in body[-LAST_LINES:] if l not in shown]
    if tail:
        out.append("  -- its last lines:")
        out += [f"  {l}" for l in tail]
    return out


def main(build):
    temporary = Path(build) / "Testing" / "Temporary"
    failed_list = temporary / "LastTestsFailed.log"
    if not failed_list.exists():
        return 0
    failed = [l.split(":", 1)[1].strip() for l in failed_list.read_text().splitlines() if ":" in l]
    if not failed:
        return 0
    log = temporary / "LastTest.log"
    found = outputs(log.read_text(errors="replace")) if log.exists() else {}
    print(f"\nfailure digest: {len(failed)} failed test(s), their outputs in {log}")
    for name in failed:
        if name in found:
            print("\n".join(digest(name, found[name])))
        else:
            print(f"== {name}: no output recorded")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
