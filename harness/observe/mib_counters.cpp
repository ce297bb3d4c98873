#include "harness/observe/mib_counters.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "netns/error.h"

namespace tcpfault {

namespace {

std::string read_whole(const std::string& path, bool optional) {
  std::ifstream in(path);
  if (!in) {
    if (optional) return {};
    throw Error("cannot read " + path + " (is /proc mounted?)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::int64_t to_number(const std::string& word, const std::string& key) {
  try {
    std::size_t used = 0;
    std::int64_t v = std::stoll(word, &used);
    if (used == word.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error("counter " + key + ": '" + word + "' is not a number");
}

}  // namespace

void parse_paired_lines(const std::string& text, Counters& into) {
  std::istringstream in(text);
  for (std::string header, values; std::getline(in, header) && std::getline(in, values);) {
    auto names = words(header);
    auto numbers = words(values);
    if (names.empty() || numbers.size() != names.size() || names[0] != numbers[0] ||
        !names[0].ends_with(":"))
      throw Error("unexpected MIB lines: '" + header + "' / '" + values + "'");
    const std::string group = names[0].substr(0, names[0].size() - 1);
    for (std::size_t i = 1; i < names.size(); ++i) {
      const std::string key = group + "." + names[i];
      into[key] = to_number(numbers[i], key);
    }
  }
}

void parse_snmp6(const std::string& text, Counters& into) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto w = words(line);
    if (w.empty()) continue;
    if (w.size() != 2) throw Error("unexpected snmp6 line: '" + line + "'");
    const std::string& name = w[0];
    const auto six = name.find('6');
    const std::string key = six == std::string::npos || six + 1 == name.size()
                                ? "Snmp6." + name
                                : name.substr(0, six + 1) + "." + name.substr(six + 1);
    into[key] = to_number(w[1], key);
  }
}

Counters read_counters(const netns::Namespace& ns) {
  return ns.run([] {
    Counters c;
    parse_paired_lines(read_whole("/proc/thread-self/net/snmp", false), c);
    parse_paired_lines(read_whole("/proc/thread-self/net/netstat", false), c);
    // Absent when IPv6 is disabled in the kernel.
    parse_snmp6(read_whole("/proc/thread-self/net/snmp6", true), c);
    return c;
  });
}

Counters counter_delta(const Counters& before, const Counters& after) {
  Counters delta;
  for (const auto& [key, value] : after) {
    auto it = before.find(key);
    delta[key] = value - (it == before.end() ? 0 : it->second);
  }
  return delta;
}

}  // namespace tcpfault
