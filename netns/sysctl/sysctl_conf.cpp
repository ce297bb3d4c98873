// sysctl.conf / sysctl.d syntax, as procps and systemd read it.
#include <optional>
#include <string>

#include "netns/error.h"
#include "netns/sysctl/sysctl.h"
#include "netns/sysctl/sysctl_key.h"

namespace tcpfault::netns {

namespace {

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\f\v";
  const auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

[[noreturn]] void fail(int line, const std::string& what) {
  throw Error("line " + std::to_string(line) + ": " + what);
}

// One line, numbered `number`: nothing for a blank line or a comment, else its setting.
// Throws Error "line N: ..." when it is malformed.
std::optional<SysctlSetting> parse_line(std::string_view raw, int number) {
  std::string_view line = trim(raw);
  if (line.empty() || line.front() == '#' || line.front() == ';') return std::nullopt;

  SysctlSetting s;
  s.line = number;
  if (line.front() == '-') {
    s.ignore_errors = true;
    line = trim(line.substr(1));
  }
  const auto eq = line.find('=');
  if (eq == std::string_view::npos)
    fail(number, "expected 'key = value' but found no '=' in \"" + std::string(line) + "\"");
  const std::string key(trim(line.substr(0, eq)));
  const std::string value(trim(line.substr(eq + 1)));
  if (key.empty()) fail(number, "empty key before '='");
  if (key.find_first_of(" \t") != std::string::npos)
    fail(number, "key \"" + key + "\" contains whitespace");
  if (key.find_first_of("*?[") != std::string::npos)
    fail(number, "wildcard key " + key + " is not supported; name each key");
  if (value.empty()) fail(number, "no value after '=' for key " + key);
  try {
    s.key = parse_sysctl_key(key).dotted();
  } catch (const Error& e) {
    fail(number, e.what());
  }
  s.value = value;
  return s;
}

// Calls f(line text, line number) for each line of `text`.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  int number = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = text.find('\n', start);
    const std::string_view raw =
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    start = end == std::string_view::npos ? text.size() + 1 : end + 1;
    f(raw, ++number);
  }
}

}  // namespace

std::vector<SysctlSetting> parse_sysctl_conf(std::string_view text) {
  std::vector<SysctlSetting> out;
  for_each_line(text, [&](std::string_view raw, int number) {
    if (auto s = parse_line(raw, number)) out.push_back(std::move(*s));
  });
  return out;
}

SysctlConf read_sysctl_conf(std::string_view text) {
  SysctlConf out;
  for_each_line(text, [&](std::string_view raw, int number) {
    try {
      if (auto s = parse_line(raw, number)) out.settings.push_back(std::move(*s));
    } catch (const Error& e) {
      out.errors.push_back({number, e.what()});
    }
  });
  return out;
}

}  // namespace tcpfault::netns
