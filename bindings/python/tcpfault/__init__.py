"""tcpfault: TCP fault injection and conformance on real kernels in network namespaces.

    import tcpfault
    from tcpfault import FINAL_ACK, FIN, RST, CLOSE_WAIT, LAST_ACK, CLOSED, TIME_WAIT

    with tcpfault.Scenario(family=4, name="final ACK lost") as net:
        server = net.server.listen(8080)
        client = net.client.connect(server)
        conn = server.accept()
        net.faults.drop(FINAL_ACK, sent_by="client", count=1)
        client.close()
        net.expect(conn).reaches(CLOSE_WAIT)
        conn.close()
        net.expect(conn).passes(CLOSE_WAIT, LAST_ACK, CLOSED, within=2)
        net.expect(client).reaches(TIME_WAIT)
        net.expect_segments(FIN, sent_by="server", count=2)
        net.expect_no_segment(flags="R")

In pytest, the plugin (``-p tcpfault.pytest_plugin``) hands each test a fresh
scenario as the ``net`` fixture.
"""

from ._tcpfault import *  # noqa: F401,F403  (the engine's classes, roles and states)
# Named again, in the "X as X" form type checkers read as a re-export (_tcpfault.pyi types them).
from ._tcpfault import (  # noqa: F401
    Error as Error,
    ExpectationFailed as ExpectationFailed,
    Family as Family,
    Host as Host,
    Match as Match,
    NotApplicable as NotApplicable,
    PacketError as PacketError,
    Roles as Roles,
    Scenario as Scenario,
    State as State,
    TargetFailure as TargetFailure,
)

CLIENT: Host = Host.CLIENT
SERVER: Host = Host.SERVER
MIDDLEBOX: Host = Host.MIDDLEBOX

# Show the public names as tcpfault.X in reprs, tracebacks and pytest reports.
for _cls in (Error, ExpectationFailed, PacketError, NotApplicable, TargetFailure):
    _cls.__module__ = "tcpfault"
del _cls
