// Installs the rules that send the middlebox's forwarded TCP to our NFQUEUE.
//
// The rules are loaded with iptables-restore / ip6tables-restore run inside the
// middlebox namespace; they live and die with that namespace. --queue-bypass lets
// traffic through when no program listens on the queue, so a dead harness never
// blackholes the topology.
#pragma once

#include <cstdint>
#include <string>

#include "netns/namespace.h"

namespace tcpfault {

// The iptables-restore text for one family (exposed for tests and for users who
// want to see what is installed).
std::string queue_rules_text(std::uint16_t queue_number);

// Runs `iptables-restore` and `ip6tables-restore` inside `ns`. Throws Error naming the
// missing program and how to install it, or quoting the tool's own error.
void install_queue_rules(const netns::Namespace& ns, std::uint16_t queue_number);

// The absolute path of a program found in PATH, or an Error saying how to get it.
std::string find_program(const std::string& name, const std::string& package);

}  // namespace tcpfault
