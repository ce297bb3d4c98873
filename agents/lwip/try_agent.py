#!/usr/bin/python3
"""Runs the lwIP agent by hand: type requests, read replies and events.

    sudo unshare -n python3 agents/lwip/try_agent.py build/agents/lwip/tcpfault-lwip-agent

Inside the throwaway namespace that `unshare -n` gives it (it dies with the command),
it creates tap0 as the kernel's side of the link (198.18.2.254/24, 2001:2:0:2::fe/64,
fe80::fe), starts the agent with fd 3 = control socket and fd 4 = the TAP, sends hello
and the IPv6 router advertisement, then passes each line you type (a JSON request; the
id is added if missing) to the agent and prints everything it says. From another shell,
`nsenter --net=/proc/<pid>/ns/net` reaches the kernel side (e.g. `nc 198.18.2.1 8080`).
"""
import fcntl
import itertools
import json
import os
import socket
import struct
import subprocess
import sys
import threading

TUNSETIFF, SIOCGIFHWADDR = 0x400454CA, 0x8927
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000


def sh(*cmd):
    subprocess.run(cmd, check=True)


def router_advert(ifname):
    """One RA from tap0's link-local address (hop limit 255), as tcpfault sends it."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    ifreq = fcntl.ioctl(s.fileno(), SIOCGIFHWADDR, struct.pack("256s", ifname.encode()))
    mac = ifreq[18:24]
    message = bytes([134, 0, 0, 0, 64, 0]) + struct.pack("!H", 9000) + bytes(8) + bytes([1, 1]) + mac
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    index = socket.if_nametoindex(ifname)
    s.bind(("fe80::fe", 0, 0, index))
    s.sendto(message, ("ff02::1", 0, 0, index))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tap = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", b"tap0", IFF_TAP | IFF_NO_PI))
    with open("/proc/sys/net/ipv6/conf/tap0/addr_gen_mode", "w") as f:
        f.write("1")
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "link", "set", "tap0", "up")
    sh("ip", "addr", "add", "198.18.2.254/24", "dev", "tap0")
    sh("ip", "addr", "add", "2001:2:0:2::fe/64", "dev", "tap0", "nodad")
    sh("ip", "addr", "add", "fe80::fe/64", "dev", "tap0", "nodad")

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    # Out of the way first: the TAP or our own end may already be fd 3 or 4.
    control, tap = fcntl.fcntl(theirs.fileno(), fcntl.F_DUPFD, 10), fcntl.fcntl(tap, fcntl.F_DUPFD, 10)
    ours = socket.socket(fileno=fcntl.fcntl(ours.detach(), fcntl.F_DUPFD, 10))
    theirs.close()
    for low in (3, 4):
        try:
            os.close(low)
        except OSError:
            pass
    os.dup2(control, 3, inheritable=True)
    os.dup2(tap, 4, inheritable=True)
    agent = subprocess.Popen([sys.argv[1]], pass_fds=(3, 4))
    for fd in (3, 4, control):
        os.close(fd)
    print(f"agent pid {agent.pid}; kernel side: nsenter --net=/proc/{os.getpid()}/ns/net", flush=True)

    ids = itertools.count(1)
    hello_done = threading.Event()

    def reader():
        for line in ours.makefile("r"):
            print("<", line.rstrip(), flush=True)
            if '"id":1,' in line:
                hello_done.set()
        print("agent closed the control socket", flush=True)

    threading.Thread(target=reader, daemon=True).start()

    def send(request):
        request.setdefault("id", next(ids))
        ours.sendall((json.dumps(request) + "\n").encode())

    send({"cmd": "hello", "version": 1, "side": "server",
          "ipv4": {"address": "198.18.2.1", "prefix": 24, "gateway": "198.18.2.254"},
          "ipv6": {"address": "2001:2:0:2::1", "prefix": 64, "gateway": "fe80::fe"}, "mtu": 1500})
    hello_done.wait(5)
    router_advert("tap0")
    for line in sys.stdin:
        line = line.strip()
        if line:
            try:
                send(json.loads(line))
            except json.JSONDecodeError as e:
                print(f"not JSON ({e}); sending it as it is", flush=True)
                ours.sendall((line + "\n").encode())
    ours.shutdown(socket.SHUT_WR)
    agent.wait(5)
    print(f"agent exited with {agent.returncode}")


if __name__ == "__main__":
    main()
