"""Where the agents tcpfault knows by name are (docs/agent-protocol.md).

``lwip`` is the agent built from agents/lwip/: $TCPFAULT_LWIP_AGENT names it, else it is
looked for next to this package (an installed tree) and in the build tree that made it.
"""

import os

import tcpfault

LWIP_AGENT_NAME = "tcpfault-lwip-agent"
LWIP_ENV = "TCPFAULT_LWIP_AGENT"


def lwip_candidates():
    """The places the lwIP agent is looked for, in order."""
    package = os.path.dirname(os.path.abspath(__file__))
    return [
        os.path.join(package, LWIP_AGENT_NAME),                                   # installed beside the package
        os.path.join(package, "..", "..", "agents", "lwip", LWIP_AGENT_NAME),     # <build>/python/tcpfault
        os.path.join(package, "..", "..", "..", "libexec", "tcpfault", LWIP_AGENT_NAME),
    ]


def lwip_agent():
    """The lwIP agent's path; tcpfault.Error saying where it was looked for when absent."""
    path = os.environ.get(LWIP_ENV)
    if path:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise tcpfault.Error(f"{LWIP_ENV}={path} is not an executable file (build agents/lwip, or unset it)")
        return os.path.realpath(path)
    for candidate in lwip_candidates():
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.realpath(candidate)
    looked = ", ".join(os.path.normpath(c) for c in lwip_candidates())
    raise tcpfault.Error(
        f"the lwip target's agent ({LWIP_AGENT_NAME}) is not built: looked in {looked}; build agents/lwip "
        f"(cmake --build build) or set {LWIP_ENV} to the agent's path"
    )
