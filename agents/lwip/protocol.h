// The shapes of the agent protocol (docs/agent-protocol.md): a request's arguments,
// and the three kinds of answer: success, a failed socket call (errno), a protocol error.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "agents/lwip/json_lines.h"

namespace tcpfault::lwip_agent {

inline constexpr int kProtocolVersion = 1;

// The request could not be understood or is not supported. `kind` is one of the
// protocol's error names: malformed, bad_request, unknown_command, unsupported,
// bad_handle, version.
class ProtocolError : public std::runtime_error {
 public:
  ProtocolError(std::string kind, const std::string& message)
      : std::runtime_error(message), kind_(std::move(kind)) {}
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
};

// A socket call failed the way a socket call fails. `extra` is merged into the reply
// (a failed connect names the tuple it tried).
class SocketFailure : public std::runtime_error {
 public:
  SocketFailure(int err, const std::string& message, Json extra = Json::object())
      : std::runtime_error(message), err_(err), extra_(std::move(extra)) {}
  int err() const { return err_; }
  const Json& extra() const { return extra_; }

 private:
  int err_;
  Json extra_;
};

// Throws SocketFailure(err) with the errno's own message and `context` after it.
[[noreturn]] void fail_errno(int err, const std::string& context = "");

// "ECONNREFUSED" for ECONNREFUSED; "E<n>" for a number with no name.
std::string errno_name(int err);
// "connection refused": strerror's text starting in lower case.
std::string errno_text(int err);

// Arguments of a request; a missing or mistyped one throws ProtocolError bad_request
// naming the command, the argument and what was expected.
class Args {
 public:
  Args(const Json& request, std::string_view cmd) : req_(request), cmd_(cmd) {}
  bool has(const char* name) const { return req_.contains(name) && !req_.at(name).is_null(); }
  std::int64_t integer(const char* name, std::int64_t min, std::int64_t max) const;
  std::optional<std::int64_t> opt_integer(const char* name, std::int64_t min, std::int64_t max) const;
  std::string string(const char* name) const;
  bool boolean(const char* name) const;
  std::optional<bool> opt_boolean(const char* name) const;
  const Json& value(const char* name) const;
  const Json& object(const char* name) const;
  [[noreturn]] void bad(const char* name, const std::string& expected) const;

 private:
  const Json& req_;
  std::string cmd_;
};

Json ok_reply(const Json& id);
Json errno_reply(const Json& id, const SocketFailure& f);
Json protocol_error_reply(const Json& id, const ProtocolError& e);

// Lowercase hex, as the protocol carries bytes.
std::string to_hex(const unsigned char* data, std::size_t len);
// Throws ProtocolError bad_request for odd length or a non-hex digit.
std::string from_hex(std::string_view hex, const char* what);

}  // namespace tcpfault::lwip_agent
