// A bulk transfer between the two ends of a connection, checked byte by byte.
//
// The sender writes the seeded byte pattern (harness/transfer/byte_pattern.h) and, by default,
// half-closes; the receiver verifies every byte as it arrives and reads to EOF. Both
// run at once on threads of their own, in constant memory, until they are done, the
// deadline passes, nothing moved for the stall timeout (transfer_clock.h), or the
// transfer is stopped (a scenario stops its transfers when it ends). A segment the
// middlebox lost counts as movement: the sender's timer backing off after it is slow,
// not stalled; a segment that arrived and drew no answer is not. The report says what
// was sent and received, how it ended, how fast, and where the received stream first
// went wrong: a wrong, missing or repeated byte.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness/transfer/byte_pattern.h"
#include "harness/transfer/transfer_clock.h"
#include "harness/endpoints/endpoint.h"
#include "harness/trace/trace.h"
#include "netns/unique_fd.h"

namespace tcpfault {

using std::chrono::milliseconds;

struct TransferOptions {
  std::uint64_t bytes = 1 << 20;
  std::uint64_t seed = 1;
  milliseconds timeout{30'000};   // both sides give up when it passes
  milliseconds stall{0};          // when positive, they give up once no byte was sent or received, and the
                                  // middlebox lost no segment of the connection, for this long
  bool shutdown = true;           // the sender half-closes after the last byte, the receiver reads to EOF
  std::size_t chunk = 64 * 1024;  // bytes per send() and recv()
};

struct TransferReport {
  std::string sender, receiver;  // "client 198.18.1.1:40000 > 198.18.2.1:8080"
  std::uint64_t seed = 0;
  std::uint64_t bytes_expected = 0, bytes_sent = 0, bytes_received = 0;
  bool expect_eof = true;
  bool eof = false;
  int send_errno = 0, recv_errno = 0;
  bool deadline_passed = false;
  bool stalled = false;          // it ended because nothing moved (nor was lost) for `stall`
  milliseconds stall{0};
  std::string stopped;           // why it was stopped early; empty if it was not
  std::int64_t duration_ns = 0;  // from the start until the receiver ended
  std::optional<StreamMismatch> first_bad;

  double seconds() const { return double(duration_ns) / 1e9; }
  double throughput_mb_s() const;  // received bytes, 10^6 per MB
  // Every byte arrived, in order, unchanged, nothing more (then EOF), and no call failed.
  bool intact() const;
  std::string describe() const;  // one line
  std::string stall_description() const;  // "nothing moved, and the middlebox lost none ..., for 60.0 s"
};

class Transfer {
 public:
  // Starts both sides. Each side works on its connection's stream (Connection::stream):
  // a kernel end on a duplicate of its socket, so closing the Connection handle does
  // not disturb it; an agent's end in requests of at most `chunk` bytes. Call stop()
  // to end it early.
  // Throws Error unless sender and receiver are the two open ends of one connection.
  Transfer(const Connection& sender, const Connection& receiver, TransferOptions options,
           std::shared_ptr<Trace> trace);
  ~Transfer();  // stops and waits for both sides
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  // Waits until both sides ended or `limit` passed; true when they ended.
  bool wait_for(milliseconds limit);
  // Waits until both sides ended. Throws what a side's stream threw (TargetFailure: the
  // agent running one end broke), else returns the report.
  const TransferReport& wait();
  // The same, never throwing (a scenario that ends stops its transfers this way).
  const TransferReport& wait_quietly();
  void stop(const std::string& why);

 private:
  bool stopping() const;
  void note_expiry(TransferClock::Expiry expiry);  // into the report; mu_ held
  // What has run out at `now`: a stall only when the middlebox lost no segment of the
  // connection during it either.
  TransferClock::Expiry expired(Clock::time_point now);
  // Counts the segments of the connection the middlebox lost since the last look as progress.
  void note_losses_on_wire();
  void side_failed(std::exception_ptr e);  // the first failure is kept for wait()
  void send_side();
  void receive_side();
  void side_done();

  TransferOptions options_;
  std::shared_ptr<Trace> trace_;
  Host sender_host_, receiver_host_;
  FourTuple sender_tuple_;
  std::mutex wire_mu_;           // both sides look at the wire
  std::size_t wire_seen_ = 0;    // the trace's segments looked at so far
  std::unique_ptr<StreamSide> send_stream_, recv_stream_;
  UniqueFd stop_fd_;  // an eventfd: readable once stop() was called (wakes a kernel end's wait)
  std::int64_t start_ns_ = 0;
  std::optional<TransferClock> clock_;  // set before the sides start
  std::string label_;  // "transfer of 1048576 bytes (seed 1)"

  mutable std::mutex mu_;
  std::condition_variable ended_;
  int sides_running_ = 2;
  int sides_finished_ = 0;  // sides whose part of the report is in
  TransferReport report_;
  std::exception_ptr failure_;
  std::thread sender_thread_, receiver_thread_;
};

// The live transfers of one scenario, so that it can stop them when it ends.
class TransferSet {
 public:
  std::shared_ptr<Transfer> start(const Connection& sender, const Connection& receiver,
                                  TransferOptions options, std::shared_ptr<Trace> trace);
  void stop_all(const std::string& why);

 private:
  std::mutex mu_;
  std::vector<std::weak_ptr<Transfer>> live_;
};

}  // namespace tcpfault
