// Helpers shared by the netns tests: root checks, host reads, a TCP round trip with
// deadlines, and a scan for who still holds a network namespace.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "netns/address.h"
#include "netns/namespace.h"
#include "netns/topology.h"
#include "netns/unique_fd.h"

#define TCPFAULT_REQUIRE_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (creates network namespaces)"

namespace tcpfault::netns::testing {

using Clock = std::chrono::steady_clock;

// A /proc/sys value as the calling (host) thread sees it, trailing newline removed.
inline std::string read_host_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

inline void wait_for(int fd, short events, Clock::time_point deadline, const std::string& what) {
  pollfd p{fd, events, 0};
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw std::runtime_error("timed out waiting for " + what);
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return;
    if (n < 0 && errno != EINTR) throw std::runtime_error("poll: " + std::string(strerror(errno)));
  }
}

inline UniqueFd tcp_socket(Family f) {
  UniqueFd fd(::socket(to_af(f), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) throw std::runtime_error("socket: " + std::string(strerror(errno)));
  return fd;
}

inline void bind_to(int fd, const SockAddr& a) {
  socklen_t len = 0;
  sockaddr_storage ss = a.to_sockaddr(len);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw std::runtime_error("bind " + a.str() + ": " + strerror(errno));
}

inline SockAddr local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
}

inline void send_all(int fd, const std::string& data) {
  if (::send(fd, data.data(), data.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(data.size()))
    throw std::runtime_error("send: " + std::string(strerror(errno)));
}

inline std::string recv_some(int fd, Clock::time_point deadline, const std::string& what) {
  wait_for(fd, POLLIN, deadline, what);
  char buf[256];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n < 0) throw std::runtime_error("recv: " + std::string(strerror(errno)));
  return std::string(buf, static_cast<std::size_t>(n));
}

// Connects from the client's address to the server's through the middlebox, sends a
// message each way and returns the client address the server saw.
inline SockAddr tcp_roundtrip(const Topology& t, Family f,
                              std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
  const auto deadline = Clock::now() + timeout;
  UniqueFd listener = t.server().run([&] {
    UniqueFd fd = tcp_socket(f);
    bind_to(fd.get(), {t.server_addr(f), 0});
    if (::listen(fd.get(), 4) != 0) throw std::runtime_error("listen failed");
    return fd;
  });
  const SockAddr server = local_of(listener.get());
  UniqueFd client = t.client().run([&] {
    UniqueFd fd = tcp_socket(f);
    // Binding the client address proves it is usable now (not tentative).
    bind_to(fd.get(), {t.client_addr(f), 0});
    socklen_t len = 0;
    sockaddr_storage ss = server.to_sockaddr(len);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
      throw std::runtime_error("connect " + server.str() + ": " + strerror(errno));
    return fd;
  });
  wait_for(client.get(), POLLOUT, deadline, "connect to " + server.str());
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(client.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) throw std::runtime_error("connect " + server.str() + ": " + strerror(err));

  wait_for(listener.get(), POLLIN, deadline, "accept on " + server.str());
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  UniqueFd accepted(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len,
                              SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!accepted.valid()) throw std::runtime_error("accept: " + std::string(strerror(errno)));

  send_all(client.get(), "ping");
  if (recv_some(accepted.get(), deadline, "ping at server") != "ping")
    throw std::runtime_error("server got the wrong bytes");
  send_all(accepted.get(), "pong");
  if (recv_some(client.get(), deadline, "pong at client") != "pong")
    throw std::runtime_error("client got the wrong bytes");
  return SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&peer));
}

// One counter from /proc/net/snmp ("Ip", "ForwDatagrams") or snmp6 ("Ip6OutForwDatagrams")
// as the namespace sees it (thread-self: /proc/self/net follows the main thread).
inline long snmp_counter(const Namespace& ns, const std::string& group, const std::string& name) {
  return ns.run([&]() -> long {
    if (group == "Ip6") {
      std::ifstream in("/proc/thread-self/net/snmp6");
      std::string key;
      long value = 0;
      while (in >> key >> value)
        if (key == name) return value;
      throw std::runtime_error("no " + name + " in snmp6");
    }
    std::ifstream in("/proc/thread-self/net/snmp");
    std::string header, values;
    while (std::getline(in, header) && std::getline(in, values)) {
      std::istringstream h(header), v(values);
      std::string hk, vk;
      h >> hk;
      v >> vk;
      if (hk != group + ":") continue;
      std::string field, value;
      while (h >> field && v >> value)
        if (field == name) return std::stol(value);
    }
    throw std::runtime_error("no " + group + " " + name + " in snmp");
  });
}

// The namespace's cookie: unlike its inode number it is never reused.
inline std::uint64_t netns_cookie_of_current_thread() {
  UniqueFd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  std::uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  if (::getsockopt(s.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
    throw std::runtime_error("SO_NETNS_COOKIE: " + std::string(strerror(errno)));
  return cookie;
}

inline std::uint64_t netns_cookie(const Namespace& ns) {
  return ns.run([] { return netns_cookie_of_current_thread(); });
}

// Cookie of the namespace behind a path such as /proc/<pid>/ns/net, or 0 if it is gone.
inline std::uint64_t netns_cookie_of_path(const std::string& path) {
  UniqueFd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!target.valid()) return 0;
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (::setns(target.get(), CLONE_NEWNET) != 0) return 0;
  const std::uint64_t cookie = netns_cookie_of_current_thread();
  if (::setns(home.get(), CLONE_NEWNET) != 0) std::abort();
  return cookie;
}

inline std::uint64_t netns_inode_of_link(const std::string& link_path) {
  char buf[64];
  const ssize_t n = ::readlink(link_path.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return 0;
  buf[n] = 0;
  unsigned long long ino = 0;
  if (std::sscanf(buf, "net:[%llu]", &ino) != 1) return 0;
  return ino;
}

inline std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(path.c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') out.push_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

// Every path through which a process reaches a network namespace: each thread's own
// namespace and each open namespace fd, keyed by inode.
inline std::multimap<std::uint64_t, std::string> netns_references(const std::string& pid_filter = "") {
  std::multimap<std::uint64_t, std::string> refs;
  for (const auto& pid : list_dir("/proc")) {
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!pid_filter.empty() && pid != pid_filter) continue;
    const std::string base = "/proc/" + pid;
    for (const auto& tid : list_dir(base + "/task")) {
      const std::string p = base + "/task/" + tid + "/ns/net";
      if (auto ino = netns_inode_of_link(p)) refs.emplace(ino, p);
    }
    for (const auto& fd : list_dir(base + "/fd")) {
      const std::string p = base + "/fd/" + fd;
      if (auto ino = netns_inode_of_link(p)) refs.emplace(ino, p);
    }
  }
  return refs;
}

inline std::set<std::uint64_t> inodes_of(const std::multimap<std::uint64_t, std::string>& refs) {
  std::set<std::uint64_t> out;
  for (const auto& [ino, path] : refs) out.insert(ino);
  return out;
}

// Mount points of namespace files in this mount namespace (pins), keyed by inode.
inline std::multimap<std::uint64_t, std::string> netns_mounts() {
  std::multimap<std::uint64_t, std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    unsigned long long ino = 0;
    if (std::sscanf(root.c_str(), "net:[%llu]", &ino) == 1) out.emplace(ino, mount_point);
  }
  return out;
}

// True if any process or mount still reaches the namespace (inode, cookie). The cookie
// tells a survivor from a new namespace that was given a freed inode number.
inline bool netns_reachable(std::uint64_t inode, std::uint64_t cookie) {
  auto refs = netns_references();
  for (auto [it, end] = refs.equal_range(inode); it != end; ++it)
    if (netns_cookie_of_path(it->second) == cookie) return true;
  auto mounts = netns_mounts();
  for (auto [it, end] = mounts.equal_range(inode); it != end; ++it)
    if (netns_cookie_of_path(it->second) == cookie) return true;
  return false;
}

}  // namespace tcpfault::netns::testing
