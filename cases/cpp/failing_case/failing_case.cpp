// A C++ case that fails on purpose, and a control of it that must pass: a program of
// its own that cases/cpp/failure_report_test.cpp runs to read where GoogleTest puts
// the failure. It is no test of its own (ctest does not run it).
#include "cases/cpp/case_support.h"

namespace tcpfault::cases {
namespace {

class FailingCase : public FamilyCase {};

// No segment ever crosses this scenario: the expectation fails after its 50 ms.
TEST_P(FailingCase, ExpectationFailsAtThisLine) {
  Scenario s(options("failing-case"));
  s.expect_segments(Match().role(FIN), 1, 50ms);  // the failure is reported here
}

// The same failure read by failure_of (as a control reads its case's failure) is no
// failure of the case.
TEST_P(FailingCase, FailureOfReadsItUnreported) {
  Scenario s(options("failing-case-control"));
  const std::string message = failure_of([&] { s.expect_segments(Match().role(FIN), 1, 50ms); });
  EXPECT_NE(message.find("expectation failed: 1 x"), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(V4, FailingCase, ::testing::Values(Family::V4), family_name);

}  // namespace
}  // namespace tcpfault::cases
