// What every C++ case shares: the family parameter and a scenario named after the case.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "harness/scenario/scenario.h"

namespace tcpfault::cases {

using enum TcpState;
using netns::Host;
using namespace std::chrono_literals;

class FamilyCase : public ::testing::TestWithParam<Family> {
 protected:
  // A scenario named "<case id>/<IPv4|IPv6>", so artifacts and ladders say which.
  ScenarioOptions options(const std::string& case_id) const {
    ScenarioOptions o;
    o.family = GetParam();
    o.name = case_id + "/" + to_string(GetParam());
    return o;
  }
};

inline std::string family_name(const ::testing::TestParamInfo<Family>& info) {
  return to_string(info.param);
}

// Runs `body`, which must fail an expectation; returns the failure's message.
template <class F>
std::string failure_of(F&& body) {
  try {
    body();
  } catch (const ExpectationFailed& e) {
    return e.what();
  }
  ADD_FAILURE() << "the expectation did not fail";
  return "";
}

inline constexpr std::uint16_t kPort = 8080;

}  // namespace tcpfault::cases
