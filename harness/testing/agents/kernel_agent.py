#!/usr/bin/python3
"""An agent whose stack is the Linux kernel of its own namespace: the harness's test of
the whole agent path (docs/agent-protocol.md) while no other stack is at hand.

    kernel_agent.py [--state-events] [--sysctls KEY,KEY...]

It makes a TAP device of its own (named like the veth end it replaces: s0 or c0) in the
empty namespace it is started in, gives it the addresses hello names, and relays
Ethernet frames between that TAP and the harness's (fd 4). Requests are served by real
sockets, one thread per request. With --state-events it reports state changes, read
from /proc/net/tcp{,6} every few milliseconds (a state held for less than that is missed,
so its events can skip one); without, the harness infers the states from the wire.
With --sysctls it declares those Linux sysctls in hello, settable: set_sysctl and
get_sysctl write and read them in its own namespace's /proc/sys, so a case's sysctls
reach this kernel the way they reach any stack's knobs (docs/agent-protocol.md).
"""

import argparse
import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
          7: "CLOSED", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}
POLL_S = 0.002


def log(text):
    print(f"kernel agent: {text}", file=sys.stderr, flush=True)


def run(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def write_sysctl(key, value):
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write(str(value))


def read_sysctl(key):
    with open("/proc/sys/" + key.replace(".", "/")) as f:
        return f.read().rstrip("\n")


def addr_text(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def proc_address(text, family):
    """'0100007F:1F90' (little-endian words) -> '127.0.0.1:8080' as the protocol writes it."""
    hexaddr, hexport = text.split(":")
    raw = bytes.fromhex(hexaddr)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return addr_text(socket.inet_ntop(family, words), int(hexport, 16))


def kernel_sockets():
    """[(local, remote, state)] of every connection in this namespace (no listeners)."""
    out = []
    for path, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        with open(path) as f:
            next(f)
            for line in f:
                fields = line.split()
                state = STATES.get(int(fields[3], 16))
                if state and state != "LISTEN":
                    out.append((proc_address(fields[1], family), proc_address(fields[2], family), state))
    return out


class Agent:
    def __init__(self, state_events, sysctls):
        self.sysctls = sysctls
        self.control = socket.socket(fileno=int(os.environ["TCPFAULT_AGENT_FD"]))
        self.harness_tap = int(os.environ["TCPFAULT_TAP_FD"])
        self.state_events = state_events
        self.write_lock = threading.Lock()
        self.handles, self.next_handle, self.handles_lock = {}, 1, threading.Lock()
        self.tap = None

    # ---- the wire ----
    def send(self, message):
        with self.write_lock:
            self.control.sendall(json.dumps(message).encode() + b"\n")

    def bring_up(self, hello):
        name = "s0" if hello["side"] == "server" else "c0"
        for key in ("net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"):
            write_sysctl(key, 0)
        self.tap = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(self.tap, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI))
        run("ip", "link", "set", "lo", "up")
        run("ip", "link", "set", name, "mtu", str(hello["mtu"]), "up")
        v4, v6 = hello["ipv4"], hello["ipv6"]
        run("ip", "addr", "add", f"{v4['address']}/{v4['prefix']}", "dev", name)
        run("ip", "-6", "addr", "add", f"{v6['address']}/{v6['prefix']}", "dev", name, "nodad")
        run("ip", "route", "add", "default", "via", v4["gateway"], "dev", name)
        run("ip", "-6", "route", "add", "default", "via", v6["gateway"], "dev", name)
        threading.Thread(target=self.relay, daemon=True).start()
        if self.state_events:
            threading.Thread(target=self.watch_states, daemon=True).start()

    def relay(self):
        while True:
            ready, _, _ = select.select([self.tap, self.harness_tap], [], [])
            for fd in ready:
                frame = os.read(fd, 65536)
                os.write(self.harness_tap if fd == self.tap else self.tap, frame)

    def watch_states(self):
        known = {}
        while True:
            now = {(local, remote): state for local, remote, state in kernel_sockets()}
            t = time.monotonic_ns()
            for key in set(known) | set(now):
                before, after = known.get(key, "CLOSED"), now.get(key, "CLOSED")
                if before != after:
                    self.send({"event": "state", "t_ns": t, "local": key[0], "remote": key[1],
                               "from": before, "to": after})
            known = now
            time.sleep(POLL_S)

    # ---- requests ----
    def handle(self, obj):
        with self.handles_lock:
            h = self.next_handle
            self.next_handle += 1
            self.handles[h] = obj
        return h

    def get(self, request, key):
        obj = self.handles.get(request.get(key))
        if obj is None:
            raise LookupError(f"no {key} {request.get(key)}")
        return obj

    @staticmethod
    def wait(sock, readable, timeout_ms):
        r, w, _ = select.select([sock] if readable else [], [] if readable else [sock], [], timeout_ms / 1000)
        return bool(r or w)

    def serve(self, request):
        rid, cmd = request["id"], request["cmd"]
        try:
            reply = getattr(self, "cmd_" + cmd)(request)
        except AttributeError:
            reply = {"error": "unknown_command", "message": cmd}
        except LookupError as e:
            reply = {"error": "bad_handle", "message": str(e)}
        except OSError as e:
            reply = {"ok": False, "errno": errno_name(e.errno), "message": e.strerror or str(e)}
        reply["id"] = rid
        if "ok" not in reply and "error" not in reply:
            reply["ok"] = True
        self.send(reply)
        if cmd == "bye":
            os._exit(0)

    def cmd_hello(self, r):
        self.bring_up(r)
        features = ["linger", "keepalive", "nodelay", "sndbuf", "rcvbuf"]
        reply = {"version": 1, "agent": f"kernel agent ({os.uname().release})",
                 "features": features + (["state_events"] if self.state_events else [])}
        if self.sysctls:
            reply["sysctls"] = {key: {"value": read_sysctl(key), "fixed": False,
                                      "means": "/proc/sys of the agent's own namespace"} for key in self.sysctls}
        return reply

    def cmd_set_sysctl(self, r):
        if r["key"] not in self.sysctls:
            return {"error": "unsupported", "message": f"set_sysctl: {r['key']} is not declared"}
        write_sysctl(r["key"], r["value"])  # a refused value is the kernel's OSError: its errno
        return {}

    def cmd_get_sysctl(self, r):
        if r["key"] not in self.sysctls:
            return {"error": "unsupported", "message": f"get_sysctl: {r['key']} is not declared"}
        return {"value": read_sysctl(r["key"])}

    def cmd_listen(self, r):
        family = socket.AF_INET6 if ":" in r["address"] else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((r["address"], r["port"]))
        s.listen(r["backlog"])
        s.setblocking(False)
        return {"listener": self.handle(s)}

    def cmd_accept(self, r):
        listener = self.get(r, "listener")
        if not self.wait(listener, True, r["timeout_ms"]):
            return {"ok": False, "errno": "EAGAIN", "message": "no connection"}
        conn, _ = listener.accept()
        conn.setblocking(False)
        return {"conn": self.handle(conn), "local": addr_text(*conn.getsockname()[:2]),
                "remote": addr_text(*conn.getpeername()[:2])}

    def cmd_connect(self, r):
        family = socket.AF_INET6 if ":" in r["address"] else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        if r.get("reuse_addr"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if r.get("local_port") is not None:
            s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", r["local_port"]))
        err = s.connect_ex((r["address"], r["port"]))
        local = addr_text(*s.getsockname()[:2])
        if err == 115 and not self.wait(s, False, r["timeout_ms"]):  # EINPROGRESS
            return {"ok": False, "errno": "EINPROGRESS", "local": local, "conn": self.handle(s)}
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if err in (0, 115) else err
        if err:
            s.close()
            return {"ok": False, "errno": errno_name(err), "message": os.strerror(err), "local": local}
        return {"conn": self.handle(s), "local": local, "remote": addr_text(*s.getpeername()[:2])}

    def cmd_send(self, r):
        s = self.get(r, "conn")
        if not self.wait(s, False, r["timeout_ms"]):
            return {"ok": False, "errno": "EAGAIN", "message": "no room"}
        return {"sent": s.send(bytes.fromhex(r["data"]), socket.MSG_NOSIGNAL)}

    def cmd_recv(self, r):
        s = self.get(r, "conn")
        if not self.wait(s, True, r["timeout_ms"]):
            return {"ok": False, "errno": "EAGAIN", "message": "no data"}
        data = s.recv(r["max"])
        return {"data": data.hex(), "eof": not data}

    def cmd_shutdown(self, r):
        how = {"rd": socket.SHUT_RD, "wr": socket.SHUT_WR, "rdwr": socket.SHUT_RDWR}[r["how"]]
        self.get(r, "conn").shutdown(how)
        return {}

    def cmd_close(self, r):
        key = "conn" if "conn" in r else "listener"
        self.get(r, key).close()
        with self.handles_lock:
            del self.handles[r[key]]
        return {}

    def cmd_setsockopt(self, r):
        s, option, v = self.get(r, "conn"), r["option"], r["value"]
        if option == "linger":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", int(v["on"]), v["seconds"]))
        elif option == "keepalive":
            # true/false: on or off alone (the sysctls then time it); an object: on, with its settings.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0 if v is False or v is None else 1)
            for field, name in (("idle_s", socket.TCP_KEEPIDLE), ("interval_s", socket.TCP_KEEPINTVL),
                                ("count", socket.TCP_KEEPCNT)):
                if isinstance(v, dict) and field in v:
                    s.setsockopt(socket.IPPROTO_TCP, name, v[field])
        elif option == "nodelay":
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(v))
        elif option in ("sndbuf", "rcvbuf"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF if option == "sndbuf" else socket.SO_RCVBUF, v)
        else:
            return {"error": "unsupported", "message": f"setsockopt: no option '{option}'"}
        return {}

    def cmd_getsockopt(self, r):
        s, option = self.get(r, "conn"), r["option"]
        if option == "keepalive":
            if not s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE):
                return {"value": None}
            return {"value": {"idle_s": s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                              "interval_s": s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                              "count": s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)}}
        if option == "nodelay":
            return {"value": bool(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))}
        if option in ("sndbuf", "rcvbuf"):
            return {"value": s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF if option == "sndbuf" else socket.SO_RCVBUF)}
        return {"error": "unsupported", "message": f"getsockopt: no option '{option}'"}

    def cmd_sockets(self, r):
        return {"sockets": [{"local": l, "remote": rm, "state": st} for l, rm, st in kernel_sockets()]}

    def cmd_bye(self, r):
        return {}

    def run(self):
        log("started")
        for line in self.control.makefile("rb"):
            request = json.loads(line)
            if request["cmd"] == "hello":
                self.serve(request)  # before anything else: the stack must be up
            else:
                threading.Thread(target=self.serve, args=(request,), daemon=True).start()
        log("control socket closed: exiting")


def errno_name(number):
    import errno
    return errno.errorcode.get(number, "EIO")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-events", action="store_true")
    parser.add_argument("--sysctls", default="", help="comma-separated dotted keys to declare, settable")
    args = parser.parse_args()
    Agent(args.state_events, [k for k in args.sysctls.split(",") if k]).run()
