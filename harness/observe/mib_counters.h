// MIB counters of one namespace: /proc/net/snmp, netstat and snmp6 read inside it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "netns/namespace.h"

namespace tcpfault {

// Keys are "<group>.<name>": "Tcp.RetransSegs", "TcpExt.ListenOverflows",
// "TcpExt.TCPTimeWaitOverflow", "IpExt.InOctets", "IcmpMsg.OutType3".
// snmp6 has no groups, only prefixed names ("Ip6InReceives", "Icmp6InType133",
// "UdpLite6InDatagrams"); the prefix up to and including the first '6' becomes the
// group, so they read like the rest: "Ip6.InReceives", "Icmp6.InType133",
// "Udp6.InDatagrams", "UdpLite6.InDatagrams".
using Counters = std::map<std::string, std::int64_t>;

// Reads the counters on a thread inside `ns`, through /proc/thread-self/net: /proc/self/net
// follows the main thread's namespace, not the caller's. Throws Error if unreadable.
Counters read_counters(const netns::Namespace& ns);
// after - before for every key of `after` (missing in before counts from 0).
Counters counter_delta(const Counters& before, const Counters& after);

// The parsers behind read_counters, for text already read.
// "Tcp: A B\nTcp: 1 2\n" (snmp, netstat): header and value lines in pairs.
void parse_paired_lines(const std::string& text, Counters& into);
// "Ip6InReceives  123\n" (snmp6): one name and value per line.
void parse_snmp6(const std::string& text, Counters& into);

}  // namespace tcpfault
