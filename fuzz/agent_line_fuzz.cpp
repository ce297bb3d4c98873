// What the harness does with bytes an agent writes on its control socket
// (harness/agent/agent_lines.h): split into lines as reads deliver them, each line read into
// an event, a reply or garbage, a state event into a transition, and the protocol's
// values (addresses, hex, errno and state names). Properties: the lines do not depend
// on how the bytes were cut into reads; a reply keeps its id; a failure report quotes
// the line; whatever is accepted can be written back (dump) and reads back the same;
// malformed events and values are refused with std::invalid_argument, nothing else.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz/check.h"
#include "harness/agent/agent_lines.h"
#include "harness/agent/agent_values.h"

using namespace tcpfault;
using Json = nlohmann::json;

namespace {

bool printable(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

// The protocol's values, each read from a whole line.
void check_values(const std::string& text) {
  try {
    const SockAddr a = parse_agent_sockaddr(text);
    FUZZ_CHECK(printable(text));
    FUZZ_CHECK(parse_agent_sockaddr(a.str()) == a);
  } catch (const std::invalid_argument&) {
  }
  FUZZ_CHECK(from_hex(to_hex(text)) == text);
  try {
    const std::string bytes = from_hex(text);
    FUZZ_CHECK(bytes.size() * 2 == text.size());
  } catch (const std::invalid_argument&) {
  }
  if (auto e = errno_from_name(text)) FUZZ_CHECK(text == ::strerrorname_np(*e));
  if (auto s = agent_state(text)) FUZZ_CHECK(to_string(*s) == text);
}

void check_event(const AgentLine& read) {
  const Json& e = read.message;
  FUZZ_CHECK(e.is_object() && e.contains("event"));
  // As AgentTarget's handler reads it.
  const std::string kind = e["event"].is_string() ? e["event"].get<std::string>() : e["event"].dump();
  if (kind != "state") return;
  try {
    const TransitionEvent t = read_state_event(e, Host::Server);
    FUZZ_CHECK(t.host == Host::Server && t.source == "agent state event");
    FUZZ_CHECK(parse_agent_sockaddr(t.local.str()) == t.local);
  } catch (const std::invalid_argument&) {
  }
}

void check_line(const std::string& line) {
  const AgentLine read = read_agent_line(line);
  switch (read.kind) {
    case AgentLine::Kind::Garbage:
    case AgentLine::Kind::RequestError:
      FUZZ_CHECK(read.problem.find(quote_agent_line(line)) != std::string::npos);
      return;
    case AgentLine::Kind::Event: check_event(read); break;
    case AgentLine::Kind::Reply:
      FUZZ_CHECK(read.message["id"].get<std::int64_t>() == read.id);
      break;
  }
  // What was accepted writes back and reads back alike (reports dump agent values).
  const std::string again = read.message.dump();
  const AgentLine reread = read_agent_line(again);
  FUZZ_CHECK(reread.kind == read.kind && reread.id == read.id && reread.has_outcome == read.has_outcome);
  FUZZ_CHECK(reread.message == read.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // All at once, and cut in two reads where the last byte says.
  std::string whole = bytes;
  const std::vector<std::string> lines = take_agent_lines(whole);
  const std::size_t cut = data[size - 1] % (size + 1);
  std::string pieces = bytes.substr(0, cut);
  std::vector<std::string> split = take_agent_lines(pieces);
  pieces += bytes.substr(cut);
  for (std::string& l : take_agent_lines(pieces)) split.push_back(std::move(l));
  FUZZ_CHECK(split == lines && pieces == whole);
  FUZZ_CHECK(whole.find('\n') == std::string::npos);

  for (const std::string& line : lines) {
    FUZZ_CHECK(line.find('\n') == std::string::npos);
    check_line(line);
    check_values(line);
  }
  return 0;
}
