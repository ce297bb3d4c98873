#include "harness/intercept/random_faults.h"

#include <cmath>
#include <cstdio>

#include "netns/error.h"

namespace tcpfault {

namespace {

std::string percent(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", p * 100);
  return buf;
}

}  // namespace

std::string to_string(RandomChoice c) {
  switch (c) {
    case RandomChoice::Pass: return "pass";
    case RandomChoice::Drop: return "drop";
    case RandomChoice::Delay: return "delay";
    case RandomChoice::Duplicate: return "duplicate";
    case RandomChoice::Reorder: return "reorder";
  }
  return "?";
}

std::string RandomFaults::describe() const {
  std::string out;
  auto add = [&out](double p, const std::string& what, const std::string& how = "") {
    if (p > 0) out += (out.empty() ? "" : ", ") + what + " " + percent(p) + how;
  };
  add(drop, "drop");
  add(delay, "delay", " (" + std::to_string(delay_by.count()) + " ms)");
  add(duplicate, "duplicate");
  add(reorder, "reorder", " (after " + std::to_string(reorder_after) + " segments, at most " +
                              std::to_string(reorder_max.count()) + " ms)");
  const std::string varied = variation ? ", variation " + std::to_string(variation) : "";
  return "random (seed " + std::to_string(seed) + varied + "): " + (out.empty() ? "nothing" : out);
}

void RandomFaults::validate() const {
  for (auto [p, name] : {std::pair{drop, "drop"}, {delay, "delay"}, {duplicate, "duplicate"}, {reorder, "reorder"}})
    if (!(p >= 0 && p <= 1))
      throw Error(std::string("random faults: the ") + name + " probability must be between 0 and 1, got " +
                  std::to_string(p));
  if (drop + delay + duplicate + reorder > 1 + 1e-9)
    throw Error("random faults: the probabilities add up to " + std::to_string(drop + delay + duplicate + reorder) +
                "; a segment gets at most one fault, so they must add up to 1 or less");
  if (delay_by.count() < 0) throw Error("random faults: delay_by must not be negative");
  if (reorder_after < 1) throw Error("random faults: reorder_after must be 1 or more, got " + std::to_string(reorder_after));
  if (reorder_max.count() <= 0) throw Error("random faults: reorder_max must be positive");
}

double random_unit(std::uint64_t seed, std::uint64_t ordinal) {
  // splitmix64: the state after `ordinal` steps from `seed` is seed + ordinal * gamma.
  std::uint64_t z = seed + ordinal * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return double(z >> 11) * 0x1.0p-53;  // the top 53 bits: every double in [0, 1) equally spaced
}

RandomChoice random_choice(const RandomFaults& r, std::uint64_t ordinal) {
  // A variation moves the seed by an odd constant other than splitmix64's step, so its
  // draws are not the seed's own shifted by some ordinals.
  double u = random_unit(r.seed ^ (r.variation * 0xd1b54a32d192ed03ULL), ordinal);
  double edge = 0;
  for (auto [p, choice] : {std::pair{r.drop, RandomChoice::Drop}, {r.delay, RandomChoice::Delay},
                           {r.duplicate, RandomChoice::Duplicate}, {r.reorder, RandomChoice::Reorder}}) {
    edge += p;
    if (u < edge) return choice;
  }
  return RandomChoice::Pass;
}

}  // namespace tcpfault
