// A timeline with a segment of every fate, for the tests of its written forms: passed,
// rewritten (its payload changed, and only its numbers shifted), dropped, delayed and
// let go, still held, injected; a flood's SYN and its dropped reply; three rules.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "harness/packet/packet.h"
#include "harness/trace/trace.h"

namespace tcpfault::sample {

inline SockAddr client() { return {Address::parse("198.18.1.1"), 40000}; }
inline SockAddr server() { return {Address::parse("198.18.2.1"), 8080}; }

inline Packet segment(bool from_client, std::uint8_t flags, std::uint32_t seq, const std::string& payload = "") {
  SegmentSpec spec;
  spec.src = from_client ? client() : server();
  spec.dst = from_client ? server() : client();
  spec.seq = seq;
  spec.ack = flags & tcp_flag::ACK ? 9000u : 0u;
  spec.flags = flags;
  spec.window = 64240;
  spec.payload.assign(payload.begin(), payload.end());
  return build_packet(spec);
}

struct Timeline {
  std::unique_ptr<Trace> trace = std::make_unique<Trace>("sample/IPv4");
  // Arrival ids of the segments, by what happened to them.
  std::uint64_t syn = 0, rewritten = 0, shifted = 0, dropped = 0, delayed = 0, held = 0, injected = 0;

  std::int64_t at(double ms) const { return trace->start_ns() + static_cast<std::int64_t>(ms * 1e6); }

  std::uint64_t add(double ms, bool from_client, Packet p, std::string fate, int rule = 0,
                    std::optional<Packet> delivered = {}) {
    SegmentEvent e;
    e.rule_id = rule;
    e.t_ns = at(ms);
    e.from = from_client ? Host::Client : Host::Server;
    e.to = from_client ? Host::Server : Host::Client;
    e.classified.roles = roles_from_flags(p);
    e.classified.connection = 1;
    e.packet = std::move(p);
    e.fate = std::move(fate);
    e.delivered = std::move(delivered);
    return trace->add_segment(std::move(e));
  }
};

inline Timeline make_timeline() {
  Timeline t;
  Trace& trace = *t.trace;
  trace.rule_added(1, "modify DATA from client: payload 'HELLO'");
  trace.rule_added(2, "drop FIN from client (once)");
  trace.rule_added(3, "delay FIN from client by 300 ms");
  t.syn = t.add(1, true, segment(true, tcp_flag::SYN, 1000), "passed");
  t.add(2, false, segment(false, tcp_flag::SYN | tcp_flag::ACK, 9000), "passed");
  t.rewritten = t.add(3, true, segment(true, tcp_flag::ACK | tcp_flag::PSH, 1001, "hello"), "rewritten by rule #1", 1,
                      segment(true, tcp_flag::ACK | tcp_flag::PSH, 1001, "HELLO"));
  t.shifted = t.add(4, true, segment(true, tcp_flag::ACK | tcp_flag::PSH, 1006, "abc"), "passed, shifted (seq +1000)", 0,
                    segment(true, tcp_flag::ACK | tcp_flag::PSH, 2006, "abc"));
  trace.rule_removed(1);
  t.dropped = t.add(5, true, segment(true, tcp_flag::FIN | tcp_flag::ACK, 1009), "dropped by rule #2", 2);
  t.delayed = t.add(6, true, segment(true, tcp_flag::FIN | tcp_flag::ACK, 1009), "held by rule #3 (delay 300 ms)", 3);
  trace.set_fate(t.delayed, "delayed by rule #3, let go after 300.0 ms (its time came)", t.at(306));
  t.held = t.add(7, false, segment(false, tcp_flag::ACK, 9001), "held by rule #3", 3);
  SegmentEvent rst;
  rst.t_ns = t.at(8);
  rst.from = Host::Middlebox;
  rst.to = Host::Server;
  rst.packet = segment(true, tcp_flag::RST, 1010);
  rst.classified.roles = roles_from_flags(rst.packet);
  rst.fate = "injected: crafted by rule #4";
  t.injected = trace.add_segment(std::move(rst));
  for (bool reply : {false, true}) {
    SegmentEvent flood;
    flood.t_ns = t.at(reply ? 10 : 9);
    flood.from = reply ? Host::Server : Host::Middlebox;
    flood.to = reply ? Host::Middlebox : Host::Server;
    flood.packet = reply ? segment(false, tcp_flag::SYN | tcp_flag::ACK, 7000) : segment(true, tcp_flag::SYN, 5000);
    flood.classified.roles = roles_from_flags(flood.packet);
    flood.fate = reply ? "dropped: reply to flood #1" : "flood #1: sent";
    trace.add_bulk_segment(std::move(flood));
  }
  return t;
}

}  // namespace tcpfault::sample
