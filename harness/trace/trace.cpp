#include "harness/trace/trace.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string_view>

namespace tcpfault {

namespace {

std::int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::size_t header_length(const Packet& p) { return p.ip_header_len + p.tcp_header_len; }

void keep_headers_only(Packet& p) {
  p.bytes.resize(std::min(p.bytes.size(), header_length(p)));
  p.bytes.shrink_to_fit();
}

}  // namespace

std::int64_t mono_now_ns() { return clock_ns(CLOCK_MONOTONIC); }

bool dropped(const SegmentEvent& s) { return s.fate.rfind("dropped", 0) == 0; }

std::optional<std::int64_t> delivered_at(const SegmentEvent& s) {
  const std::string_view f = s.fate;
  auto starts = [&](std::string_view p) { return f.substr(0, p.size()) == p; };
  if (dropped(s)) return std::nullopt;
  if (starts("held") || starts("delayed")) {
    if (s.released_ns) return s.released_ns;
    return std::nullopt;
  }
  // "passed ...", "ISN rewritten ...", "rewritten by ...", "injected: ...", "flood #1:
  // sent", an empty fate (a segment recorded before its verdict is being passed).
  return s.t_ns;
}

Packet delivered_packet(const SegmentEvent& s) {
  if (!s.delivered) return s.packet;
  Packet got = *s.delivered;
  // Headers only: the payload went on as sent (or past the payload cap, as the
  // packet's own, is not kept either).
  if (got.bytes.size() == header_length(got) && got.payload_len == s.packet.payload_len) {
    const auto payload = s.packet.payload();
    got.bytes.insert(got.bytes.end(), payload.begin(), payload.end());
  }
  return got;
}

std::int64_t event_time(const Event& e) {
  return std::visit([](const auto& ev) { return ev.t_ns; }, e);
}

std::string Trace::offset(std::int64_t t_ns) const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "+%.1f ms", double(t_ns - start_ns_) / 1e6);
  return buf;
}

Trace::Trace(std::string name, std::size_t payload_cap)
    : name_(std::move(name)),
      start_ns_(mono_now_ns()),
      start_unix_ns_(clock_ns(CLOCK_REALTIME)),
      payload_cap_(payload_cap) {}

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
    for (auto it = others_.rbegin(); it != others_.rend() && !named; ++it)
      if (auto* t = std::get_if<TransitionEvent>(&*it)) named = apply_name(*t, name);
    if (!named) pending_names_.push_back(name);
    ++version_;
  }
  changed_.notify_all();
}

void Trace::insert_other(Event e) {
  if (auto* t = std::get_if<TransitionEvent>(&e); t && t->local.port == 0 && !pending_names_.empty())
    std::erase_if(pending_names_, [&](const PendingName& n) { return apply_name(*t, n); });
  // Events from different threads can arrive slightly out of order (the state
  // reader runs behind the kernel); keep them sorted by time.
  auto t = event_time(e);
  auto pos = std::upper_bound(others_.begin(), others_.end(), t,
                              [](std::int64_t v, const Event& x) { return v < event_time(x); });
  others_.insert(pos, std::move(e));
}

void Trace::add(Event e) {
  if (auto* s = std::get_if<SegmentEvent>(&e)) {
    add_segment(std::move(*s));
    return;
  }
  {
    std::lock_guard lock(mu_);
    insert_other(std::move(e));
    ++version_;
  }
  changed_.notify_all();
}

void Trace::note(std::string text) { add(NoteEvent{mono_now_ns(), std::move(text)}); }

void Trace::keep_payload(Packet& p, std::int64_t t_ns) {
  const std::size_t payload = p.payload().size();
  if (payload_kept_ + payload <= payload_cap_) {
    payload_kept_ += payload;
    return;
  }
  // Past the cap a segment keeps its headers; its length stays known (wire_length).
  keep_headers_only(p);
  if (!cap_noted_) {
    cap_noted_ = true;
    insert_other(NoteEvent{t_ns, "trace payload cap of " + std::to_string(payload_cap_) +
                                     " bytes reached: from here on segments keep their headers only"});
  }
}

std::uint64_t Trace::add_segment(SegmentEvent e) {
  std::uint64_t id;
  {
    std::lock_guard lock(mu_);
    keep_payload(e.packet, e.t_ns);
    if (e.delivered) {
      // A rewrite that left the payload as it was (most do) keeps no second copy of it.
      const auto sent = e.packet.payload(), got = e.delivered->payload();
      if (std::equal(sent.begin(), sent.end(), got.begin(), got.end())) {
        keep_headers_only(*e.delivered);
      } else {
        keep_payload(*e.delivered, e.t_ns);
        // Past the cap both keep their headers: delivered_packet must not pair the new
        // headers with the old payload.
        if (e.delivered->payload().size() < e.delivered->payload_len) keep_headers_only(e.packet);
      }
    }
    id = segments_.size() + 1;
    e.id = id;
    segments_.push_back(std::move(e));
    ++version_;
  }
  changed_.notify_all();
  return id;
}

void Trace::set_fate(std::uint64_t id, std::string fate, std::int64_t released_ns) {
  {
    std::lock_guard lock(mu_);
    if (id == 0 || id > segments_.size()) return;
    SegmentEvent& seg = segments_[id - 1];
    seg.fate = std::move(fate);
    seg.released_ns = released_ns;
    ++version_;
  }
  changed_.notify_all();
}

void Trace::rule_added(int id, std::string label) {
  note("rule #" + std::to_string(id) + " added: " + label);
  std::lock_guard lock(mu_);
  rules_.push_back({id, std::move(label), mono_now_ns(), 0});
}

void Trace::rule_removed(int id) {
  note("rule #" + std::to_string(id) + " removed");
  std::lock_guard lock(mu_);
  for (auto& r : rules_)
    if (r.id == id && !r.removed_ns) r.removed_ns = mono_now_ns();
}

void Trace::rules_cleared() {
  note("all rules removed");
  std::lock_guard lock(mu_);
  const std::int64_t now = mono_now_ns();
  for (auto& r : rules_)
    if (!r.removed_ns) r.removed_ns = now;
}

std::vector<RuleRecord> Trace::rules() const {
  std::lock_guard lock(mu_);
  return rules_;
}

void Trace::log_fault(FaultDecision d) {
  std::lock_guard lock(mu_);
  fault_log_.push_back(std::move(d));
}

std::vector<FaultDecision> Trace::fault_log(std::optional<int> rule) const {
  std::lock_guard lock(mu_);
  if (!rule) return fault_log_;
  std::vector<FaultDecision> out;
  for (const auto& d : fault_log_)
    if (d.rule == *rule) out.push_back(d);
  return out;
}

std::size_t Trace::payload_kept() const {
  std::lock_guard lock(mu_);
  return payload_kept_;
}

void Trace::set_refresher(std::function<void()> catch_up) {
  std::lock_guard lock(refresher_mu_);
  refresher_ = std::move(catch_up);
}

void Trace::refresh() const {
  std::lock_guard lock(refresher_mu_);  // held while it runs: set_refresher waits for it
  if (refresher_) refresher_();
}

std::vector<Event> Trace::merged() const {
  std::vector<Event> out;
  out.reserve(others_.size() + segments_.size());
  // Segments arrive in time order from one verdict loop; sort anyway should another
  // writer interleave. The merge is stable: at equal times other events come first.
  std::vector<const SegmentEvent*> segs;
  segs.reserve(segments_.size());
  for (const auto& s : segments_) segs.push_back(&s);
  std::stable_sort(segs.begin(), segs.end(),
                   [](const SegmentEvent* a, const SegmentEvent* b) { return a->t_ns < b->t_ns; });
  auto seg = segs.begin();
  for (const auto& e : others_) {
    auto t = event_time(e);
    for (; seg != segs.end() && (*seg)->t_ns < t; ++seg) out.emplace_back(**seg);
    out.push_back(e);
  }
  for (; seg != segs.end(); ++seg) out.emplace_back(**seg);
  return out;
}

std::vector<Event> Trace::events() const {
  std::lock_guard lock(mu_);
  return merged();
}

std::vector<Event> Trace::other_events() const {
  std::lock_guard lock(mu_);
  return others_;
}

std::size_t Trace::visit_segments(std::size_t from, const std::function<void(const SegmentEvent&)>& visit) const {
  std::lock_guard lock(mu_);
  for (std::size_t i = from; i < segments_.size(); ++i) visit(segments_[i]);
  return segments_.size();
}

std::size_t Trace::segment_count() const {
  std::lock_guard lock(mu_);
  return segments_.size();
}

void Trace::add_bulk_segment(SegmentEvent e) {
  // Nobody waits on these: no version change, no wake-up.
  std::lock_guard lock(mu_);
  e.id = bulk_.size() + 1;  // numbered apart from the timeline's segments
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
    if (done(merged())) return true;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) return done(merged());
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
