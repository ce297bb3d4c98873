#include "agents/lwip/socket_commands.h"

#include <mutex>

#include "agents/lwip/core_hooks.h"
#include "agents/lwip/lwip_headers.h"
#include "agents/lwip/protocol.h"
#include "agents/lwip/socket_ops.h"
#include "agents/lwip/socket_options.h"

namespace tcpfault::lwip_agent {
namespace {

constexpr std::int64_t kMaxTimeoutMs = 24LL * 3600 * 1000;
constexpr SocketKind kListener = SocketKind::Listener;
constexpr SocketKind kConn = SocketKind::Conn;

Address address_arg(const Args& a, const char* name) {
  const std::string text = a.string(name);
  try {
    return Address::parse(text);
  } catch (const std::exception&) {
    a.bad(name, "must be an IPv4 or IPv6 address such as 198.18.2.1 or 2001:2:0:2::1, not \"" + text + "\"");
  }
}

Clock::time_point deadline_arg(const Args& a) {
  return Clock::now() + std::chrono::milliseconds(a.integer("timeout_ms", 0, kMaxTimeoutMs));
}

// Closes an lwIP socket that never got a handle.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) lwip_close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

bool same_prefix(const Address& a, const Address& b, int prefix) {
  for (int bit = 0; bit < prefix; ++bit) {
    const int byte = bit / 8, mask = 0x80 >> (bit % 8);
    if ((a.bytes[byte] & mask) != (b.bytes[byte] & mask)) return false;
  }
  return true;
}

}  // namespace

void SocketCommands::set_ipv6_subnet(const Address& address, int prefix) { ipv6_subnet_ = {address, prefix}; }

Json SocketCommands::listen(const Json& req) {
  const Args a(req, "listen");
  const Address addr = address_arg(a, "address");
  const auto port = static_cast<std::uint16_t>(a.integer("port", 0, 65535));
  const auto backlog = static_cast<int>(a.integer("backlog", 0, 65535));
  const bool reuse = a.opt_boolean("reuse_addr").value_or(false);
  FdGuard fd{open_socket(addr.family)};
  if (reuse) {
    const int on = 1;
    if (lwip_setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) fail_errno(errno, "SO_REUSEADDR");
  }
  bind_socket(fd.fd, {addr, port});
  if (lwip_listen(fd.fd, backlog) != 0) fail_errno(errno, "listen");
  {
    CoreLock lock;
    scanner_.watch_listeners_locked();
  }
  const SockAddr local = local_of(fd.fd);
  return Json{{"listener", table_.add(fd.release(), SocketKind::Listener)}, {"local", local.str()}};
}

Json SocketCommands::accept(const Json& req) {
  const Args a(req, "accept");
  auto l = table_.use(a.integer("listener", 1, INT64_MAX), &kListener, "listener");
  SockAddr remote;
  FdGuard fd{accept_until(*l, deadline_arg(a), remote)};
  const SockAddr local = local_of(fd.fd);
  return Json{{"conn", table_.add(fd.release(), SocketKind::Conn)}, {"local", local.str()}, {"remote", remote.str()}};
}

Json SocketCommands::connect(const Json& req) {
  const Args a(req, "connect");
  const SockAddr to{address_arg(a, "address"), static_cast<std::uint16_t>(a.integer("port", 1, 65535))};
  const auto local_port = a.opt_integer("local_port", 0, 65535);
  const bool reuse = a.opt_boolean("reuse_addr").value_or(false);
  const auto deadline = deadline_arg(a);

  // lwIP routes an off-link IPv6 address only once the router's RA is in.
  if (to.addr.family == Family::V6 && ipv6_subnet_ &&
      !same_prefix(to.addr, ipv6_subnet_->first, ipv6_subnet_->second))
    router_.wait(std::min(deadline, Clock::now() + std::chrono::seconds(2)));

  FdGuard fd{open_socket(to.addr.family)};
  if (reuse) {
    const int on = 1;
    if (lwip_setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) fail_errno(errno, "SO_REUSEADDR");
  }
  if (local_port) bind_socket(fd.fd, {Address::any(to.addr.family), static_cast<std::uint16_t>(*local_port)});
  Json tuple{{"remote", to.str()}};
  try {
    const bool connected = connect_start(fd.fd, to);
    // The local end is known once the SYN is out; a refused connect forgets it at once.
    tuple["local"] = local_of(fd.fd).str();
    if (!connected) connect_wait(fd.fd, deadline);
  } catch (SocketFailure& f) {
    Json extra = tuple;
    // Still connecting: the socket lives on (as a kernel socket would); its handle lets
    // tcpfault use or close it.
    if (f.err() == EINPROGRESS) extra["conn"] = table_.add(fd.release(), SocketKind::Conn);
    throw SocketFailure(f.err(), f.what(), extra);
  }
  const SockAddr local = local_of(fd.fd);
  return Json{{"conn", table_.add(fd.release(), SocketKind::Conn)}, {"local", local.str()}, {"remote", to.str()}};
}

Json SocketCommands::send(const Json& req) {
  const Args a(req, "send");
  auto c = table_.use(a.integer("conn", 1, INT64_MAX), &kConn, "conn");
  const std::string data = from_hex(a.string("data"), "send data");
  const std::size_t sent = send_until(*c, data, deadline_arg(a));
  return Json{{"sent", sent}};
}

Json SocketCommands::recv(const Json& req) {
  const Args a(req, "recv");
  auto c = table_.use(a.integer("conn", 1, INT64_MAX), &kConn, "conn");
  const auto max = static_cast<std::size_t>(a.integer("max", 1, INT64_MAX));
  const Received r = recv_until(*c, std::min(max, kMaxRecv), deadline_arg(a));
  return Json{{"data", to_hex(reinterpret_cast<const unsigned char*>(r.data.data()), r.data.size())},
              {"eof", r.eof}};
}

Json SocketCommands::shutdown(const Json& req) {
  const Args a(req, "shutdown");
  auto c = table_.use(a.integer("conn", 1, INT64_MAX), &kConn, "conn");
  const std::string how = a.string("how");
  int h = 0;
  if (how == "rd") h = SHUT_RD;
  else if (how == "wr") h = SHUT_WR;
  else if (how == "rdwr") h = SHUT_RDWR;
  else a.bad("how", "must be \"rd\", \"wr\" or \"rdwr\", not \"" + how + "\"");
  std::lock_guard call(c->call);
  if (lwip_shutdown(c->fd, h) != 0) fail_errno(errno, "shutdown");
  return Json::object();
}

Json SocketCommands::close(const Json& req) {
  const Args a(req, "close");
  const bool is_conn = a.has("conn");
  if (is_conn == a.has("listener")) a.bad(is_conn ? "listener" : "conn", "and its partner: give exactly one of 'conn' and 'listener'");
  const char* name = is_conn ? "conn" : "listener";
  auto s = table_.take(a.integer(name, 1, INT64_MAX), is_conn ? &kConn : &kListener, name);
  // A lingering close blocks until the data is acknowledged or the time is up; lwIP
  // refuses to linger on a non-blocking socket (EWOULDBLOCK), so make it blocking.
  // No other request uses the socket any more (take() waited for them).
  if (linger_seconds(*s) > 0) set_blocking(s->fd, true);
  if (lwip_close(s->fd) != 0) fail_errno(errno, "close");
  return Json::object();
}

Json SocketCommands::setsockopt(const Json& req) {
  const Args a(req, "setsockopt");
  auto s = table_.use(a.integer("conn", 1, INT64_MAX), nullptr, "conn");
  set_option(*s, a.string("option"), a.value("value"));
  return Json::object();
}

Json SocketCommands::getsockopt(const Json& req) {
  const Args a(req, "getsockopt");
  auto s = table_.use(a.integer("conn", 1, INT64_MAX), nullptr, "conn");
  return Json{{"value", get_option(*s, a.string("option"))}};
}

Json SocketCommands::sockets(const Json&) {
  std::vector<Connection> all;
  {
    CoreLock lock;
    all = StateScanner::connections_locked();
  }
  Json list = Json::array();
  for (const auto& c : all)
    list.push_back(Json{{"local", c.tuple.local.str()}, {"remote", c.tuple.remote.str()}, {"state", c.state}});
  return Json{{"sockets", list}};
}

}  // namespace tcpfault::lwip_agent
