// Why the wire-inferred states and the kernel's disagree: each step only one side has is
// put down to a cause (DisagreementCause) from the evidence around it: the segments of
// its connection (who sent them, their fates and roles), the kernel step's source, the
// end's other steps, the socket calls and their errors. A step no rule explains stays
// "unexplained".
#pragma once

#include "harness/wire/wire_state_comparison.h"

namespace tcpfault {

// Fills cause and explanation of every disagreeing step in `comparison`.
void explain_disagreements(WireStateComparison& comparison, const ComparisonInput& input);

}  // namespace tcpfault
