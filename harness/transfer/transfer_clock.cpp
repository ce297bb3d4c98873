#include "harness/transfer/transfer_clock.h"

#include <algorithm>

namespace tcpfault {

TransferClock::TransferClock(Clock::time_point start, Clock::duration timeout, Clock::duration stall)
    : deadline_(start + timeout), stall_(stall), last_progress_(start.time_since_epoch().count()) {}

void TransferClock::progress(Clock::time_point now) {
  // Two sides report: keep the later time (a side's clock reading can be older than the other's).
  auto t = now.time_since_epoch().count();
  auto seen = last_progress_.load(std::memory_order_relaxed);
  while (seen < t && !last_progress_.compare_exchange_weak(seen, t, std::memory_order_relaxed)) {
  }
}

TransferClock::Clock::time_point TransferClock::wait_until() const {
  if (stall_.count() <= 0) return deadline_;
  Clock::time_point last{Clock::duration(last_progress_.load(std::memory_order_relaxed))};
  return std::min(deadline_, last + stall_);
}

TransferClock::Expiry TransferClock::expired(Clock::time_point now) const {
  if (now >= deadline_) return Expiry::Deadline;
  if (stall_.count() > 0) {
    Clock::time_point last{Clock::duration(last_progress_.load(std::memory_order_relaxed))};
    if (now >= last + stall_) return Expiry::Stalled;
  }
  return Expiry::None;
}

}  // namespace tcpfault
