#include "harness/observe/state_observer.h"

#include <cstdio>

#include "harness/observe/missed_step.h"

namespace tcpfault {

namespace {
// How often an orphaned FIN_WAIT2 minisocket is looked at while one exists, in the
// fallback: the perf tracepoint gives no event when it becomes TIME_WAIT.
constexpr auto kOrphanCheck = std::chrono::milliseconds(2);
// How long the BPF observer's event for a step sock_diag already shows may take to reach
// the rings (measured: 0.06 ms; the bound is for a loaded machine).
constexpr auto kLateEvent = std::chrono::milliseconds(50);

std::string describe(const ObserverChoice& c) {
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.1f", c.load_ms);
  if (c.exact)
    return "state observer: BPF (every step of full sockets, timewait minisockets and request sockets, with "
           "kernel times; loaded in " + std::string(ms) + " ms)";
  return "state observer: perf tracepoint, completed by sock_diag polling (timewait minisockets polled every 2 ms, "
         "request sockets not seen); the BPF observer is not used: " + c.why;
}
}  // namespace

StateObserver::StateObserver(const netns::Topology& topology, std::shared_ptr<Trace> trace)
    : topology_(topology), trace_(std::move(trace)),
      client_diag_(std::make_shared<SockDiag>(topology.client())),
      server_diag_(std::make_shared<SockDiag>(topology.server())),
      client_netns_(topology.client().inode()), server_netns_(topology.server().inode()) {
  tracepoint_ = std::make_unique<TracepointSubscription>([this](const Transition& t) { on_transition(t); });
  exact_ = tracepoint_->choice().exact;
  lost_before_ = tracepoint_->lost();
  trace_->note(describe(tracepoint_->choice()));
  if (!exact_) orphan_watcher_ = std::thread([this] { watch_orphans(); });
}

StateObserver::~StateObserver() {
  tracepoint_.reset();
  {
    std::lock_guard lock(orphans_mu_);
    stopping_ = true;
  }
  orphans_cv_.notify_all();
  if (orphan_watcher_.joinable()) orphan_watcher_.join();
}

const SockDiag& StateObserver::diag(Host h) const { return *shared_diag(h); }

std::shared_ptr<const SockDiag> StateObserver::shared_diag(Host h) const {
  if (h == Host::Middlebox) throw Error("the middlebox has no sockets of its own to observe");
  return h == Host::Client ? client_diag_ : server_diag_;
}

std::optional<SocketInfo> StateObserver::socket(const SocketRef& ref) const {
  return diag(ref.host).find(ref.tuple);
}

void StateObserver::drain() { tracepoint_->drain(); }

bool StateObserver::reconcile(const SocketRef& ref, const std::vector<TransitionEvent>& recorded) {
  auto of_socket = [&](const TransitionEvent& t) {
    return t.host == ref.host && t.local == ref.tuple.local && t.remote == ref.tuple.remote;
  };
  auto count_recorded = [&] {
    std::size_t n = 0;
    for (const auto& e : trace_->other_events())
      if (const auto* t = std::get_if<TransitionEvent>(&e)) n += of_socket(*t);
    return n;
  };
  std::size_t known = 0;
  for (const auto& t : recorded) known += of_socket(t);
  // Exact: what the kernel did is in the ring buffer; nothing to fill in unless it
  // overflowed (or missed a step) during this scenario.
  if (exact_) {
    const std::uint64_t lost = tracepoint_->lost() - lost_before_;
    if (lost == 0) {
      drain();
      return count_recorded() != known;
    }
    if (!loss_noted_.exchange(true))
      trace_->note("state observer: " + std::to_string(lost) +
                   " step(s) of sockets were lost during this scenario (a full ring, or a step while its program ran "
                   "on the same CPU): what sock_diag shows fills in");
  }
  if (recorded.empty()) return false;  // never seen: nothing to continue from
  const TransitionEvent& last = recorded.back();
  // An orphan handed to its FIN_WAIT2 minisocket (a note, no step): the orphan watcher
  // records where it goes (filling it here too recorded its end twice).
  {
    std::lock_guard lock(orphans_mu_);
    if (orphans_.count({ref.host, ref.tuple})) return false;
  }
  // The step may have happened between the caller's drain and the table read: its
  // tracepoint event is then in the rings now, and no fill-in is needed. The BPF
  // observer's event can come a little later still (the kernel takes a closing socket out
  // of its tables before the step's hook runs): with it, a fill-in is made only when the
  // event has not come within kLateEvent, as when the ring really lost it.
  bool arrived = false;
  auto event_arrived = [&] {
    const auto give_up = std::chrono::steady_clock::now() + (exact_ ? kLateEvent : std::chrono::milliseconds(0));
    std::unique_lock lock(arrivals_mu_);
    while (true) {
      const std::uint64_t seen = arrivals_;
      lock.unlock();
      drain();
      arrived = count_recorded() != known;
      lock.lock();
      if (arrived) return true;
      // Until another step of any socket arrives (the reader thread records it), or the time is up.
      if (!arrivals_cv_.wait_until(lock, give_up, [&] { return arrivals_ != seen; })) return false;
    }
  };
  const auto step = missed_step(last.to, [&] { return socket(ref); }, event_arrived);
  if (!step) return arrived;
  trace_->add(TransitionEvent{mono_now_ns(), ref.host, ref.tuple.local, ref.tuple.remote, last.socket,
                              last.to, *step, "sock_diag (no tracepoint event arrived for this step)"});
  return true;
}

std::optional<Host> StateObserver::host_of(const Transition& t) const {
  std::optional<Host> by_address;
  for (Family f : {Family::V4, Family::V6}) {
    if (t.local.addr == topology_.client_addr(f)) by_address = Host::Client;
    if (t.local.addr == topology_.server_addr(f)) by_address = Host::Server;
  }
  if (!t.netns) return by_address;
  // The namespace says whose it is; the address must agree (the slot's addresses in an
  // earlier topology's namespaces, still closing, are not this scenario's).
  std::optional<Host> by_netns;
  if (t.netns == client_netns_) by_netns = Host::Client;
  if (t.netns == server_netns_) by_netns = Host::Server;
  return by_netns == by_address ? by_netns : std::nullopt;
}

void StateObserver::on_transition(const Transition& t) {
  auto host = host_of(t);
  if (!host) return;  // another topology's or the host's socket
  // An agent's side is not this kernel's (an agent whose stack is another Linux kernel
  // on this machine shows up here too): its states come from the agent.
  if (topology_.agent_side() == *host) return;
  if (exact_ && t.source.find("request socket") != std::string::npos) {
    // Request sockets of a SYN flood (other addresses of the client's subnet) stay out
    // of the timeline like the flood's segments.
    const Host peer = *host == Host::Client ? Host::Server : Host::Client;
    const Family f = t.remote.addr.family;
    if (t.remote.addr != (peer == Host::Client ? topology_.client_addr(f) : topology_.server_addr(f))) return;
  }
  TransitionEvent ev{t.mono_ns, *host, t.local, t.remote, t.socket, t.from, t.to, t.source};
  if (!exact_) return on_perf_transition(std::move(ev));
  if (ev.from == ev.to) {
    trace_->add(NoteEvent{ev.t_ns, netns::to_string(ev.host) + " " + ev.local.str() + " > " + ev.remote.str() + ": " +
                                       to_string(ev.to) + " goes on, no new state (" + ev.source + ")"});
    return;
  }
  trace_->add(std::move(ev));
  {
    std::lock_guard lock(arrivals_mu_);
    ++arrivals_;
  }
  arrivals_cv_.notify_all();
}

void StateObserver::on_perf_transition(TransitionEvent ev) {
  const Host host = ev.host;
  bool closing = ev.from == TcpState::FIN_WAIT1 || ev.from == TcpState::FIN_WAIT2 || ev.from == TcpState::CLOSING;
  if (ev.to == TcpState::CLOSED && closing) {
    // The minisocket is hashed before the full socket is marked CLOSED, so it is there now.
    auto tw = diag(host).find({ev.local, ev.remote});
    if (tw && tw->timewait_sock) {
      ev.to = tw->state;
      ev.source = "tracepoint; timewait minisocket seen by sock_diag";
      if (tw->state == TcpState::FIN_WAIT2) {
        std::lock_guard lock(orphans_mu_);
        orphans_[{host, FourTuple{ev.local, ev.remote}}] = ev.socket;
        orphans_cv_.notify_all();
      }
    }
  }
  if (ev.from == ev.to) {
    trace_->add(NoteEvent{ev.t_ns, netns::to_string(host) + " " + ev.local.str() + " > " + ev.remote.str() + ": " +
                                       to_string(ev.to) + " goes on, no new state (" + ev.source + ")"});
    return;
  }
  trace_->add(std::move(ev));
}

void StateObserver::watch_orphans() {
  std::unique_lock lock(orphans_mu_);
  while (!stopping_) {
    if (orphans_.empty()) {
      orphans_cv_.wait(lock);
      continue;
    }
    orphans_cv_.wait_for(lock, kOrphanCheck);
    for (auto it = orphans_.begin(); it != orphans_.end();) {
      auto [host, tuple] = it->first;
      auto now = diag(host).find(tuple);
      if (now && now->timewait_sock && now->state == TcpState::FIN_WAIT2) {
        ++it;
        continue;
      }
      TcpState to = now && now->timewait_sock ? now->state : TcpState::CLOSED;
      trace_->add(TransitionEvent{mono_now_ns(), host, tuple.local, tuple.remote, it->second,
                                  TcpState::FIN_WAIT2, to, "sock_diag (timewait minisocket)"});
      it = orphans_.erase(it);
    }
  }
}

}  // namespace tcpfault
