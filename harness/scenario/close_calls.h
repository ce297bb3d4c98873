// Verdicts a fraction of a millisecond decided. A check that passed just before the
// segment or state change that would have failed it, or failed on one that came just
// before it looked, was decided by which of the test's thread and the wire came first:
// the same stack doing the same thing can get the other verdict on another run. tcpfault
// explore and its reproducers tell such a verdict apart from what a fault did.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace tcpfault {

struct CloseCall {
  std::string check;          // the expectation, as its failure names it
  bool passed = false;        // passed before the event, or failed on it
  std::int64_t check_ns = 0;  // when it looked (CLOCK_MONOTONIC)
  std::int64_t event_ns = 0;  // the segment or state change on the other side of its verdict
  std::string event;          // what that was
  std::int64_t gap_ns() const { return event_ns > check_ns ? event_ns - check_ns : check_ns - event_ns; }
};

class CloseCalls {
 public:
  // What would have failed a passed check had it looked later: the first such event in
  // the timeline up to `until_ns`, as {time, what}, if any.
  using Later = std::function<std::optional<std::pair<std::int64_t, std::string>>(std::int64_t until_ns)>;

  // A test asks a bounded number of checks; past this many passes, the later ones are not
  // watched (counted in unwatched()).
  static constexpr std::size_t kMaxWatched = 4096;

  void passed(std::string check, std::int64_t check_ns, Later later);
  void failed(std::string check, std::int64_t check_ns, std::int64_t event_ns, std::string event);

  // Every check so far whose verdict an event within `within_ns` of its look would have
  // turned, in the order they were asked; a passed check's later events are looked for in
  // what the timeline holds now.
  std::vector<CloseCall> within(std::int64_t within_ns) const;
  std::size_t unwatched() const;

 private:
  struct Watch {
    std::string check;
    std::int64_t check_ns;
    Later later;
  };
  mutable std::mutex mu_;
  std::vector<std::variant<Watch, CloseCall>> asked_;
  std::size_t watched_ = 0, unwatched_ = 0;
};

}  // namespace tcpfault
