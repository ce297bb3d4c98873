#include "harness/intercept/syn_flood.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "netns/error.h"

namespace tcpfault {

namespace {

// Source ports: flood SYN i comes from sources[i % n], port kFirstPort + i / n, so
// every SYN has a 4-tuple of its own and opens a request of its own.
constexpr std::uint16_t kFirstPort = 10000;

std::string rate_text(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g/s", rate);
  return buf;
}

std::string ms_text(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", double(ns) / 1e6);
  return buf;
}

// A well-mixed 32-bit value from a counter (splitmix32 style): the flood's ISNs.
std::uint32_t mix(std::uint32_t x) {
  x += 0x9e3779b9u;
  x = (x ^ (x >> 16)) * 0x85ebca6bu;
  x = (x ^ (x >> 13)) * 0xc2b2ae35u;
  return x ^ (x >> 16);
}

}  // namespace

std::vector<Address> flood_sources(const netns::Topology& topology, Family family, int n) {
  if (n < 1 || n > kMaxFloodSources)
    throw Error("a flood takes 1 to " + std::to_string(kMaxFloodSources) +
                " sources (the unused addresses of the client subnet), not " + std::to_string(n));
  std::vector<Address> out;
  for (int i = 1; i <= n; ++i) out.push_back(topology.unused_client_addr(family, i));
  return out;
}

void check_flood_spec(const FloodSpec& spec, const netns::Topology& topology, Family family) {
  if (spec.count < 1 || spec.count > kMaxFloodCount)
    throw Error("flood count must be 1 to " + std::to_string(kMaxFloodCount) + " SYNs, not " +
                std::to_string(spec.count));
  if (!std::isfinite(spec.rate) || spec.rate <= 0 || spec.rate > kMaxFloodRate)
    throw Error("flood rate must be more than 0 and at most " + rate_text(kMaxFloodRate) + " SYNs per second, not " +
                rate_text(spec.rate));
  if (double seconds = spec.count / spec.rate; seconds > kMaxFloodSeconds) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "a flood of %d SYNs at %s would last %.1f s; at most %g s: raise the rate or lower the count",
                  spec.count, rate_text(spec.rate).c_str(), seconds, kMaxFloodSeconds);
    throw Error(buf);
  }
  const Address server = topology.server_addr(family);
  if (spec.target.addr != server || spec.target.port == 0)
    throw Error("a flood goes to a port on the server's address " + server.str() + ", not to " +
                spec.target.str() + " (its replies must pass the middlebox)");
  if (spec.sources.empty()) throw Error("a flood needs at least one source address");
  if (spec.sources.size() > static_cast<std::size_t>(kMaxFloodSources))
    throw Error("a flood takes at most " + std::to_string(kMaxFloodSources) + " sources");
  const std::string range = topology.unused_client_addr(family, 1).str() + " .. " +
                            topology.unused_client_addr(family, kMaxFloodSources).str();
  std::set<Address> unused, seen;
  for (int n = 1; n <= kMaxFloodSources; ++n) unused.insert(topology.unused_client_addr(family, n));
  for (const auto& a : spec.sources) {
    if (!unused.count(a))
      throw Error("flood source " + a.str() + " is not an unused address of the client subnet; use " + range +
                  " (or give the number of sources)");
    if (!seen.insert(a).second) throw Error("flood source " + a.str() + " is given twice");
  }
  const int per_source = (spec.count + static_cast<int>(spec.sources.size()) - 1) /
                         static_cast<int>(spec.sources.size());
  if (kFirstPort + per_source - 1 > 65535)
    throw Error("a flood of " + std::to_string(spec.count) + " SYNs from " + std::to_string(spec.sources.size()) +
                " sources runs out of source ports; use more sources");
}

SynFlood::SynFlood(int id, FloodSpec spec, const netns::Namespace& middlebox, FloodReplies& replies,
                   Trace& trace)
    : id_(id), spec_(std::move(spec)), replies_(replies), trace_(trace), injector_(middlebox),
      isn_seed_(mix(static_cast<std::uint32_t>(id) * 7919u + spec_.target.port)) {
  trace_.note(describe() + " started; its segments are kept as bulk (pcapng, JSON), its replies dropped "
                           "at the middlebox");
  thread_ = std::thread([this] { run(); });
}

SynFlood::~SynFlood() {
  stop();
  if (thread_.joinable()) thread_.join();
}

std::string SynFlood::describe() const {
  return "flood #" + std::to_string(id_) + ": " + std::to_string(spec_.count) + " SYNs at " +
         rate_text(spec_.rate) + " from " + std::to_string(spec_.sources.size()) + " unused client-subnet " +
         (spec_.sources.size() == 1 ? "address" : "addresses") + " to " + spec_.target.str();
}

void SynFlood::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
}

bool SynFlood::wait(Clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  return changed_.wait_until(lock, deadline, [&] { return finished_; });
}

bool SynFlood::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

std::optional<std::string> SynFlood::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

Packet SynFlood::syn(int i) const {
  const auto n = static_cast<int>(spec_.sources.size());
  SegmentSpec s;
  s.src = {spec_.sources[i % n], static_cast<std::uint16_t>(kFirstPort + i / n)};
  s.dst = spec_.target;
  s.seq = mix(isn_seed_ + static_cast<std::uint32_t>(i));
  s.flags = tcp_flag::SYN;
  s.window = 64240;
  // The options a Linux client sends, so the listener treats the SYN as any other.
  s.options.mss = 1460;
  s.options.sack_permitted = true;
  s.options.timestamp = std::make_pair(static_cast<std::uint32_t>(i + 1), 0u);
  s.options.wscale = 7;
  return build_packet(s);
}

void SynFlood::run() {
  const auto start = Clock::now();
  const std::int64_t start_ns = mono_now_ns();
  int sent = 0;
  std::optional<std::string> failure;
  while (sent < spec_.count) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
    }
    // Everything due by now goes out (catching up after a late wake-up), then wait
    // for the next one's time or a stop.
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const int due = std::min(spec_.count, 1 + static_cast<int>(elapsed * spec_.rate));
    for (; sent < due; ++sent) {
      Packet p = syn(sent);
      SegmentEvent ev;
      ev.t_ns = mono_now_ns();
      ev.from = Host::Middlebox;
      ev.to = Host::Server;
      ev.classified.roles = roles_from_flags(p);
      ev.fate = "flood #" + std::to_string(id_) + ": sent";
      ev.packet = p;
      try {
        injector_.send(p);
      } catch (const std::exception& e) {
        failure = e.what();
        break;
      }
      trace_.add_bulk_segment(std::move(ev));
      replies_.note_sent(id_);
    }
    if (failure || sent >= spec_.count) break;
    const auto next = start + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(sent / spec_.rate));
    std::unique_lock lock(mu_);
    if (changed_.wait_until(lock, next, [&] { return stop_; })) break;
  }
  std::string how = failure ? "failed after " + std::to_string(sent) + " SYNs: " + *failure
                    : sent < spec_.count ? "stopped after " + std::to_string(sent) + " SYNs"
                                         : "finished";
  trace_.note("flood #" + std::to_string(id_) + " " + how + " (" + ms_text(mono_now_ns() - start_ns) +
              "): " + counts().str() + " so far");
  {
    std::lock_guard lock(mu_);
    finished_ = true;
    error_ = failure;
  }
  changed_.notify_all();
}

}  // namespace tcpfault
