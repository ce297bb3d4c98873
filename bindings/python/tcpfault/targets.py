"""Where the agents tcpfault knows by name are (docs/agent-protocol.md).

``lwip`` is the agent built from agents/lwip/ and ``gvisor`` the one built from
agents/gvisor/: an environment variable names each ($TCPFAULT_LWIP_AGENT,
$TCPFAULT_GVISOR_AGENT), else it is looked for where an install put it (the package's
``installed_layout`` module, written at install time, says where: /usr/libexec/tcpfault for
the Debian package) and in the build tree that made this package.
"""

import collections
import os

import tcpfault

NamedAgent = collections.namedtuple("NamedAgent", "program source env needs")

AGENTS = {
    "lwip": NamedAgent("tcpfault-lwip-agent", "agents/lwip", "TCPFAULT_LWIP_AGENT", "liblwip-dev"),
    "gvisor": NamedAgent("tcpfault-gvisor-agent", "agents/gvisor", "TCPFAULT_GVISOR_AGENT",
                         "golang-go and golang-gvisor-gvisor-dev"),
}


def candidates(name):
    """The places the named agent is looked for, in order."""
    program = AGENTS[name].program
    package = os.path.dirname(os.path.abspath(__file__))
    places = []
    try:
        from tcpfault import installed_layout
    except ImportError:  # a build tree: only an install writes the layout
        pass
    else:
        places.append(os.path.join(package, installed_layout.LIBEXEC_DIR, program))
    places.append(os.path.join(package, "..", "..", AGENTS[name].source, program))  # <build>/python/tcpfault
    return places


def agent(name):
    """The named agent's path; tcpfault.Error saying where it was looked for when absent."""
    known = AGENTS[name]
    path = os.environ.get(known.env)
    if path:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise tcpfault.Error(f"{known.env}={path} is not an executable file (build {known.source}, or unset it)")
        return os.path.realpath(path)
    for candidate in candidates(name):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.realpath(candidate)
    looked = ", ".join(os.path.normpath(c) for c in candidates(name))
    raise tcpfault.Error(
        f"the {name} target's agent ({known.program}) is not built: looked in {looked}; build {known.source} "
        f"(cmake --build build; it needs {known.needs}) or set {known.env} to the agent's path"
    )

