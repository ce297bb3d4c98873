#include "netns/sysctl/sysctl_key.h"

#include <algorithm>

#include "netns/error.h"

namespace tcpfault::netns {

namespace {

void swap_char(std::string& s, char a, char b) {
  for (char& c : s) c = c == a ? b : c == b ? a : c;
}

}  // namespace

std::string SysctlKey::dotted() const {
  std::string out;
  for (std::string part : parts) {
    std::replace(part.begin(), part.end(), '.', '/');
    if (!out.empty()) out += '.';
    out += part;
  }
  return out;
}

std::string SysctlKey::path() const {
  std::string out = "/proc/sys";
  for (const auto& part : parts) out += "/" + part;
  return out;
}

SysctlKey parse_sysctl_key(std::string_view text) {
  const std::string original(text);
  std::string key = original;
  constexpr std::string_view kProcSys = "/proc/sys/";
  if (key.starts_with(kProcSys)) key.erase(0, kProcSys.size());
  if (key.empty()) throw Error("empty sysctl key");

  // Dotted spelling: swap so that '/' separates and '.' is literal, then split on '/'.
  const auto first_sep = key.find_first_of("./");
  if (first_sep != std::string::npos && key[first_sep] == '.') swap_char(key, '.', '/');

  SysctlKey out;
  std::size_t start = 0;
  for (;;) {
    const auto end = key.find('/', start);
    std::string part = key.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (part.empty())
      throw Error("malformed sysctl key '" + original +
                  "': empty component (a doubled, leading or trailing separator)");
    if (part == "." || part == "..")
      throw Error("malformed sysctl key '" + original + "': component '" + part +
                  "' would leave the sysctl tree");
    if (part.find_first_of(std::string_view(" \t\r\n\0", 5)) != std::string::npos)
      throw Error("malformed sysctl key '" + original + "': contains whitespace");
    out.parts.push_back(std::move(part));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

}  // namespace tcpfault::netns
