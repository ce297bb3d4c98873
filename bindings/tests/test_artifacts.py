"""Where a run leaves its files: --artifacts DIR is the folder itself; without it, a
temporary folder removed at the end but for the failures', and one left by a killed run
is swept by the next."""

import json
import os
import re
import subprocess
import tempfile

from cli_helpers import cases_dir, tcpfault
from tcpfault import scratch


def ours(before):
    return {p for p in set(os.listdir(tempfile.gettempdir())) - before if p.startswith("tcpfault-conformance.")}


def test_artifacts_go_into_the_folder_given(tmp_path):
    folder, report = tmp_path / "art", tmp_path / "r.json"
    out = tcpfault("conformance", "--case", "HS5", "--family", "4", "--jobs", "1", "--artifacts", str(folder),
                   "--json", str(report))
    assert out.returncode == 0, out.stdout + out.stderr
    assert (folder / "pytest.log").is_file() and not (folder / "artifacts").exists()
    row = json.loads(report.read_text())["results"][0]
    assert row["artifacts"] and all(os.path.dirname(p) == str(folder) or p.startswith(str(folder) + os.sep)
                                    for p in row["artifacts"].values())
    assert all(os.path.isfile(p) for p in row["artifacts"].values())
    assert f"pytest log and artifacts in {folder}" in out.stdout


def test_a_passing_run_leaves_no_temporary_folder(tmp_path):
    before = set(os.listdir(tempfile.gettempdir()))
    out = tcpfault("conformance", "--case", "HS5", "--family", "4", "--jobs", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert not ours(before)


def test_a_failing_run_keeps_only_the_failures_artifacts(tmp_path):
    before = set(os.listdir(tempfile.gettempdir()))
    report = tmp_path / "r.json"
    out = tcpfault("conformance", "--family", "4", "--jobs", "1", "--json", str(report),
                   cases=cases_dir(tmp_path, "pass", "fail"))
    assert out.returncode == 1
    kept = ours(before)
    assert len(kept) == 1, kept
    folder = os.path.join(tempfile.gettempdir(), kept.pop())
    try:
        assert f"the failures' pytest log and artifacts kept in {folder}" in out.stdout
        rows = {r["case"]: r for r in json.loads(report.read_text())["results"]}
        assert all(os.path.isfile(p) for p in rows["XF1"]["artifacts"].values())
        assert rows["XP1"]["artifacts"] and not any(os.path.exists(p) for p in rows["XP1"]["artifacts"].values())
    finally:
        scratch.remove(folder)


def test_a_killed_runs_folder_is_swept_by_the_next():
    child = subprocess.Popen(["true"])
    child.wait()  # a pid that is gone
    dead = tempfile.mkdtemp(prefix=f"{scratch.PREFIX}conformance.{child.pid}.")
    mine = scratch.make("conformance")
    try:
        assert not os.path.exists(dead) and os.path.isdir(mine)
        assert re.fullmatch(rf"tcpfault-conformance\.{os.getpid()}\.\w+", os.path.basename(mine))
    finally:
        scratch.remove(mine)
        scratch.remove(dead)
