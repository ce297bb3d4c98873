// The end of a socket's life, and what ended it: so that an expectation that can no
// longer be met fails at once and says why ("reset by the RST from the client at
// +45.3 ms"), instead of waiting out its deadline.
//
// A socket (one host's end of a 4-tuple) has ended when the socket table shows nothing
// for it and its last recorded step went to CLOSED. Nothing brings that socket back:
// only a new one on the same 4-tuple, which a connect() would have to open, so a
// connect() on the tuple begun after the end means the end is not final.
//
// What ended it is read from the timeline: the last RST delivered to it (from its peer,
// crafted by the middlebox, or a segment a rule rewrote into one) when nothing it sent
// afterwards shows it ignored it; else an RST|ACK it sent itself as it closed (an abort,
// not the host's answer to a segment that came after); and the first of its own socket
// calls that failed with an errno.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/endpoints/endpoint.h"
#include "harness/trace/trace.h"

namespace tcpfault {

struct SocketEnd {
  std::int64_t closed_ns = 0;  // its step into CLOSED
  TcpState from = TcpState::CLOSED;
  // Its recorded steps since it began chain up (each leaves the state the last entered):
  // no step of its life is missing from the record.
  bool whole = false;
  // "reset by the RST from the client at +45.3 ms (ESTABLISHED -> CLOSED at +45.4 ms)"
  std::string cause;
  // The cause is an RST (one it got, or its own as it closed); else only the step, or a call.
  bool named_by_rst = false;
};

// `transitions`: the socket's recorded steps (Expectations::transitions_of); `gone`: the
// socket table shows no socket (or a CLOSED one) for it now. nullopt: it may still live
// (or, with `whole_only`, a step of its life may be missing from the record).
std::optional<SocketEnd> socket_end(const Trace& trace, const SocketRef& s,
                                    const std::vector<TransitionEvent>& transitions, bool gone,
                                    bool whole_only = false);

}  // namespace tcpfault
