// The sysctl.conf reader (netns/sysctl/sysctl_conf.cpp) and the key syntax under it, on any
// text. Properties: the strict parser throws exactly when the lenient reader finds an
// error, and otherwise both give the same settings; every setting has a key in its
// canonical dotted form, naming a path inside /proc/sys, and a trimmed, non-empty value;
// line numbers increase and every error names its line.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/check.h"
#include "netns/error.h"
#include "netns/sysctl/sysctl.h"
#include "netns/sysctl/sysctl_key.h"

using namespace tcpfault;
using namespace tcpfault::netns;

namespace {

bool same(const SysctlSetting& a, const SysctlSetting& b) {
  return a.key == b.key && a.value == b.value && a.ignore_errors == b.ignore_errors && a.line == b.line;
}

void check_setting(const SysctlSetting& s, int lines) {
  FUZZ_CHECK(s.line >= 1 && s.line <= lines);
  FUZZ_CHECK(!s.value.empty());
  constexpr std::string_view kSpace = " \t\r\f\v\n";
  FUZZ_CHECK(kSpace.find(s.value.front()) == std::string_view::npos);
  FUZZ_CHECK(kSpace.find(s.value.back()) == std::string_view::npos);
  const SysctlKey key = parse_sysctl_key(s.key);
  FUZZ_CHECK(key.dotted() == s.key);
  FUZZ_CHECK(key.path().starts_with("/proc/sys/"));
  for (const std::string& part : key.parts)
    FUZZ_CHECK(!part.empty() && part != "." && part != ".." && part.find('/') == std::string::npos);
  // The path names the same key.
  FUZZ_CHECK(parse_sysctl_key(key.path()).parts == key.parts);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  int lines = 1;
  for (char c : text) lines += c == '\n';

  const SysctlConf lenient = read_sysctl_conf(text);
  int last = 0;
  for (const SysctlSetting& s : lenient.settings) {
    check_setting(s, lines);
    FUZZ_CHECK(s.line > last);
    last = s.line;
  }
  last = 0;
  for (const SysctlConfError& e : lenient.errors) {
    FUZZ_CHECK(e.line > last && e.line <= lines);
    last = e.line;
    FUZZ_CHECK(e.message.starts_with("line " + std::to_string(e.line) + ": "));
  }

  try {
    const auto strict = parse_sysctl_conf(text);
    FUZZ_CHECK(lenient.errors.empty());
    FUZZ_CHECK(strict.size() == lenient.settings.size());
    for (std::size_t i = 0; i < strict.size(); ++i) FUZZ_CHECK(same(strict[i], lenient.settings[i]));
  } catch (const Error& e) {
    FUZZ_CHECK(!lenient.errors.empty());
    FUZZ_CHECK(lenient.errors.front().message == e.what());
  }
  return 0;
}
