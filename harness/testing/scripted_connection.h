// One client-server connection written the way tcpdump prints it, for tests that feed
// synthetic segments to the role tracker or the wire-state inference: flags as letters,
// seq relative to the sender's ISN, ack relative to the receiver's.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>

#include "harness/packet/packet.h"
#include "netns/address.h"

namespace tcpfault {
namespace {

enum Side { C, S };  // the client (the opener unless a test says otherwise) and the server

inline std::uint8_t flags_of(std::string_view letters) {
  auto flags = flags_from_letters(letters);
  if (!flags) ADD_FAILURE() << "unknown flag letter in " << letters;
  return flags.value_or(0);
}

struct ScriptedConnection {
  ScriptedConnection(Family family, std::uint32_t client_isn, std::uint32_t server_isn)
      : client{Address::parse(family == Family::V4 ? "198.18.1.1" : "2001:2:0:1::1"), 40000},
        server{Address::parse(family == Family::V4 ? "198.18.2.1" : "2001:2:0:2::1"), 8080},
        isn{client_isn, server_isn} {}

  // A packet of this connection as `from` would send it; only the fields the tracker
  // and the inference read are filled in.
  Packet packet(Side from, std::string_view flags, std::uint32_t seq, std::uint32_t ack, std::size_t len,
                std::uint16_t win) const {
    const Side to = from == C ? S : C;
    Packet p;
    p.family = client.addr.family;
    p.src = (from == C ? client : server).addr;
    p.dst = (to == C ? client : server).addr;
    p.sport = (from == C ? client : server).port;
    p.dport = (to == C ? client : server).port;
    p.flags = flags_of(flags);
    p.seq = isn[from] + seq;
    p.ack = (p.flags & tcp_flag::ACK) ? isn[to] + ack : 0;
    p.window = win;
    p.payload_len = len;
    return p;
  }

  SockAddr client, server;
  std::uint32_t isn[2];
};

}  // namespace
}  // namespace tcpfault
