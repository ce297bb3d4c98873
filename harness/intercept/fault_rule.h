// A fault rule is a match and an action: "drop the FINAL_ACK from the client, once".
//
// Occurrences count the segments the match selects: a rule acts on the nth one and
// then on `times` segments in all (-1 = every one from the nth on).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "harness/intercept/random_faults.h"
#include "harness/roles/segment_match.h"

namespace tcpfault {

using std::chrono::milliseconds;

// Lose the segment in the network.
struct Drop {};

// Let the segment go after a while.
struct Delay {
  milliseconds by{0};
};

// Hold the segment back until `after_segments` later segments have passed, or until
// a segment matching `until` has been seen, whichever first; never longer than `max`.
// Used for reordering ("hold the last data segment until the FIN has passed") and for
// crossing segments ("hold each SYN until the other side's SYN is seen").
struct Hold {
  int after_segments = 0;  // 0: not a condition
  std::optional<Match> until;
  milliseconds max{10'000};
};

// Pass the segment, then send `copies` more copies of it right behind it.
struct Duplicate {
  int copies = 1;
};

// Payload bytes to overwrite, from `offset` within the segment's payload; what would
// fall past its end is not written.
struct PayloadPatch {
  std::size_t offset = 0;
  std::vector<std::uint8_t> bytes;
  bool xor_bytes = false;  // XOR them in instead: 0xff changes a byte whatever it was
};

// Rewrite fields and pass it on (checksums are fixed).
struct Modify {
  std::optional<std::uint16_t> window;
  std::uint8_t set_flags = 0;
  std::uint8_t clear_flags = 0;
  std::int64_t seq_offset = 0;
  std::int64_t ack_offset = 0;
  bool strip_options = false;
  std::optional<PayloadPatch> payload;
};

// Where a crafted segment's sequence number is anchored.
enum class SeqAnchor {
  ReceiverRcvNxt,  // what the receiver expects next, as far as the middlebox can tell (rcv_nxt.h)
  SenderSndNxt,    // what the impersonated sender would send next
  Absolute,        // `seq_offset` is the sequence number itself
};

// A segment crafted in a live connection's sequence space, sent from the middlebox
// toward `toward` as if its peer had sent it.
struct Craft {
  Host toward = Host::Server;
  std::uint8_t flags = tcp_flag::RST;
  SeqAnchor seq_anchor = SeqAnchor::ReceiverRcvNxt;
  std::int64_t seq_offset = 0;
  // ACK number: what the receiver has sent so far (its snd_nxt) plus this offset;
  // only used when flags include ACK.
  std::int64_t ack_offset = 0;
  std::optional<std::uint16_t> window;  // default: the impersonated sender's last window
  // Timestamps: the impersonated sender's last TSval plus this (negative: an old one);
  // nullopt: no timestamp option.
  std::optional<std::int64_t> tsval_offset;
  std::vector<std::uint8_t> payload;
};

// When the rule fires, send the crafted segment; the triggering segment passes
// (before the crafted one) unless `drop_trigger`.
struct Inject {
  Craft segment;
  bool drop_trigger = false;
};

// Give the connection a chosen ISN in the direction of the matching SYN (or SYN-ACK):
// the k-th connection the rule acts on (from 0) gets first + k * step. Every later
// segment of that connection is translated both ways (harness/intercept/seq_shift.h), so both
// ends stay in step. The match must select SYNs or SYN-ACKs.
struct RewriteIsn {
  std::uint32_t first = 0;
  std::uint32_t step = 0;
};


// RandomFaults (harness/intercept/random_faults.h): a drop, delay, duplicate or reorder drawn for
// each matched segment from a seed.
using Action = std::variant<Drop, Delay, Hold, Duplicate, Modify, Inject, RandomFaults, RewriteIsn>;
// The action a random rule's draw stands for (Pass: none).
std::optional<Action> concrete_action(const RandomFaults& r, RandomChoice c);

std::string describe(const Action& a);  // "drop", "delay 300 ms", "hold until ..." ...

struct FaultRule {
  Match match;
  Action action = Drop{};
  int nth = 1;     // first occurrence the rule acts on (1-based)
  int times = -1;  // how many occurrences it acts on; -1 = all from nth on
  std::string label;  // shown in traces; generated when empty

  // Builders: drop(Match().role(FINAL_ACK).sent_by(Host::Client)).once()
  FaultRule& once() { times = 1; return *this; }
  FaultRule& occurrence(int n) { nth = n; return *this; }
  FaultRule& count(int n) { times = n; return *this; }
  FaultRule& named(std::string l) { label = std::move(l); return *this; }

  std::string describe() const;  // "drop FINAL_ACK from client (1st occurrence, once)"
  // Its action keeps segments back for a while: a hold, a delay, a random rule that
  // delays or reorders.
  bool holds() const;
  // Throws Error if the rule cannot mean anything (nth < 1, times == 0 or < -1,
  // negative delay, zero copies, a hold with no condition).
  void validate() const;
};

FaultRule drop(Match m);
FaultRule delay(Match m, milliseconds by);
FaultRule hold(Match m, Hold h);
FaultRule duplicate(Match m, int copies = 1);
FaultRule modify(Match m, Modify change);
FaultRule inject_on(Match m, Inject what);
FaultRule random_faults(Match m, RandomFaults r);
FaultRule rewrite_isn(Match m, RewriteIsn isn);

}  // namespace tcpfault
