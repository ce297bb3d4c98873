#!/usr/bin/python3
"""A stand-in for qemu-system-x86_64 in test_vm.py: boots nothing. It finds the run's
control share among its -virtfs options and plays the guest there, as $FAKE_GUEST says:

  run    run the command of command.sh on the host (no mounts) and write its exit status
  die    exit without an exit status, as a guest that crashed
  hang   print "fake qemu PID" and wait for ever (for timeouts and kill -9)

$FAKE_QEMU_ARGV, when set, is a file it writes its command line to (JSON), for the tests
that check what tcpfault vm asked of QEMU.
"""
import json
import os
import re
import select
import subprocess
import sys


def control_share(argv):
    for i, word in enumerate(argv):
        if word == "-virtfs" and "mount_tag=ctl," in argv[i + 1]:
            return re.search(r"path=([^,]+)", argv[i + 1]).group(1)
    raise SystemExit("fake qemu: no control share")


def main():
    ctl = control_share(sys.argv)
    if os.environ.get("FAKE_QEMU_ARGV"):
        with open(os.environ["FAKE_QEMU_ARGV"], "w") as f:
            json.dump(sys.argv[1:], f)
    mode = os.environ.get("FAKE_GUEST", "run")
    if mode == "die":
        print("fake qemu: the guest died", flush=True)
        return 0
    if mode == "hang":
        print(f"fake qemu {os.getpid()}", flush=True)
        while True:
            select.select([], [], [])
    with open(os.path.join(ctl, "command.sh")) as f:
        line = next(line for line in f if line.startswith("env -i "))
    command = line.split(" </dev/null")[0]
    code = subprocess.run(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL, timeout=120).returncode
    with open(os.path.join(ctl, "exit-code"), "w") as f:
        f.write(f"{code}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
