// The integers the running kernel accepts for a sysctl, found by trying them.
//
// The kernel keeps each key's bounds (extra1/extra2 of its ctl_table) to itself; the only
// way to learn them is to write values and see which it refuses with EINVAL. This is done
// in a scratch namespace that nothing else uses, by bisection outwards from the current
// value, one field at a time (the other fields held at their current values). The
// current value is written back afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tcpfault::netns {

struct FieldRange {
  std::int64_t lo = 0;
  std::int64_t hi = 0;
};

// The integer fields of a value ("32768\t60999" -> {32768, 60999}); nullopt if any field
// is not an integer.
std::optional<std::vector<std::int64_t>> integer_fields(const std::string& value);

// Per field, the accepted range around `current` (the key's value now). Must run on a
// thread inside the scratch namespace; `path` is the key's /proc/sys file. nullopt when
// the kernel refuses even the current value (nothing to bisect from).
std::optional<std::vector<FieldRange>> accepted_ranges(const std::string& path,
                                                       const std::vector<std::int64_t>& current);

}  // namespace tcpfault::netns
