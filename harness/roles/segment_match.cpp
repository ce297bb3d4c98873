#include "harness/roles/segment_match.h"

namespace tcpfault {

bool Match::matches(const SegmentView& s) const {
  if (from && *from != s.from) return false;
  if ((s.classified.roles & all_roles) != all_roles) return false;
  if (any_role && (s.classified.roles & any_role) == 0) return false;
  if (s.classified.roles & no_role) return false;
  if ((s.packet.flags & flags_set) != flags_set) return false;
  if (s.packet.flags & flags_clear) return false;
  if (min_payload && s.packet.payload_len < *min_payload) return false;
  if (max_payload && s.packet.payload_len > *max_payload) return false;
  if (port && s.packet.sport != *port && s.packet.dport != *port) return false;
  if (connection) {
    const FourTuple seen{s.packet.source(), s.packet.destination()};
    if (seen != *connection && seen != connection->reversed()) return false;
  }
  // A segment of no known connection has no relative sequence number to match.
  if (relative_seq && (!s.relative || s.packet.seq - s.relative->src_isn != *relative_seq)) return false;
  return true;
}

std::string Match::describe() const {
  std::string out;
  auto add = [&out](const std::string& part) {
    if (!out.empty()) out += ' ';
    out += part;
  };
  if (all_roles) add(roles_string(all_roles));
  if (any_role) add("any of " + roles_string(any_role));
  if (no_role) add("not " + roles_string(no_role));
  if (flags_set) add("flags [" + flags_string(flags_set) + "]");
  if (flags_clear) add("without [" + flags_string(flags_clear) + "]");
  if (min_payload && max_payload && *min_payload == *max_payload)
    add("payload " + std::to_string(*min_payload));
  else if (min_payload || max_payload)
    add("payload " + std::to_string(min_payload.value_or(0)) + ".." +
        (max_payload ? std::to_string(*max_payload) : std::string("any")));
  if (port) add("port " + std::to_string(*port));
  if (relative_seq) add("seq " + std::to_string(*relative_seq));
  if (connection) add("between " + connection->local.str() + " and " + connection->remote.str());
  if (out.empty()) out = occurrence ? "segment" : "any segment";
  if (occurrence) out = ordinal(*occurrence) + " " + out;
  if (from) out += " from " + netns::to_string(*from);
  return out;
}

std::string ordinal(std::size_t n) {
  const std::size_t tens = n % 100, ones = n % 10;
  const char* suffix = (tens >= 11 && tens <= 13) ? "th" : ones == 1 ? "st" : ones == 2 ? "nd" : ones == 3 ? "rd" : "th";
  return std::to_string(n) + suffix;
}

}  // namespace tcpfault
