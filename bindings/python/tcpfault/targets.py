"""Where the agents tcpfault knows by name are (docs/agent-protocol.md).

``lwip`` is the agent built from agents/lwip/: $TCPFAULT_LWIP_AGENT names it, else it is
looked for where an install put it (the package's ``installed_layout`` module, written at
install time, says where: /usr/libexec/tcpfault for the Debian package) and in the build
tree that made this package.
"""

import os

import tcpfault

LWIP_AGENT_NAME = "tcpfault-lwip-agent"
LWIP_ENV = "TCPFAULT_LWIP_AGENT"


def lwip_candidates():
    """The places the lwIP agent is looked for, in order."""
    package = os.path.dirname(os.path.abspath(__file__))
    candidates = []
    try:
        from tcpfault import installed_layout
    except ImportError:  # a build tree: only an install writes the layout
        pass
    else:
        candidates.append(os.path.join(package, installed_layout.LIBEXEC_DIR, LWIP_AGENT_NAME))
    candidates.append(os.path.join(package, "..", "..", "agents", "lwip", LWIP_AGENT_NAME))  # <build>/python/tcpfault
    return candidates


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
