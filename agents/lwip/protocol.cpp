#include "agents/lwip/protocol.h"

#include <cctype>
#include <cstring>

namespace tcpfault::lwip_agent {

std::string errno_name(int err) {
  if (const char* name = ::strerrorname_np(err)) return name;
  return "E" + std::to_string(err);
}

std::string errno_text(int err) {
  std::string text = std::strerror(err);
  if (!text.empty() && std::isupper(static_cast<unsigned char>(text[0])) &&
      (text.size() < 2 || !std::isupper(static_cast<unsigned char>(text[1]))))
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

void fail_errno(int err, const std::string& context) {
  throw SocketFailure(err, context.empty() ? errno_text(err) : errno_text(err) + " (" + context + ")");
}

void Args::bad(const char* name, const std::string& expected) const {
  throw ProtocolError("bad_request", cmd_ + ": argument '" + name + "' " + expected);
}

const Json& Args::value(const char* name) const {
  if (!has(name)) bad(name, "is missing");
  return req_.at(name);
}

std::int64_t Args::integer(const char* name, std::int64_t min, std::int64_t max) const {
  const Json& v = value(name);
  const std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!v.is_number_integer()) bad(name, "must be " + range + ", not " + v.dump());
  const std::int64_t n = v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX
                             ? INT64_MAX
                             : v.get<std::int64_t>();
  if (n < min || n > max) bad(name, "must be " + range + ", not " + v.dump());
  return n;
}

std::optional<std::int64_t> Args::opt_integer(const char* name, std::int64_t min, std::int64_t max) const {
  if (!has(name)) return std::nullopt;
  return integer(name, min, max);
}

std::string Args::string(const char* name) const {
  const Json& v = value(name);
  if (!v.is_string()) bad(name, "must be a string, not " + v.dump());
  return v.get<std::string>();
}

bool Args::boolean(const char* name) const {
  const Json& v = value(name);
  if (!v.is_boolean()) bad(name, "must be true or false, not " + v.dump());
  return v.get<bool>();
}

std::optional<bool> Args::opt_boolean(const char* name) const {
  if (!has(name)) return std::nullopt;
  return boolean(name);
}

const Json& Args::object(const char* name) const {
  const Json& v = value(name);
  if (!v.is_object()) bad(name, "must be an object, not " + v.dump());
  return v;
}

Json ok_reply(const Json& id) { return Json{{"id", id}, {"ok", true}}; }

Json errno_reply(const Json& id, const SocketFailure& f) {
  Json r{{"id", id}, {"ok", false}, {"errno", errno_name(f.err())}, {"message", f.what()}};
  for (const auto& [k, v] : f.extra().items()) r[k] = v;
  return r;
}

Json protocol_error_reply(const Json& id, const ProtocolError& e) {
  return Json{{"id", id}, {"error", e.kind()}, {"message", e.what()}};
}

std::string to_hex(const unsigned char* data, std::size_t len) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (std::size_t i = 0; i < len; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0xf];
  }
  return out;
}

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string from_hex(std::string_view hex, const char* what) {
  if (hex.size() % 2 != 0)
    throw ProtocolError("bad_request", std::string(what) + ": hex data has an odd number of digits");
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      throw ProtocolError("bad_request", std::string(what) + ": '" + std::string(hex.substr(2 * i, 2)) +
                                             "' at offset " + std::to_string(2 * i) + " is not hex");
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

}  // namespace tcpfault::lwip_agent
