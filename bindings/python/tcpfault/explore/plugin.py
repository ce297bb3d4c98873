"""Runs an unchanged test once per variant (pytest plugin; tcpfault.pytest_plugin loads it).

    --tcpfault-explore FILE     JSON: {"tests": ["test_close.py::test_cl2_final_ack_lost"],
                                       "variants": [{"id", "rules", ...}, ...],
                                       "records": "FILE.jsonl", "settle": 4.0,
                                       "deadline": UNIX TIME or null,
                                       "transfer_bytes": N or null,
                                       "transfer_timeout": SECONDS or null,
                                       "random_variation": N (the case's random rules draw
                                       that variation of their seeds; clean#N its own)}
    --tcpfault-explore-without-fault
                                a reproducer's check: its fault is not added, its
                                assertions stay (each must then fail)

With FILE, each test it names runs once per variant (ids such as [IPv4-drop@server.FIN.1]);
the `net` fixture adds the variant's fault rules before the test body (apply()). The body
runs through tcpfault.explore.replay.run_body, so that its sockets close even when it fails;
then, at teardown and before the scenario closes, the plugin lets every end settle (at most
"settle" seconds), compares the wire's states with the stacks' (net.compare_wire_states) and
appends one JSON line per run to "records". A variant started after "deadline" is skipped
("not run: the --budget was spent").

"transfer_bytes" caps a bulk transfer the case sizes through casekit.bulk_bytes,
"transfer_timeout" the deadline it gives through casekit.bulk_timeout (limits). A
generated reproducer names its rules (and those caps) with the marker instead:
    @pytest.mark.explore_variant(rules=[...], transfer_bytes=N, transfer_timeout=SECONDS)
and reads what the run did from `request.node.tcpfault_explore` (a dict: "result", "acted").
"""

import os
import time

import pytest

from tcpfault import _tcpfault, pytest_options, wire_check

from . import limits, races, replay, variants

_CONFIG = pytest.StashKey[dict]()
WIRE_SETTLE_S = 1.0


def pytest_addoption(parser):
    group = parser.getgroup("tcpfault")
    group.addoption("--tcpfault-explore", metavar="FILE", default=None,
                    help="run the tests this JSON file names once per fault variant it lists, one JSON record "
                         "per run (tcpfault explore writes it)")
    group.addoption("--tcpfault-explore-without-fault", action="store_true", default=False,
                    help="run explore reproducers without their fault (each must then fail)")


def _load(path):
    config = pytest_options.read_json("--tcpfault-explore", path)
    if not isinstance(config, dict) or not isinstance(config.get("variants"), list) or not config["variants"] \
            or not isinstance(config.get("tests"), list) or not isinstance(config.get("records"), str):
        raise pytest.UsageError(f"--tcpfault-explore {path}: expected {{'tests': [node id ends], 'variants': "
                                "[{'id', 'rules'}, ...], 'records': file}")
    config["by_id"] = {v["id"]: v for v in config["variants"]}
    return config


def pytest_configure(config):
    config.addinivalue_line("markers", "explore_variant(rules, transfer_bytes=None, transfer_timeout=None): the "
                                       "fault rules a tcpfault explore reproducer replays (tcpfault.explore.faults' "
                                       "JSON form), and the caps on the case's bulk transfer it ran with")
    path = config.getoption("tcpfault_explore", None)
    if path:
        config.stash[_CONFIG] = _load(path)


def _named(tests, nodeid):
    return any(nodeid == t or nodeid.endswith(("/" + t, "::" + t)) for t in tests)


def pytest_generate_tests(metafunc):
    config = metafunc.config.stash.get(_CONFIG, None)
    if config and "net" in metafunc.fixturenames and _named(config["tests"], metafunc.definition.nodeid):
        ids = [v["id"] for v in config["variants"]]
        metafunc.parametrize("tcpfault_explore_variant", ids, ids=ids)


@pytest.fixture
def tcpfault_explore_variant():
    """The id of the variant this test runs under (None outside tcpfault explore)."""
    return None


def _rules_of(request, variant_id):
    if variant_id is not None:
        return request.config.stash[_CONFIG]["by_id"][variant_id]["rules"]
    marker = request.node.get_closest_marker("explore_variant")
    return None if marker is None else marker.kwargs.get("rules", [])


def _transfer_cap(request, variant_id, key):
    if variant_id is not None:
        return request.config.stash[_CONFIG].get(key)
    marker = request.node.get_closest_marker("explore_variant")
    return None if marker is None else marker.kwargs.get(key)


def apply(request, net, variant_id):
    """Adds the variant's rules and sets the transfer caps (the net fixture calls it before
    the markers' sysctls)."""
    limits.set_transfer_bytes(_transfer_cap(request, variant_id, "transfer_bytes"))
    limits.set_transfer_timeout(_transfer_cap(request, variant_id, "transfer_timeout"))
    rules = _rules_of(request, variant_id)
    if rules is None:
        return
    state = {"variant": variant_id, "rules": [], "result": None}
    request.node.tcpfault_explore = state
    if request.config.getoption("tcpfault_explore_without_fault"):
        return
    for rule in rules:
        state["rules"].append((rule, replay.add_rule(net, rule)))


def acted(state):
    """Whether every primary rule (the one each fault must act with) acted; None without rules."""
    primaries = [handle for rule, handle in state["rules"] if rule.get("primary", True)]
    return None if not primaries else all(h.applied > 0 for h in primaries)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    config = item.config.stash.get(_CONFIG, None)
    callspec = getattr(item, "callspec", None)
    if config and callspec and "tcpfault_explore_variant" in callspec.params:
        variant_id = callspec.params["tcpfault_explore_variant"]
        deadline = config.get("deadline")
        if deadline is not None and time.time() > deadline and variant_id != "clean":
            pytest.skip(replay.BUDGET_SPENT)
        _tcpfault._set_random_variation(variants.random_variation(variant_id, config.get("random_variation", 0)))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Under a variant the body runs through run_body (its sockets closed even on failure)."""
    state = getattr(pyfuncitem, "tcpfault_explore", None)
    if state is None or state["variant"] is None:
        return None
    names = pyfuncitem._fixtureinfo.argnames
    net, started = pyfuncitem.funcargs["net"], time.monotonic()

    def at_return():  # False acted_in_body: the fault met only a segment of the sockets' closing
        return {"kinds": replay.segment_kinds(net), "body_ends": replay.ends(net), "acted_in_body": acted(state)}

    result = replay.run_body(pyfuncitem.obj, {n: pyfuncitem.funcargs[n] for n in names}, at_return)
    result["body_s"] = round(time.monotonic() - started, 3)
    state["result"] = result
    if result["exception"] is not None:
        raise result["exception"]
    return True


def _record(item, net, state, config):
    result = state["result"] or {}
    observed = replay.observe(net, config.get("settle", 4.0), result.get("kinds", {}), result.get("body_ends", []))
    record = {"variant": state["variant"], "test": item.nodeid,
              "target": item.config.getoption("tcpfault_target", default="kernel"),
              "family": wire_check._family_of(item.nodeid),
              "outcome": (state["result"] or {}).get("outcome", "error"),
              "failure": (state["result"] or {}).get("failure", "setup failed"),
              "body_s": (state["result"] or {}).get("body_s", 0.0),
              "acted": acted(state),
              "acted_in_body": (state["result"] or {}).get("acted_in_body"),
              "rules": [{"label": h.label, "matched": h.matched, "applied": h.applied, "primary": r.get("primary", True)}
                        for r, h in state["rules"]],
              "acted_on": replay.acted_on(net, [h for r, h in state["rules"] if r.get("primary", True)]),
              **observed}
    record["wire"] = wire_states(net)
    # After the settle: a passed check's close call looks at what came after it.
    record["close_calls"] = net.close_calls(races.CLOSE_CALL_S)
    return record


def wire_states(net):
    """The wire's states against the stacks': {"agreements", "disagreements", "unexplained",
    "text"}, or {"error": ...} when the comparison could not be made. While something is
    unexplained the comparison itself waits up to WIRE_SETTLE_S for a segment or a state
    step still on its way."""
    try:
        comparison = net.compare_wire_states(settle=WIRE_SETTLE_S)
    except Exception as error:  # noqa: BLE001 - a run the rule could not judge is said so
        return {"error": f"{type(error).__name__}: {error}"}
    return {"agreements": comparison.agreements, "disagreements": comparison.disagreements,
            "unexplained": comparison.unexplained, "text": str(comparison) if comparison.unexplained else ""}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    """Before the net fixture closes the scenario: settle, observe, keep the record; after
    it (its artifacts written), append the record with the timeline's path."""
    _tcpfault._set_random_variation(0)  # the next test's random rules draw their seeds' own
    config = item.config.stash.get(_CONFIG, None)
    state = getattr(item, "tcpfault_explore", None)
    net = getattr(item, "_tcpfault_net", None)
    record = None
    if config and state and state["variant"] is not None and net is not None and not net.closed:
        try:
            record = _record(item, net, state, config)
        except Exception as error:  # noqa: BLE001 - the run is reported with what went wrong
            record = {"variant": state["variant"], "test": item.nodeid, "outcome": "error",
                      "failure": f"explore could not observe the run: {type(error).__name__}: {error}"}
    yield
    if record is not None:
        paths = dict(item.user_properties)
        record["timeline"] = paths.get("tcpfault_json")
        wire_check.append_record(os.path.abspath(config["records"]), record)
