// What every C++ case shares: the family parameter and a scenario named after the case.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "harness/scenario/scenario.h"

namespace tcpfault::cases {

using enum TcpState;
using netns::Host;
using namespace std::chrono_literals;

// A failed expectation as a fatal GoogleTest failure at the case's own line (the call
// that asked for it), instead of an exception GoogleTest reports at "unknown file". The
// AssertionException that ends the case is one GoogleTest knows is reported already.
inline void report_at_case_line(const ExpectationFailed& failure) {
  const char* file = failure.where().file_name();
  if (file == nullptr || *file == '\0') return;  // no line known: thrown as it is
  const int line = static_cast<int>(failure.where().line());
  GTEST_MESSAGE_AT_(file, line, failure.what(), ::testing::TestPartResult::kFatalFailure);
  throw ::testing::AssertionException(
      ::testing::TestPartResult(::testing::TestPartResult::kFatalFailure, file, line, failure.what()));
}

class FamilyCase : public ::testing::TestWithParam<Family> {
 protected:
  // A scenario named "<case id>/<IPv4|IPv6>", so artifacts and ladders say which.
  ScenarioOptions options(const std::string& case_id) const {
    ScenarioOptions o;
    o.family = GetParam();
    o.name = case_id + "/" + to_string(GetParam());
    return o;
  }

 private:
  // For the case's thread, from its fixture's birth (GoogleTest runs the body on it).
  ReportExpectationFailures report_{report_at_case_line};
};

inline std::string family_name(const ::testing::TestParamInfo<Family>& info) {
  return to_string(info.param);
}

// Runs `body`, which must fail an expectation; returns the failure's message. Its
// failure is the case's to read, not one to report.
template <class F>
std::string failure_of(F&& body) {
  const ReportExpectationFailures not_reported{nullptr};
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
