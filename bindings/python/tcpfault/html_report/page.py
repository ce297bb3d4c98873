"""The report page: one HTML file with its stylesheet, script and every ladder inside it
(nothing fetched). The table is plain HTML, readable without the script; the script
filters it, opens a case's row to its tests, and puts a test's ladder (kept as inert text
in a <script type="text/x-tcpfault-ladder">) into the page only when its case is opened."""

import pathlib
import re
from html import escape

from .ladder_svg import legend

_HERE = pathlib.Path(__file__).resolve().parent


def _asset(name):
    return (_HERE / name).read_text(encoding="utf-8")


def slug(verdict):
    """A verdict as a class name: 'target failure' -> v-target-failure, 'n/a' -> v-n-a."""
    return "v-" + (re.sub(r"[^a-z0-9]+", "-", verdict.lower()).strip("-") or "none")


def badge(verdict, text=None):
    return f'<span class="v {slug(verdict)}">{escape(text if text is not None else verdict)}</span>'


def _column_attrs(column):
    target, family = column
    return f'data-column data-target="{escape(target)}" data-family="{escape(family)}"'


def _header(model):
    run = model["run"]
    targets = ", ".join(run.get("targets") or [])
    facts = [f"target{'s' if len(run.get('targets') or []) > 1 else ''} <b>{escape(targets)}</b>",
             f"Linux <b>{escape(str(run.get('kernel') or '?'))}</b>",
             f"started {escape(str(run.get('started') or '?'))}"]
    if run.get("shard"):
        facts.append(f"shard {escape(str(run['shard']))}")
    if run.get("duration_s") is not None:
        clock = f" ({escape(str(run['clock']))} clock)" if run.get("clock") and run["clock"] != "real" else ""
        facts.append(f"{run['duration_s']:.1f} s{clock}")
    counts = " ".join(badge(v, f"{n} {v}") for v, n in model["counts"].items())
    if run.get("interrupted"):
        counts += ' <b class="interrupted">interrupted: only the tests that finished are here</b>'
    return ("<header><h1>tcpfault conformance</h1>"
            f'<p class="run">{" · ".join(facts)}</p>'
            f'<p class="counts">{counts}</p>'
            f'<p class="notes">{links_note(model["links"])}</p>'
            f'<div class="key">{legend()}</div></header>')


def links_note(links):
    """What the artifact links are and what keeps them working."""
    notes = ["Each case opens to its tests and their ladders, which are in this file."]
    if links.get("beside"):
        notes.append("Links to a test's pcapng and JSON timeline are relative to this file: keep the artifacts "
                     "folder beside it.")
    if links.get("elsewhere"):
        many = links["elsewhere"] > 1
        notes.append(f"{links['elsewhere']} artifact link{'s point' if many else ' points'} outside this file's "
                     "folder: absolute file:// links, valid only on the machine that ran the suite (a run without "
                     "--artifacts keeps them in a temporary folder). To keep a report and its artifacts together, "
                     "give --artifacts a folder beside the report (e.g. --html out/report.html --artifacts out/run).")
    if links.get("removed"):
        notes.append("The run had no --artifacts: it kept only the failures' pcapng and JSON timelines, so the "
                     "tests that passed have no links (their ladders are here). Give --artifacts DIR to keep them all.")
    if links.get("gone"):
        gone = f"{links['gone']} artifact{'s' if links['gone'] > 1 else ''}"
        notes.append(f"{gone} a test wrote had gone when the report was written: no link, and no ladder from a "
                     "gone timeline.")
    return " ".join(escape(n) for n in notes)


def _filters(model):
    sets = []
    for name, values in model["filters"].items():
        boxes = "".join(f'<label><input type="checkbox" value="{escape(v)}" checked> '
                        f'{badge(v) if name == "verdict" else escape(v)}</label>' for v in values)
        sets.append(f'<fieldset data-filter="{name}"><legend>{name}</legend>{boxes}</fieldset>')
    total = len(model["cases"])
    return ('<form id="filters" autocomplete="off">' + "".join(sets) +
            '<label class="search">text <input type="search" id="text" '
            'placeholder="case, title, test name, message"></label>'
            f'<output id="shown">{total} of {total} cases</output></form>')


def _cell(cell, column):
    attrs = _column_attrs(column)
    if cell is None:
        return f'<td class="cell empty" {attrs}>-</td>'
    tests = f'{cell["tests"]} tests · ' if cell["tests"] > 1 else ""
    return (f'<td class="cell {slug(cell["verdict"])}" {attrs} data-verdict="{escape(cell["verdict"])}">'
            f'{escape(cell["verdict"])}<small>{tests}{cell["duration_s"]:.2f} s</small></td>')


def _link(label, link):
    if link["href"]:
        return f'{label} <a href="{escape(link["href"])}">{escape(link["href"].rsplit("/", 1)[-1])}</a>'
    why = {"gone": "gone", "removed": "not kept (no --artifacts)"}.get(link["where"], "not written")
    return f'{label} <i>{why}</i>'


# What a test's message is, by verdict.
MESSAGE_HEADINGS = {"pass": "output", "deviation": "how it deviated", "n/a": "why it does not apply",
                    "skip": "why it was skipped"}


def _test(test):
    verdict = test["verdict"]
    attrs = (f'data-verdict="{escape(verdict)}" data-family="{escape(test["family"])}" '
             f'data-target="{escape(test["target"])}"')
    parts = [f'<h3>{badge(verdict)} <code>{escape(test["test"])}</code> '
             f'<small>{escape(test["family"])} · {escape(test["target"])} · {test["duration_s"]:.2f} s</small></h3>']
    if test["title"]:
        parts.append(f'<p class="title">{escape(test["title"])}</p>')
    if test["sysctls"]:
        values = ", ".join(f"{k} = {v}" for k, v in test["sysctls"].items())
        parts.append(f'<p class="sysctls">sysctls set: <code>{escape(values)}</code></p>')
    if test["deviation"]:
        parts.append(f'<p class="deviation"><b>known deviation of {escape(test["target"])}:</b> '
                     f'{escape(test["deviation"])}</p>')
    if test["message"]:
        heading = MESSAGE_HEADINGS.get(verdict, "failure")
        opened = " open" if heading == "failure" else ""
        parts.append(f'<details class="message"{opened}><summary>{heading}</summary>'
                     f'<pre>{escape(test["message"])}</pre></details>')
    parts.append(f'<p class="artifacts">{_link("pcapng", test["links"]["pcapng"])} · '
                 f'{_link("JSON timeline", test["links"]["json"])}</p>')
    if test["ladder"]:
        name = f'ladder-{test["number"]}'
        parts.append(f'<div class="ladder" data-ladder="{name}">'
                     f'<p class="hint">ladder of {test["segments"]} segments</p></div>'
                     f'<script type="text/x-tcpfault-ladder" id="{name}">{test["ladder"]}</script>')
    else:
        parts.append(f'<p class="hint">no ladder: {escape(test["ladder_missing"])}</p>')
    return f'<section class="test" {attrs}>' + "".join(parts) + "</section>"


def _case(case, columns):
    ident = escape(case["id"])
    cells = "".join(_cell(cell, column) for cell, column in zip(case["cells"], columns))
    width = 3 + len(columns)
    return (f'<tr class="case" id="case-{ident}" data-case="{ident}" data-group="{escape(case["group"])}" '
            f'data-text="{escape(case["text"])}" tabindex="0" aria-expanded="false" aria-controls="detail-{ident}">'
            f'<th scope="row">{ident}</th><td>{escape(case["title"])}</td><td class="ref">{escape(case["ref"])}</td>'
            f'{cells}</tr>'
            f'<tr class="detail" id="detail-{ident}" hidden><td colspan="{width}">'
            + "".join(_test(t) for t in case["tests"]) + "</td></tr>")


def _table(model):
    heads = "".join(f'<th scope="col" {_column_attrs(c)}>{escape(c[1])}<small>{escape(c[0])}</small></th>'
                    for c in model["columns"])
    body = "".join(_case(c, model["columns"]) for c in model["cases"])
    return (f'<table id="cases"><thead><tr><th scope="col">case</th><th scope="col">title</th>'
            f'<th scope="col">reference</th>{heads}</tr></thead><tbody>{body}</tbody></table>'
            '<p id="none" hidden>No case matches the filters.</p>')


def render(model):
    """The whole page, as a string."""
    counts = ", ".join(f"{n} {v}" for v, n in model["counts"].items()) or "no results"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>tcpfault conformance: {escape(counts)}</title>"
            f"<style>{_asset('page.css')}</style></head><body>"
            + _header(model) + _filters(model) + _table(model)
            + f"<script>{_asset('page.js')}</script></body></html>\n")
