#include "harness/scenario/scenario.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "harness/scenario/absent_sysctl.h"
#include "harness/scenario/silent_destroy.h"
#include "netns/sysctl/sysctl_catalog.h"
#include "netns/sysctl/sysctl_key.h"

namespace tcpfault {

namespace {

constexpr std::size_t kLadderRowsInMessages = 1000;

std::size_t payload_cap_from_env() {
  const char* env = std::getenv("TCPFAULT_TRACE_PAYLOAD_CAP");
  if (!env || !*env) return kDefaultPayloadCap;
  char* end = nullptr;
  unsigned long long v = std::strtoull(env, &end, 10);
  if (*end != '\0' || *env == '-')
    throw Error(std::string("TCPFAULT_TRACE_PAYLOAD_CAP must be a number of bytes, got '") + env + "'");
  return static_cast<std::size_t>(v);
}

// Same /24 (IPv4) or /64 (IPv6) as `ref`.
bool same_subnet(const Address& a, const Address& ref) {
  if (a.family != ref.family) return false;
  std::size_t prefix = a.family == Family::V4 ? 3 : 8;
  return std::equal(a.bytes.begin(), a.bytes.begin() + prefix, ref.bytes.begin());
}

}  // namespace

std::string artifact_stem(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return out;
}

Scenario::Scenario(ScenarioOptions options) : options_(std::move(options)) {
  if (!options_.artifacts_dir)
    if (const char* env = std::getenv("TCPFAULT_ARTIFACTS"); env && *env) options_.artifacts_dir = env;
  if (!options_.trace_payload_cap) options_.trace_payload_cap = payload_cap_from_env();
  if (options_.target.is_agent()) options_.topology.agent_side = options_.target.side;
  topology_ = netns::Topology::build(options_.topology);
  trace_ = std::make_shared<Trace>(options_.name, *options_.trace_payload_cap);
  for (Host h : {Host::Client, Host::Middlebox, Host::Server})
    if (!options_.target.is_agent() || h != options_.target.side) counters_at_start_[h] = read_counters(ns(h));
  states_ = std::make_unique<StateObserver>(*topology_, trace_);
  trace_->set_refresher([states = states_.get()] { states->drain(); });
  faults_ = std::make_unique<FaultEngine>(
      topology_->middlebox(),
      FaultEngine::Options{options_.queue_number, options_.queue_max_len, options_.intercept}, *trace_,
      [this](const Address& a) { return host_of(a); });
  Address client_addr = topology_->client_addr(options_.family);
  Address server_addr = topology_->server_addr(options_.family);
  client_ = std::make_unique<KernelEndpoint>(topology_->client(), Host::Client, client_addr, server_addr,
                                             trace_, states_->shared_diag(Host::Client));
  server_ = std::make_unique<KernelEndpoint>(topology_->server(), Host::Server, server_addr, client_addr,
                                             trace_, states_->shared_diag(Host::Server));
  expect_ = std::make_unique<Expectations>(
      trace_, *states_, [this](const std::string& summary) { return failure_note(summary); });
  if (options_.target.is_agent()) start_agent();
}

Scenario::~Scenario() {
  stop_floods();  // first the load, then the rest
  transfers_.stop_all("scenario " + options_.name + " ended");
  // Handles the test still holds stop working with a clear message from here on.
  client_->close_all("closed when scenario " + options_.name + " ended");
  server_->close_all("closed when scenario " + options_.name + " ended");
  if (agent_) agent_->stop("scenario " + options_.name + " ended");
  expect_.reset();
  faults_.reset();  // lets every held packet through, unbinds the queue
  states_->drain();
  trace_->set_refresher(nullptr);  // the trace outlives the observer
  states_.reset();
  if (options_.artifacts_dir) {
    try {
      write_artifacts();
    } catch (const std::exception&) {
      // A teardown must not throw; the failure note already named any problem.
    }
  }
  client_.reset();
  server_.reset();
  topology_.reset();
}

SynFlood& Scenario::flood_syns(FloodSpec spec) {
  check_flood_spec(spec, *topology_, options_.family);
  std::lock_guard lock(floods_mu_);
  const int id = static_cast<int>(floods_.size()) + 1;
  faults_->floods().add(id, spec.sources);  // before the first SYN: its reply must find them
  try {
    floods_.push_back(std::make_unique<SynFlood>(id, spec, topology_->middlebox(), faults_->floods(), *trace_));
  } catch (...) {
    faults_->floods().remove(id);
    throw;
  }
  return *floods_.back();
}

SynFlood& Scenario::flood(int id) {
  std::lock_guard lock(floods_mu_);
  if (id < 1 || id > static_cast<int>(floods_.size()))
    throw Error("no flood #" + std::to_string(id) + " in scenario " + options_.name);
  return *floods_[id - 1];
}

void Scenario::stop_floods() {
  std::lock_guard lock(floods_mu_);
  for (auto& f : floods_) f->stop();
  for (auto& f : floods_) {
    int id = f->id();
    f.reset();  // joins its sender
    trace_->note("flood #" + std::to_string(id) + " in all: " + faults_->floods().counts(id).str());
  }
  floods_.clear();
}

Endpoint& Scenario::endpoint(Host h) {
  if (h == Host::Middlebox) throw Error("the middlebox has no endpoint: it only forwards");
  return h == Host::Client ? *client_ : *server_;
}

const netns::Namespace& Scenario::ns(Host h) const { return topology_->ns(h); }

SockAddr Scenario::server_at(std::uint16_t port) const {
  return {topology_->server_addr(options_.family), port};
}
SockAddr Scenario::client_at(std::uint16_t port) const {
  return {topology_->client_addr(options_.family), port};
}

Host Scenario::host_of(const Address& a) const {
  if (same_subnet(a, topology_->client_addr(a.family))) {
    return a == topology_->middlebox_addr(Host::Client, a.family) ? Host::Middlebox : Host::Client;
  }
  if (same_subnet(a, topology_->server_addr(a.family))) {
    return a == topology_->middlebox_addr(Host::Server, a.family) ? Host::Middlebox : Host::Server;
  }
  return Host::Middlebox;
}

void Scenario::apply_sysctl_conf(Host h, const std::string& text) {
  for (const auto& setting : netns::parse_sysctl_conf(text)) {
    try {
      set_sysctl(h, setting.key, setting.value);
    } catch (const TargetFailure&) {
      throw;  // a broken agent is never a setting to skip
    } catch (const NotApplicable& e) {
      if (!setting.ignore_errors)
        throw NotApplicable(std::string(e.what()) + " (sysctl.conf line " + std::to_string(setting.line) + ")");
      trace_->note("sysctl " + netns::to_string(h) + " " + setting.key + " ignored ('-' line): " + e.what());
    } catch (const Error& e) {
      if (!setting.ignore_errors) throw Error("line " + std::to_string(setting.line) + ": " + e.what());
      trace_->note("sysctl " + netns::to_string(h) + " " + setting.key + " ignored ('-' line): " + e.what());
    }
  }
}

namespace {
// "net/ipv4/tcp_tw_reuse" and "net.ipv4.tcp_tw_reuse" name the same sysctl.
std::string dotted_key(std::string key) {
  if (key.find('.') == std::string::npos) std::replace(key.begin(), key.end(), '/', '.');
  return key;
}

}  // namespace

std::string Scenario::write_sysctl_of(Host h, const std::string& key, const std::string& value) {
  if (on_agent(h)) return write_agent_sysctl(h, dotted_key(key), value);
  netns::write_sysctl(ns(h), key, value);
  return "";
}

void Scenario::set_sysctl(Host h, const std::string& key, const std::string& value) {
  auto held = held_sysctls_.find({h, dotted_key(key)});
  if (held != held_sysctls_.end() && netns::value_fields(held->second.value) != netns::value_fields(value)) {
    write_sysctl_of(h, key, held->second.value);
    trace_->note("sysctl " + netns::to_string(h) + " " + key + " = " + held->second.value + " (" +
                 held->second.holder + ": the case asked for " + value + ")");
    return;
  }
  if (!on_agent(h) && !netns::has_sysctl(ns(h), key)) {
    if (auto stand_in = stand_in_for_absent_sysctl(*topology_, h, key, value)) {
      stood_in_[{h, dotted_key(key)}] = netns::value_fields(value);
      trace_->note(*stand_in);
      return;
    }
  }
  const std::string how = write_sysctl_of(h, key, value);
  trace_->note("sysctl " + netns::to_string(h) + " " + key + " = " + value + how);
}

void Scenario::hold_sysctl(Host h, const std::string& key, const std::string& value, const std::string& holder) {
  write_sysctl_of(h, key, value);  // refused values fail here, before anything is held
  held_sysctls_[{h, dotted_key(key)}] = HeldSysctl{value, holder};
  trace_->note("sysctl " + netns::to_string(h) + " " + key + " = " + value + " (held by " + holder + ")");
}

std::string Scenario::sysctl(Host h, const std::string& key) const {
  if (on_agent(h)) {
    declared_sysctl(h, dotted_key(key));
    return agent_->sysctls().get(dotted_key(key));
  }
  return netns::read_sysctl(ns(h), key);
}

bool Scenario::has_sysctl(Host h, const std::string& key) const {
  if (on_agent(h)) {
    declared_sysctl(h, dotted_key(key));  // NotApplicable when the stack has no such knob
    return true;
  }
  return netns::has_sysctl(ns(h), key);
}

std::string Scenario::sysctl_or_built_in(Host h, const std::string& key) const {
  if (on_agent(h)) return sysctl(h, key);  // a stack's knob has no older kernel to stand in for
  if (has_sysctl(h, key)) return sysctl(h, key);
  if (auto stood_in = stood_in_.find({h, dotted_key(key)}); stood_in != stood_in_.end()) return stood_in->second;
  if (const netns::AddedKey* added = netns::added_later(netns::parse_sysctl_key(key)))
    return std::string(added->built_in);
  return sysctl(h, key);  // the kernel's own error
}

int Scenario::sysctl_int(Host h, const std::string& key) const {
  std::string v = sysctl(h, key);
  try {
    return std::stoi(v);
  } catch (const std::exception&) {
    throw Error("sysctl " + key + " is not a number: '" + v + "'");
  }
}

Counters Scenario::counters(Host h) const {
  if (on_agent(h)) return agent_counters(h, "");
  return read_counters(ns(h));
}

std::int64_t Scenario::counter_delta(Host h, const std::string& key) const {
  auto now = on_agent(h) ? agent_counters(h, key) : counters(h);
  auto it = now.find(key);
  if (it == now.end())
    throw Error("no MIB counter " + key + " in the " + netns::to_string(h) +
                " namespace (names look like TcpExt.TCPTimeWaitOverflow or Tcp.RetransSegs)");
  const auto& start = counters_at_start_.at(h);
  auto before = start.find(key);
  return it->second - (before == start.end() ? 0 : before->second);
}

void Scenario::expect_state(const SocketRef& s, TcpState want, milliseconds within, std::source_location where) const {
  const ExpectationSite site(where);
  expect_->state(s, want, within);
}
void Scenario::expect_transitions(const SocketRef& s, const std::vector<TcpState>& seq, milliseconds within,
                                  std::source_location where) const {
  const ExpectationSite site(where);
  expect_->transitions(s, seq, within);
}
void Scenario::expect_segments(const Match& m, int count, milliseconds within, std::source_location where) const {
  const ExpectationSite site(where);
  expect_->segments(m, count, within);
}
void Scenario::expect_no_segment(const Match& m, milliseconds during, const Since& since, std::source_location where) const {
  const ExpectationSite site(where);
  expect_->no_segment(m, during, since);
}
void Scenario::expect_stays_until(const SocketRef& s, TcpState held, const Match& m, milliseconds within,
                                  std::source_location where) const {
  const ExpectationSite site(where);
  expect_->stays_until(s, held, m, within);
}
void Scenario::expect_error(const CallResult& r, int err, std::source_location where) const {
  const ExpectationSite site(where);
  expect_->error(r, err);
}
void Scenario::expect_ok(const CallResult& r, std::source_location where) const {
  const ExpectationSite site(where);
  expect_->ok(r);
}

void Scenario::expect_counter(Host h, const std::string& key, std::int64_t at_least,
                              std::optional<std::int64_t> at_most, std::source_location where) const {
  const ExpectationSite site(where);
  auto delta = counter_delta(h, key);
  if (delta >= at_least && (!at_most || delta <= *at_most)) return;
  std::string want = at_most ? (at_least == *at_most ? std::to_string(at_least)
                                                     : std::to_string(at_least) + ".." + std::to_string(*at_most))
                             : ">= " + std::to_string(at_least);
  expect_->fail(netns::to_string(h) + " counter " + key + " grows by " + want, want,
                std::to_string(delta));
}

CallResult Scenario::close_after_acking_fin(Connection& end, milliseconds within, std::source_location where) const {
  const ExpectationSite site(where);
  expect_segments(Match().role(ACK_OF_FIN | PURE_ACK).sent_by(end.host()).of_connection(end.tuple()).nth(1), 1,
                  within);
  return end.close();
}

void Scenario::expect_no_undecided_drops(std::source_location where) const {
  const ExpectationSite site(where);
  auto st = faults_->stats();
  if (st.undecided_drops() == 0) return;
  expect_->fail("the middlebox loses no packet that no rule asked for", "0 packets dropped by the kernel's queue",
                std::to_string(st.queue_dropped) + " dropped with the queue full (queue_max_len " +
                    std::to_string(options_.queue_max_len) + "), " + std::to_string(st.user_dropped) +
                    " not handed to the harness (socket buffer full)");
}

SegmentEvent Scenario::expect_released(int rule, milliseconds within, int nth, std::source_location where) const {
  const ExpectationSite site(where);
  // A removed rule's held segments still go when their time comes: only a rule still
  // there can be checked for holding anything at all.
  std::string label = "removed";
  if (auto r = faults_->rule(rule)) {
    label = r->label.empty() ? r->describe() : r->label;
    if (!r->holds())
      throw Error("rule #" + std::to_string(rule) + " (" + label + ") never keeps a segment back: "
                  "expect_released is for hold, delay and random rules that delay or reorder");
  }
  return tcpfault::expect_released(*expect_, *trace_, rule, label, nth, within);
}

void Scenario::expect_schedule(const Match& m, const Schedule& schedule, const ScheduleExpectation& o,
                               std::source_location where) const {
  const ExpectationSite site(where);
  tcpfault::expect_schedule(*expect_, *trace_, *states_, m, schedule, o);
}

void Scenario::destroy_silently(const SocketRef& s, std::source_location where) {
  const ExpectationSite site(where);
  require_kernel(s.host, "has no sock_diag to destroy its socket with (destroy_silently)");
  tcpfault::destroy_silently(*faults_, states_->diag(s.host), *trace_, *expect_, s);
}

std::optional<TcpInfo> Scenario::tcp_info(const SocketRef& s) const {
  require_kernel(s.host, "has no TCP_INFO (a Linux socket option)");
  auto info = states_->socket(s);
  return info ? info->tcp : std::nullopt;
}

std::string Scenario::artifacts_or_failure_dir() const {
  if (options_.artifacts_dir) return *options_.artifacts_dir;
  return options_.failure_artifacts_dir.value_or((std::filesystem::temp_directory_path() / "tcpfault").string());
}

ArtifactPaths Scenario::write_artifacts(std::optional<std::string> dir) const {
  std::string where = dir ? *dir : artifacts_or_failure_dir();
  return tcpfault::write_artifacts(*trace_, where, artifact_stem(options_.name));
}

std::string Scenario::failure_note(const std::string&) const {
  trace_->refresh();
  if (agent_) agent_->states().record_inferred();  // the ladder shows the agent's states too
  std::string note;
  try {
    note = "  trace: " + write_artifacts().str() + "\n";
  } catch (const std::exception& e) {
    note = std::string("  trace: not written (") + e.what() + ")\n";
  }
  // A long timeline (a bulk transfer) is cut in the message; the file has it whole.
  return note + render_ladder(*trace_, kLadderRowsInMessages);
}

void Scenario::catch_up_states() {
  if (states_) states_->drain();
  if (agent_) agent_->catch_up();
}

}  // namespace tcpfault
