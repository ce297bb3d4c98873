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

// A job is copied into std::function: it holds its socket use through a shared_ptr.
std::shared_ptr<HandleTable::Use> share(HandleTable::Use u) { return std::make_shared<HandleTable::Use>(std::move(u)); }

void set_reuse_addr(int fd) {
  const int on = 1;
  if (lwip_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) fail_errno(errno, "SO_REUSEADDR");
}

bool same_prefix(const Address& a, const Address& b, int prefix) {
  for (int bit = 0; bit < prefix; ++bit) {
    const int byte = bit / 8, mask = 0x80 >> (bit % 8);
    if ((a.bytes[byte] & mask) != (b.bytes[byte] & mask)) return false;
  }
  return true;
}

}  // namespace

void SocketCommands::set_addresses(std::optional<Address> ipv4, std::optional<std::pair<Address, int>> ipv6) {
  ipv4_ = ipv4;
  ipv6_subnet_ = ipv6;
}

std::optional<Address> SocketCommands::own_address(Family f) const {
  if (f == Family::V4) return ipv4_;
  if (ipv6_subnet_) return ipv6_subnet_->first;
  return std::nullopt;
}

SocketCommands::Job SocketCommands::listen(const Json& req) {
  const Args a(req, "listen");
  const Address addr = address_arg(a, "address");
  const auto port = static_cast<std::uint16_t>(a.integer("port", 0, 65535));
  const auto backlog = static_cast<int>(a.integer("backlog", 0, 65535));
  const bool reuse = a.opt_boolean("reuse_addr").value_or(false);
  return [this, addr, port, backlog, reuse] {
    FdGuard fd{open_socket(addr.family)};
    if (reuse) set_reuse_addr(fd.fd);
    bind_socket(fd.fd, {addr, port});
    if (lwip_listen(fd.fd, backlog) != 0) fail_errno(errno, "listen");
    {
      CoreLock lock;
      scanner_.watch_listeners_locked();
    }
    const SockAddr local = local_of(fd.fd);
    return Json{{"listener", table_.add(fd.release(), SocketKind::Listener)}, {"local", local.str()}};
  };
}

SocketCommands::Job SocketCommands::accept(const Json& req) {
  const Args a(req, "accept");
  auto l = share(table_.use(a.integer("listener", 1, INT64_MAX), &kListener, "listener"));
  const auto deadline = deadline_arg(a);
  return [this, l, deadline] {
    SockAddr remote;
    FdGuard fd{accept_until(**l, deadline, remote)};
    sysctls_.apply_keepalive_defaults(fd.fd);  // those of now, should they have changed since the handshake
    const SockAddr local = local_of(fd.fd);
    return Json{{"conn", table_.add(fd.release(), SocketKind::Conn)}, {"local", local.str()}, {"remote", remote.str()}};
  };
}

SocketCommands::Job SocketCommands::connect(const Json& req) {
  const Args a(req, "connect");
  const SockAddr to{address_arg(a, "address"), static_cast<std::uint16_t>(a.integer("port", 1, 65535))};
  const auto local_port = a.opt_integer("local_port", 0, 65535);
  const bool reuse = a.opt_boolean("reuse_addr").value_or(false);
  const auto deadline = deadline_arg(a);
  return [this, to, local_port, reuse, deadline] {
    // lwIP routes an off-link IPv6 address only once the router's RA is in.
    if (to.addr.family == Family::V6 && ipv6_subnet_ &&
        !same_prefix(to.addr, ipv6_subnet_->first, ipv6_subnet_->second))
      router_.wait(std::min(deadline, Clock::now() + std::chrono::seconds(2)));

    FdGuard fd{open_socket(to.addr.family)};
    sysctls_.apply_keepalive_defaults(fd.fd);
    if (reuse) set_reuse_addr(fd.fd);
    // Bound first, so the local port is known before the SYN leaves: an RST can make lwIP
    // forget the connection before connect() has even returned.
    try {
      bind_socket(fd.fd, {Address::any(to.addr.family), static_cast<std::uint16_t>(local_port.value_or(0))});
    } catch (const SocketFailure& f) {  // the port refused before any segment: bind() failing
      throw SocketFailure(f.err(), f.what(), Json{{"failed", "bind"}});
    }
    Json tuple{{"remote", to.str()}};
    std::optional<FourTuple> attempt;
    if (const auto own = own_address(to.addr.family)) {
      attempt = FourTuple{SockAddr{*own, local_of(fd.fd).port}, to};
      tuple["local"] = attempt->local.str();
    }
    try {
      if (!connect_start(fd.fd, to)) connect_wait(fd.fd, deadline);
    } catch (SocketFailure& f) {
      Json extra = tuple;
      // Still connecting: the socket lives on (as a kernel socket would); its handle lets
      // tcpfault use or close it.
      if (f.err() == EINPROGRESS) extra["conn"] = table_.add(fd.release(), SocketKind::Conn);
      if (f.err() == ECONNREFUSED && attempt && reset_after_handshake(*attempt))
        throw SocketFailure(ECONNRESET, errno_text(ECONNRESET) + " (an RST after the handshake completed)", extra);
      throw SocketFailure(f.err(), f.what(), extra);
    }
    const SockAddr local = local_of(fd.fd);
    return Json{{"conn", table_.add(fd.release(), SocketKind::Conn)}, {"local", local.str()}, {"remote", to.str()}};
  };
}

bool SocketCommands::reset_after_handshake(const FourTuple& attempt) {
  CoreLock lock;
  return scanner_.reached_established_locked(attempt);
}

void SocketCommands::keepalive_defaults_changed() {
  for (auto& use : table_.use_all(SocketKind::Conn)) {
    try {
      sysctls_.apply_keepalive_defaults(*use);
    } catch (const SocketFailure&) {
      // A connection lwIP has already given up on keeps no settings: nothing to update.
    }
  }
}

SocketCommands::Job SocketCommands::send(const Json& req) {
  const Args a(req, "send");
  auto c = share(table_.use(a.integer("conn", 1, INT64_MAX), &kConn, "conn"));
  auto data = std::make_shared<std::string>(from_hex(a.string("data"), "send data"));
  const auto deadline = deadline_arg(a);
  return [c, data, deadline] { return Json{{"sent", send_until(**c, *data, deadline)}}; };
}

SocketCommands::Job SocketCommands::recv(const Json& req) {
  const Args a(req, "recv");
  auto c = share(table_.use(a.integer("conn", 1, INT64_MAX), &kConn, "conn"));
  const auto max = std::min(static_cast<std::size_t>(a.integer("max", 1, INT64_MAX)), kMaxRecv);
  const auto deadline = deadline_arg(a);
  return [c, max, deadline] {
    const Received r = recv_until(**c, max, deadline);
    return Json{{"data", to_hex(reinterpret_cast<const unsigned char*>(r.data.data()), r.data.size())},
                {"eof", r.eof}};
  };
}

SocketCommands::Job SocketCommands::shutdown(const Json& req) {
  const Args a(req, "shutdown");
  auto c = share(table_.use(a.integer("conn", 1, INT64_MAX), &kConn, "conn"));
  const std::string how = a.string("how");
  int h = 0;
  if (how == "rd") h = SHUT_RD;
  else if (how == "wr") h = SHUT_WR;
  else if (how == "rdwr") h = SHUT_RDWR;
  else a.bad("how", "must be \"rd\", \"wr\" or \"rdwr\", not \"" + how + "\"");
  return [c, h] {
    std::lock_guard call((*c)->call);
    if (lwip_shutdown((*c)->fd, h) != 0) fail_errno(errno, "shutdown");
    return Json::object();
  };
}

SocketCommands::Job SocketCommands::close(const Json& req) {
  const Args a(req, "close");
  const bool is_conn = a.has("conn");
  if (is_conn == a.has("listener"))
    a.bad(is_conn ? "listener" : "conn", "and its partner: give exactly one of 'conn' and 'listener'");
  const char* name = is_conn ? "conn" : "listener";
  std::shared_ptr<AgentSocket> s = table_.detach(a.integer(name, 1, INT64_MAX), is_conn ? &kConn : &kListener, name);
  return [this, s] {
    table_.wait_unused(*s);
    // A lingering close blocks until the data is acknowledged or the time is up; lwIP
    // refuses to linger on a non-blocking socket (EWOULDBLOCK), so make it blocking.
    if (linger_seconds(*s) > 0) set_blocking(s->fd, true);
    if (lwip_close(s->fd) != 0) fail_errno(errno, "close");
    return Json::object();
  };
}

SocketCommands::Job SocketCommands::setsockopt(const Json& req) {
  const Args a(req, "setsockopt");
  auto s = share(table_.use(a.integer("conn", 1, INT64_MAX), nullptr, "conn"));
  const std::string option = a.string("option");
  const Json value = a.value("value");
  return [s, option, value] {
    set_option(**s, option, value);
    return Json::object();
  };
}

SocketCommands::Job SocketCommands::getsockopt(const Json& req) {
  const Args a(req, "getsockopt");
  auto s = share(table_.use(a.integer("conn", 1, INT64_MAX), nullptr, "conn"));
  const std::string option = a.string("option");
  return [s, option] { return Json{{"value", get_option(**s, option)}}; };
}

SocketCommands::Job SocketCommands::sockets(const Json&) {
  return [] {
    std::vector<Connection> all;
    {
      CoreLock lock;
      all = StateScanner::connections_locked();
    }
    Json list = Json::array();
    for (const auto& c : all)
      list.push_back(Json{{"local", c.tuple.local.str()}, {"remote", c.tuple.remote.str()}, {"state", c.state}});
    return Json{{"sockets", list}};
  };
}

}  // namespace tcpfault::lwip_agent
