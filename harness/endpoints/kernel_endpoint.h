// The kernel's endpoint: real sockets on one side of the topology.
//
// Sockets are made inside the side's namespace and keep it for life. A connection's
// state is what sock_diag shows for its tuple, so it can be asked after close().
#pragma once

#include <memory>

#include "harness/endpoints/endpoint.h"
#include "harness/observe/sock_diag.h"
#include "netns/namespace.h"

namespace tcpfault {

struct SocketRegistry;

class KernelEndpoint : public Endpoint {
 public:
  // The trace and the socket table are shared: connections may outlive the endpoint.
  KernelEndpoint(const netns::Namespace& ns, Host host, Address address, Address peer,
                 std::shared_ptr<Trace> trace, std::shared_ptr<const SockDiag> sockets);

  std::string target() const override { return "kernel"; }
  Listener listen(const SockAddr& at, int backlog = 128) override;
  Connection connect(const SockAddr& to, const ConnectOptions& options = {}) override;
  void close_all(const std::string& why) override;

 private:
  const netns::Namespace& ns_;
  std::shared_ptr<Trace> trace_;
  std::shared_ptr<const SockDiag> sockets_;
  std::shared_ptr<SocketRegistry> made_;
};

}  // namespace tcpfault
