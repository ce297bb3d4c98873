// What the harness reads from an agent's control socket (docs/agent-protocol.md), as
// pure functions: the bytes split into lines, a line read into an event, a reply or
// garbage, and a state event read into a transition. AgentClient matches the replies
// with its outstanding requests; these functions hold no state, so they can be tested
// and fuzzed on their own.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/trace/trace.h"
#include "netns/topology.h"

namespace tcpfault {

// Takes every complete line out of the front of `buffer` (without its '\n', nor a '\r'
// before it); what follows the last '\n' stays for the next read.
std::vector<std::string> take_agent_lines(std::string& buffer);

struct AgentLine {
  enum class Kind {
    Event,         // has "event": `message` is it
    Reply,         // has an integer "id": `message` is it
    RequestError,  // "id": null with "error": the agent could not read a request
    Garbage,       // anything else
  };
  Kind kind = Kind::Garbage;
  nlohmann::json message;     // Event, Reply
  std::int64_t id = 0;        // Reply
  bool has_outcome = false;   // Reply: a boolean "ok" or an "error"
  std::string problem;        // RequestError, Garbage: the target failure, in words
};

// One line (as take_agent_lines gives it) read into what it is. Never throws.
AgentLine read_agent_line(const std::string& line);

// The line as a failure report shows it: quoted, cut after 200 characters.
std::string quote_agent_line(const std::string& line);

// A "state" event read into a transition of `host`. Throws std::invalid_argument saying
// what is wrong with a malformed one.
TransitionEvent read_state_event(const nlohmann::json& event, Host host);

}  // namespace tcpfault
