// When a transfer gives up: at its deadline, or earlier once nothing moved for its
// stall timeout.
//
// A transfer under heavy loss can be slow and still correct: TCP's retransmission
// timer backs off (200 ms, 400 ms, 800 ms ...) while lost segments and lost ACKs
// repeat, so its length has a long tail. A stall timeout tells a hung transfer from a
// slow one: it ends the transfer only when nothing made progress for that long (no
// byte sent or received; the transfer also counts a segment the middlebox lost,
// transfer.h), and the deadline stays a bound on the whole.
#pragma once

#include <atomic>
#include <chrono>

namespace tcpfault {

class TransferClock {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Expiry { None, Deadline, Stalled };

  // `stall` zero or less: no stall timeout, only the deadline.
  TransferClock(Clock::time_point start, Clock::duration timeout, Clock::duration stall);

  // A byte was sent or received at `now` (either side, from its own thread).
  void progress(Clock::time_point now);
  // Until when a side may wait for its stream before looking again.
  Clock::time_point wait_until() const;
  // What has run out at `now`; the deadline first when both have.
  Expiry expired(Clock::time_point now) const;
  Clock::duration stall() const { return stall_; }

 private:
  Clock::time_point deadline_;
  Clock::duration stall_;
  std::atomic<Clock::rep> last_progress_;  // Clock ticks since the epoch
};

}  // namespace tcpfault
