// A fresh scenario for each test, on the family the test is instantiated with and
// named after the test (its ladder and artifacts say which test made them).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "harness/scenario.h"

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

  // The timeline's segments that match, pointing into `events` (kept until the next call).
  std::vector<const SegmentEvent*> segments(const Match& m) {
    events = s->trace().events();
    return matching_segments(events, m);
  }

  std::unique_ptr<Scenario> s;
  std::vector<Event> events;
};

}  // namespace tcpfault
