#include "harness/agent/agent_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "harness/agent/agent_values.h"
#include "harness/endpoints/call_record.h"
#include "harness/endpoints/target_errors.h"

namespace tcpfault {

namespace {

// Bytes per send or recv request: their hex must stay well under the 1 MiB line limit.
constexpr std::size_t kMaxChunk = 256 * 1024;
// How long one request of a transfer may block: a stopped transfer notices within it.
constexpr milliseconds kTransferSlice{250};

long timeout_ms(Clock::time_point until) {
  return std::max<long>(0, std::chrono::duration_cast<milliseconds>(until - Clock::now()).count());
}

// A socket option as the protocol names it, and where the int value is.
struct OptionName {
  int level, name;
  const char* option;
  const char* field;  // of an object value; nullptr: the value itself
};
constexpr OptionName kOptions[] = {
    {SOL_SOCKET, SO_SNDBUF, "sndbuf", nullptr},         {SOL_SOCKET, SO_RCVBUF, "rcvbuf", nullptr},
    {IPPROTO_TCP, TCP_NODELAY, "nodelay", nullptr},     {SOL_SOCKET, SO_KEEPALIVE, "keepalive", ""},
    {IPPROTO_TCP, TCP_KEEPIDLE, "keepalive", "idle_s"}, {IPPROTO_TCP, TCP_KEEPINTVL, "keepalive", "interval_s"},
    {IPPROTO_TCP, TCP_KEEPCNT, "keepalive", "count"},
    // Integers an agent may offer beyond the protocol's five (its hello features say which).
    {IPPROTO_TCP, TCP_USER_TIMEOUT, "user_timeout_ms", nullptr}, {IPPROTO_TCP, TCP_MAXSEG, "maxseg", nullptr},
    {IPPROTO_TCP, TCP_SYNCNT, "syncnt", nullptr},               {IPPROTO_TCP, TCP_LINGER2, "linger2_s", nullptr},
};
constexpr const char* kProtocolOptions =
    "linger, keepalive, nodelay, sndbuf, rcvbuf and, where the agent offers them, user_timeout_ms, maxseg, syncnt "
    "and linger2_s";

const OptionName* option_of(int level, int name) {
  for (const auto& o : kOptions)
    if (o.level == level && o.name == name) return &o;
  return nullptr;
}

}  // namespace

int AgentContext::errno_of(const Json& reply, const std::string& cmd) const {
  if (!reply.contains("errno") || !reply["errno"].is_string())
    client->fail("sent garbage: a failed `" + cmd + "` reply without an errno name: " + reply.dump());
  auto e = errno_from_name(reply["errno"].get<std::string>());
  if (!e) client->fail("sent garbage: a failed `" + cmd + "` reply with errno '" + reply["errno"].get<std::string>() +
                       "', which Linux does not have");
  return *e;
}

SockAddr AgentContext::addr_of(const Json& reply, const char* field, const std::string& cmd) const {
  if (!reply.contains(field) || !reply[field].is_string())
    client->fail("sent garbage: a `" + cmd + "` reply without \"" + field + "\": " + reply.dump());
  try {
    return parse_agent_sockaddr(reply[field].get<std::string>());
  } catch (const std::invalid_argument& e) {
    client->fail("sent garbage: a `" + cmd + "` reply whose \"" + field + "\" is not an address: " + e.what());
  }
}

std::int64_t AgentContext::handle_of(const Json& reply, const char* field, const std::string& cmd) const {
  if (!reply.contains(field) || !reply[field].is_number_integer())
    client->fail("sent garbage: a `" + cmd + "` reply without an integer \"" + field + "\": " + reply.dump());
  return reply[field].get<std::int64_t>();
}

namespace {

// As a kernel socket closes when its last handle goes, so does an agent's socket or
// listener still held when its object goes: a test that drops one without closing it
// sees the same close on every target. The trace records it as a call ("close(listener),
// its handle dropped"): a kernel's close shows in its state events, an agent may report
// none for a listener, and what follows (a child aborted for want of its listener) needs
// it. Nothing is sent once the session ended or the agent failed (the request then
// throws; that is reported where it happened).
void close_dropped(const AgentContext& ctx, const char* key, std::optional<std::int64_t> held,
                   std::optional<FourTuple> socket = std::nullopt) {
  if (!held || ctx.client->failure()) return;
  try {
    CallTimer t;
    Json reply = ctx.client->request("close", {{key, *held}}, kAgentGrace);
    const bool ok = reply.value("ok", false);
    const std::string what = std::string(key) == "listener" ? "close(listener)" : "close()";
    record_call(*ctx.trace, ctx.host, what + ", its handle dropped", ok ? 0 : -1, ok ? 0 : ctx.errno_of(reply, "close"),
                t, false, socket);
  } catch (const std::exception&) {
    // The scenario is ending or the agent failed.
  }
}

class AgentConnection;

// A transfer's end: send and recv requests of at most kMaxChunk bytes, each blocking
// at most kTransferSlice so that a stopped transfer ends soon.
class AgentStream : public StreamSide {
 public:
  explicit AgentStream(std::shared_ptr<const AgentConnection> conn) : conn_(std::move(conn)) {}
  Io send(std::span<const std::uint8_t> data, Clock::time_point until, int) override;
  Io recv(std::span<std::uint8_t> buf, Clock::time_point until, int) override;
  int shutdown_write() override;

 private:
  std::shared_ptr<const AgentConnection> conn_;
};

class AgentConnection : public ConnectionImpl, public std::enable_shared_from_this<AgentConnection> {
 public:
  AgentConnection(AgentContext ctx, std::optional<std::int64_t> handle, FourTuple tuple, CallResult connect)
      : ctx_(std::move(ctx)), handle_(handle), tuple_(tuple), connect_(std::move(connect)) {
    if (!handle_) closed_at_ = "connect() failed: the agent made no connection";
  }

  ~AgentConnection() override {
    std::lock_guard lock(mu_);
    close_dropped(ctx_, "conn", handle_, tuple_);
  }

  void close_for(const std::string& why) {
    std::lock_guard lock(mu_);
    if (!handle_) return;
    handle_.reset();
    closed_at_ = why;
  }

  Host host() const override { return ctx_.host; }
  const FourTuple& tuple() const override { return tuple_; }
  bool is_open() const override {
    std::lock_guard lock(mu_);
    return handle_.has_value();
  }
  const CallResult& connect_result() const override { return connect_; }

  TcpState state() const override {
    Json reply = ctx_.client->request("sockets", Json::object(), kAgentGrace);
    if (!reply.value("ok", false) || !reply.contains("sockets") || !reply["sockets"].is_array())
      ctx_.client->fail("sent garbage: a `sockets` reply without a list of sockets: " + reply.dump());
    std::optional<TcpState> found;
    for (const auto& s : reply["sockets"]) {
      if (!s.is_object() || !s.contains("state") || !s["state"].is_string())
        ctx_.client->fail("sent garbage: a `sockets` entry without a state: " + s.dump());
      FourTuple t{ctx_.addr_of(s, "local", "sockets"), ctx_.addr_of(s, "remote", "sockets")};
      if (t != tuple_) continue;
      auto st = agent_state(s["state"].get<std::string>());
      if (!st) ctx_.client->fail("sent garbage: a `sockets` entry with state '" + s["state"].get<std::string>() + "'");
      // Several can match (a TIME_WAIT and a new connection): the most alive wins.
      if (!found || *found == TcpState::TIME_WAIT || *found == TcpState::CLOSED) found = st;
    }
    return found.value_or(TcpState::CLOSED);
  }

  UniqueFd duplicate_fd(const char* purpose) const override {
    throw NotApplicable(ctx_.label() + " has no socket file descriptor (" + std::string(purpose) +
                        " needs one): an agent's sockets are reached through its requests");
  }

  std::unique_ptr<StreamSide> stream(const char* purpose) const override {
    require(purpose);
    return std::make_unique<AgentStream>(shared_from_this());
  }

  CallResult send(std::string_view data, milliseconds timeout) override {
    require("send");
    CallTimer t;
    const auto until = Clock::now() + timeout;
    const std::string call = "send(" + std::to_string(data.size()) + ")";
    std::size_t sent = 0;
    while (sent < data.size()) {  // the stack may take fewer bytes than given: send the rest
      std::size_t n = std::min(kMaxChunk, data.size() - sent);
      Json reply = blocking("send", {{"data", to_hex(data.substr(sent, n))}}, until);
      if (!reply["ok"].get<bool>()) {
        int err = ctx_.errno_of(reply, "send");
        return record(call, -1, err, t, err == EAGAIN);
      }
      sent += count_of(reply, "sent", n);
    }
    return record(call, static_cast<long>(sent), 0, t);
  }

  CallResult recv(std::string& out, std::size_t max, milliseconds timeout) override {
    require("recv");
    CallTimer t;
    const std::string call = "recv(" + std::to_string(max) + ")";
    auto got = recv_once(out, max, Clock::now() + timeout);
    if (got.err) return record(call, -1, got.err, t, got.err == EAGAIN);
    return record(call, static_cast<long>(got.bytes), 0, t);
  }

  CallResult recv_exactly(std::string& out, std::size_t n, milliseconds timeout) override {
    require("recv");
    CallTimer t;
    const std::string call = "recv_exactly(" + std::to_string(n) + ")";
    const auto until = Clock::now() + timeout;
    std::size_t got = 0;
    while (got < n) {
      auto r = recv_once(out, n - got, until);
      if (r.err) return record(call, -1, r.err, t, r.err == EAGAIN);
      if (r.eof) break;
      got += r.bytes;
    }
    return record(call, static_cast<long>(got), 0, t);
  }

  CallResult shutdown(int how) override {
    require("shutdown");
    CallTimer t;
    const char* name = how == SHUT_RD ? "SHUT_RD" : how == SHUT_WR ? "SHUT_WR" : "SHUT_RDWR";
    const char* arg = how == SHUT_RD ? "rd" : how == SHUT_WR ? "wr" : "rdwr";
    return simple(std::string("shutdown(") + name + ")", "shutdown", {{"how", arg}}, t);
  }

  CallResult close() override {
    require("close");
    CallTimer t;
    CallResult r = simple("close()", "close", Json::object(), t);
    char when[48];
    std::snprintf(when, sizeof when, "close() at +%.3f ms", double(t.start - ctx_.trace->start_ns()) / 1e6);
    close_for(when);
    return r;
  }

  CallResult set_linger(bool on, int seconds) override {
    return setsockopt("linger", {{"on", on}, {"seconds", seconds}},
                      "setsockopt(SO_LINGER={" + std::string(on ? "on" : "off") + ", " + std::to_string(seconds) + "})");
  }

  CallResult set_keepalive(int idle_s, int interval_s, int count) override {
    return setsockopt("keepalive", {{"idle_s", idle_s}, {"interval_s", interval_s}, {"count", count}},
                      "setsockopt(keepalive={" + std::to_string(idle_s) + ", " + std::to_string(interval_s) + ", " +
                          std::to_string(count) + "})");
  }

  CallResult set_buffers(std::optional<int> send_bytes, std::optional<int> recv_bytes) override {
    CallResult r{"buffers", 0, 0, false};
    if (send_bytes) r = set_option(SOL_SOCKET, SO_SNDBUF, *send_bytes, "SO_SNDBUF");
    if (r.ok() && recv_bytes) r = set_option(SOL_SOCKET, SO_RCVBUF, *recv_bytes, "SO_RCVBUF");
    return r;
  }

  CallResult set_option(int level, int name, int value, const std::string& label) override {
    const OptionName* o = option_of(level, name);
    // One field of the keepalive settings cannot be set alone; SO_KEEPALIVE (field "") can:
    // on or off with the stack's defaults (its agent's tcp_keepalive_* sysctls).
    if (!o || (o->field && *o->field))
      throw NotApplicable(ctx_.label() + " has no socket option " + label + " (level " + std::to_string(level) +
                          ", option " + std::to_string(name) + "): an agent sets only " + kProtocolOptions);
    const bool boolean = std::string(o->option) == "nodelay" || o->field;
    Json v = boolean ? Json(value != 0) : Json(value);
    return setsockopt(o->option, v, "setsockopt(" + label + "=" + std::to_string(value) + ")");
  }

  CallResult get_option(int level, int name, const std::string& label) override {
    const OptionName* o = option_of(level, name);
    if (!o)
      throw NotApplicable(ctx_.label() + " has no socket option " + label + " (level " + std::to_string(level) +
                          ", option " + std::to_string(name) + "): an agent reads only " + kProtocolOptions);
    require_feature(o->option);
    require("getsockopt");
    CallTimer t;
    const std::string call = "getsockopt(" + label + ")";
    Json reply = ctx_.client->request("getsockopt", with_conn({{"option", o->option}}), kAgentGrace);
    if (!reply["ok"].get<bool>()) return record(call, -1, ctx_.errno_of(reply, "getsockopt"), t);
    if (!reply.contains("value")) ctx_.client->fail("sent garbage: a `getsockopt` reply without \"value\": " + reply.dump());
    const Json& v = reply["value"];
    long value = 0;
    if (o->field && *o->field) {  // one field of the keepalive settings
      if (!v.is_object() || !v.contains(o->field) || !v[o->field].is_number())
        ctx_.client->fail("sent garbage: getsockopt keepalive without a number \"" + std::string(o->field) + "\": " + v.dump());
      value = v[o->field].get<long>();
    } else if (o->field) {  // SO_KEEPALIVE: on when the agent returns settings
      value = v.is_object() ? v.value("on", true) : v.is_boolean() ? v.get<bool>() : 0;
    } else {
      value = v.is_boolean() ? v.get<bool>() : v.is_number() ? v.get<long>() : -1;
      if (value < 0) ctx_.client->fail("sent garbage: getsockopt " + std::string(o->option) + " = " + v.dump());
    }
    return record(call, value, 0, t);
  }

  TcpInfo tcp_info() const override {
    throw NotApplicable(ctx_.label() + " has no TCP_INFO: it is a Linux socket option the agent protocol does not carry");
  }

  // For AgentStream: one request of a transfer.
  Json stream_request(const std::string& cmd, Json args, Clock::time_point until) const {
    auto slice = std::min(until, Clock::now() + kTransferSlice);
    return ctx_.client->request(cmd, with_conn(std::move(args), slice), AgentClient::deadline_for(milliseconds(timeout_ms(slice))));
  }
  std::optional<std::int64_t> handle() const {
    std::lock_guard lock(mu_);
    return handle_;
  }
  const AgentContext& ctx() const { return ctx_; }
  std::size_t count_of(const Json& reply, const char* field, std::size_t at_most) const {
    if (!reply.contains(field) || !reply[field].is_number_unsigned() || reply[field].get<std::size_t>() > at_most)
      ctx_.client->fail("sent garbage: a reply whose \"" + std::string(field) + "\" is not a count up to " +
                        std::to_string(at_most) + ": " + reply.dump());
    return reply[field].get<std::size_t>();
  }

 private:
  struct Got {
    std::size_t bytes = 0;
    int err = 0;
    bool eof = false;
  };

  void require(const char* call) const {
    std::lock_guard lock(mu_);
    if (!handle_)
      throw Error(std::string(call) + " on " + SocketRef{ctx_.host, tuple_}.str() +
                  ": the connection's socket is closed (" + closed_at_ +
                  "); a closed connection can still be observed but not used");
  }
  void require_feature(const std::string& option) const {
    if (ctx_.features.count(option)) return;
    std::string listed;
    for (const auto& f : ctx_.features) listed += (listed.empty() ? "" : ", ") + f;
    throw NotApplicable(ctx_.label() + " does not support socket option '" + option + "' (its agent's features: " +
                        (listed.empty() ? "none" : listed) + ")");
  }

  Json with_conn(Json args, std::optional<Clock::time_point> until = std::nullopt) const {
    if (auto h = handle()) args["conn"] = *h;
    if (until) args["timeout_ms"] = timeout_ms(*until);
    return args;
  }
  Json blocking(const std::string& cmd, Json args, Clock::time_point until) const {
    const long ms = timeout_ms(until);
    return ctx_.client->request(cmd, with_conn(std::move(args), until), AgentClient::deadline_for(milliseconds(ms)));
  }

  Got recv_once(std::string& out, std::size_t max, Clock::time_point until) {
    Json reply = blocking("recv", {{"max", std::min(max, kMaxChunk)}}, until);
    if (!reply["ok"].get<bool>()) return {0, ctx_.errno_of(reply, "recv")};
    if (!reply.contains("data") || !reply["data"].is_string())
      ctx_.client->fail("sent garbage: a `recv` reply without \"data\": " + reply.dump());
    std::string bytes;
    try {
      bytes = from_hex(reply["data"].get<std::string>());
    } catch (const std::invalid_argument& e) {
      ctx_.client->fail(std::string("sent garbage: `recv` data: ") + e.what());
    }
    out += bytes;
    return {bytes.size(), 0, bytes.empty() && reply.value("eof", true)};
  }

  CallResult simple(const std::string& call, const std::string& cmd, Json args, const CallTimer& t) {
    Json reply = ctx_.client->request(cmd, with_conn(std::move(args)), kAgentGrace);
    if (!reply["ok"].get<bool>()) return record(call, -1, ctx_.errno_of(reply, cmd), t);
    return record(call, 0, 0, t);
  }

  CallResult setsockopt(const std::string& option, Json value, const std::string& call) {
    require_feature(option);
    require("setsockopt");
    CallTimer t;
    return simple(call, "setsockopt", {{"option", option}, {"value", std::move(value)}}, t);
  }

  CallResult record(std::string call, long value, int err, const CallTimer& t, bool deadline_passed = false) {
    return record_call(*ctx_.trace, ctx_.host, std::move(call), value, err, t, deadline_passed, tuple_);
  }

  AgentContext ctx_;
  mutable std::mutex mu_;
  std::optional<std::int64_t> handle_;
  std::string closed_at_;
  FourTuple tuple_;
  CallResult connect_;
};

StreamSide::Io AgentStream::send(std::span<const std::uint8_t> data, Clock::time_point until, int) {
  if (!conn_->handle()) return {0, EBADF};
  std::size_t n = std::min(kMaxChunk, data.size());
  std::string_view bytes(reinterpret_cast<const char*>(data.data()), n);
  Json reply = conn_->stream_request("send", {{"data", to_hex(bytes)}}, until);
  if (!reply["ok"].get<bool>()) {
    int err = conn_->ctx().errno_of(reply, "send");
    return err == EAGAIN ? Io{} : Io{0, err};
  }
  return {conn_->count_of(reply, "sent", n)};
}

StreamSide::Io AgentStream::recv(std::span<std::uint8_t> buf, Clock::time_point until, int) {
  if (!conn_->handle()) return {0, EBADF};
  Json reply = conn_->stream_request("recv", {{"max", std::min(buf.size(), kMaxChunk)}}, until);
  if (!reply["ok"].get<bool>()) {
    int err = conn_->ctx().errno_of(reply, "recv");
    return err == EAGAIN ? Io{} : Io{0, err};
  }
  std::string bytes;
  try {
    bytes = from_hex(reply.value("data", std::string()));
  } catch (const std::invalid_argument& e) {
    conn_->ctx().client->fail(std::string("sent garbage: `recv` data: ") + e.what());
  }
  if (bytes.size() > buf.size()) conn_->ctx().client->fail("sent garbage: `recv` returned more bytes than asked for");
  std::copy(bytes.begin(), bytes.end(), buf.begin());
  return {bytes.size(), 0, bytes.empty() && reply.value("eof", true)};
}

int AgentStream::shutdown_write() {
  if (!conn_->handle()) return EBADF;
  Json reply = conn_->stream_request("shutdown", {{"how", "wr"}}, Clock::now());
  return reply["ok"].get<bool>() ? 0 : conn_->ctx().errno_of(reply, "shutdown");
}

class AgentListener : public ListenerImpl {
 public:
  AgentListener(AgentContext ctx, std::int64_t handle, SockAddr local)
      : ctx_(std::move(ctx)), handle_(handle), local_(local) {}

  ~AgentListener() override {
    std::lock_guard lock(mu_);
    close_dropped(ctx_, "listener", handle_);
  }

  void close_for(const std::string& why) {
    std::lock_guard lock(mu_);
    if (!handle_) return;
    handle_.reset();
    closed_at_ = why;
  }

  const SockAddr& local() const override { return local_; }

  Connection accept(milliseconds timeout) override {
    auto handle = require("accept on " + local_.str());
    CallTimer t;
    Json reply = ctx_.client->request("accept", {{"listener", handle}, {"timeout_ms", timeout.count()}},
                                      AgentClient::deadline_for(timeout));
    if (!reply["ok"].get<bool>()) {
      int err = ctx_.errno_of(reply, "accept");
      record_call(*ctx_.trace, ctx_.host, "accept()", -1, err, t, err == EAGAIN);
      if (err == EAGAIN)
        throw Error("accept on " + netns::to_string(ctx_.host) + " " + local_.str() + ": no connection arrived within " +
                    std::to_string(timeout.count()) + " ms");
      throw Error("accept on " + netns::to_string(ctx_.host) + " " + local_.str() + " failed: " + errno_name(err));
    }
    FourTuple tuple{ctx_.addr_of(reply, "local", "accept"), ctx_.addr_of(reply, "remote", "accept")};
    auto conn = make_agent_connection(ctx_, ctx_.handle_of(reply, "conn", "accept"), tuple, CallResult{});
    record_call(*ctx_.trace, ctx_.host, "accept() -> " + tuple.remote.str(), 0, 0, t);
    return Connection(conn);
  }

  CallResult close() override {
    auto handle = require("close on listener " + local_.str());
    CallTimer t;
    Json reply = ctx_.client->request("close", {{"listener", handle}}, kAgentGrace);
    close_for("closed");
    int err = reply["ok"].get<bool>() ? 0 : ctx_.errno_of(reply, "close");
    return record_call(*ctx_.trace, ctx_.host, "close(listener)", err ? -1 : 0, err, t);
  }

 private:
  std::int64_t require(const std::string& what) const {
    std::lock_guard lock(mu_);
    if (!handle_) throw Error(what + ": the listener is closed (" + closed_at_ + ")");
    return *handle_;
  }

  AgentContext ctx_;
  mutable std::mutex mu_;
  std::optional<std::int64_t> handle_;
  std::string closed_at_;
  SockAddr local_;
};

}  // namespace

std::shared_ptr<ConnectionImpl> make_agent_connection(const AgentContext& ctx, std::optional<std::int64_t> handle,
                                                      FourTuple tuple, CallResult connect) {
  auto conn = std::make_shared<AgentConnection>(ctx, handle, tuple, std::move(connect));
  ctx.made->add([w = std::weak_ptr<AgentConnection>(conn)](const std::string& why) {
    if (auto live = w.lock()) live->close_for(why);
  });
  return conn;
}

std::shared_ptr<ListenerImpl> make_agent_listener(const AgentContext& ctx, std::int64_t handle, SockAddr local) {
  auto listener = std::make_shared<AgentListener>(ctx, handle, local);
  ctx.made->add([w = std::weak_ptr<AgentListener>(listener)](const std::string& why) {
    if (auto live = w.lock()) live->close_for(why);
  });
  return listener;
}

}  // namespace tcpfault
