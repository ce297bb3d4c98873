"""Bad input from Python raises a clear exception: the right type, and a message that
names the bad value and says what would be right. Nothing here needs a second family,
so one IPv4 scenario per test is enough."""

import contextlib

import pytest

import tcpfault
from tcpfault import FIN, FINAL_ACK, Match


@contextlib.contextmanager
def raises_harness_error(match):
    """A tcpfault.Error that is not a failed expectation: a usage error must never be
    reported as the stack under test failing."""
    with pytest.raises(tcpfault.Error, match=match) as info:
        yield info
    assert not isinstance(info.value, tcpfault.ExpectationFailed), info.value


# ---- roles ----

def test_unknown_role_name_lists_the_known_ones(net):
    with pytest.raises(ValueError, match=r"unknown role 'FINAL_ACKK' \(known: SYN, .*FINAL_ACK"):
        net.faults.drop("FINAL_ACKK", sent_by="client")


def test_unknown_role_in_match(net):
    with pytest.raises(ValueError, match=r"role: unknown role 'NOPE'"):
        Match("NOPE", sent_by="server")
    with pytest.raises(ValueError, match=r"not_role: unknown role 'NOPE'"):
        Match(FIN, not_role="NOPE")


def test_role_of_the_wrong_type(net):
    with pytest.raises(TypeError, match=r"role must be a role such as tcpfault.FIN or 'FIN', not int"):
        Match(5)


def test_unknown_match_keyword_names_the_known_ones(net):
    with pytest.raises(TypeError, match=r"unknown match keyword 'sentby' \(known: sent_by"):
        net.faults.drop(FIN, sentby="client")


# ---- times and numbers ----

def test_negative_delay(net):
    with pytest.raises(ValueError, match=r"by must be a number of seconds >= 0, got -1"):
        net.faults.delay(FINAL_ACK, by=-1)


def test_delay_by_a_word(net):
    with pytest.raises(TypeError, match=r"by must be a number of seconds, not str"):
        net.faults.delay(FINAL_ACK, by="soon")


def test_deadline_that_is_not_a_number(net):
    with pytest.raises(ValueError, match=r"within must be a number of seconds >= 0, got nan"):
        net.expect_segments(FIN, count=1, within=float("nan"))


def test_relative_seq_out_of_range():
    with pytest.raises(ValueError, match=r"relative_seq \(from the sender's ISN\) must be in 0..4294967295, got -1"):
        Match(FIN, relative_seq=-1)
    assert str(Match(FIN, relative_seq=4294967295)) == "FIN seq 4294967295"


def test_occurrence_that_is_not_an_int(net):
    with pytest.raises(TypeError, match=r"nth must be an int, not str"):
        net.faults.drop(FIN, nth="1")


def test_occurrence_the_engine_cannot_mean(net):
    with raises_harness_error(r"occurrence must be 1 or more, got 0"):
        net.faults.drop(FIN, nth=0)


def test_payload_length_of_the_wrong_type(net):
    with pytest.raises(TypeError, match=r"payload \(a length or \(lo, hi\)\) must be an int, not str"):
        Match(payload="x")


# ---- flags ----

def test_unknown_flag_letter(net):
    with pytest.raises(ValueError, match=r"unknown TCP flag 'Q' in 'Q' \(use F S R P A/\. U E W\)"):
        net.expect_no_segment(flags="Q")


def test_flags_out_of_range(net):
    with pytest.raises(ValueError, match=r"flags must be in 0\.\.255, got 300"):
        Match(flags=300)


# ---- sockets ----

def test_send_something_that_is_not_bytes(connection):
    client, _ = connection
    with pytest.raises(TypeError, match=r"data must be bytes or str, not int"):
        client.send(123)


def test_connect_to_a_name(net):
    with pytest.raises(TypeError, match=r"connect to a Listener, a SockAddr or a port number, not str"):
        net.client.connect("nowhere")


def test_connect_to_an_endpoint(net):
    with pytest.raises(TypeError, match=r"not an Endpoint"):
        net.client.connect(net.server)


@pytest.mark.parametrize("port", [-1, 70000])
def test_port_out_of_range(net, port):
    with pytest.raises(ValueError, match=rf"connect: port must be in 0\.\.65535, got {port}"):
        net.client.connect(port)


def test_listen_on_a_word(net):
    with pytest.raises(TypeError, match=r"listen: port must be an int, not str"):
        net.server.listen("eighty")


def test_port_in_use(net):
    listener = net.server.listen(8080)
    with raises_harness_error(r"cannot listen on .*:8080 in the server namespace: the port is in use"):
        net.server.listen(8080)
    assert listener.address.port == 8080


def test_unknown_shutdown_direction(connection):
    client, _ = connection
    with pytest.raises(ValueError, match=r"unknown direction 'sideways' \(use 'SHUT_RD', 'SHUT_WR' or 'SHUT_RDWR'\)"):
        client.shutdown("sideways")


def test_send_and_recv_after_close(connection, net):
    client, _ = connection
    assert client.close().ok
    closed = r"the connection's socket is closed \(close\(\) at \+[0-9.]+ ms\)"
    with raises_harness_error(rf"send on client .*: {closed}"):
        client.send(b"late")
    with raises_harness_error(rf"recv on client .*: {closed}"):
        client.recv()
    with raises_harness_error(rf"close on client .*: {closed}"):
        client.close()
    # Still observable, as the API promises: the kernel keeps the tuple after close().
    net.expect(client).reaches(tcpfault.FIN_WAIT2)


# ---- the scenario ----

def test_faults_of_a_closed_scenario(net):
    net.close()
    assert net.closed
    with raises_harness_error(r"this scenario is closed: its endpoints and fault engine are gone"):
        _ = net.faults
    with raises_harness_error(r"this scenario is closed"):
        net.client.connect(8080)


def test_connection_of_a_closed_scenario(connection, net):
    client, conn = connection
    net.close()
    for handle in (client, conn):
        assert not handle.is_open
        with raises_harness_error(r"the connection's socket is closed \(closed when scenario bad-input ended\)"):
            handle.send(b"too late")
    assert client.tuple.remote == conn.tuple.local  # still named by their tuples


def test_unknown_family():
    with pytest.raises(ValueError, match=r"unknown address family 5 \(use 4 or 6\)"):
        tcpfault.Scenario(family=5)


def test_unknown_host_name(net):
    with pytest.raises(ValueError, match=r"host: unknown host 'router' \(use 'client', 'server' or 'middlebox'\)"):
        net.sysctl("router", "net.ipv4.tcp_fin_timeout")
    with pytest.raises(ValueError, match=r"sent_by: unknown host 'router'"):
        net.faults.drop(FIN, sent_by="router")


def test_unknown_errno_name(connection, net):
    client, _ = connection
    with pytest.raises(ValueError, match=r"unknown errno name 'ENOTANERRNO' \(use a name from the errno module"):
        net.expect_error(client.connect_result, "ENOTANERRNO")
    # errno.errorcode is an attribute of the module, but not an errno.
    with pytest.raises(ValueError, match=r"unknown errno name 'errorcode'"):
        net.expect_error(client.connect_result, "errorcode")


def test_unknown_state_name(connection, net):
    client, _ = connection
    with pytest.raises(ValueError, match=r"unknown TCP state 'TIME_WAITT' \(e.g. 'TIME_WAIT', 'FIN_WAIT1'\)"):
        net.expect(client).reaches("TIME_WAITT")
    with pytest.raises(TypeError, match=r"a TCP state must be a tcpfault.State or its name, not int"):
        net.expect(client).reaches(3)


def test_expect_about_something_that_is_not_a_connection(net):
    with pytest.raises(TypeError, match=r"expect\(\) takes a Connection or a SocketRef \(conn.peer\), not str"):
        net.expect("client")


# ---- sysctls ----

def test_removed_sysctl_is_named_as_removed(net):
    with raises_harness_error(r"sysctl net.ipv4.tcp_tw_recycle: removed in Linux 4.12 .*drop the setting"):
        net.set_sysctl("client", "net.ipv4.tcp_tw_recycle", 1)


def test_unknown_sysctl(net):
    with raises_harness_error(r"unknown sysctl net.ipv4.tcp_bogus: no such key in this kernel"):
        net.set_sysctl("server", "net.ipv4.tcp_bogus", 1)


def test_malformed_sysctl_key(net):
    with raises_harness_error(r"malformed sysctl key 'net..ipv4': empty component"):
        net.set_sysctl("client", "net..ipv4", 1)


def test_sysctl_value_the_kernel_refuses(net):
    with raises_harness_error(r"tcp_fin_timeout = 'abc' refused by the kernel in namespace client"):
        net.set_sysctl("client", "net.ipv4.tcp_fin_timeout", "abc")


def test_sysctl_outside_the_network_namespace(net):
    with raises_harness_error(r"sysctl fs.file-max is not under net\."):
        net.set_sysctl("client", "fs.file-max", 1)


def test_sysctl_conf_names_the_line(net):
    with raises_harness_error(r"line 2: sysctl net.ipv4.tcp_tw_recycle: removed"):
        net.apply_sysctl_conf("client", "net.ipv4.tcp_fin_timeout = 5\nnet.ipv4.tcp_tw_recycle = 1\n")


def test_unknown_counter(net):
    with raises_harness_error(r"no MIB counter TcpExt.Bogus in the client namespace"):
        net.counter_delta("client", "TcpExt.Bogus")


# ---- transfers, random faults, payload rewrites, the queue ----

def test_transfer_between_ends_of_different_connections(connection, net):
    client, conn = connection
    other = net.client.connect(8080)
    with raises_harness_error(r"transfer: the sender and the receiver must be the two ends of one connection"):
        net.transfer(other, conn, 1000)


def test_transfer_in_the_same_direction(connection, net):
    client, _ = connection
    with raises_harness_error(r"two ends of one connection"):
        net.transfer(client, client, 1000)


def test_transfer_of_a_negative_size(connection, net):
    client, conn = connection
    with pytest.raises(ValueError, match=r"nbytes"):
        net.transfer(client, conn, -1)


def test_transfer_without_time(connection, net):
    client, conn = connection
    with pytest.raises(ValueError, match=r"timeout must be positive"):
        net.transfer(client, conn, 10, timeout=0)


@pytest.mark.parametrize("stall, message", [
    (0, r"stall_timeout must be positive \(or None for none\), got 0"),
    (-5, r"stall_timeout must be a number of seconds >= 0, got -5"),
])
def test_transfer_with_a_stall_timeout_that_is_not_positive(connection, net, stall, message):
    client, conn = connection
    with pytest.raises(ValueError, match=message):
        net.transfer(client, conn, 10, stall_timeout=stall)


def test_transfer_on_a_closed_connection(connection, net):
    client, conn = connection
    client.close()
    with raises_harness_error(r"transfer on client .* the connection's socket is closed"):
        net.transfer(client, conn, 10)


def test_random_probabilities_that_add_up_to_more_than_one(net):
    with raises_harness_error(r"add up to 1.2.*must add up to 1 or less"):
        net.faults.random(drop=0.6, delay=0.6, seed=1)


def test_random_probability_out_of_range(net):
    with raises_harness_error(r"the drop probability must be between 0 and 1, got -0.1"):
        net.faults.random(drop=-0.1, seed=1)


def test_random_needs_a_seed(net):
    with pytest.raises(TypeError, match=r"seed"):
        net.faults.random(drop=0.1)


def test_payload_rewrite_of_the_wrong_shape(net):
    with pytest.raises(TypeError, match=r"xor_payload takes \(offset, bytes\)"):
        net.faults.modify("DATA", xor_payload=b"\xff")
    with pytest.raises(ValueError, match=r"write_payload or xor_payload, not both"):
        net.faults.modify("DATA", xor_payload=(1, b"\xff"), write_payload=(1, b"\x00"))


def test_rules_without_a_queue():
    with tcpfault.Scenario(family=4, name="no-queue", intercept=False) as plain:
        with raises_harness_error(r"forwards without NFQUEUE \(intercept=false\)"):
            plain.faults.drop(FIN)


def test_queue_of_no_length():
    with pytest.raises(ValueError, match=r"queue_max_len"):
        tcpfault.Scenario(family=4, name="no-room", queue_max_len=0)


# ---- SYN floods ----

def test_flood_count_and_rate_are_bounded(net):
    listener = net.server.listen(8080)
    with raises_harness_error(r"flood count must be 1 to 10000 SYNs, not 0"):
        net.flood_syns(listener, count=0, rate=100)
    with raises_harness_error(r"flood count must be 1 to 10000 SYNs, not 1000000"):
        net.flood_syns(listener, count=1_000_000, rate=1000)
    with raises_harness_error(r"flood rate must be more than 0 and at most 2000/s SYNs per second, not 1e\+06/s"):
        net.flood_syns(listener, count=10, rate=1e6)
    with raises_harness_error(r"flood rate must be more than 0 .* not inf/s"):
        net.flood_syns(listener, count=10, rate=float("inf"))
    with raises_harness_error(r"would last 100.0 s; at most 30 s: raise the rate or lower the count"):
        net.flood_syns(listener, count=1000, rate=10)
    assert net.faults.stats.flood_syns_sent == 0


def test_flood_arguments_of_the_wrong_type(net):
    with pytest.raises(TypeError, match=r"rate must be a number of SYNs per second, not str"):
        net.flood_syns(8080, count=10, rate="fast")
    with pytest.raises(TypeError, match=r"count must be an int, not float"):
        net.flood_syns(8080, count=10.5, rate=100)
    with pytest.raises(TypeError, match=r"flood_syns targets a Listener, a SockAddr or a port on the server, not str"):
        net.flood_syns("server", count=10, rate=100)
    with pytest.raises(TypeError, match=r"sources must be how many \(an int\) or a list of unused client-subnet"):
        net.flood_syns(8080, count=10, rate=100, sources="198.18.1.101")


def test_flood_sources_must_be_unused_client_addresses(net):
    client_address = net.client.at(1).address
    with raises_harness_error(rf"flood source {client_address} is not an unused address of the client subnet; "
                              r"use \S+ \.\. \S+ \(or give the number of sources\)"):
        net.flood_syns(8080, count=10, rate=100, sources=[client_address])
    server_address = net.server.at(1).address
    with raises_harness_error(rf"flood source {server_address} is not an unused address"):
        net.flood_syns(8080, count=10, rate=100, sources=[server_address])
    with pytest.raises(ValueError, match=r"flood source 'nowhere' is not an IP address"):
        net.flood_syns(8080, count=10, rate=100, sources=["nowhere"])
    with pytest.raises(ValueError, match=r"sources must be in 1\.\.153, got 500"):
        net.flood_syns(8080, count=10, rate=100, sources=500)


def test_flood_goes_to_the_server(net):
    with raises_harness_error(r"a flood goes to a port on the server's address .* not to .*:8080 "
                              r"\(its replies must pass the middlebox\)"):
        net.flood_syns(net.client.at(8080), count=10, rate=100)


def test_flood_of_a_closed_scenario(net):
    flood = net.flood_syns(8080, count=5, rate=1000, sources=1)
    flood.wait()
    net.close()
    with raises_harness_error(r"this scenario is closed"):
        flood.sent


# ---- rewrite_isn ----

def test_rewrite_isn_needs_syns(net):
    with raises_harness_error(r"rewrite_isn acts on the SYN or SYN-ACK that opens a direction"):
        net.faults.rewrite_isn(FIN, first=1)
    with pytest.raises(ValueError, match=r"first must be in 0\.\.4294967295, got -1"):
        net.faults.rewrite_isn("SYN", first=-1)
