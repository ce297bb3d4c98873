// An rtnetlink socket (libnl-route) that lives in one network namespace.
//
// A socket keeps the namespace it was created in, so every link, address and route
// request sent through it acts there, whichever namespace the calling thread is in.
#pragma once

#include <string>

#include "netns/namespace.h"

struct nl_sock;

namespace tcpfault::netns {

class RouteSocket {
 public:
  explicit RouteSocket(const Namespace& ns);
  ~RouteSocket();
  RouteSocket(const RouteSocket&) = delete;
  RouteSocket& operator=(const RouteSocket&) = delete;

  nl_sock* get() const { return sock_; }
  const std::string& ns_name() const { return ns_name_; }

  // The interface index of `ifname` in this namespace; throws Error if there is none.
  int link_index(const std::string& ifname) const;

  // Throws Error "<what> in namespace <ns>: <libnl reason>" when a libnl call (err < 0)
  // failed; `hint` says how to fix it.
  void check(int err, const std::string& what, const std::string& hint = "") const;

 private:
  nl_sock* sock_ = nullptr;
  std::string ns_name_;
};

}  // namespace tcpfault::netns
