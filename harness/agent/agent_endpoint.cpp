#include "harness/agent/agent_endpoint.h"

#include <cerrno>

#include "harness/agent/agent_connection.h"
#include "harness/endpoints/call_record.h"
#include "harness/endpoints/socket_registry.h"

namespace tcpfault {

AgentEndpoint::AgentEndpoint(Host host, Address address, Address peer, std::string target,
                             std::shared_ptr<Trace> trace, std::shared_ptr<AgentClient> client,
                             std::set<std::string> features)
    : Endpoint(host, address, peer), target_(std::move(target)), trace_(std::move(trace)), client_(std::move(client)),
      features_(std::move(features)), made_(std::make_shared<SocketRegistry>()) {}

void AgentEndpoint::close_all(const std::string& why) { made_->close_all(why); }

Listener AgentEndpoint::listen(const SockAddr& at, int backlog) {
  AgentContext ctx{client_, trace_, made_, host(), features_};
  CallTimer t;
  Json reply = client_->request("listen", {{"address", at.addr.str()}, {"port", at.port}, {"backlog", backlog}},
                                kAgentGrace);
  const std::string call = "listen(" + at.str() + ", " + std::to_string(backlog) + ")";
  if (!reply["ok"].get<bool>()) {
    int err = ctx.errno_of(reply, "listen");
    record_call(*trace_, host(), call, -1, err, t);
    if (err == EADDRINUSE)
      throw Error("cannot listen on " + at.str() + " on the " + netns::to_string(host()) +
                  " side: the port is in use (pick another port or close the other listener)");
    throw Error(call + " on the " + netns::to_string(host()) + " side failed: " + errno_name(err));
  }
  auto listener = make_agent_listener(ctx, ctx.handle_of(reply, "listener", "listen"), at);
  record_call(*trace_, host(), call, 0, 0, t);
  return Listener(listener);
}

Connection AgentEndpoint::connect(const SockAddr& to, const ConnectOptions& options) {
  AgentContext ctx{client_, trace_, made_, host(), features_};
  CallTimer t;
  Json args{{"address", to.addr.str()}, {"port", to.port}, {"reuse_addr", options.reuse_addr},
            {"timeout_ms", options.timeout.count()}};
  if (options.local_port) args["local_port"] = *options.local_port;
  Json reply = client_->request("connect", std::move(args), AgentClient::deadline_for(options.timeout));
  std::string call = "connect(" + to.str() + ")";
  FourTuple tuple{{Address::any(to.addr.family), options.local_port.value_or(0)}, to};
  // A failed connect names the tuple it tried when the stack chose one, and keeps its
  // connection (a handle) when it goes on trying (EINPROGRESS: the harness's deadline).
  if (reply.contains("local")) tuple.local = ctx.addr_of(reply, "local", "connect");
  std::optional<std::int64_t> handle;
  if (reply.contains("conn")) handle = ctx.handle_of(reply, "conn", "connect");
  CallResult result;
  if (reply["ok"].get<bool>()) {
    if (!handle) handle = ctx.handle_of(reply, "conn", "connect");
    tuple.local = ctx.addr_of(reply, "local", "connect");
    result = record_call(*trace_, host(), call, 0, 0, t, false, tuple);
  } else {
    int err = ctx.errno_of(reply, "connect");
    // The stack refused the local port before any segment: the kernel's bind() failing.
    if (options.local_port && reply.value("failed", std::string()) == "bind")
      call = "bind(" + SockAddr{Address::any(to.addr.family), *options.local_port}.str() + ")";
    result = record_call(*trace_, host(), call, -1, err, t, err == EINPROGRESS, tuple);
  }
  return Connection(make_agent_connection(ctx, handle, tuple, result));
}

}  // namespace tcpfault
