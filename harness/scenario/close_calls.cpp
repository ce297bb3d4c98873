#include "harness/scenario/close_calls.h"

namespace tcpfault {

void CloseCalls::passed(std::string check, std::int64_t check_ns, Later later) {
  std::lock_guard lock(mu_);
  if (watched_ >= kMaxWatched) {
    ++unwatched_;
    return;
  }
  ++watched_;
  asked_.emplace_back(Watch{std::move(check), check_ns, std::move(later)});
}

void CloseCalls::failed(std::string check, std::int64_t check_ns, std::int64_t event_ns, std::string event) {
  std::lock_guard lock(mu_);
  asked_.emplace_back(CloseCall{std::move(check), false, check_ns, event_ns, std::move(event)});
}

std::vector<CloseCall> CloseCalls::within(std::int64_t within_ns) const {
  std::lock_guard lock(mu_);
  std::vector<CloseCall> out;
  for (const auto& asked : asked_) {
    if (const auto* failure = std::get_if<CloseCall>(&asked)) {
      if (failure->gap_ns() <= within_ns) out.push_back(*failure);
      continue;
    }
    const auto& watch = std::get<Watch>(asked);
    auto event = watch.later(watch.check_ns + within_ns);
    if (!event) continue;
    CloseCall call{watch.check, true, watch.check_ns, event->first, event->second};
    if (call.gap_ns() <= within_ns) out.push_back(std::move(call));
  }
  return out;
}

std::size_t CloseCalls::unwatched() const {
  std::lock_guard lock(mu_);
  return unwatched_;
}

}  // namespace tcpfault
