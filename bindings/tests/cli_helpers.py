"""How the command's tests run tcpfault: as the launcher does, with the cases directory
given, and a small cases directory of their own when they need tests that pass, fail,
cannot apply, deviate, or wait."""

import os
import pathlib
import subprocess
import sys
import textwrap

CASES = pathlib.Path(__file__).resolve().parents[2] / "cases"

# One test of each verdict, plus one that waits (for Ctrl-C).
KINDS = {
    "pass": """
        @pytest.mark.case("XP1", "a case that passes", ref="none")
        def test_passes(net):
            listener = net.server.listen(8080)
            net.expect_ok(net.client.connect(listener).connect_result)
    """,
    "fail": """
        @pytest.mark.case("XF1", "a case that expects a FIN nobody sends", ref="none")
        def test_expects_a_fin(net):
            net.expect_segments(FIN, count=1, within=0.2)
    """,
    "n/a": """
        @pytest.mark.case("XN1", "a case the target cannot run", ref="none")
        def test_cannot_apply(net):
            raise tcpfault.NotApplicable("the target has no such knob")
    """,
    "deviation": """
        @pytest.mark.case("XD1", "a case with a documented deviation", ref="none")
        @pytest.mark.deviation("this kernel does it its own way, on purpose")
        def test_deviates(net):
            pass
    """,
    "wait": """
        @pytest.mark.case("XW1", "a case that waits for a FIN nobody sends", ref="none")
        def test_waits(net):
            net.expect_segments(FIN, count=1, within=60)
    """,
}


def cases_dir(tmp_path, *kinds):
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -p tcpfault.pytest_plugin\n")
    body = "import pytest\nimport tcpfault\nfrom tcpfault import FIN\n" + "".join(
        textwrap.dedent(KINDS[k]) for k in kinds)
    (folder / "test_kinds.py").write_text(body)
    return folder


def tcpfault(*args, cases=CASES, **popen):
    env = dict(os.environ, TCPFAULT_CASES=str(cases))
    return subprocess.run([sys.executable, "-m", "tcpfault.cli", *args], env=env,
                          capture_output=True, text=True, timeout=600, **popen)


def tcpfault_process(*args, cases=CASES):
    """tcpfault running on its own, in a session of its own (as a terminal's Ctrl-C reaches
    the whole foreground group)."""
    env = dict(os.environ, TCPFAULT_CASES=str(cases))
    return subprocess.Popen([sys.executable, "-u", "-m", "tcpfault.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
