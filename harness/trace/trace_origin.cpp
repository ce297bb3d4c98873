#include "harness/trace/trace_origin.h"

#include <sys/utsname.h>

#include <cstdio>
#include <ctime>

#include "netns/error.h"

namespace tcpfault {

std::string utc_iso8601(std::int64_t unix_ns) {
  // Floor division: a time before the epoch still gets a fraction in [0, 1 s).
  std::int64_t seconds = unix_ns / 1'000'000'000, fraction = unix_ns % 1'000'000'000;
  if (fraction < 0) {
    fraction += 1'000'000'000;
    --seconds;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<long long>(fraction));
  return buf;
}

KernelName running_kernel() {
  utsname u{};
  if (::uname(&u) != 0) throw_errno("uname");
  return {u.sysname, u.release, u.machine};
}

std::string describe_rule(const Trace& trace, const RuleRecord& rule) {
  std::string text = "#" + std::to_string(rule.id) + " " + rule.label + ", added " + trace.offset(rule.added_ns);
  if (rule.removed_ns) text += ", removed " + trace.offset(rule.removed_ns);
  return text;
}

}  // namespace tcpfault
