#include "harness/scenario/expectation_failure.h"

#include <optional>
#include <utility>

namespace tcpfault {

namespace {

thread_local std::optional<std::source_location> outermost_site;
thread_local ExpectationReporter reporter;

}  // namespace

ExpectationFailed::ExpectationFailed(std::string summary, std::string detail, std::source_location where)
    : Error(summary + "\n" + detail), summary_(std::move(summary)), where_(where) {}

ExpectationSite::ExpectationSite(const std::source_location& where) : outermost_(!outermost_site) {
  if (outermost_) outermost_site = where;
}

ExpectationSite::~ExpectationSite() {
  if (outermost_) outermost_site.reset();
}

std::source_location ExpectationSite::current() { return outermost_site.value_or(std::source_location{}); }

ReportExpectationFailures::ReportExpectationFailures(ExpectationReporter r)
    : previous_(std::exchange(reporter, std::move(r))) {}

ReportExpectationFailures::~ReportExpectationFailures() { reporter = std::move(previous_); }

void ReportExpectationFailures::report(const ExpectationFailed& failure) {
  if (reporter) reporter(failure);
}

}  // namespace tcpfault
