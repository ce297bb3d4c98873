"""The HTML report of `tcpfault conformance --html FILE`: one self-contained page (nothing
fetched) with the case x family x target table, its filters, and each case opening to its
tests' ladders drawn as SVG, their reasons, failures and artifact links.

    gather.py      the page's model, from the JSON report and each test's artifacts
    ladder_svg.py  one timeline as an SVG ladder, and the fates' legend
    fates.py       what the middlebox did to a segment, as a kind the ladder colours
    page.py        the HTML (page.css and page.js are put inside it)
"""

import argparse
import os

from .gather import page_model
from .page import render


def destination(path):
    """An argparse type for --html: the file must be writable, checked before anything runs."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path!r} is a folder: give the report's file name, e.g. {path}/report.html")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"the folder of {path!r} does not exist: create {folder} first")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"{path!r} cannot be written: choose a file in a folder you can write to")
    return path


def write(path, report):
    """Writes the page for a conformance report (the document --json writes) to `path`;
    artifact paths in it are read relative to the current folder, as the run wrote them."""
    page = render(page_model(report, path))
    with open(path, "w", encoding="utf-8") as out:
        out.write(page)
