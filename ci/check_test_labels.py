#!/usr/bin/python3
"""Every ctest entry says whether it needs root: `ctest -L unit` must be safe anywhere and
`ctest -L root` must be all that needs root and namespaces. Reads `ctest --show-only=json-v1`
in the build directory; fails naming each entry with neither label, or with both.
    check_test_labels.py BUILD_DIR
"""

import json
import subprocess
import sys


def labels_of(test):
    for prop in test.get("properties", []):
        if prop["name"] == "LABELS":
            return set(prop["value"])
    return set()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_test_labels.py BUILD_DIR")
    listing = subprocess.run(["ctest", "--show-only=json-v1"], cwd=sys.argv[1], capture_output=True,
                             text=True, check=True, timeout=120)
    tests = json.loads(listing.stdout)["tests"]
    wrong = []
    for test in tests:
        kind = labels_of(test) & {"unit", "root"}
        if len(kind) != 1:
            wrong.append(f"{test['name']}: labels {sorted(labels_of(test)) or 'none'}")
    if wrong:
        print(f"{len(wrong)} of {len(tests)} ctest entries need exactly one of the labels unit (no root, no "
              "namespaces) and root (set LABELS where the test is added):")
        print("\n".join(wrong))
        sys.exit(1)
    print(f"{len(tests)} ctest entries, each labelled unit or root")


if __name__ == "__main__":
    main()
