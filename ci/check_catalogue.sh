#!/bin/sh
# docs/cases.md is what `tcpfault list --markdown` makes from the cases' markers and
# docstrings: fails, with the difference, when the page and the cases disagree.
#   ci/check_catalogue.sh BUILD/bin/tcpfault
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if ! "$1" list --markdown | diff -u "$top/docs/cases.md" -; then
  echo "docs/cases.md differs from the cases: remake it with $1 list --markdown > docs/cases.md" >&2
  exit 1
fi
