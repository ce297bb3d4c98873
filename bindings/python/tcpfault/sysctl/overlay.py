"""Runs the cases under named sets of sysctls (pytest plugin; tcpfault.pytest_plugin loads it).

    --tcpfault-sysctl-overlay FILE    JSON: {"baseline": {"client": {key: value, ...},
                                                          "server": {key: value, ...}},
                                             "proposal": {...}}

With an overlay file, each test that uses `net` runs once per named setting (ids such as
[IPv4-proposal]), with that setting's sysctls written into the client and server
namespaces before the test's sysctl markers. The question asked is what each setting's
values do in the case's own scenario, so settings are compared within a group (by
default all of them form one):

- a key whose value differs within the group is held (Scenario.hold_sysctl; a setting
  that lacks it holds the fresh namespace's value): where the case sets it itself, by its marker or a set_sysctl /
  apply_sysctl_conf call during the test, the run keeps the setting's value and the
  timeline says so ("sysctl client net.ipv4.tcp_tw_reuse = 1 (sysctl-check: the case
  asked for 0)");
- a key with the same value throughout the group is written plainly, and a case that
  sets it keeps its own value (a case pins a four-port range to make its scenario quick).

A setting may also say which group it belongs to and which tests run under it:

    "tw_reuse_proposal": {"client": {...}, "server": {...}, "group": "net.ipv4.tcp_tw_reuse",
                          "tests": ["test_time_wait.py::test_tw3_port_exhaustion", ...]}

("tests": the ends of the tests' node ids, without parameters; a test no setting names
runs under none and is skipped).

Each report then carries, as user properties:
    tcpfault_sysctl_setting    the setting's name
    tcpfault_sysctl_group      its group ('' by default)
    tcpfault_variant           the test's node id without the setting (pairs the runs)
    tcpfault_pinned            JSON {"client net.ipv4.tcp_tw_reuse": ["0", "1"], ...}: what
                               the case set itself (markers, then calls), on which host, in order
    tcpfault_overridden        JSON {"client net.ipv4.tcp_tw_reuse": "2", ...}: the keys among
                               those where the run kept the setting's value instead
    tcpfault_observations      JSON, tcpfault.observations.summary() as the test function
                               returns (before its sockets are closed by going out of scope)
"""

import json
import re
import sys

import pytest

from .. import observations, pytest_options

_SETTINGS = pytest.StashKey[dict]()
_HELD = pytest.StashKey[dict]()  # setting name -> {host: the keys it holds}
_ENDPOINTS = ("client", "server")
_SHAPE = ("{name: {'client': {key: value}, 'server': {key: value}, 'group': text (optional), "
          "'tests': [file.py::test_name, ...] (optional)}}")
HOLDER = "sysctl-check"
_SYSCTL_NOTE = re.compile(r"sysctl (client|server) (\S+) = (.*?)(?: \(" + HOLDER + r": the case asked for (.*)\))?$")


def pytest_addoption(parser):
    parser.getgroup("tcpfault").addoption(
        "--tcpfault-sysctl-overlay",
        metavar="FILE",
        default=None,
        help="run each test once per named setting of this JSON file ({name: {'client': {key: value}, "
        "'server': {...}}}), the setting's sysctls written before the test's own; a key whose value "
        "differs between the settings outranks the test's own setting of it",
    )


def _load(path):
    settings = pytest_options.read_json("--tcpfault-sysctl-overlay", path)
    if not isinstance(settings, dict) or not settings:
        raise pytest.UsageError(f"--tcpfault-sysctl-overlay {path}: expected {_SHAPE}")
    for name, setting in settings.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise pytest.UsageError(f"--tcpfault-sysctl-overlay {path}: setting name {name!r} must be lower-case "
                                    "letters, digits and '_' (it becomes part of test ids)")
        hosts = {k: v for k, v in setting.items() if k in _ENDPOINTS} if isinstance(setting, dict) else None
        if (hosts is None or not set(setting) <= {*_ENDPOINTS, "group", "tests"}
                or not all(isinstance(v, dict) for v in hosts.values())
                or not isinstance(setting.get("group", ""), str)
                or not (isinstance(setting.get("tests", []), list)
                        and all(isinstance(t, str) for t in setting.get("tests", [])))):
            raise pytest.UsageError(f"--tcpfault-sysctl-overlay {path}: setting {name!r}: expected {_SHAPE}")
    return settings


def _dotted(key):
    return key.replace("/", ".") if "." not in key else key


def _normal(value):
    return " ".join(str(value).split())


def held_keys(settings):
    """{setting name: {host: {dotted key}}}: the keys whose value is not the same in every
    setting of its group."""
    groups = {}
    for name, setting in settings.items():
        groups.setdefault(setting.get("group", ""), []).append(name)
    held = {}
    for names in groups.values():
        for host in _ENDPOINTS:
            values = [{_dotted(k): _normal(v) for k, v in settings[n].get(host, {}).items()} for n in names]
            for key in {k for v in values for k in v}:
                if len({v.get(key) for v in values}) > 1:
                    for name in names:
                        held.setdefault(name, {}).setdefault(host, set()).add(key)
    return held


def pytest_configure(config):
    path = config.getoption("tcpfault_sysctl_overlay", None)
    if path:
        config.stash[_SETTINGS] = _load(path)
        config.stash[_HELD] = held_keys(config.stash[_SETTINGS])


def _runs_under(setting, nodeid):
    tests = setting.get("tests")
    return tests is None or any(nodeid == t or nodeid.endswith(("/" + t, "::" + t)) for t in tests)


def pytest_generate_tests(metafunc):
    settings = metafunc.config.stash.get(_SETTINGS, None)
    if settings and "net" in metafunc.fixturenames:
        names = [n for n, s in settings.items() if _runs_under(s, metafunc.definition.nodeid)]
        metafunc.parametrize("tcpfault_sysctl_setting", names, ids=names)


@pytest.fixture
def tcpfault_sysctl_setting():
    """The name of the overlay setting this test runs under (None without an overlay)."""
    return None


def apply(request, net, name):
    """Writes setting `name` into the scenario (the net fixture calls it before the markers):
    the keys that differ within its group held, the others plain."""
    if name is None:
        return
    held = request.config.stash[_HELD].get(name, {})
    setting = request.config.stash[_SETTINGS][name]
    for host in _ENDPOINTS:
        values = {_dotted(k): v for k, v in setting.get(host, {}).items()}
        for key in sorted(held.get(host, set()) - set(values)):
            net.hold_sysctl(host, key, net.sysctl(host, key), HOLDER)  # this setting lacks it: the default
        for key, value in values.items():
            if key in held.get(host, ()):
                net.hold_sysctl(host, key, value, HOLDER)
            else:
                net.set_sysctl(host, key, value)
    request.node._tcpfault_overlay_notes = len(net.trace.notes())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    callspec = getattr(item, "callspec", None)
    name = callspec.params.get("tcpfault_sysctl_setting") if callspec else None
    if not isinstance(name, str):
        return  # no overlay, or no setting names this test (pytest skips it)
    # The setting's id is one '-'-separated part of the test's id ([IPv4-proposal]).
    base, _, ids = item.nodeid.partition("[")
    parts = ids[:-1].split("-")
    parts.remove(name)
    variant = base + (f"[{'-'.join(parts)}]" if parts else "")
    group = item.config.stash[_SETTINGS][name].get("group", "")
    item.user_properties += [("tcpfault_sysctl_setting", name), ("tcpfault_sysctl_group", group),
                             ("tcpfault_variant", variant)]


def _pinned(item, net):
    """What the case set itself (its markers, then its calls), and where the run kept the
    setting's value instead: ({"client K": [asked, ...]}, {"client K": value run with})."""
    pinned, overridden = {}, {}
    for note in net.trace.notes()[item._tcpfault_overlay_notes:]:
        match = _SYSCTL_NOTE.match(note)
        if match:
            name = f"{match[1]} {_dotted(match[2])}"
            pinned.setdefault(name, []).append(match[4] if match[4] is not None else match[3])
            if match[4] is not None:
                overridden[name] = match[3]
    return pinned, overridden


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
        (pinned, overridden), seen = item._tcpfault_snapshot
        outcome.get_result().user_properties += [
            ("tcpfault_pinned", json.dumps(pinned)), ("tcpfault_overridden", json.dumps(overridden)),
            ("tcpfault_observations", json.dumps(seen))]
