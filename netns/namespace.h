// Network namespaces held only by file descriptors.
//
// A namespace made here has no name in /run/netns: when the last fd (and the last
// socket inside it) is gone the kernel reclaims it with its links, routes, rules and
// sysctls, so nothing survives the process, not even a kill -9.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "netns/unique_fd.h"

namespace tcpfault::netns {

class Namespace {
 public:
  // A fresh, empty network namespace (only a down `lo`). `name` is for messages.
  static Namespace create(std::string name);
  // The namespace the calling thread is in now.
  static Namespace of_current_thread(std::string name = "current");
  // The namespace the process was in when this library was loaded (captured before
  // main, or at dlopen, from /proc/self/ns/net): "the host" for everything here, e.g.
  // where slot claims live and where a global sysctl's value is read.
  static const Namespace& initial();

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }
  std::uint64_t inode() const;  // identity, as in /proc/<pid>/ns/net

  // Runs f on the calling thread while it is inside this namespace.
  // Sockets made by f stay in this namespace for their whole life.
  template <class F>
  decltype(auto) run(F&& f) const;

 private:
  Namespace(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
  UniqueFd fd_;
  std::string name_;
};

// Moves the calling thread into a namespace and back again on destruction.
class Enter {
 public:
  explicit Enter(const Namespace& ns);
  ~Enter();
  Enter(const Enter&) = delete;
  Enter& operator=(const Enter&) = delete;

 private:
  UniqueFd previous_;
};

template <class F>
decltype(auto) Namespace::run(F&& f) const {
  Enter inside(*this);
  return std::forward<F>(f)();
}

// Throws a clear error unless the process may create namespaces (root / CAP_SYS_ADMIN).
void require_privileges();

}  // namespace tcpfault::netns
