"""A pytest file per violation and difference group: it runs the case's test function under
that one variant and asserts strictly what the target did (the case's outcome and failure,
every end's final state, the calls' errors, the kinds of segment that appeared or vanished
because of the fault). It runs as is with the plugin, and can be kept as a regression test;
with --tcpfault-explore-without-fault its fault is left out and it must fail.
"""

import json
import os
import pprint
import re

from . import expectations, vm_target

TEMPLATE = '''"""tcpfault explore reproducer: {variant} on {case} ({test}), target {target}, IPv{family}.

Why: {why}

Run it as is: {run_line}
(TCPFAULT_CASES must name the cases folder unless it is {cases}). It asserts what the
target did under this fault; with --tcpfault-explore-without-fault the fault is left out
and the test must fail.
"""

import inspect
import os
import platform
import sys

import pytest

from tcpfault.explore import expectations, plugin, races, replay

sys.path.insert(0, os.environ.get("TCPFAULT_CASES", {cases!r}))
pytest.register_assert_rewrite({module!r})
from {module} import {function} as case_test  # noqa: E402

TARGET = {pytest_target!r}
RELEASE = {release!r}  # the kernel it was recorded on, when that was a VM's (None: any)
FAMILY = {family}
SETTLE_S = {settle!r}
RULES = {rules}
EXPECTED = {expected}

# The case's own markers: its sysctls, and the side an agent target runs.
pytestmark = [m for m in getattr(case_test, "pytestmark", []) if m.name in ("case", "sysctl")]


@pytest.mark.explore_variant(rules=RULES, transfer_bytes={transfer_bytes!r}, transfer_timeout={transfer_timeout!r})
def test_{name}(request, net):
    if request.config.getoption("tcpfault_target") != TARGET or int(net.family) != FAMILY:
        pytest.skip(f"recorded on {{TARGET}}, IPv{{FAMILY}}")
    if RELEASE is not None and platform.release() != RELEASE:
        pytest.skip(f"recorded on Linux {{RELEASE}}, not {{platform.release()}}: run it in tcpfault vm")
    fixtures = {{n: request.getfixturevalue(n) for n in inspect.signature(case_test).parameters}}
    result = replay.run_body(case_test, fixtures,
                             lambda: {{"kinds": replay.segment_kinds(net), "body_ends": replay.ends(net)}})
    observed = replay.observe(net, SETTLE_S, result.get("kinds", {{}}), result.get("body_ends", []))
    state = request.node.tcpfault_explore
    expectations.check(EXPECTED, result, observed, acted=plugin.acted(state),
                       close_calls=net.close_calls(races.CLOSE_CALL_S), ties=races.wire_ties(net))
'''


def recorded_release(record):
    """The kernel release the run's timeline was recorded on (None when it cannot say)."""
    try:
        with open(record["timeline"]) as f:
            return json.load(f)["kernel"]["release"]
    except (OSError, KeyError, TypeError, ValueError):
        return None


def file_name(target, variant_id):
    safe = re.sub(r"[^A-Za-z0-9]+", "_", f"{target}_{variant_id}").strip("_").lower()
    return f"test_explore_{safe}.py"


def write(folder, case, test, target, family, variant, record, cleans, why, settle, cases_dir, transfer_bytes=None,
          transfer_timeout=None):
    """Writes the reproducer; returns its path."""
    module, function = test.split("::")[0], test.split("::")[1].split("[")[0]
    module = os.path.splitext(os.path.basename(module))[0]
    path = os.path.join(folder, file_name(target, variant["id"]))
    name = re.sub(r"[^A-Za-z0-9]+", "_", variant["id"]).strip("_").lower()
    text = TEMPLATE.format(
        variant=variant["id"], case=case or "-", test=f"{module}.py::{function}", target=target, family=family,
        pytest_target=vm_target.pytest_target(target), run_line=vm_target.run_line(target, os.path.basename(path)),
        release=recorded_release(record) if vm_target.is_vm(target) else None,
        why=why, file=os.path.basename(path), cases=cases_dir, module=module, function=function,
        settle=settle, rules=pprint.pformat(variant["rules"], width=100, sort_dicts=False),
        expected=pprint.pformat(expectations.expected(record, cleans), width=100, sort_dicts=False), name=name,
        transfer_bytes=transfer_bytes, transfer_timeout=transfer_timeout)
    os.makedirs(folder, exist_ok=True)
    with open(path, "w") as out:
        out.write(text)
    return path
