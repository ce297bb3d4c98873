// Scenario's bulk transfers and the integrity expectation.
#include "harness/scenario/scenario.h"

namespace tcpfault {

std::shared_ptr<Transfer> Scenario::start_transfer(const Connection& sender, const Connection& receiver,
                                                   TransferOptions options) {
  return transfers_.start(sender, receiver, options, trace_);
}

TransferReport Scenario::transfer(const Connection& sender, const Connection& receiver, TransferOptions options) {
  return start_transfer(sender, receiver, options)->wait();
}

void Scenario::expect_intact(const TransferReport& r, std::source_location where) const {
  const ExpectationSite site(where);
  if (r.intact()) return;
  std::string expected = std::to_string(r.bytes_expected) + " bytes of the pattern (seed " + std::to_string(r.seed) +
                         ") in order" + (r.expect_eof ? ", then EOF" : "");
  std::string seen;
  if (r.first_bad) seen = r.first_bad->describe() + "; ";
  seen += "received " + std::to_string(r.bytes_received) + " of " + std::to_string(r.bytes_expected) + " bytes";
  if (r.expect_eof) seen += r.eof ? ", then EOF" : ", no EOF";
  if (r.bytes_sent != r.bytes_expected) seen += "; sent only " + std::to_string(r.bytes_sent);
  if (r.send_errno) seen += "; send failed: " + errno_name(r.send_errno);
  if (r.recv_errno) seen += "; recv failed: " + errno_name(r.recv_errno);
  if (r.deadline_passed) seen += "; the deadline passed";
  if (r.stalled) seen += "; " + r.stall_description() + " (the stall timeout)";
  if (!r.stopped.empty()) seen += "; stopped: " + r.stopped;
  expectations().fail("transfer of " + std::to_string(r.bytes_expected) + " bytes from " + r.sender + " to " +
                          r.receiver + " arrives intact",
                      expected, seen);
}

}  // namespace tcpfault
