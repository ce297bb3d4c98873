"""The HTML report of `tcpfault conformance --html FILE`: one self-contained page (nothing
fetched) with the case x family x target table, its filters, and each case opening to its
tests' ladders drawn as SVG, their reasons, failures and artifact links.

    gather.py      the page's model, from the JSON report and each test's artifacts
    ladder_svg.py  one timeline as an SVG ladder, and the fates' legend
    fates.py       what the middlebox did to a segment, as a kind the ladder colours
    page.py        the HTML (page.css and page.js are put inside it)
"""

from .gather import page_model
from .page import render


def write(path, report, artifacts_kept=True):
    """Writes the page for a conformance report (the document --json writes) to `path`.
    Artifact paths in it are read relative to the current folder, as the run wrote them;
    with artifacts_kept False (no --artifacts) the run is about to remove what passed, so
    the page has those tests' ladders but no links to their files."""
    page = render(page_model(report, path, artifacts_kept))
    with open(path, "w", encoding="utf-8") as out:
        out.write(page)
