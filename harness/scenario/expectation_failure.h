// A failed expectation: the exception a scenario's expectations throw, the line of the
// test that asked for it, and how a test framework hears of it to report it there.
#pragma once

#include <functional>
#include <source_location>
#include <string>

#include "netns/error.h"

namespace tcpfault {

class ExpectationFailed : public Error {
 public:
  ExpectationFailed(std::string summary, std::string detail, std::source_location where = {});
  const std::string& summary() const { return summary_; }  // first line: what failed
  // The test's call that asked for the expectation (Scenario's expect_* take it as a
  // default argument); file_name() is "" when it was not asked through them.
  const std::source_location& where() const { return where_; }

 private:
  std::string summary_;
  std::source_location where_;
};

// Marks, for this thread, the test's call into an expectation of the Scenario. The
// outermost mark wins: an expectation that asks another (close_after_acking_fin asks
// expect_segments) still names the test's line.
class ExpectationSite {
 public:
  explicit ExpectationSite(const std::source_location& where);
  ~ExpectationSite();
  ExpectationSite(const ExpectationSite&) = delete;
  ExpectationSite& operator=(const ExpectationSite&) = delete;

  // The outermost mark of this thread; {} (file_name() "") outside any.
  static std::source_location current();

 private:
  bool outermost_;
};

// What a failed expectation does on this thread before it is thrown: a test framework
// installs a reporter that reports the failure at where() (cases/cpp report through
// GoogleTest) and may throw its own exception instead. The previous reporter is back
// when this object goes; an empty one means none (the failure is thrown as it is).
using ExpectationReporter = std::function<void(const ExpectationFailed&)>;

class ReportExpectationFailures {
 public:
  explicit ReportExpectationFailures(ExpectationReporter reporter);
  ~ReportExpectationFailures();
  ReportExpectationFailures(const ReportExpectationFailures&) = delete;
  ReportExpectationFailures& operator=(const ReportExpectationFailures&) = delete;

  // Hands `failure` to this thread's reporter, if there is one.
  static void report(const ExpectationFailed& failure);

 private:
  ExpectationReporter previous_;
};

}  // namespace tcpfault
