// The ordered list of fault rules and their occurrence counts: decides which rule, if
// any, acts on a segment. Kept apart from the verdict loop so it can be tested alone.
#pragma once

#include <vector>

#include "harness/intercept/fault_rule.h"

namespace tcpfault {

class RuleBook {
 public:
  struct Counts {
    int matched = 0;  // segments the match selected
    int applied = 0;  // of those, how many the action was applied to
  };
  struct Entry {
    int id;
    FaultRule rule;
    Counts counts;
    // What the rule does to the segment decide() just returned it for: its action, or
    // for random faults the one drawn for this segment's ordinal (counts.matched).
    Action current;
  };

  // Validates the rule (Error if it cannot mean anything); returns its id.
  int add(FaultRule rule);
  void remove(int id);  // Error if no such rule
  void clear() { entries_.clear(); }
  Counts counts(int id) const;
  const FaultRule* rule(int id) const;  // nullptr: never added, or removed
  bool empty() const { return entries_.empty(); }

  // Every rule whose match selects the segment counts it; the first of them whose
  // occurrence window (nth, times) includes this one acts (a random rule acts only
  // when its draw is not "pass"). nullptr: pass untouched.
  const Entry* decide(const SegmentView& segment);

  // A random rule's draw for the segment decide() just saw that another rule, acting
  // first, kept from being applied. Its log still has it: the draw for the nth matched
  // segment stays the nth (a schedule compared across runs stays comparable).
  struct Preempted {
    int rule;
    std::uint64_t ordinal;
    RandomChoice choice;
    int by;  // the rule that acted
  };
  const std::vector<Preempted>& preempted() const { return preempted_; }

 private:
  std::vector<Entry> entries_;
  std::vector<Preempted> preempted_;
  int next_id_ = 1;
};

}  // namespace tcpfault
