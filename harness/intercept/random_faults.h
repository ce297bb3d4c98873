// Chance faults with a fixed seed. Each segment a random rule matches gets at most one
// of drop, delay, duplicate or reorder, with the rule's probabilities. The draw for
// the nth matched segment is a pure function of (seed, n): a counter-based generator
// (splitmix64), with no state carried from one segment to the next. So the same seed
// gives the same fault schedule, whatever the timing of a run.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tcpfault {

using std::chrono::milliseconds;

struct RandomFaults {
  double drop = 0, delay = 0, duplicate = 0, reorder = 0;  // probabilities, summing to at most 1
  std::uint64_t seed = 0;
  // Another sequence of draws for the same seed (0: the seed's own). tcpfault explore's
  // repeats of a clean run take 1, 2 ...: what changes with the draws is then seen to
  // change, and is not laid at a fault's door.
  std::uint64_t variation = 0;
  milliseconds delay_by{20};     // how long a delayed segment is held
  int reorder_after = 2;         // a reordered segment is held until this many later
                                 // segments of its sender passed ...
  milliseconds reorder_max{200}; // ... or this long, if fewer follow

  std::string describe() const;  // "random (seed 7): drop 5%, delay 5% (20 ms), ..."; "(seed 7, variation 1)"
  void validate() const;         // Error when a value means nothing
};

enum class RandomChoice { Pass, Drop, Delay, Duplicate, Reorder };
std::string to_string(RandomChoice c);  // "pass", "drop", "delay", "duplicate", "reorder"

// A number in [0, 1) for (seed, ordinal): splitmix64 of the counter.
double random_unit(std::uint64_t seed, std::uint64_t ordinal);
// What the rule does to its `ordinal`th matched segment (from 1).
RandomChoice random_choice(const RandomFaults& r, std::uint64_t ordinal);

}  // namespace tcpfault
