"""pytest plugin for tcpfault: a fresh topology per test, families, sysctls, artifacts.

Installed (the Debian package, or any install with the package's dist-info), pytest
loads it by itself through its ``pytest11`` entry point (named ``tcpfault.pytest_plugin``,
so ``-p tcpfault.pytest_plugin`` as well is harmless and ``-p no:tcpfault.pytest_plugin``
turns it off); from a build tree, load it with ``-p tcpfault.pytest_plugin`` (the suite in
cases/ does through its pytest.ini). Every ``--tcpfault-X`` option is also an ini option
``tcpfault_X`` (``tcpfault_family = 4`` in pytest.ini; the command line wins). It gives:

* the ``net`` fixture: a fresh :class:`tcpfault.Scenario` (client - middlebox - server
  in namespaces of its own), torn down after the test whatever happens; a test after
  which the middlebox had lost packets no rule asked for (its queue overflowed) fails
  at teardown;
* ``--tcpfault-family 4|6|both``: the family of ``net``; ``both`` (the default) runs
  each test once per family, with ids ``[IPv4]`` and ``[IPv6]``;
* the ``sysctl`` marker: ``@pytest.mark.sysctl(client={"net.ipv4.tcp_fin_timeout": 2})``
  sets sysctls of the client, server or middlebox namespace for one test;
* ``--tcpfault-artifacts DIR``: every test's pcapng, JSON timeline and ladder are saved
  in DIR; a failing test's report names them;
* pytest-xdist: every worker builds its own namespaces, so ``-n 8`` runs eight at once;
* targets (tcpfault.pytest_targets): ``--tcpfault-target kernel|lwip|gvisor|agent:COMMAND``,
  NotApplicable -> skip ("not applicable: ..."), TargetFailure -> failure ("target failure: ...");
* ``--tcpfault-wire-states FILE``: at each kernel-target test's teardown, the states the
  wire shows are compared with the kernel's record and one JSON line per test is
  appended to FILE (see tcpfault.wire_check; ``tcpfault wire-states-report FILE``);
* ``--tcpfault-sysctl-overlay FILE``: each test once per named set of sysctls
  (tcpfault.sysctl.overlay, for ``tcpfault sysctl-check``);
* ``--tcpfault-explore FILE``: each test it names once per fault variant, one JSON record
  per run (tcpfault.explore.plugin, for ``tcpfault explore``).
"""

import json
import os
import re

import pytest

import tcpfault
from tcpfault import pytest_options, wire_check

# Plugins of their own: targets (what runs the target side), and running the cases
# under named sets of sysctls (tcpfault sysctl-check). pytest imports them itself, after
# marking them for assertion rewriting: this module must not import them first (pytest
# would warn "Module already imported so cannot be rewritten", an error under -W error),
# so it reaches them through the plugin manager.
pytest_plugins = ["tcpfault.pytest_targets", "tcpfault.sysctl.overlay", "tcpfault.explore.plugin"]

_FAMILIES = {"4": [4], "6": [6], "both": [4, 6]}
_HOSTS = ("client", "server", "middlebox")
_LADDER_ROWS = 1000  # a failure's ladder is cut beyond this (a bulk transfer has thousands of rows)


def pytest_addoption(parser):
    group = parser.getgroup("tcpfault", "TCP fault injection")
    pytest_options.add(
        parser, group, "--tcpfault-family",
        choices=sorted(_FAMILIES),
        default="both",
        help="address family of the `net` fixture: 4, 6, or both (each test once per family; default)",
    )
    pytest_options.add(
        parser, group, "--tcpfault-artifacts",
        metavar="DIR",
        default=None,
        help="save every test's pcapng, JSON timeline and ladder diagram in DIR",
    )
    # ---- wire-inferred states against the kernel's (tcpfault.wire_check) ----
    pytest_options.add(
        parser, group, "--tcpfault-wire-states",
        metavar="FILE",
        default=None,
        help="compare the wire-inferred states with the kernel's at every test's teardown; "
        "one JSON line per test in FILE (summary: tcpfault wire-states-report FILE)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    pytest_options.resolve(config)  # the ini file's settings, before anything reads an option
    wire_check.configure(config, config.getoption("tcpfault_wire_states"))  # a no-op without the option
    config.addinivalue_line(
        "markers",
        "case(id, title, ref, target_side='server'): a conformance case of docs/cases.md: its id "
        "(CL2), one-line title, the RFC section or kernel behaviour it checks, and the side whose "
        "behaviour it is about (where an agent target runs it)",
    )
    config.addinivalue_line(
        "markers", "slow: a case that takes a minute or more (tcpfault conformance runs it with --slow)"
    )
    config.addinivalue_line(
        "markers",
        "deviation(reason): the kernel does something else than the catalogue says; the case "
        "asserts what the kernel really does, and reports say why it differs",
    )
    config.addinivalue_line(
        "markers",
        "sysctl(client=None, server=None, middlebox=None): sysctls (dicts of key -> value) set in "
        "that host's namespace before the test; the host machine is never touched",
    )


_MAIN_TESTS = pytest.StashKey[dict]()  # case id -> the name of its main test


def _case_id(marker):
    return marker.kwargs.get("id", (list(marker.args) + [None])[0])


def pytest_collection_modifyitems(config, items):
    """Slow cases first: in a parallel run they then overlap everything else, and the
    whole run lasts about as long as the slowest case. Before that, note each case's
    main test (its first in file order; the others are variants): reports name a case by it."""
    main = config.stash.setdefault(_MAIN_TESTS, {})
    for item in items:
        case = item.get_closest_marker("case")
        if case is not None:
            main.setdefault(_case_id(case), getattr(item, "originalname", item.name))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_generate_tests(metafunc):
    if "tcpfault_family" in metafunc.fixturenames:
        families = _FAMILIES[metafunc.config.getoption("tcpfault_family")]
        metafunc.parametrize("tcpfault_family", families, ids=[f"IPv{f}" for f in families])


def _stem(nodeid):
    """A file name for a test: 'cases/test_close.py::test_x[IPv4]' -> 'test_close.test_x-IPv4'."""
    path, _, name = nodeid.partition("::")
    module = os.path.splitext(os.path.basename(path))[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{module}.{name}").strip("-")


def _apply_sysctl_markers(request, net):
    for marker in request.node.iter_markers("sysctl"):
        if marker.args:
            raise pytest.UsageError(
                f"{request.node.nodeid}: the sysctl marker takes keywords, e.g. "
                "@pytest.mark.sysctl(client={'net.ipv4.tcp_fin_timeout': 2})"
            )
        for host, settings in marker.kwargs.items():
            if host not in _HOSTS:
                raise pytest.UsageError(
                    f"{request.node.nodeid}: sysctl marker: unknown host {host!r} (use {', '.join(_HOSTS)})"
                )
            if not isinstance(settings, dict):
                raise pytest.UsageError(
                    f"{request.node.nodeid}: sysctl marker: {host}= takes a dict of key -> value"
                )
            for key, value in settings.items():
                net.set_sysctl(host, key, value)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Case identity travels with every report (also from xdist workers) for reports."""
    case = item.get_closest_marker("case")
    if case is not None:
        case_id, title = (list(case.args) + [None, None])[:2]
        item.user_properties += [
            ("tcpfault_case", case.kwargs.get("id", case_id)),
            ("tcpfault_title", case.kwargs.get("title", title) or ""),
            ("tcpfault_ref", case.kwargs.get("ref", "")),
        ]
        main = item.config.stash.get(_MAIN_TESTS, {}).get(_case_id(case))
        if main == getattr(item, "originalname", item.name):
            item.user_properties.append(("tcpfault_main", "1"))
    deviation = item.get_closest_marker("deviation")
    # The marker speaks of the kernel: another target that passes the case does what it asserts.
    if deviation is not None and item.config.getoption("tcpfault_target", default="kernel") == "kernel":
        item.user_properties.append(("tcpfault_deviation", deviation.args[0] if deviation.args else ""))


def _sysctls_set(net):
    """{'client net.ipv4.tcp_max_tw_buckets': '0', ...}: what the test changed from the defaults."""
    found = {}
    for note in net.trace.notes():
        match = re.match(r"sysctl (client|server|middlebox) (\S+) = (.*?)(?: \(.*\))?$", note)
        if match:
            found[f"{match.group(1)} {match.group(2)}"] = match.group(3)
    return found


def _scenario(request, tmp_path_factory, family, suffix=""):
    """A tcpfault.Scenario of the test's target and family, named after the test."""
    return tcpfault.Scenario(
        family=family,
        name=_stem(request.node.nodeid) + suffix,
        artifacts=request.config.getoption("tcpfault_artifacts"),
        failure_artifacts=str(tmp_path_factory.getbasetemp() / "tcpfault"),
        **request.config.pluginmanager.get_plugin("tcpfault.pytest_targets").scenario_target(request),
    )


@pytest.fixture
def net_factory(request, tmp_path_factory, tcpfault_family):
    """Makes more scenarios like `net`: the same family and target (an agent target starts an
    agent of its own for each), named after the test with a suffix; use each in a with block.

        with net_factory("again") as again: ...
    """
    return lambda suffix: _scenario(request, tmp_path_factory, tcpfault_family, "-" + suffix)


@pytest.fixture
def net(request, tmp_path_factory, tcpfault_family, tcpfault_sysctl_setting, tcpfault_explore_variant):
    """A fresh tcpfault.Scenario for this test, torn down afterwards whatever happens."""
    # With an artifacts directory the scenario writes its pcapng, JSON and ladder there
    # when it ends (and at once when an expectation fails); without one, a failure
    # writes them under pytest's own temporary folder (--basetemp, or pytest-of-USER/
    # pytest-N: this run's, never shared) and names them in the message.
    scenario = _scenario(request, tmp_path_factory, tcpfault_family)
    request.node._tcpfault_net = scenario
    try:
        # Under a sysctl overlay its setting comes first: the keys it holds outrank the markers.
        request.config.pluginmanager.get_plugin("tcpfault.sysctl.overlay").apply(
            request, scenario, tcpfault_sysctl_setting)
        _apply_sysctl_markers(request, scenario)
        # Under tcpfault explore, the variant's fault rules, before any of the test's own.
        request.config.pluginmanager.get_plugin("tcpfault.explore.plugin").apply(
            request, scenario, tcpfault_explore_variant)
        yield scenario
        if not scenario.closed:
            # A packet the middlebox lost without a rule asking for it (its queue
            # overflowed) makes any verdict unsound: the test fails at teardown.
            scenario.expect_no_undecided_drops()
    finally:
        scenario.close()
        node = request.node
        node.user_properties.append(("tcpfault_sysctls", json.dumps(_sysctls_set(scenario))))
        directory = request.config.getoption("tcpfault_artifacts")
        if directory:
            stem = os.path.join(directory, _stem(node.nodeid))
            for kind, suffix in (("pcapng", ".pcapng"), ("json", ".json"), ("ladder", ".ladder.txt")):
                node.user_properties.append((f"tcpfault_{kind}", stem + suffix))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    net = getattr(item, "_tcpfault_net", None)
    if net is None or net.closed or not report.failed or report.when != "call":
        return
    if call.excinfo is not None and not call.excinfo.errisinstance(tcpfault.ExpectationFailed):
        # A plain assert carries no timeline of its own: show it.
        report.sections.append(("tcpfault ladder", net.ladder(max_rows=_LADDER_ROWS)))
    if item.config.getoption("tcpfault_artifacts") is None:
        return
    paths = net.write_artifacts()  # the scenario's own directory: the same files it keeps
    report.sections.append(
        ("tcpfault artifacts", "\n".join(f"{kind}: {path}" for kind, path in sorted(paths.items())))
    )
