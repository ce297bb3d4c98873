"""Runs the cases under named sets of sysctls (pytest plugin; tcpfault.pytest_plugin loads it).

    --tcpfault-sysctl-overlay FILE    JSON: {"baseline": {"client": {key: value, ...},
                                                          "server": {key: value, ...}},
                                             "proposal": {...}}

With an overlay file, each test that uses `net` runs once per named setting (ids such as
[IPv4-proposal]), with that setting's sysctls written into the client and server
namespaces. A key that the test's own sysctl marker sets on a host is left to the marker
there, and keys the test sets itself are written after the overlay: a case that sets a
key keeps its own value. `tcpfault sysctl-check` uses this to run the same cases under a
baseline and a proposal.

Each report then carries, as user properties:
    tcpfault_sysctl_setting    the setting's name
    tcpfault_variant           the test's node id without the setting (pairs the runs)
    tcpfault_pinned            JSON {"client net.ipv4.tcp_tw_reuse": ["0", "1"], ...}: what
                               the case set itself, on which host, in order
    tcpfault_observations      JSON, tcpfault.observations.summary() as the test function
                               returns (before its sockets are closed by going out of scope)
"""

import json
import re
import sys

import pytest

from . import observations

_SETTINGS = pytest.StashKey[dict]()
_ENDPOINTS = ("client", "server")
_SYSCTL_NOTE = re.compile(r"sysctl (client|server) (\S+) = (.*)$")


def pytest_addoption(parser):
    parser.getgroup("tcpfault").addoption(
        "--tcpfault-sysctl-overlay",
        metavar="FILE",
        default=None,
        help="run each test once per named setting of this JSON file ({name: {'client': {key: value}, "
        "'server': {...}}}), the setting's sysctls written before the test's own",
    )


def _load(path):
    try:
        with open(path) as f:
            settings = json.load(f)
    except (OSError, ValueError) as e:
        raise pytest.UsageError(f"--tcpfault-sysctl-overlay {path}: cannot read it: {e}")
    shape = "{name: {'client': {key: value}, 'server': {key: value}}}"
    if not isinstance(settings, dict) or not settings:
        raise pytest.UsageError(f"--tcpfault-sysctl-overlay {path}: expected {shape}")
    for name, hosts in settings.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise pytest.UsageError(f"--tcpfault-sysctl-overlay {path}: setting name {name!r} must be lower-case "
                                    "letters, digits and '_' (it becomes part of test ids)")
        if not isinstance(hosts, dict) or not set(hosts) <= set(_ENDPOINTS) or not all(
                isinstance(v, dict) for v in hosts.values()):
            raise pytest.UsageError(f"--tcpfault-sysctl-overlay {path}: setting {name!r}: expected {shape}")
    return settings


def pytest_configure(config):
    path = config.getoption("tcpfault_sysctl_overlay", None)
    if path:
        config.stash[_SETTINGS] = _load(path)


def pytest_generate_tests(metafunc):
    settings = metafunc.config.stash.get(_SETTINGS, None)
    if settings and "net" in metafunc.fixturenames:
        metafunc.parametrize("tcpfault_sysctl_setting", list(settings), ids=list(settings))


@pytest.fixture
def tcpfault_sysctl_setting():
    """The name of the overlay setting this test runs under (None without an overlay)."""
    return None


def _dotted(key):
    return key.replace("/", ".") if "." not in key else key


def _marker_keys(node):
    """(host, key) pairs the test's sysctl markers set."""
    return {(host, _dotted(key)) for marker in node.iter_markers("sysctl")
            for host, settings in marker.kwargs.items() if isinstance(settings, dict) for key in settings}


@pytest.fixture(autouse=True)
def _tcpfault_sysctl_overlay(request, tcpfault_sysctl_setting):
    if tcpfault_sysctl_setting is None:
        return
    net = request.getfixturevalue("net")  # built first: its sysctl markers are applied
    pinned_by_markers = _marker_keys(request.node)
    setting = request.config.stash[_SETTINGS][tcpfault_sysctl_setting]
    for host in _ENDPOINTS:
        for key, value in setting.get(host, {}).items():
            if (host, _dotted(key)) not in pinned_by_markers:
                net.set_sysctl(host, key, value)
    request.node._tcpfault_overlay_notes = len(net.trace.notes())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    callspec = getattr(item, "callspec", None)
    name = callspec.params.get("tcpfault_sysctl_setting") if callspec else None
    if name is None:
        return
    # The setting's id is one '-'-separated part of the test's id ([IPv4-proposal]).
    base, _, ids = item.nodeid.partition("[")
    parts = ids[:-1].split("-")
    parts.remove(name)
    variant = base + (f"[{'-'.join(parts)}]" if parts else "")
    item.user_properties += [("tcpfault_sysctl_setting", name), ("tcpfault_variant", variant)]


def _pinned(item, net):
    """What the case set itself: its markers' values, then its own calls after the overlay."""
    pinned = {}
    for marker in item.iter_markers("sysctl"):  # in the order the net fixture applies them
        for host, settings in marker.kwargs.items():
            if host in _ENDPOINTS and isinstance(settings, dict):
                for key, value in settings.items():
                    pinned.setdefault(f"{host} {_dotted(key)}", []).append(str(value))
    for note in net.trace.notes()[item._tcpfault_overlay_notes:]:
        match = _SYSCTL_NOTE.match(note)
        if match:
            pinned.setdefault(f"{match[1]} {_dotted(match[2])}", []).append(match[3])
    return pinned


def _snapshot(item):
    net = getattr(item, "_tcpfault_net", None)
    if net is not None and not net.closed:
        item._tcpfault_snapshot = (_pinned(item, net), observations.summary(net))


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    """Observes the scenario as the test function returns (or raises), while its locals
    still hold their sockets: once the frame is gone they close, and what they do then is
    the test's tear-down, racing with any later look."""
    if not hasattr(pyfuncitem, "_tcpfault_overlay_notes"):
        yield
        return
    code = getattr(pyfuncitem.obj, "__code__", None)
    previous = sys.getprofile()

    def at_return(frame, event, arg):
        if event == "return" and frame.f_code is code and not hasattr(pyfuncitem, "_tcpfault_snapshot"):
            _snapshot(pyfuncitem)

    sys.setprofile(at_return)
    try:
        yield
    finally:
        sys.setprofile(previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call" or not hasattr(item, "_tcpfault_overlay_notes"):
        return
    if not hasattr(item, "_tcpfault_snapshot"):
        _snapshot(item)  # the function was not seen returning (wrapped): look now
    if hasattr(item, "_tcpfault_snapshot"):
        pinned, seen = item._tcpfault_snapshot
        outcome.get_result().user_properties += [
            ("tcpfault_pinned", json.dumps(pinned)), ("tcpfault_observations", json.dumps(seen))]
