// Seeded random faults: the draw for a matched segment depends on (seed, ordinal) only.
#include "harness/intercept/random_faults.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "harness/intercept/fault_rule.h"
#include "harness/intercept/rule_book.h"
#include "netns/error.h"

namespace tcpfault {
namespace {

RandomFaults five_percent_each(std::uint64_t seed) {
  return RandomFaults{.drop = 0.05, .delay = 0.05, .duplicate = 0.05, .reorder = 0.05, .seed = seed};
}

std::vector<RandomChoice> schedule(const RandomFaults& r, int n) {
  std::vector<RandomChoice> out;
  for (int i = 1; i <= n; ++i) out.push_back(random_choice(r, static_cast<std::uint64_t>(i)));
  return out;
}

TEST(RandomFaults, TheSameSeedGivesTheSameScheduleAnotherSeedAnother) {
  EXPECT_EQ(schedule(five_percent_each(7), 2000), schedule(five_percent_each(7), 2000));
  EXPECT_NE(schedule(five_percent_each(7), 2000), schedule(five_percent_each(8), 2000));
  // A draw does not depend on the draws before it: ask for one ordinal alone.
  auto all = schedule(five_percent_each(7), 2000);
  EXPECT_EQ(random_choice(five_percent_each(7), 1234), all[1233]);
}

// explore's clean repeats: another sequence for the same seed, not the seed's own shifted
// by some ordinals, and said in the description.
TEST(RandomFaults, AVariationIsAnotherScheduleOfTheSameSeed) {
  RandomFaults varied = five_percent_each(7);
  varied.variation = 1;
  const auto own = schedule(five_percent_each(7), 2000), other = schedule(varied, 2000);
  EXPECT_EQ(schedule(varied, 2000), other);
  EXPECT_NE(own, other);
  for (int shift = 1; shift <= 50; ++shift)
    EXPECT_FALSE(std::equal(other.begin(), other.end() - shift, own.begin() + shift)) << shift;
  EXPECT_EQ(varied.describe().rfind("random (seed 7, variation 1): drop 5%", 0), 0u) << varied.describe();
}

TEST(RandomFaults, EachFaultComesAboutAsOftenAsAsked) {
  std::map<RandomChoice, int> seen;
  constexpr int kDraws = 100'000;
  for (auto c : schedule(five_percent_each(42), kDraws)) ++seen[c];
  for (auto c : {RandomChoice::Drop, RandomChoice::Delay, RandomChoice::Duplicate, RandomChoice::Reorder})
    EXPECT_NEAR(seen[c], kDraws * 0.05, kDraws * 0.005) << to_string(c);  // about 7 standard deviations
  EXPECT_NEAR(seen[RandomChoice::Pass], kDraws * 0.80, kDraws * 0.01);
}

TEST(RandomFaults, ProbabilitiesMustMakeSense) {
  EXPECT_THROW((RandomFaults{.drop = 1.5}.validate()), Error);
  EXPECT_THROW((RandomFaults{.drop = -0.1}.validate()), Error);
  EXPECT_THROW((RandomFaults{.drop = 0.6, .delay = 0.6}.validate()), Error);
  EXPECT_THROW((RandomFaults{.reorder = 0.1, .reorder_after = 0}.validate()), Error);
  EXPECT_NO_THROW((RandomFaults{.drop = 1.0}.validate()));
  EXPECT_EQ(five_percent_each(7).describe(),
            "random (seed 7): drop 5%, delay 5% (20 ms), duplicate 5%, reorder 5% (after 2 segments, at most 200 ms)");
}

TEST(RandomFaults, ARuleActsOnlyWhenItsDrawSaysSo) {
  Packet packet;
  Classified classified;
  SegmentView view{Host::Client, packet, classified};
  RuleBook book;
  int id = book.add(random_faults(Match(), five_percent_each(7)));
  int catch_all = book.add(delay(Match(), std::chrono::milliseconds(1)));
  auto want = schedule(five_percent_each(7), 500);
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto* acting = book.decide(view);
    ASSERT_NE(acting, nullptr);
    if (want[i] == RandomChoice::Pass) {
      EXPECT_EQ(acting->id, catch_all) << "a pass leaves the segment to the next rule";
      continue;
    }
    ASSERT_EQ(acting->id, id);
    switch (want[i]) {
      case RandomChoice::Drop: EXPECT_TRUE(std::holds_alternative<Drop>(acting->current)); break;
      case RandomChoice::Delay: EXPECT_TRUE(std::holds_alternative<Delay>(acting->current)); break;
      case RandomChoice::Duplicate: EXPECT_TRUE(std::holds_alternative<Duplicate>(acting->current)); break;
      case RandomChoice::Reorder: EXPECT_EQ(std::get<Hold>(acting->current).after_segments, 2); break;
      case RandomChoice::Pass: break;
    }
  }
  EXPECT_EQ(book.counts(id).matched, 500);
}

TEST(RandomFaults, ADrawAnotherRuleKeptFromTheSegmentIsStillDrawnForItsOrdinal) {
  // explore's fault (rule #1, first) on a segment DT5's random rule also matches: the
  // random rule's draw for that ordinal is kept, preempted, so its schedule stays the same.
  Packet packet;
  Classified classified;
  SegmentView view{Host::Client, packet, classified};
  auto want = schedule(five_percent_each(7), 500);
  const auto nth = static_cast<std::size_t>(
      std::find_if(want.begin(), want.end(), [](RandomChoice c) { return c != RandomChoice::Pass; }) - want.begin());
  ASSERT_LT(nth, want.size());
  RuleBook book;
  int first = book.add(drop(Match()).occurrence(static_cast<int>(nth) + 1).count(1));
  int random = book.add(random_faults(Match(), five_percent_each(7)));
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto* acting = book.decide(view);
    if (i != nth) {
      EXPECT_TRUE(book.preempted().empty()) << "segment " << i + 1;
      continue;
    }
    ASSERT_NE(acting, nullptr);
    EXPECT_EQ(acting->id, first);
    ASSERT_EQ(book.preempted().size(), 1u);
    EXPECT_EQ(book.preempted()[0].rule, random);
    EXPECT_EQ(book.preempted()[0].ordinal, nth + 1);
    EXPECT_EQ(book.preempted()[0].choice, want[i]);
    EXPECT_EQ(book.preempted()[0].by, first);
  }
  EXPECT_EQ(book.counts(random).matched, 500);
}

}  // namespace
}  // namespace tcpfault
