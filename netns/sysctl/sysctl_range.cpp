#include "netns/sysctl/sysctl_range.h"

#include <limits>
#include <sstream>

#include "netns/sysctl/proc_file.h"

namespace tcpfault::netns {

namespace {

std::string join(const std::vector<std::int64_t>& fields) {
  std::string out;
  for (auto f : fields) out += (out.empty() ? "" : "\t") + std::to_string(f);
  return out;
}

// Bisection between an accepted value and a refused one; returns the accepted end of the
// boundary. `accepts` must hold for `good` and not for `bad`.
template <class Accepts>
std::int64_t boundary(std::int64_t good, std::int64_t bad, Accepts&& accepts) {
  // The distance in unsigned arithmetic: it may exceed INT64_MAX, never UINT64_MAX.
  auto distance = [](std::int64_t a, std::int64_t b) {
    return a < b ? static_cast<std::uint64_t>(b) - static_cast<std::uint64_t>(a)
                 : static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b);
  };
  while (distance(good, bad) > 1) {
    // Halfway without overflow: the operands may span the whole int64 range.
    const std::int64_t mid = good / 2 + bad / 2 + ((good % 2 + bad % 2) / 2);
    (accepts(mid) ? good : bad) = mid;
  }
  return good;
}

}  // namespace

std::optional<std::vector<std::int64_t>> integer_fields(const std::string& value) {
  std::istringstream in(value);
  std::vector<std::int64_t> out;
  std::string word;
  while (in >> word) {
    std::size_t used = 0;
    try {
      out.push_back(std::stoll(word, &used, 10));
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (used != word.size()) return std::nullopt;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<std::vector<FieldRange>> accepted_ranges(const std::string& path,
                                                       const std::vector<std::int64_t>& current) {
  if (write_proc_file(path, join(current)) != 0) return std::nullopt;
  // The kernel parses a field as a long: beyond these, every key refuses.
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min() + 1;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

  std::vector<FieldRange> out;
  for (std::size_t i = 0; i < current.size(); ++i) {
    std::vector<std::int64_t> trial = current;
    auto accepts = [&](std::int64_t v) {
      trial[i] = v;
      return write_proc_file(path, join(trial)) == 0;
    };
    FieldRange r;
    r.hi = accepts(kMax) ? kMax : boundary(current[i], kMax, accepts);
    r.lo = accepts(kMin) ? kMin : boundary(current[i], kMin, accepts);
    out.push_back(r);
  }
  write_proc_file(path, join(current));
  return out;
}

}  // namespace tcpfault::netns
