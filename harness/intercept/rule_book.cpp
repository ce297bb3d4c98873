#include "harness/intercept/rule_book.h"

#include <algorithm>

#include "netns/error.h"

namespace tcpfault {

int RuleBook::add(FaultRule rule) {
  rule.validate();
  if (rule.label.empty()) rule.label = rule.describe();
  int id = next_id_++;
  Action action = rule.action;
  entries_.push_back(Entry{id, std::move(rule), {}, std::move(action)});
  return id;
}

void RuleBook::remove(int id) {
  auto n = std::erase_if(entries_, [id](const Entry& e) { return e.id == id; });
  if (n == 0) throw Error("no fault rule #" + std::to_string(id) + " (it was never added, or was removed)");
}

RuleBook::Counts RuleBook::counts(int id) const {
  for (const auto& e : entries_)
    if (e.id == id) return e.counts;
  throw Error("no fault rule #" + std::to_string(id) + " (it was never added, or was removed)");
}

const FaultRule* RuleBook::rule(int id) const {
  for (const auto& e : entries_)
    if (e.id == id) return &e.rule;
  return nullptr;
}

const RuleBook::Entry* RuleBook::decide(const SegmentView& segment) {
  Entry* acting = nullptr;
  preempted_.clear();
  for (auto& e : entries_) {
    if (!e.rule.match.matches(segment)) continue;
    ++e.counts.matched;
    bool due = e.counts.matched >= e.rule.nth &&
               (e.rule.times == -1 || e.counts.applied < e.rule.times);
    if (acting && due)
      if (auto* r = std::get_if<RandomFaults>(&e.rule.action)) {
        auto choice = random_choice(*r, static_cast<std::uint64_t>(e.counts.matched));
        if (choice != RandomChoice::Pass)
          preempted_.push_back({e.id, static_cast<std::uint64_t>(e.counts.matched), choice, acting->id});
      }
    if (acting || !due) continue;
    if (auto* r = std::get_if<RandomFaults>(&e.rule.action)) {
      auto drawn = concrete_action(*r, random_choice(*r, static_cast<std::uint64_t>(e.counts.matched)));
      if (!drawn) continue;
      e.current = std::move(*drawn);
    }
    acting = &e;
    ++e.counts.applied;
  }
  return acting;
}

}  // namespace tcpfault
