#include "harness/trace.h"

#include <algorithm>
#include <ctime>

namespace tcpfault {

std::int64_t mono_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t event_time(const Event& e) {
  return std::visit([](const auto& ev) { return ev.t_ns; }, e);
}

Trace::Trace(std::string name) : name_(std::move(name)), start_ns_(mono_now_ns()) {}

bool Trace::apply_name(TransitionEvent& t, const PendingName& n) const {
  if (t.host != n.host || t.local.port != 0 || t.to != TcpState::SYN_SENT || t.t_ns < n.since_ns ||
      !(t.local.addr == n.local.addr) || !(t.remote == n.remote))
    return false;
  t.local.port = n.local.port;
  return true;
}

void Trace::name_connecting_socket(Host host, const SockAddr& local, const SockAddr& remote,
                                   std::int64_t since_ns) {
  PendingName name{host, local, remote, since_ns};
  {
    std::lock_guard lock(mu_);
    bool named = false;
    for (auto it = events_.rbegin(); it != events_.rend() && !named; ++it)
      if (auto* t = std::get_if<TransitionEvent>(&*it)) named = apply_name(*t, name);
    if (!named) pending_names_.push_back(name);
    ++version_;
  }
  changed_.notify_all();
}

void Trace::add(Event e) {
  {
    std::lock_guard lock(mu_);
    if (auto* t = std::get_if<TransitionEvent>(&e); t && t->local.port == 0 && !pending_names_.empty())
      std::erase_if(pending_names_, [&](const PendingName& n) { return apply_name(*t, n); });
    // Events from different threads can arrive slightly out of order (the state
    // reader runs behind the kernel); keep the timeline sorted by time.
    auto t = event_time(e);
    auto pos = std::upper_bound(events_.begin(), events_.end(), t,
                                [](std::int64_t v, const Event& x) { return v < event_time(x); });
    events_.insert(pos, std::move(e));
    ++version_;
  }
  changed_.notify_all();
}

void Trace::note(std::string text) { add(NoteEvent{mono_now_ns(), std::move(text)}); }

std::uint64_t Trace::add_segment(SegmentEvent e) {
  {
    std::lock_guard lock(mu_);
    e.id = next_segment_id_++;
  }
  auto id = e.id;
  add(std::move(e));
  return id;
}

void Trace::set_fate(std::uint64_t id, std::string fate, std::int64_t released_ns) {
  {
    std::lock_guard lock(mu_);
    // Held segments are recent: search from the end.
    for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
      auto* seg = std::get_if<SegmentEvent>(&*it);
      if (seg && seg->id == id) {
        seg->fate = std::move(fate);
        seg->released_ns = released_ns;
        ++version_;
        break;
      }
    }
  }
  changed_.notify_all();
}

void Trace::set_refresher(std::function<void()> catch_up) {
  std::lock_guard lock(refresher_mu_);
  refresher_ = std::move(catch_up);
}

void Trace::refresh() const {
  std::lock_guard lock(refresher_mu_);  // held while it runs: set_refresher waits for it
  if (refresher_) refresher_();
}

std::vector<Event> Trace::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

void Trace::add_bulk_segment(SegmentEvent e) {
  // Nobody waits on these: no version change, no wake-up.
  std::lock_guard lock(mu_);
  e.id = next_segment_id_++;
  bulk_.push_back(std::move(e));
}

std::vector<SegmentEvent> Trace::bulk_segments() const {
  std::vector<SegmentEvent> out;
  {
    std::lock_guard lock(mu_);
    out = bulk_;
  }
  // Two threads add them (the flood's sender, the verdict loop): order by time.
  std::stable_sort(out.begin(), out.end(),
                   [](const SegmentEvent& a, const SegmentEvent& b) { return a.t_ns < b.t_ns; });
  return out;
}

bool Trace::wait_until(const std::function<bool(const std::vector<Event>&)>& done,
                       Clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  while (true) {
    if (done(events_)) return true;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) return done(events_);
  }
}

std::uint64_t Trace::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

bool Trace::wait_change(std::uint64_t seen, Clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  return changed_.wait_until(lock, deadline, [&] { return version_ != seen; });
}

}  // namespace tcpfault
