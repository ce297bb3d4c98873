#include "harness/intercept/fault_engine.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <climits>

#include "harness/intercept/queue_rules.h"
#include "harness/intercept/realtime_priority.h"
#include "netns/error.h"

namespace tcpfault {

namespace {

// How often the verdict loop reads the kernel's drop counters while packets flow.
constexpr std::int64_t kCountersEvery_ns = 50'000'000;

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

FaultEngine::FaultEngine(const netns::Namespace& middlebox, Options options, Trace& trace, HostOf host_of)
    : trace_(trace), host_of_(std::move(host_of)), options_(options), injector_(middlebox) {
  stats_.intercepting = options_.intercept;
  if (!options_.intercept) {
    trace_.note("the middlebox forwards without NFQUEUE: no segment is seen, no fault applies");
    return;
  }
  queue_.emplace(middlebox, options_.queue_number, options_.queue_max_len);
  counters_.emplace(middlebox, options_.queue_number);
  // Bind first, then divert traffic: no packet is queued before someone listens.
  install_queue_rules(middlebox, options_.queue_number);
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_.valid()) throw_errno("eventfd");
  thread_ = std::thread([this] { run(); });
}

FaultEngine::~FaultEngine() {
  if (!queue_) return;
  stop_ = true;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  // Whatever is still held goes through: no packet is left without a verdict.
  std::list<Held> remaining = std::move(held_);
  held_.clear();
  for (auto& [at, h] : delayed_) remaining.push_back(std::move(h));
  delayed_.clear();
  for (auto& h : remaining) release(h, "let through at the end of the scenario");
  try {
    queue_->flush();
  } catch (const std::exception&) {
    // Closing the queue's socket below makes the kernel let go of them anyway.
  }
  stats_.released_at_end += remaining.size();
  if (!remaining.empty())
    trace_.note(std::to_string(remaining.size()) + " held segment(s) let through at the end of the scenario");
  try {
    // Read while the queue is still bound: its line goes with it.
    check_queue_counters();
  } catch (const std::exception&) {
    // A teardown must not throw.
  }
}

void FaultEngine::check_queue_counters() const {
  counters_read_ns_ = mono_now_ns();
  auto now = counters_ ? counters_->read() : std::nullopt;
  if (!now) return;
  auto grew = [](std::uint64_t& seen, std::uint64_t value) {
    std::uint64_t more = value > seen ? value - seen : 0;
    seen = std::max(seen, value);
    return more;
  };
  if (auto more = grew(stats_.queue_dropped, now->queue_dropped))
    trace_.note("the kernel dropped " + std::to_string(more) + " packet(s) the harness never saw: the middlebox's "
                "queue was full (" + std::to_string(options_.queue_max_len) + " packets waiting for a verdict); "
                "losses no rule asked for");
  if (auto more = grew(stats_.user_dropped, now->user_dropped))
    trace_.note("the kernel dropped " + std::to_string(more) + " packet(s) it could not hand to the harness (its "
                "socket buffer was full); losses no rule asked for");
}

void FaultEngine::check_no_undecided_drops() const {
  Stats s = stats();
  if (s.undecided_drops() == 0) return;
  throw Error("the middlebox lost " + std::to_string(s.undecided_drops()) + " packet(s) no rule asked for: " +
              std::to_string(s.queue_dropped) + " found the queue full (queue_max_len " +
              std::to_string(options_.queue_max_len) + "), " + std::to_string(s.user_dropped) +
              " could not be handed to the harness; raise queue_max_len or hold fewer packets at once");
}

std::vector<FaultDecision> FaultEngine::fault_log(int rule_id) const {
  {
    std::lock_guard lock(mu_);
    rules_.counts(rule_id);  // Error if there is no such rule
  }
  return trace_.fault_log(rule_id);
}

int FaultEngine::add(FaultRule rule) {
  if (!queue_)
    throw Error("cannot add fault rule '" + rule.describe() +
                "': this scenario's middlebox forwards without NFQUEUE (intercept=false)");
  std::lock_guard lock(mu_);
  std::string label = rule.label.empty() ? rule.describe() : rule.label;
  int id = rules_.add(std::move(rule));
  trace_.rule_added(id, label);
  return id;
}

void FaultEngine::remove(int id) {
  std::lock_guard lock(mu_);
  rules_.remove(id);
  trace_.rule_removed(id);
}

void FaultEngine::clear() {
  std::lock_guard lock(mu_);
  rules_.clear();
  trace_.rules_cleared();
}

RuleBook::Counts FaultEngine::counts(int id) const {
  std::lock_guard lock(mu_);
  return rules_.counts(id);
}

std::optional<FaultRule> FaultEngine::rule(int id) const {
  std::lock_guard lock(mu_);
  const FaultRule* r = rules_.rule(id);
  return r ? std::optional<FaultRule>(*r) : std::nullopt;
}

FaultEngine::Stats FaultEngine::stats() const {
  std::lock_guard lock(mu_);
  check_queue_counters();  // the kernel's counts, fresh
  Stats s = stats_;
  s.held_now = held_.size() + delayed_.size();
  if (queue_) {
    s.overruns = queue_->overruns();
    s.verdict_errors = queue_->verdict_errors();
  }
  s.loop_cpu_ns = loop_cpu_ns_;
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
  // The middlebox keeps pace with the wire even when every core is busy: a verdict
  // given late delays the segment as a fault rule would, and the endpoints' timers react.
  if (std::string why = run_at_realtime_priority(); !why.empty())
    trace_.note("verdict loop at normal priority (" + why + "): a busy machine may delay segments");
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
    pollfd fds[2] = {{queue_->fd(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::ppoll(fds, 2, timeout, nullptr) < 0 && errno != EINTR) {
      trace_.note("verdict loop: poll failed: " + std::string(std::strerror(errno)));
      continue;
    }
    if (fds[1].revents & POLLIN) {
      std::uint64_t v;
      [[maybe_unused]] auto n = ::read(wake_.get(), &v, sizeof v);
    }
    try {
      auto overruns = queue_->overruns();
      std::lock_guard lock(mu_);
      queue_->receive([this](const NfQueue::Message& m) {
        try {
          handle(m);
        } catch (const std::exception& e) {
          // After its verdict (a crafted send failed): the rest of the batch still gets theirs.
          trace_.note(std::string("verdict loop error: ") + e.what());
        }
      });
      release_due();
      queue_->flush();  // the batch's verdicts, in one message
      // The kernel's drop counters: at once after an ENOBUFS, else now and then.
      if (queue_->overruns() != overruns || mono_now_ns() - counters_read_ns_ > kCountersEvery_ns)
        check_queue_counters();
    } catch (const std::exception& e) {
      trace_.note(std::string("verdict loop error: ") + e.what());
    }
    timespec cpu{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    loop_cpu_ns_ = std::int64_t(cpu.tv_sec) * 1'000'000'000 + cpu.tv_nsec;
  }
}

void FaultEngine::handle(const NfQueue::Message& m) {
  ++stats_.segments;
  std::optional<Packet> parsed;
  try {
    parsed = Packet::parse(m.packet);
  } catch (const PacketError& e) {
    ++stats_.unparsed;
    queue_->accept(m.id);
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
  std::optional<Packet> unshifted;
  if (unshift) {
    unshifted = p;
    unshift_acks(*unshifted, unshift);
  }
  const Packet& real = unshifted ? *unshifted : p;
  SegmentEvent ev;
  ev.t_ns = mono_now_ns();
  ev.queued_ns = m.queued_ns;
  ev.from = host_of_(p.src);
  ev.to = host_of_(p.dst);
  ev.classified = tracker_.classify(real);
  rcv_nxt_.sent(real);  // its ACK tells what its sender holds, whatever becomes of it here
  ev.relative = relative_for(tracker_, real);
  if (ev.relative) ev.relative->dst_isn += unshift;  // the trace keeps p as it came
  SegmentView view{ev.from, real, ev.classified, ev.relative};

  const RuleBook::Entry* acting = rules_.decide(view);
  for (const auto& p : rules_.preempted())
    trace_.log_fault(FaultDecision{p.rule, p.ordinal, 0, ev.t_ns, format_packet(real, ev.relative),
                                   to_string(p.choice), p.by});
  // Holds waiting for this segment are released right after its own verdict.
  on_seen(view);
  if (acting && std::holds_alternative<RewriteIsn>(acting->rule.action)) start_shift(*acting, ev.classified, real);
  const bool out_shifted = unshift || (!shifts_.empty() && shifts_.find(ev.classified.connection, ev.classified.from_opener).has_value());

  if (!acting && !out_shifted) {
    // The common path: the trace takes the packet itself, not a copy.
    ev.fate = "passed";
    Host from = view.from;
    rcv_nxt_.delivered(p);  // before the trace takes it
    ev.packet = std::move(p);
    trace_.add_segment(std::move(ev));
    queue_->accept(m.id);
    on_passed(from);
    flush_releasing();
    return;
  }
  Outgoing out = outgoing(p, real, ev.classified);
  if (out.rewritten) ev.delivered = out.wire;  // the trace keeps its payload only if changed
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
    if (acting) {
      ev.rule = acting->rule.label;
      ev.rule_id = acting->id;
    }
    trace_.add_segment(std::move(ev));
    pass_on(m.id, out, view.from);
  } else {
    apply(*acting, m, std::move(out), shifted, std::move(ev), view.from);
  }
  flush_releasing();
}

void FaultEngine::apply(const RuleBook::Entry& acting, const NfQueue::Message& m, Outgoing out,
                        const std::string& shifted, SegmentEvent ev, Host from) {
  const std::string who = "rule #" + std::to_string(acting.id);
  ev.rule = acting.rule.label;
  ev.rule_id = acting.id;
  const Action& action = acting.current;
  // A random rule's draw is logged with the segment's ordinal among those it matched.
  std::optional<FaultDecision> decision;
  if (std::holds_alternative<RandomFaults>(acting.rule.action)) {
    auto ordinal = static_cast<std::uint64_t>(acting.counts.matched);
    const char* what = std::holds_alternative<Drop>(action)        ? "drop"
                       : std::holds_alternative<Delay>(action)     ? "delay"
                       : std::holds_alternative<Duplicate>(action) ? "duplicate"
                                                                   : "reorder";
    decision = FaultDecision{acting.id, ordinal, 0, ev.t_ns, format_packet(ev.packet, ev.relative), what};
  }
  auto record = [&](std::string fate) {
    ev.fate = std::move(fate);
    if (decision) ev.fate += " (random draw for its matched segment " + std::to_string(decision->ordinal) + ")";
    auto id = trace_.add_segment(std::move(ev));
    if (decision) {
      decision->segment = id;
      trace_.log_fault(std::move(*decision));
    }
    return id;
  };
  const Classified original = ev.classified;  // what a copy of it plays
  if (std::holds_alternative<Drop>(action)) {
    ev.delivered.reset();  // nobody got it
    record("dropped by " + who);
    queue_->drop(m.id);
    tracker_.lost(out.real);
  } else if (auto* d = std::get_if<Delay>(&action)) {
    auto seen = ev.t_ns;
    auto trace_id = record("held by " + who + " (delay " + std::to_string(d->by.count()) + " ms)");
    auto at = seen + d->by.count() * 1'000'000;
    delayed_.emplace(at, Held{m.id, std::move(out), trace_id, seen, at, from, 0, std::nullopt, "delayed by " + who});
  } else if (auto* h = std::get_if<Hold>(&action)) {
    auto seen = ev.t_ns;
    auto trace_id = record("held by " + who);
    held_.push_back({m.id, std::move(out), trace_id, seen, seen + h->max.count() * 1'000'000, from,
                     h->after_segments, h->until, "held by " + who});
  } else if (auto* dup = std::get_if<Duplicate>(&action)) {
    record("passed, then duplicated x" + std::to_string(dup->copies) + " by " + who + shifted);
    pass_on(m.id, out, from);
    for (int i = 0; i < dup->copies; ++i)
      send_crafted(out.real, out.wire, tracker_.copy_of(out.real, original), "copy made by " + who);
  } else if (auto* mod = std::get_if<Modify>(&action)) {
    Packet changed = out.real;
    if (mod->window) changed.set_window(*mod->window);
    if (mod->set_flags || mod->clear_flags)
      changed.set_flags(static_cast<std::uint8_t>((changed.flags | mod->set_flags) & ~mod->clear_flags));
    if (mod->seq_offset) changed.set_seq(static_cast<std::uint32_t>(changed.seq + mod->seq_offset));
    if (mod->ack_offset) changed.set_ack(static_cast<std::uint32_t>(changed.ack + mod->ack_offset));
    if (mod->strip_options) changed.strip_options();
    if (mod->payload) changed.write_payload(mod->payload->offset, mod->payload->bytes, mod->payload->xor_bytes);
    Outgoing rewritten = outgoing(out.wire, changed, ev.classified);
    rewritten.rewritten = true;
    ev.delivered = rewritten.wire;
    auto as_sent = relative_for(tracker_, out.real);
    if (as_sent) as_sent->src_isn += rewritten.seq_delta;
    record("rewritten by " + who + " to: " + format_packet(rewritten.wire, as_sent));
    pass_on(m.id, rewritten, from);
  } else if (auto* inj = std::get_if<Inject>(&action)) {
    const auto* c = tracker_.find(out.real.source(), out.real.destination());
    record((inj->drop_trigger ? "dropped and answered by " : "passed, then answered by ") + who);
    if (inj->drop_trigger) {
      queue_->drop(m.id);
      tracker_.lost(out.real);
    } else
      pass_on(m.id, out, from);
    if (c) inject_crafted(*c, inj->segment, "crafted by " + who);
  }
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
  queue_->drop(id);
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
    queue_->accept_rewritten(id, out.wire.bytes);
  else
    queue_->accept(id);
  rcv_nxt_.delivered(out.real);
  on_passed(sender);
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
  // Delays, in the order their time comes.
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    Held h = std::move(delayed_.begin()->second);
    delayed_.erase(delayed_.begin());
    release(h, "time is up");
    flush_releasing();
  }
  // Holds whose condition did not come in time. Taken out first: each release is a
  // pass that may release other holds.
  std::list<Held> due;
  for (auto it = held_.begin(); it != held_.end();) {
    auto next = std::next(it);
    if (it->release_at_ns <= now) due.splice(due.end(), held_, it);
    it = next;
  }
  for (auto& h : due) {
    release(h, "waited the hold's maximum");
    flush_releasing();
  }
}

std::int64_t FaultEngine::next_deadline_ns() const {
  std::int64_t next = delayed_.empty() ? INT64_MAX : delayed_.begin()->first;
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
    case SeqAnchor::ReceiverRcvNxt:
      base = rcv_nxt_.next(sender, receiver).value_or(by_sender.snd_nxt);
      break;
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
  send_crafted(real, wire, tracker_.classify(real, /*injected=*/true), why);
}

void FaultEngine::send_crafted(const Packet& real, const Packet& wire, const Classified& roles,
                               const std::string& why) {
  // Verdicts given so far go first: a copy must follow its original on the wire.
  if (queue_) queue_->flush();
  SegmentEvent ev;
  ev.t_ns = mono_now_ns();
  ev.from = Host::Middlebox;
  ev.to = host_of_(wire.dst);
  ev.classified = roles;
  ev.relative = relative_for(tracker_, real);
  if (ev.relative) ev.relative->src_isn += wire.seq - real.seq;  // the trace keeps what was sent
  ev.packet = wire;
  ev.fate = "injected: " + why;
  trace_.add_segment(std::move(ev));
  injector_.send(wire);
}

}  // namespace tcpfault
