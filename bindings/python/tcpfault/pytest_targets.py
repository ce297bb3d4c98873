"""The pytest plugin's targets (loaded by tcpfault.pytest_plugin): what runs the target
side of every ``net``, and how a case ends when the target cannot do what it asks.

(Each option is also an ini option: ``tcpfault_target = lwip``; the command line wins.)

* ``--tcpfault-target kernel|lwip|gvisor|agent:COMMAND`` (default kernel): the stack the
  cases test on the target side; ``lwip`` and ``gvisor`` are the agents built in
  agents/lwip and agents/gvisor (tcpfault.targets), ``agent:COMMAND`` any agent
  (docs/agent-protocol.md);
  ``--tcpfault-target-side case|server|client`` is the side it runs: by default the
  side the case's marker names (``@pytest.mark.case(..., target_side="client")``, the
  side whose behaviour the case is about; server when it names none);
* a known deviation of the target (``cases/targets/<target>.toml``, for the kernel
  ``cases/targets/kernel-<series>.toml`` of the running kernel, or
  ``--tcpfault-target-deviations FILE`` for any agent; tcpfault.target_deviations):
  a listed test that fails with the listed message is reported as an expected failure
  with the reason; one that passes fails ("no longer seen"), one that fails otherwise
  stays a failure;
* a :class:`tcpfault.NotApplicable` raised by a test (a Linux sysctl an agent's stack has
  no counterpart of) skips it, with a reason that starts with ``not applicable:``;
* a :class:`tcpfault.TargetFailure` (the agent crashed, hung or spoke garbage) fails it
  with a message that starts with ``target failure:`` (an error when the agent broke
  while the ``net`` fixture started it);
* every report carries the target (user property ``tcpfault_target``) and, for those
  two outcomes, ``tcpfault_not_applicable`` or ``tcpfault_target_failure``.
"""

import os

import pytest

import tcpfault
from tcpfault import pytest_options, target_deviations, targets

_SIDES = ("case", "server", "client")
_DEVIATIONS = pytest.StashKey[list]()


def pytest_addoption(parser):
    group = parser.getgroup("tcpfault", "TCP fault injection")
    pytest_options.add(
        parser, group, "--tcpfault-target",
        metavar="kernel|lwip|gvisor|agent:COMMAND",
        default="kernel",
        help="what runs the target side of `net`: the kernel (default), the lwIP agent (lwip), the gVisor "
        "netstack agent (gvisor) or any agent (agent:COMMAND, docs/agent-protocol.md)",
    )
    pytest_options.add(
        parser, group, "--tcpfault-target-side",
        choices=_SIDES,
        default="case",
        help="the side an agent target runs: the one each case's marker names (case, the default; "
        "server when it names none), or server or client for every test; the other side is the kernel's",
    )
    pytest_options.add(
        parser, group, "--tcpfault-target-deviations",
        metavar="FILE",
        default=None,
        help="known deviations of the target (TOML, see tcpfault/target_deviations.py); default: "
        "cases/targets/<target>.toml for a named target, cases/targets/kernel-<series>.toml for the kernel",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    pytest_options.resolve(config)  # the ini file's settings (tcpfault.pytest_options)
    target = config.getoption("tcpfault_target", default="kernel")
    if target != "kernel" and target not in targets.AGENTS and not target.startswith("agent:"):
        raise pytest.UsageError(f"--tcpfault-target: unknown target {target!r} (use kernel, "
                                f"{', '.join(targets.AGENTS)} or agent:COMMAND)")
    if target.startswith("agent:") and not target[len("agent:"):].strip():
        raise pytest.UsageError("--tcpfault-target agent:COMMAND needs a command after 'agent:'")
    if target in targets.AGENTS:
        try:
            targets.agent(target)
        except tcpfault.Error as e:
            raise pytest.UsageError(f"--tcpfault-target {target}: {e}") from None
    listed = config.getoption("tcpfault_target_deviations", default=None)
    try:
        if listed:
            config.stash[_DEVIATIONS] = target_deviations.load(listed)
        else:
            config.stash[_DEVIATIONS] = target_deviations.for_target(str(config.rootpath), target)
    except (OSError, target_deviations.DeviationListError) as e:
        raise pytest.UsageError(f"--tcpfault-target {target}: known deviations: {e}") from None


def target_side(item):
    """The side the agent runs for this test: forced by the option, else the case's own."""
    side = item.config.getoption("tcpfault_target_side", default="case")
    if side != "case":
        return side
    case = item.get_closest_marker("case")
    side = case.kwargs.get("target_side", "server") if case is not None else "server"
    if side not in ("server", "client"):
        raise pytest.UsageError(f"{item.nodeid}: case marker: target_side is server or client, not {side!r}")
    return side


def scenario_target(request):
    """The keyword arguments of tcpfault.Scenario that say what runs the target side."""
    return {
        "target": request.config.getoption("tcpfault_target", default="kernel"),
        "target_side": target_side(request.node),
    }


def _family(item):
    family = getattr(item, "callspec", None) and item.callspec.params.get("tcpfault_family")
    return f"IPv{family}" if family else None


def _known_deviation(item, report):
    """Turns a listed test's result into what the target's deviation list says of it."""
    deviation = target_deviations.find(item.config.stash.get(_DEVIATIONS, []),
                                       getattr(item, "originalname", item.name), _family(item))
    if deviation is None or report.skipped:
        return
    target = item.config.getoption("tcpfault_target", default="kernel")
    listed = item.config.getoption("tcpfault_target_deviations", default=None) or os.path.relpath(
        target_deviations.list_path(str(item.config.rootpath), target), str(item.config.rootpath))
    if target == "kernel":
        target = f"Linux {target_deviations.kernel_series()}"
    if report.passed:
        report.outcome = "failed"
        report.longrepr = (f"known deviation of {target} no longer seen: the test passed, but "
                           f"{listed} lists it: {deviation.reason}")
    elif deviation.match.search(report.longreprtext):
        report.outcome = "skipped"
        report.wasxfail = f"{target}: {deviation.reason}"
    else:
        report.sections.append(("tcpfault known deviation", f"listed for {target} in {listed} ({deviation.reason}), "
                                f"but the failure does not match {deviation.match.pattern!r}: a new fault"))


def _location(item):
    path, line = item.reportinfo()[:2]
    return str(path), (line or 0) + 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.user_properties.append(("tcpfault_target", item.config.getoption("tcpfault_target", default="kernel")))
    excinfo = call.excinfo
    if report.when == "call" and (excinfo is None or not excinfo.errisinstance((tcpfault.NotApplicable, tcpfault.TargetFailure))):
        _known_deviation(item, report)
    if excinfo is None:
        return
    if excinfo.errisinstance(tcpfault.NotApplicable):
        reason = f"not applicable: {excinfo.value}"
        report.outcome = "skipped"
        report.longrepr = (*_location(item), f"Skipped: {reason}")  # as pytest.skip writes it
        report.user_properties.append(("tcpfault_not_applicable", str(excinfo.value)))
    elif excinfo.errisinstance(tcpfault.TargetFailure):
        message = str(excinfo.value)
        if not message.startswith("target failure:"):
            message = f"target failure: {message}"
        report.outcome = "failed"
        report.longrepr = message  # the agent's report says all: no traceback into the harness
        report.user_properties.append(("tcpfault_target_failure", message))
