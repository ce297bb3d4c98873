#include "harness/fault_engine.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <climits>

#include "harness/queue_rules.h"
#include "netns/error.h"

namespace tcpfault {

namespace {

std::string ms_string(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", double(ns) / 1e6);
  return buf;
}

std::optional<RelativeTo> relative_for(const RoleTracker& tracker, const Packet& p) {
  const auto* c = tracker.find(p.source(), p.destination());
  if (!c) return std::nullopt;
  bool from_opener = p.source() == c->opener;
  const DirectionState& own = from_opener ? c->from_opener : c->to_opener;
  const DirectionState& peer = from_opener ? c->to_opener : c->from_opener;
  if (!own.syn_seen) return std::nullopt;
  return RelativeTo{own.isn, peer.syn_seen ? peer.isn : 0};
}

}  // namespace

FaultEngine::FaultEngine(const netns::Namespace& middlebox, std::uint16_t queue_number,
                         Trace& trace, HostOf host_of)
    : trace_(trace), host_of_(std::move(host_of)), queue_(middlebox, queue_number),
      injector_(middlebox) {
  // Bind first, then divert traffic: no packet is queued before someone listens.
  install_queue_rules(middlebox, queue_number);
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_.valid()) throw_errno("eventfd");
  thread_ = std::thread([this] { run(); });
}

FaultEngine::~FaultEngine() {
  stop_ = true;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  // Whatever is still held goes through: no packet is left without a verdict.
  auto remaining = std::move(held_);
  held_.clear();
  for (auto& h : remaining) release(h, "let through at the end of the scenario");
}

int FaultEngine::add(FaultRule rule) {
  std::lock_guard lock(mu_);
  std::string label = rule.label.empty() ? rule.describe() : rule.label;
  int id = rules_.add(std::move(rule));
  trace_.note("rule #" + std::to_string(id) + " added: " + label);
  return id;
}

void FaultEngine::remove(int id) {
  std::lock_guard lock(mu_);
  rules_.remove(id);
  trace_.note("rule #" + std::to_string(id) + " removed");
}

void FaultEngine::clear() {
  std::lock_guard lock(mu_);
  rules_.clear();
  trace_.note("all rules removed");
}

RuleBook::Counts FaultEngine::counts(int id) const {
  std::lock_guard lock(mu_);
  return rules_.counts(id);
}

FaultEngine::Stats FaultEngine::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.held_now = held_.size();
  s.overruns = queue_.overruns();
  auto floods = floods_.totals();
  s.flood_syns_sent = floods.sent;
  s.flood_replies_dropped = floods.replies_dropped;
  return s;
}

std::optional<RoleTracker::Connection> FaultEngine::connection(const SockAddr& a,
                                                               const SockAddr& b) const {
  std::lock_guard lock(mu_);
  if (const auto* c = tracker_.find(a, b)) return *c;
  return std::nullopt;
}

void FaultEngine::inject(const SockAddr& a, const SockAddr& b, const Craft& spec) {
  std::lock_guard lock(mu_);
  const auto* c = tracker_.find(a, b);
  if (!c)
    throw Error("cannot craft a segment between " + a.str() + " and " + b.str() +
                ": no such connection has passed the middlebox");
  inject_crafted(*c, spec, "crafted " + describe(Inject{spec, false}));
}

void FaultEngine::run() {
  std::vector<NfQueue::Message> batch;
  while (!stop_) {
    std::int64_t deadline;
    {
      std::lock_guard lock(mu_);
      deadline = next_deadline_ns();
    }
    timespec ts{};
    timespec* timeout = nullptr;
    if (deadline != INT64_MAX) {
      std::int64_t wait = std::max<std::int64_t>(0, deadline - mono_now_ns());
      ts.tv_sec = wait / 1'000'000'000;
      ts.tv_nsec = wait % 1'000'000'000;
      timeout = &ts;
    }
    pollfd fds[2] = {{queue_.fd(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::ppoll(fds, 2, timeout, nullptr) < 0 && errno != EINTR) {
      trace_.note("verdict loop: poll failed: " + std::string(std::strerror(errno)));
      continue;
    }
    if (fds[1].revents & POLLIN) {
      std::uint64_t v;
      [[maybe_unused]] auto n = ::read(wake_.get(), &v, sizeof v);
    }
    try {
      batch.clear();
      queue_.receive(batch);
      std::lock_guard lock(mu_);
      for (auto& m : batch) handle(m);
      release_due();
    } catch (const std::exception& e) {
      trace_.note(std::string("verdict loop error: ") + e.what());
    }
  }
}

void FaultEngine::handle(NfQueue::Message& m) {
  ++stats_.segments;
  std::optional<Packet> parsed;
  try {
    parsed = Packet::parse(m.packet);
  } catch (const PacketError& e) {
    ++stats_.unparsed;
    queue_.accept(m.id);
    trace_.note(std::string("passed a packet the harness cannot parse: ") + e.what());
    return;
  }
  Packet& p = *parsed;
  if (auto flood = floods_.claim(p)) {
    drop_flood_reply(m.id, p, *flood);
    return;
  }
  // Toward an end whose numbers a rewrite_isn rule shifts, the acknowledgments go back
  // into that end's own numbers first: the tracker and the rules see one space.
  const std::uint32_t unshift = receiver_shift(p.source(), p.destination());
  Packet real = p;
  if (unshift) unshift_acks(real, unshift);
  SegmentEvent ev;
  ev.t_ns = mono_now_ns();
  ev.from = host_of_(p.src);
  ev.to = host_of_(p.dst);
  ev.classified = tracker_.classify(real);
  ev.relative = relative_for(tracker_, real);
  if (ev.relative) ev.relative->dst_isn += unshift;  // the trace keeps p as it came
  SegmentView view{ev.from, real, ev.classified};

  const RuleBook::Entry* acting = rules_.decide(view);
  // Holds waiting for this segment are released right after its own verdict.
  on_seen(view);
  if (acting && std::holds_alternative<RewriteIsn>(acting->rule.action)) start_shift(*acting, ev.classified, real);
  Outgoing out = outgoing(p, real, ev.classified);
  std::string shifted;
  if (out.seq_delta) shifted = " (seq +" + std::to_string(out.seq_delta) + ")";
  if (unshift) shifted += " (ack -" + std::to_string(unshift) + ")";

  ev.packet = p;
  if (!acting || std::holds_alternative<RewriteIsn>(acting->rule.action)) {
    const std::string who = acting ? "rule #" + std::to_string(acting->id) : "";
    if (acting && out.seq_delta && (real.flags & tcp_flag::SYN))
      ev.fate = "ISN rewritten by " + who + " to " + std::to_string(out.wire.seq) + shifted;
    else
      ev.fate = shifted.empty() ? "passed" : "passed, shifted" + shifted;
    if (acting) ev.rule = acting->rule.label;
    trace_.add_segment(std::move(ev));
    pass_on(m.id, out, view.from);
  } else {
    const std::string who = "rule #" + std::to_string(acting->id);
    ev.rule = acting->rule.label;
    const Action& action = acting->rule.action;
    if (std::holds_alternative<Drop>(action)) {
      ev.fate = "dropped by " + who;
      trace_.add_segment(std::move(ev));
      queue_.drop(m.id);
    } else if (auto* d = std::get_if<Delay>(&action)) {
      ev.fate = "held by " + who + " (delay " + std::to_string(d->by.count()) + " ms)";
      auto seen = ev.t_ns;
      auto trace_id = trace_.add_segment(std::move(ev));
      held_.push_back({m.id, std::move(out), trace_id, seen, seen + d->by.count() * 1'000'000, view.from, 0,
                       std::nullopt, "delayed by " + who});
    } else if (auto* h = std::get_if<Hold>(&action)) {
      ev.fate = "held by " + who;
      auto seen = ev.t_ns;
      auto trace_id = trace_.add_segment(std::move(ev));
      held_.push_back({m.id, std::move(out), trace_id, seen, seen + h->max.count() * 1'000'000, view.from,
                       h->after_segments, h->until, "held by " + who});
    } else if (auto* dup = std::get_if<Duplicate>(&action)) {
      ev.fate = "passed, then duplicated x" + std::to_string(dup->copies) + " by " + who + shifted;
      trace_.add_segment(std::move(ev));
      pass_on(m.id, out, view.from);
      for (int i = 0; i < dup->copies; ++i) send_crafted(out.real, out.wire, "copy made by " + who);
    } else if (auto* mod = std::get_if<Modify>(&action)) {
      Packet changed = real;
      if (mod->window) changed.set_window(*mod->window);
      if (mod->set_flags || mod->clear_flags)
        changed.set_flags(static_cast<std::uint8_t>((changed.flags | mod->set_flags) & ~mod->clear_flags));
      if (mod->seq_offset) changed.set_seq(static_cast<std::uint32_t>(changed.seq + mod->seq_offset));
      if (mod->ack_offset) changed.set_ack(static_cast<std::uint32_t>(changed.ack + mod->ack_offset));
      if (mod->strip_options) changed.strip_options();
      Outgoing rewritten = outgoing(p, changed, ev.classified);
      rewritten.rewritten = true;
      auto as_sent = relative_for(tracker_, real);
      if (as_sent) as_sent->src_isn += rewritten.seq_delta;
      ev.fate = "rewritten by " + who + " to: " + format_packet(rewritten.wire, as_sent);
      trace_.add_segment(std::move(ev));
      pass_on(m.id, rewritten, view.from);
    } else if (auto* inj = std::get_if<Inject>(&action)) {
      const auto* c = tracker_.find(real.source(), real.destination());
      ev.fate = (inj->drop_trigger ? "dropped and answered by " : "passed, then answered by ") + who;
      trace_.add_segment(std::move(ev));
      if (inj->drop_trigger)
        queue_.drop(m.id);
      else
        pass_on(m.id, out, view.from);
      if (c) inject_crafted(*c, inj->segment, "crafted by " + who);
    }
  }
  flush_releasing();
}

std::uint32_t FaultEngine::receiver_shift(const SockAddr& from, const SockAddr& to) const {
  if (shifts_.empty()) return 0;
  const auto* c = tracker_.find(from, to);
  if (!c) return 0;
  auto s = shifts_.find(c->id, /*from_opener=*/to == c->opener);
  return s ? s->delta : 0;
}

FaultEngine::Outgoing FaultEngine::outgoing(const Packet& queued, Packet real, const Classified& c) const {
  Outgoing out;
  out.wire = real;
  out.real = std::move(real);
  if (!shifts_.empty() && c.connection)
    if (auto s = shifts_.find(c.connection, c.from_opener)) {
      shift_seq(out.wire, s->delta);
      out.seq_delta = s->delta;
    }
  out.rewritten = out.wire.bytes != queued.bytes;
  return out;
}

void FaultEngine::start_shift(const RuleBook::Entry& rule, const Classified& c, const Packet& real) {
  if (!real.has(tcp_flag::SYN) || !c.connection || shifts_.find(c.connection, c.from_opener)) return;
  const auto& isn = std::get<RewriteIsn>(rule.rule.action);
  const auto k = static_cast<std::uint32_t>(shifts_.next_index(rule.id));
  const std::uint32_t target = isn.first + k * isn.step;
  shifts_.set(c.connection, c.from_opener, {static_cast<std::uint32_t>(target - real.seq), rule.id});
}

// A reply to a flood's SYN: lost here, kept out of the role tracker and the rules,
// recorded as a bulk segment (the flood's summary lines count it).
void FaultEngine::drop_flood_reply(std::uint32_t id, const Packet& p, int flood) {
  SegmentEvent ev;
  ev.t_ns = mono_now_ns();
  ev.from = host_of_(p.src);
  ev.to = Host::Middlebox;
  ev.classified.roles = roles_from_flags(p);
  ev.packet = p;
  ev.fate = "dropped: reply to flood #" + std::to_string(flood);
  trace_.add_bulk_segment(std::move(ev));
  queue_.drop(id);
}

void FaultEngine::on_seen(const SegmentView& view) {
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->until && it->until->matches(view)) {
      releasing_.push_back(std::move(*it));
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
}

void FaultEngine::on_passed(Host sender) {
  // "Hold until k later segments passed" reorders within one direction: count only
  // what the same sender sent after the held segment.
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->sender == sender && it->after_segments > 0 && --it->after_segments == 0) {
      releasing_.push_back(std::move(*it));
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
}

// The trace is written before the verdict or the send in every path, so that
// whoever sees the effect at an endpoint also finds it in the timeline.
void FaultEngine::release(Held& h, const std::string& reason) {
  auto now = mono_now_ns();
  trace_.set_fate(h.trace_id, h.why + ", let go after " + ms_string(now - h.seen_ns) + " (" + reason + ")",
                  now);
  pass_on(h.packet_id, h.out, h.sender);
}

void FaultEngine::pass_on(std::uint32_t id, const Outgoing& out, Host sender) {
  if (out.rewritten)
    queue_.accept_rewritten(id, out.wire.bytes);
  else
    queue_.accept(id);
  note_delivered(out.real);
  on_passed(sender);
}

namespace {
bool seq_after(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) > 0; }
}  // namespace

void FaultEngine::note_delivered(const Packet& p) {
  std::uint32_t end = p.seq + p.seq_len();
  auto key = std::make_pair(p.source(), p.destination());
  if (p.has(tcp_flag::SYN)) {
    delivered_[key] = end;
    return;
  }
  auto it = delivered_.find(key);
  // Only contiguous data advances it: a segment after a gap is not yet readable.
  if (it != delivered_.end() && !seq_after(p.seq, it->second) && seq_after(end, it->second))
    it->second = end;
}

std::optional<std::uint32_t> FaultEngine::delivered_next(const SockAddr& sender,
                                                         const SockAddr& receiver) const {
  auto it = delivered_.find({sender, receiver});
  if (it == delivered_.end()) return std::nullopt;
  return it->second;
}

void FaultEngine::flush_releasing() {
  // Each release is a pass that may satisfy further holds: keep going until calm.
  while (!releasing_.empty()) {
    Held h = std::move(releasing_.front());
    releasing_.pop_front();
    release(h, "condition met");
  }
}

void FaultEngine::release_due() {
  auto now = mono_now_ns();
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->release_at_ns > now) {
      ++it;
      continue;
    }
    bool conditional = it->after_segments > 0 || it->until;
    Held h = std::move(*it);
    it = held_.erase(it);
    release(h, conditional ? "waited the hold's maximum" : "time is up");
    flush_releasing();
    it = held_.begin();  // the flush may have changed the list
  }
}

std::int64_t FaultEngine::next_deadline_ns() const {
  std::int64_t next = INT64_MAX;
  for (const auto& h : held_) next = std::min(next, h.release_at_ns);
  return next;
}

Packet FaultEngine::craft(const RoleTracker::Connection& c, const Craft& spec) const {
  bool toward_opener = host_of_(c.opener.addr) == spec.toward;
  const SockAddr& receiver = toward_opener ? c.opener : c.listener;
  const SockAddr& sender = toward_opener ? c.listener : c.opener;
  const DirectionState& by_sender = toward_opener ? c.to_opener : c.from_opener;
  const DirectionState& by_receiver = toward_opener ? c.from_opener : c.to_opener;

  SegmentSpec s;
  s.src = sender;
  s.dst = receiver;
  s.flags = spec.flags;
  std::uint32_t base = 0;
  switch (spec.seq_anchor) {
    case SeqAnchor::ReceiverRcvNxt: {
      // What went through to the receiver, or failing that what it last acknowledged.
      auto delivered = delivered_next(sender, receiver);
      base = delivered ? *delivered : by_receiver.ack_seen ? by_receiver.last_ack : by_sender.snd_nxt;
      if (by_receiver.ack_seen && seq_after(by_receiver.last_ack, base)) base = by_receiver.last_ack;
      break;
    }
    case SeqAnchor::SenderSndNxt:
      base = by_sender.snd_nxt;
      break;
    case SeqAnchor::Absolute:
      base = 0;
      break;
  }
  s.seq = static_cast<std::uint32_t>(base + spec.seq_offset);
  if (spec.flags & tcp_flag::ACK) s.ack = static_cast<std::uint32_t>(by_receiver.snd_nxt + spec.ack_offset);
  std::uint32_t raw_window = by_sender.last_window >> by_sender.wscale;
  s.window = spec.window.value_or(static_cast<std::uint16_t>(std::min<std::uint32_t>(raw_window, 65535)));
  if (spec.tsval_offset) {
    std::uint32_t tsval = static_cast<std::uint32_t>(by_sender.last_tsval.value_or(0) + *spec.tsval_offset);
    s.options.timestamp = std::make_pair(tsval, by_receiver.last_tsval.value_or(0));
  }
  s.payload = spec.payload;
  return build_packet(s);
}

void FaultEngine::inject_crafted(const RoleTracker::Connection& c, const Craft& spec, const std::string& why) {
  Packet real = craft(c, spec);
  Packet wire = real;
  // Impersonating an end whose numbers are shifted: its peer knows them shifted.
  const bool from_opener = host_of_(c.opener.addr) != spec.toward;
  if (auto s = shifts_.find(c.id, from_opener)) shift_seq(wire, s->delta);
  send_crafted(real, wire, why);
}

void FaultEngine::send_crafted(const Packet& real, const Packet& wire, const std::string& why) {
  SegmentEvent ev;
  ev.t_ns = mono_now_ns();
  ev.from = Host::Middlebox;
  ev.to = host_of_(wire.dst);
  ev.classified = tracker_.classify(real, /*injected=*/true);
  ev.relative = relative_for(tracker_, real);
  if (ev.relative) ev.relative->src_isn += wire.seq - real.seq;  // the trace keeps what was sent
  ev.packet = wire;
  ev.fate = "injected: " + why;
  trace_.add_segment(std::move(ev));
  injector_.send(wire);
}

}  // namespace tcpfault
