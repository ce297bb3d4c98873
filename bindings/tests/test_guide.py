"""Runs every code block of docs/authoring.md, so the guide cannot drift from the code.

The convention (also written at the top of the guide):

* a ```python block that defines `test_...` functions is a pytest module of its own,
  run with the tcpfault plugin on IPv4 and IPv6: each of its tests must pass;
* any other ```python block is a script, run on its own: it must exit cleanly;
* ```python expect-failure marks a block that must fail with tcpfault.ExpectationFailed
  (each of its tests, or the script), and the ```text block right after it shows that
  failure: its first line is the failure's first line (numbers aside: ports and
  times vary);
* other blocks (```text, ```console ...) are not run.
"""

import ast
import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "authoring.md"
FENCE = re.compile(r"^```([\w-]*)[ \t]*([\w -]*)\n(.*?)^```[ \t]*$", re.M | re.S)
FAMILIES = 2  # the test blocks run with --tcpfault-family both
EXPECTED_FAILURE = "tcpfault.ExpectationFailed"
FAILED_EXPECTATION_EXIT = 3

# Runs a script block; a failed expectation exits with its own code and first line.
SCRIPT_RUNNER = f"""
import runpy, sys, tcpfault
try:
    runpy.run_path(sys.argv[1], run_name="__main__")
except tcpfault.ExpectationFailed as failure:
    print("{EXPECTED_FAILURE}: " + str(failure).splitlines()[0], file=sys.stderr)
    sys.exit({FAILED_EXPECTATION_EXIT})
"""


class Block:
    def __init__(self, match, text):
        self.language = match.group(1)
        self.tags = set(match.group(2).split())
        self.code = match.group(3)
        self.line = text.count("\n", 0, match.start()) + 1

    @property
    def runs(self):
        return self.language == "python"

    @property
    def must_fail(self):
        return "expect-failure" in self.tags

    @property
    def tests(self):
        tree = ast.parse(self.code, filename=f"{GUIDE.name}:{self.line}")
        return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]

    @property
    def module(self):
        return f"test_guide_line{self.line}"


def read_blocks():
    text = GUIDE.read_text()
    return [Block(m, text) for m in FENCE.finditer(text)]


BLOCKS = read_blocks()
TEST_BLOCKS = [b for b in BLOCKS if b.runs and b.tests]
SCRIPT_BLOCKS = [b for b in BLOCKS if b.runs and not b.tests]


def block_id(block):
    return f"line{block.line}"


def without_numbers(line):
    # Ports and times differ from run to run; the failure must be the same.
    return re.sub(r"\d+", "N", line)


def shown_failure(block):
    """The first line of the ```text block right after a failing example."""
    shown = next(b for b in BLOCKS if b.line > block.line)
    assert shown.language == "text", f"{GUIDE.name}:{block.line}: no ```text block after it"
    return without_numbers(shown.code.splitlines()[0])


def test_guide_has_blocks_of_every_kind():
    # A parsing slip would otherwise pass by running nothing.
    assert len(TEST_BLOCKS) >= 10 and SCRIPT_BLOCKS
    assert any(b.must_fail for b in TEST_BLOCKS)
    languages = {b.language for b in BLOCKS}
    assert {"python", "text", "console"} <= languages, languages


def test_every_python_fence_is_recognised():
    fences = re.findall(r"^```python", GUIDE.read_text(), re.M)
    assert len(fences) == sum(b.language == "python" for b in BLOCKS)


def outcome_of(case):
    """('passed' | 'skipped' | 'failure' | 'error', message, details) of a junit testcase."""
    for tag in ("failure", "error"):
        problem = case.find(tag)
        if problem is not None:
            return tag, problem.get("message", ""), problem.text or ""
    return ("skipped" if case.find("skipped") is not None else "passed"), "", ""


@pytest.fixture(scope="module")
def pytest_run(tmp_path_factory):
    """Runs all test blocks in one pytest process.

    Returns ({module: [(test, outcome, message, details)]}, the end of pytest's output)."""
    where = tmp_path_factory.mktemp("guide")
    (where / "pytest.ini").write_text("[pytest]\n")
    (where / "conftest.py").write_text('pytest_plugins = ["tcpfault.pytest_plugin"]\n')
    for block in TEST_BLOCKS:
        (where / f"{block.module}.py").write_text(block.code)
    report = where / "report.xml"
    parallel = ["-n", "4"] if importlib.util.find_spec("xdist") else []
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", str(where / "pytest.ini"),
               "--rootdir", str(where), f"--junitxml={report}", "--tcpfault-family", "both", "-q",
               *parallel, str(where)]
    # Failure artifacts go to $TMPDIR/tcpfault: keep them in the temporary directory.
    env = {**os.environ, "TMPDIR": str(where)}
    done = subprocess.run(command, cwd=where, env=env, capture_output=True, text=True, timeout=900)
    # The end of pytest's output says why a module did not run (a collection error ...).
    output = (done.stdout + done.stderr)[-3000:]
    if not report.exists():
        pytest.fail(f"pytest wrote no report:\n{output}")
    results = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname").rpartition(".")[2]
        results.setdefault(module, []).append((case.get("name"), *outcome_of(case)))
    return results, output


@pytest.mark.parametrize("block", TEST_BLOCKS, ids=block_id)
def test_block_tests(block, pytest_run):
    results, output = pytest_run
    cases = results.get(block.module, [])
    assert len(cases) == len(block.tests) * FAMILIES, f"tests run from {GUIDE.name}:{block.line}\n{output}"
    for name, outcome, message, details in cases:
        where = f"{GUIDE.name}:{block.line} {name}: {outcome}\n{details}"
        if block.must_fail:
            assert outcome == "failure" and message.startswith(EXPECTED_FAILURE + ": "), where
        else:
            assert outcome == "passed", where


@pytest.mark.parametrize("block", SCRIPT_BLOCKS, ids=block_id)
def test_block_script(block, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(block.code)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", SCRIPT_RUNNER, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    if block.must_fail:
        assert done.returncode == FAILED_EXPECTATION_EXIT, done.stderr
        assert without_numbers(done.stderr.splitlines()[-1]) == shown_failure(block)
    else:
        assert done.returncode == 0, f"{GUIDE.name}:{block.line}\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("block", [b for b in TEST_BLOCKS if b.must_fail], ids=block_id)
def test_failure_shown_is_the_real_one(block, pytest_run):
    # The text block right after a failing example shows its failure: it must be that one.
    results, _ = pytest_run
    for name, _, message, _ in results.get(block.module, []):
        assert without_numbers(message.splitlines()[0]) == shown_failure(block), name
