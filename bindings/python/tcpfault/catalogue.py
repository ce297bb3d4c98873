"""The conformance catalogue as Markdown (`tcpfault list --markdown`, docs/cases.md): every
case in the catalogue's order, with its title, reference and each of its tests' own
docstring, so that the catalogue is what the cases check, never a separate text that
drifts from them."""

import inspect

from .case_runs import GROUP_ORDER, case_sort_key

GROUPS = {
    "HS": "opening", "CL": "closing", "TW": "TIME_WAIT and the sysctls around it", "TM": "timers",
    "LD": "load and queues", "DT": "the data path", "SEC": "injection",
}

INTRO = """# The conformance catalogue

Made by `tcpfault list --markdown` from the cases themselves (their `case` markers and
docstrings in cases/*.py); ctest `catalogue_is_current` fails when this page and the cases
disagree.

Each case is one scenario: a topology of two ends and a middlebox, the sysctls it sets,
the faults, the socket calls, and what must be observed on the wire and in the stack. A
test's docstring says what it expects, from which RFC or kernel rule, and what a broken
stack would show instead; where a kernel does something else the docstring says what
and why (a deviation), and the case checks what it really does. Every case runs on IPv4
and IPv6 unless it says otherwise. "client" and "server" are the two ends; the active
closer is whoever calls close() first. A case marked slow runs only with `--slow`.
"""


def markdown(collector):
    out = [INTRO]
    group = None
    for case_id in sorted(collector.cases, key=case_sort_key):
        prefix = case_id.rstrip("0123456789")
        if prefix != group:
            group = prefix
            name = GROUPS.get(prefix, "other cases")
            out.append(f"\n## {prefix} — {name}\n" if prefix in GROUP_ORDER else f"\n## {name}\n")
        title, ref = collector.cases[case_id]
        out.append(f"\n### {case_id} — {title}\n\nReference: {ref or 'none given'}.\n")
        for function, test in collector.tests.get(case_id, {}).items():
            slow = " (slow)" if test["slow"] else ""
            own_title = f": {test['title']}" if test["title"] != title else ""
            out.append(f"\n- `{function}` in cases/{test['file']}{slow}{own_title}\n")
            doc = inspect.cleandoc(test["doc"]) if test["doc"] else "(no docstring)"
            out.append("\n" + "\n".join(("  " + line) if line else "" for line in doc.splitlines()) + "\n")
    return "".join(out)
