#include "harness/wire/wire_state_comparison.h"

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "harness/trace/trace_queries.h"
#include "harness/wire/wire_state_causes.h"

namespace tcpfault {

std::string to_string(StepAgreement a) {
  switch (a) {
    case StepAgreement::Agree: return "agree";
    case StepAgreement::KernelOnly: return "kernel-only";
    case StepAgreement::WireOnly: return "wire-only";
  }
  return "?";
}

std::size_t EndComparison::agreements() const {
  return static_cast<std::size_t>(std::count_if(steps.begin(), steps.end(), [](auto& s) { return s.agrees(); }));
}
std::size_t EndComparison::disagreements() const { return steps.size() - agreements(); }

std::vector<const EndComparison*> WireStateComparison::ends() const {
  std::vector<const EndComparison*> out;
  for (const auto& c : connections) {
    out.push_back(&c.opener);
    out.push_back(&c.acceptor);
  }
  for (const auto& e : kernel_only_sockets) out.push_back(&e);
  return out;
}

std::size_t WireStateComparison::agreements() const {
  std::size_t n = 0;
  for (const auto* e : ends()) n += e->agreements();
  return n;
}
std::size_t WireStateComparison::disagreements() const {
  std::size_t n = 0;
  for (const auto* e : ends()) n += e->disagreements();
  return n;
}
std::size_t WireStateComparison::unexplained() const {
  std::size_t n = 0;
  for (const auto* e : ends())
    for (const auto& s : e->steps) n += s.cause == DisagreementCause::Unexplained;
  return n;
}

namespace {

Host other(Host h) { return h == Host::Client ? Host::Server : Host::Client; }

// How far apart two SYN_SENT sockets' connect() and the other end's SYN may be for
// them to be one simultaneous open.
constexpr std::int64_t kSimultaneousOpen_ns = 1'000'000'000;
// An agent's state event is dated when the agent saw the change, which may be after the
// segment it caused left (lwIP reports SYN_SENT once tcp_connect() has sent the SYN).
constexpr std::int64_t kAgentEventLag_ns = 50'000'000;

// One kernel socket's life, from a start to wherever it was last seen.
struct KernelSocket {
  Host host = Host::Client;
  std::uint64_t id = 0;
  SockAddr local, remote;
  std::vector<TransitionEvent> steps;
  bool listener() const { return remote.port == 0; }
};

bool starts_socket(const TransitionEvent& t) {
  return (t.from == TcpState::CLOSED && (t.to == TcpState::SYN_SENT || t.to == TcpState::LISTEN)) ||
         (t.from == TcpState::LISTEN && t.to == TcpState::SYN_RECV);
}

std::vector<KernelSocket> kernel_sockets(const std::vector<TransitionEvent>& transitions) {
  std::vector<KernelSocket> out;
  // By identity and 4-tuple: the kernel gives a freed socket's address to later sockets
  // (a failed connect() right after an orphan's handover, say), and the orphan's later
  // step still carries it.
  std::map<std::tuple<Host, std::uint64_t, SockAddr, SockAddr>, std::size_t> named;
  // A connecting socket before connect() chose its port (its CLOSED -> SYN_SENT).
  std::map<std::pair<Host, std::uint64_t>, std::size_t> unnamed;
  for (const auto& t : transitions) {
    if (t.host == Host::Middlebox) continue;
    std::optional<std::size_t> at;
    if (!starts_socket(t)) {
      if (t.local.port == 0) {
        if (auto u = unnamed.find({t.host, t.socket}); u != unnamed.end()) at = u->second;
      } else if (auto n = named.find({t.host, t.socket, t.local, t.remote}); n != named.end()) {
        at = n->second;
      } else if (auto u = unnamed.find({t.host, t.socket}); u != unnamed.end()) {
        // The next step of a socket that had no port yet names it.
        const KernelSocket& k = out[u->second];
        if (k.remote == t.remote && k.steps.back().to == t.from) {
          at = u->second;
          unnamed.erase(u);
        }
      }
    }
    if (!at) {
      out.push_back({t.host, t.socket, t.local, t.remote, {}});
      at = out.size() - 1;
    }
    KernelSocket& k = out[*at];
    k.local = t.local;
    if (t.local.port == 0) unnamed[{t.host, t.socket}] = *at;
    else named[{t.host, t.socket, t.local, t.remote}] = *at;
    k.steps.push_back(t);
  }
  return out;
}

// The socket's life was over before `t`.
bool closed_before(const KernelSocket& k, std::int64_t t) {
  return k.steps.back().to == TcpState::CLOSED && k.steps.back().t_ns < t;
}

// Where a wire connection's ends are, from its segments.
struct WireEnds {
  std::int64_t start_ns = 0;
  SockAddr opener, acceptor;
  Host opener_host = Host::Client, acceptor_host = Host::Server;
};

std::map<std::uint64_t, WireEnds> wire_ends(const std::vector<SegmentEvent>& segments) {
  std::map<std::uint64_t, WireEnds> out;
  std::map<std::uint64_t, bool> from_host;  // the ends were taken from a segment a host sent
  for (const auto& s : segments) {
    if (!s.classified.connection) continue;
    auto [it, fresh] = out.try_emplace(s.classified.connection);
    const bool real = s.from != Host::Middlebox;
    if (!fresh && (from_host[s.classified.connection] || !real)) continue;
    WireEnds& w = it->second;
    if (fresh) w.start_ns = s.t_ns;
    const Host to = s.to;
    const Host by = real ? s.from : other(to);
    const SockAddr src = s.packet.source(), dst = s.packet.destination();
    if (s.classified.from_opener) {
      w.opener = src, w.acceptor = dst, w.opener_host = by, w.acceptor_host = to;
    } else {
      w.opener = dst, w.acceptor = src, w.opener_host = to, w.acceptor_host = by;
    }
    from_host[s.classified.connection] = real;
  }
  return out;
}

// The kernel's and the wire's steps of one end, aligned on their longest common
// subsequence; the rest interleaved by time.
std::vector<AlignedStep> align(const std::vector<TransitionEvent>& kernel, const std::vector<InferredStep>& wire) {
  const std::size_t n = kernel.size(), m = wire.size();
  auto same = [&](std::size_t i, std::size_t j) { return kernel[i].from == wire[j].from && kernel[i].to == wire[j].to; };
  std::vector<std::vector<std::size_t>> lcs(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;)
    for (std::size_t j = m; j-- > 0;)
      lcs[i][j] = same(i, j) ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  auto kernel_only = [&](std::size_t i) {
    AlignedStep a;
    a.agreement = StepAgreement::KernelOnly;
    a.from = kernel[i].from, a.to = kernel[i].to;
    a.kernel_t_ns = kernel[i].t_ns, a.kernel_source = kernel[i].source;
    return a;
  };
  auto wire_only = [&](std::size_t j) {
    AlignedStep a;
    a.agreement = StepAgreement::WireOnly;
    a.from = wire[j].from, a.to = wire[j].to;
    a.wire_t_ns = wire[j].t_ns, a.wire_segment = wire[j].segment, a.wire_reason = wire[j].reason;
    return a;
  };
  std::vector<AlignedStep> out;
  std::size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && same(i, j) && lcs[i][j] == lcs[i + 1][j + 1] + 1) {
      AlignedStep a = kernel_only(i);
      a.agreement = StepAgreement::Agree;
      a.wire_t_ns = wire[j].t_ns, a.wire_segment = wire[j].segment, a.wire_reason = wire[j].reason;
      out.push_back(std::move(a));
      ++i, ++j;
      continue;
    }
    // Either side may be skipped without losing the best alignment: take the earlier.
    const bool can_skip_kernel = i < n && lcs[i][j] == lcs[i + 1][j];
    const bool can_skip_wire = j < m && lcs[i][j] == lcs[i][j + 1];
    if (can_skip_kernel && (!can_skip_wire || kernel[i].t_ns <= wire[j].t_ns)) {
      out.push_back(kernel_only(i++));
    } else {
      out.push_back(wire_only(j++));
    }
  }
  return out;
}

EndComparison compare_end(const InferredEnd* wire, WireEnd end, Host host, const SockAddr& local,
                          const SockAddr& remote, const std::vector<const KernelSocket*>& sockets,
                          const std::map<Host, std::string>& agents) {
  EndComparison e;
  e.end = end, e.host = host, e.local = local, e.remote = remote;
  if (auto a = agents.find(host); a != agents.end()) e.stack = a->second;
  e.on_wire = wire != nullptr;
  if (wire) e.wire_notes = wire->notes;
  e.kernel_sockets = sockets.size();
  std::vector<TransitionEvent> kernel;
  for (const auto* k : sockets)
    for (const auto& t : k->steps)
      if (t.from != t.to) kernel.push_back(t);
  std::stable_sort(kernel.begin(), kernel.end(), [](auto& a, auto& b) { return a.t_ns < b.t_ns; });
  e.steps = align(kernel, wire ? wire->steps : std::vector<InferredStep>{});
  return e;
}

// The agents' sides: those listed, and any host with an agent's state event.
std::map<Host, std::string> agent_sides(const ComparisonInput& input) {
  std::map<Host, std::string> out = input.agents;
  for (const auto& t : input.transitions)
    if (t.source == kAgentStateEvent) out.try_emplace(t.host, "agent");
  return out;
}

// An agent's side has only its events: a step the kernel's observer or sock_diag put on
// that host, or one inferred from the wire for an agent without events, is none of its.
std::vector<TransitionEvent> own_steps(const std::vector<TransitionEvent>& transitions,
                                       const std::map<Host, std::string>& agents) {
  std::vector<TransitionEvent> out;
  for (const auto& t : transitions)
    if (!agents.count(t.host) || t.source == kAgentStateEvent) out.push_back(t);
  return out;
}

}  // namespace

WireStateComparison compare_wire_states(const ComparisonInput& input) {
  const auto inferred = infer_wire_states(input.segments);
  const auto ends = wire_ends(input.segments);
  const auto agents = agent_sides(input);
  const auto sockets = kernel_sockets(own_steps(input.transitions, agents));

  // Each kernel socket to the wire connection (and end) it belongs to.
  std::map<std::pair<std::uint64_t, WireEnd>, std::vector<const KernelSocket*>> owned;
  WireStateComparison out;
  for (const auto& k : sockets) {
    if (k.listener()) continue;
    struct Candidate {
      std::uint64_t id;
      WireEnd end;
      std::int64_t start;
    };
    std::vector<Candidate> candidates;
    for (const auto& [id, w] : ends) {
      if (k.host == w.opener_host && k.local == w.opener && k.remote == w.acceptor)
        candidates.push_back({id, WireEnd::Opener, w.start_ns});
      if (k.host == w.acceptor_host && k.local == w.acceptor && k.remote == w.opener)
        candidates.push_back({id, WireEnd::Acceptor, w.start_ns});
    }
    const std::int64_t t0 = k.steps.front().t_ns;
    const Candidate* pick = nullptr;
    if (!candidates.empty() && k.steps.front().to == TcpState::SYN_SENT && agents.count(k.host)) {
      // An agent's SYN_SENT may be dated just after its SYN: the connection it opened
      // that starts nearest to it, within that lag.
      for (const auto& c : candidates)
        if (c.end == WireEnd::Opener && c.start >= t0 - kAgentEventLag_ns && !closed_before(k, c.start) &&
            (!pick || std::llabs(c.start - t0) < std::llabs(pick->start - t0)))
          pick = &c;
      for (const auto& c : candidates)
        if (!pick && c.end == WireEnd::Acceptor && std::llabs(c.start - t0) < kSimultaneousOpen_ns) pick = &c;
    } else if (!candidates.empty() && k.steps.front().to == TcpState::SYN_SENT) {
      // Its SYN follows its connect(): the first connection it opened that starts after
      // it, else (a simultaneous open) the one the other end opened nearest to it. A
      // connect() that failed before sending anything opened none.
      for (const auto& c : candidates)
        if (c.end == WireEnd::Opener && c.start >= t0 && !closed_before(k, c.start)) {
          pick = &c;
          break;
        }
      for (const auto& c : candidates)
        if (!pick && c.end == WireEnd::Acceptor && std::llabs(c.start - t0) < kSimultaneousOpen_ns) pick = &c;
    } else if (!candidates.empty()) {
      for (const auto& c : candidates)
        if (c.start <= t0) pick = &c;
      if (!pick) pick = &candidates.front();
    }
    if (!pick) {
      out.kernel_only_sockets.push_back(
          compare_end(nullptr, WireEnd::Opener, k.host, k.local, k.remote, {&k}, agents));
      continue;
    }
    owned[{pick->id, pick->end}].push_back(&k);
  }

  for (const auto& c : inferred) {
    const WireEnds& w = ends.at(c.id);
    ConnectionComparison cc;
    cc.id = c.id;
    cc.opener = compare_end(&c.opener, WireEnd::Opener, w.opener_host, w.opener, w.acceptor,
                            owned[{c.id, WireEnd::Opener}], agents);
    cc.acceptor = compare_end(&c.acceptor, WireEnd::Acceptor, w.acceptor_host, w.acceptor, w.opener,
                              owned[{c.id, WireEnd::Acceptor}], agents);
    out.connections.push_back(std::move(cc));
  }
  explain_disagreements(out, input);
  return out;
}

namespace {
WireStateComparison compare_now(const Trace& trace, const std::map<Host, std::string>& agents) {
  trace.refresh();
  ComparisonInput in;
  in.origin_ns = trace.start_ns();
  in.agents = agents;
  trace.visit_segments(0, [&](const SegmentEvent& s) { in.segments.push_back(s); });
  for (const auto& e : trace.other_events()) {
    if (const auto* t = std::get_if<TransitionEvent>(&e)) in.transitions.push_back(*t);
    if (const auto* c = std::get_if<CallEvent>(&e)) in.calls.push_back(*c);
    if (const auto* n = std::get_if<NoteEvent>(&e)) in.notes.push_back(*n);
  }
  return compare_wire_states(in);
}
}  // namespace

namespace {
WireStateComparison settled(const Trace& trace, std::chrono::milliseconds settle, const std::map<Host, std::string>& agents,
                            const std::function<void()>& before) {
  const auto deadline = Clock::now() + settle;
  for (;;) {
    if (before) before();
    const auto seen = trace.version();
    WireStateComparison result = compare_now(trace, agents);
    if (!result.unexplained() || !trace.wait_change(seen, deadline)) return result;
  }
}
}  // namespace

WireStateComparison compare_wire_states(const Trace& trace, std::chrono::milliseconds settle,
                                        const std::map<Host, std::string>& agents) {
  return settled(trace, settle, agents, nullptr);
}

WireStateComparison compare_wire_states(StateObserver& states, const Trace& trace, std::chrono::milliseconds settle,
                                        const std::map<Host, std::string>& agents) {
  auto fill_in = [&] {
    states.drain();
    std::vector<SegmentEvent> segments;
    trace.visit_segments(0, [&](const SegmentEvent& s) { segments.push_back(s); });
    std::set<std::pair<Host, FourTuple>> ends;
    for (const auto& [id, w] : wire_ends(segments)) {
      ends.insert({w.opener_host, FourTuple{w.opener, w.acceptor}});
      ends.insert({w.acceptor_host, FourTuple{w.acceptor, w.opener}});
    }
    const auto events = trace.other_events();
    for (const auto& [host, tuple] : ends) {
      // The kernel has no socket of an agent's side: sock_diag would "fill in" its close.
      if (host == Host::Middlebox || agents.count(host)) continue;
      const SocketRef ref{host, tuple};
      states.reconcile(ref, transitions_of(events, ref));
    }
  };
  return settled(trace, settle, agents, fill_in);
}

std::string WireStateComparison::describe(std::int64_t origin_ns) const {
  auto at = [&](std::int64_t t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%+.3f ms", double(t - origin_ns) / 1e6);
    return std::string(buf);
  };
  std::string out;
  auto end_block = [&](const EndComparison& e, const std::string& title) {
    out += title + " " + to_string(e.host) + (e.agent() ? " (" + e.stack + ")" : "") + " " + e.local.str() + " > " +
           e.remote.str() + ": " + std::to_string(e.agreements()) + " agree, " + std::to_string(e.disagreements()) +
           " disagree\n";
    for (const auto& s : e.steps) {
      // An agent's steps under its own name: "gvisor-only", "gvisor +1.000 ms".
      const std::string agreement =
          s.agreement == StepAgreement::KernelOnly ? e.stack + "-only" : to_string(s.agreement);
      out += "  " + agreement + " " + to_string(s.from) + " -> " + to_string(s.to);
      if (s.kernel_t_ns) out += "  " + e.stack + " " + at(s.kernel_t_ns) + " (" + s.kernel_source + ")";
      if (s.wire_t_ns) out += "  wire " + at(s.wire_t_ns) + " (" + s.wire_reason + ", segment " + std::to_string(s.wire_segment) + ")";
      out += "\n";
      if (s.cause) out += "    " + to_string(*s.cause) + ": " + s.explanation + "\n";
    }
  };
  for (const auto& c : connections) {
    out += "connection " + std::to_string(c.id) + ":\n";
    end_block(c.opener, " opener");
    end_block(c.acceptor, " acceptor");
  }
  for (const auto& e : kernel_only_sockets) end_block(e, e.stack + " socket not on the wire:");
  return out;
}

}  // namespace tcpfault
