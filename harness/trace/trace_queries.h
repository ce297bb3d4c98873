// Questions asked of a list of timeline events: one socket's state steps, the segments
// a Match selects. Expectations, the wire's inferred states and faults that wait for a
// segment all ask them.
#pragma once

#include <vector>

#include "harness/roles/segment_match.h"
#include "harness/socket_ref.h"
#include "harness/trace/trace.h"

namespace tcpfault {

// What a Match sees of a recorded segment: its sender, itself, its roles, its connection's ISNs.
inline SegmentView view_of(const SegmentEvent& s) { return {s.from, s.packet, s.classified, s.relative}; }

// The transitions of one socket within a list of events.
std::vector<TransitionEvent> transitions_of(const std::vector<Event>& events, const SocketRef& s);
// Segments of the list that match.
std::vector<const SegmentEvent*> matching_segments(const std::vector<Event>& events, const Match& m);

}  // namespace tcpfault
