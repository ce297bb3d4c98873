// A fresh scenario for each test, on the family the test is instantiated with and
// named after the test (its ladder and artifacts say which test made them).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/scenario/scenario.h"

namespace tcpfault {

class ScenarioTest : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override { s = std::make_unique<Scenario>(options()); }

  ScenarioOptions options() const {
    ScenarioOptions o;
    o.family = GetParam();
    o.name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    return o;
  }

  // The timeline's segments that match, pointing into a copy of the timeline that lives
  // as long as the test: a later call must not leave an earlier result dangling.
  std::vector<const SegmentEvent*> segments(const Match& m) {
    snapshots.push_back(s->trace().events());
    return matching_segments(snapshots.back(), m);
  }

  std::unique_ptr<Scenario> s;
  std::list<std::vector<Event>> snapshots;
};

// A scenario test about one connection: open() listens on the server (unless a test
// listened already), connects the client and accepts.
class ConnectionTest : public ScenarioTest {
 protected:
  static constexpr std::uint16_t kPort = 8080;

  void open() {
    if (!listener) listener.emplace(s->server().listen(s->server_at(kPort)));
    client.emplace(s->client().connect(s->server_at(kPort)));
    s->expect_ok(client->connect_result());
    server.emplace(listener->accept());
  }

  std::optional<Listener> listener;
  std::optional<Connection> client, server;
};

}  // namespace tcpfault
