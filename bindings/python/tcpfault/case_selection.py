"""pytest plugin for `tcpfault conformance --case ID` and `--shard K/N`.

Loaded with `-p tcpfault.case_selection` so that pytest-xdist's workers load it too (they
get the same command line): every worker must select the same tests.

* ``--tcpfault-case ID`` (repeatable): only the tests of these cases, by the id of their
  ``case`` marker, exactly (CL1 is not CL10);
* ``--tcpfault-shard K/N`` with ``--tcpfault-durations FILE``: only shard K of N
  (tcpfault.shards), after -k and -m have chosen.
"""

import pytest

from tcpfault import shards


def pytest_addoption(parser):
    group = parser.getgroup("tcpfault")
    group.addoption("--tcpfault-case", action="append", default=[], metavar="ID",
                    help="only the tests of this case (exact id; repeatable)")
    group.addoption("--tcpfault-shard", metavar="K/N", help="only shard K of N of the selected tests")
    group.addoption("--tcpfault-durations", metavar="FILE",
                    help="a conformance JSON report whose durations balance the shards")


def case_of(item):
    marker = item.get_closest_marker("case")
    if marker is None:
        return None
    return marker.kwargs.get("id", marker.args[0] if marker.args else None)


@pytest.hookimpl(trylast=True)  # after -k and -m
def pytest_collection_modifyitems(config, items):
    keep = list(items)
    wanted = set(config.getoption("tcpfault_case"))
    if wanted:
        keep = [i for i in keep if case_of(i) in wanted]
    shard = config.getoption("tcpfault_shard")
    if shard:
        k, n = shards.parse("conformance", shard)
        path = config.getoption("tcpfault_durations")
        durations = shards.load_durations(path) if path else {}
        names = {shards.test_name(i.nodeid): i for i in keep}
        chosen = set(shards.partition(list(names), durations, n)[k - 1])
        keep = [i for i in keep if shards.test_name(i.nodeid) in chosen]
    if len(keep) != len(items):
        kept = set(id(i) for i in keep)
        config.hook.pytest_deselected(items=[i for i in items if id(i) not in kept])
        items[:] = keep
