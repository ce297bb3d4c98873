// The two ways a case can end without a verdict on the stack it tests.
//
// NotApplicable: the case asked for something this target does not have (a Linux
// sysctl, a MIB counter, TCP_INFO, a socket option) on that side; the case is skipped
// and the report says what and why. TargetFailure: the agent that runs the stack broke
// (crashed, hung, spoke garbage; docs/agent-protocol.md): neither a pass nor a fail
// of the case, reported as such with the agent's own last words.
#pragma once

#include <string>

#include "netns/error.h"

namespace tcpfault {

class NotApplicable : public Error {
 public:
  using Error::Error;
};

class TargetFailure : public Error {
 public:
  using Error::Error;
};

}  // namespace tcpfault
