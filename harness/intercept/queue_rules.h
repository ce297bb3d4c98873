// Installs the rules that send the middlebox's forwarded TCP to our NFQUEUE.
//
// The rules go in as one nf_tables transaction over netlink from this process (no
// iptables program, no child process): for ip and for ip6, table filter, base chain
// FORWARD (hook forward, priority 0, policy accept) and one rule: TCP -> the xtables
// NFQUEUE target with --queue-bypass, exactly what iptables-nft makes of
// queue_rules_text(). They live and die with the middlebox namespace. --queue-bypass
// lets traffic through when no program listens on the queue, so a dead harness never
// blackholes the topology.
#pragma once

#include <cstdint>
#include <string>

#include "netns/namespace.h"

namespace tcpfault {

// The same rules as iptables-restore text for one family (for tests, for the shell
// reference of the setup benchmark, and for users who want to see what is installed).
std::string queue_rules_text(std::uint16_t queue_number);

// Installs the rules of both families inside `ns` in one transaction. Throws Error
// naming what the kernel refused and the kernel options the rules need.
void install_queue_rules(const netns::Namespace& ns, std::uint16_t queue_number);

}  // namespace tcpfault
