#!/usr/bin/python3
"""ctest vm_cl2 (label vm; skip it with ctest -LE vm): boots Debian 12's kernel 6.1 in a
QEMU guest (tcpfault vm --kernel 6.1, which fetches the package the first time), runs
CL2 there with the report written to a host path, and checks the report's verdicts; runs
it again with --virtual-time and checks that the verdicts are the same; then checks that a
guest command's failure is tcpfault vm's exit status.

    vm_cl2.py TCPFAULT OUTPUT_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import time

tcpfault, out_dir = sys.argv[1], sys.argv[2]
shutil.rmtree(out_dir, ignore_errors=True)
os.makedirs(out_dir)
report = os.path.join(out_dir, "cl2.json")

started = time.monotonic()
run = subprocess.run([tcpfault, "vm", "--kernel", "6.1", "--timeout", "200", "--",
                      "conformance", "-k", "cl2", "--family", "4", "--json", report,
                      "--artifacts", os.path.join(out_dir, "artifacts")], timeout=240)
print(f"vm_cl2: tcpfault vm ... conformance -k cl2: exit {run.returncode} in {time.monotonic() - started:.1f} s")
if run.returncode != 0:
    sys.exit(f"vm_cl2: expected exit status 0, got {run.returncode}")
with open(report) as f:
    results = json.load(f)
assert results["kernel"].startswith("6.1."), f"the report's kernel is {results['kernel']}, not 6.1"
verdicts = {row["test"]: row["verdict"] for row in results["results"]}
assert verdicts and all(row["case"] == "CL2" for row in results["results"]), verdicts
assert all(v == "pass" for v in verdicts.values()), f"CL2 on 6.1 did not pass: {verdicts}"
artifacts = [path for row in results["results"] for path in row["artifacts"].values()]
assert artifacts and all(os.path.isfile(p) for p in artifacts), f"artifacts not on the host: {artifacts}"
print(f"vm_cl2: CL2 on Linux {results['kernel']}: {verdicts}")

# The same on a virtual clock: the same verdicts, and the report says its times are guest time.
virtual_report = os.path.join(out_dir, "cl2-virtual.json")
started = time.monotonic()
run = subprocess.run([tcpfault, "vm", "--kernel", "6.1", "--virtual-time", "--timeout", "200", "--",
                      "conformance", "-k", "cl2", "--family", "4", "--json", virtual_report,
                      "--artifacts", os.path.join(out_dir, "artifacts-virtual")], timeout=240)
print(f"vm_cl2: the same with --virtual-time: exit {run.returncode} in {time.monotonic() - started:.1f} s")
with open(virtual_report) as f:
    virtual = json.load(f)
assert virtual["clock"] == "virtual" and results["clock"] == "real", (virtual["clock"], results["clock"])
virtual_verdicts = {row["test"]: row["verdict"] for row in virtual["results"]}
assert virtual_verdicts == verdicts, f"CL2 in virtual time: {virtual_verdicts}, in real time: {verdicts}"
print("vm_cl2: the same verdicts in virtual time")

failing = subprocess.run([tcpfault, "vm", "--kernel", "6.1", "--timeout", "100", "--",
                          "wire-states-report", os.path.join(out_dir, "no-such-records")], timeout=120)
if failing.returncode != 1:
    sys.exit(f"vm_cl2: a guest command that exits 1 gave {failing.returncode}")
print("vm_cl2: a guest command's exit status 1 is tcpfault vm's")
