"""tcpfault: TCP fault injection and conformance, on real kernels in network namespaces.

Type stubs of the compiled module. bindings/tests/test_stubs.py checks them against
the module itself: keep them in step with bindings/*.cpp.
"""

from typing import Any, ClassVar, Iterable

# What the arguments accept, as the bindings convert them (bindings/conversions.h).
_Seconds = float  # int or float, >= 0
_HostLike = Host | Endpoint | str  # Host.CLIENT, "client", "server", "middlebox", or an endpoint
_RolesLike = Roles | str | Iterable[Roles | str]  # FIN | RETRANSMISSION, "FIN|RETRANSMISSION", [FIN, RST]
_MatchLike = Match | _RolesLike | None  # None: any segment
_Flags = str | int  # tcpdump letters "S", "S.", "R.", "FA" (A and . both mean ACK), or the bits
_Payload = int | tuple[int, int]  # exactly n bytes, or (lo, hi)
_StateLike = State | str  # TIME_WAIT or "TIME_WAIT"
_ConnectionLike = Connection | SocketRef  # a connection, or conn.peer
_Bytes = bytes | bytearray | str  # str is sent as UTF-8
# How a stack gives up: (connection or host, errno name or number) - a call on that host
# fails with it - or (connection, state) - the socket reaches it (CLOSED: it is gone).
_GiveUp = tuple[_ConnectionLike | _HostLike, str | int | State]

# ---- exceptions ----

class Error(RuntimeError):
    """Any error of the harness (bad setup, closed scenario, failed namespace call)."""

class PacketError(Error):
    """A packet could not be parsed or built."""

class ExpectationFailed(AssertionError, Error):
    """An expectation was not met: says what was expected, what was seen, and shows the ladder."""

class NotApplicable(Error):
    """The target cannot do what was asked on that side ("server: the lwip target has no Linux
    sysctls (net.ipv4.tcp_fin_timeout)"); the pytest plugin skips the test with this reason."""

class TargetFailure(Error):
    """The agent running the target broke (crashed, hung, sent garbage): neither a pass nor a fail.
    Says which and quotes the agent's stderr; every later call of the scenario raises the same."""

# ---- plain values ----

class Family:
    """Address family of a scenario."""

    V4: ClassVar[Family]
    V6: ClassVar[Family]
    __members__: ClassVar[dict[str, Family]]
    def __init__(self, value: int) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __index__(self) -> int: ...
    def __int__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

class Host:
    """A host of the topology."""

    CLIENT: ClassVar[Host]
    MIDDLEBOX: ClassVar[Host]
    SERVER: ClassVar[Host]
    __members__: ClassVar[dict[str, Host]]
    def __init__(self, value: int) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __index__(self) -> int: ...
    def __int__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

class State:
    """TCP states, numbered as Linux numbers them."""

    ESTABLISHED: ClassVar[State]
    SYN_SENT: ClassVar[State]
    SYN_RECV: ClassVar[State]
    FIN_WAIT1: ClassVar[State]
    FIN_WAIT2: ClassVar[State]
    TIME_WAIT: ClassVar[State]
    CLOSED: ClassVar[State]
    CLOSE_WAIT: ClassVar[State]
    LAST_ACK: ClassVar[State]
    LISTEN: ClassVar[State]
    CLOSING: ClassVar[State]
    NEW_SYN_RECV: ClassVar[State]
    __members__: ClassVar[dict[str, State]]
    def __init__(self, value: int) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __index__(self) -> int: ...
    def __int__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

ESTABLISHED: State
SYN_SENT: State
SYN_RECV: State
FIN_WAIT1: State
FIN_WAIT2: State
TIME_WAIT: State
CLOSED: State
CLOSE_WAIT: State
LAST_ACK: State
LISTEN: State
CLOSING: State
NEW_SYN_RECV: State

class Roles:
    """Roles a segment plays, combinable with |: tcpfault.FIN | tcpfault.RETRANSMISSION."""

    def __init__(self, roles: _RolesLike) -> None: ...
    def __or__(self, other: _RolesLike) -> Roles: ...
    def __ror__(self, other: _RolesLike) -> Roles: ...
    def __contains__(self, roles: _RolesLike) -> bool:
        """Every role of `roles` is in this set: FIN in segment.roles."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __int__(self) -> int: ...

SYN: Roles
"""SYN without ACK."""
SYN_ACK: Roles
"""SYN with ACK."""
HANDSHAKE_ACK: Roles
"""The opener's ACK of the SYN-ACK (may carry data)."""
DATA: Roles
"""Carries payload (not a keepalive or window probe)."""
PURE_ACK: Roles
"""ACK only: no payload, no SYN, FIN or RST."""
FIN: Roles
"""Carries FIN."""
ACK_OF_FIN: Roles
"""Acknowledges the first FIN, sent by its receiver."""
FINAL_ACK: Roles
"""Acknowledges the second FIN, sent by the active closer."""
RST: Roles
"""Carries RST."""
KEEPALIVE: Roles
"""seq = snd_nxt - 1 with at most one byte, from an idle end (everything it sent acknowledged)."""
WINDOW_PROBE: Roles
"""Probe of a zero window."""
RETRANSMISSION: Roles
"""Its sender's stack repeats sequence space (or a special ACK) already sent."""
COPY: Roles
"""Sent by the middlebox, repeating a segment: a duplicate's copy (with its original's roles) or a
crafted segment over what its end already sent."""

class SockAddr:
    """An address and a port: one end of a connection."""

    def __init__(self, address: str, port: int) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    @property
    def address(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def family(self) -> Family: ...

class FourTuple:
    """A connection as seen from one end: local and remote."""

    def __eq__(self, other: object) -> bool: ...
    @property
    def local(self) -> SockAddr: ...
    @property
    def remote(self) -> SockAddr: ...

class SocketRef:
    """One end of a connection: which host, which 4-tuple."""

    @property
    def host(self) -> Host: ...
    @property
    def tuple(self) -> FourTuple: ...

class CallResult:
    """The result of one socket call: `value` >= 0 and errno 0, or an errno. True when it succeeded."""

    def __bool__(self) -> bool: ...
    @property
    def call(self) -> str:
        """The call as the trace shows it: "recv(65536)"."""
    @property
    def value(self) -> int: ...
    @property
    def errno(self) -> int: ...
    @property
    def errno_name(self) -> str:
        """"ECONNRESET", or "" when the call succeeded."""
    @property
    def deadline_passed(self) -> bool:
        """The harness stopped waiting."""
    @property
    def ok(self) -> bool: ...

class Match:
    """Which segments a rule or an expectation is about; unset fields mean "don't care".

    Match(FIN, sent_by='server'), Match(flags='R'), Match(DATA, payload=(1, 100)).
    """

    def __init__(
        self,
        role: _MatchLike = None,
        *,
        sent_by: _HostLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
    ) -> None:
        """`role`: every one of these roles; `any_role`: at least one; `not_role`: none of them.
        sent_by='middlebox' selects the segments the harness crafted (copies, injections).
        relative_seq=101: its sequence number relative to its sender's ISN, as the ladder prints it
        (the SYN's is 0). nth=3: only the third segment of the timeline that matches the rest
        (expectations and trace queries; a fault rule takes its own nth=)."""

# ---- endpoints ----

class RecvResult(CallResult):
    """A recv call's result and the bytes it read."""

    @property
    def data(self) -> bytes: ...

class TcpInfo:
    """The kernel's TCP_INFO of one socket at one moment (times in microseconds, or ms in *_ms)."""

    @property
    def state(self) -> int: ...
    @property
    def ca_state(self) -> int:
        """0 open, 1 disorder, 2 CWR, 3 recovery, 4 loss."""
    @property
    def retransmits(self) -> int:
        """Consecutive timeouts of the current RTO."""
    @property
    def probes(self) -> int:
        """Unanswered zero-window or keepalive probes."""
    @property
    def backoff(self) -> int:
        """Exponential backoff of the RTO or probe timer."""
    @property
    def sack(self) -> bool:
        """SACK was negotiated."""
    @property
    def timestamps(self) -> bool:
        """Timestamps were negotiated."""
    @property
    def snd_wscale(self) -> int: ...
    @property
    def rcv_wscale(self) -> int: ...
    @property
    def rto_us(self) -> int: ...
    @property
    def ato_us(self) -> int: ...
    @property
    def rto_ms(self) -> float: ...
    @property
    def rtt_ms(self) -> float:
        """Smoothed RTT."""
    @property
    def rttvar_ms(self) -> float: ...
    @property
    def ato_ms(self) -> float: ...
    @property
    def snd_mss(self) -> int: ...
    @property
    def rcv_mss(self) -> int: ...
    @property
    def unacked(self) -> int:
        """Segments sent and not yet acknowledged."""
    @property
    def sacked(self) -> int: ...
    @property
    def lost(self) -> int: ...
    @property
    def retrans(self) -> int: ...
    @property
    def rtt_us(self) -> int: ...
    @property
    def rttvar_us(self) -> int: ...
    @property
    def min_rtt_us(self) -> int: ...
    @property
    def snd_ssthresh(self) -> int: ...
    @property
    def snd_cwnd(self) -> int: ...
    @property
    def rcv_space(self) -> int: ...
    @property
    def total_retrans(self) -> int: ...
    @property
    def snd_wnd(self) -> int:
        """The peer's last advertised window, scaled, in bytes."""
    @property
    def bytes_acked(self) -> int: ...
    @property
    def bytes_received(self) -> int: ...
    @property
    def segs_out(self) -> int: ...
    @property
    def segs_in(self) -> int: ...
    @property
    def reordering(self) -> int:
        """The duplicate threshold the sender uses now."""
    @property
    def dsack_dups(self) -> int:
        """Duplicate segments the peer reported with D-SACK."""
    @property
    def reord_seen(self) -> int: ...
    @property
    def rcv_ooopack(self) -> int:
        """Segments received out of order."""

class Connection:
    """One end of a TCP connection. It is its 4-tuple first: it can be observed after close()."""

    @property
    def host(self) -> Host: ...
    @property
    def tuple(self) -> FourTuple: ...
    @property
    def local(self) -> SockAddr: ...
    @property
    def remote(self) -> SockAddr: ...
    @property
    def ref(self) -> SocketRef: ...
    @property
    def peer(self) -> SocketRef:
        """The other end of the same connection."""
    @property
    def is_open(self) -> bool:
        """Whether the file descriptor is still held."""
    @property
    def state(self) -> State:
        """The stack's state for this 4-tuple now (CLOSED when it holds nothing): the kernel's
        socket table, or an agent's own view."""
    @property
    def connect_result(self) -> CallResult:
        """The result of connect() for a connection made by Endpoint.connect."""
    def send(self, data: _Bytes, timeout: _Seconds = 5.0) -> CallResult:
        """Sends all of `data` (waits for buffer space)."""
    def recv(self, max: int = 65536, timeout: _Seconds = 5.0) -> RecvResult:
        """One recv: up to `max` bytes; value 0 means EOF."""
    def recv_exactly(self, n: int, timeout: _Seconds = 5.0) -> RecvResult:
        """Reads until `n` bytes, EOF, an error or the deadline."""
    def shutdown(self, how: int | str = "SHUT_WR") -> CallResult:
        """shutdown(2): 'SHUT_RD', 'SHUT_WR', 'SHUT_RDWR' or the socket module's constant."""
    def close(self) -> CallResult: ...
    def set_linger(self, on: bool, seconds: int) -> CallResult:
        """SO_LINGER; (True, 0) makes close() send an RST."""
    def set_keepalive(self, idle: int, interval: int, count: int) -> CallResult:
        """SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT (seconds, seconds, probes)."""
    def set_buffers(self, send: int | None = None, recv: int | None = None) -> CallResult:
        """SO_SNDBUF and SO_RCVBUF in bytes; None leaves one as it is."""
    def set_option(self, level: int, name: int, value: int, label: str) -> CallResult:
        """setsockopt with an int value; `label` names it in the trace ("TCP_NODELAY")."""
    def get_option(self, level: int, name: int, label: str) -> CallResult:
        """getsockopt of an int option: the result's value is the option's (on an agent, one the protocol names)."""
    def tcp_info(self) -> TcpInfo:
        """The kernel's TCP_INFO for this socket now (RTO, cwnd, losses); needs the open socket."""

class Listener:
    """A listening socket."""

    @property
    def address(self) -> SockAddr: ...
    def accept(self, timeout: _Seconds = 5.0) -> Connection:
        """Waits for a connection in the accept queue; raises tcpfault.Error if none comes in time."""
    def close(self) -> CallResult: ...

class Endpoint:
    """The TCP stack on one side of the topology: the kernel's, or an agent's."""

    @property
    def host(self) -> Host: ...
    @property
    def target(self) -> str:
        """What runs this side: 'kernel', or the agent target's name ('lwip', 'agent')."""
    def at(self, port: int) -> SockAddr:
        """This side's address with `port`."""
    def peer_at(self, port: int) -> SockAddr:
        """The other side's address with `port`."""
    def listen(self, port: int | SockAddr, backlog: int = 128) -> Listener:
        """Listens on a port of this side's address (or a SockAddr)."""
    def connect(
        self,
        to: Listener | SockAddr | int,
        local_port: int | None = None,
        reuse_addr: bool = False,
        timeout: _Seconds = 5.0,
    ) -> Connection:
        """Connects to a Listener, a SockAddr or a port on the other side, and waits for the handshake.
        Never raises for a refused or failed connect: see the connection's connect_result."""

# ---- faults ----

class Rule:
    """A fault rule the engine holds."""

    @property
    def id(self) -> int: ...
    @property
    def label(self) -> str: ...
    @property
    def matched(self) -> int:
        """Segments the rule's match selected so far."""
    @property
    def applied(self) -> int:
        """Segments the action was applied to so far."""
    @property
    def log(self) -> list[FaultDecision]:
        """A random rule's fault log: what it drew for each segment it matched and did not pass, in
        order: applied, or preempted_by the rule that acted on that segment first (empty for other rules)."""
    def released(self, within: _Seconds = 3.0, *, nth: int = 1) -> Segment:
        """Waits until the nth segment (from 1) this rule kept back - a hold, a delay, a random rule's
        reorder or delay - has been let go, and returns it (its released_ms set). Raises
        ExpectationFailed when it is still held after `within` seconds (or the rule held none), and
        Error for a rule that never keeps a segment back."""

class FaultDecision:
    """What a random rule did to one segment."""

    @property
    def ordinal(self) -> int:
        """The segment's number among those the rule matched, from 1."""
    @property
    def action(self) -> str:
        """'drop', 'delay', 'duplicate' or 'reorder'."""
    @property
    def summary(self) -> str:
        """The segment."""
    @property
    def preempted_by(self) -> int | None:
        """The id of the rule that acted on the segment first (this draw was then not applied), or None."""
    @property
    def t_ms(self) -> float: ...

class FaultStats:
    """What the fault engine has handled so far."""

    @property
    def segments(self) -> int: ...
    @property
    def unparsed(self) -> int: ...
    @property
    def held_now(self) -> int: ...
    @property
    def released_at_end(self) -> int:
        """Held segments let through when the engine stopped."""
    @property
    def queue_dropped(self) -> int:
        """Packets the kernel dropped because the queue was full: losses no rule asked for."""
    @property
    def user_dropped(self) -> int:
        """Packets the kernel could not hand to the harness: losses no rule asked for."""
    @property
    def overruns(self) -> int: ...
    @property
    def verdict_errors(self) -> int: ...
    @property
    def intercepting(self) -> bool: ...
    @property
    def undecided_drops(self) -> int: ...
    @property
    def loop_cpu(self) -> float:
        """CPU seconds the verdict loop used so far."""
    @property
    def flood_syns_sent(self) -> int: ...
    @property
    def flood_replies_dropped(self) -> int: ...

class Faults:
    """The middlebox's fault engine.

    Every rule takes a match (a Match, a role, or None for any segment) refined by match
    keywords (sent_by, flags, without_flags, any_role, not_role, payload, port, relative_seq),
    and the occurrence keywords nth (first occurrence it acts on, from 1) and count (how many
    times; default: every time).
    """

    def drop(
        self,
        match: _MatchLike = None,
        *,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
        count: int | None = None,
    ) -> Rule:
        """Lose matching segments in the network."""
    def delay(
        self,
        match: _MatchLike = None,
        *,
        by: _Seconds,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
        count: int | None = None,
    ) -> Rule:
        """Let matching segments go `by` seconds later."""
    def hold(
        self,
        match: _MatchLike = None,
        *,
        after: int | None = None,
        until: _MatchLike = None,
        max: _Seconds = 10.0,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
        count: int | None = None,
    ) -> Rule:
        """Hold matching segments until `after` later segments of the same sender passed, or until a
        segment matching `until` is seen; never longer than `max` seconds."""
    def duplicate(
        self,
        match: _MatchLike = None,
        *,
        copies: int = 1,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
        count: int | None = None,
    ) -> Rule:
        """Let matching segments pass, then send `copies` copies (sent by the middlebox)."""
    def modify(
        self,
        match: _MatchLike = None,
        *,
        window: int | None = None,
        set_flags: _Flags | None = None,
        clear_flags: _Flags | None = None,
        seq_offset: int = 0,
        ack_offset: int = 0,
        strip_options: bool = False,
        write_payload: tuple[int, bytes] | None = None,
        xor_payload: tuple[int, bytes] | None = None,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
        count: int | None = None,
    ) -> Rule:
        """Rewrite fields (checksums are fixed). write_payload=(offset, bytes) overwrites payload bytes from
        offset; xor_payload=(offset, bytes) XORs them in (b'\\xff' changes a byte whatever it was)."""
    def random(
        self,
        match: _MatchLike = None,
        *,
        drop: float = 0.0,
        delay: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        seed: int,
        delay_by: _Seconds = 0.02,
        reorder_after: int = 2,
        reorder_max: _Seconds = 0.2,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
        count: int | None = None,
    ) -> Rule:
        """Seeded chance faults: each matching segment is dropped, delayed (delay_by seconds), duplicated or
        reordered (held until reorder_after later segments of its sender passed, at most reorder_max
        seconds) with these probabilities, or passed. The draw for the nth matched segment depends only
        on (seed, n): the same seed gives the same schedule. rule.log lists what it did."""
    def inject_on(
        self,
        match: _MatchLike = None,
        *,
        toward: _HostLike,
        flags: _Flags = "R",
        seq: int | str = "rcv_nxt",
        seq_offset: int = 0,
        ack_offset: int = 0,
        window: int | None = None,
        tsval_offset: int | None = None,
        payload: bytes | str = b"",
        drop_trigger: bool = False,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        without_flags: _Flags | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
        count: int | None = None,
    ) -> Rule:
        """When a matching segment passes, send a crafted one in its connection (instead of it with
        drop_trigger). `flags` and `payload` describe the crafted segment, not the match."""
    def rewrite_isn(
        self,
        match: _MatchLike = None,
        *,
        first: int,
        step: int = 0,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
        count: int | None = None,
    ) -> Rule:
        """Give each connection whose SYN (or SYN-ACK) matches a chosen ISN in that direction: the k-th
        such connection (from 0) gets first + k * step (mod 2^32). Every later segment of the
        connection is translated both ways (seq, ACK, SACK blocks), so both ends stay in step."""
    def inject(
        self,
        connection: Connection,
        *,
        toward: _HostLike,
        flags: _Flags = "R",
        seq: int | str = "rcv_nxt",
        seq_offset: int = 0,
        ack_offset: int = 0,
        window: int | None = None,
        tsval_offset: int | None = None,
        payload: bytes | str = b"",
    ) -> None:
        """Send a crafted segment now, in the live connection's sequence space, as if its peer sent it.
        seq='rcv_nxt' puts it where the receiver expects the next byte."""
    def remove(self, rule: Rule) -> None: ...
    def clear(self) -> None: ...
    @property
    def stats(self) -> FaultStats: ...

# ---- the timeline ----

class Segment:
    """A segment the middlebox saw, its roles, and what the harness did to it."""

    @property
    def t_ms(self) -> float:
        """When the middlebox saw it, ms from the start."""
    @property
    def sent_by(self) -> Host: ...
    @property
    def to(self) -> Host: ...
    @property
    def roles(self) -> Roles: ...
    @property
    def flags(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def ack(self) -> int: ...
    @property
    def window(self) -> int: ...
    @property
    def payload_len(self) -> int: ...
    @property
    def tsval(self) -> int | None:
        """The timestamp option's TSval (RFC 7323), None without the option."""
    @property
    def tsecr(self) -> int | None:
        """The timestamp option's TSecr, None without the option."""
    @property
    def payload(self) -> bytes: ...
    @property
    def connection(self) -> int:
        """Which connection, counted from 1 in this scenario (0: none tracked)."""
    @property
    def fate(self) -> str:
        """What the harness did: 'passed', 'dropped by rule #1' ..."""
    @property
    def rule(self) -> str:
        """The label of the rule that acted on it, '' if none."""
    @property
    def queued_ms(self) -> float | None:
        """When the middlebox's kernel received it (the queue's timestamp), None if unknown; t_ms is when the verdict loop read it."""
    @property
    def arrived_ms(self) -> float:
        """queued_ms where known, else t_ms: the time to measure the sender's timers by."""
    @property
    def released_ms(self) -> float | None: ...
    @property
    def bytes(self) -> bytes: ...
    @property
    def sack_blocks(self) -> list[tuple[int, int]]:
        """SACK blocks (RFC 2018) as [left, right) pairs of absolute sequence numbers."""
    @property
    def dsack(self) -> bool:
        """The first SACK block reports a duplicate (D-SACK, RFC 2883)."""
    @property
    def timestamp(self) -> tuple[int, int] | None:
        """(TSval, TSecr) of the timestamps option (RFC 7323), or None."""
    @property
    def mss(self) -> int | None: ...
    @property
    def wscale(self) -> int | None: ...
    @property
    def sack_permitted(self) -> bool: ...

class Transition:
    """One state change of one socket."""

    @property
    def t_ms(self) -> float: ...
    @property
    def host(self) -> Host: ...
    @property
    def local(self) -> SockAddr: ...
    @property
    def remote(self) -> SockAddr: ...
    @property
    def old(self) -> State: ...
    @property
    def new(self) -> State: ...
    @property
    def source(self) -> str: ...

class Call:
    """A socket call and its result."""

    @property
    def t_ms(self) -> float: ...
    @property
    def host(self) -> Host: ...
    @property
    def call(self) -> str: ...
    @property
    def result(self) -> int: ...
    @property
    def errno(self) -> int: ...

class Trace:
    """A scenario's timeline; readable after the scenario closed."""

    @property
    def name(self) -> str: ...
    def segments(
        self,
        match: _MatchLike = None,
        *,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
    ) -> list[Segment]:
        """Segments seen so far, optionally only those matching."""
    def transitions(self, of: _ConnectionLike | None = None) -> list[Transition]:
        """State changes so far, of every socket or of one connection (the kernel's reports are
        collected first)."""
    def bulk_segments(
        self,
        match: _MatchLike = None,
        *,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
    ) -> list[Segment]:
        """Segments kept out of the timeline (a flood's SYNs, sent_by='middlebox', and the replies
        dropped for it), in time order; segments() and the expectations do not see them."""
    def calls(self) -> list[Call]: ...
    def note(self, text: str) -> None:
        """Adds a line of your own to the timeline."""
    def notes(self) -> list[str]:
        """The timeline's notes: rules added, sysctls set, failures, lines of your own."""
    def ladder(self) -> str:
        """The timeline as a text ladder diagram."""
    def json(self) -> str:
        """The timeline as JSON text."""
    def write_pcapng(self, path: str) -> None: ...
    def write(self, dir: str, stem: str | None = None) -> dict[str, str]:
        """Writes pcapng, JSON and ladder; returns their paths."""

# ---- SYN floods ----

class Flood:
    """A SYN flood from the middlebox (Scenario.flood_syns): crafted SYNs from unused
    client-subnet addresses; the server's replies are dropped at the middlebox and counted."""

    @property
    def id(self) -> int: ...
    @property
    def label(self) -> str: ...
    @property
    def sent(self) -> int:
        """SYNs sent so far."""
    @property
    def replies_dropped(self) -> int:
        """Segments toward the flood's sources dropped at the middlebox so far."""
    @property
    def syn_acks(self) -> int:
        """Of the replies: SYN-ACKs (retransmissions included)."""
    @property
    def rsts(self) -> int:
        """Of the replies: RSTs."""
    @property
    def answered(self) -> int:
        """How many distinct flood SYNs got any reply."""
    @property
    def finished(self) -> bool:
        """Whether the sender is done (all sent, stopped, or failed)."""
    @property
    def error(self) -> str | None:
        """Why the sender failed, or None."""
    def wait(self, timeout: _Seconds | None = None) -> None:
        """Waits until every SYN was sent (default limit: the flood's length + 5 s). Raises
        tcpfault.Error if it did not finish in time or the kernel refused a SYN."""
    def stop(self) -> None:
        """Stops sending; replies are still dropped."""

# ---- timers ----

class Schedule:
    """When a stack's timers send a segment again and when they give up, as Linux computes it
    (harness/timing/backoff.h). Times are seconds from the first step, or from `origin` when it
    has one. Build one from a scenario's settings (net.syn_schedule(...)) or from numbers."""

    @property
    def description(self) -> str: ...
    @property
    def times(self) -> list[float]:
        """When each step happens, in seconds."""
    @property
    def labels(self) -> list[str]: ...
    @property
    def gives_up(self) -> float | None:
        """When the stack gives up, in seconds (None: it does not)."""
    @property
    def give_up_label(self) -> str: ...
    @property
    def origin(self) -> str:
        """What time 0 is when it is not the first step ('' otherwise)."""
    @property
    def close_call(self) -> str:
        """Non-empty when timer lateness could make the stack give up one expiry earlier."""
    def first(self, n: int) -> Schedule:
        """The first n steps only, without the give-up (a connection that recovers)."""
    def __len__(self) -> int: ...
    @staticmethod
    def syn(retries: int, linear_timeouts: int = 0, initial: _Seconds = 1.0, rto_max: _Seconds = 120.0) -> Schedule:
        """The SYNs of a connect() for tcp_syn_retries and tcp_syn_linear_timeouts."""
    @staticmethod
    def synack(retries: int, initial: _Seconds = 1.0, rto_max: _Seconds = 120.0) -> Schedule:
        """The SYN-ACKs of a request socket for tcp_synack_retries."""
    @staticmethod
    def retransmission(
        rto: _Seconds, retries: int, probe_timeout: _Seconds | None = None, rto_max: _Seconds = 120.0
    ) -> Schedule:
        """A segment never acknowledged: a tail loss probe after probe_timeout (if given), then
        retransmissions by the RTO, doubling, until the tcp_retries2 (or orphan) budget is spent."""
    @staticmethod
    def keepalive(idle: _Seconds, interval: _Seconds, count: int) -> Schedule:
        """Keepalive probes, timed from the last segment from the peer, then ETIMEDOUT."""
    @staticmethod
    def window_probes(base: _Seconds, retries2: int, answered: int = 0, rto_max: _Seconds = 120.0) -> Schedule:
        """Zero-window probes, timed from the ACK that closed the window: `answered` of them, or
        with 0 unanswered until the give-up."""

# ---- the scenario ----

class StateExpectation:
    """Expectations about one socket, from Scenario.expect(conn)."""

    def reaches(self, state: _StateLike, within: _Seconds = 3.0) -> None:
        """The kernel shows the socket in `state` within `within` seconds (CLOSED: no socket)."""
    def passes(self, *args: _StateLike, within: _Seconds = 3.0) -> None:
        """The socket's transitions include these states as consecutive steps."""
    def stays(self, state: _StateLike, *, until: _MatchLike, within: _Seconds = 3.0) -> None:
        """The socket is in `state` when a segment matching `until` is seen, and leaves it only after."""

class Scenario:
    """A fresh client - middlebox - server topology in its own namespaces, with the fault
    engine on the middlebox and both ends' kernels observed. Use it as a context manager
    or call close(); the pytest plugin's `net` fixture does it for you."""

    def __init__(
        self,
        family: Family | int | str = 4,
        name: str = "scenario",
        artifacts: str | None = None,
        queue: int = 0,
        pin: bool = False,
        *,
        intercept: bool = True,
        queue_max_len: int = 8192,
        trace_payload_cap: int | None = None,
        target: str = "kernel",
        target_side: _HostLike = "server",
        failure_artifacts: str | None = None,
    ) -> None:
        """target: what runs the target side - 'kernel' (both sides, the default), 'lwip' (the agent built in
        agents/lwip) or 'agent:COMMAND' (any agent, docs/agent-protocol.md) on `target_side` ('server' or
        'client'); the other side stays the kernel's. What that side cannot do raises NotApplicable; a broken
        agent raises TargetFailure.
        intercept=False: the middlebox forwards without NFQUEUE (no faults, no segments seen).
        queue_max_len: packets the middlebox's queue holds waiting for a verdict; more are dropped by the
        kernel, counted (faults.stats) and reported. trace_payload_cap: payload bytes the trace keeps
        (default $TCPFAULT_TRACE_PAYLOAD_CAP or 16 MiB); later segments keep their headers only.
        failure_artifacts: where a failure writes the pcapng, JSON and ladder when `artifacts` is not given
        (default: the system's temporary directory's tcpfault/)."""
    def __enter__(self) -> Scenario: ...
    def __exit__(self, *args: object) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def target(self) -> str:
        """What runs the target side: 'kernel', 'lwip', 'agent'."""
    @property
    def family(self) -> Family: ...
    @property
    def closed(self) -> bool: ...
    @property
    def client(self) -> Endpoint: ...
    @property
    def server(self) -> Endpoint: ...
    @property
    def faults(self) -> Faults: ...
    @property
    def trace(self) -> Trace: ...
    @property
    def slot(self) -> int: ...
    def sysctl(self, host: _HostLike, key: str) -> str:
        """Reads a sysctl in one host's namespace."""
    def has_sysctl(self, host: _HostLike, key: str) -> bool:
        """Whether this kernel has the sysctl."""
    def sysctl_or_built_in(self, host: _HostLike, key: str) -> str:
        """A sysctl's value, or for a key later kernels added, the value this kernel behaves as."""
    def set_sysctl(self, host: _HostLike, key: str, value: object) -> None:
        """Writes a sysctl in one host's namespace. On a kernel that predates the key, its
        built-in behaviour or an older knob stands in, or NotApplicable says why not."""
    def apply_sysctl_conf(self, host: _HostLike, text: str) -> None:
        """Applies sysctl.conf text in one host's namespace."""
    def hold_sysctl(self, host: _HostLike, key: str, value: object, holder: str) -> None:
        """Writes a sysctl in one host's namespace and holds it there: a later set_sysctl of the key (or a
        sysctl.conf line) writes this value instead, and the timeline notes what was asked, e.g.
        'sysctl client net.ipv4.tcp_tw_reuse = 1 (sysctl-check: the case asked for 0)'."""
    def counters(self, host: _HostLike) -> dict[str, int]:
        """MIB counters now: {'TcpExt.TCPTimeWaitOverflow': 0, ...}."""
    def counter_delta(self, host: _HostLike, key: str) -> int:
        """How much a counter grew since the scenario began."""
    def expect(self, connection: _ConnectionLike) -> StateExpectation:
        """Expectations about one connection end: .reaches, .passes, .stays."""
    def expect_segments(
        self,
        match: _MatchLike = None,
        *,
        count: int,
        within: _Seconds = 3.0,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
    ) -> None:
        """Exactly `count` matching segments are seen (waits up to `within` seconds for them; later
        ones are not counted)."""
    def expect_no_segment(
        self,
        match: _MatchLike = None,
        *,
        during: _Seconds = 0.0,
        since: Segment | Transition | Call | None = None,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
    ) -> None:
        """No matching segment so far, nor during the next `during` seconds. since=: only segments after
        it count - a Segment from net.trace (those that came after it), a Transition or a Call (those seen
        after its time). nth= is still counted from the first segment."""
    def expect_error(self, result: CallResult, errno: int | str) -> None:
        """The call failed with this errno (int or name)."""
    def expect_ok(self, result: CallResult) -> None:
        """The call succeeded."""
    def expect_counter(self, host: _HostLike, key: str, at_least: int, at_most: int | None = None) -> None:
        """The counter grew by at least `at_least` (and at most `at_most`) since the start. It does not
        wait: first wait for a segment that follows the event."""
    def ladder(self, max_rows: int | None = None) -> str:
        """The timeline as a ladder; a longer one is cut to `max_rows` events."""
    def catch_up_states(self) -> None:
        """Returns once every state change the stacks made before the call is in the trace (the kernel's
        recorded, an agent's events up to a round trip to it). Read final states after it."""
    def close_calls(self, within: float = 0.002) -> list[dict[str, Any]]:
        """The checks whose verdict an event within `within` seconds of their look would have turned: a
        check that passed just before the segment or state change that would have failed it, or failed
        on one that came just before it looked ([{'check', 'passed', 'at', 'gap_ms', 'event', 'event_at'}]).
        Such a verdict is a race between the test's thread and the wire: another run can go the other way."""
    def expect_no_undecided_drops(self) -> None:
        """The middlebox lost no packet that no rule asked for (its queue never overflowed)."""
    def transfer(
        self,
        sender: Connection,
        receiver: Connection,
        nbytes: int,
        *,
        seed: int = 1,
        timeout: _Seconds = 30.0,
        stall_timeout: _Seconds | None = None,
        shutdown: bool = True,
    ) -> TransferReport:
        """Sends `nbytes` of the seeded pattern from `sender` to `receiver` (the two ends of one connection)
        while the receiver checks every byte; the sender then half-closes (shutdown=True) and the receiver
        reads to EOF. Waits (without the GIL) until done or `timeout` seconds, or, with `stall_timeout`,
        until no byte was sent or received for that many seconds; Ctrl-C stops it. Never raises
        for what happened on the wire: see the report, and net.expect_intact(report)."""
    def expect_intact(self, report: TransferReport) -> None:
        """Every byte of the transfer arrived, in order and unchanged, then EOF. The failure names the first
        bad offset: a wrong, missing or repeated byte, with the bytes expected and seen there."""
    def flood_syns(
        self,
        to: Listener | SockAddr | int,
        *,
        count: int,
        rate: float,
        sources: int | Iterable[str] = 16,
    ) -> Flood:
        """Floods a listener on the server with `count` SYNs at `rate` per second from unused
        client-subnet addresses (`sources`: how many, or a list); the replies are dropped at the
        middlebox. Returns a Flood; it stops by itself, and with the scenario at the latest."""
    # Timers (bindings/bind_timers.cpp).
    def syn_schedule(self, host: _HostLike = "client") -> Schedule:
        """The SYNs of a connect() from `host`, from its tcp_syn_retries and tcp_syn_linear_timeouts."""
    def synack_schedule(self, host: _HostLike = "server") -> Schedule:
        """The SYN-ACKs of a request socket on `host`, from its tcp_synack_retries."""
    def retransmission_schedule(self, conn: _ConnectionLike, *, orphan: bool | None = None) -> Schedule:
        """A segment `conn` sends next and nobody acknowledges: from its RTO and RTT now (TCP_INFO), a tail
        loss probe if it would send one, and tcp_retries2 (tcp_orphan_retries for an orphan; `orphan`
        overrides). Read it before the loss: TCP_INFO then shows the backed-off RTO."""
    def keepalive_schedule(self, conn: Connection) -> Schedule:
        """Keepalive of `conn` from its own TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT (SO_KEEPALIVE on)."""
    def window_probe_schedule(self, conn: _ConnectionLike, *, answered: int = 0) -> Schedule:
        """Zero-window probes of `conn` (base max(RTO, 200 ms), tcp_retries2): `answered` of them, or with 0
        unanswered until the give-up."""
    def tcp_info(self, conn: _ConnectionLike) -> TcpInfo | None:
        """The kernel's TCP_INFO for the socket now (None when it has no full socket)."""
    def expect_schedule(
        self,
        match: _MatchLike,
        schedule: Schedule,
        *,
        gives_up: _GiveUp | None = None,
        since: _MatchLike = None,
        within: _Seconds | None = None,
        sent_by: _HostLike | None = None,
        role: _RolesLike | None = None,
        any_role: _RolesLike | None = None,
        not_role: _RolesLike | None = None,
        flags: _Flags | None = None,
        without_flags: _Flags | None = None,
        payload: _Payload | None = None,
        port: int | None = None,
        relative_seq: int | None = None,
        nth: int | None = None,
    ) -> None:
        """The matching segments follow `schedule`: each interval within max(5 ms, 12.5 %) of the
        schedule's. gives_up=(conn, 'ETIMEDOUT') or (conn, CLOSED) checks the give-up too;
        since=Match(...) times a schedule with an origin (keepalive) from the last such segment.
        Waits for them (`within` seconds; default: the schedule's length and a second)."""
    def destroy_silently(self, conn: _ConnectionLike) -> None:
        """Destroys the socket (SOCK_DESTROY) and loses the RST its kernel sends in the middlebox, so the
        peer is not told (the peer 'rebooted'). Fails if that RST did not come or got through."""
    def wire_states(self) -> list[WireConnection]:
        """Each connection's states as the wire shows them (a reference RFC 9293 machine per end, fed by
        what the middlebox saw), for stacks that cannot be asked."""
    def compare_wire_states(self, settle: _Seconds = 0) -> WireStateComparison:
        """The wire-inferred states against the kernel's transitions so far (tracepoint, and sock_diag for
        a step the tracepoint missed or a timewait minisocket), per connection and end: each step
        agreeing or not, each disagreement with its cause. While a disagreement is unexplained, waits up
        to `settle` seconds for a segment or kernel step still on its way (right after a test's last
        call) and compares again."""
    def write_artifacts(self, dir: str | None = None) -> dict[str, str]:
        """Writes pcapng, JSON and ladder; returns their paths."""
    def close(self) -> None:
        """Tears the scenario down (idempotent)."""

# ---- checked transfers ----

class StreamMismatch:
    """Where a received stream first differs from the pattern, and how."""

    @property
    def kind(self) -> str:
        """'wrong' (same place, other value), 'missing' (the stream jumps ahead) or
        'repeated' (the stream jumps back)."""
    @property
    def offset(self) -> int:
        """The first bad offset of the received stream."""
    @property
    def count(self) -> int:
        """Wrong: bytes up to the last bad one; missing / repeated: how far the stream jumps."""
    @property
    def continues_at(self) -> int | None:
        """The sender's offset the received data goes on from, when recognised."""
    @property
    def expected(self) -> bytes: ...
    @property
    def seen(self) -> bytes: ...
    @property
    def why(self) -> str: ...

class TransferReport:
    """What a checked transfer sent, received and saw."""

    @property
    def sender(self) -> str: ...
    @property
    def receiver(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def bytes_expected(self) -> int: ...
    @property
    def bytes_sent(self) -> int: ...
    @property
    def bytes_received(self) -> int: ...
    @property
    def eof(self) -> bool:
        """The receiver read EOF."""
    @property
    def send_errno(self) -> int: ...
    @property
    def recv_errno(self) -> int: ...
    @property
    def deadline_passed(self) -> bool: ...
    @property
    def stalled(self) -> bool:
        """It ended because nothing moved for its stall_timeout."""
    @property
    def stopped(self) -> str:
        """Why it was stopped early; '' if it was not."""
    @property
    def duration(self) -> float:
        """Seconds from the start until the receiver ended."""
    @property
    def throughput(self) -> float:
        """Received MB (10^6 bytes) per second."""
    @property
    def first_bad(self) -> StreamMismatch | None:
        """The first bad byte, or None."""
    @property
    def intact(self) -> bool:
        """Every byte arrived in order and unchanged, nothing more, then EOF; no call failed."""

def pattern(seed: int, offset: int, n: int) -> bytes:
    """The n bytes a transfer with this seed sends from offset on."""

def check_stream(seed: int, expected: int, data: bytes) -> StreamMismatch | None:
    """Checks received bytes against `expected` bytes of the pattern: None, or the first StreamMismatch."""

# ---- states inferred from the wire, and their comparison with the kernel's ----

class WireStep:
    """One step of an end's state as the wire shows it."""

    @property
    def t_ms(self) -> float:
        """When the segment that shows it was seen (or let go), ms from the start."""
    @property
    def old(self) -> State: ...
    @property
    def new(self) -> State: ...
    @property
    def evidence(self) -> str:
        """'sent' (a segment the end sent) or 'received' (one delivered to it)."""
    @property
    def segment(self) -> int:
        """The trace id of the segment that shows it."""
    @property
    def reason(self) -> str: ...

class WireEnd:
    """One end of a connection as the wire shows it."""

    @property
    def end(self) -> str:
        """'opener' (sent the first SYN) or 'acceptor'."""
    @property
    def host(self) -> Host: ...
    @property
    def address(self) -> SockAddr: ...
    @property
    def seen(self) -> bool:
        """False when this end neither sent nor received anything."""
    @property
    def initial(self) -> State: ...
    @property
    def initial_reason(self) -> str: ...
    @property
    def steps(self) -> list[WireStep]: ...
    @property
    def states(self) -> list[State]:
        """The states in order, the initial one first."""
    @property
    def final_state(self) -> State: ...
    @property
    def notes(self) -> list[str]:
        """What the wire cannot tell about this end, and segments that moved nothing."""

class WireConnection:
    """Both ends of one connection, as the wire shows them."""

    @property
    def id(self) -> int:
        """The connection's number in the trace (Segment.connection)."""
    @property
    def opener(self) -> WireEnd: ...
    @property
    def acceptor(self) -> WireEnd: ...

class StepComparison:
    """One step of an end: recorded by the kernel, shown by the wire, or both."""

    @property
    def agreement(self) -> str:
        """'agree', 'kernel-only' or 'wire-only'."""
    @property
    def agrees(self) -> bool: ...
    @property
    def old(self) -> State: ...
    @property
    def new(self) -> State: ...
    @property
    def kernel_t_ms(self) -> float | None:
        """When the kernel recorded it, ms from the start (None: it did not)."""
    @property
    def kernel_source(self) -> str: ...
    @property
    def wire_t_ms(self) -> float | None:
        """When the wire shows it, ms from the start (None: it does not)."""
    @property
    def wire_segment(self) -> int: ...
    @property
    def wire_reason(self) -> str: ...
    @property
    def cause(self) -> str | None:
        """Why they disagree: 'request-socket', 'timer-gave-up' ... 'unexplained'; None when they agree."""
    @property
    def explanation(self) -> str: ...

class EndComparison:
    """One end's steps, the kernel's and the wire's, aligned."""

    @property
    def end(self) -> str: ...
    @property
    def host(self) -> Host: ...
    @property
    def local(self) -> SockAddr: ...
    @property
    def remote(self) -> SockAddr: ...
    @property
    def stack(self) -> str:
        """Whose record the wire is compared with: 'kernel', or the agent target's name
        ('gvisor'), whose state events are then its only record ('kernel-only' steps are its)."""
    @property
    def on_wire(self) -> bool:
        """False for a kernel socket that no connection on the wire matches."""
    @property
    def kernel_sockets(self) -> int:
        """How many kernel sockets the end's steps come from (0: the kernel recorded none)."""
    @property
    def steps(self) -> list[StepComparison]: ...
    @property
    def agreements(self) -> int: ...
    @property
    def disagreements(self) -> int: ...

class ConnectionComparison:
    """Both ends of one connection, compared."""

    @property
    def id(self) -> int: ...
    @property
    def opener(self) -> EndComparison: ...
    @property
    def acceptor(self) -> EndComparison: ...

class WireStateComparison:
    """The wire-inferred states against the kernel's transitions, for every connection."""

    @property
    def connections(self) -> list[ConnectionComparison]: ...
    @property
    def kernel_only_sockets(self) -> list[EndComparison]:
        """Kernel sockets that no connection on the wire matches."""
    @property
    def agreements(self) -> int: ...
    @property
    def disagreements(self) -> int: ...
    @property
    def unexplained(self) -> int:
        """Disagreements no known cause explains."""
# ---- sysctl checks (tcpfault sysctl-check) ----

class SysctlSetting:
    """One `key = value` line of sysctl.conf text."""

    @property
    def key(self) -> str:
        """Dotted: net.ipv4.tcp_fin_timeout."""
    @property
    def value(self) -> str: ...
    @property
    def ignore_errors(self) -> bool:
        """The line began with '-'."""
    @property
    def line(self) -> int: ...

class SysctlConf:
    """sysctl.conf text, read on past malformed lines."""

    @property
    def settings(self) -> list[SysctlSetting]: ...
    @property
    def errors(self) -> list[tuple[int, str]]:
        """(line, 'line N: what is wrong') for each malformed line."""

def read_sysctl_conf(text: str) -> SysctlConf:
    """Reads sysctl.conf syntax ('#'/';' comments, `key = value`, `key=value`, a leading '-'); a malformed
    line is kept in .errors and the reading goes on."""

class SysctlProbe:
    """What the running kernel makes of one sysctl setting."""

    @property
    def key(self) -> str: ...
    @property
    def verdict(self) -> str:
        """valid, malformed_key, unknown, removed, not_per_netns, other_interface, read_only or refused."""
    @property
    def value(self) -> str:
        """Valid: the value as the kernel stores it."""
    @property
    def default_value(self) -> str:
        """A fresh namespace's value ('' when it has none)."""
    @property
    def host_value(self) -> str:
        """The host's value, only read ('' when the host has none)."""
    @property
    def message(self) -> str: ...
    @property
    def accepted(self) -> list[tuple[int, int]]:
        """Refused: (lo, hi) accepted for each integer field, found by trying values."""
    @property
    def value_malformed(self) -> bool:
        """not_per_netns: the value has not the shape of the host's."""

def probe_sysctl(key: str, value: str | None = None) -> SysctlProbe:
    """Tries `value` for `key` in a scratch namespace of its own and reads the host's value (never writing
    it); without a value, examines the key only."""
