// Which segments a fault rule or an expectation is about. Every field left unset
// means "don't care", so Match{} matches every segment.
//
// nth(n) picks the n-th segment (from 1) of the timeline that matches the rest: it is
// counted by those that read a timeline from its start (expectations, trace queries,
// through MatchCount); matches() looks at one segment and leaves it out. A fault rule
// says which occurrence it acts on with its own nth (FaultRule::nth).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "harness/packet/packet.h"
#include "harness/roles/roles.h"
#include "netns/topology.h"

namespace tcpfault {

using netns::Host;

// A segment as the middlebox saw it: who sent it, what it is, what part it plays.
struct SegmentView {
  Host from = Host::Client;  // Middlebox for segments the harness injected
  const Packet& packet;
  const Classified& classified;
  std::optional<RelativeTo> relative = std::nullopt;  // its connection's ISNs, when known
};

struct Match {
  std::optional<Host> from;      // sender
  Roles all_roles = 0;           // every one of these roles
  Roles any_role = 0;            // at least one of these roles (0: don't care)
  Roles no_role = 0;             // none of these roles
  std::uint8_t flags_set = 0;    // all of these TCP flags set
  std::uint8_t flags_clear = 0;  // none of these TCP flags set
  std::optional<std::size_t> min_payload, max_payload;
  std::optional<std::uint16_t> port;  // either end's port
  std::optional<FourTuple> connection; // its addresses and ports, in either direction
  // Its sequence number relative to its sender's ISN, as the ladder prints it (the SYN's
  // is 0): the same segment sent again, in whichever run, whatever the ISN.
  std::optional<std::uint32_t> relative_seq;
  std::optional<std::size_t> occurrence;  // only the n-th matching segment (from 1)

  // Builders, so a rule reads like the wire: Match().from(Host::Client).role(FINAL_ACK)
  Match& sent_by(Host h) { from = h; return *this; }
  Match& role(Roles r) { all_roles |= r; return *this; }
  Match& any_role_of(Roles r) { any_role |= r; return *this; }
  Match& not_role(Roles r) { no_role |= r; return *this; }
  Match& with_flags(std::uint8_t f) { flags_set |= f; return *this; }
  Match& without_flags(std::uint8_t f) { flags_clear |= f; return *this; }
  Match& payload(std::size_t exactly) { min_payload = max_payload = exactly; return *this; }
  Match& payload_between(std::size_t lo, std::size_t hi) { min_payload = lo; max_payload = hi; return *this; }
  Match& on_port(std::uint16_t p) { port = p; return *this; }
  Match& of_connection(const FourTuple& t) { connection = t; return *this; }
  Match& at_relative_seq(std::uint32_t seq) { relative_seq = seq; return *this; }
  Match& nth(std::size_t n) { occurrence = n; return *this; }

  // Every field but the occurrence (see MatchCount).
  bool matches(const SegmentView& s) const;
  // "FINAL_ACK from client", "flags R from server", "any segment", "3rd DATA from client"
  std::string describe() const;
};

// "1st", "2nd", "3rd", "11th" ...
std::string ordinal(std::size_t n);

// Which segments of a timeline a match selects, its occurrence counted: feed it the
// segments from the first one on, in arrival order.
class MatchCount {
 public:
  explicit MatchCount(const Match& m) : m_(m) {}
  // Whether `s` is selected: it matches, and is the n-th to (every one without nth).
  bool operator()(const SegmentView& s) {
    if (!m_.matches(s)) return false;
    ++matched_;
    return !m_.occurrence || matched_ == *m_.occurrence;
  }
  // Past the n-th: nothing later can be selected.
  bool done() const { return m_.occurrence && matched_ >= *m_.occurrence; }

 private:
  Match m_;
  std::size_t matched_ = 0;
};

}  // namespace tcpfault
