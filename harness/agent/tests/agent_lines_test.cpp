// The agent protocol's line reader on its own: lines, events, replies, garbage.
#include "harness/agent/agent_lines.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace tcpfault {
namespace {

using Kind = AgentLine::Kind;

TEST(AgentLines, TakesCompleteLinesAndKeepsTheRest) {
  std::string buffer = "{\"a\":1}\r\n\n{\"b\":2}\n{\"c\"";
  EXPECT_EQ(take_agent_lines(buffer), (std::vector<std::string>{"{\"a\":1}", "", "{\"b\":2}"}));
  EXPECT_EQ(buffer, "{\"c\"");
  EXPECT_TRUE(take_agent_lines(buffer).empty());
  buffer += ":3}\n";
  EXPECT_EQ(take_agent_lines(buffer), (std::vector<std::string>{"{\"c\":3}"}));
  EXPECT_EQ(buffer, "");
}

TEST(AgentLines, ReadsRepliesEventsAndRequestErrors) {
  AgentLine r = read_agent_line(R"({"id":7,"ok":true,"handle":3})");
  EXPECT_EQ(r.kind, Kind::Reply);
  EXPECT_EQ(r.id, 7);
  EXPECT_TRUE(r.has_outcome);
  EXPECT_EQ(r.message["handle"], 3);

  AgentLine no_outcome = read_agent_line(R"({"id":8,"ok":"yes"})");
  EXPECT_EQ(no_outcome.kind, Kind::Reply);
  EXPECT_FALSE(no_outcome.has_outcome);
  EXPECT_TRUE(read_agent_line(R"({"id":9,"error":"bad_args"})").has_outcome);

  EXPECT_EQ(read_agent_line(R"({"event":"log","message":"hi","id":"x"})").kind, Kind::Event);
  AgentLine unreadable = read_agent_line(R"({"id":null,"error":"bad_json"})");
  EXPECT_EQ(unreadable.kind, Kind::RequestError);
  EXPECT_NE(unreadable.problem.find("could not read a request"), std::string::npos);
}

TEST(AgentLines, SaysWhatIsWrongWithGarbage) {
  auto problem = [](const std::string& line) {
    AgentLine g = read_agent_line(line);
    EXPECT_EQ(g.kind, Kind::Garbage) << line;
    return g.problem;
  };
  EXPECT_EQ(problem("[1,2]"), "sent garbage: a line that is not a JSON object: '[1,2]'");
  EXPECT_EQ(problem("{\"id\":1"), "sent garbage: a line that is not a JSON object: '{\"id\":1'");
  EXPECT_EQ(problem("{\"ok\":true}"), "sent garbage: a message with neither \"id\" nor \"event\": '{\"ok\":true}'");
  EXPECT_EQ(problem("{\"id\":1.5,\"ok\":true}"),
            "sent garbage: a reply whose id is not an integer: '{\"id\":1.5,\"ok\":true}'");
  EXPECT_EQ(problem("{\"id\":null}"), "sent garbage: a reply whose id is not an integer: '{\"id\":null}'");
  const std::string long_line = "x" + std::string(300, 'y');
  EXPECT_EQ(problem(long_line), "sent garbage: a line that is not a JSON object: '" + long_line.substr(0, 200) + "...'");
}

TEST(AgentLines, ReadsStateEvents) {
  const auto e = nlohmann::json::parse(
      R"({"event":"state","t_ns":12,"local":"[2001:2:0:2::1]:8080","remote":"[2001:2:0:1::1]:40000",
          "from":"SYN_RECV","to":"ESTABLISHED"})");
  TransitionEvent t = read_state_event(e, Host::Server);
  EXPECT_EQ(t.t_ns, 12);
  EXPECT_EQ(t.host, Host::Server);
  EXPECT_EQ(t.local.str(), "[2001:2:0:2::1]:8080");
  EXPECT_EQ(t.remote.port, 40000);
  EXPECT_EQ(t.from, TcpState::SYN_RECV);
  EXPECT_EQ(t.to, TcpState::ESTABLISHED);

  auto bad = e;
  bad["to"] = "OPEN";
  EXPECT_THROW(read_state_event(bad, Host::Server), std::invalid_argument);
  bad = e;
  bad.erase("t_ns");
  EXPECT_THROW(read_state_event(bad, Host::Server), std::invalid_argument);
  bad = e;
  bad["local"] = "198.18.2.1";
  EXPECT_THROW(read_state_event(bad, Host::Server), std::invalid_argument);
  // JSON can carry a NUL; an address with one in it is no address (it used to pass as
  // the part before the NUL).
  bad = nlohmann::json::parse(R"({"event":"state","t_ns":1,"local":"198.18.2.1\u0000junk:8080",
                                  "remote":"198.18.1.1:40000","from":"LISTEN","to":"SYN_RECV"})");
  EXPECT_THROW(read_state_event(bad, Host::Server), std::invalid_argument);
}

}  // namespace
}  // namespace tcpfault
