"""Which conformance cases can show what a sysctl does (for `tcpfault sysctl-check`).

COVERAGE maps a key to the cases whose behaviour it can change, each with the reason
(the kernel path the key governs in that case). A case may set the key itself (its
sysctl marker or a call): the check then holds the key at the baseline's and at the
proposal's value instead (the case asserts what its own value does, so a proposal may
make it fail: that is the finding), and reports the pin as overridden.

NOT_SHOWN explains keys that no case can show, and why: the check says so rather than
invent a behaviour. Any other key is reported as covered by no case.
"""

COVERAGE = {
    "net.ipv4.tcp_tw_reuse": {
        "TW2": "a reconnect from a port whose 4-tuple is in TIME_WAIT",
        "TW3": "a connect() when every local port is held by TIME_WAIT",
        "TW5": "a connection that takes over its own TIME_WAIT 4-tuple, then an old RST",
        "TW6": "taking over a TIME_WAIT 4-tuple whose final ACK was lost",
    },
    "net.ipv4.tcp_tw_reuse_delay": {
        "TW2": "how long TIME_WAIT holds a 4-tuple against a reconnect",
        "TW3": "when a TIME_WAIT port may be reused",
        "TW5": "when the client may take over its TIME_WAIT 4-tuple",
        "TW6": "when the client may take over its TIME_WAIT 4-tuple",
    },
    "net.ipv4.tcp_timestamps": {
        "TW2": "timestamps are the condition for taking over a TIME_WAIT 4-tuple",
        "TW3": "reuse of a TIME_WAIT port needs timestamps",
        "TW5": "PAWS drops the old data segment by its timestamp",
        "TW6": "reuse of the 4-tuple needs timestamps",
        "TW7": "the server's TIME_WAIT accepts a SYN with a newer timestamp",
        "SEC2": "a reused 4-tuple's ISNs are timed by the SYNs' timestamps",
    },
    "net.ipv4.tcp_fin_timeout": {
        "CL6": "how long an orphaned FIN_WAIT2 socket lives",
        "CL7": "a half-closed (not orphaned) FIN_WAIT2 must outlive it",
        "TW1": "TIME_WAIT must not be shortened by it",
    },
    "net.ipv4.tcp_max_tw_buckets": {
        "CL1": "the active closer's TIME_WAIT socket",
        "CL2": "TIME_WAIT answers the retransmitted FIN",
        "CL4": "the active closer ends in TIME_WAIT",
        "CL5": "both ends end in TIME_WAIT",
        "TW1": "TIME_WAIT lasts 60 s",
        "TW2": "TIME_WAIT holds the 4-tuple",
        "TW3": "TIME_WAIT sockets hold the local ports",
        "TW4": "the number of TIME_WAIT sockets kept",
        "TW5": "the TIME_WAIT socket the client takes over",
        "TW6": "the TIME_WAIT socket the client takes over",
        "TW7": "the server's TIME_WAIT socket",
    },
    "net.ipv4.tcp_syncookies": {
        "HS1": "whether the server keeps a request socket in SYN_RECV",
        "HS2": "whether the server retransmits its SYN-ACK (a cookie keeps no state)",
        "HS4": "SYN-ACK retransmissions of a request socket",
        "HS7": "the request socket an RST removes",
        "LD1": "what a SYN flood does to a real client",
        "LD2": "SYNs and final ACKs that meet full queues",
    },
    "net.ipv4.tcp_max_syn_backlog": {
        "LD1": "without syncookies, the request queue may hold no more than 3/4 of it",
    },
    "net.ipv4.tcp_synack_retries": {
        "HS2": "the SYN-ACK retransmission that opens the connection",
        "HS4": "how often and how long a request socket retransmits its SYN-ACK",
        "LD1": "how long the flood's request sockets occupy the queue",
        "LD2": "how long a request whose final ACK overflowed the accept queue lives",
    },
    "net.ipv4.tcp_syn_retries": {
        "HS2": "the client's SYN retransmission",
        "HS3": "how many SYNs, and when connect() gives up",
        "LD1": "whether the real client is still trying when the flood's requests expire",
        "LD2": "the SYN retransmissions of a client whose SYN met a full accept queue",
        "TW6": "the SYN retransmission that opens the reused connection",
    },
    "net.ipv4.tcp_syn_linear_timeouts": {
        "HS3": "the SYN retransmission schedule",
        "LD1": "when the real client's SYNs go out during the flood",
    },
    "net.core.somaxconn": {
        "LD1": "the listener's backlog is min(backlog, somaxconn)",
        "LD2": "the accept queue's length is min(backlog, somaxconn)",
    },
    "net.ipv4.tcp_abort_on_overflow": {
        "LD2": "what the server does with a final ACK that meets a full accept queue",
    },
    "net.ipv4.ip_local_port_range": {
        "TW3": "how many local ports TIME_WAIT can exhaust",
        "TW4": "three connections in a row from ephemeral ports",
        "TW5": "the client's local port",
        "TW6": "the client's local port",
        "SEC2": "24 successive connections, each from the next ephemeral port",
    },
    "net.ipv4.tcp_orphan_retries": {
        "CL3": "the orphaned closer retransmits its lost FIN",
        "CL10": "how often an orphan retransmits its FIN before it gives up",
    },
    "net.ipv4.tcp_retries2": {
        "TM2": "how long the client retransmits to a peer that is gone",
    },
    "net.ipv4.tcp_rto_min_us": {
        "TM1": "the retransmission timeout",
        "TM2": "the retransmission timeout",
        "CL10": "the orphan's retransmission timeout",
    },
    "net.ipv4.tcp_early_retrans": {
        "TM1": "a tail loss probe before the first timeout",
        "DT1": "loss recovery of a flight",
    },
    "net.ipv4.tcp_sack": {
        "DT1": "SACK blocks on the duplicate ACKs",
        "DT4": "D-SACK blocks for duplicates",
    },
    "net.ipv4.tcp_dsack": {
        "DT4": "D-SACK blocks for duplicates",
    },
    "net.ipv4.tcp_rmem": {
        "DT2": "the receive buffer that the zero window comes from",
    },
}

# Keys that a case governs with its own socket options, so the sysctl is never consulted.
_KEEPALIVE = ("TM3 sets TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT on its socket, which take "
              "precedence; the sysctl only governs sockets that turn SO_KEEPALIVE on without them, "
              "after tcp_keepalive_time of silence (hours by default), which no case waits for")
NOT_SHOWN = {
    "net.ipv4.tcp_keepalive_time": _KEEPALIVE,
    "net.ipv4.tcp_keepalive_intvl": _KEEPALIVE,
    "net.ipv4.tcp_keepalive_probes": _KEEPALIVE,
}


def cases_for(key):
    """{case id: why} for a key (empty when no case can show it)."""
    return COVERAGE.get(key, {})


def keys():
    return sorted(COVERAGE)
