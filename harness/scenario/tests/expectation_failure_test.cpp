// The line a failed expectation names, and the reporter a test framework installs:
// the outermost site of a thread wins, reporters nest and come back.
#include "harness/scenario/expectation_failure.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace tcpfault {
namespace {

std::source_location here(std::source_location where = std::source_location::current()) { return where; }

TEST(ExpectationSite, TheOutermostCallNamesTheLine) {
  EXPECT_STREQ(ExpectationSite::current().file_name(), "");
  const auto outer = here();
  {
    const ExpectationSite site(outer);
    const ExpectationSite inner(here());  // an expectation asking another
    EXPECT_EQ(ExpectationSite::current().line(), outer.line());
    EXPECT_STREQ(ExpectationSite::current().file_name(), outer.file_name());
    // Another thread has its own (none here).
    std::thread([] { EXPECT_STREQ(ExpectationSite::current().file_name(), ""); }).join();
  }
  EXPECT_STREQ(ExpectationSite::current().file_name(), "");
}

TEST(ExpectationSite, AFailureCarriesItsLine) {
  const auto where = here();
  const ExpectationFailed failure("expectation failed: x", "  detail\n", where);
  EXPECT_EQ(failure.where().line(), where.line());
  EXPECT_EQ(failure.summary(), "expectation failed: x");
  EXPECT_EQ(std::string(failure.what()), "expectation failed: x\n  detail\n");  // no line: Python shows what()
}

TEST(ReportExpectationFailures, ReportersNestAndComeBack) {
  std::vector<std::string> heard;
  const ExpectationFailed failure("expectation failed: y", "");
  ReportExpectationFailures::report(failure);  // none: nothing happens
  {
    const ReportExpectationFailures outer([&](const ExpectationFailed& f) { heard.push_back("outer " + f.summary()); });
    ReportExpectationFailures::report(failure);
    {
      const ReportExpectationFailures none(nullptr);
      ReportExpectationFailures::report(failure);
    }
    ReportExpectationFailures::report(failure);
  }
  ReportExpectationFailures::report(failure);
  EXPECT_EQ(heard, (std::vector<std::string>{"outer expectation failed: y", "outer expectation failed: y"}));
}

}  // namespace
}  // namespace tcpfault
