"""The pytest plugin's targets (loaded by tcpfault.pytest_plugin): what runs the target
side of every ``net``, and how a case ends when the target cannot do what it asks.

* ``--tcpfault-target kernel|lwip|agent:COMMAND`` (default kernel): the stack the cases
  test on the target side; ``lwip`` is the agent built in agents/lwip
  (tcpfault.targets), ``agent:COMMAND`` any agent (docs/agent-protocol.md);
  ``--tcpfault-target-side server|client`` (default server) is the side it runs;
* a :class:`tcpfault.NotApplicable` raised by a test (a Linux sysctl asked of the lwIP
  side) skips it, with a reason that starts with ``not applicable:``;
* a :class:`tcpfault.TargetFailure` (the agent crashed, hung or spoke garbage) fails it
  with a message that starts with ``target failure:`` (an error when the agent broke
  while the ``net`` fixture started it);
* every report carries the target (user property ``tcpfault_target``) and, for those
  two outcomes, ``tcpfault_not_applicable`` or ``tcpfault_target_failure``.
"""

import pytest

import tcpfault
from tcpfault import targets

_SIDES = ("server", "client")


def pytest_addoption(parser):
    group = parser.getgroup("tcpfault", "TCP fault injection")
    group.addoption(
        "--tcpfault-target",
        metavar="kernel|lwip|agent:COMMAND",
        default="kernel",
        help="what runs the target side of `net`: the kernel (default), the lwIP agent (lwip) or any "
        "agent (agent:COMMAND, docs/agent-protocol.md)",
    )
    group.addoption(
        "--tcpfault-target-side",
        choices=_SIDES,
        default="server",
        help="the side an agent target runs (default: server); the other side is the kernel's",
    )


def pytest_configure(config):
    target = config.getoption("tcpfault_target", default="kernel")
    if target not in ("kernel", "lwip") and not target.startswith("agent:"):
        raise pytest.UsageError(f"--tcpfault-target: unknown target {target!r} (use kernel, lwip or agent:COMMAND)")
    if target.startswith("agent:") and not target[len("agent:"):].strip():
        raise pytest.UsageError("--tcpfault-target agent:COMMAND needs a command after 'agent:'")
    if target == "lwip":
        try:
            targets.lwip_agent()
        except tcpfault.Error as e:
            raise pytest.UsageError(f"--tcpfault-target lwip: {e}") from None


def scenario_target(config):
    """The keyword arguments of tcpfault.Scenario that say what runs the target side."""
    return {
        "target": config.getoption("tcpfault_target", default="kernel"),
        "target_side": config.getoption("tcpfault_target_side", default="server"),
    }


def _location(item):
    path, line = item.reportinfo()[:2]
    return str(path), (line or 0) + 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.user_properties.append(("tcpfault_target", item.config.getoption("tcpfault_target", default="kernel")))
    excinfo = call.excinfo
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
