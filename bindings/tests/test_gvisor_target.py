"""The gVisor agent's side of a scenario (docs/gvisor-target.md): Linux sysctls land on
netstack's own knobs or say why they cannot, its extra socket options reach netstack, and
its counters count what Linux's do."""

import socket

import pytest

import tcpfault
from tcpfault import RETRANSMISSION, SYN, targets


@pytest.fixture
def net():
    try:
        targets.agent("gvisor")
    except tcpfault.Error as e:
        pytest.skip(f"the gvisor agent is not built: {e}")
    with tcpfault.Scenario(family=4, name="gvisor-target", target="gvisor") as scenario:
        yield scenario


def test_a_sysctl_with_a_knob_is_set_on_netstack_and_read_back(net):
    net.set_sysctl("server", "net.ipv4.tcp_fin_timeout", 7)
    assert net.sysctl("server", "net.ipv4.tcp_fin_timeout") == "7"
    net.set_sysctl("server", "net.ipv4.tcp_rmem", "4096 65536 1048576")
    assert net.sysctl("server", "net.ipv4.tcp_rmem").split() == ["4096", "65536", "1048576"]
    net.set_sysctl("server", "net.ipv4.tcp_congestion_control", "reno")
    assert net.sysctl("server", "net.ipv4.tcp_congestion_control") == "reno"


def test_what_netstack_cannot_do_is_not_applicable_with_its_reason(net):
    with pytest.raises(tcpfault.NotApplicable, match="cannot change net.ipv4.tcp_timestamps: it behaves as 1"):
        net.set_sysctl("server", "net.ipv4.tcp_timestamps", 0)
    with pytest.raises(tcpfault.NotApplicable, match="cannot turn SYN cookies off"):
        net.set_sysctl("server", "net.ipv4.tcp_syncookies", 0)
    with pytest.raises(tcpfault.NotApplicable, match="has no Linux sysctl net.ipv4.tcp_max_tw_buckets"):
        net.set_sysctl("server", "net.ipv4.tcp_max_tw_buckets", 2)
    net.set_sysctl("server", "net.ipv4.tcp_syn_retries", 5)  # the value it behaves as: fine


def test_a_value_linux_refuses_is_refused_by_the_agent_too(net):
    with pytest.raises(tcpfault.Error, match="refused by the gvisor target on the server: EINVAL"):
        net.set_sysctl("server", "net.ipv4.tcp_rmem", "4096 65536")


def test_the_extra_socket_options_reach_netstack(net):
    listener = net.server.listen(8080)
    client = net.client.connect(listener)
    conn = listener.accept()
    net.expect_ok(client.connect_result)
    net.expect_ok(conn.set_option(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 4000, "TCP_USER_TIMEOUT"))
    assert conn.get_option(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT").value == 4000
    net.expect_ok(conn.set_option(socket.IPPROTO_TCP, socket.TCP_LINGER2, 9, "TCP_LINGER2"))
    assert conn.get_option(socket.IPPROTO_TCP, socket.TCP_LINGER2, "TCP_LINGER2").value == 9
    net.expect_ok(conn.set_option(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1000, "TCP_MAXSEG"))


def test_a_listen_backlog_holds_as_many_as_on_linux(net):
    """gVisor's listen(2) passes netstack backlog + 1, as Linux's accept queue holds one
    more than the backlog: with backlog 1 and nobody accepting, a second connection still
    completes (netstack given the bare backlog drops its SYN: the queue holds one)."""
    listener = net.server.listen(8080, backlog=1)
    first, second = (net.client.connect(listener, local_port=port, timeout=3) for port in (41001, 41002))
    for client in (first, second):
        net.expect_ok(client.connect_result)
    net.expect_segments(SYN, sent_by="client", not_role=RETRANSMISSION, count=2)
    net.expect_no_segment(SYN | RETRANSMISSION, sent_by="client")
