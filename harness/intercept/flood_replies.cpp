#include "harness/intercept/flood_replies.h"

#include "netns/error.h"

namespace tcpfault {

std::string FloodCounts::str() const {
  return std::to_string(sent) + " SYNs sent; " + std::to_string(replies_dropped) +
         " replies dropped (SYN-ACK " + std::to_string(syn_acks) + ", RST " + std::to_string(rsts) +
         "), " + std::to_string(answered) + " SYNs answered";
}

void FloodReplies::add(int id, const std::vector<Address>& sources) {
  std::lock_guard lock(mu_);
  for (const auto& a : sources)
    if (auto it = owner_.find(a); it != owner_.end())
      throw Error("flood source " + a.str() + " is already used by flood #" + std::to_string(it->second) +
                  " of this scenario; give each flood its own sources");
  for (const auto& a : sources) owner_[a] = id;
  counts_[id];
}

void FloodReplies::remove(int id) {
  std::lock_guard lock(mu_);
  std::erase_if(owner_, [id](const auto& entry) { return entry.second == id; });
  counts_.erase(id);
  std::erase_if(answered_, [id](const auto& entry) { return entry.first == id; });
}

void FloodReplies::note_sent(int id) {
  std::lock_guard lock(mu_);
  ++counts_[id].sent;
}

std::optional<int> FloodReplies::claim(const Packet& p) {
  std::lock_guard lock(mu_);
  if (owner_.empty()) return std::nullopt;
  auto it = owner_.find(p.dst);
  if (it == owner_.end()) return std::nullopt;
  FloodCounts& c = counts_[it->second];
  ++c.replies_dropped;
  if (p.has(tcp_flag::SYN) && p.has(tcp_flag::ACK)) ++c.syn_acks;
  if (p.has(tcp_flag::RST)) ++c.rsts;
  if (answered_.insert({it->second, p.destination()}).second) ++c.answered;
  return it->second;
}

FloodCounts FloodReplies::counts(int id) const {
  std::lock_guard lock(mu_);
  auto it = counts_.find(id);
  if (it == counts_.end()) throw Error("no flood #" + std::to_string(id) + " in this scenario");
  return it->second;
}

FloodCounts FloodReplies::totals() const {
  std::lock_guard lock(mu_);
  FloodCounts all;
  for (const auto& [id, c] : counts_) {
    all.sent += c.sent;
    all.replies_dropped += c.replies_dropped;
    all.syn_acks += c.syn_acks;
    all.rsts += c.rsts;
    all.answered += c.answered;
  }
  return all;
}

bool FloodReplies::empty() const {
  std::lock_guard lock(mu_);
  return owner_.empty();
}

}  // namespace tcpfault
