"""tcpfault kernel-matrix: conformance reports of several kernels side by side."""

import json
import subprocess
import sys

import pytest

from tcpfault import kernel_matrix


def row(case, verdict, family="IPv4", deviation=None, message=""):
    return {"case": case, "title": f"the {case} case", "family": family, "verdict": verdict, "deviation": deviation,
            "message": message, "test": f"test_x.py::test_{case.lower()}[{family}]"}


def report(tmp_path, kernel, rows, name):
    path = tmp_path / name
    path.write_text(json.dumps({"kernel": kernel, "duration_s": 12.3, "results": rows}))
    return str(path)


def test_cells_sum_up_every_test_of_a_case():
    assert kernel_matrix.cell([row("A", "pass"), row("A", "pass", "IPv6")]) == "pass"
    assert kernel_matrix.cell([row("A", "pass"), row("A", "deviation", "IPv6")]) == "deviation"
    assert kernel_matrix.cell([row("A", "n/a"), row("A", "n/a", "IPv6")]) == "n/a"
    assert kernel_matrix.cell([row("A", "pass"), row("A", "n/a", "IPv6")]) == "pass, n/a"
    assert kernel_matrix.cell([row("A", "fail"), row("A", "pass"), row("A", "error")]) == "error 1/3, fail 1/3"


def test_matrix_and_reasons_side_by_side(tmp_path):
    old = report(tmp_path, "6.1.0-57-amd64", [
        row("HS1", "pass"), row("TW7", "deviation", deviation="a fresh ISN"),
        row("TM1", "n/a", message="not applicable: this kernel predates the key"),
        row("SEC2", "fail", message="cases/x.py:1: in test\nE   tcpfault.ExpectationFailed: expectation failed: ISN\nmore"),
    ], "old.json")
    new = report(tmp_path, "6.18.0", [row("HS1", "pass"), row("TW7", "pass"), row("TM1", "pass"), row("CL1", "pass")],
                 "new.json")
    text = kernel_matrix.markdown([kernel_matrix.load(old), kernel_matrix.load(new)])
    lines = text.splitlines()
    assert lines[0] == "| case | title | 6.1 (6.1.0-57-amd64) | 6.18 (6.18.0) |"
    assert "| HS1 | the HS1 case | pass | pass |" in lines
    assert "| CL1 | the CL1 case | - | pass |" in lines  # run on one kernel only
    assert lines.index("| HS1 | the HS1 case | pass | pass |") < lines.index("| CL1 | the CL1 case | - | pass |") \
        < lines.index("| TW7 | the TW7 case | deviation | pass |") < lines.index("| SEC2 | the SEC2 case | fail 1/1 | - |")
    assert "| 6.1 (6.1.0-57-amd64) | 1 pass, 1 deviation, 1 n/a, 1 fail in 12 s |" in lines
    assert "- TW7 deviation (6.1): a fresh ISN" in lines
    assert "- TM1 n/a (6.1): this kernel predates the key" in lines
    assert "- SEC2 fail (6.1): tcpfault.ExpectationFailed: expectation failed: ISN" in lines


def test_a_report_of_several_targets_gives_a_column_per_target(tmp_path):
    rows = [dict(row("HS1", "pass"), target="kernel"), dict(row("HS1", "deviation", deviation="3 s RTO"), target="lwip"),
            dict(row("CL2", "deviation", deviation="FIN_WAIT1"), target="gvisor"), dict(row("CL2", "pass"), target="kernel")]
    path = tmp_path / "targets.json"
    path.write_text(json.dumps({"kernel": "6.18.0", "targets": ["kernel", "lwip", "gvisor"], "duration_s": 30,
                                "target_durations_s": {"kernel": 12, "lwip": 9, "gvisor": 9}, "results": rows}))
    lines = kernel_matrix.markdown([kernel_matrix.load(str(path))]).splitlines()
    assert lines[0] == "| case | title | 6.18 (6.18.0) | lwip | gvisor |"
    assert "| HS1 | the HS1 case | pass | deviation | - |" in lines
    assert "| CL2 | the CL2 case | pass | - | deviation |" in lines
    assert "| lwip | 1 deviation in 9 s |" in lines
    assert "- CL2 deviation (gvisor): FIN_WAIT1" in lines


def test_the_target_section_is_its_own(tmp_path):
    one = report(tmp_path, "6.12.1", [row("HS1", "pass")], "one.json")
    begin, end = kernel_matrix.markers("target-matrix")
    readme = tmp_path / "README.md"
    readme.write_text(f"{kernel_matrix.BEGIN}\nkernels\n{kernel_matrix.END}\n{begin}\nold\n{end}\n")
    out = subprocess.run([sys.executable, "-m", "tcpfault.cli", "kernel-matrix", one, "--readme", str(readme),
                          "--section", "target-matrix"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text = readme.read_text()
    assert "kernels" in text and "old" not in text and "| HS1 | the HS1 case | pass |" in text


def test_the_readme_section_is_replaced_and_nothing_else(tmp_path):
    one = report(tmp_path, "6.12.1", [row("HS1", "pass")], "one.json")
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\nbefore\n{kernel_matrix.BEGIN}\nold table\n{kernel_matrix.END}\nafter\n")
    out = subprocess.run([sys.executable, "-m", "tcpfault.cli", "kernel-matrix", one, "--readme", str(readme)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text = readme.read_text()
    assert text.startswith("# title\nbefore\n") and text.endswith(f"{kernel_matrix.END}\nafter\n")
    assert "old table" not in text and "| HS1 | the HS1 case | pass |" in text


@pytest.mark.parametrize("content, message", [
    ("{not json", "not JSON"),
    ('{"results": []}', "not a report of tcpfault conformance --json FILE"),
])
def test_bad_reports_say_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    out = subprocess.run([sys.executable, "-m", "tcpfault.cli", "kernel-matrix", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and message in out.stderr and "bad.json" in out.stderr


def test_a_readme_without_the_section_is_refused(tmp_path):
    one = report(tmp_path, "6.12.1", [row("HS1", "pass")], "one.json")
    readme = tmp_path / "README.md"
    readme.write_text("no section here\n")
    out = subprocess.run([sys.executable, "-m", "tcpfault.cli", "kernel-matrix", one, "--readme", str(readme)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "no matrix section" in out.stderr
    assert readme.read_text() == "no section here\n"
