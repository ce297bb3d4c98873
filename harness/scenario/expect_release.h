// Waiting for a held segment to go: a hold (or a delay, or a random rule's reorder or
// delay) keeps a segment back; a test that must act only once it is on its way waits
// for its release rather than for a time.
#pragma once

#include <chrono>
#include <string>

#include "harness/scenario/expect.h"

namespace tcpfault {

// The `nth` segment (from 1) that rule `rule` (described as `label`) kept back has been
// let go, within `within`; returns it as the trace has it (released_ns set). Fails with
// what the rule held and since when, or that it held nothing.
SegmentEvent expect_released(const Expectations& expect, const Trace& trace, int rule, const std::string& label,
                             int nth, std::chrono::milliseconds within);

}  // namespace tcpfault
