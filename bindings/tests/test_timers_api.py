"""The timers API from Python (bindings/bind_timers.cpp): schedules from numbers and from a
scenario, and bad input to them, expect_schedule and destroy_silently answered with a clear
error that is never a failed expectation. One IPv4 scenario per test is enough."""

import contextlib

import pytest

import tcpfault
from tcpfault import CLOSE_WAIT, CLOSED, DATA, SYN, SYN_ACK, TIME_WAIT, Schedule
from tcpfault.casekit import close_after_acking_fin


@contextlib.contextmanager
def raises_harness_error(match):
    with pytest.raises(tcpfault.Error, match=match) as info:
        yield info
    assert not isinstance(info.value, tcpfault.ExpectationFailed), info.value


# ---- schedules from numbers ----

def test_schedules_from_numbers():
    s = Schedule.synack(2)
    assert s.times == [0.0, 1.0, 3.0] and s.gives_up == 7.0 and s.give_up_label == "request dropped"
    assert s.labels == ["SYN-ACK", "retransmission 1", "retransmission 2"]
    assert str(s) == "SYN-ACK at 0 ms, retransmission 1 at 1000 ms, retransmission 2 at 3000 ms, request dropped at 7000 ms"
    probe = Schedule.retransmission(0.204, retries=2, probe_timeout=0.204)
    assert probe.labels[1] == "tail loss probe" and probe.times[-1] == pytest.approx(1.632)
    assert Schedule.window_probes(0.2, retries2=3).gives_up == pytest.approx(3.0)


def test_schedule_numbers_are_checked():
    with pytest.raises(ValueError, match=r"rto must be a number of seconds > 0, got 0"):
        Schedule.retransmission(0, retries=3)
    with pytest.raises(TypeError, match=r"idle must be a number of seconds, not str"):
        Schedule.keepalive("1", 1, 3)
    with pytest.raises(ValueError, match=r"retries must be .*1.*got 0"):
        Schedule.syn(0)
    with pytest.raises(ValueError, match=r"first\(n\) must be"):
        Schedule.syn(2).first(0)
    with raises_harness_error(r"first\(4\) of a schedule with 3 steps"):
        Schedule.syn(2).first(4)


# ---- schedules from a scenario ----

def test_schedules_follow_the_namespace(net, connection):
    client, _ = connection
    net.set_sysctl("client", "net.ipv4.tcp_syn_retries", 1)
    net.set_sysctl("client", "net.ipv4.tcp_syn_linear_timeouts", 0)
    assert net.syn_schedule("client").times == [0.0, 1.0]
    net.set_sysctl("client", "net.ipv4.tcp_retries2", 3)
    info = net.tcp_info(client)
    assert 200 <= info.rto_ms < 1000 and info.backoff == 0 and info.unacked == 0
    schedule = net.retransmission_schedule(client)
    assert "tcp_retries2 3" in schedule.description and schedule.give_up_label == "ETIMEDOUT"
    assert net.retransmission_schedule(client, orphan=True).give_up_label == "socket gone"


def test_keepalive_schedule_needs_keepalive_on(net, connection):
    client, _ = connection
    with raises_harness_error(r"SO_KEEPALIVE is off on this socket \(turn it on with set_keepalive first\)"):
        net.keepalive_schedule(client)


def test_retransmission_schedule_needs_a_live_socket(net, connection):
    client, conn = connection
    client.set_linger(True, 0)
    client.close()
    net.expect(conn).reaches(CLOSED)
    with raises_harness_error(r"no socket .* in the kernel \(it is closed\)"):
        net.retransmission_schedule(conn)
    assert net.tcp_info(conn) is None


# ---- expect_schedule ----

def test_gives_up_is_checked(net, connection):
    client, _ = connection
    with pytest.raises(TypeError, match=r"gives_up must be \(connection, errno\)"):
        net.expect_schedule(DATA, Schedule.syn(2), gives_up="ETIMEDOUT")
    with pytest.raises(ValueError, match=r"'EWHATEVER' is neither an errno name .* nor a TCP state"):
        net.expect_schedule(DATA, Schedule.syn(2), gives_up=(client, "EWHATEVER"))
    with raises_harness_error(r"gives_up was given but the schedule .* never gives up"):
        net.expect_schedule(SYN, Schedule.syn(2).first(2), gives_up=(client, "ETIMEDOUT"))
    with raises_harness_error(r"since= needs a schedule timed from an earlier event"):
        net.expect_schedule(SYN, Schedule.syn(2), since=SYN_ACK)


def test_a_schedule_not_followed_fails_with_both_sides(net, connection):
    with pytest.raises(tcpfault.ExpectationFailed) as failure:
        net.expect_schedule(DATA, Schedule.synack(1), sent_by="client", gives_up=("client", "ETIMEDOUT"), within=0)
    message = str(failure.value)
    assert "expected: 2 x DATA from client, then request dropped (a call on client fails with ETIMEDOUT)" in message
    assert "seen:     0 x DATA from client, no request dropped; off: SYN-ACK (missing), retransmission 1 " in message
    assert "ladder of timers-api" in message


# ---- destroy_silently ----

def test_destroy_silently_refuses_what_sends_no_rst(net, connection):
    client, conn = connection
    client.close()
    net.expect(conn).reaches(CLOSE_WAIT)
    close_after_acking_fin(net, conn)
    net.expect(client).reaches(TIME_WAIT)
    with raises_harness_error(r"the socket is TIME_WAIT \(a timewait minisocket\), for which the kernel sends "
                              r"no RST when it is destroyed: there is nothing to lose"):
        net.destroy_silently(client)
    net.expect(conn).reaches(CLOSED)
    with raises_harness_error(r"destroy_silently\(server .*\): the kernel has no such socket"):
        net.destroy_silently(conn)
    with pytest.raises(TypeError, match=r"conn must be a Connection or a SocketRef"):
        net.destroy_silently("server")
