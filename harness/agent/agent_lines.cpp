#include "harness/agent/agent_lines.h"

#include <stdexcept>

#include "harness/agent/agent_values.h"

namespace tcpfault {

using Json = nlohmann::json;

std::vector<std::string> take_agent_lines(std::string& buffer) {
  std::vector<std::string> lines;
  std::size_t start = 0, nl;
  while ((nl = buffer.find('\n', start)) != std::string::npos) {
    std::string line = buffer.substr(start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  buffer.erase(0, start);
  return lines;
}

std::string quote_agent_line(const std::string& line) {
  constexpr std::size_t kShown = 200;
  std::string shown = line.size() > kShown ? line.substr(0, kShown) + "..." : line;
  return "'" + shown + "'";
}

AgentLine read_agent_line(const std::string& line) {
  AgentLine out;
  auto garbage = [&](const std::string& what) {
    out.kind = AgentLine::Kind::Garbage;
    out.problem = "sent garbage: " + what + ": " + quote_agent_line(line);
    return out;
  };
  Json j = Json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return garbage("a line that is not a JSON object");
  if (j.contains("event")) {
    out.kind = AgentLine::Kind::Event;
    out.message = std::move(j);
    return out;
  }
  if (!j.contains("id")) return garbage("a message with neither \"id\" nor \"event\"");
  const Json& id = j["id"];
  if (id.is_null() && j.contains("error")) {
    out.kind = AgentLine::Kind::RequestError;
    out.problem = "reported that it could not read a request: " + quote_agent_line(line);
    return out;
  }
  if (!id.is_number_integer()) return garbage("a reply whose id is not an integer");
  out.kind = AgentLine::Kind::Reply;
  out.id = id.get<std::int64_t>();
  out.has_outcome = (j.contains("ok") && j["ok"].is_boolean()) || j.contains("error");
  out.message = std::move(j);
  return out;
}

TransitionEvent read_state_event(const Json& e, Host host) {
  auto text = [&](const char* field) {
    if (!e.contains(field) || !e[field].is_string())
      throw std::invalid_argument(std::string("a state event without \"") + field + "\"");
    return e[field].get<std::string>();
  };
  auto state = [&](const char* field) {
    auto s = agent_state(text(field));
    if (!s) throw std::invalid_argument("a state event whose \"" + std::string(field) + "\" is no state: " + text(field));
    return *s;
  };
  if (!e.contains("t_ns") || !e["t_ns"].is_number_integer())
    throw std::invalid_argument("a state event without an integer \"t_ns\"");
  return TransitionEvent{e["t_ns"].get<std::int64_t>(), host, parse_agent_sockaddr(text("local")),
                         parse_agent_sockaddr(text("remote")), 0, state("from"), state("to"), "agent state event"};
}

}  // namespace tcpfault
