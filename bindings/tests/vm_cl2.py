#!/usr/bin/python3
"""ctest vm_cl2 (label vm; skip it with ctest -LE vm): boots Debian 12's kernel 6.1 in a
QEMU guest (tcpfault vm --kernel 6.1, which fetches the package the first time), runs
CL2 and HS1 there with the report written to a host path, and checks the report's
verdicts; that the BPF state observer ran there, not its fallback (6.1 refuses what
newer kernels accept, harness/observe/bpf/README.md); and that HS1's server life is one
request socket turned into its child, as 6.1 reports a child before its addresses. Runs
CL2 again with --virtual-time and checks the verdicts are the same; then sysctl-check of a
block there, whose exit status (2: a line 6.1 cannot take) is tcpfault vm's.

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
                      "conformance", "-k", "cl2 or hs1", "--family", "4", "--json", report,
                      "--artifacts", os.path.join(out_dir, "artifacts")], timeout=240)
print(f"vm_cl2: tcpfault vm ... conformance -k 'cl2 or hs1': exit {run.returncode} in {time.monotonic() - started:.1f} s")
if run.returncode != 0:
    sys.exit(f"vm_cl2: expected exit status 0, got {run.returncode}")
with open(report) as f:
    results = json.load(f)
assert results["kernel"].startswith("6.1."), f"the report's kernel is {results['kernel']}, not 6.1"
verdicts = {row["test"]: row["verdict"] for row in results["results"]}
cases = {row["case"] for row in results["results"]}
assert cases == {"CL2", "HS1"}, verdicts
assert all(v == "pass" for v in verdicts.values()), f"CL2 and HS1 on 6.1 did not all pass: {verdicts}"
artifacts = [path for row in results["results"] for path in row["artifacts"].values()]
assert artifacts and all(os.path.isfile(p) for p in artifacts), f"artifacts not on the host: {artifacts}"
print(f"vm_cl2: CL2 and HS1 on Linux {results['kernel']}: {verdicts}")

# Each run's timeline names its state observer; the fallback's note says why BPF was not used.
for row in results["results"]:
    with open(row["artifacts"]["json"]) as f:
        events = json.load(f)["events"]
    notes = [e["text"] for e in events if e["type"] == "note" and e["text"].startswith("state observer:")]
    assert notes and notes[0].startswith("state observer: BPF"), f"{row['test']}: {notes}"
    if row["case"] != "HS1":
        continue
    # The server's steps for the connection (not the listener's): the request socket's
    # LISTEN -> SYN_RECV at the SYN, then the child's SYN_RECV -> ESTABLISHED, one life.
    server = [(e["from"], e["to"], e["source"]) for e in events
              if e["type"] == "transition" and e["host"] == "server" and not e["remote"].endswith(":0")]
    steps = [(a, b) for a, b, _ in server]
    assert steps[:2] == [("LISTEN", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED")], f"HS1's server on 6.1: {server}"
    assert "request socket" in server[0][2], f"HS1's SYN_RECV is not the request socket's: {server}"
print("vm_cl2: the BPF observer ran on 6.1; HS1's request socket became its child in one life")

# CL2 on a virtual clock: the same verdicts, and the report says its times are guest time.
virtual_report = os.path.join(out_dir, "cl2-virtual.json")
started = time.monotonic()
run = subprocess.run([tcpfault, "vm", "--kernel", "6.1", "--virtual-time", "--timeout", "200", "--",
                      "conformance", "-k", "cl2", "--family", "4", "--json", virtual_report,
                      "--artifacts", os.path.join(out_dir, "artifacts-virtual")], timeout=240)
print(f"vm_cl2: CL2 with --virtual-time: exit {run.returncode} in {time.monotonic() - started:.1f} s")
with open(virtual_report) as f:
    virtual = json.load(f)
assert virtual["clock"] == "virtual" and results["clock"] == "real", (virtual["clock"], results["clock"])
virtual_verdicts = {row["test"]: row["verdict"] for row in virtual["results"]}
cl2_verdicts = {test: v for test, v in verdicts.items() if "cl2" in test}
assert virtual_verdicts == cl2_verdicts, f"CL2 in virtual time: {virtual_verdicts}, in real time: {cl2_verdicts}"
print("vm_cl2: the same verdicts in virtual time")

# sysctl-check on the kernel that will run the block: 6.1 has no tcp_tw_reuse_delay
# (the catalog says which version added it and what 6.1 does instead), and the valid line
# is tried on LD2 there. An invalid line is exit status 2, passed through from the guest.
block = os.path.join(out_dir, "block.conf")
with open(block, "w") as f:
    f.write("net.ipv4.tcp_tw_reuse_delay = 500\nnet.ipv4.tcp_abort_on_overflow = 1\n")
check_report = os.path.join(out_dir, "check.json")
check = subprocess.run([tcpfault, "vm", "--kernel", "6.1", "--timeout", "200", "--",
                        "sysctl-check", block, "--family", "4", "--json", check_report],
                       timeout=240, capture_output=True, text=True)
print(check.stdout[-3000:], check.stderr[-2000:], sep="\n")
if check.returncode != 2:
    sys.exit(f"vm_cl2: sysctl-check of a block with a key 6.1 lacks: expected exit status 2, got {check.returncode}")
for expected in ("net.ipv4.tcp_tw_reuse_delay: this kernel (6.1.", "(Linux 6.14 added it)", "as with 1000", "LD2"):
    if expected not in check.stdout:
        sys.exit(f"vm_cl2: sysctl-check's output lacks {expected!r}")
with open(check_report) as f:
    findings = json.load(f)
assert findings, "sysctl-check wrote an empty report on the host"
print("vm_cl2: sysctl-check in the 6.1 guest named the missing key and ran LD2; its exit status 2 is tcpfault vm's")
