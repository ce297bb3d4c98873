#!/usr/bin/python3
"""A fake agent for the harness's own tests: it speaks the agent protocol
(docs/agent-protocol.md) without a TCP stack, and breaks on purpose in one way.

    fake_agent.py MODE [COMMAND] [--features a,b] [--sysctls JSON] [--counters JSON] [--token T]

MODE: ok (behaves), crash (exits 3 on COMMAND), hang (never answers COMMAND), silent
(never answers hello), garbage (answers COMMAND with a line that is not JSON),
unknown-id (answers COMMAND with an id nobody asked for), no-ok (answers COMMAND with
neither ok nor error), version (speaks only version 2), no-bye (does not exit on bye).
--sysctls is hello's "sysctls" as given (garbage too); set_sysctl of a declared settable
key takes a value of decimal fields and refuses anything else with EINVAL, as /proc/sys
does, but answers "unsupported" for a value its entry lists under "lacks" (a behaviour
the stack has not); get_sysctl answers the value; an undeclared or fixed key is
"unsupported".
--counters maps each Linux counter name to the values successive `counters` requests
return (the last one repeats); hello declares those names. Anything but such an object
goes into hello's "counters" as given (garbage).
--token is ignored: it marks the process so that a test can look for it afterwards.
"""

import argparse
import json
import os
import sys
import time


def log(text):
    print(f"fake agent: {text}", file=sys.stderr, flush=True)


class Agent:
    def __init__(self, mode, command, features, sysctls, counters=None):
        self.mode, self.command, self.features, self.sysctls = mode, command, features, sysctls
        self.counters, self.counter_reads = counters, 0
        self.control = os.fdopen(int(os.environ["TCPFAULT_AGENT_FD"]), "r+b", buffering=0)
        self.handles = 0

    def send(self, message):
        self.control.write(json.dumps(message).encode() + b"\n")

    def breaks_on(self, cmd):
        return self.command == cmd

    def run(self):
        log(f"started, mode {self.mode}, netns {os.readlink('/proc/self/ns/net')}")
        for line in self.control:
            request = json.loads(line)
            rid, cmd = request["id"], request["cmd"]
            if self.mode == "silent" or (self.mode == "hang" and self.breaks_on(cmd)):
                log(f"ignoring {cmd} (id {rid})")
                continue
            if self.mode == "crash" and self.breaks_on(cmd):
                log(f"crashing on {cmd}")
                sys.exit(3)
            if self.mode == "garbage" and self.breaks_on(cmd):
                log(f"answering {cmd} with garbage")
                self.control.write(b"this is not json\n")
                continue
            if self.mode == "unknown-id" and self.breaks_on(cmd):
                self.send({"id": rid + 1000, "ok": True})
                continue
            if self.mode == "no-ok" and self.breaks_on(cmd):
                self.send({"id": rid, "listener": 1})
                continue
            self.answer(rid, cmd, request)

    def answer(self, rid, cmd, request):
        if cmd == "hello":
            os.environ["FAKE_AGENT_ADDRESS"] = request["ipv4"]["address"]
            if self.mode == "version":
                self.send({"id": rid, "error": "version", "message": "only version 2", "versions": [2]})
                return
            reply = {"id": rid, "ok": True, "version": 1, "agent": f"fake agent ({self.mode})",
                     "features": self.features}
            if self.sysctls is not None:
                reply["sysctls"] = self.sysctls
            if self.counters is not None:
                reply["counters"] = ({name: "a made-up count" for name in self.counters}
                                     if self.counts_given() else self.counters)
            self.send(reply)
        elif cmd == "counters" and self.counts_given():
            n = self.counter_reads
            self.counter_reads += 1
            self.send({"id": rid, "ok": True,
                       "counters": {name: values[min(n, len(values) - 1)] for name, values in self.counters.items()}})
        elif cmd in ("set_sysctl", "get_sysctl"):
            self.answer_sysctl(rid, cmd, request)
        elif cmd in ("listen",):
            self.handles += 1
            self.send({"id": rid, "ok": True, "listener": self.handles})
        elif cmd in ("accept", "recv", "send"):
            # No stack: nothing ever arrives and nothing can be sent. A blocking call
            # honours its timeout_ms as the protocol asks.
            time.sleep(request.get("timeout_ms", 0) / 1000)
            self.send({"id": rid, "ok": False, "errno": "EAGAIN", "message": "timed out"})
        elif cmd == "connect":
            # No stack, no SYN: a made-up connection, enough for calls that never reach the wire.
            self.handles += 1
            own = os.environ.get("FAKE_AGENT_ADDRESS", "198.18.1.1")
            self.send({"id": rid, "ok": True, "conn": self.handles, "local": f"{own}:49152",
                       "remote": f"{request['address']}:{request['port']}"})
        elif cmd == "setsockopt" and request.get("option") not in self.features:
            self.send({"id": rid, "error": "unsupported", "message": f"setsockopt: no option '{request.get('option')}'"})
        elif cmd == "sockets":
            self.send({"id": rid, "ok": True, "sockets": []})
        elif cmd == "bye":
            self.send({"id": rid, "ok": True})
            if self.mode == "no-bye":
                log("staying after bye")
                time.sleep(3600)
            sys.exit(0)
        else:
            self.send({"id": rid, "ok": True})


    def counts_given(self):
        return isinstance(self.counters, dict) and all(isinstance(v, list) and v for v in self.counters.values())

    def answer_sysctl(self, rid, cmd, request):
        key = request.get("key")
        declared = self.sysctls.get(key) if isinstance(self.sysctls, dict) else None
        if not isinstance(declared, dict) or (cmd == "set_sysctl" and declared.get("fixed")):
            self.send({"id": rid, "error": "unsupported", "message": f"{cmd}: no settable knob for {key}"})
            return
        if cmd == "get_sysctl":
            self.send({"id": rid, "ok": True, "value": declared["value"]})
            return
        value = request.get("value")
        log(f"set_sysctl {key} = {value!r}")
        if value in declared.get("lacks", []):
            self.send({"id": rid, "error": "unsupported", "message": f"this stack cannot behave as {key} = {value}"})
            return
        if not isinstance(value, str) or not value.split() or not all(f.isdigit() for f in value.split()):
            self.send({"id": rid, "ok": False, "errno": "EINVAL", "message": f"{key} takes whole numbers, not {value!r}"})
            return
        declared["value"] = value
        self.send({"id": rid, "ok": True})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode")
    parser.add_argument("command", nargs="?")
    parser.add_argument("--features", default="")
    parser.add_argument("--sysctls", type=json.loads, default=None)
    parser.add_argument("--counters", type=json.loads, default=None)
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    Agent(args.mode, args.command, [f for f in args.features.split(",") if f], args.sysctls, args.counters).run()
    log("control socket closed: exiting")


if __name__ == "__main__":
    main()
