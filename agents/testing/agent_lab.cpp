#include "agents/testing/agent_lab.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "netns/address_slot.h"
#include "netns/ip_config.h"
#include "netns/link_readiness.h"
#include "netns/route_socket.h"
#include "netns/router_advert.h"
#include "netns/slot_plan.h"
#include "netns/veth_link.h"

extern char** environ;

namespace tcpfault::agent_testing {
namespace {

std::string err_text(int e) { return std::strerror(e); }

int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits for `events` on a kernel fd; false at the deadline.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, ms_left(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw std::runtime_error("poll: " + err_text(errno));
  }
}

UniqueFd open_tap(const std::string& name) {
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!fd.valid()) throw std::runtime_error("open /dev/net/tun: " + err_text(errno));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) throw std::runtime_error("TUNSETIFF " + name + ": " + err_text(errno));
  return fd;
}

void write_proc(const std::string& path, const std::string& value) {
  std::ofstream f(path);
  f << value;
  f.close();
  if (!f) throw std::runtime_error("cannot write " + value + " to " + path);
}

}  // namespace

// ---- AgentClient

AgentClient::AgentClient(const netns::Namespace& ns, int tap_fd, const std::string& path) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::runtime_error("socketpair: " + err_text(errno));
  control_.reset(sv[0]);
  UniqueFd child_end(sv[1]);

  std::vector<std::string> env_strings = {"TCPFAULT_AGENT_FD=3", "TCPFAULT_TAP_FD=4"};
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "TCPFAULT_", 9) != 0) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string path_copy = path;
  char* argv[] = {path_copy.data(), nullptr};
  const pid_t parent = ::getpid();
  const int ns_fd = ns.fd(), control_fd = child_end.get();

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork: " + err_text(errno));
  if (pid_ == 0) {
    // Only async-signal-safe calls from here on.
    if (::setns(ns_fd, CLONE_NEWNET) != 0) ::_exit(126);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);
    const int c = ::fcntl(control_fd, F_DUPFD, 10), t = ::fcntl(tap_fd, F_DUPFD, 10);
    if (c < 0 || t < 0 || ::dup2(c, 3) != 3 || ::dup2(t, 4) != 4) ::_exit(124);
    ::execve(argv[0], argv, envp.data());
    ::_exit(127);
  }
  reader_ = std::thread([this] { read_loop(); });
}

AgentClient::~AgentClient() {
  if (pid_ > 0 && !exit_status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  ::shutdown(control_.get(), SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
}

void AgentClient::read_loop() {
  std::string buf;
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(control_.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0, nl;
    while ((nl = buf.find('\n', start)) != std::string::npos) {
      const std::string line = buf.substr(start, nl - start);
      start = nl + 1;
      Json m = Json::parse(line, nullptr, false);
      std::lock_guard lock(mu_);
      if (m.is_discarded() || !m.is_object()) {
        garbage_.push_back(line);
      } else if (m.contains("event")) {
        (m["event"] == "log" ? logs_ : events_).push_back(std::move(m));
      } else if (m.contains("id") && m["id"].is_number_integer()) {
        const auto id = m["id"].get<std::int64_t>();
        replies_[id] = std::move(m);
      } else if (m.contains("id") && m["id"].is_null()) {
        null_replies_.push_back(std::move(m));
      } else {
        garbage_.push_back(line);
      }
      cv_.notify_all();
    }
    buf.erase(0, start);
  }
  std::lock_guard lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

std::int64_t AgentClient::send(Json request) {
  std::int64_t id;
  {
    std::lock_guard lock(mu_);
    id = next_id_++;
  }
  request["id"] = id;
  send_raw(request.dump() + "\n");
  return id;
}

void AgentClient::send_raw(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(control_.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("write to the agent: " + err_text(errno));
    off += static_cast<std::size_t>(n);
  }
}

Json AgentClient::reply(std::int64_t id, Clock::duration within) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, within, [&] { return replies_.contains(id) || eof_; }))
    throw std::runtime_error("no reply to request " + std::to_string(id) + " in time");
  if (!replies_.contains(id)) throw std::runtime_error("the agent closed the control socket before replying to " + std::to_string(id));
  Json r = std::move(replies_[id]);
  replies_.erase(id);
  if (!garbage_.empty()) throw std::runtime_error("the agent wrote garbage: " + garbage_.front());
  return r;
}

Json AgentClient::call(Json request, Clock::duration within) { return reply(send(std::move(request)), within); }

Json AgentClient::null_id_reply(Clock::duration within) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, within, [&] { return !null_replies_.empty() || eof_; }) || null_replies_.empty())
    throw std::runtime_error("no reply with a null id in time");
  Json r = std::move(null_replies_.front());
  null_replies_.pop_front();
  return r;
}

std::vector<Json> AgentClient::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

std::vector<std::string> AgentClient::logs() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& l : logs_) out.push_back(l.value("message", ""));
  return out;
}

std::vector<std::string> AgentClient::states(const std::string& local, const std::string& remote) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& e : events_) {
    if (e.value("local", "") != local || e.value("remote", "") != remote) continue;
    if (out.empty()) out.push_back(e.value("from", "?"));
    out.push_back(e.value("to", "?"));
  }
  return out;
}

void AgentClient::wait_state(const std::string& local, const std::string& remote, const std::string& state,
                             Clock::duration within) {
  std::unique_lock lock(mu_);
  auto reached = [&] {
    for (const auto& e : events_)
      if (e.value("local", "") == local && e.value("remote", "") == remote && e.value("to", "") == state) return true;
    return false;
  };
  if (!cv_.wait_for(lock, within, reached)) {
    lock.unlock();
    std::string seen;
    for (const auto& s : states(local, remote)) seen += (seen.empty() ? "" : " -> ") + s;
    throw std::runtime_error(local + " > " + remote + " did not reach " + state + " in time; its states: " +
                             (seen.empty() ? "none" : seen));
  }
}

void AgentClient::close_control() { ::shutdown(control_.get(), SHUT_WR); }

std::optional<int> AgentClient::wait_exit(Clock::duration within) {
  if (exit_status_) return exit_status_;
  const auto deadline = Clock::now() + within;
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  if (!pidfd.valid()) throw std::runtime_error("pidfd_open: " + err_text(errno));
  if (!wait_fd(pidfd.get(), POLLIN, deadline)) return std::nullopt;
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_) throw std::runtime_error("waitpid: " + err_text(errno));
  exit_status_ = status;
  return status;
}

// ---- Lab

std::string agent_path() {
  const char* p = std::getenv(LAB_AGENT_ENV);
  return p != nullptr && *p != '\0' ? p : LAB_AGENT_PATH;
}

namespace {

// The lab's addresses are those of a topology slot claimed for the life of the test
// process: machine-wide observers (the state tracepoint) tell topologies apart by their
// addresses, and would otherwise take the lab's sockets for a concurrent scenario's.
int lab_slot() {
  static const netns::AddressSlot slot = netns::AddressSlot::acquire();
  return slot.number();
}

Address lab_address(netns::Subnet side, Family f, std::uint16_t host) {
  return netns::slot_address(lab_slot(), side, f, host);
}

}  // namespace

Address Lab::agent_addr(Family f) { return lab_address(netns::Subnet::ServerSide, f, netns::kEndpointHost); }
Address Lab::client_addr(Family f) { return lab_address(netns::Subnet::ClientSide, f, netns::kEndpointHost); }
Address Lab::tap_addr(Family f) { return lab_address(netns::Subnet::ServerSide, f, netns::kMiddleboxHost); }
Address Lab::gateway_addr(Family f) {
  return f == Family::V4 ? lab_address(netns::Subnet::ServerSide, f, netns::kMiddleboxHost) : Address::parse("fe80::fe");
}

Json Lab::hello_request() {
  return Json{{"cmd", "hello"},
              {"version", 1},
              {"side", "server"},
              {"ipv4", {{"address", agent_addr(Family::V4).str()}, {"prefix", 24}, {"gateway", gateway_addr(Family::V4).str()}}},
              {"ipv6", {{"address", agent_addr(Family::V6).str()}, {"prefix", 64}, {"gateway", "fe80::fe"}}},
              {"mtu", 1500}};
}

Lab::Lab(LabOptions options) {
  netns::require_privileges();
  peer_ = std::make_unique<netns::Namespace>(netns::Namespace::create("agent-lab-peer"));
  agent_ns_ = std::make_unique<netns::Namespace>(netns::Namespace::create("agent-lab-agent"));
  tap_ = peer_->run([] { return open_tap("tap0"); });
  peer_->run([] { write_proc("/proc/sys/net/ipv6/conf/tap0/addr_gen_mode", "1"); });
  {
    netns::RouteSocket rs(*peer_);
    netns::set_link_up(rs, "lo");
    netns::set_link_up(rs, "tap0");
    const int tap = rs.link_index("tap0"), lo = rs.link_index("lo");
    netns::add_address(rs, tap, gateway_addr(Family::V4), 24);
    netns::add_address(rs, tap, tap_addr(Family::V6), 64);
    netns::add_address(rs, tap, gateway_addr(Family::V6), 64);
    netns::add_address(rs, lo, client_addr(Family::V4), 32);
    netns::add_address(rs, lo, client_addr(Family::V6), 128);
  }
  netns::wait_until_usable({{peer_.get(), "tap0",
                             {gateway_addr(Family::V4), tap_addr(Family::V6), gateway_addr(Family::V6)}},
                            {peer_.get(), "lo", {client_addr(Family::V4), client_addr(Family::V6)}}},
                           3s);
  if (!options.start_agent) return;
  agent_ = std::make_unique<AgentClient>(*agent_ns_, tap_.get(), options.agent.empty() ? agent_path() : options.agent);
  if (options.hello) {
    const Json r = agent_->call(hello_request(), 5s);
    if (!r.value("ok", false)) throw std::runtime_error("hello failed: " + r.dump());
    if (options.router_advert) send_router_advert();
  }
}

Lab::~Lab() = default;

void Lab::send_router_advert() {
  peer_->run([] { netns::send_router_advert("tap0"); });
}

// ---- peer sockets

namespace peer {

UniqueFd listen(const netns::Namespace& ns, const SockAddr& at) {
  return ns.run([&] {
    UniqueFd fd(::socket(to_af(at.addr.family), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    socklen_t len = 0;
    const sockaddr_storage ss = at.to_sockaddr(len);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) != 0)
      throw std::runtime_error("bind " + at.str() + ": " + err_text(errno));
    if (::listen(fd.get(), 16) != 0) throw std::runtime_error("listen: " + err_text(errno));
    return fd;
  });
}

UniqueFd connect(const netns::Namespace& ns, const SockAddr& from, const SockAddr& to) {
  UniqueFd fd = ns.run([&] {
    UniqueFd s(::socket(to_af(to.addr.family), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    socklen_t len = 0;
    const sockaddr_storage local = from.to_sockaddr(len);
    if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&local), len) != 0)
      throw std::runtime_error("bind " + from.str() + ": " + err_text(errno));
    const sockaddr_storage remote = to.to_sockaddr(len);
    if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&remote), len) != 0 && errno != EINPROGRESS)
      throw std::runtime_error("connect " + to.str() + ": " + err_text(errno));
    return s;
  });
  if (!wait_fd(fd.get(), POLLOUT, Clock::now() + 5s)) throw std::runtime_error("connect " + to.str() + ": timed out");
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) throw std::runtime_error("connect " + to.str() + ": " + err_text(err));
  return fd;
}

UniqueFd accept(int listener, Clock::duration within) {
  if (!wait_fd(listener, POLLIN, Clock::now() + within)) throw std::runtime_error("peer accept: timed out");
  UniqueFd fd(::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!fd.valid()) throw std::runtime_error("peer accept: " + err_text(errno));
  return fd;
}

void send_all(int fd, const std::string& data, Clock::duration within) {
  const auto deadline = Clock::now() + within;
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN) throw std::runtime_error("peer send: " + err_text(errno));
    if (!wait_fd(fd, POLLOUT, deadline)) throw std::runtime_error("peer send: timed out");
  }
}

std::string recv_n(int fd, std::size_t n, Clock::duration within) {
  const auto deadline = Clock::now() + within;
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    const ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (r > 0) {
      out.append(buf, static_cast<std::size_t>(r));
      continue;
    }
    if (r == 0) throw std::runtime_error("peer recv: EOF after " + std::to_string(out.size()) + " bytes");
    if (errno != EAGAIN) throw std::runtime_error("peer recv: " + err_text(errno));
    if (!wait_fd(fd, POLLIN, deadline)) throw std::runtime_error("peer recv: timed out");
  }
  return out;
}

std::string recv_to_eof(int fd, Clock::duration within) {
  const auto deadline = Clock::now() + within;
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r > 0) {
      out.append(buf, static_cast<std::size_t>(r));
      continue;
    }
    if (r == 0) return out;
    if (errno != EAGAIN) throw std::runtime_error("peer recv: " + std::string(strerrorname_np(errno)));
    if (!wait_fd(fd, POLLIN, deadline)) throw std::runtime_error("peer recv: timed out");
  }
}

int recv_error(int fd, Clock::duration within) {
  const auto deadline = Clock::now() + within;
  char buf[65536];
  for (;;) {
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r > 0) continue;
    if (r == 0) return 0;
    if (errno != EAGAIN) return errno;
    if (!wait_fd(fd, POLLIN, deadline)) throw std::runtime_error("peer recv: timed out");
  }
}

SockAddr local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return SockAddr::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
}

}  // namespace peer

std::string hex(const std::string& bytes) {
  static constexpr char d[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 0xf]);
  }
  return out;
}

std::string unhex(const std::string& h) {
  std::string out(h.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(std::stoi(h.substr(2 * i, 2), nullptr, 16));
  return out;
}

}  // namespace tcpfault::agent_testing
