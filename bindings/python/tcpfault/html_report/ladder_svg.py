"""A test's timeline (the JSON harness/trace/trace_json.cpp writes) drawn as an SVG ladder:
the client and the server as columns with the middlebox between them, one row per event in
time order as in the text ladder (harness/trace/trace_ladder.cpp): segments as arrows
labelled with flags, seq/ack, window, length and roles, coloured by what the middlebox did
to them; each side's state steps and socket calls beside its column; notes on the wire.
The page's stylesheet colours it (classes k-<fate kind>, step, call, note)."""

import os
import re
from html import escape

from .fates import KINDS, kind_of

WIDTH = 1140
X_TIME = 64          # the time column's right edge
X_CLIENT = 340
X_MIDDLEBOX = 600
X_SERVER = 860
HEADER = 40
SEGMENT_ROW = 30     # label, arrow
FATE_ROW = 48        # label, arrow, fate (set apart from the next label)
LINE_ROW = 18        # a state step, a call, a note
CUT_ROW = 26
WIRE_CHARS = 78      # what fits between the hosts' columns in the 11 px monospace font
SIDE_CHARS = 40

# The HTML report cuts a ladder longer than this, as failure messages cut the text ladder.
MAX_ROWS = 1000

_SEQ = re.compile(r", seq (\d+)")
_ACK = re.compile(r", ack (\d+)")
_REWRITTEN_TO = re.compile(r"(to: )\S+ > \S+: ")


def _cut(text, width):
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _text(x, y, text, cls, anchor="start", width=WIRE_CHARS):
    """A text element; one cut short keeps the whole of it in a tooltip."""
    shown = _cut(text, width)
    tip = f"<title>{escape(text)}</title>" if shown != text else ""
    return f'<text x="{x}" y="{y}" class="{cls}" text-anchor="{anchor}">{tip}{escape(shown)}</text>'


def _sender_side(segment):
    """Whose sequence space a segment is in: a crafted one speaks for the host it is not sent to."""
    if segment.get("from") in ("client", "server"):
        return segment["from"]
    return "server" if segment.get("to") == "client" else "client"


class RelativeNumbers:
    """Sequence numbers relative to each direction's ISN, as the text ladder prints them. The
    engine's own relative numbers are in each segment's summary (tcpdump's form, where a pure
    ACK has no seq); a direction's offset learnt from one segment serves those without."""

    def __init__(self, segments):
        self.offsets = {}
        for s in segments:
            match = _SEQ.search(s.get("summary", ""))
            if match:
                key = (s.get("connection"), _sender_side(s))
                self.offsets.setdefault(key, (s["seq"] - int(match.group(1))) % 2**32)

    def seq(self, s):
        match = _SEQ.search(s.get("summary", ""))
        if match:
            return int(match.group(1))
        offset = self.offsets.get((s.get("connection"), _sender_side(s)))
        return s["seq"] if offset is None else (s["seq"] - offset) % 2**32

    @staticmethod
    def ack(s):
        match = _ACK.search(s.get("summary", ""))
        return int(match.group(1)) if match else s["ack"]


def segment_label(s, numbers, several_connections):
    """[F.] seq 1:1449 ack 1 win 64 len 1448 DATA, as in the text ladder."""
    seq = numbers.seq(s)
    length = s.get("payload_len", 0)
    text = f"[{s.get('flags', '')}] seq {seq}"
    if length:
        text += f":{(seq + length) % 2**32}"
    if "." in s.get("flags", ""):
        text += f" ack {numbers.ack(s)}"
    text += f" win {s.get('window', 0)}"
    if length:
        text += f" len {length}"
    if s.get("roles"):
        text += " " + s["roles"]
    if several_connections:
        text = f"c{s.get('connection', 0)} " + text
    return text


def _segment_tip(s, extra=""):
    lines = [s.get("summary", ""), f"fate: {s.get('fate') or 'passed'}"]
    if s.get("rule"):
        lines.append(f"rule: {s['rule']}")
    if "queued_ms" in s:
        lines.append(f"queued by the kernel {s['t_ms'] - s['queued_ms']:.3f} ms before the middlebox read it")
    if extra:
        lines.append(extra)
    return escape("\n".join(lines))


def _arrow(x0, y0, x1, y1, dashed=False):
    """A line with its head at (x1, y1)."""
    direction = 1 if x1 > x0 else -1
    head = f"{x1},{y1} {x1 - 8 * direction},{y1 - 4} {x1 - 8 * direction},{y1 + 4}"
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    return f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}"{dash}/><polygon points="{head}"/>'


def _mark(kind, y, x=X_MIDDLEBOX):
    """What the middlebox did, drawn where it did it."""
    if kind == "dropped":
        return (f'<path d="M{x - 6},{y - 6} L{x + 6},{y + 6} M{x - 6},{y + 6} L{x + 6},{y - 6}" '
                f'class="mark" stroke-width="2.5"/>')
    if kind == "held":
        return f'<rect x="{x - 5}" y="{y - 6}" width="10" height="12" class="mark"/>'
    if kind == "rewritten":
        return f'<polygon points="{x},{y - 7} {x + 7},{y} {x},{y + 7} {x - 7},{y}" class="mark"/>'
    return ""


def _host_x(host):
    return {"client": X_CLIENT, "server": X_SERVER}.get(host, X_MIDDLEBOX)


def _segment_row(s, top, numbers, several, release=False):
    kind = kind_of(s.get("fate"))
    label = segment_label(s, numbers, several)
    to_x = _host_x(s.get("to"))
    from_x = X_MIDDLEBOX if release else _host_x(s.get("from"))
    y0, y1 = top + 19, top + 24
    parts = []
    if release:
        parts.append(_arrow(from_x, y0, to_x, y1, dashed=True))
        label = "let go: " + label
    elif s.get("from") == "middlebox":
        parts.append(_arrow(from_x, y0, to_x, y1, dashed=True))
    elif kind in ("dropped", "held"):
        parts.append(f'<line x1="{from_x}" y1="{y0}" x2="{X_MIDDLEBOX}" y2="{(y0 + y1) / 2}"/>')
        parts.append(_mark(kind, (y0 + y1) / 2))
    else:
        parts.append(_arrow(from_x, y0, to_x, y1))
        parts.append(_mark(kind, (y0 + y1) / 2))
    time = s["released_ms"] if release else s["t_ms"]
    parts.append(_text(X_TIME, top + 23, f"{time:.3f}", "time", "end"))
    parts.append(_text(X_MIDDLEBOX, top + 12, label, "label", "middle"))
    height = SEGMENT_ROW
    if kind != "passed" or release:
        # A rewrite's fate names the packet as delivered: its addresses are the original's.
        fate = _REWRITTEN_TO.sub(r"\1", s.get("fate", ""))
        parts.append(_text(X_MIDDLEBOX, top + 37, fate, "fate", "middle"))
        height = FATE_ROW
    extra = f"let go {s['released_ms'] - s['t_ms']:.3f} ms after it was seen" if release else ""
    return (f'<g class="seg k-{kind}"><title>{_segment_tip(s, extra)}</title>' + "".join(parts) + "</g>",
            height)


def _side_row(host, time, text, cls, top):
    x = _host_x(host)
    y = top + 13
    if host == "client":
        body = _text(x - 8, y, text, cls, "end", SIDE_CHARS)
    elif host == "server":
        body = _text(x + 8, y, text, cls, "start", SIDE_CHARS)
    else:
        body = _text(X_MIDDLEBOX, y, text, cls, "middle")
    dot = f'<circle cx="{x}" cy="{top + 9}" r="3" class="{cls}"/>' if cls == "step" else ""
    return _text(X_TIME, y, f"{time:.3f}", "time", "end") + dot + body, LINE_ROW


def _step_text(t):
    text = f"{t.get('from')} \u2192 {t.get('to')}"
    source = t.get("source", "")
    if "request socket" in source:
        text += " (request sock)"
    elif "timewait minisocket" in source:
        text += " (minisocket)"
    return text


def _call_text(c):
    if c.get("errno"):
        try:
            reason = os.strerror(c["errno"])
        except ValueError:
            reason = f"errno {c['errno']}"
        return f"{c.get('call')} = -1 {reason}"
    return f"{c.get('call')} = {c.get('result')}"


def rows_of(timeline, max_rows=MAX_ROWS):
    """The ladder's rows in time order: each event, plus the release of each held segment
    let go later; past max_rows the first quarter and the last three quarters, and the
    number left out between them (None marks the cut)."""
    rows = []
    for order, e in enumerate(timeline.get("events", [])):
        rows.append((e.get("t_ms", 0.0), order, "event", e))
        if e.get("type") == "segment" and "released_ms" in e and kind_of(e.get("fate")) == "held":
            rows.append((e["released_ms"], order, "release", e))
    rows.sort(key=lambda r: (r[0], r[1]))
    if len(rows) <= max_rows:
        return [(kind, e) for _, _, kind, e in rows], 0
    head = max_rows // 4
    tail = max_rows - head
    left_out = len(rows) - max_rows
    kept = rows[:head] + [(rows[head][0], -1, "cut", None)] + rows[len(rows) - tail:]
    return [(kind, e) for _, _, kind, e in kept], left_out


def render(timeline, max_rows=MAX_ROWS):
    """The SVG of one timeline, as a string."""
    segments = [e for e in timeline.get("events", []) if e.get("type") == "segment"]
    numbers = RelativeNumbers(segments)
    several = len({s.get("connection") for s in segments}) > 1
    rows, left_out = rows_of(timeline, max_rows)
    body = []
    top = HEADER
    for kind, e in rows:
        if kind == "cut":
            body.append(_text(X_MIDDLEBOX, top + 16, f"\u2026 {left_out} events left out here (the JSON timeline "
                                                      "has them all)", "cut", "middle", 200))
            top += CUT_ROW
            continue
        if kind == "release":
            part, height = _segment_row(e, top, numbers, several, release=True)
        elif e.get("type") == "segment":
            part, height = _segment_row(e, top, numbers, several)
        elif e.get("type") == "transition":
            part, height = _side_row(e.get("host"), e.get("t_ms", 0.0), _step_text(e), "step", top)
        elif e.get("type") == "call":
            part, height = _side_row(e.get("host"), e.get("t_ms", 0.0), _call_text(e), "call", top)
        else:
            part, height = _side_row("middlebox", e.get("t_ms", 0.0), "# " + str(e.get("text", "")), "note", top)
        body.append(part)
        top += height
    flood = len(timeline.get("bulk_segments", []))
    if flood:
        body.append(_text(X_MIDDLEBOX, top + 16, f"{flood} segments of a flood kept out of the ladder (the JSON "
                                                 "timeline has them)", "cut", "middle", 200))
        top += CUT_ROW
    height = top + 8
    columns = "".join(
        f'<line x1="{x}" y1="{HEADER - 8}" x2="{x}" y2="{height}" class="host {name}"/>'
        f'<text x="{x}" y="{HEADER - 16}" class="host-name" text-anchor="middle">{name}</text>'
        for name, x in (("client", X_CLIENT), ("middlebox", X_MIDDLEBOX), ("server", X_SERVER)))
    title = escape(f"ladder of {timeline.get('scenario', '')} (time in ms)")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="ladder" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img"><title>{title}</title>'
            f'<text x="{X_TIME}" y="{HEADER - 16}" class="host-name" text-anchor="end">ms</text>'
            + columns + "".join(body) + "</svg>")


def legend():
    """One short arrow per fate kind, named: the key to every ladder's colours."""
    items = []
    x = 0
    for kind, label in KINDS.items():
        if kind == "other":
            continue
        if kind in ("dropped", "held"):
            wire = f'<line x1="{x}" y1="10" x2="{x + 17}" y2="10"/>'
        else:
            wire = _arrow(x, 10, x + 34, 10, dashed=kind == "crafted")
        items.append(f'<g class="seg k-{kind}">' + wire + _mark(kind, 10, x + 17)
                     + f'<text x="{x + 40}" y="14" class="label">{escape(label)}</text></g>')
        x += 48 + 7 * len(label)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="legend" width="{x}" height="20" '
            f'viewBox="0 0 {x} 20" role="img"><title>what the middlebox did</title>' + "".join(items) + "</svg>")
