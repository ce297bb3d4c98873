// Synthetic middlebox traces for the tests of the wire-inferred states and of their
// comparison with the kernel's: one row per segment with its fate, classified by the
// real role tracker, seen 1 ms after the previous row (later with wait()).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness/roles/roles.h"
#include "harness/trace/trace.h"
#include "harness/testing/scripted_connection.h"
#include "harness/wire/wire_states.h"

namespace tcpfault {
namespace {

using St = TcpState;

// Builds a trace: seq relative to the sender's ISN, ack to the receiver's.
class Script {
 public:
  // The server's ISN wraps past 2^32.
  explicit Script(Family family = Family::V4) : conn_(family, 1000, 4294967000u) {}

  // A packet of this connection, as `from` would send it.
  Packet packet(Side from, std::string_view flags, std::uint32_t seq, std::uint32_t ack, std::size_t len = 0,
                std::uint16_t win = 502) const {
    return conn_.packet(from, flags, seq, ack, len, win);
  }

  // fate: "passed", "dropped by rule #1", "held by rule #1" (never let go) ...
  // released_ms: for a held segment, when it was let go (ms after it was seen).
  std::uint64_t add(Side from, std::string_view flags, std::uint32_t seq, std::uint32_t ack,
                    std::size_t len = 0, std::string fate = "passed", std::int64_t released_ms = 0,
                    std::uint16_t win = 502) {
    return add_packet(from, packet(from, flags, seq, ack, len, win), std::move(fate), released_ms);
  }

  // A segment the middlebox crafts toward `to`, as an injection rule would.
  std::uint64_t inject(Side to, std::string_view flags, std::uint32_t seq, std::uint32_t ack) {
    const Packet p = packet(to == C ? S : C, flags, seq, ack);
    SegmentEvent e;
    e.t_ns = now();
    e.id = segments.size() + 1;
    e.from = Host::Middlebox;
    e.to = to == C ? Host::Client : Host::Server;
    e.classified = tracker_.classify(p, /*injected=*/true);
    e.packet = p;
    e.fate = "injected: crafted by rule #1";
    segments.push_back(e);
    return e.id;
  }

  void handshake() {
    add(C, "S", 0, 0);
    add(S, "S.", 0, 1);
    add(C, ".", 1, 1);
  }

  // The next rows come `n` ms later than they would (a timer's wait).
  void wait(int n) { offset_ms_ += n; }
  // A new connection on the same 4-tuple: the ends' next ISNs.
  void new_isns(std::uint32_t client, std::uint32_t server) { conn_.isn[C] = client, conn_.isn[S] = server; }

  std::int64_t ms(int n) const { return n * 1'000'000LL; }
  // When the next row will be seen.
  std::int64_t now() const { return ms(static_cast<int>(segments.size()) + 1 + offset_ms_); }
  InferredConnection infer() {
    auto all = infer_wire_states(segments);
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? InferredConnection{} : all.front();
  }
  SockAddr addr(Side s) const { return s == C ? conn_.client : conn_.server; }

  std::vector<SegmentEvent> segments;

 private:
  std::uint64_t add_packet(Side from, const Packet& p, std::string fate, std::int64_t released_ms) {
    SegmentEvent e;
    e.t_ns = now();
    e.id = segments.size() + 1;
    e.from = from == C ? Host::Client : Host::Server;
    e.to = from == C ? Host::Server : Host::Client;
    e.classified = tracker_.classify(p);
    e.packet = p;
    e.fate = std::move(fate);
    if (released_ms) e.released_ns = e.t_ns + ms(static_cast<int>(released_ms));
    segments.push_back(e);
    return e.id;
  }

  RoleTracker tracker_;
  ScriptedConnection conn_;
  int offset_ms_ = 0;
};

inline std::string names(const std::vector<St>& states) {
  std::string out;
  for (auto s : states) out += (out.empty() ? "" : " ") + to_string(s);
  return out;
}
#define EXPECT_STATES(end, ...) EXPECT_EQ(names((end).states()), names(std::vector<St>{__VA_ARGS__})) << describe(c)

}  // namespace
}  // namespace tcpfault
