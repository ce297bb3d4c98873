#pragma once
// How often a waiter looks again while the timeline is quiet.
//
// A waiter wakes on every new event of the timeline, and also looks at the socket table
// on its own, for what no event announces. With the exact (BPF) observer every step of
// every socket is an event, so the table is only a safety net against a lost record and
// is read less often the longer nothing happens: 5 ms, doubling to 200 ms, back to 5 ms
// on any event. A wait through TIME_WAIT's minute then wakes a few hundred times rather
// than twelve thousand, which matters most in a VM on a virtual clock, where each wakeup
// costs emulated CPU and idle time costs nothing. With the fallback observer (a
// minisocket expiring gives no event) it stays at 5 ms.
#include <algorithm>
#include <chrono>

#include "harness/trace/trace.h"

namespace tcpfault {

class QuietPoll {
 public:
  static constexpr std::chrono::milliseconds kFirst{5};
  static constexpr std::chrono::milliseconds kLongest{200};

  explicit QuietPoll(bool every_step_is_an_event) : grows_(every_step_is_an_event) {}

  // Waits for the trace to move past `version`, until the next look or `deadline`,
  // whichever comes first.
  void wait(const Trace& trace, std::uint64_t version, Clock::time_point deadline) {
    bool moved = trace.wait_change(version, std::min(deadline, Clock::now() + interval_));
    if (moved || !grows_)
      interval_ = kFirst;
    else
      interval_ = std::min(interval_ * 2, kLongest);
  }

 private:
  bool grows_;
  std::chrono::milliseconds interval_ = kFirst;
};

}  // namespace tcpfault
