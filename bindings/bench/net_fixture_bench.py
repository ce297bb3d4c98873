"""What the `net` fixture costs a test: setup and teardown of a scenario, measured by
pytest itself over N tests that do nothing else.

    PYTHONPATH=build/python /usr/bin/python3 bindings/bench/net_fixture_bench.py [N]
"""

import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest


class Durations:
    """Collects the setup and teardown phase durations pytest reports."""

    def __init__(self):
        self.phases = {"setup": [], "teardown": []}

    def pytest_runtest_logreport(self, report):
        if report.when in self.phases:
            self.phases[report.when].append(report.duration * 1000)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "test_empty.py").write_text(textwrap.dedent(f"""
            import pytest

            @pytest.mark.parametrize("n", range({runs}))
            def test_nothing(net, n):
                pass
        """))
        durations = Durations()
        code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "tcpfault.pytest_plugin",
                            "--tcpfault-family", "4", tmp], plugins=[durations])
        if code != 0:
            sys.exit(code)
    for phase, values in durations.phases.items():
        values.sort()
        print(f"{phase:9} median {statistics.median(values):.2f} ms  "
              f"p90 {values[len(values) * 9 // 10]:.2f} ms  ({len(values)} tests)")


if __name__ == "__main__":
    main()
